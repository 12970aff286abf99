//! Where a video's bytes come from: a local file as it is, or an http(s)
//! download into a temporary file that is deleted once decoding ends.
//!
//! Downloading whole before decoding (rather than streaming into GStreamer)
//! keeps MP4s whose index sits at the end decodable, and keeps every network
//! guard (size cap, private-address refusal, retries) in one place: [`fetch`].
//!
//! [`fetch`]: crate::fetch

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::DecodeError;
use crate::fetch::Fetcher;

/// A video on local disk, ready for `filesrc`.
#[derive(Debug)]
pub enum VideoFile {
    /// The caller's own file; left alone.
    Local(PathBuf),
    /// A download we own; removed on drop.
    Downloaded { path: PathBuf, bytes: u64 },
}

impl VideoFile {
    pub fn path(&self) -> &Path {
        match self {
            Self::Local(path) | Self::Downloaded { path, .. } => path,
        }
    }
}

impl Drop for VideoFile {
    fn drop(&mut self) {
        if let Self::Downloaded { path, .. } = self {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Resolves `url` to a local file, downloading it when it is http(s).
pub async fn resolve(
    url: &str,
    fetcher: &Fetcher,
    download_dir: &Path,
) -> Result<VideoFile, DecodeError> {
    let url = url.trim();
    if let Some(rest) = url.strip_prefix("file://") {
        return local(Path::new(rest));
    }
    if url.starts_with("http://") || url.starts_with("https://") {
        let path = download_dir.join(unique_name());
        let bytes = match fetcher.download(url, &path).await {
            Ok(bytes) => bytes,
            Err(e) => {
                let _ = std::fs::remove_file(&path);
                return Err(e.into());
            }
        };
        return Ok(VideoFile::Downloaded { path, bytes });
    }
    if url.contains("://") {
        return Err(DecodeError::UnsupportedUrl {
            url: url.to_owned(),
        });
    }
    local(Path::new(url))
}

fn local(path: &Path) -> Result<VideoFile, DecodeError> {
    if path.is_file() {
        Ok(VideoFile::Local(path.to_owned()))
    } else {
        Err(DecodeError::NotFound {
            path: path.to_owned(),
        })
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
