//! Batches that fit, with an engine whose memory holds a fixed number of
//! pixels: the batch for a shape, a failed run split and the batch lowered
//! with every image's answer intact, padding never run on its own, a
//! single image failing, the warm-up settling each device on its own batch
//! (and refusing when nothing fits), and a worker serving through all of
//! it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use super::*;
use crate::config::WorkerConfig;
use crate::detector::Detector;
use crate::engine::{Engine, Output, RunError};
use crate::error::InferError;
use crate::model::YoloModel;
use crate::runtime::Provider;
use crate::tensor::Input;
use crate::worker::Worker;
use crate::worker::tests::{SIZE, check, frame, info};

/// An engine with room for `room` input values at once (memory taken by
/// others can shrink it while it runs): a larger run fails as ONNX Runtime's
/// arena does. Each image answers one anchor carrying its grey level, as the
/// worker tests' fake engine does, so any mix-up shows.
struct Capped {
    pose: bool,
    room: Arc<AtomicUsize>,
    /// Another failure, for any run (not for memory).
    broken: bool,
    /// Batch sizes run, failed or not.
    seen: Arc<Mutex<Vec<usize>>>,
}

impl Engine for Capped {
    fn run(&mut self, input: Input<'_>, shape: [usize; 4]) -> Result<Output, InferError> {
        let [batch, _, h, w] = shape;
        self.seen.lock().unwrap().push(batch);
        assert_eq!(
            input.len(),
            batch * 3 * h * w,
            "the input matches its shape"
        );
        if self.broken {
            return Err(InferError::Run {
                model: "capped".into(),
                source: RunError::Injected("a broken graph".into()),
            });
        }
        if input.len() > self.room.load(Ordering::SeqCst) {
            return Err(InferError::OutOfMemory {
                model: "capped".into(),
                source: RunError::Injected(
                    format!(
                        "Available memory is smaller than requested bytes of {}",
                        input.len()
                    )
                    .into(),
                ),
            });
        }
        let mut data = Vec::new();
        for image in input.to_f32().chunks_exact(3 * h * w) {
            let level = (image[0] * 255.0).round();
            if self.pose {
                data.extend([level, 30.0, 10.0, 10.0, 0.9, level, 5.0, 0.8]);
            } else {
                data.extend([level, 30.0, 10.0, 10.0, 0.0, 0.0, 0.9, 0.0]);
            }
        }
        Ok(Output::from_vec(vec![batch, 8, 1], data))
    }

    fn provider(&self) -> Provider {
        Provider::Cpu
    }
}

/// Room for `images` images of the worker tests' frames.
fn room_for(images: usize) -> Arc<AtomicUsize> {
    Arc::new(AtomicUsize::new(images * 3 * (SIZE * SIZE) as usize))
}

fn capped(room: &Arc<AtomicUsize>, seen: &Arc<Mutex<Vec<usize>>>) -> Capped {
    Capped {
        pose: false,
        room: room.clone(),
        broken: false,
        seen: seen.clone(),
    }
}

/// A fitted engine with room for `images` images, nothing learnt yet, and
/// the batches it runs.
fn fitted_with_room(images: usize) -> (Fitted, Arc<Mutex<Vec<usize>>>) {
    let seen = Arc::default();
    let engine = capped(&room_for(images), &seen);
    let fitted = Fitted::new(Box::new(engine), "players", BatchLimit::default());
    (fitted, seen)
}

/// A batch of `levels.len()` images of `h` x `w`, each of its grey level.
fn batch(levels: &[u8], (h, w): Shape) -> Vec<f32> {
    levels
        .iter()
        .flat_map(|&l| std::iter::repeat_n(f32::from(l) / 255.0, 3 * h * w))
        .collect()
}

/// Each image's level, from a run's output.
fn levels(output: &Output) -> Vec<u8> {
    output
        .data()
        .unwrap()
        .chunks_exact(8)
        .map(|row| row[0] as u8)
        .collect()
}

