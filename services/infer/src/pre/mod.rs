//! Preprocessing exactly as ultralytics does it: letterbox, then an NCHW f32
//! tensor in [0, 1].
//!
//! - [`letterbox`]: where a frame lands in the network input, drawn as HWC
//!   bytes or straight into the f32 tensor.
//! - [`resize`]: OpenCV-exact bilinear resize.
//! - [`batch`]: whole batches into their tensors, over a few threads.

pub mod batch;
pub mod letterbox;
pub mod resize;

pub use letterbox::{Letterbox, to_chw};
