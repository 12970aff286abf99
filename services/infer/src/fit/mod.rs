//! Batches that fit the device's memory, so that no challenge is lost to
//! it.
//!
//! - [`limit`]: [`BatchLimit`], the most images one model runs at once on
//!   one lane, per input shape, and [`BatchFit`], what the warm-up settled
//!   on per device (for the profile line).
//! - [`settle`]: the warm-up. Each device's lanes run each model at the
//!   batch asked for, at the warm-up frame size's input shape; a run that
//!   runs out of memory halves the batch until one fits; when not even one
//!   image fits, the stage refuses to start.
//! - [`run`]: [`Fitted`], the lane's side. An input larger than the lane's
//!   batch for its shape runs in pieces; a run that fails (for memory or
//!   any other engine error) is split in halves and rerun, and the batch
//!   for that shape is lowered for the rest of the process. Only a single
//!   image failing fails the batch.
//!
//! Every image's output is the model's on that image alone whatever the
//! batch it ran in (ONNX Runtime's kernels compute images independently),
//! so the answers do not depend on where the batch settled: the tests hold
//! them to batch 1's to the bit.

pub mod limit;
pub mod run;
pub mod settle;
#[cfg(test)]
mod tests;

pub use limit::{BatchFit, BatchLimit, DeviceFit, Settled, Shape};
pub use run::{Fitted, Ran};
pub use settle::{WarmUp, warm_up};

/// The next batch to try after `batch` failed: half, rounded up, so a
/// batch of 16 goes 8, 4, 2, 1.
pub fn half(batch: usize) -> usize {
    batch.div_ceil(2).max(1)
}
