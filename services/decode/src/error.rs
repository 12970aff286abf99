//! Everything that can go wrong turning a URL into frames.

use std::path::PathBuf;

use sv_core::{ErrorKind, StageError};

use crate::config::PictureSize;
use crate::fetch::FetchError;

#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("video file {path} does not exist")]
    NotFound { path: PathBuf },
    #[error("unsupported video URL {url:?}: expected a path, file://, http:// or https://")]
    UnsupportedUrl { url: String },
    #[error(
        "this decode stage reads only http(s) URLs: local paths and file:// URLs need --allow-local-files (SV_ALLOW_LOCAL_FILES=true)"
    )]
    LocalFilesRefused,
    #[error("downloading the video failed: {0}")]
    Fetch(#[from] FetchError),
    #[error("{uri} is not a decodable video: {message}")]
    NotAVideo { uri: String, message: String },
    #[error("{uri} has no video stream")]
    NoVideoStream { uri: String },
    #[error("{uri} has {width}x{height} pictures, larger than the {max} maximum (--max-picture)")]
    PictureTooLarge {
        uri: String,
        width: u32,
        height: u32,
        max: PictureSize,
    },
    #[error("decoding {uri} failed after {frames} frames: {message}")]
    Corrupt {
        uri: String,
        frames: u64,
        message: String,
    },
    #[error("decoding {uri} stalled: nothing happened for {seconds} s")]
    Stalled { uri: String, seconds: u64 },
    #[error(
        "GStreamer is missing the {element} element (install the plugins in scripts/install-deps.sh)"
    )]
    MissingElement { element: &'static str },
    #[error("GStreamer failed: {message}")]
    Gstreamer { message: String },
    #[error("cannot create the download file: {0}")]
    Io(#[from] std::io::Error),
}

impl DecodeError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::NotFound { .. }
            | Self::UnsupportedUrl { .. }
            | Self::LocalFilesRefused
            | Self::NotAVideo { .. }
            | Self::NoVideoStream { .. }
            | Self::PictureTooLarge { .. }
            | Self::Corrupt { .. } => ErrorKind::InvalidInput,
            Self::Fetch(e) => e.kind(),
            Self::Stalled { .. } => ErrorKind::DeadlineExceeded,
            Self::MissingElement { .. } | Self::Gstreamer { .. } | Self::Io(_) => {
                ErrorKind::Internal
            }
        }
    }
}

impl DecodeError {
    /// The failure's name in `sv_decode_failures_total{kind}` (a bounded
    /// set: never the URL or the file).
    pub fn label(&self) -> &'static str {
        match self {
            Self::NotFound { .. } => "not_found",
            Self::UnsupportedUrl { .. } => "unsupported_url",
            Self::LocalFilesRefused => "local_files_refused",
            Self::Fetch(e) => e.label(),
            Self::NotAVideo { .. } => "not_a_video",
            Self::NoVideoStream { .. } => "no_video_stream",
            Self::PictureTooLarge { .. } => "picture_too_large",
            Self::Corrupt { .. } => "corrupt",
            Self::Stalled { .. } => "stalled",
            Self::MissingElement { .. } => "missing_element",
            Self::Gstreamer { .. } | Self::Io(_) => "internal",
        }
    }
}

impl From<DecodeError> for StageError {
    fn from(e: DecodeError) -> Self {
        match e {
            // The download's own words name the culprit (the URL, the host).
            DecodeError::Fetch(e) => e.into(),
            e => StageError::new(e.kind(), format!("decode: {e}")),
        }
    }
}