#[test]
fn a_shape_gets_the_batch_its_pixels_fit() {
    assert_eq!(BatchLimit::default().batch_for((256, 256)), None);
    let fitted_at_once = BatchLimit::settled(Settled {
        shape: (160, 256),
        asked: 16,
        batch: 16,
        failed: None,
    });
    assert_eq!(fitted_at_once.batch_for((480, 640)), None, "nothing known");
    let held = BatchLimit::settled(Settled {
        shape: (160, 256),
        asked: 16,
        batch: 4,
        failed: Some(8),
    });
    assert_eq!(held.batch_for((160, 256)), Some(4));
    // A 4:3 input: 192 rows, so 2 images (4 x 160 rows' worth is 640).
    assert_eq!(held.batch_for((192, 256)), Some(2));
    // Half the pixels: 8 images.
    assert_eq!(held.batch_for((80, 256)), Some(8));
    // Never below one.
    assert_eq!(held.batch_for((4096, 4096)), Some(1));
    // A failed run lowers one shape only.
    let mut lowered = held.clone();
    lowered.lower((160, 256), 2);
    lowered.lower((160, 256), 3);
    assert_eq!(lowered.batch_for((160, 256)), Some(2), "never raised");
    assert_eq!(lowered.batch_for((80, 256)), Some(8));
    assert_eq!((half(16), half(3), half(1)), (8, 2, 1));
}

#[test]
fn a_failed_run_is_split_in_halves_and_the_batch_lowered() {
    let (mut fitted, seen) = fitted_with_room(4);
    let shape = (SIZE as usize, SIZE as usize);
    let want: Vec<u8> = (20..36).collect();
    let input = batch(&want, shape);
    let ran = fitted.run(Input::F32(&input), [16, 3, shape.0, shape.1], 16);
    assert_eq!(
        levels(&ran.output.unwrap()),
        want,
        "every image's own answer"
    );
    // 16 failed, its halves of 8 failed, their halves of 4 ran.
    assert_eq!(*seen.lock().unwrap(), vec![16, 8, 4, 4, 8, 4, 4]);
    assert_eq!((ran.runs, ran.retried), (7, 3));
    assert!(!ran.whole, "in pieces");
    assert_eq!(fitted.limit().batch_for(shape), Some(4));
    // From now on, pieces of four at once: no failure, no retry.
    seen.lock().unwrap().clear();
    let ran = fitted.run(Input::F32(&input), [16, 3, shape.0, shape.1], 16);
    assert_eq!(levels(&ran.output.unwrap()), want);
    assert_eq!((ran.runs, ran.retried), (4, 0));
    assert_eq!(*seen.lock().unwrap(), vec![4; 4]);
}

#[test]
fn halves_of_padding_alone_are_not_run() {
    let (mut fitted, seen) = fitted_with_room(4);
    let shape = (SIZE as usize, SIZE as usize);
    // Three frames padded to 16.
    let mut images = vec![40, 41, 42];
    images.resize(16, 0);
    let input = batch(&images, shape);
    let ran = fitted.run(Input::F32(&input), [16, 3, shape.0, shape.1], 3);
    let output = ran.output.unwrap();
    assert_eq!(levels(&output)[..3], [40, 41, 42]);
    assert_eq!(*seen.lock().unwrap(), vec![16, 8, 4]);
    // Padded to the lowered batch: one shape per model still.
    seen.lock().unwrap().clear();
    let ran = fitted.run(Input::F32(&input), [16, 3, shape.0, shape.1], 3);
    assert_eq!(levels(&ran.output.unwrap())[..3], [40, 41, 42]);
    assert_eq!(*seen.lock().unwrap(), vec![4]);
    assert!(!ran.whole, "a piece of the padded tensor");
    // An input that fits runs as it was given.
    let (mut roomy, _) = fitted_with_room(16);
    let ran = roomy.run(Input::F32(&input), [16, 3, shape.0, shape.1], 3);
    assert!(ran.whole && ran.runs == 1, "{ran:?}");
}

