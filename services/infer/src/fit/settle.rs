//! The warm-up: each device's lanes settle on the batch each model fits.

use sv_core::Frame;

use super::half;
use super::limit::{BatchFit, BatchLimit, DeviceFit, Settled};
use crate::detector::{Detector, ProviderReport};
use crate::error::InferError;
use crate::model::YoloModel;

/// How the lanes warm up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WarmUp {
    /// Frame size (width, height) of the grey frames run: its letterbox is
    /// every 16:9 clip's input shape.
    pub size: (u32, u32),
    /// The batch asked for (the device profile's).
    pub batch: usize,
    /// Each lane's device, in lane order; lanes past its end are on device
    /// 0 (so empty: all on one).
    pub lane_devices: Vec<u32>,
    /// The memory limit in force, named when nothing fits.
    pub memory_limit_mb: Option<u64>,
}

impl WarmUp {
    /// Every lane on one device, no memory limit.
    pub fn new(size: (u32, u32), batch: usize) -> Self {
        Self {
            size,
            batch,
            lane_devices: Vec::new(),
            memory_limit_mb: None,
        }
    }
}

/// The detector's two models, in the order the reference miner runs them.
#[derive(Debug, Clone, Copy)]
enum Which {
    Pitch,
    Players,
}

impl Which {
    fn of(self, detector: &mut Detector) -> &mut YoloModel {
        match self {
            Self::Pitch => &mut detector.pitch,
            Self::Players => &mut detector.players,
        }
    }
}

/// Runs every detector's models at `plan`'s batch on grey frames of its
/// size, each device's lanes together, halving the batch of a model that
/// runs out of memory; reports where the first lane's models ran and what
/// each device settled on. Fails with [`InferError::DoesNotFit`] when not
/// even one frame fits.
pub fn warm_up(
    detectors: &mut [Detector],
    plan: &WarmUp,
) -> Result<(ProviderReport, BatchFit), InferError> {
    let fit = settle(detectors, plan)?;
    let report = detectors
        .first_mut()
        .map(Detector::provider_report)
        .unwrap_or_default();
    Ok((report, fit))
}

/// Settles every lane's models (each device on its own, at the same time)
/// and says what they settled on. The lanes of one device run together,
/// as they share its memory when serving.
pub fn settle(detectors: &mut [Detector], plan: &WarmUp) -> Result<BatchFit, InferError> {
    let (width, height) = plan.size;
    let data: bytes::Bytes = vec![114u8; width as usize * height as usize * 3].into();
    let frames: Vec<Frame> = (0..plan.batch.max(1) as u64)
        .map(|i| Frame::rgb(i, width, height, data.clone()))
        .collect();
    let mut devices: Vec<(u32, Vec<&mut Detector>)> = Vec::new();
    for (lane, detector) in detectors.iter_mut().enumerate() {
        let device = plan.lane_devices.get(lane).copied().unwrap_or(0);
        match devices.iter_mut().find(|(d, _)| *d == device) {
            Some((_, lanes)) => lanes.push(detector),
            None => devices.push((device, vec![detector])),
        }
    }
    let frames = &frames;
    let fits = std::thread::scope(|scope| {
        let runs: Vec<_> = devices
            .into_iter()
            .map(|(device, lanes)| scope.spawn(move || settle_device(device, lanes, frames, plan)))
            .collect();
        runs.into_iter()
            .map(|run| run.join().unwrap_or(Err(InferError::WorkerGone)))
            .collect::<Result<Vec<_>, _>>()
    })?;
    Ok(BatchFit { devices: fits })
}

/// One device's lanes, one model after the other: the batch halves while
/// any lane runs out of memory.
fn settle_device(
    device: u32,
    mut lanes: Vec<&mut Detector>,
    frames: &[Frame],
    plan: &WarmUp,
) -> Result<DeviceFit, InferError> {
    let gpu = lanes
        .first()
        .is_some_and(|d| d.players.engine().provider().is_gpu());
    let mut models = Vec::new();
    for which in [Which::Pitch, Which::Players] {
        let Some(first) = lanes.first_mut() else {
            break;
        };
        let model = which.of(first);
        let name = model.post.name().to_owned();
        let lb = model.letterbox(plan.size.0, plan.size.1);
        let shape = (lb.out_h as usize, lb.out_w as usize);
        let asked = frames.len();
        let mut batch = asked;
        let mut failed = None;
        loop {
            match run_together(&mut lanes, which, &frames[..batch]) {
                Ok(()) => break,
                Err(e) if e.is_out_of_memory() && batch > 1 => {
                    tracing::warn!(model = %name, device, batch, to = half(batch), error = %e, "Out of memory at warm-up; halving the batch.");
                    failed = Some(batch);
                    batch = half(batch);
                }
                Err(e) if e.is_out_of_memory() => {
                    return Err(InferError::DoesNotFit {
                        model: name,
                        place: place(device, gpu, plan.memory_limit_mb),
                        shape: format!("{}x{}", shape.0, shape.1),
                        source: Box::new(e),
                    });
                }
                Err(e) => return Err(e),
            }
        }
        let settled = Settled {
            shape,
            asked,
            batch,
            failed,
        };
        for lane in lanes.iter_mut() {
            which
                .of(lane)
                .set_batch_limit(BatchLimit::settled(settled.clone()));
        }
        models.push((name, settled));
    }
    Ok(DeviceFit {
        device,
        gpu,
        models,
    })
}

/// Runs one model on `frames` on every lane at once; the first failure
/// (one that is not for memory first: it would fail at any batch).
fn run_together(
    lanes: &mut [&mut Detector],
    which: Which,
    frames: &[Frame],
) -> Result<(), InferError> {
    let results: Vec<Result<(), InferError>> = std::thread::scope(|scope| {
        let runs: Vec<_> = lanes
            .iter_mut()
            .map(|lane| {
                let model = which.of(lane);
                scope.spawn(move || model.predict(frames).map(|_| ()))
            })
            .collect();
        runs.into_iter()
            .map(|run| run.join().unwrap_or(Err(InferError::WorkerGone)))
            .collect()
    });
    let mut errors: Vec<InferError> = results.into_iter().filter_map(Result::err).collect();
    match errors.iter().position(|e| !e.is_out_of_memory()) {
        Some(i) => Err(errors.swap_remove(i)),
        None => errors.into_iter().next().map_or(Ok(()), Err),
    }
}

/// Where a model did not fit, for the refusal: the device, and the limit.
fn place(device: u32, gpu: bool, limit_mb: Option<u64>) -> String {
    let device = match gpu {
        true => format!("on GPU {device}"),
        false => "on the CPU".to_owned(),
    };
    match limit_mb {
        Some(mb) => format!("{device} within the {mb} MB memory limit (--memory-limit-mb)"),
        None => format!("in the memory {device}"),
    }
}
