//! Each stage alone, on the clip held in memory, with the pipeline's own
//! code and settings: what the pipeline could reach if that stage were the
//! only work on the machine.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use anyhow::Context;
use sv_core::{Detection, Frame};
use sv_decode::{DecodeConfig, decode_file};
use sv_infer::engine::{Engine, Output};
use sv_infer::model::{ModelOutput, Postprocess, Preprocess};
use sv_infer::pre::Letterbox;
use sv_infer::pre::batch::{draw_all, slots};
use sv_infer::tensor::InputTensor;
use sv_infer::{Detector, ElementType, InferConfig, Resolved, WarmUp};
use sv_track::{ByteTrack, ByteTrackConfig};

use crate::{Common, settings};

/// One model's input for one batch, as the lanes see it.
struct Item {
    pitch: bool,
    batch: usize,
    tensor: InputTensor,
    shape: [usize; 4],
    /// Frames in the batch (the rest of `shape[0]` is padding).
    frames: usize,
}

/// One lane's (players, pitch) engines.
type Lane = (Box<dyn Engine>, Box<dyn Engine>);

struct Models {
    players: (Preprocess, Postprocess),
    pitch: (Preprocess, Postprocess),
    /// Each model's input element type.
    types: (ElementType, ElementType),
    lanes: Vec<Lane>,
}

fn open(config: &InferConfig, resolved: &Resolved) -> anyhow::Result<Models> {
    let mut lanes = Vec::new();
    let mut parts = None;
    for d in Detector::open_lanes(config, resolved)? {
        let (pp, pe, ppost) = d.players.into_parts();
        let (qp, qe, qpost) = d.pitch.into_parts();
        parts.get_or_insert(((pp, ppost), (qp, qpost), (pe.input_type(), qe.input_type())));
        lanes.push((pe, qe));
    }
    let (players, pitch, types) = parts.context("no lanes")?;
    Ok(Models {
        players,
        pitch,
        types,
        lanes,
    })
}

fn secs(started: Instant) -> f64 {
    started.elapsed().as_secs_f64()
}

pub fn run(common: &Common) -> anyhow::Result<serde_json::Value> {
    let config = common.infer_config()?;
    let runs = common.runs.max(1);

    // Decode: GStreamer to RGB frames, nothing downstream.
    let decode_config = DecodeConfig::default();
    let mut decode = Vec::with_capacity(runs);
    let mut frames: Vec<Frame> = Vec::new();
    for _ in 0..runs {
        let mut got = Vec::new();
        let started = Instant::now();
        decode_file(&common.clip, &decode_config, |f| {
            got.push(f);
            true
        })?;
        decode.push(secs(started));
        frames = got;
    }
    anyhow::ensure!(!frames.is_empty(), "no frames in {}", common.clip.display());
    let (w, h) = (frames[0].width, frames[0].height);
    let resolved = config.resolve()?;
    let mut models = open(&config, &resolved)?;
    let lb_players = models.players.0.letterbox(w, h);
    let lb_pitch = models.pitch.0.letterbox(w, h);
    let batches: Vec<&[Frame]> = frames.chunks(resolved.batch_size.max(1)).collect();
    // The batch dimension every run has: padded to the batch size, as the
    // pipeline does on GPUs, or each batch's own size.
    let padded = |n: usize| {
        if resolved.pad_batches {
            resolved.batch_size.max(n)
        } else {
            n
        }
    };

    // Letterboxing into reused tensors, as the preparing thread does.
    let prep_threads = resolved.prep_threads;
    let mut preprocess = Vec::with_capacity(runs);
    let (mut tp, mut tq) = (
        InputTensor::new(models.types.0),
        InputTensor::new(models.types.1),
    );
    for _ in 0..=runs {
        let started = Instant::now();
        for batch in &batches {
            let n = padded(batch.len());
            let mut all = slots(lb_players, batch, &mut tp, n)?;
            all.extend(slots(lb_pitch, batch, &mut tq, n)?);
            draw_all(all, prep_threads);
        }
        preprocess.push(secs(started));
    }
    preprocess.remove(0); // the first run pays for the page faults

    // ONNX Runtime alone on every prepared batch, the pipeline's lanes taking
    // inputs in the pipeline's order (pitch then players, batch by batch).
    let mut items = Vec::with_capacity(batches.len() * 2);
    for (i, batch) in batches.iter().enumerate() {
        for (pitch, lb, ty) in [
            (true, lb_pitch, models.types.1),
            (false, lb_players, models.types.0),
        ] {
            let mut tensor = InputTensor::new(ty);
            let n = padded(batch.len());
            draw_all(slots(lb, batch, &mut tensor, n)?, prep_threads);
            let shape = [n, 3, lb.out_h as usize, lb.out_w as usize];
            items.push(Item {
                pitch,
                batch: i,
                tensor,
                shape,
                frames: batch.len(),
            });
        }
    }
    let mut ort = Vec::with_capacity(runs);
    let mut outputs = Vec::new();
    for run in 0..=runs {
        let started = Instant::now();
        outputs = run_lanes(&mut models.lanes, &items)?;
        if run > 0 {
            ort.push(secs(started)); // run 0 warms the sessions up
        }
    }
    drop(items);

    // Postprocessing every output on one thread, as the post thread does.
    let mut postprocess = Vec::with_capacity(runs);
    let mut per_frame: Vec<Vec<Detection>> = Vec::new();
    for _ in 0..runs {
        per_frame.clear();
        let started = Instant::now();
        for pair in outputs.chunks_exact(2) {
            let ((pitch_out, n), (players_out, _)) = (&pair[0], &pair[1]);
            decode_outputs(&models.pitch.1, pitch_out, *n, &lb_pitch)?;
            for found in decode_outputs(&models.players.1, players_out, *n, &lb_players)? {
                if let ModelOutput::Detections(d) = found {
                    per_frame.push(d);
                }
            }
        }
        postprocess.push(secs(started));
    }
    anyhow::ensure!(per_frame.len() == frames.len(), "postprocess lost frames");

    // ByteTrack on those detections, a fresh tracker per run.
    let mut track = Vec::with_capacity(runs);
    let mut tracked = 0;
    for _ in 0..runs {
        let mut tracker = ByteTrack::new(ByteTrackConfig::default());
        let started = Instant::now();
        tracked = per_frame
            .iter()
            .map(|d| tracker.update(d).len())
            .sum::<usize>();
        track.push(secs(started));
    }

    Ok(serde_json::json!({
        "frames": frames.len(),
        "tracked_objects": tracked,
        "input_shapes": {
            "players": [lb_players.out_h, lb_players.out_w],
            "pitch": [lb_pitch.out_h, lb_pitch.out_w],
        },
        "settings": settings(&config)?,
        "providers": provider_report(&config, &resolved)?,
        "decode": decode,
        "preprocess": preprocess,
        "ort": ort,
        "postprocess": postprocess,
        "track": track,
    }))
}