#[test]
fn only_a_single_image_failing_fails_the_input() {
    let shape = (SIZE as usize, SIZE as usize);
    let input = batch(&[1, 2, 3, 4], shape);
    // Memory for nothing: every half fails down to one image.
    let (mut fitted, seen) = fitted_with_room(0);
    let ran = fitted.run(Input::F32(&input), [4, 3, shape.0, shape.1], 4);
    let err = ran.output.unwrap_err();
    assert!(
        matches!(&err, InferError::RetryFailed { images: 4, source, .. } if source.is_out_of_memory()),
        "{err}"
    );
    assert_eq!(
        *seen.lock().unwrap(),
        vec![4, 2, 1],
        "halves down to one image"
    );
    assert_eq!(
        fitted.limit().batch_for(shape),
        None,
        "nothing ran: not lowered"
    );
    // A single image's failure is the engine's, as it is.
    let ran = fitted.run(
        Input::F32(&input[..3 * shape.0 * shape.1]),
        [1, 3, shape.0, shape.1],
        1,
    );
    assert!(matches!(ran.output, Err(InferError::OutOfMemory { .. })));
    assert_eq!((ran.runs, ran.retried), (1, 0));
}

#[test]
fn another_input_shape_runs_at_the_batch_its_pixels_fit() {
    // The warm-up found 4 images of 160 x 256 fit and 8 did not.
    let warm = (160, 256);
    let room = Arc::new(AtomicUsize::new(4 * 3 * warm.0 * warm.1));
    let seen = Arc::default();
    let limit = BatchLimit::settled(Settled {
        shape: warm,
        asked: 16,
        batch: 4,
        failed: Some(8),
    });
    let mut fitted = Fitted::new(Box::new(capped(&room, &seen)), "players", limit);
    // A 4:3 clip's taller input: two at a time, without a failure.
    let tall = (192, 256);
    let want: Vec<u8> = (50..66).collect();
    let ran = fitted.run(Input::F32(&batch(&want, tall)), [16, 3, tall.0, tall.1], 16);
    assert_eq!(levels(&ran.output.unwrap()), want);
    assert_eq!((ran.runs, ran.retried), (8, 0));
    assert_eq!(*seen.lock().unwrap(), vec![2; 8]);
}

/// A detector of capped engines.
fn detector(room: &Arc<AtomicUsize>, seen: &Arc<Mutex<Vec<usize>>>) -> Detector {
    let model = |name: &str, pose: bool| {
        let engine = Capped {
            pose,
            ..capped(room, seen)
        };
        YoloModel::new(name, Box::new(engine), info(pose), SIZE, None)
    };
    Detector::new(model("players", false), model("pitch", true)).unwrap()
}

