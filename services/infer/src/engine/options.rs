//! How a model is opened: [`SessionOptions`] (library, providers, the
//! shape and input tricks) and [`Threading`] (ONNX Runtime's threads).

use std::path::PathBuf;

use crate::providers::{Provider, ProviderSettings};

/// How to open an ONNX model.
#[derive(Debug, Clone)]
pub struct SessionOptions {
    /// ONNX Runtime's shared library (`libonnxruntime.so`), loaded once
    /// per process.
    pub library: PathBuf,
    /// The execution providers to try and their settings.
    pub providers: ProviderSettings,
    /// ONNX Runtime intra-op threads; 0 lets it pick (one per core).
    pub intra_threads: usize,
    /// Record which provider runs each node until [`super::Engine::take_placement`].
    pub record_placement: bool,
    /// Feed the model the letterboxed bytes and let it scale them
    /// ([`crate::byte_input`]): a quarter of the bytes to move per run.
    pub byte_input: bool,
    /// Fix the input's symbolic dimensions to the shape profile's (the
    /// padded batch at the letterbox of a 16:9 frame), so ONNX Runtime folds
    /// the shape arithmetic of the graph into constants instead of running
    /// it on the CPU between GPU kernels on every run. Another shape runs on
    /// a second, dynamic session opened when first needed.
    pub static_shapes: bool,
    /// With static shapes, bind the one shape's input and output
    /// (`crate::binding`): inputs the letterbox writes into page-locked
    /// memory, outputs written there; with `providers.cuda.cuda_graph`,
    /// fixed device buffers so that ONNX Runtime can replay a CUDA graph.
    pub io_binding: bool,
}

impl SessionOptions {
    /// The given providers with their default options, on GPU 0.
    pub fn new(library: PathBuf, providers: Vec<Provider>) -> Self {
        Self {
            library,
            providers: ProviderSettings::new(providers),
            intra_threads: 0,
            record_placement: false,
            byte_input: false,
            static_shapes: false,
            io_binding: false,
        }
    }
}

/// ONNX Runtime threading beyond the intra-op thread count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Threading {
    /// Whether idle intra-op threads spin before they sleep. Spinning shaves
    /// microseconds off each operator when the cores are otherwise idle, but
    /// burns the cycles decode, letterboxing and the other session need when
    /// they share the cores, so it is off by default.
    pub spinning: bool,
    /// Inter-op threads: 0 runs the graph's nodes one after another (YOLO
    /// graphs are nearly a chain); more turns on parallel execution.
    pub inter_threads: usize,
}
