//! [`InferMetrics`]: infer's Prometheus series, `sv_infer_*`, after the
//! per-model ones Triton exports.
//!
//! Per model (`players`, `pitch`) and the provider it runs on (`tensorrt`,
//! `cuda`, `cpu`):
//! - `runs_total`: ONNX Runtime runs; `frames_total`: the real frames in
//!   them; `batch_slots_total`: the batch they ran at, padding included, so
//!   batch fill is `frames_total / batch_slots_total`; `batch_fill_ratio`:
//!   each run's real frames over its slots (histogram);
//! - `run_seconds`: ONNX Runtime's `run`, per run (histogram);
//! - `retried_runs_total`: runs that failed and were run again in smaller
//!   batches ([`InferMetrics::count_retried_runs`]);
//! - `sessions`: ONNX Runtime sessions open; `provider_fallbacks_total
//!   {model, wanted, reason}`: sessions that did not get a provider wanted
//!   before theirs (`not_built`: the library lacks it; `failed`: it failed
//!   to register or to build the session).
//!
//! The lanes: `lanes`; `lane_busy_seconds_total{lane}`: time in `run`, so
//! `rate()` of it is the lane's busy fraction; `queued_frames`: frames
//! submitted and not yet taken by the letterbox thread; `pipeline_batches`:
//! batches between the letterbox and their answer. Lanes take their work
//! from one queue (a lane that frees up takes the next run), so there is no
//! queue per lane: queued frames per lane is `queued_frames / lanes`.
//!
//! Frames answered: `answered_frames_total{how}`, `inferred` (a keyframe)
//! or `between_keyframes` (`--infer-interval`: track fills it);
//! `scene_cuts_total`. With a GPU, `gpu_*` ([`gpu`]).
//!
//! The warm-up's runs are not counted: the series are the challenges'.

pub mod gpu;

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, linear_buckets};
use prometheus_client::registry::Registry;
use sv_telemetry::metrics::{Exposition, Sample, Sampled, seconds_histogram};

