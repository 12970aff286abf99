//! [`DecodeStats`]: what one finished video cost. The stage fills it in and
//! keeps the last one; the metrics and the CLI's summary read it.

use std::time::Duration;

/// What the last finished video cost, for the CLI's summary and the trace.
/// Times run from the request (the start of [`sv_core::FrameSource::frames`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DecodeStats {
    /// Frames decoded (one the consumer refused included).
    pub frames: u64,
    /// Bytes of the video downloaded (zero for local files).
    pub bytes: u64,
    /// Until the download's last byte (zero for local files).
    pub download: Duration,
    /// Until the video's first byte arrived (None for local files).
    pub first_byte: Option<Duration>,
    /// Until the first frame was handed on.
    pub first_frame: Option<Duration>,
    /// Time decoding, excluding time blocked on a slow consumer and time
    /// waiting for the bytes a decoder needs to start.
    pub busy: Duration,
    /// The factory name of the video decoder decodebin picked.
    pub decoder: Option<String>,
    /// Frames were decoded while the clip was still downloading.
    pub streamed: bool,
    /// Decoding started again because the download did (a retry).
    pub restarts: u32,
}

impl DecodeStats {
    /// From the first byte of the video to the first frame handed on.
    pub fn first_frame_after_first_byte(&self) -> Option<Duration> {
        Some(self.first_frame?.saturating_sub(self.first_byte?))
    }
}
