//! The series on the fake engines of the worker tests: runs, frames and
//! slots per model, batch fill, lane time, the queue back at zero, the
//! warm-up left out, frames answered by keyframe or not, and the sessions
//! and provider fallbacks of the lanes.

use std::sync::Arc;

use futures::StreamExt;
use sv_core::{DetectionSource, VideoRequest};

use super::*;
use crate::config::WorkerConfig;
use crate::engine::Output;
use crate::error::InferError;
use crate::model::YoloModel;
use crate::providers::SkipReason;
use crate::stage::Stage;
use crate::tensor::{ElementType, Input};
use crate::worker::Worker;
use crate::worker::tests::{Probe, SIZE, Source, fake_detector, frame, info};

/// The value of the sample `series` (name and labels, as written).
fn value(text: &str, series: &str) -> f64 {
    let prefix = format!("{series} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no {series} in\n{text}"))
        .parse()
        .expect("a number")
}

#[tokio::test]
async fn runs_frames_slots_and_lane_time_add_up() {
    let probe = Probe::default();
    let detectors = (0..2)
        .map(|lane| fake_detector(None, &probe, lane, ElementType::F32))
        .collect();
    let config = WorkerConfig {
        pad_to: Some(4),
        ..WorkerConfig::default()
    };
    let worker = Worker::spawn(detectors, config);
    // The warm-up's run is not the challenges'.
    worker
        .submit_warm_up(vec![frame(99)])
        .await
        .unwrap()
        .await
        .unwrap();
    worker.run((0..3).map(frame).collect()).await.unwrap();
    worker.run((3..7).map(frame).collect()).await.unwrap();
    let text = worker.metrics.exposition().render();
    for model in ["players", "pitch"] {
        let labels = format!("{{model=\"{model}\",provider=\"cpu\"}}");
        let at = |name: &str| value(&text, &format!("sv_infer_{name}{labels}"));
        assert_eq!(at("runs_total"), 2.0, "{model}");
        assert_eq!(at("frames_total"), 7.0, "{model}");
        assert_eq!(at("batch_slots_total"), 8.0, "{model}");
        // 3 of 4, then 4 of 4.
        assert_eq!(at("batch_fill_ratio_sum"), 1.75, "{model}");
        assert_eq!(at("batch_fill_ratio_count"), 2.0, "{model}");
        assert_eq!(at("run_seconds_count"), 2.0, "{model}");
        assert_eq!(at("sessions"), 2.0, "{model}: one per lane");
    }
    let run_time: f64 = ["players", "pitch"]
        .iter()
        .map(|m| {
            value(
                &text,
                &format!("sv_infer_run_seconds_sum{{model=\"{m}\",provider=\"cpu\"}}"),
            )
        })
        .sum();
    let lane_time: f64 = text
        .lines()
        .filter(|l| l.starts_with("sv_infer_lane_busy_seconds_total{lane="))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
        .sum();
    assert!(run_time > 0.0, "{text}");
    assert!(
        (lane_time - run_time).abs() < 1e-6,
        "lane time {lane_time} is the runs' {run_time}"
    );
    assert_eq!(value(&text, "sv_infer_lanes"), 2.0);
    assert_eq!(value(&text, "sv_infer_queued_frames"), 0.0);
    assert_eq!(value(&text, "sv_infer_pipeline_batches"), 0.0);
    assert!(!text.contains("provider_fallbacks_total"), "{text}");
}

#[tokio::test]
async fn every_frame_answered_is_counted_as_inferred_or_between_keyframes() {
    let probe = Probe::default();
    let detectors = vec![fake_detector(None, &probe, 0, ElementType::F32)];
    let stage = Stage::with_lanes(
        Source {
            count: 23,
            fail: false,
        },
        detectors,
        4,
        WorkerConfig::default(),
        Provider::Cpu,
    )
    .with_infer_interval(2);
    let answered = stage
        .detect(VideoRequest::new("t", "clip"))
        .filter(|item| std::future::ready(item.is_ok()))
        .count()
        .await;
    let text = stage.metrics().exposition().render();
    let inferred = value(&text, "sv_infer_answered_frames_total{how=\"inferred\"}");
    let between = value(
        &text,
        "sv_infer_answered_frames_total{how=\"between_keyframes\"}",
    );
    assert_eq!(answered, 23);
    assert_eq!(inferred + between, 23.0, "{text}");
    assert!(between >= 1.0 && inferred >= 12.0, "{text}");
    let ran = value(
        &text,
        "sv_infer_frames_total{model=\"players\",provider=\"cpu\"}",
    );
    assert_eq!(ran, inferred, "the models ran on the keyframes only");
}

/// An engine that got the CPU after TensorRT (not in the library) and CUDA
/// (failed); it never runs.
struct FellBack(Vec<(Provider, SkipReason)>);

impl Engine for FellBack {
    fn run(&mut self, _: Input<'_>, _: [usize; 4]) -> Result<Output, InferError> {
        Err(InferError::WorkerGone)
    }

    fn provider(&self) -> Provider {
        Provider::Cpu
    }

    fn skipped(&self) -> &[(Provider, SkipReason)] {
        &self.0
    }
}

#[test]
fn provider_fallbacks_are_counted_per_session_by_reason() {
    let skipped = || {
        vec![
            (Provider::TensorRt, SkipReason::NotBuilt),
            (
                Provider::Cuda,
                SkipReason::Build(Arc::from(Box::from("out of memory"))),
            ),
        ]
    };
    let model = |pose: bool| {
        YoloModel::new(
            "fake",
            Box::new(FellBack(skipped())),
            info(pose),
            SIZE,
            None,
        )
    };
    let lane = Detector::new(model(false), model(true)).unwrap();
    let metrics = InferMetrics::new(&[lane], Arc::default());
    let text = metrics.exposition().render();
    for model in ["players", "pitch"] {
        for (wanted, reason) in [("tensorrt", "not_built"), ("cuda", "failed")] {
            let series = format!(
                "sv_infer_provider_fallbacks_total{{model=\"{model}\",wanted=\"{wanted}\",reason=\"{reason}\"}}"
            );
            assert_eq!(value(&text, &series), 1.0);
        }
    }
}
