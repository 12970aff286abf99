//! Infer stage: the player detector and the pitch keypoint model on every
//! frame (or on keyframes only, see [`keyframes`]), with ultralytics 8.3.48's exact pre- and postprocessing
//! (docs/PARITY.md A and B), through ONNX Runtime.
//!
//! The surface the binary uses: [`Stage`] (the in-process
//! [`sv_core::DetectionSource`] over any `FrameSource`), [`serve()`] (the
//! stage as a gRPC server over an upstream the caller wires in),
//! [`grpc::Remote`] (remote infer replicas, for a track stage), and
//! [`InferConfig`] with the types it holds.
//!
//! - [`pre`]: letterbox (OpenCV-exact bilinear resize) and tensor packing.
//! - [`post`]: confidence filter, class-aware NMS, mapping back to frame pixels.
//! - [`runtime`] and [`engine`]: ONNX Runtime loading and the [`Engine`]
//!   trait the models run through; [`providers`]: TensorRT / CUDA / CPU
//!   and their options; [`tensor`]: f32, f16 or u8 inputs;
//!   [`byte_input`]: a model rewritten to take the letterboxed bytes.
//! - [`settings`]: every setting an operator gives, defined once
//!   ([`Tuning`]: its flag, `SV_` variable, `[infer]` key and help), which
//!   the binary and the benchmarks take their flags and TOML from.
//! - [`config`]: settings ([`InferConfig`], [`WorkerConfig`]) and the
//!   device profile that fills in the rest; [`memory`]: the memory limit
//!   (one capped ONNX Runtime arena per device) and out-of-memory errors.
//! - [`fit`]: batches that fit the memory: settled per model and device at
//!   warm-up, split and lowered when a run fails mid-challenge.
//! - [`model`] and [`detector`]: one model, and the pair the miner runs.
//! - [`worker`] and [`stage`]: the pipeline threads (letterbox, ONNX
//!   Runtime lanes, postprocessing, all overlapping) and the stage built on
//!   them; [`keyframes`]: which frames the stage runs the models on
//!   (`--infer-interval`, scene cuts); [`metrics`]: the stage's Prometheus
//!   series (runs, batch fill, run time, lanes, GPU memory).
//! - [`grpc`] and [`serve`](mod@serve): `scorevision.v1.Infer`, its server
//!   and [`grpc::Remote`].
//!
//! Private: the ultralytics metadata reader and the ONNX file header reader
//! (a model's input and metadata before a session exists). The other
//! modules stay public for the parity tests and benchmarks that run them on
//! their own (letterbox md5, one model against ultralytics' goldens).
//!
//! Imports run one way: config <- detector <- fit <- worker <- stage <-
//! serve (config and the model hold `fit`'s plain types); the settings'
//! value types <- config <- settings, which write an [`InferConfig`].

mod binding;
pub mod byte_input;
pub mod config;
pub mod detector;
pub mod engine;
pub mod error;
pub mod fit;
pub mod grpc;
pub mod keyframes;
pub mod memory;
mod metadata;
pub mod metrics;
pub mod model;
mod onnx_file;
pub mod post;
pub mod pre;
pub mod providers;
pub mod runtime;
pub mod serve;
pub mod settings;
pub mod stage;
pub mod tensor;
pub mod worker;

pub use config::{InferConfig, Resolved, WorkerConfig};
pub use detector::{Detector, ProviderReport};
pub use engine::{Engine, OrtEngine, SessionOptions, Threading};
pub use error::InferError;
pub use fit::{BatchFit, WarmUp};
pub use providers::{ConvSearch, CudaOptions, Provider, TensorRtOptions};
pub use serve::{ServeConfig, serve};
pub use settings::{Interval, Precision, SettingError, Switch, Tuning};
pub use stage::Stage;
pub use tensor::ElementType;
