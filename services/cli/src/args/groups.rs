//! The flag groups several commands flatten in: the models and how the
//! infer stage runs them ([`ModelArgs`], its settings from
//! [`sv_infer::Tuning`]), the embedded pipeline ([`PipelineArgs`]), where
//! clips may be downloaded from ([`FetchArgs`]), and `--hardware-decode`.
//! Apart from `args/mod.rs` so the subcommands that take them do not
//! import the command list that names them.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use clap::builder::TypedValueParser;
use ipnet::IpNet;
use sv_decode::DecodeConfig;
use sv_decode::config::{HardwarePreference, PictureSize};
use sv_decode::fetch::MinRate;
use sv_infer::Tuning;

use crate::error::ConfigError;

/// `--hardware-decode auto|off`, parsed once into decode's own type.
pub fn hardware_decode() -> impl TypedValueParser<Value = HardwarePreference> {
    clap::builder::PossibleValuesParser::new(HardwarePreference::NAMES)
        .map(|name| name.parse::<HardwarePreference>().expect("a listed name"))
}

/// The embedded pipeline: the models, and how decode picks its decoder.
#[derive(Debug, Clone, Args)]
pub struct PipelineArgs {
    #[command(flatten)]
    pub models: ModelArgs,
    /// Use hardware video decoders when present (auto) or never (off).
    #[arg(long, env = "SV_HARDWARE_DECODE", default_value = "auto", value_parser = hardware_decode())]
    pub hardware_decode: HardwarePreference,
}

/// The models and how the infer stage runs them.
#[derive(Debug, Clone, Args)]
pub struct ModelArgs {
    /// YOLOv8 detect model exported to ONNX by ultralytics (ball, goalkeeper, player, referee).
    #[arg(long = "player", env = "SV_PLAYER_MODEL")]
    pub player_model: PathBuf,
    /// YOLOv8-pose pitch model exported to ONNX by ultralytics (32 keypoints).
    #[arg(long = "pitch", env = "SV_PITCH_MODEL")]
    pub pitch_model: PathBuf,
    /// Inference size of the player model (the reference uses 1280).
    #[arg(long, env = "SV_PLAYER_IMGSZ", default_value_t = 1280)]
    pub player_imgsz: u32,
    /// Inference size of the pitch model (the reference uses 640).
    #[arg(long, env = "SV_PITCH_IMGSZ", default_value_t = 640)]
    pub pitch_imgsz: u32,
    /// FP16 version of the player model (deploy/to_fp16.py); run instead on GPUs.
    #[arg(long = "player-fp16", env = "SV_PLAYER_MODEL_FP16")]
    pub player_model_fp16: Option<PathBuf>,
    /// FP16 version of the pitch model; run instead on GPUs.
    #[arg(long = "pitch-fp16", env = "SV_PITCH_MODEL_FP16")]
    pub pitch_model_fp16: Option<PathBuf>,
    #[command(flatten)]
    pub tuning: Tuning,
    /// TOML file whose `[infer]` table holds any of the settings above
    /// (flags and SV_ variables win); `scorevision bench` prints one.
    #[arg(long, env = "SV_INFER_CONFIG")]
    pub infer_config: Option<PathBuf>,
    /// libonnxruntime.so to load (default: ORT_DYLIB_PATH, then the project's .venv).
    #[arg(long, env = "SV_ORT_LIBRARY")]
    pub ort_library: Option<PathBuf>,
}

/// Where videos may be downloaded from, and which are taken (`process`,
/// `serve`, `decode`). Public addresses always; non-public ones (loopback,
/// private, link-local, ...) only when named here, checked after DNS and on
/// every redirect.
#[derive(Debug, Clone, Args)]
pub struct FetchArgs {
    /// Also download from this non-public network (a CIDR such as
    /// 127.0.0.1/32, or one address); repeatable or comma-separated. For
    /// tests against a loopback server; a miner needs none.
    #[arg(
        long = "allow-net",
        env = "SV_ALLOW_NET",
        value_name = "CIDR",
        value_delimiter = ',',
        value_parser = parse_net
    )]
    pub allow_net: Vec<IpNet>,
    /// Every non-public range at once (an alias kept for old test set-ups;
    /// prefer --allow-net, which opens only what a test needs).
    #[arg(long, env = "SV_ALLOW_PRIVATE_URLS")]
    pub allow_private_urls: bool,
    /// Give up a download slower than this many kB/s (1000 bytes) over
    /// --min-download-window-s (a host trickling bytes would hold a slot
    /// until the 120 s download limit); 0: no floor.
    #[arg(
        long,
        env = "SV_MIN_DOWNLOAD_RATE",
        value_name = "KB_PER_S",
        default_value_t = 100
    )]
    pub min_download_rate: u64,
    /// The window the download rate is averaged over, in seconds.
    #[arg(
        long,
        env = "SV_MIN_DOWNLOAD_WINDOW_S",
        value_name = "S",
        default_value_t = 10.0
    )]
    pub min_download_window_s: f64,
    /// Give up a video host that sends no response this many seconds after
    /// the connection (not retried: it would wait as long again).
    #[arg(
        long,
        env = "SV_FIRST_BYTE_TIMEOUT_S",
        value_name = "S",
        default_value_t = 10.0
    )]
    pub first_byte_timeout_s: f64,
    /// Refuse clips whose pictures are larger than WIDTHxHEIGHT (either
    /// way round), as soon as the stream says its size.
    #[arg(
        long,
        env = "SV_MAX_PICTURE",
        value_name = "WxH",
        default_value = "3840x2160"
    )]
    pub max_picture: PictureSize,
}

impl FetchArgs {
    pub fn apply(&self, decode: &mut DecodeConfig) -> Result<(), ConfigError> {
        decode.max_picture = self.max_picture;
        let wait = self.first_byte_timeout_s;
        if !(wait.is_finite() && wait > 0.0 && wait <= 600.0) {
            return Err(ConfigError::Invalid(format!(
                "--first-byte-timeout-s {wait} is not a number of seconds in (0, 600]"
            )));
        }
        let policy = &mut decode.fetch;
        policy.first_byte_timeout = Duration::from_secs_f64(wait);
        policy.allow_private = self.allow_private_urls;
        policy.allow_nets = self.allow_net.clone();
        let window = self.min_download_window_s;
        if !(window.is_finite() && window > 0.0 && window <= 3600.0) {
            return Err(ConfigError::Invalid(format!(
                "--min-download-window-s {window} is not a number of seconds in (0, 3600]"
            )));
        }
        policy.min_rate = (self.min_download_rate > 0).then(|| MinRate {
            bytes_per_s: self.min_download_rate.saturating_mul(1000),
            window: Duration::from_secs_f64(window),
        });
        Ok(())
    }
}

/// A CIDR, or one address (a /32 or /128).
fn parse_net(s: &str) -> Result<IpNet, String> {
    let s = s.trim();
    s.parse::<IpNet>()
        .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| format!("{s:?} is not a network (CIDR such as 127.0.0.1/32) or an address"))
}
