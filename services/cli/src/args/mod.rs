//! Command-line arguments. Every option also reads an `SV_` environment
//! variable, so Kubernetes manifests can configure without flags.
//!
//! - [`groups`]: the flag groups several commands flatten in (the models
//!   and the inference settings, downloads, `--hardware-decode`).

pub mod groups;

use std::path::PathBuf;

use clap::builder::TypedValueParser;
use clap::{Args, Parser, Subcommand};
use sv_core::MissingKeypoints;
use sv_decode::config::HardwarePreference;
use sv_telemetry::LogFormat;

use crate::metrics::MetricsListen;
pub use groups::{FetchArgs, ModelArgs, PipelineArgs};

#[derive(Debug, Parser)]
#[command(
    name = "scorevision",
    version,
    about = "Score Vision (SN44) miner: decode -> infer -> track."
)]
pub struct Cli {
    /// Log lines as `plain` text or `json`.
    #[arg(long, global = true, env = "SV_LOG_FORMAT", default_value = "plain")]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the embedded pipeline on one clip and write the validator JSON.
    Process(ProcessArgs),
    /// Serve the validator API with the embedded pipeline.
    Serve(ServeArgs),
    /// Serve the decode stage over gRPC (distributed mode).
    Decode(DecodeArgs),
    /// Serve the infer stage over gRPC, pulling frames from decode.
    Infer(InferArgs),
    /// Serve the track stage over gRPC, pulling detections from infer.
    Track(TrackArgs),
    /// Serve the validator API in front of remote track replicas.
    Gateway(GatewayArgs),
    /// Ask running track replicas for one clip's JSON (checks a deployment).
    Ask(AskArgs),
    /// Find the fastest inference settings on this machine (providers,
    /// precisions, batch sizes, lanes) and print them for `serve`.
    Bench(crate::bench::BenchArgs),
    /// Draw a clip's answer (boxes, tracker ids, keypoints, frame numbers)
    /// onto its frames: an H.264 MP4 and/or one PNG per frame.
    Annotate(crate::annotate::AnnotateArgs),
    /// Score an answer as a validator would: the keypoint score and its
    /// terms, the box rules, and with CLIP the pitch frames and box score.
    Score(crate::score::ScoreArgs),
}

#[derive(Debug, Args)]
pub struct ProcessArgs {
    /// A clip: local path, file://, http:// or https:// URL.
    pub clip: String,
    #[command(flatten)]
    pub pipeline: PipelineArgs,
    /// Write the JSON here instead of stdout.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Challenge id to put in the JSON.
    #[arg(long, default_value = "local")]
    pub challenge_id: String,
    #[command(flatten)]
    pub fetch: FetchArgs,
    #[command(flatten)]
    pub keypoints: KeypointArgs,
    /// Answer Prometheus' GET /metrics on this address while the clip runs
    /// (decode's, infer's and track's series); off unless given.
    #[arg(long)]
    pub metrics_listen: Option<MetricsListen>,
}

/// What the answer carries for a frame without a pitch instance (`process`,
/// `ask`, `serve`, `gateway`).
#[derive(Debug, Clone, Args)]
pub struct KeypointArgs {
    /// Keypoints of a frame without a pitch instance: `zeros` (32 [0.0, 0.0]
    /// pairs; the validator scores a frame's keypoints 0 unless it and the
    /// frame before carry exactly 32) or `empty` (`[]`, as the reference
    /// miner sends; for byte parity with its JSON). serve and gateway: wins
    /// over the config file's `keypoints_when_missing` [default: zeros]
    #[arg(
        long,
        env = "SV_KEYPOINTS_WHEN_MISSING",
        value_name = "MODE",
        value_parser = clap::builder::PossibleValuesParser::new(MissingKeypoints::NAMES)
            .map(|name| name.parse::<MissingKeypoints>().expect("a listed name"))
    )]
    pub keypoints_when_missing: Option<MissingKeypoints>,
}

impl KeypointArgs {
    /// The flag or SV_ variable when given, else `configured` (the config
    /// file's value, or the default).
    pub fn or(&self, configured: MissingKeypoints) -> MissingKeypoints {
        self.keypoints_when_missing.unwrap_or(configured)
    }
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub pipeline: PipelineArgs,
    #[command(flatten)]
    pub fetch: FetchArgs,
    /// Gateway configuration file (TOML); see services/gateway/README.md.
    #[arg(long, env = "SV_GATEWAY_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub keypoints: KeypointArgs,
}

/// What every gRPC stage server takes.
#[derive(Debug, Clone, Args)]
pub struct StageServerArgs {
    /// Address to serve gRPC (the stage, grpc.health.v1 and reflection) on.
    /// Loopback unless told: a stage trusts its callers with its memory
    /// and must not face the internet; the manifests give the pod's address.
    #[arg(long, env = "SV_LISTEN", default_value = "127.0.0.1:50051")]
    pub listen: String,
    /// Stage streams served at once; beyond it a new one is refused at once
    /// (RESOURCE_EXHAUSTED, a 503 at the gateway). 0: sized to the
    /// hardware (decode: two per core; infer: four per lane; track: 64).
    #[arg(long, env = "SV_MAX_STREAMS", default_value_t = 0)]
    pub max_streams: usize,
    /// Seconds in-flight streams get to finish after SIGTERM (keep it below
    /// the pod's terminationGracePeriodSeconds).
    #[arg(long, env = "SV_SHUTDOWN_GRACE_S", default_value_t = 20.0)]
    pub grace_s: f64,
    /// Address to answer Prometheus' GET /metrics on, or `off`. Default:
    /// loopback, a port per stage (decode 9461, infer 9462, track 9463).
    #[arg(long, env = "SV_METRICS_LISTEN")]
    pub metrics_listen: Option<MetricsListen>,
}