use crate::detector::Detector;
use crate::engine::Engine;
use crate::providers::{self, Provider};
use crate::worker::stats::InferStats;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RunLabels {
    model: &'static str,
    provider: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LaneLabel {
    lane: usize,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FallbackLabels {
    model: &'static str,
    wanted: &'static str,
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HowLabel {
    how: &'static str,
}

/// The provider as `--providers` spells it.
fn provider_label(provider: Provider) -> &'static str {
    match provider {
        Provider::TensorRt => "tensorrt",
        Provider::Cuda => "cuda",
        Provider::Cpu => "cpu",
    }
}

fn run_seconds() -> Histogram {
    // 1 ms .. 16 s.
    seconds_histogram(0.001)
}

fn fill_ratio() -> Histogram {
    // Eighths: a batch of 8 lands one bucket per frame.
    Histogram::new(linear_buckets(0.125, 0.125, 8))
}

/// One ONNX Runtime run, as a lane saw it.
#[derive(Debug, Clone, Copy)]
pub struct Run {
    /// The model's label on the series ("players" or "pitch").
    pub model: &'static str,
    /// The execution provider that ran it.
    pub provider: Provider,
    /// Real frames in the batch.
    pub frames: usize,
    /// The batch it ran at, padding included.
    pub slots: usize,
    /// Wall time of the engine's runs for the batch, split retries
    /// included, pre- and postprocessing not.
    pub took: Duration,
}

/// Cheap to clone; every clone updates the same series.
#[derive(Clone)]
pub struct InferMetrics {
    exposition: Exposition,
    runs: Family<RunLabels, Counter>,
    frames: Family<RunLabels, Counter>,
    slots: Family<RunLabels, Counter>,
    fill: Family<RunLabels, Histogram, fn() -> Histogram>,
    run_seconds: Family<RunLabels, Histogram, fn() -> Histogram>,
    retried: Family<RunLabels, Counter>,
    lane_busy: Family<LaneLabel, Counter<f64, AtomicU64>>,
    queued_frames: Gauge,
    answered: Family<HowLabel, Counter>,
    scene_cuts: Counter,
}

impl InferMetrics {
    /// The series of a pipeline over `lanes` (their sessions and fallbacks
    /// are recorded now), reading `stats` for the batches in it.
    pub fn new(lanes: &[Detector], stats: Arc<InferStats>) -> Self {
        let mut registry = Registry::with_prefix("sv_infer");
        let metrics = Self {
            exposition: Exposition::default(),
            runs: Family::default(),
            frames: Family::default(),
            slots: Family::default(),
            fill: Family::new_with_constructor(fill_ratio),
            run_seconds: Family::new_with_constructor(run_seconds),
            retried: Family::default(),
            lane_busy: Family::default(),
            queued_frames: Gauge::default(),
            answered: Family::default(),
            scene_cuts: Counter::default(),
        };
        let m = &metrics;
        registry.register("runs", "ONNX Runtime runs", m.runs.clone());
        registry.register("frames", "Real frames in the runs", m.frames.clone());
        registry.register(
            "batch_slots",
            "Batch slots the runs ran at, padding included",
            m.slots.clone(),
        );
        registry.register(
            "batch_fill_ratio",
            "Real frames over batch slots, per run",
            m.fill.clone(),
        );
        registry.register(
            "run_seconds",
            "ONNX Runtime run time, per run",
            m.run_seconds.clone(),
        );
        registry.register(
            "retried_runs",
            "Runs that failed and were run again in smaller batches",
            m.retried.clone(),
        );
        registry.register(
            "lane_busy_seconds",
            "Time each lane spent in ONNX Runtime runs",
            m.lane_busy.clone(),
        );
        registry.register(
            "queued_frames",
            "Frames submitted and not yet taken by the letterbox thread",
            m.queued_frames.clone(),
        );
        registry.register_collector(Box::new(Sampled::new(
            "pipeline_batches",
            "Batches between the letterbox and their answer",
            move || vec![Sample::plain(stats.batches_in_pipeline() as f64)],
        )));
        registry.register(
            "answered_frames",
            "Frames answered: inferred, or between keyframes for track to fill",
            m.answered.clone(),
        );
        registry.register(
            "scene_cuts",
            "Scene cuts the keyframe choice found",
            m.scene_cuts.clone(),
        );
        register_lanes(&mut registry, lanes, &metrics.retried);
        metrics.exposition.include(Arc::new(registry));
        metrics
    }

    /// The series, to serve; [`include`](Self::include) adds to them.
    pub fn exposition(&self) -> &Exposition {
        &self.exposition
    }

    /// More `sv_infer_*` series (the GPU's), served with these.
    pub fn include(&self, registry: Registry) {
        self.exposition.include(Arc::new(registry));
    }

    /// One run on lane `lane`.
    pub fn observe_run(&self, lane: usize, run: Run) {
        let labels = RunLabels {
            model: run.model,
            provider: provider_label(run.provider),
        };
        self.runs.get_or_create(&labels).inc();
        self.frames.get_or_create(&labels).inc_by(run.frames as u64);
        self.slots.get_or_create(&labels).inc_by(run.slots as u64);
        if run.slots > 0 {
            let fill = run.frames as f64 / run.slots as f64;
            self.fill.get_or_create(&labels).observe(fill);
        }
        let seconds = run.took.as_secs_f64();
        self.run_seconds.get_or_create(&labels).observe(seconds);
        self.lane_busy
            .get_or_create(&LaneLabel { lane })
            .inc_by(seconds);
    }

    /// Runs of `model` that failed and were run again in smaller batches
    /// (a lane that splits a failed batch counts each split here).
    pub fn count_retried_runs(&self, model: &'static str, provider: Provider, runs: u64) {
        let provider = provider_label(provider);
        self.retried
            .get_or_create(&RunLabels { model, provider })
            .inc_by(runs);
    }

    /// `frames` were submitted to the pipeline.
    pub fn queued(&self, frames: usize) {
        self.queued_frames.inc_by(frames as i64);
    }

    /// `frames` left the queue (taken, or never queued after all).
    pub fn dequeued(&self, frames: usize) {
        self.queued_frames.dec_by(frames as i64);
    }

    /// One frame answered: by the models, or between keyframes.
    pub fn answered(&self, between_keyframes: bool) {
        let how = if between_keyframes {
            "between_keyframes"
        } else {
            "inferred"
        };
        self.answered.get_or_create(&HowLabel { how }).inc();
    }

    /// A video's scene cuts.
    pub fn scene_cuts(&self, cuts: u64) {
        self.scene_cuts.inc_by(cuts);
    }
}

/// `lanes`, `sessions` and `provider_fallbacks_total`, fixed at start; and
/// each session's `retried_runs_total` written at 0 now, so `rate()` over
/// it reads 0 rather than "no data" until something is retried.
fn register_lanes(
    registry: &mut Registry,
    lanes: &[Detector],
    retried: &Family<RunLabels, Counter>,
) {
    let count = Gauge::<i64>::default();
    count.set(lanes.len() as i64);
    let sessions = Family::<RunLabels, Gauge>::default();
    let fallbacks = Family::<FallbackLabels, Counter>::default();
    for lane in lanes {
        let engines: [(&'static str, &dyn Engine); 2] = [
            ("players", lane.players.engine()),
            ("pitch", lane.pitch.engine()),
        ];
        for (model, engine) in engines {
            let provider = provider_label(engine.provider());
            sessions.get_or_create(&RunLabels { model, provider }).inc();
            let _ = retried.get_or_create(&RunLabels { model, provider });
            for (wanted, why) in engine.skipped() {
                let reason = if providers::is_not_built(why) {
                    "not_built"
                } else {
                    "failed"
                };
                let wanted = provider_label(*wanted);
                fallbacks
                    .get_or_create(&FallbackLabels {
                        model,
                        wanted,
                        reason,
                    })
                    .inc();
            }
        }
    }
    registry.register("lanes", "ONNX Runtime lanes", count);
    registry.register(
        "sessions",
        "ONNX Runtime sessions open, by the provider each runs on",
        sessions,
    );
    registry.register(
        "provider_fallbacks",
        "Sessions that did not get a provider wanted before theirs",
        fallbacks,
    );
}

#[cfg(test)]
mod tests;
