//! GPU memory and utilisation for `sv_infer_gpu_*`, read when Prometheus
//! scrapes, from NVML (the driver's management library,
//! `libnvidia-ml.so.1`, which the NVIDIA container toolkit mounts with the
//! `utility` capability) or else the CUDA runtime (`libcudart`), whichever
//! this process can load. Both are opened with `dlopen` at start: a
//! machine without a GPU or without the libraries simply has no such
//! series, never an error.

use std::ffi::{CString, c_char, c_int, c_uint, c_ulonglong, c_void};
use std::sync::{Arc, Mutex};

use libloading::Library;
use prometheus_client::registry::Registry;
use sv_telemetry::metrics::{Sample, Sampled};

/// One device's figures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reading {
    /// Device memory in use by every process, in bytes.
    pub used_bytes: u64,
    /// The device's memory, in bytes.
    pub total_bytes: u64,
    /// Fraction (`0.0..=1.0`) of the last sample period a kernel ran
    /// (NVML only).
    pub utilization: Option<f64>,
}

/// Where the figures come from.
pub trait GpuSource: Send + Sync {
    /// The device with this CUDA ordinal, or `None` when it cannot be read.
    fn read(&self, device: u32) -> Option<Reading>;
}

/// NVML first, then the CUDA runtime; `None` when neither loads and
/// answers for the first of `devices`.
pub fn open(devices: &[u32]) -> Option<Arc<dyn GpuSource>> {
    let visible = std::env::var("CUDA_VISIBLE_DEVICES").ok();
    let first = *devices.first()?;
    if let Some(nvml) = Nvml::open(NVML_LIBRARIES, visible.as_deref(), devices)
        && nvml.read(first).is_some()
    {
        tracing::info!("GPU memory and utilisation from NVML.");
        return Some(Arc::new(nvml));
    }
    if let Some(cuda) = CudaRuntime::open(CUDA_RUNTIME_LIBRARIES)
        && cuda.read(first).is_some()
    {
        tracing::info!("GPU memory from the CUDA runtime (no NVML).");
        return Some(Arc::new(cuda));
    }
    tracing::info!("Neither NVML nor the CUDA runtime answered: no GPU memory series.");
    None
}

/// The `sv_infer_gpu_*` gauges of `devices` (CUDA ordinals), read from
/// `source` at each scrape.
pub fn registry(source: Arc<dyn GpuSource>, devices: &[u32]) -> Registry {
    let mut registry = Registry::with_prefix("sv_infer");
    let gauge = |pick: fn(&Reading) -> Option<f64>| {
        let (source, devices) = (source.clone(), devices.to_vec());
        move || {
            devices
                .iter()
                .filter_map(|&d| {
                    let value = pick(&source.read(d)?)?;
                    Some(Sample {
                        labels: vec![("device", d.to_string())],
                        value,
                    })
                })
                .collect()
        }
    };
    registry.register_collector(Box::new(Sampled::new(
        "gpu_memory_used_bytes",
        "GPU memory in use (every process on the device)",
        gauge(|r| Some(r.used_bytes as f64)),
    )));
    registry.register_collector(Box::new(Sampled::new(
        "gpu_memory_total_bytes",
        "GPU memory in all",
        gauge(|r| Some(r.total_bytes as f64)),
    )));
    registry.register_collector(Box::new(Sampled::new(
        "gpu_utilization_ratio",
        "Fraction of time a kernel ran on the GPU (NVML's last sample period)",
        gauge(|r| r.utilization),
    )));
    registry
}

const NVML_LIBRARIES: &[&str] = &["libnvidia-ml.so.1", "libnvidia-ml.so"];
const CUDA_RUNTIME_LIBRARIES: &[&str] = &[
    "libcudart.so.13",
    "libcudart.so.12",
    "libcudart.so.11.0",
    "libcudart.so",
];

/// The first of `names` that loads.
fn load(names: &[&str]) -> Option<Library> {
    names.iter().find_map(|name| {
        // SAFETY: loading runs the library's initialisers; these are the
        // NVIDIA driver's and CUDA's own libraries, made to be loaded so.
        unsafe { Library::new(*name) }.ok()
    })
}

/// Which NVML device a CUDA ordinal is: CUDA numbers only the devices in
/// `CUDA_VISIBLE_DEVICES` (indices or UUIDs), NVML numbers them all.
#[derive(Debug, Clone, PartialEq, Eq)]
enum NvmlDevice {
    Index(u32),
    Uuid(String),
}

