//! Memory limits (`--memory-limit-mb`) and telling an out-of-memory failure
//! from any other.
//!
//! The limit is per device, every session on it together: one ONNX Runtime
//! arena per device, capped, registered with the process's environment, and
//! every session opened with `session.use_env_allocators` allocates from it
//! instead of from an arena of its own. On the CPU that is the CPU arena
//! (which is how the limit is tested without a GPU: a run that needs more
//! fails in the arena with "Available memory of ... is smaller than
//! requested bytes of ..."); on a GPU it is the CUDA provider's device arena
//! (`CreateAndRegisterAllocatorV2`), and each session's CUDA provider also
//! gets the limit as its own `gpu_mem_limit` (`crate::providers`), so the cap
//! holds even where the shared arena could not be registered. TensorRT's
//! workspace is capped at the limit too; the memory TensorRT gives its
//! engines is its own and outside any ONNX Runtime arena.
//!
//! An arena applies to the sessions opened while it is registered: a later
//! call with another limit replaces it for the sessions opened after.

use std::ffi::{CString, c_char};
use std::path::Path;
use std::sync::Mutex;

use ort::AsPointer;
use ort::environment::Environment;
use ort::memory::{AllocationDevice, AllocatorType, MemoryInfo, MemoryType};

use crate::error::InferError;
use crate::providers::Provider;
use crate::runtime;

/// Mebibytes to bytes, as the setting is given.
pub fn mb_to_bytes(mb: u64) -> u64 {
    mb.saturating_mul(1 << 20)
}

/// What ONNX Runtime and the libraries under it say when memory runs out.
/// ONNX Runtime reports these as plain failures with no code of their own,
/// so the engine reads its error text here, once, and gives the rest of the
/// crate a typed [`InferError::OutOfMemory`].
const OUT_OF_MEMORY: [&str; 9] = [
    // BFCArena over its max_mem (the CPU arena, the CUDA arena's limit).
    "is smaller than requested bytes",
    // BFCArena when the device itself refuses.
    "failed to allocate memory",
    // CUDA (cudaErrorMemoryAllocation: "out of memory"), TensorRT, cuDNN and cuBLAS.
    "out of memory",
    "cudaerrormemoryallocation",
    "cudnn_status_alloc_failed",
    "cublas_status_alloc_failed",
    "could not be allocated",
    "std::bad_alloc",
    "bad allocation",
];

/// Whether an ONNX Runtime error message says memory ran out.
pub fn is_out_of_memory(message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    OUT_OF_MEMORY.iter().any(|marker| message.contains(marker))
}

/// ONNX Runtime's arena extension: grow by what is asked, not by doubling,
/// so a capped arena fails only when the request itself does not fit.
const SAME_AS_REQUESTED: usize = 1;

/// The provider options the shared CUDA arena of `device` is created with
/// (ONNX Runtime reads them as the CUDA provider's own options; the cap
/// itself is the arena's `max_mem`).
pub fn cuda_arena_options(device: u32, bytes: u64) -> Vec<(&'static str, String)> {
    vec![
        ("device_id", device.to_string()),
        ("gpu_mem_limit", bytes.to_string()),
        ("arena_extend_strategy", "kSameAsRequested".into()),
    ]
}

/// One capped arena: the CPU's, or a GPU's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Arena {
    Cpu,
    Cuda(u32),
}

impl Arena {
    fn memory_info(self) -> Result<MemoryInfo<'static>, ort::Error> {
        match self {
            // The CPU provider's default allocator, which the session's
            // arena stands in for.
            Self::Cpu => MemoryInfo::new(
                AllocationDevice::CPU,
                0,
                AllocatorType::Arena,
                MemoryType::Default,
            ),
            Self::Cuda(device) => MemoryInfo::new(
                AllocationDevice::CUDA,
                device as i32,
                AllocatorType::Arena,
                MemoryType::Default,
            ),
        }
    }

    fn name(self) -> String {
        match self {
            Self::Cpu => "the CPU".into(),
            Self::Cuda(device) => format!("GPU {device}"),
        }
    }
}

/// Arenas registered so far, with their caps in bytes.
static REGISTERED: Mutex<Vec<(Arena, u64)>> = Mutex::new(Vec::new());

/// Caps ONNX Runtime's memory on each device `provider` runs on at
/// `limit_mb` (nothing when `None`). Sessions opened afterwards with
/// [`crate::engine::SessionOptions`]'s providers carrying the limit
/// allocate from the capped arenas.
pub fn limit(
    library: &Path,
    provider: Provider,
    devices: &[u32],
    limit_mb: Option<u64>,
) -> Result<(), InferError> {
    let Some(mb) = limit_mb else {
        return Ok(());
    };
    let bytes = mb_to_bytes(mb);
    let env = runtime::environment(library)?;
    let arenas: Vec<Arena> = if provider.is_gpu() {
        devices.iter().map(|&d| Arena::Cuda(d)).collect()
    } else {
        vec![Arena::Cpu]
    };
    let mut registered = REGISTERED
        .lock()
        .map_err(|_| InferError::Config("the memory limit's registry is poisoned".into()))?;
    for arena in arenas {
        let earlier = registered.iter().position(|(a, _)| *a == arena);
        if let Some(i) = earlier {
            if registered[i].1 == bytes {
                continue;
            }
            unregister(env, arena).map_err(|e| arena_error(arena, mb, e))?;
            registered.swap_remove(i);
        }
        match register(env, arena, bytes) {
            Ok(()) => {
                tracing::info!(device = %arena.name(), limit_mb = mb, "Memory limited.");
                registered.push((arena, bytes));
            }
            // Each session's own CUDA arena still has the limit
            // (gpu_mem_limit), only not shared with the device's others.
            Err(e) if matches!(arena, Arena::Cuda(_)) => {
                tracing::warn!(device = %arena.name(), limit_mb = mb, error = %e, "No shared arena for the device; each session's own is capped instead.");
            }
            Err(e) => return Err(arena_error(arena, mb, e)),
        }
    }
    Ok(())
}