#[derive(Debug, Args)]
pub struct DecodeArgs {
    #[command(flatten)]
    pub server: StageServerArgs,
    /// Use hardware video decoders when present (auto) or never (off).
    #[arg(long, env = "SV_HARDWARE_DECODE", default_value = "auto", value_parser = crate::args::groups::hardware_decode())]
    pub hardware_decode: HardwarePreference,
    /// Memory-backed directory shared with infer (e.g. /dev/shm): enables the
    /// shared-memory frame transport for clients that ask for it.
    #[arg(long, env = "SV_SHM_DIR")]
    pub shm_dir: Option<PathBuf>,
    /// Frames in flight per stream through the shared-memory ring.
    #[arg(long, env = "SV_SHM_SLOTS", default_value_t = 16)]
    pub shm_slots: usize,
    /// Also read local paths and file:// URLs for gRPC callers (a test or
    /// `scorevision ask` on a clip on this machine). Off by default: any
    /// caller that reaches the port could otherwise read this machine's files.
    #[arg(long, env = "SV_ALLOW_LOCAL_FILES")]
    pub allow_local_files: bool,
    #[command(flatten)]
    pub fetch: FetchArgs,
}

#[derive(Debug, Args)]
pub struct InferArgs {
    #[command(flatten)]
    pub server: StageServerArgs,
    #[command(flatten)]
    pub models: ModelArgs,
    /// Decode replicas: comma-separated http://host:port, re-resolved by DNS.
    #[arg(
        long = "decode",
        env = "SV_DECODE_ADDR",
        value_delimiter = ',',
        required = true
    )]
    pub decode_addrs: Vec<String>,
    /// How frames come from decode: inline in the messages, or `shm` through
    /// a shared-memory ring (decode on the same host, same --shm-dir).
    #[arg(long, env = "SV_FRAME_TRANSPORT", default_value = "inline")]
    pub frame_transport: sv_decode::grpc::FrameTransport,
    /// Where decode's rings are (the shm transport only).
    #[arg(long, env = "SV_SHM_DIR", default_value = "/dev/shm")]
    pub shm_dir: PathBuf,
}

#[derive(Debug, Args)]
pub struct TrackArgs {
    #[command(flatten)]
    pub server: StageServerArgs,
    /// Infer replicas: comma-separated http://host:port, re-resolved by DNS.
    #[arg(
        long = "infer",
        env = "SV_INFER_ADDR",
        value_delimiter = ',',
        required = true
    )]
    pub infer_addrs: Vec<String>,
}

#[derive(Debug, Args)]
pub struct GatewayArgs {
    /// Track replicas: comma-separated http://host:port, re-resolved by DNS.
    #[arg(
        long = "track",
        env = "SV_TRACK_ADDR",
        value_delimiter = ',',
        required = true
    )]
    pub track_addrs: Vec<String>,
    /// Gateway configuration file (TOML); see services/gateway/README.md.
    #[arg(long, env = "SV_GATEWAY_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub keypoints: KeypointArgs,
}

#[derive(Debug, Args)]
pub struct AskArgs {
    /// A clip URL, or a path the decode replicas can read (they need
    /// --allow-local-files for paths).
    pub clip: String,
    /// Track replicas: comma-separated http://host:port.
    #[arg(
        long = "track",
        env = "SV_TRACK_ADDR",
        value_delimiter = ',',
        required = true
    )]
    pub track_addrs: Vec<String>,
    /// Write the JSON here instead of stdout.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Challenge id to put in the JSON.
    #[arg(long, default_value = "local")]
    pub challenge_id: String,
    #[command(flatten)]
    pub keypoints: KeypointArgs,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn serve(extra: &[&str]) -> Result<ServeArgs, clap::Error> {
        let args = [
            "scorevision",
            "serve",
            "--player",
            "p.onnx",
            "--pitch",
            "q.onnx",
        ];
        let cli = Cli::try_parse_from(args.iter().chain(extra))?;
        match cli.command {
            Command::Serve(serve) => Ok(serve),
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn keypoints_when_missing_wins_over_the_config_file_only_when_given() {
        // SV_KEYPOINTS_WHEN_MISSING would count as given; this test's process
        // has none (tests/process.rs sets it on a child process).
        if std::env::var_os("SV_KEYPOINTS_WHEN_MISSING").is_some() {
            return;
        }
        let unset = serve(&[]).unwrap().keypoints;
        assert_eq!(unset.keypoints_when_missing, None);
        assert_eq!(unset.or(MissingKeypoints::Empty), MissingKeypoints::Empty);
        assert_eq!(unset.or(MissingKeypoints::Zeros), MissingKeypoints::Zeros);
        let given = serve(&["--keypoints-when-missing", "empty"])
            .unwrap()
            .keypoints;
        assert_eq!(given.or(MissingKeypoints::Zeros), MissingKeypoints::Empty);
        let given = serve(&["--keypoints-when-missing", "zeros"])
            .unwrap()
            .keypoints;
        assert_eq!(given.or(MissingKeypoints::Empty), MissingKeypoints::Zeros);
        let err = serve(&["--keypoints-when-missing", "nothing"]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::InvalidValue);
    }
}
