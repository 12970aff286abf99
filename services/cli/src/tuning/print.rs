//! The settings printed back: as command-line flags and as an `[infer]`
//! TOML table (what `scorevision bench` recommends).

use sv_infer::{ConvSearch, Switch};

use super::Tuning;

impl Tuning {
    /// The settings that are set, as command-line flags.
    pub fn to_flags(&self) -> Vec<String> {
        self.entries()
            .into_iter()
            .map(|(key, value)| format!("--{} {}", key.replace('_', "-"), value.flag()))
            .collect()
    }

    /// The settings that are set, as an `[infer]` TOML table.
    pub fn to_toml(&self) -> String {
        let mut out = String::from("[infer]\n");
        for (key, value) in self.entries() {
            out.push_str(&format!("{key} = {}\n", value.toml()));
        }
        out
    }

    fn entries(&self) -> Vec<(&'static str, Value)> {
        let mut e = Vec::new();
        let mut push = |key, value: Option<Value>| {
            if let Some(v) = value {
                e.push((key, v));
            }
        };
        push(
            "providers",
            self.providers
                .as_ref()
                .map(|p| Value::List(p.iter().map(|p| p.name().to_ascii_lowercase()).collect())),
        );
        push(
            "devices",
            self.devices
                .as_ref()
                .map(|d| Value::Numbers(d.iter().map(|d| u64::from(*d)).collect())),
        );
        push(
            "precision",
            self.precision.map(|p| Value::Text(p.name().into())),
        );
        push(
            "batch_size",
            self.batch_size.map(|n| Value::Number(n as u64)),
        );
        push(
            "pad_batches",
            self.pad_batches.map(|s| {
                Value::Text(
                    match s {
                        Switch::Auto => "auto",
                        Switch::On => "on",
                        Switch::Off => "off",
                    }
                    .into(),
                )
            }),
        );
        push("batch_wait_ms", self.batch_wait_ms.map(Value::Number));
        push("lanes", self.lanes.map(|n| Value::Number(n as u64)));
        push(
            "prep_threads",
            self.prep_threads.map(|n| Value::Number(n as u64)),
        );
        push(
            "intra_threads",
            self.intra_threads.map(|n| Value::Number(n as u64)),
        );
        push("byte_input", self.byte_input.map(Value::Bool));
        push("static_shapes", self.static_shapes.map(Value::Bool));
        push("io_binding", self.io_binding.map(Value::Bool));
        push("memory_limit_mb", self.memory_limit_mb.map(Value::Number));
        push(
            "cudnn_conv_search",
            self.cudnn_conv_search.map(|c| {
                Value::Text(
                    match c {
                        ConvSearch::Exhaustive => "exhaustive",
                        ConvSearch::Heuristic => "heuristic",
                        ConvSearch::Default => "default",
                    }
                    .into(),
                )
            }),
        );
        push("cuda_nhwc", self.cuda_nhwc.map(Value::Bool));
        push("cuda_tf32", self.cuda_tf32.map(Value::Bool));
        push("cuda_copy_streams", self.cuda_copy_streams.map(Value::Bool));
        push("cuda_graph", self.cuda_graph.map(Value::Bool));
        push(
            "infer_interval",
            self.infer_interval.as_ref().map(|i| match i.frames() {
                Ok(n) => Value::Number(u64::from(n)),
                Err(_) => Value::Text(i.0.clone()),
            }),
        );
        push("trt_fp16", self.trt_fp16.map(Value::Bool));
        push(
            "trt_opt_level",
            self.trt_opt_level.map(|n| Value::Number(u64::from(n))),
        );
        push("trt_workspace_mb", self.trt_workspace_mb.map(Value::Number));
        push(
            "engine_cache",
            self.engine_cache
                .as_ref()
                .map(|p| Value::Text(p.display().to_string())),
        );
        e
    }
}

/// A setting's value, printable as a flag or as TOML.
enum Value {
    Bool(bool),
    Number(u64),
    Numbers(Vec<u64>),
    Text(String),
    List(Vec<String>),
}

impl Value {
    fn flag(&self) -> String {
        match self {
            Self::Bool(b) => b.to_string(),
            Self::Number(n) => n.to_string(),
            Self::Numbers(v) => v.iter().map(u64::to_string).collect::<Vec<_>>().join(","),
            Self::Text(t) => t.clone(),
            Self::List(v) => v.join(","),
        }
    }

    fn toml(&self) -> String {
        match self {
            Self::Bool(b) => b.to_string(),
            Self::Number(n) => n.to_string(),
            Self::Numbers(v) => format!(
                "[{}]",
                v.iter().map(u64::to_string).collect::<Vec<_>>().join(", ")
            ),
            Self::Text(t) => toml::Value::String(t.clone()).to_string(),
            Self::List(v) => format!(
                "[{}]",
                v.iter()
                    .map(|s| toml::Value::String(s.clone()).to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }
}
