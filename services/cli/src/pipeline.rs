//! Wires the embedded pipeline: decode -> infer -> track, in process.

use std::sync::Arc;

use sv_decode::config::HardwarePreference;
use sv_decode::{DecodeConfig, Local};
use sv_infer::InferConfig;
use sv_track::ByteTrackConfig;

use crate::args::{ModelArgs, PipelineArgs};

/// A configuration problem (exit code 64), as opposed to a failed run.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

pub type Infer = sv_infer::Stage<Local>;
pub type Track = sv_track::Stage<Arc<Infer>>;

/// The three stages, with handles kept to each for statistics.
pub struct Embedded {
    pub decode: Local,
    pub infer: Arc<Infer>,
    pub track: Arc<Track>,
}

impl Embedded {
    pub fn build(args: &PipelineArgs, decode: DecodeConfig) -> anyhow::Result<Self> {
        let infer = args.models.infer_config()?;
        let hardware = if args.hardware_decode == "off" {
            HardwarePreference::Off
        } else {
            HardwarePreference::Auto
        };
        let decode = Local::new(DecodeConfig { hardware, ..decode })?;
        let infer = Arc::new(sv_infer::Stage::new(decode.clone(), &infer)?);
        let track = Arc::new(sv_track::Stage::new(
            infer.clone(),
            ByteTrackConfig::default(),
        ));
        Ok(Self {
            decode,
            infer,
            track,
        })
    }
}

impl ModelArgs {
    /// The infer stage's settings; missing model files are a config error.
    pub fn infer_config(&self) -> Result<InferConfig, ConfigError> {
        for (what, path) in [
            ("player model", &self.player_model),
            ("pitch model", &self.pitch_model),
        ] {
            if !path.is_file() {
                return Err(ConfigError(format!(
                    "{what} {} does not exist",
                    path.display()
                )));
            }
        }
        let mut infer = InferConfig::new(&self.player_model, &self.pitch_model);
        infer.player_imgsz = self.player_imgsz;
        infer.pitch_imgsz = self.pitch_imgsz;
        infer.batch_size = self.batch_size;
        infer.providers = self.providers.clone();
        infer.intra_threads = self.intra_threads;
        infer.ort_library = self.ort_library.clone();
        infer.engine_cache = self.engine_cache.clone();
        Ok(infer)
    }
}
