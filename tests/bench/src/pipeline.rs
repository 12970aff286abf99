//! The embedded pipeline (decode -> infer -> track -> response), wired as
//! `scorevision process` wires it, with the settings under test.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use futures::StreamExt;
use sv_core::{
    ChallengeResponse, FrameSource, FrameStream, MissingKeypoints, TrackSource, VideoRequest,
};
use sv_decode::{DecodeConfig, Stage};
use sv_track::ByteTrackConfig;

use crate::{Common, settings};

/// When a video's first and last frames left decode.
type Marks = Arc<Mutex<Vec<(Instant, Option<Instant>)>>>;

/// Decode, noting when each video's first and last frames leave it.
struct Probe {
    inner: Stage,
    marks: Marks,
}

impl FrameSource for Probe {
    fn frames(&self, request: VideoRequest) -> FrameStream {
        let marks = self.marks.clone();
        let mut first = true;
        Box::pin(self.inner.frames(request).inspect(move |_| {
            let now = Instant::now();
            if let Ok(mut m) = marks.lock() {
                if first {
                    m.push((now, None));
                    first = false;
                }
                if let Some(last) = m.last_mut() {
                    last.1 = Some(now);
                }
            }
        }))
    }
}

pub fn run(common: &Common) -> anyhow::Result<serde_json::Value> {
    let config = common.infer_config()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let clip = common.clip.display().to_string();
    let (frames, seconds, steps) = runtime.block_on(async {
        let marks: Marks = Arc::default();
        let decode = Probe {
            inner: Stage::new(DecodeConfig::default())?,
            marks: marks.clone(),
        };
        let infer = Arc::new(sv_infer::Stage::new(decode, &config)?);
        let track = sv_track::Stage::new(infer.clone(), ByteTrackConfig::default());
        let mut seconds = Vec::with_capacity(common.runs);
        let mut first = Vec::with_capacity(common.runs);
        let mut decoded = Vec::with_capacity(common.runs);
        let mut frames = 0;
        for run in 0..common.runs {
            let id = format!("bench-{run}");
            let started = Instant::now();
            let stream = track.track(VideoRequest::new(&id, &clip));
            let mut first_frame = None;
            // Assembled as `scorevision process` does by default.
            let missing = MissingKeypoints::default();
            let response = ChallengeResponse::assemble(&id, stream, started, missing, |_| {
                first_frame.get_or_insert_with(|| started.elapsed().as_secs_f64());
            })
            .await?;
            seconds.push(started.elapsed().as_secs_f64());
            first.push(first_frame.unwrap_or_default());
            if let Some((a, b)) = marks.lock().ok().and_then(|m| m.last().copied()) {
                let since = |t: Instant| t.duration_since(started).as_secs_f64();
                decoded.push((since(a), b.map(since)));
            }
            frames = response.frames.len();
        }
        let stats = infer.stats();
        let steps = serde_json::json!({
            "busy": stats.busy().as_secs_f64(),
            "preprocess": stats.preprocess().as_secs_f64(),
            "inference": stats.inference().as_secs_f64(),
            "postprocess": stats.postprocess().as_secs_f64(),
        });
        let steps = serde_json::json!({
            "first_frame_out": first,
            "decoded_first_last": decoded,
            "summed_over_runs": steps,
        });
        anyhow::Ok((frames, seconds, steps))
    })?;
    Ok(serde_json::json!({
        "frames": frames,
        "settings": settings(&config)?,
        "pipeline": seconds,
        "steps": steps,
    }))
}
