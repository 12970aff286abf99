//! The embedded pipeline (decode -> infer -> track -> response), wired as
//! `scorevision process` wires it, with the settings under test.

use std::sync::Arc;
use std::time::Instant;

use sv_core::{ChallengeResponse, TrackSource, VideoRequest};
use sv_decode::{DecodeConfig, Local};
use sv_track::ByteTrackConfig;

use crate::{Common, settings};

pub fn run(common: &Common) -> anyhow::Result<serde_json::Value> {
    let config = common.infer_config();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let clip = common.clip.display().to_string();
    let (frames, seconds) = runtime.block_on(async {
        let decode = Local::new(DecodeConfig::default())?;
        let infer = Arc::new(sv_infer::Stage::new(decode, &config)?);
        let track = sv_track::Stage::new(infer, ByteTrackConfig::default());
        let mut seconds = Vec::with_capacity(common.runs);
        let mut frames = 0;
        for run in 0..common.runs {
            let id = format!("bench-{run}");
            let started = Instant::now();
            let stream = track.track(VideoRequest::new(&id, &clip));
            let response = ChallengeResponse::assemble(&id, stream, started, |_| {}).await?;
            seconds.push(started.elapsed().as_secs_f64());
            frames = response.frames.len();
        }
        anyhow::Ok((frames, seconds))
    })?;
    Ok(serde_json::json!({
        "frames": frames,
        "settings": settings(&config),
        "pipeline": seconds,
    }))
}
