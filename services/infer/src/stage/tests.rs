//! The stage at an infer interval, with the fake engines of the worker's
//! tests: keyframes answered by the models (each with its own frame's
//! answer), the frames between marked, every frame once and in order, and
//! padded batches kept full.

use std::time::Duration;

use futures::StreamExt;
use sv_core::{DetectionSource, FrameDetections, VideoRequest};

use super::Stage;
use crate::config::WorkerConfig;
use crate::runtime::Provider;
use crate::tensor::ElementType;
use crate::worker::tests::{Probe, Source, fake_detector, level_of};

/// The stage's answer for `count` frames at `interval`, and the batch sizes
/// the player model ran.
async fn answer(
    count: u64,
    interval: u32,
    batch: usize,
    padded: bool,
) -> (Vec<FrameDetections>, Vec<usize>) {
    let probe = Probe::default();
    let detectors = vec![fake_detector(None, &probe, 0, ElementType::F32)];
    let worker = WorkerConfig {
        pad_to: padded.then_some(batch),
        ..WorkerConfig::default()
    };
    let stage = Stage::with_lanes(
        Source { count, fail: false },
        detectors,
        batch,
        worker,
        Provider::Cpu,
    )
    .with_batch_wait(padded.then_some(Duration::from_millis(40)))
    .with_infer_interval(interval);
    let frames = stage
        .detect(VideoRequest::new("t", "clip"))
        .map(Result::unwrap)
        .collect()
        .await;
    (frames, probe.batch_sizes())
}

/// Which frames were keyframes; each keyframe carries its own answer.
fn keyframes(frames: &[FrameDetections]) -> Vec<u64> {
    for (i, d) in frames.iter().enumerate() {
        assert_eq!(d.index, i as u64, "every frame once, in order");
        if d.between_keyframes {
            assert!(d.detections.is_empty() && d.keypoints.is_none());
        } else {
            let level = f32::from(level_of(d.index));
            assert_eq!(d.detections[0].bbox[0], level - 5.0, "frame {i}");
        }
    }
    (frames.iter())
        .filter(|d| !d.between_keyframes)
        .map(|d| d.index)
        .collect()
}

#[tokio::test]
async fn one_frame_in_n_is_inferred_and_the_last() {
    let (frames, sizes) = answer(10, 3, 1, false).await;
    assert_eq!(keyframes(&frames), vec![0, 3, 6, 9]);
    assert_eq!(sizes, vec![1; 4], "the models ran on keyframes only");
    let (frames, _) = answer(11, 4, 2, false).await;
    assert_eq!(keyframes(&frames), vec![0, 4, 8, 10]);
    let (frames, sizes) = answer(7, 1, 2, false).await;
    assert_eq!(keyframes(&frames), (0..7).collect::<Vec<_>>());
    assert_eq!(sizes.iter().sum::<usize>(), 7);
}

#[tokio::test]
async fn padded_batches_wait_for_keyframes_instead_of_running_short() {
    // Keyframes 0, 2, ..., 20 and 21: twelve, three full batches of four.
    let (frames, sizes) = answer(22, 2, 4, true).await;
    assert_eq!(keyframes(&frames).len(), 12);
    assert_eq!(sizes, vec![4, 4, 4]);
    // Fourteen keyframes: the two left over run (padded) at the end.
    let (frames, sizes) = answer(26, 2, 4, true).await;
    assert_eq!(keyframes(&frames).len(), 14);
    assert_eq!(sizes, vec![4, 4, 4, 4]);
}
