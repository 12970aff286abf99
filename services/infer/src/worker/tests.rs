//! The pipeline with fake engines: answers stay in submission order and
//! belong to their own frames whichever lane ran them, engine errors reach
//! the batch that caused them and no other, and the stage keeps frame order
//! across batches in flight.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use sv_core::{DetectionSource, Frame, FrameSource, FrameStream, StageError, VideoRequest};

use super::Worker;
use crate::config::WorkerConfig;
use crate::detector::Detector;
use crate::engine::{Engine, Output, RunError};
use crate::error::InferError;
use crate::fit::WarmUp;
use crate::metadata::{ModelInfo, Task};
use crate::model::YoloModel;
use crate::runtime::Provider;
use crate::stage::Stage;
use crate::tensor::{ElementType, Input};

/// Frames are 256x256, the models' input size too: letterboxing is the
/// identity, so boxes come back in frame pixels unchanged.
pub(crate) const SIZE: u32 = 256;

/// A frame of one grey level (its letterboxed tensor is that level / 255).
pub(crate) fn frame(index: u64) -> Frame {
    let level = level_of(index);
    Frame::rgb(
        index,
        SIZE,
        SIZE,
        vec![level; (SIZE * SIZE * 3) as usize].into(),
    )
}

pub(crate) fn level_of(index: u64) -> u8 {
    (index % 200) as u8 + 20
}

/// One anchor per image whose box x and keypoint x are the image's grey
/// level: any mix-up between frames, batches or models shows. Images whose
/// level is `fail_on` make the whole run fail.
struct Fake {
    pose: bool,
    fail_on: Option<u8>,
    runs: Arc<AtomicUsize>,
    input: ElementType,
    /// Batch sizes seen, and which lane ran each run.
    seen: Arc<Mutex<Vec<(usize, usize)>>>,
    lane: usize,
    /// Set when the engine is dropped (its session released).
    dropped: Arc<AtomicUsize>,
}

impl Drop for Fake {
    fn drop(&mut self) {
        self.dropped.fetch_add(1, Ordering::SeqCst);
    }
}

impl Engine for Fake {
    fn input_type(&self) -> ElementType {
        self.input
    }

    fn run(&mut self, input: Input<'_>, shape: [usize; 4]) -> Result<Output, InferError> {
        assert_eq!(
            input.element_type(),
            self.input,
            "the tensor is of the engine's type"
        );
        let input = input.to_f32();
        let [batch, _, h, w] = shape;
        assert_eq!(
            input.len(),
            batch * 3 * h * w,
            "the tensor matches its shape"
        );
        self.seen.lock().unwrap().push((batch, self.lane));
        // Runs in the low 16 bits, frames above: one counter for both.
        self.runs.fetch_add(1 + (batch << 16), Ordering::Relaxed);
        let mut data = Vec::new();
        let mut levels = Vec::new();
        for image in input.chunks_exact(3 * h * w) {
            let level = (image[0] * 255.0).round();
            levels.push(level as u8);
            if self.pose {
                data.extend([level, 30.0, 10.0, 10.0, 0.9, level, 5.0, 0.8]);
            } else {
                data.extend([level, 30.0, 10.0, 10.0, 0.0, 0.0, 0.9, 0.0]);
            }
        }
        if levels.iter().any(|&l| Some(l) == self.fail_on) {
            return Err(InferError::Run {
                model: "fake".into(),
                source: RunError::Injected("refused".into()),
            });
        }
        // Uneven run times, so the lanes finish out of order.
        std::thread::sleep(Duration::from_millis(u64::from(levels[0] % 3) * 3));
        Ok(Output::from_vec(vec![batch, 8, 1], data))
    }

    fn provider(&self) -> Provider {
        Provider::Cpu
    }
}

pub(crate) fn info(pose: bool) -> ModelInfo {
    let names: BTreeMap<u32, String> = if pose {
        [(0, "pitch".to_string())].into()
    } else {
        (0..4).map(|i| (i, format!("class{i}"))).collect()
    };
    ModelInfo {
        task: if pose { Task::Pose } else { Task::Detect },
        names,
        imgsz: (SIZE, SIZE),
        stride: 32,
        kpt_shape: pose.then_some((1, 3)),
    }
}

