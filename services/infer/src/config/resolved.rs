//! [`Resolved`]: the settings once the device profile has filled in the
//! automatic ones, fitted to a model exported at a fixed batch, and printed
//! as the one-line profile the stage logs and `scorevision bench` shows.

use std::fmt;
use std::path::PathBuf;

use crate::error::InferError;
use crate::fit::BatchFit;
use crate::onnx_file::OnnxHeader;
use crate::providers::Provider;
use crate::settings::values::Precision;

/// The settings once the device profile has filled in the automatic ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The provider the sessions are first tried on (the first of
    /// `--providers` this machine can run).
    pub provider: Provider,
    /// GPUs the lanes run on (`[0]` on the CPU, where it means nothing).
    pub devices: Vec<u32>,
    /// Lanes per device.
    pub lanes: usize,
    /// ONNX Runtime intra-op threads per session (0: its own default).
    pub intra_threads: usize,
    /// Threads that letterbox frames into the batches.
    pub prep_threads: usize,
    /// Most frames per ONNX Runtime run.
    pub batch_size: usize,
    /// Partial batches padded to `batch_size` (one input shape per model).
    pub pad_batches: bool,
    /// Fp32 or Fp16, never Auto.
    pub precision: Precision,
    /// The player model file the precision chose (FP32 or its FP16 version).
    pub player_model: PathBuf,
    /// The pitch model file the precision chose.
    pub pitch_model: PathBuf,
    /// The models take the letterboxed bytes ([`InferConfig::byte_input`](crate::InferConfig::byte_input)).
    pub byte_input: bool,
    /// Sessions fixed to one input shape ([`InferConfig::static_shapes`](crate::InferConfig::static_shapes)):
    /// only with padded batches and a warm-up size to take the shape from.
    pub static_shapes: bool,
    /// Bound inputs and outputs ([`InferConfig::io_binding`](crate::InferConfig::io_binding)): only with
    /// static shapes (the buffers have the one shape).
    pub io_binding: bool,
    /// CUDA graphs (`CudaOptions::cuda_graph`): only with I/O binding and a
    /// GPU provider.
    pub cuda_graph: bool,
    /// [`InferConfig::memory_limit_mb`](crate::InferConfig::memory_limit_mb).
    pub memory_limit_mb: Option<u64>,
    /// What the warm-up settled on, once it has run (`crate::fit`).
    pub fit: Option<BatchFit>,
}

impl Resolved {
    /// A model exported with a fixed batch dimension (ultralytics'
    /// `half=True` exports are static, batch 1) runs only at that batch:
    /// the batch size follows it, and short batches are padded. `given`:
    /// the batch size was set explicitly, so a different one is an error.
    pub fn fit_fixed_batch(
        &mut self,
        headers: &[OnnxHeader],
        given: bool,
    ) -> Result<(), InferError> {
        let mut fixed: Option<(usize, &str)> = None;
        for header in headers {
            let Some(Some(b)) = header.input.dims.first().copied() else {
                continue;
            };
            let b = b as usize;
            let model = header.name.as_str();
            match fixed {
                Some((other, other_model)) if other != b => {
                    return Err(InferError::Config(format!(
                        "{other_model} takes batches of exactly {other} and {model} of exactly {b}: export one of them with a dynamic batch"
                    )));
                }
                _ => fixed = Some((b, model)),
            }
        }
        let Some((b, model)) = fixed else {
            return Ok(());
        };
        if b != self.batch_size {
            if given {
                return Err(InferError::Config(format!(
                    "{model} takes batches of exactly {b} (its batch was fixed at export): use --batch-size {b}, or export with dynamic=True"
                )));
            }
            tracing::info!(
                model,
                batch = b,
                "The model's batch is fixed; running at that batch."
            );
            self.batch_size = b;
        }
        self.pad_batches = true;
        Ok(())
    }

    /// Every lane's device, in lane order: each device's lanes together.
    pub fn lane_devices(&self) -> Vec<u32> {
        self.devices
            .iter()
            .flat_map(|&d| std::iter::repeat_n(d, self.lanes))
            .collect()
    }
}