fn nvml_device(visible: Option<&str>, ordinal: u32) -> Option<NvmlDevice> {
    let Some(visible) = visible else {
        return Some(NvmlDevice::Index(ordinal));
    };
    let entry = visible.split(',').map(str::trim).nth(ordinal as usize)?;
    if let Ok(index) = entry.parse() {
        Some(NvmlDevice::Index(index))
    } else if entry.starts_with("GPU-") {
        Some(NvmlDevice::Uuid(entry.to_owned()))
    } else {
        None // MIG instances and anything else: NVML reports the parent
    }
}

type NvmlHandle = *mut c_void;

#[repr(C)]
#[derive(Default)]
struct NvmlMemory {
    total: c_ulonglong,
    free: c_ulonglong,
    used: c_ulonglong,
}

#[repr(C)]
#[derive(Default)]
struct NvmlUtilization {
    gpu: c_uint,
    memory: c_uint,
}

type NvmlInit = unsafe extern "C" fn() -> c_int;
type NvmlByIndex = unsafe extern "C" fn(c_uint, *mut NvmlHandle) -> c_int;
type NvmlByUuid = unsafe extern "C" fn(*const c_char, *mut NvmlHandle) -> c_int;
type NvmlMemoryInfo = unsafe extern "C" fn(NvmlHandle, *mut NvmlMemory) -> c_int;
type NvmlUtilizationRates = unsafe extern "C" fn(NvmlHandle, *mut NvmlUtilization) -> c_int;

/// NVML, initialised, with a handle per device it could find.
struct Nvml {
    memory: NvmlMemoryInfo,
    utilization: NvmlUtilizationRates,
    handles: Vec<(u32, NvmlHandle)>,
    /// Keeps the functions above loaded; never unloaded before them.
    _library: Library,
}

// SAFETY: NVML is thread-safe (its documentation says every call may come
// from any thread); the handles are opaque values it hands out for the
// life of the process.
unsafe impl Send for Nvml {}
// SAFETY: sharing `&Nvml` only lets threads call `read`, which calls NVML's
// thread-safe query functions on the handles and writes nothing in `self`;
// the function pointers and handles are never changed after `open`.
unsafe impl Sync for Nvml {}

impl Nvml {
    fn open(names: &[&str], visible: Option<&str>, devices: &[u32]) -> Option<Self> {
        let library = load(names)?;
        // SAFETY: the symbols are NVML's, with these C signatures (nvml.h).
        unsafe {
            let init = *library.get::<NvmlInit>(b"nvmlInit_v2\0").ok()?;
            let by_index = *library
                .get::<NvmlByIndex>(b"nvmlDeviceGetHandleByIndex_v2\0")
                .ok()?;
            let by_uuid = *library
                .get::<NvmlByUuid>(b"nvmlDeviceGetHandleByUUID\0")
                .ok()?;
            let memory = *library
                .get::<NvmlMemoryInfo>(b"nvmlDeviceGetMemoryInfo\0")
                .ok()?;
            let utilization = *library
                .get::<NvmlUtilizationRates>(b"nvmlDeviceGetUtilizationRates\0")
                .ok()?;
            if init() != 0 {
                return None;
            }
            let mut handles = Vec::new();
            for &ordinal in devices {
                let mut handle: NvmlHandle = std::ptr::null_mut();
                let Some(target) = nvml_device(visible, ordinal) else {
                    continue;
                };
                let found = match target {
                    NvmlDevice::Index(i) => by_index(i, &mut handle),
                    NvmlDevice::Uuid(uuid) => {
                        let uuid = CString::new(uuid).ok()?;
                        by_uuid(uuid.as_ptr(), &mut handle)
                    }
                };
                if found == 0 {
                    handles.push((ordinal, handle));
                }
            }
            Some(Self {
                memory,
                utilization,
                handles,
                _library: library,
            })
        }
    }
}

impl GpuSource for Nvml {
    fn read(&self, device: u32) -> Option<Reading> {
        let &(_, handle) = self.handles.iter().find(|(d, _)| *d == device)?;
        let mut memory = NvmlMemory::default();
        let mut busy = NvmlUtilization::default();
        // SAFETY: a handle NVML gave, and structs laid out as nvml.h's.
        let (memory_ok, busy_ok) = unsafe {
            (
                (self.memory)(handle, &mut memory) == 0,
                (self.utilization)(handle, &mut busy) == 0,
            )
        };
        memory_ok.then(|| Reading {
            used_bytes: memory.used,
            total_bytes: memory.total,
            utilization: busy_ok.then(|| f64::from(busy.gpu) / 100.0),
        })
    }
}

