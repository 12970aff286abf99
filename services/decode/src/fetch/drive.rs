//! Google Drive share links, rewritten to their direct-download form as the
//! reference miner does.

use url::Url;

/// Rewrites `drive.google.com/...?id=<id>` or `drive.google.com/file/d/<id>/...`
/// to `https://drive.usercontent.google.com/download?id=<id>&export=download&confirm=t`;
/// any other URL comes back unchanged.
pub fn rewrite_drive_url(video_url: &str) -> String {
    let Ok(url) = Url::parse(video_url) else {
        return video_url.to_owned();
    };
    if url.host_str() != Some("drive.google.com") {
        return video_url.to_owned();
    }
    let from_query = url
        .query_pairs()
        .find(|(k, _)| k == "id")
        .map(|(_, v)| v.into_owned());
    let from_path = || {
        let segments: Vec<&str> = url.path_segments()?.collect();
        segments
            .windows(2)
            .find(|w| w[0] == "d")
            .map(|w| w[1].to_owned())
    };
    match from_query.or_else(from_path) {
        Some(id)
            if !id.is_empty()
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
        {
            format!(
                "https://drive.usercontent.google.com/download?id={id}&export=download&confirm=t"
            )
        }
        _ => video_url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIRECT: &str =
        "https://drive.usercontent.google.com/download?id=1AbC-d_9&export=download&confirm=t";

    #[test]
    fn rewrites_drive_links() {
        assert_eq!(
            rewrite_drive_url("https://drive.google.com/uc?id=1AbC-d_9&export=download"),
            DIRECT
        );
        assert_eq!(
            rewrite_drive_url("https://drive.google.com/file/d/1AbC-d_9/view?usp=sharing"),
            DIRECT
        );
    }

    #[test]
    fn leaves_other_urls_alone() {
        for url in [
            "https://example.com/clip.mp4?id=1",
            "https://drive.google.com/drive/folders",
            "nope",
            DIRECT,
        ] {
            assert_eq!(rewrite_drive_url(url), url);
        }
    }
}
