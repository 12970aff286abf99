//! Decode stage settings.

use std::path::PathBuf;
use std::time::Duration;

use crate::fetch::FetchPolicy;

/// Which decoder elements decodebin may pick.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HardwarePreference {
    /// Hardware decoders outrank software ones when present (default).
    #[default]
    Auto,
    /// Software decoders only (for parity checks against OpenCV's pixels).
    Off,
}

impl HardwarePreference {
    /// The names `--hardware-decode` takes (SV_HARDWARE_DECODE).
    pub const NAMES: [&'static str; 2] = ["auto", "off"];

    pub fn name(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Off => "off",
        }
    }
}

impl std::str::FromStr for HardwarePreference {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "auto" => Ok(Self::Auto),
            "off" => Ok(Self::Off),
            other => Err(format!(
                "{other:?} is not one of {}",
                Self::NAMES.join(", ")
            )),
        }
    }
}

#[derive(Debug, Clone)]
pub struct DecodeConfig {
    pub hardware: HardwarePreference,
    /// Frames buffered between the GStreamer thread and the consumer.
    pub channel_capacity: usize,
    /// Longest time the pipeline may go without producing a frame or a bus
    /// message before the video is declared stalled.
    pub stall_timeout: Duration,
    /// Where downloaded videos are kept while they decode.
    pub download_dir: PathBuf,
    pub fetch: FetchPolicy,
    /// Threads converting decoded pictures to RGB, in parallel with the
    /// decoder; 0: automatic (one per core, at most 4).
    pub convert_threads: usize,
    /// Decode an http(s) clip while it downloads when its layout allows
    /// (MP4 index first); otherwise, or when false, download it whole first.
    pub stream_downloads: bool,
    /// Decode a tiny built-in clip once per process when the stage starts,
    /// so the first challenge does not pay for the decoder's set-up (NVDEC's
    /// CUDA context: seconds).
    pub warm_up: bool,
    /// Read local paths and `file://` URLs. In process the caller chose the
    /// URL (`scorevision process`); a stage served over gRPC turns this off
    /// unless started with `--allow-local-files`, so a remote caller cannot
    /// read the machine's files.
    pub local_files: bool,
}

impl Default for DecodeConfig {
    fn default() -> Self {
        Self {
            hardware: HardwarePreference::Auto,
            channel_capacity: 8,
            stall_timeout: Duration::from_secs(30),
            download_dir: std::env::temp_dir(),
            fetch: FetchPolicy::default(),
            convert_threads: 0,
            stream_downloads: true,
            warm_up: true,
            local_files: true,
        }
    }
}
