//! Infer stage: the player detector and the pitch keypoint model on every
//! frame, with ultralytics 8.3.48's exact pre- and postprocessing
//! (../shared/PARITY.md A and B), through ONNX Runtime.
//!
//! - [`pre`]: letterbox (OpenCV-exact bilinear resize) and tensor packing.
//! - [`post`]: confidence filter, class-aware NMS, mapping back to frame pixels.
//! - [`metadata`]: the names/imgsz/stride/task/kpt_shape ultralytics exports.
//! - [`runtime`] and [`engine`]: ONNX Runtime loading and the [`Engine`]
//!   trait the models run through; [`providers`]: TensorRT / CUDA / CPU
//!   and their options; [`tensor`]: f32 or f16 inputs; [`onnx_file`]: a
//!   model's input and metadata read before a session exists.
//! - [`config`]: settings and the device profile that fills in the rest.
//! - [`model`] and [`detector`]: one model, and the pair the miner runs.
//! - [`worker`] and [`stage`]: the pipeline threads (letterbox, ONNX
//!   Runtime lanes, postprocessing, all overlapping) and the
//!   [`sv_core::DetectionSource`] built on them.

pub mod config;
pub mod detector;
pub mod engine;
pub mod error;
pub mod grpc;
pub mod metadata;
pub mod model;
pub mod onnx_file;
pub mod post;
pub mod pre;
pub mod providers;
pub mod runtime;
pub mod serve;
pub mod stage;
pub mod tensor;
pub mod worker;

pub use config::{InferConfig, Precision, Resolved, Switch, WorkerConfig};
pub use detector::{Detector, ProviderReport};
pub use engine::{Engine, OrtEngine, SessionOptions, Threading};
pub use error::InferError;
pub use providers::{ConvSearch, CudaOptions, Provider, TensorRtOptions};
pub use serve::{ServeConfig, serve};
pub use stage::Stage;
pub use tensor::ElementType;