/// What the fake engines of a set of lanes share.
#[derive(Clone, Default)]
pub(crate) struct Probe {
    runs: Arc<AtomicUsize>,
    seen: Arc<Mutex<Vec<(usize, usize)>>>,
    dropped: Arc<AtomicUsize>,
}

impl Probe {
    /// The batch size of each batch (two runs a batch: pitch, then players).
    pub(crate) fn batch_sizes(&self) -> Vec<usize> {
        let seen = self.seen.lock().unwrap();
        seen.iter().step_by(2).map(|s| s.0).collect()
    }
}

fn detector(fail_on: Option<u8>, runs: &Arc<AtomicUsize>) -> Detector {
    let probe = Probe {
        runs: runs.clone(),
        ..Probe::default()
    };
    fake_detector(fail_on, &probe, 0, ElementType::F32)
}

pub(crate) fn fake_detector(
    fail_on: Option<u8>,
    probe: &Probe,
    lane: usize,
    input: ElementType,
) -> Detector {
    let model = |pose: bool| {
        let engine = Fake {
            pose,
            fail_on,
            runs: probe.runs.clone(),
            input,
            seen: probe.seen.clone(),
            lane,
            dropped: probe.dropped.clone(),
        };
        YoloModel::new("fake", Box::new(engine), info(pose), SIZE, None)
    };
    Detector::new(model(false), model(true)).unwrap()
}

/// (runs, frames) the fake engines have seen.
fn count(runs: &AtomicUsize) -> (usize, usize) {
    let n = runs.load(Ordering::Relaxed);
    (n & 0xffff, n >> 16)
}

fn lanes(n: usize, fail_on: Option<u8>) -> (Vec<Detector>, Arc<AtomicUsize>) {
    let runs = Arc::new(AtomicUsize::new(0));
    ((0..n).map(|_| detector(fail_on, &runs)).collect(), runs)
}

/// Each answer carries its own frame's level in both models' outputs.
pub(crate) fn check(frames: &[sv_core::FrameDetections], first: u64) {
    for (i, d) in frames.iter().enumerate() {
        let index = first + i as u64;
        assert_eq!(d.index, index);
        let level = f32::from(level_of(index));
        assert_eq!(d.detections.len(), 1, "frame {index}");
        assert_eq!(d.detections[0].bbox[0], level - 5.0, "frame {index}: box");
        assert_eq!(d.detections[0].class_id, 2);
        let kp = d.keypoints.as_ref().expect("pitch keypoints");
        assert_eq!(kp[0].x, level, "frame {index}: keypoint");
    }
}

#[tokio::test]
async fn answers_keep_submission_order_across_lanes() {
    let (detectors, runs) = lanes(3, None);
    let worker = Worker::spawn(detectors, WorkerConfig::default());
    let mut pending = Vec::new();
    for batch in 0..12u64 {
        let frames = (batch * 3..batch * 3 + 3).map(frame).collect();
        pending.push(worker.submit(frames).await.unwrap());
    }
    for (batch, answer) in pending.into_iter().enumerate() {
        check(&answer.await.unwrap(), batch as u64 * 3);
    }
    assert_eq!(count(&runs), (24, 72), "one run per model per batch");
    assert_eq!(worker.stats.frames(), 36);
    assert_eq!(worker.stats.batches(), 12);
}

#[tokio::test]
async fn frames_of_two_sizes_in_one_batch_run_separately() {
    let (detectors, runs) = lanes(1, None);
    let worker = Worker::spawn(detectors, WorkerConfig::default());
    let odd = Frame::rgb(
        1,
        SIZE / 2,
        SIZE / 2,
        vec![21; (SIZE * SIZE * 3 / 4) as usize].into(),
    );
    let answer = worker.run(vec![frame(0), odd, frame(2)]).await.unwrap();
    assert_eq!(
        answer.iter().map(|d| d.index).collect::<Vec<_>>(),
        vec![0, 1, 2]
    );
    assert_eq!(count(&runs).0, 6, "three runs per model");
}