impl fmt::Display for Resolved {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.provider)?;
        if self.provider.is_gpu() {
            let devices: Vec<String> = self.devices.iter().map(u32::to_string).collect();
            write!(f, " on GPU {}", devices.join(","))?;
        }
        write!(
            f,
            ", batch {}{}, {} lane{} per device, {} preprocessing thread{}, {} models",
            self.batch_size,
            if self.pad_batches { " (padded)" } else { "" },
            self.lanes,
            if self.lanes == 1 { "" } else { "s" },
            self.prep_threads,
            if self.prep_threads == 1 { "" } else { "s" },
            self.precision.name().to_uppercase(),
        )?;
        if self.byte_input {
            f.write_str(", byte input")?;
        }
        if self.static_shapes {
            f.write_str(", static shapes")?;
        }
        if self.io_binding {
            f.write_str(", I/O binding")?;
        }
        if self.cuda_graph {
            f.write_str(", CUDA graphs")?;
        }
        if self.intra_threads > 0 {
            let plural = if self.intra_threads == 1 { "" } else { "s" };
            write!(
                f,
                ", {} ONNX Runtime thread{plural} per session",
                self.intra_threads
            )?;
        }
        if let Some(mb) = self.memory_limit_mb {
            write!(f, ", memory limit {mb} MB")?;
        }
        // The batch asked for is above; where memory held it lower, where
        // it settled and why.
        if let Some(fit) = self.fit.as_ref().filter(|fit| fit.lowered()) {
            write!(f, ", {fit}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::InferConfig;

    #[test]
    fn the_profile_line_gives_the_memory_limit_and_where_the_batch_settled() {
        use crate::fit::{DeviceFit, Settled};
        let mut c = InferConfig::new("p.onnx", "q.onnx");
        c.batch_size = 16;
        c.memory_limit_mb = Some(128);
        let mut r = c.resolve_for(Provider::Cpu, 2).unwrap();
        assert_eq!(r.memory_limit_mb, Some(128));
        assert!(
            r.to_string()
                .ends_with(", 1 ONNX Runtime thread per session, memory limit 128 MB"),
            "{r}"
        );
        let settled = |batch, failed| Settled {
            shape: (736, 1280),
            asked: 16,
            batch,
            failed,
        };
        let mut fit = BatchFit {
            devices: vec![DeviceFit {
                device: 0,
                gpu: false,
                models: vec![
                    ("pitch".into(), settled(16, None)),
                    ("players".into(), settled(16, None)),
                ],
            }],
        };
        // Everything fitted at the batch asked: nothing more to say.
        r.fit = Some(fit.clone());
        assert!(r.to_string().ends_with("memory limit 128 MB"), "{r}");
        fit.devices[0].models[1].1 = settled(4, Some(8));
        r.fit = Some(fit);
        assert!(
            r.to_string().ends_with(
                "per session, memory limit 128 MB, settled at warm-up: pitch 16, players 4 (8 ran out of memory)"
            ),
            "{r}"
        );
    }

    fn header(name: &str, batch: Option<u64>) -> OnnxHeader {
        use crate::onnx_file::InputSpec;
        OnnxHeader {
            name: name.into(),
            input: InputSpec {
                name: "images".into(),
                element: Some(crate::tensor::ElementType::F16),
                dims: vec![batch, Some(3), Some(640), Some(640)],
                params: vec![None; 4],
            },
            info: crate::metadata::ModelInfo::parse(name, |key| {
                Some(
                    match key {
                        "task" => "pose",
                        "names" => "{0: 'pitch'}",
                        "imgsz" => "[640, 640]",
                        "stride" => "32",
                        "kpt_shape" => "[32, 3]",
                        _ => return None,
                    }
                    .into(),
                )
            })
            .unwrap(),
        }
    }

    #[test]
    fn a_fixed_batch_model_sets_the_batch() {
        let c = InferConfig::new("p.onnx", "q.onnx");
        let mut r = c.resolve_for(Provider::Cuda, 16).unwrap();
        // ultralytics' half=True export: batch 1, fixed.
        r.fit_fixed_batch(&[header("p", Some(1)), header("q", None)], false)
            .unwrap();
        assert_eq!((r.batch_size, r.pad_batches), (1, true));
        // Asked for another batch explicitly: a clear error.
        let mut r = c.resolve_for(Provider::Cuda, 16).unwrap();
        let err = r
            .fit_fixed_batch(&[header("p", Some(1))], true)
            .unwrap_err();
        assert!(err.to_string().contains("--batch-size 1"), "{err}");
        // Two fixed batches that differ cannot both be met.
        let mut r = c.resolve_for(Provider::Cpu, 2).unwrap();
        assert!(
            r.fit_fixed_batch(&[header("p", Some(1)), header("q", Some(4))], false)
                .is_err()
        );
        // Dynamic models leave everything as it was.
        let mut r = c.resolve_for(Provider::Cpu, 2).unwrap();
        let before = r.clone();
        r.fit_fixed_batch(&[header("p", None), header("q", None)], false)
            .unwrap();
        assert_eq!(r, before);
    }
}
