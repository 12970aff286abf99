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

    /// The name `--hardware-decode` takes for this preference (one of
    /// [`Self::NAMES`]).
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

/// The largest pictures a clip may have, in either orientation: a
/// 2160x3840 portrait clip passes a 3840x2160 limit. A clip beyond it is
/// refused as soon as its stream's caps are known, before a decoder or a
/// frame buffer is made for it (an 8192x8192 clip took decode to 2.1 GB).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PictureSize {
    /// Width, in pixels (1 to 32768).
    pub width: u32,
    /// Height, in pixels (1 to 32768).
    pub height: u32,
}

impl PictureSize {
    /// 4K UHD: the largest broadcast clips validators could send.
    pub const UHD: Self = Self {
        width: 3840,
        height: 2160,
    };

    /// Whether a `width` x `height` picture fits, turned either way.
    pub fn fits(self, width: u32, height: u32) -> bool {
        let (long, short) = (width.max(height), width.min(height));
        long <= self.width.max(self.height) && short <= self.width.min(self.height)
    }

    /// Bytes of one RGB picture at this size.
    pub fn rgb_bytes(self) -> usize {
        self.width as usize * self.height as usize * 3
    }
}

impl std::fmt::Display for PictureSize {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}x{}", self.width, self.height)
    }
}

impl std::str::FromStr for PictureSize {
    type Err = String;

    /// `WIDTHxHEIGHT`, both positive.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("{s:?} is not a picture size such as 3840x2160");
        let (w, h) = s.trim().split_once(['x', 'X']).ok_or_else(bad)?;
        let width: u32 = w.trim().parse().map_err(|_| bad())?;
        let height: u32 = h.trim().parse().map_err(|_| bad())?;
        if width == 0 || height == 0 || width > 1 << 15 || height > 1 << 15 {
            return Err(bad());
        }
        Ok(Self { width, height })
    }
}

/// Everything the decode stage is configured with, in process or served.
#[derive(Debug, Clone)]
pub struct DecodeConfig {
    /// Whether hardware decoders (NVDEC, VA-API) may be used.
    pub hardware: HardwarePreference,
    /// Frames buffered between the GStreamer thread and the consumer, at
    /// most; [`frames_in_flight_bytes`](Self::frames_in_flight_bytes) may
    /// allow fewer for large pictures.
    pub channel_capacity: usize,
    /// Bytes of decoded frames buffered per video, at most (one frame
    /// always fits): eight 720p frames, two 4K ones ([`crate::budget`]).
    pub frames_in_flight_bytes: usize,
    /// Larger clips are refused before they are decoded.
    pub max_picture: PictureSize,
    /// Longest time the pipeline may go without producing a frame or a bus
    /// message before the video is declared stalled.
    pub stall_timeout: Duration,
    /// Where downloaded videos are kept while they decode.
    pub download_dir: PathBuf,
    /// Limits and timeouts of http(s) downloads.
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
            frames_in_flight_bytes: 8 * 1280 * 720 * 3,
            max_picture: PictureSize::UHD,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picture_sizes_parse_and_fit_either_way() {
        let uhd: PictureSize = "3840x2160".parse().unwrap();
        assert_eq!(uhd, PictureSize::UHD);
        assert_eq!(uhd.to_string(), "3840x2160");
        assert!(uhd.fits(1280, 720) && uhd.fits(3840, 2160) && uhd.fits(2160, 3840));
        assert!(!uhd.fits(8192, 8192) && !uhd.fits(3841, 2160) && !uhd.fits(4096, 2160));
        assert!(!uhd.fits(2200, 2200), "the short side is bounded too");
        for bad in ["", "3840", "0x10", "10x0", "ax1", "99999x1", "-1x5"] {
            assert!(bad.parse::<PictureSize>().is_err(), "{bad:?}");
        }
        assert_eq!(" 1920X1080 ".parse::<PictureSize>().unwrap().height, 1080);
    }
}
