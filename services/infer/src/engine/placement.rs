//! [`Placement`]: which execution provider ran each node of a model, read
//! from ONNX Runtime's profile of one run (`--record-placement` at open).

use std::collections::BTreeMap;
use std::path::Path;

/// How many of a model's nodes each execution provider runs, read from
/// ONNX Runtime's profile of one run, with the operator types of the nodes
/// that landed on the CPU beside a GPU provider (a heavy operator there
/// costs copies both ways on every run).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Placement {
    /// Provider -> distinct nodes.
    pub nodes: BTreeMap<String, usize>,
    /// Operator type -> nodes of it on the CPU provider.
    pub cpu_ops: BTreeMap<String, usize>,
}

/// Why a profile gave no placement.
#[derive(Debug, thiserror::Error)]
pub enum PlacementError {
    /// ONNX Runtime's profile file could not be read.
    #[error(transparent)]
    Read(#[from] std::io::Error),
    /// The profile is not the JSON trace ONNX Runtime writes.
    #[error("profile: {0}")]
    Parse(#[from] serde_json::Error),
}

impl std::fmt::Display for Placement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let short = |p: &str| p.trim_end_matches("ExecutionProvider").to_owned();
        let parts: Vec<String> = self
            .nodes
            .iter()
            .map(|(provider, nodes)| format!("{nodes} nodes on {}", short(provider)))
            .collect();
        f.write_str(&parts.join(", "))?;
        // Only worth saying when something else runs the rest.
        if self.nodes.len() > 1 && !self.cpu_ops.is_empty() {
            let ops: Vec<String> = self
                .cpu_ops
                .iter()
                .map(|(op, n)| format!("{op} {n}"))
                .collect();
            write!(f, " (on the CPU: {})", ops.join(", "))?;
        }
        Ok(())
    }
}

impl Placement {
    /// Counts the distinct nodes per provider in an ONNX Runtime profile
    /// (a JSON array of events; node events carry `args.provider` and
    /// `args.op_name`).
    pub fn from_profile(json: &str) -> Result<Self, PlacementError> {
        let events: Vec<serde_json::Value> = serde_json::from_str(json)?;
        let mut nodes: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        for event in &events {
            let args = event.get("args");
            let (Some(name), Some(provider)) = (
                event.get("name").and_then(|n| n.as_str()),
                args.and_then(|a| a.get("provider"))
                    .and_then(|p| p.as_str()),
            ) else {
                continue;
            };
            let op = args
                .and_then(|a| a.get("op_name"))
                .and_then(|o| o.as_str())
                .unwrap_or("?");
            let node = name
                .trim_end_matches("_kernel_time")
                .trim_end_matches("_fence_before")
                .trim_end_matches("_fence_after");
            nodes
                .entry(provider.to_owned())
                .or_default()
                .insert(node.to_owned(), op.to_owned());
        }
        let mut cpu_ops = BTreeMap::new();
        if let Some(cpu) = nodes.get("CPUExecutionProvider") {
            for op in cpu.values() {
                *cpu_ops.entry(op.clone()).or_default() += 1;
            }
        }
        Ok(Self {
            nodes: nodes.into_iter().map(|(p, n)| (p, n.len())).collect(),
            cpu_ops,
        })
    }

    /// The placement in the profile file ONNX Runtime wrote, which is
    /// removed once read.
    pub(crate) fn from_profile_file(file: &Path) -> Result<Self, PlacementError> {
        let read = std::fs::read_to_string(file);
        let _ = std::fs::remove_file(file);
        Self::from_profile(&read?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placement_counts_distinct_nodes_per_provider() {
        let profile = r#"[
          {"cat":"Session","name":"model_run","args":{}},
          {"cat":"Node","name":"/model.0/conv/Conv_fence_before","args":{"op_name":"Conv","provider":"CUDAExecutionProvider"}},
          {"cat":"Node","name":"/model.0/conv/Conv_kernel_time","args":{"op_name":"Conv","provider":"CUDAExecutionProvider"}},
          {"cat":"Node","name":"/model.0/conv/Conv_fence_after","args":{"op_name":"Conv","provider":"CUDAExecutionProvider"}},
          {"cat":"Node","name":"/model.1/Sigmoid_kernel_time","args":{"op_name":"Sigmoid","provider":"CUDAExecutionProvider"}},
          {"cat":"Node","name":"/model.22/Range_kernel_time","args":{"op_name":"Range","provider":"CPUExecutionProvider"}}
        ]"#;
        let placement = Placement::from_profile(profile).unwrap();
        assert_eq!(placement.nodes.get("CUDAExecutionProvider"), Some(&2));
        assert_eq!(placement.nodes.get("CPUExecutionProvider"), Some(&1));
        assert_eq!(
            placement.to_string(),
            "1 nodes on CPU, 2 nodes on CUDA (on the CPU: Range 1)"
        );
        let err = Placement::from_profile("not json").unwrap_err();
        assert!(matches!(err, PlacementError::Parse(_)), "{err}");
        assert!(err.to_string().starts_with("profile: "), "{err}");
        // A CPU-only session says nothing more.
        let cpu = r#"[{"cat":"Node","name":"a_kernel_time","args":{"op_name":"Conv","provider":"CPUExecutionProvider"}}]"#;
        assert_eq!(
            Placement::from_profile(cpu).unwrap().to_string(),
            "1 nodes on CPU"
        );
    }
}
