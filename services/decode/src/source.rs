//! Where a video's bytes come from: a local file as it is, or an http(s)
//! download into a temporary file that is deleted once decoding ends.
//!
//! Downloads go through [`fetch`] (size cap, private-address refusal,
//! retries, timeouts), which writes the file; the decoder reads it while it
//! grows when the clip's layout allows ([`crate::progressive`]).
//!
//! [`fetch`]: crate::fetch

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::DecodeError;

/// A video URL, sorted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A path (or `file://` URL) to an existing file; read as it is.
    Local(PathBuf),
    /// An http(s) URL, to download.
    Http(String),
}

/// Sorts `url`: http(s) to download, a path or `file://` that must exist.
/// Schemes are compared without regard to case (`HTTP://` is http). With
/// `local_files` false, anything but http(s) is refused before the file
/// system is looked at, so the answer says nothing about which files exist.
pub fn classify(url: &str, local_files: bool) -> Result<Source, DecodeError> {
    let url = url.trim();
    let scheme = url.split_once("://").map(|(scheme, _)| scheme);
    match scheme {
        Some(s) if s.eq_ignore_ascii_case("http") || s.eq_ignore_ascii_case("https") => {
            return Ok(Source::Http(url.to_owned()));
        }
        Some(s) if s.eq_ignore_ascii_case("file") => {}
        // A path may contain "://" further on; a scheme is letters first.
        Some(s) if is_scheme(s) => {
            // The URL goes into errors and logs: without its credentials.
            return Err(DecodeError::UnsupportedUrl {
                url: sv_core::text::redact_credentials(url).into_owned(),
            });
        }
        _ => {}
    }
    if !local_files {
        return Err(DecodeError::LocalFilesRefused);
    }
    match scheme {
        Some(s) => local(Path::new(&url[s.len() + "://".len()..])),
        None => local(Path::new(url)),
    }
}

/// RFC 3986: a letter, then letters, digits, '+', '-' or '.'.
fn is_scheme(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

fn local(path: &Path) -> Result<Source, DecodeError> {
    if path.is_file() {
        Ok(Source::Local(path.to_owned()))
    } else {
        Err(DecodeError::NotFound {
            path: path.to_owned(),
        })
    }
}

/// A download's file, owned by this video: removed on drop, however the
/// video ends.
#[derive(Debug)]
pub struct Download {
    path: PathBuf,
}

impl Download {
    /// A new file name in `dir`; the file itself is created by the fetcher.
    pub fn new(dir: &Path) -> Self {
        Self {
            path: dir.join(unique_name()),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Download {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// A file name no other challenge in this or another process uses.
fn unique_name() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "scorevision-{}-{nanos}-{}.video",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes_are_compared_without_regard_to_case() {
        for url in [
            "http://h/v.mp4",
            "HTTP://h/v.mp4",
            "Https://h/v.mp4",
            " https://h/v ",
        ] {
            assert!(matches!(classify(url, false), Ok(Source::Http(_))), "{url}");
        }
        for url in ["ftp://h/v.mp4", "FTP://h/v.mp4", "gopher://x"] {
            assert!(
                matches!(classify(url, true), Err(DecodeError::UnsupportedUrl { .. })),
                "{url}"
            );
        }
    }

    #[test]
    fn local_files_only_when_allowed_and_without_an_existence_oracle() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("clip.mp4");
        std::fs::write(&file, b"x").unwrap();
        let there = file.display().to_string();
        let missing = dir.path().join("missing.mp4").display().to_string();
        for url in [
            there.clone(),
            format!("file://{there}"),
            format!("FILE://{there}"),
            missing.clone(),
            format!("file://{missing}"),
            "/etc/passwd".into(),
            "relative/clip.mp4".into(),
        ] {
            let err = classify(&url, false).unwrap_err();
            assert!(
                matches!(err, DecodeError::LocalFilesRefused),
                "{url}: {err}"
            );
            assert!(err.to_string().contains("--allow-local-files"), "{err}");
        }
        assert_eq!(classify(&there, true).unwrap(), Source::Local(file.clone()));
        assert_eq!(
            classify(&format!("File://{there}"), true).unwrap(),
            Source::Local(file)
        );
        assert!(matches!(
            classify(&missing, true),
            Err(DecodeError::NotFound { .. })
        ));
    }
}