#[tokio::test]
async fn an_engine_error_fails_its_batch_only() {
    let (detectors, _) = lanes(2, Some(level_of(4)));
    let worker = Worker::spawn(detectors, WorkerConfig::default());
    let good = worker.submit(vec![frame(0), frame(1)]).await.unwrap();
    let bad = worker.submit(vec![frame(3), frame(4)]).await.unwrap();
    let after = worker.submit(vec![frame(5)]).await.unwrap();
    check(&good.await.unwrap(), 0);
    // Split and retried: frame 3 alone answers, frame 4 alone fails.
    let err = bad.await.unwrap_err();
    assert!(
        matches!(&err, InferError::RetryFailed { images: 2, source, .. }
            if matches!(**source, InferError::Run { .. })),
        "{err}"
    );
    check(&after.await.unwrap(), 5);
}

#[tokio::test]
async fn a_bad_frame_is_refused_without_stopping_the_pipeline() {
    let (detectors, runs) = lanes(1, None);
    let worker = Worker::spawn(detectors, WorkerConfig::default());
    let mut short = frame(0);
    short.data = short.data.slice(..10);
    let err = worker.run(vec![short]).await.unwrap_err();
    assert!(
        matches!(err, InferError::BadFrame { index: 0, .. }),
        "{err}"
    );
    assert_eq!(count(&runs), (0, 0));
    check(&worker.run(vec![frame(1)]).await.unwrap(), 1);
}

#[test]
fn warm_up_runs_every_lane_once_on_a_full_batch() {
    let (mut detectors, runs) = lanes(3, None);
    crate::fit::warm_up(&mut detectors, &WarmUp::new((SIZE, SIZE), 4)).unwrap();
    assert_eq!(count(&runs), (6, 24), "3 lanes x 2 models, 4 frames each");
}

#[tokio::test]
async fn no_lanes_means_worker_gone() {
    let worker = Worker::spawn(Vec::new(), WorkerConfig::default());
    let err = worker.run(vec![frame(0)]).await.unwrap_err();
    assert!(matches!(err, InferError::WorkerGone), "{err}");
}

/// `count` frames, then optionally an error.
pub(crate) struct Source {
    pub count: u64,
    pub fail: bool,
}

impl FrameSource for Source {
    fn frames(&self, _: VideoRequest) -> FrameStream {
        let mut items: Vec<Result<Frame, StageError>> =
            (0..self.count).map(|i| Ok(frame(i))).collect();
        if self.fail {
            items.push(Err(StageError::internal("decoder broke")));
        }
        Box::pin(futures::stream::iter(items))
    }
}

#[tokio::test]
async fn the_stage_streams_every_frame_in_order_then_the_upstream_error() {
    for (fail, lanes_n) in [(false, 1), (false, 2), (true, 2)] {
        let (detectors, _) = lanes(lanes_n, None);
        let stage = Stage::with_lanes(
            Source { count: 23, fail },
            detectors,
            4,
            WorkerConfig::default(),
            Provider::Cpu,
        );
        let items: Vec<_> = stage.detect(VideoRequest::new("t", "clip")).collect().await;
        let frames: Vec<_> = items
            .iter()
            .filter_map(|i| i.as_ref().ok().cloned())
            .collect();
        check(&frames, 0);
        assert_eq!(frames.len(), 23);
        assert_eq!(items.len(), 23 + usize::from(fail));
        if fail {
            assert!(items.last().unwrap().is_err(), "the error comes last");
        }
    }
}

#[tokio::test]
async fn short_batches_are_padded_and_only_real_frames_answer() {
    let probe = Probe::default();
    let detectors = vec![fake_detector(None, &probe, 0, ElementType::F32)];
    let config = WorkerConfig {
        pad_to: Some(4),
        ..WorkerConfig::default()
    };
    let worker = Worker::spawn(detectors, config);
    let three = worker.run((0..3).map(frame).collect()).await.unwrap();
    check(&three, 0);
    assert_eq!(three.len(), 3, "no answer for the padding");
    let four = worker.run((3..7).map(frame).collect()).await.unwrap();
    check(&four, 3);
    let one = worker.run(vec![frame(7)]).await.unwrap();
    check(&one, 7);
    let batches: Vec<usize> = probe.seen.lock().unwrap().iter().map(|s| s.0).collect();
    assert_eq!(
        batches,
        vec![4; 6],
        "every run at the one shape: {batches:?}"
    );
}