#[tokio::test]
async fn each_device_settles_on_its_own_batch_and_serves_at_it() {
    // `--devices 0,1`, two lanes each: GPU 1 has room for a quarter as much.
    let lane_devices = vec![0, 0, 1, 1];
    let rooms = [room_for(16), room_for(4)];
    let seen: Vec<Arc<Mutex<Vec<usize>>>> = (0..4).map(|_| Arc::default()).collect();
    let mut lanes: Vec<Detector> = lane_devices
        .iter()
        .zip(&seen)
        .map(|(&device, seen)| detector(&rooms[device as usize], seen))
        .collect();
    let plan = WarmUp {
        lane_devices: lane_devices.clone(),
        ..WarmUp::new((SIZE, SIZE), 16)
    };
    let (_, fit) = warm_up(&mut lanes, &plan).unwrap();
    assert_eq!(fit.batch(0, "players"), Some(16));
    assert_eq!(fit.batch(1, "players"), Some(4));
    assert_eq!(fit.batch(1, "pitch"), Some(4));
    assert!(fit.lowered());
    // The stage's batches: the largest any lane runs at once.
    assert_eq!(fit.largest(), Some(16));
    assert_eq!(
        fit.to_string(),
        "settled at warm-up: device 0 pitch 16, players 16; device 1 pitch 4 (8 ran out of memory), players 4 (8 ran out of memory)"
    );
    // Both lanes of a device ran every attempt together.
    for lane in [2, 3] {
        assert_eq!(*seen[lane].lock().unwrap(), vec![16, 8, 4, 16, 8, 4]);
        seen[lane].lock().unwrap().clear();
    }
    let config = WorkerConfig {
        pad_to: Some(16),
        ..WorkerConfig::default()
    };
    let worker = Worker::spawn(lanes, config);
    let mut pending = Vec::new();
    for first in (0..128).step_by(16) {
        pending.push(
            worker
                .submit((first..first + 16).map(frame).collect())
                .await
                .unwrap(),
        );
    }
    for (i, answer) in pending.into_iter().enumerate() {
        check(&answer.await.unwrap(), i as u64 * 16);
    }
    assert_eq!(
        worker.stats.retried_runs(),
        0,
        "every lane ran at its own batch"
    );
    for (lane, seen) in seen.iter().enumerate() {
        let want = if lane < 2 { 16 } else { 4 };
        assert!(
            seen.lock().unwrap().iter().all(|&b| b == want),
            "lane {lane}: {:?}",
            seen.lock().unwrap()
        );
    }
}

#[tokio::test]
async fn a_failure_mid_challenge_loses_no_frame() {
    let (room, seen) = (room_for(8), Arc::default());
    let mut lanes = vec![detector(&room, &seen)];
    let (_, fit) = warm_up(&mut lanes, &WarmUp::new((SIZE, SIZE), 8)).unwrap();
    assert!(!fit.lowered());
    let config = WorkerConfig {
        pad_to: Some(8),
        ..WorkerConfig::default()
    };
    let worker = Worker::spawn(lanes, config);
    check(&worker.run((0..8).map(frame).collect()).await.unwrap(), 0);
    // Something else takes half the memory: the next runs fail at 8.
    room.store(room_for(4).load(Ordering::SeqCst), Ordering::SeqCst);
    for first in [8, 16, 24] {
        check(
            &worker
                .run((first..first + 8).map(frame).collect())
                .await
                .unwrap(),
            first,
        );
    }
    // Once per model, then both run at four.
    assert_eq!(worker.stats.retried_runs(), 2);
    assert_eq!(worker.stats.frames(), 32);
}

#[test]
fn nothing_fitting_refuses_to_start_naming_the_limit_and_the_model() {
    let (room, seen) = (room_for(0), Arc::default());
    let mut lanes = vec![detector(&room, &seen)];
    let plan = WarmUp {
        memory_limit_mb: Some(64),
        ..WarmUp::new((SIZE, SIZE), 4)
    };
    let err = warm_up(&mut lanes, &plan).unwrap_err();
    assert!(matches!(err, InferError::DoesNotFit { .. }), "{err}");
    let message = err.to_string();
    assert!(
        message.starts_with("model pitch does not fit on the CPU within the 64 MB memory limit"),
        "{message}"
    );
    assert!(message.contains("(256x256 input)"), "{message}");
    assert_eq!(*seen.lock().unwrap(), vec![4, 2, 1]);
}

#[test]
fn a_failure_that_is_not_memory_stops_the_warm_up_as_it_is() {
    let room = room_for(16);
    let seen = Arc::default();
    let model = |name: &str, pose: bool| {
        let engine = Capped {
            pose,
            broken: true,
            ..capped(&room, &seen)
        };
        YoloModel::new(name, Box::new(engine), info(pose), SIZE, None)
    };
    let mut lanes = vec![Detector::new(model("players", false), model("pitch", true)).unwrap()];
    let err = warm_up(&mut lanes, &WarmUp::new((SIZE, SIZE), 8)).unwrap_err();
    assert!(matches!(err, InferError::Run { .. }), "{err}");
    assert_eq!(
        *seen.lock().unwrap(),
        vec![8],
        "no halving for a broken graph"
    );
}
