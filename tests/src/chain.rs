//! The fixture clip answered by the embedded chain (our decode, infer as an
//! `InferConfig` sets it up, ByteTrack), for tests that check an infer
//! setting changes nothing in the answer.

use std::sync::Arc;
use std::time::Instant;

use sv_core::{ChallengeResponse, MissingKeypoints, TrackSource, VideoRequest};
use sv_decode::DecodeConfig;
use sv_decode::config::HardwarePreference;
use sv_infer::InferConfig;
use sv_track::ByteTrackConfig;

/// What the chain made of the sample clip.
#[derive(Debug)]
pub struct ClipAnswer {
    /// The infer stage's device profile line.
    pub profile: String,
    /// The answer's frames as JSON text.
    pub frames: String,
    /// ONNX Runtime runs, and those from the engines' own input memory.
    pub runs: u64,
    /// Of `runs`, those whose input the letterbox wrote straight into the
    /// engine's own (page-locked, I/O-bound) memory.
    pub host_runs: u64,
    /// Runs that failed and were rerun in halves.
    pub retried_runs: u64,
}

/// The sample clip (decoded in software, the exact path) answered.
pub async fn answer_clip(config: &InferConfig) -> anyhow::Result<ClipAnswer> {
    let decode = sv_decode::Stage::new(DecodeConfig {
        hardware: HardwarePreference::Off,
        ..DecodeConfig::default()
    })?;
    let infer = Arc::new(sv_infer::Stage::new(decode, config)?);
    let profile = infer.profile().map(ToString::to_string).unwrap_or_default();
    let track = sv_track::Stage::new(infer.clone(), ByteTrackConfig::default());
    let clip = crate::sample_clip().display().to_string();
    let response = ChallengeResponse::assemble(
        "fixture",
        track.track(VideoRequest::new("fixture", &clip)),
        Instant::now(),
        MissingKeypoints::Zeros,
        |_| {},
    )
    .await?;
    anyhow::ensure!(
        response.frames.len() == 50,
        "{} frames answered, the clip has 50",
        response.frames.len()
    );
    Ok(ClipAnswer {
        profile,
        frames: serde_json::to_value(&response.frames)?.to_string(),
        runs: infer.stats().runs(),
        host_runs: infer.stats().host_runs(),
        retried_runs: infer.stats().retried_runs(),
    })
}
