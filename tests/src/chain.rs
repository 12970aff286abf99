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

/// The infer stage's device profile line and the answer's frames as JSON
/// text, for the sample clip decoded in software (the exact path).
pub async fn answer_clip(config: &InferConfig) -> anyhow::Result<(String, String)> {
    let decode = sv_decode::Stage::new(DecodeConfig {
        hardware: HardwarePreference::Off,
        ..DecodeConfig::default()
    })?;
    let infer = Arc::new(sv_infer::Stage::new(decode, config)?);
    let profile = infer.profile().map(ToString::to_string).unwrap_or_default();
    let track = sv_track::Stage::new(infer, ByteTrackConfig::default());
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
    Ok((profile, serde_json::to_value(&response.frames)?.to_string()))
}
