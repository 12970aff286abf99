//! Texts that leave the miner: what logs may show of a URL, and what a
//! validator may read of an error.
//!
//! - [`redact_credentials`]: `user:password@` in any URL of a text becomes
//!   `***@` (for logs and error messages; a video URL may carry a token).
//! - [`public_detail`]: an error message as the validator sees it, without
//!   our file system paths, temporary file names (they carry PIDs) or
//!   credentials. The message still says whose fault it was; our logs keep
//!   the whole text.

use std::borrow::Cow;

/// Replaces the user information of every `scheme://user[:password]@host`
/// in `text` with `***`.
pub fn redact_credentials(text: &str) -> Cow<'_, str> {
    if !text.contains("://") || !text.contains('@') {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let authority_start = at + 3;
        out.push_str(&rest[..authority_start]);
        let after = &rest[authority_start..];
        // The authority ends at the path, query, fragment, or the URL's end.
        let end = after
            .find(|c: char| {
                matches!(c, '/' | '?' | '#' | '"' | '\'' | '<' | '>') || c.is_whitespace()
            })
            .unwrap_or(after.len());
        let authority = &after[..end];
        match authority.rfind('@') {
            Some(user_end) => {
                out.push_str("***");
                out.push_str(&authority[user_end..]);
            }
            None => out.push_str(authority),
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// `message` fit for a validator: credentials redacted, absolute paths
/// replaced by `<path>` (GStreamer's element paths such as
/// `/GstPipeline:pipeline0/...` with them), our temporary downloads and
/// shared-memory rings (whose names carry a PID) by `<temporary file>`.
/// URLs keep their paths: `http://host/clip.mp4` is the validator's own.
pub fn public_detail(message: &str) -> String {
    let message = redact_credentials(message);
    let mut out = String::with_capacity(message.len());
    let mut previous: Option<char> = None;
    let mut chars = message.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let starts_path = c == '/'
            && previous.is_none_or(|p| {
                p.is_whitespace() || matches!(p, '(' | '"' | '\'' | '=' | '[' | '{' | ',' | '`')
            });
        if starts_path {
            let end = message[i..]
                .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | ')' | ']' | '`'))
                .map_or(message.len(), |n| i + n);
            // A lone '/' (as in "3 / 4") is not a path.
            if end > i + 1 {
                let path = message[i..end].trim_end_matches([',', '.', ';', ':']);
                out.push_str("<path>");
                out.push_str(&message[i + path.len()..end]);
                while chars.peek().is_some_and(|&(j, _)| j < end) {
                    chars.next();
                }
                previous = message[..end].chars().next_back();
                continue;
            }
        }
        out.push(c);
        previous = Some(c);
    }
    hide_temporary_names(&out)
}

/// Our temporary file names anywhere in `text` (also without a directory):
/// `scorevision-<pid>-<n>-<n>.video` and `sv-<hint>-<pid>-<hex>.ring`.
fn hide_temporary_names(text: &str) -> String {
    let mut words: Vec<String> = Vec::new();
    let mut word = String::new();
    let flush = |word: &mut String, words: &mut Vec<String>| {
        if !word.is_empty() {
            let w = std::mem::take(word);
            words.push(if is_temporary_name(&w) {
                "<temporary file>".into()
            } else {
                w
            });
        }
    };
    for c in text.chars() {
        if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
            word.push(c);
        } else {
            flush(&mut word, &mut words);
            words.push(c.to_string());
        }
    }
    flush(&mut word, &mut words);
    words.concat()
}

fn is_temporary_name(word: &str) -> bool {
    let word = word.trim_end_matches('.');
    let numbered = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if let Some(middle) = word
        .strip_prefix("scorevision-")
        .and_then(|w| w.strip_suffix(".video"))
    {
        return middle.split('-').all(numbered);
    }
    if let Some(middle) = word
        .strip_prefix("sv-")
        .and_then(|w| w.strip_suffix(".ring"))
    {
        let mut parts = middle.rsplitn(3, '-');
        let random = parts.next().unwrap_or_default();
        let pid = parts.next().unwrap_or_default();
        return random.len() == 16
            && random.bytes().all(|b| b.is_ascii_hexdigit())
            && numbered(pid);
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_redacted_in_every_url() {
        assert_eq!(
            redact_credentials("https://user:s3cret@videos.example/clip.mp4?sig=1"),
            "https://***@videos.example/clip.mp4?sig=1"
        );
        assert_eq!(
            redact_credentials("cannot reach http://token@h:8080/v: refused; then HTTP://a:b@c"),
            "cannot reach http://***@h:8080/v: refused; then HTTP://***@c"
        );
        // An '@' in the path or query is no credential.
        for plain in [
            "https://h/v@2x.mp4",
            "https://h/v?mail=a@b",
            "no url at all @ here",
            "http://h:80",
        ] {
            assert_eq!(redact_credentials(plain), plain);
        }
    }

    #[test]
    fn public_details_keep_the_culprit_and_lose_our_paths_and_pids() {
        let cases = [
            (
                "decode: cannot write /tmp/scorevision-4242-1700000000-3.video: No space left on device",
                "decode: cannot write <path>: No space left on device",
            ),
            (
                "decode: the downloaded video is not a decodable video: Internal data stream error. (../gst/isomp4/qtdemux.c(1): f (): /GstPipeline:pipeline0/GstDecodeBin:decodebin0/GstQTDemux:qtdemux0:\nno 'moov' atom)",
                "decode: the downloaded video is not a decodable video: Internal data stream error. (../gst/isomp4/qtdemux.c(1): f (): <path>:\nno 'moov' atom)",
            ),
            (
                "decode: shared-memory ring: writing: the reader of ring sv-chal_1-4242-0123456789abcdef.ring released nothing for 30s",
                "decode: shared-memory ring: writing: the reader of ring <temporary file> released nothing for 30s",
            ),
            (
                "video host: cannot reach http://u:p@127.0.0.1:9/a/b.mp4: connection refused",
                "video host: cannot reach http://***@127.0.0.1:9/a/b.mp4: connection refused",
            ),
            (
                "infer: model \"/models/players.onnx\" failed",
                "infer: model \"<path>\" failed",
            ),
            ("3 / 4 frames", "3 / 4 frames"),
        ];
        for (message, public) in cases {
            assert_eq!(public_detail(message), public, "{message}");
        }
    }
}