type CudaSetDevice = unsafe extern "C" fn(c_int) -> c_int;
type CudaMemGetInfo = unsafe extern "C" fn(*mut usize, *mut usize) -> c_int;

/// The CUDA runtime: memory only, one device at a time.
struct CudaRuntime {
    set_device: CudaSetDevice,
    mem_get_info: CudaMemGetInfo,
    /// `cudaSetDevice` then `cudaMemGetInfo` must not interleave.
    lock: Mutex<()>,
    _library: Library,
}

impl CudaRuntime {
    fn open(names: &[&str]) -> Option<Self> {
        let library = load(names)?;
        // SAFETY: the symbols are the CUDA runtime's, with these C
        // signatures (cuda_runtime_api.h).
        unsafe {
            let set_device = *library.get::<CudaSetDevice>(b"cudaSetDevice\0").ok()?;
            let mem_get_info = *library.get::<CudaMemGetInfo>(b"cudaMemGetInfo\0").ok()?;
            Some(Self {
                set_device,
                mem_get_info,
                lock: Mutex::new(()),
                _library: library,
            })
        }
    }
}

impl GpuSource for CudaRuntime {
    fn read(&self, device: u32) -> Option<Reading> {
        let _one_at_a_time = self.lock.lock().ok()?;
        let (mut free, mut total) = (0usize, 0usize);
        // SAFETY: plain CUDA runtime calls with valid out-pointers. The
        // device's primary context is the one ONNX Runtime already uses.
        let ok = unsafe {
            (self.set_device)(c_int::try_from(device).ok()?) == 0
                && (self.mem_get_info)(&mut free, &mut total) == 0
        };
        ok.then(|| Reading {
            used_bytes: total.saturating_sub(free) as u64,
            total_bytes: total as u64,
            utilization: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sv_telemetry::metrics::Exposition;

    #[test]
    fn a_missing_library_is_no_source() {
        let missing = &["libsv-no-such-library.so.1"];
        assert!(Nvml::open(missing, None, &[0]).is_none());
        assert!(CudaRuntime::open(missing).is_none());
    }

    #[test]
    fn a_library_without_the_symbols_is_no_source() {
        // libc loads everywhere and has none of them.
        assert!(Nvml::open(&["libc.so.6"], None, &[0]).is_none());
        assert!(CudaRuntime::open(&["libc.so.6"]).is_none());
    }

    #[test]
    fn cuda_ordinals_map_to_nvml_devices_through_cuda_visible_devices() {
        use NvmlDevice::{Index, Uuid};
        assert_eq!(nvml_device(None, 3), Some(Index(3)));
        assert_eq!(nvml_device(Some("2,0"), 0), Some(Index(2)));
        assert_eq!(nvml_device(Some("2, 0"), 1), Some(Index(0)));
        assert_eq!(
            nvml_device(Some("GPU-8f2a,1"), 0),
            Some(Uuid("GPU-8f2a".into()))
        );
        assert_eq!(nvml_device(Some("1"), 1), None, "not visible");
        assert_eq!(nvml_device(Some(""), 0), None);
        assert_eq!(nvml_device(Some("MIG-5c1d"), 0), None);
    }

    /// Device 1 answers; device 0 cannot be read.
    struct Fake;

    impl GpuSource for Fake {
        fn read(&self, device: u32) -> Option<Reading> {
            (device == 1).then_some(Reading {
                used_bytes: 3 << 30,
                total_bytes: 80 << 30,
                utilization: Some(0.5),
            })
        }
    }

    #[test]
    fn readings_become_gauges_by_device_and_unreadable_devices_are_left_out() {
        let text = Exposition::new(Arc::new(registry(Arc::new(Fake), &[0, 1]))).render();
        for line in [
            "# TYPE sv_infer_gpu_memory_used_bytes gauge\n",
            "sv_infer_gpu_memory_used_bytes{device=\"1\"} 3221225472.0\n",
            "sv_infer_gpu_memory_total_bytes{device=\"1\"} 85899345920.0\n",
            "sv_infer_gpu_utilization_ratio{device=\"1\"} 0.5\n",
        ] {
            assert!(text.contains(line), "{line:?} not in\n{text}");
        }
        assert!(!text.contains("device=\"0\""), "{text}");
    }
}
