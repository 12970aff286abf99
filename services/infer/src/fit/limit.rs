//! [`BatchLimit`]: how many images one model may run at once on one lane,
//! per input shape; [`BatchFit`]: what the warm-up settled on, per device.

use std::fmt;

use super::half;

/// An input's (height, width) after the letterbox.
pub type Shape = (usize, usize);

/// What the warm-up found for one model on one device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settled {
    /// The warm-up frame size's input shape.
    pub shape: Shape,
    /// The batch asked for.
    pub asked: usize,
    /// The largest batch that ran, halving from `asked`.
    pub batch: usize,
    /// The smallest batch that ran out of memory, when one did.
    pub failed: Option<usize>,
}

impl Settled {
    /// Whether memory held the batch below the one asked for.
    pub fn lowered(&self) -> bool {
        self.batch < self.asked
    }
}

/// The most images one model runs at once on one lane. Learnt at warm-up
/// ([`Settled`]) and lowered per input shape when a run fails later.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchLimit {
    settled: Option<Settled>,
    /// Per shape, the batch a failed run brought it down to.
    lowered: Vec<(Shape, usize)>,
}

fn pixels((h, w): Shape) -> usize {
    h.max(1) * w.max(1)
}

impl BatchLimit {
    /// What the warm-up settled on.
    pub fn settled(settled: Settled) -> Self {
        Self {
            settled: Some(settled),
            lowered: Vec::new(),
        }
    }

    /// What the warm-up found, or `None` before (or without) a warm-up.
    pub fn settled_on(&self) -> Option<&Settled> {
        self.settled.as_ref()
    }

    /// The most images to run at once for inputs of `shape`; `None`: no
    /// limit is known (nothing has failed for memory).
    ///
    /// A shape a failed run lowered keeps what it was lowered to. Another
    /// shape, when the warm-up's batch was held down by memory, gets the
    /// largest batch on the warm-up's halving path whose pixels are no more
    /// than the warm-up batch's (a 4:3 clip's taller input, fewer images;
    /// the guide's "dynamic batch size based on frame resolution"); a run
    /// that fails all the same is split and lowers it further.
    pub fn batch_for(&self, shape: Shape) -> Option<usize> {
        if let Some(&(_, batch)) = self.lowered.iter().find(|(s, _)| *s == shape) {
            return Some(batch);
        }
        let settled = self.settled.as_ref().filter(|s| s.lowered())?;
        let budget = settled.batch * pixels(settled.shape);
        let mut batch = settled.asked.max(1);
        while batch > 1 && batch * pixels(shape) > budget {
            batch = half(batch);
        }
        Some(batch)
    }

    /// Inputs of `shape` run at most `batch` images at once from now on.
    pub fn lower(&mut self, shape: Shape, batch: usize) {
        let batch = batch.max(1);
        match self.lowered.iter_mut().find(|(s, _)| *s == shape) {
            Some((_, b)) => *b = (*b).min(batch),
            None => self.lowered.push((shape, batch)),
        }
    }
}

/// The batches one device's lanes settled on, one per model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceFit {
    /// The index of the device its lanes run on: the CUDA ordinal on a
    /// GPU, 0 on the CPU.
    pub device: u32,
    /// Whether the device is a GPU (names it in the profile line).
    pub gpu: bool,
    /// (model, what it settled on), in the order the models warm up.
    pub models: Vec<(String, Settled)>,
}

/// What the warm-up settled on, per device.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchFit {
    /// One entry per device that has lanes, in the order of their first
    /// lane.
    pub devices: Vec<DeviceFit>,
}

impl BatchFit {
    /// Whether memory held any model on any device below the batch asked.
    pub fn lowered(&self) -> bool {
        self.devices
            .iter()
            .flat_map(|d| &d.models)
            .any(|(_, s)| s.lowered())
    }

    /// The largest batch any model settled on on any device: more frames
    /// per batch than that would only wait to be split.
    pub fn largest(&self) -> Option<usize> {
        self.devices
            .iter()
            .flat_map(|d| &d.models)
            .map(|(_, s)| s.batch)
            .max()
    }

    /// The batch a model settled on on a device.
    pub fn batch(&self, device: u32, model: &str) -> Option<usize> {
        self.devices
            .iter()
            .find(|d| d.device == device)?
            .models
            .iter()
            .find(|(m, _)| m == model)
            .map(|(_, s)| s.batch)
    }
}

/// "settled at warm-up: players 4 (8 ran out of memory), pitch 16", with
/// each GPU named when there are several.
impl fmt::Display for BatchFit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("settled at warm-up: ")?;
        let several = self.devices.len() > 1;
        for (i, device) in self.devices.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            if several {
                match device.gpu {
                    true => write!(f, "GPU {} ", device.device)?,
                    false => write!(f, "device {} ", device.device)?,
                }
            }
            for (j, (model, settled)) in device.models.iter().enumerate() {
                if j > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{model} {}", settled.batch)?;
                if let Some(failed) = settled.failed {
                    write!(f, " ({failed} ran out of memory)")?;
                }
            }
        }
        Ok(())
    }
}
