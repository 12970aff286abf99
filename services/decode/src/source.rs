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
pub fn classify(url: &str) -> Result<Source, DecodeError> {
    let url = url.trim();
    if let Some(rest) = url.strip_prefix("file://") {
        return local(Path::new(rest));
    }
    if url.starts_with("http://") || url.starts_with("https://") {
        return Ok(Source::Http(url.to_owned()));
    }
    if url.contains("://") {
        return Err(DecodeError::UnsupportedUrl {
            url: url.to_owned(),
        });
    }
    local(Path::new(url))
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