#[tokio::test]
async fn fp16_models_get_fp16_tensors() {
    let probe = Probe::default();
    let detectors = vec![
        fake_detector(None, &probe, 0, ElementType::F16),
        fake_detector(None, &probe, 1, ElementType::F16),
    ];
    let worker = Worker::spawn(detectors, WorkerConfig::default());
    // The fake reads each image's grey level back from the f16 values.
    for first in [0, 5, 10] {
        let answer = worker
            .run((first..first + 5).map(frame).collect())
            .await
            .unwrap();
        check(&answer, first);
    }
}

#[tokio::test]
async fn batches_spread_over_the_lanes_of_every_device() {
    // Four lanes as `--devices 0,1` with two lanes each lays them out:
    // lanes 0 and 1 on GPU 0, lanes 2 and 3 on GPU 1.
    let devices = [0, 0, 1, 1];
    let probe = Probe::default();
    let detectors = (0..devices.len())
        .map(|lane| fake_detector(None, &probe, lane, ElementType::F32))
        .collect();
    let worker = Worker::spawn(detectors, WorkerConfig::default());
    let mut pending = Vec::new();
    for batch in 0..24u64 {
        pending.push(worker.submit(vec![frame(batch)]).await.unwrap());
    }
    for (batch, answer) in pending.into_iter().enumerate() {
        check(&answer.await.unwrap(), batch as u64);
    }
    let seen = probe.seen.lock().unwrap().clone();
    let mut per_device = [0usize; 2];
    for (_, lane) in &seen {
        per_device[devices[*lane]] += 1;
    }
    assert!(
        per_device.iter().all(|&runs| runs > 0),
        "both devices ran work: {per_device:?}"
    );
    assert_eq!(seen.len(), 48, "each batch once per model");
}

#[tokio::test]
async fn dropping_the_last_handle_releases_every_engine() {
    let probe = Probe::default();
    let detectors = (0..3)
        .map(|lane| fake_detector(None, &probe, lane, ElementType::F32))
        .collect();
    let worker = Worker::spawn(detectors, WorkerConfig::default());
    let copy = worker.clone();
    check(&worker.run(vec![frame(0)]).await.unwrap(), 0);
    drop(worker);
    assert_eq!(probe.dropped.load(Ordering::SeqCst), 0, "a handle is left");
    drop(copy);
    // The drop waited for the lanes: all six engines are gone already.
    assert_eq!(probe.dropped.load(Ordering::SeqCst), 6);
}

/// `count` frames, one every `every`.
struct Slow {
    count: u64,
    every: Duration,
}

impl FrameSource for Slow {
    fn frames(&self, _: VideoRequest) -> FrameStream {
        let (count, every) = (self.count, self.every);
        Box::pin(futures::stream::unfold(0u64, move |i| async move {
            if i == count {
                return None;
            }
            tokio::time::sleep(every).await;
            Some((Ok(frame(i)), i + 1))
        }))
    }
}

#[tokio::test]
async fn with_a_batch_wait_slow_frames_still_fill_their_batches() {
    let source = |every| Slow { count: 22, every };
    let run = |wait: Option<Duration>| async move {
        let probe = Probe::default();
        let detectors = vec![fake_detector(None, &probe, 0, ElementType::F32)];
        let stage = Stage::with_lanes(
            source(Duration::from_millis(3)),
            detectors,
            4,
            WorkerConfig::default(),
            Provider::Cpu,
        )
        .with_batch_wait(wait);
        let items: Vec<_> = stage.detect(VideoRequest::new("t", "clip")).collect().await;
        let frames: Vec<_> = items.into_iter().map(Result::unwrap).collect();
        check(&frames, 0);
        probe.batch_sizes()
    };
    // Frames 3 ms apart, a batch of 4 waits up to 2 s: five full batches and the rest.
    assert_eq!(
        run(Some(Duration::from_secs(2))).await,
        vec![4, 4, 4, 4, 4, 2]
    );
    // Without the wait each frame goes as soon as it is there.
    let eager = run(None).await;
    assert!(eager.len() > 6, "{eager:?}");
}
