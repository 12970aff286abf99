//! Everything that can go wrong turning a URL into frames.

use std::path::PathBuf;

use sv_core::{ErrorKind, StageError};

use crate::config::PictureSize;
use crate::fetch::FetchError;

/// Why a video produced no frames, or stopped producing them. Each variant
/// maps to one [`ErrorKind`] ([`DecodeError::kind`]) and one metric label
/// ([`DecodeError::label`]).
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// A local path (or `file://` URL) names no file.
    #[error("video file {path} does not exist")]
    NotFound {
        /// The path as resolved from the URL.
        path: PathBuf,
    },
    /// The URL's scheme is none of those the stage reads.
    #[error("unsupported video URL {url:?}: expected a path, file://, http:// or https://")]
    UnsupportedUrl {
        /// The URL as given, credentials redacted.
        url: String,
    },
    /// A local path or `file://` URL while local files are not allowed
    /// (they are off by default, so a validator cannot read the host's files).
    #[error(
        "this decode stage reads only http(s) URLs: local paths and file:// URLs need --allow-local-files (SV_ALLOW_LOCAL_FILES=true)"
    )]
    LocalFilesRefused,
    /// The download failed; its error says why (and carries its own kind).
    #[error("downloading the video failed: {0}")]
    Fetch(#[from] FetchError),
    /// GStreamer failed before the first frame: the bytes are no video it
    /// can demux and decode.
    #[error("{uri} is not a decodable video: {message}")]
    NotAVideo {
        /// The video as logs name it (a path, or the URL).
        uri: String,
        /// GStreamer's error, with its debug detail.
        message: String,
    },
    /// The file ended without a single decoded frame (an audio-only file,
    /// say).
    #[error("{uri} has no video stream")]
    NoVideoStream {
        /// The video as logs name it (a path, or the URL).
        uri: String,
    },
    /// The stream's pictures exceed the configured maximum, refused before
    /// decoding so one huge video cannot exhaust memory.
    #[error("{uri} has {width}x{height} pictures, larger than the {max} maximum (--max-picture)")]
    PictureTooLarge {
        /// The video as logs name it (a path, or the URL).
        uri: String,
        /// The stream's picture width, in pixels.
        width: u32,
        /// The stream's picture height, in pixels.
        height: u32,
        /// The largest picture allowed (`--max-picture`).
        max: PictureSize,
    },
    /// Decoding failed after some frames, or the video ended clearly before
    /// the duration its container declares (a truncated file).
    #[error("decoding {uri} failed after {frames} frames: {message}")]
    Corrupt {
        /// The video as logs name it (a path, or the URL).
        uri: String,
        /// Frames decoded before the failure.
        frames: u64,
        /// GStreamer's error, or where the video stopped short.
        message: String,
    },
    /// Neither a frame nor any input progress for the stall timeout.
    #[error("decoding {uri} stalled: nothing happened for {seconds} s")]
    Stalled {
        /// The video as logs name it (a path, or the URL).
        uri: String,
        /// The stall timeout that ran out, in whole seconds.
        seconds: u64,
    },
    /// A GStreamer element the pipeline needs is not installed: a broken
    /// host, not a bad video.
    #[error(
        "GStreamer is missing the {element} element (install the plugins in scripts/install-deps.sh)"
    )]
    MissingElement {
        /// The element's factory name (`decodebin`, `appsink`, ...).
        element: &'static str,
    },
    /// An internal failure, not the video's: GStreamer could not build or
    /// start the pipeline, or a decode or conversion thread died.
    #[error("GStreamer failed: {message}")]
    Gstreamer {
        /// What failed, in words.
        message: String,
    },
    /// The local file a download is written to could not be created.
    #[error("cannot create the download file: {0}")]
    Io(#[from] std::io::Error),
}

impl DecodeError {
    /// How callers should treat the failure: the video's fault
    /// (`InvalidInput`), too slow (`DeadlineExceeded`), or this host's
    /// (`Internal`); a download failure keeps its own kind.
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
