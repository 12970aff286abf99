//! The session builder before any provider is registered: threads, the
//! memory limit's allocator, profiling, and what the model file itself
//! decides (dimensions fixed for static shapes, the graph rewritten for
//! byte input).

use std::path::Path;

use ort::session::Session;
use ort::session::builder::SessionBuilder;
use ort::value::TensorElementType;

use super::options::{SessionOptions, Threading};
use crate::byte_input;
use crate::error::OpenError;
use crate::onnx_file::OnnxHeader;
use crate::providers::ShapeProfile;
use crate::runtime;
use crate::tensor::ElementType;

/// Threads, optimisation and profiling; the providers come per attempt.
pub(super) fn base_builder(
    options: &SessionOptions,
    threading: Threading,
    name: &str,
) -> Result<SessionBuilder, OpenError> {
    let env =
        runtime::environment(&options.library).map_err(|e| OpenError::Runtime(Box::new(e)))?;
    let mut builder = Session::builder(env)?;
    if options.intra_threads > 0 {
        builder = builder.with_intra_threads(options.intra_threads)?;
    }
    builder = builder.with_intra_op_spinning(threading.spinning)?;
    // Under a memory limit, the device's capped arena (`crate::memory`),
    // tensor by tensor: a memory pattern (each input shape's tensors
    // planned into one block, allocated whole from the second run on) needs
    // one contiguous block the arena may not have once a failed run left
    // it fragmented, so runs that fitted at warm-up would fail later
    // (measured with ONNX Runtime 1.32 on the CPU: with the pattern, after
    // the warm-up's failed batches, every second run at the settled batch
    // failed; without it, none).
    if options.providers.memory_limit.is_some() {
        builder = builder.with_env_allocators()?.with_memory_pattern(false)?;
    }
    if threading.inter_threads > 0 {
        builder = builder
            .with_parallel_execution(true)?
            .with_inter_threads(threading.inter_threads)?
            .with_inter_op_spinning(threading.spinning)?;
    }
    if options.record_placement {
        let prefix = std::env::temp_dir().join(format!(
            "sv-placement-{}-{}-{}",
            std::process::id(),
            name,
            options.providers.device
        ));
        builder = builder.with_profiling(prefix)?;
    }
    Ok(builder)
}

/// The model file's bytes and the header read from them.
pub(super) struct ModelFile {
    pub bytes: Vec<u8>,
    pub header: OnnxHeader,
}

impl ModelFile {
    pub fn read(path: &Path, name: &str) -> Result<Self, OpenError> {
        let bytes = std::fs::read(path)?;
        let header = OnnxHeader::parse(name, &bytes).map_err(|e| OpenError::Header(Box::new(e)))?;
        Ok(Self { bytes, header })
    }
}

/// The input's symbolic dimensions fixed to `profile`'s batch, height and
/// width: `(dimension name, value)`.
pub(super) fn static_overrides(
    header: &OnnxHeader,
    profile: &ShapeProfile,
) -> Vec<(String, usize)> {
    let values = [
        Some(profile.batch),
        None,
        Some(profile.height),
        Some(profile.width),
    ];
    header
        .input
        .params
        .iter()
        .zip(values)
        .filter_map(|(param, value)| Some((param.clone()?, value?)))
        .collect()
}

/// The model rewritten to take bytes, or `None` when it already does or
/// takes float16 (see [`crate::byte_input`]).
pub(super) fn byte_input_model(
    bytes: &[u8],
    header: &OnnxHeader,
    name: &str,
) -> Result<Option<Vec<u8>>, OpenError> {
    if !byte_input::applies(&header.input) {
        if header.input.element == Some(ElementType::F16) {
            tracing::info!(model = %name, "Byte input is for float32-input models; this one takes float16 and is fed as it is.");
        }
        return Ok(None);
    }
    Ok(Some(byte_input::rewrite(bytes, &header.input)?))
}

/// The session, from the rewritten graph when there is one.
pub(super) fn commit(
    mut builder: SessionBuilder,
    path: &Path,
    rewritten: Option<&[u8]>,
) -> Result<Session, ort::Error> {
    match rewritten {
        Some(bytes) => builder.commit_from_memory(bytes),
        None => builder.commit_from_file(path),
    }
}

/// The element types the miner feeds and reads.
pub(super) fn element_type(ty: TensorElementType) -> Option<ElementType> {
    match ty {
        TensorElementType::Float32 => Some(ElementType::F32),
        TensorElementType::Float16 => Some(ElementType::F16),
        TensorElementType::Uint8 => Some(ElementType::U8),
        _ => None,
    }
}
