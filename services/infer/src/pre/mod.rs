//! Preprocessing exactly as ultralytics does it: letterbox, then an NCHW f32
//! tensor in [0, 1].

pub mod letterbox;
pub mod resize;

pub use letterbox::{Letterbox, to_chw};
