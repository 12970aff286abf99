//! Wires the embedded pipeline: decode -> infer -> track, in process.

use std::sync::Arc;

use sv_decode::DecodeConfig;
use sv_infer::{InferConfig, Tuning};
use sv_telemetry::metrics::Exposition;
use sv_track::ByteTrackConfig;

use std::path::Path;

use crate::args::groups::{ModelArgs, PipelineArgs};
use crate::error::ConfigError;

pub type Infer = sv_infer::Stage<sv_decode::Stage>;
pub type Track = sv_track::Stage<Arc<Infer>>;

/// The three stages, with handles kept to each for statistics.
pub struct Embedded {
    pub decode: sv_decode::Stage,
    pub infer: Arc<Infer>,
    pub track: Arc<Track>,
}

impl Embedded {
    /// `file`: the serve config, whose `[infer]` table applies unless
    /// `--infer-config` names another.
    pub fn build(
        args: &PipelineArgs,
        decode: DecodeConfig,
        file: Option<&Path>,
    ) -> anyhow::Result<Self> {
        let infer = args.models.infer_config(file)?;
        let decode = sv_decode::Stage::new(DecodeConfig {
            hardware: args.hardware_decode,
            ..decode
        })?;
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

    /// The three stages' Prometheus series, to serve together.
    pub fn metrics(&self) -> Exposition {
        let all = self.decode.metrics().exposition();
        all.include_all(self.infer.metrics().exposition());
        all.include_all(&self.track.metrics().exposition());
        all
    }
}

impl ModelArgs {
    /// The infer stage's settings: flags and `SV_` variables, then the
    /// `[infer]` table of `--infer-config` (or of `file`, the serve config),
    /// then the device profile. Missing model files are a config error.
    pub fn infer_config(&self, file: Option<&Path>) -> Result<InferConfig, ConfigError> {
        let mut models = vec![
            ("player model", &self.player_model),
            ("pitch model", &self.pitch_model),
        ];
        models.extend(
            self.player_model_fp16
                .iter()
                .map(|p| ("FP16 player model", p)),
        );
        models.extend(
            self.pitch_model_fp16
                .iter()
                .map(|p| ("FP16 pitch model", p)),
        );
        for (what, path) in models {
            if !path.is_file() {
                return Err(ConfigError::Invalid(format!(
                    "{what} {} does not exist",
                    path.display()
                )));
            }
        }
        let mut infer = InferConfig::new(&self.player_model, &self.pitch_model);
        infer.player_model_fp16 = self.player_model_fp16.clone();
        infer.pitch_model_fp16 = self.pitch_model_fp16.clone();
        infer.player_imgsz = self.player_imgsz;
        infer.pitch_imgsz = self.pitch_imgsz;
        infer.ort_library = self.ort_library.clone();
        let from_file = match self.infer_config.as_deref().or(file) {
            Some(path) => Tuning::from_file(path)?,
            None => Tuning::default(),
        };
        self.tuning.clone().or(from_file).apply(&mut infer)?;
        Ok(infer)
    }
}
