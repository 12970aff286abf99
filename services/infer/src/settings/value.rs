//! [`Value`]: a setting's value as a flag or an `[infer]` TOML key takes it.

use crate::providers::ConvSearch;

/// The name `--cudnn-conv-search` takes.
pub(super) fn conv_search_name(search: ConvSearch) -> &'static str {
    match search {
        ConvSearch::Exhaustive => "exhaustive",
        ConvSearch::Heuristic => "heuristic",
        ConvSearch::Default => "default",
    }
}

/// A setting's value, printable as a flag or as TOML.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A switch (`--io-binding true`, `io_binding = true`).
    Bool(bool),
    /// A count or size (`--batch-size 16`).
    Number(u64),
    /// Numbers, comma-separated on the command line (`--devices 0,1`).
    Numbers(Vec<u64>),
    /// A word or path (`--precision fp16`).
    Text(String),
    /// Words, comma-separated on the command line (`--providers cuda,cpu`).
    List(Vec<String>),
}

impl Value {
    /// As the flag takes it (lists comma-separated).
    pub fn flag(&self) -> String {
        match self {
            Self::Bool(b) => b.to_string(),
            Self::Number(n) => n.to_string(),
            Self::Numbers(v) => v.iter().map(u64::to_string).collect::<Vec<_>>().join(","),
            Self::Text(t) => t.clone(),
            Self::List(v) => v.join(","),
        }
    }

    /// As a TOML value (strings quoted, lists in brackets).
    pub fn toml(&self) -> String {
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