fn arena_error(arena: Arena, mb: u64, source: ort::Error) -> InferError {
    InferError::MemoryLimit {
        device: arena.name(),
        mb,
        source,
    }
}

/// An `OrtArenaCfg` capped at `bytes`, released when dropped.
struct ArenaCfg(*mut ort::sys::OrtArenaCfg);

impl ArenaCfg {
    fn new(bytes: u64) -> Result<Self, ort::Error> {
        let keys = [c"max_mem".as_ptr(), c"arena_extend_strategy".as_ptr()];
        let values = [
            usize::try_from(bytes).unwrap_or(usize::MAX),
            SAME_AS_REQUESTED,
        ];
        let mut cfg = std::ptr::null_mut();
        // SAFETY: the keys are NUL-terminated and live for the call; the
        // lengths match; ONNX Runtime writes the new config to `cfg`.
        unsafe {
            ort::Error::result_from_status((ort::api().CreateArenaCfgV2)(
                keys.as_ptr(),
                values.as_ptr(),
                keys.len(),
                &mut cfg,
            ))?;
        }
        Ok(Self(cfg))
    }
}

impl Drop for ArenaCfg {
    fn drop(&mut self) {
        // SAFETY: created by CreateArenaCfgV2 and released once; ONNX
        // Runtime copied what it needed when the allocator was made.
        unsafe { (ort::api().ReleaseArenaCfg)(self.0) };
    }
}

fn register(env: &Environment, arena: Arena, bytes: u64) -> Result<(), ort::Error> {
    let info = arena.memory_info()?;
    let cfg = ArenaCfg::new(bytes)?;
    let env_ptr = env.ptr().cast_mut();
    match arena {
        // SAFETY: the environment lives for the process; the memory info
        // and arena config outlive the call.
        Arena::Cpu => unsafe {
            ort::Error::result_from_status((ort::api().CreateAndRegisterAllocator)(
                env_ptr,
                info.ptr(),
                cfg.0,
            ))
        },
        Arena::Cuda(device) => {
            let options = cuda_arena_options(device, bytes);
            let text: Vec<(CString, CString)> = options
                .iter()
                .map(|(k, v)| Ok((CString::new(*k)?, CString::new(v.as_str())?)))
                .collect::<Result<_, std::ffi::NulError>>()
                .map_err(ort::Error::wrap)?;
            let keys: Vec<*const c_char> = text.iter().map(|(k, _)| k.as_ptr()).collect();
            let values: Vec<*const c_char> = text.iter().map(|(_, v)| v.as_ptr()).collect();
            let provider = CString::new(Provider::Cuda.ort_name()).map_err(ort::Error::wrap)?;
            // SAFETY: as above; every string is NUL-terminated and lives in
            // `text` or `provider` until after the call.
            unsafe {
                ort::Error::result_from_status((ort::api().CreateAndRegisterAllocatorV2)(
                    env_ptr,
                    provider.as_ptr(),
                    info.ptr(),
                    cfg.0,
                    keys.as_ptr(),
                    values.as_ptr(),
                    keys.len(),
                ))
            }
        }
    }
}

fn unregister(env: &Environment, arena: Arena) -> Result<(), ort::Error> {
    let info = arena.memory_info()?;
    // SAFETY: the environment lives for the process. Sessions that took
    // the arena keep their own reference to it.
    unsafe {
        ort::Error::result_from_status((ort::api().UnregisterAllocator)(
            env.ptr().cast_mut(),
            info.ptr(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_memory_messages_are_told_from_other_failures() {
        for message in [
            // The CPU arena over its limit (ONNX Runtime 1.32, a 128 MB arena).
            "Non-zero status code returned while running Conv node. Name:'/model.0/conv/Conv_output_0_nchwc' Status Message: bfc_arena.cc:360 void* onnxruntime::BFCArena::AllocateRawInternal(size_t, bool, onnxruntime::Stream*) Available memory of 134216704 is smaller than requested bytes of 482344960",
            "BFCArena::AllocateRawInternal Failed to allocate memory for requested buffer of size 1073741824",
            "CUDA failure 2: out of memory ; GPU=0 ; hostname=x ; expr=cudaMalloc(&p, size);",
            "CUDNN failure 4: CUDNN_STATUS_ALLOC_FAILED",
            "[TensorRT EP] Requested amount of GPU memory (1073741824 bytes) could not be allocated.",
        ] {
            assert!(is_out_of_memory(message), "{message}");
        }
        for message in [
            "Got invalid dimensions for input: images for the following indices",
            "Non-zero status code returned while running Conv node. Status Message: Invalid input shape",
            "",
        ] {
            assert!(!is_out_of_memory(message), "{message}");
        }
    }

    #[test]
    fn the_shared_cuda_arena_gets_the_limit_as_the_cuda_provider_reads_it() {
        let options = cuda_arena_options(1, mb_to_bytes(16_384));
        assert_eq!(
            options,
            vec![
                ("device_id", "1".to_string()),
                ("gpu_mem_limit", "17179869184".to_string()),
                ("arena_extend_strategy", "kSameAsRequested".to_string()),
            ]
        );
        assert_eq!(mb_to_bytes(u64::MAX), u64::MAX, "no overflow");
    }
}