/// Which provider each model runs on (a separate lane, opened and warmed
/// once, so the timed sessions are not profiled).
fn provider_report(config: &InferConfig, resolved: &Resolved) -> anyhow::Result<String> {
    let one = Resolved {
        devices: vec![resolved.devices[0]],
        lanes: 1,
        ..resolved.clone()
    };
    let mut lane = Detector::open_lanes(config, &one)?;
    let size = config.warm_up.unwrap_or((1280, 720));
    let (report, _) = sv_infer::fit::warm_up(&mut lane, &WarmUp::new(size, 1))?;
    Ok(report.to_string())
}

fn decode_outputs(
    post: &Postprocess,
    output: &Output,
    batch: usize,
    lb: &Letterbox,
) -> anyhow::Result<Vec<ModelOutput>> {
    Ok(post.decode(output, batch, lb)?)
}

/// Runs every item once over the lanes (each lane takes the next item) and
/// returns the outputs in item order with their batch sizes.
fn run_lanes(lanes: &mut [Lane], items: &[Item]) -> anyhow::Result<Vec<(Output, usize)>> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<(Output, usize)>>> =
        Mutex::new((0..items.len()).map(|_| None).collect());
    let failure: Mutex<Option<anyhow::Error>> = Mutex::new(None);
    std::thread::scope(|scope| {
        for (players, pitch) in lanes.iter_mut() {
            let (next, results, failure) = (&next, &results, &failure);
            scope.spawn(move || {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(i) else { return };
                    let engine = if item.pitch {
                        &mut *pitch
                    } else {
                        &mut *players
                    };
                    match engine.run(item.tensor.view(), item.shape) {
                        Ok(out) => {
                            if let Ok(mut r) = results.lock() {
                                r[i] = Some((out, item.frames));
                            }
                        }
                        Err(e) => {
                            if let Ok(mut f) = failure.lock() {
                                f.get_or_insert(anyhow::anyhow!("batch {}: {e}", item.batch));
                            }
                            return;
                        }
                    }
                }
            });
        }
    });
    if let Some(e) = failure.into_inner().ok().flatten() {
        return Err(e);
    }
    results
        .into_inner()
        .map_err(|_| anyhow::anyhow!("a lane panicked"))?
        .into_iter()
        .collect::<Option<Vec<_>>>()
        .context("an input was not run")
}
