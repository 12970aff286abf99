//! What the miner needs from an ONNX file before ONNX Runtime opens it: the
//! input's name, element type and shape, and the metadata ultralytics
//! writes. TensorRT's optimisation profile (the letterboxed input shape) is
//! an option of the provider, so it has to be known before the session
//! exists. Only those few fields are decoded; prost skips the rest (the
//! weights) without copying them.

use std::path::Path;

use prost::Message;

use crate::error::{InferError, ModelFileError};
use crate::metadata::ModelInfo;
use crate::tensor::ElementType;

/// A model's input as the file declares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputSpec {
    pub name: String,
    /// `None` for an element type the miner does not feed.
    pub element: Option<ElementType>,
    /// Each dimension; `None` where it is symbolic (dynamic).
    pub dims: Vec<Option<u64>>,
    /// Each dimension's symbolic name, where it has one (ultralytics:
    /// `batch`, `height`, `width`).
    pub params: Vec<Option<String>>,
}

impl InputSpec {
    /// (height, width) when both spatial dimensions are fixed.
    pub fn fixed_size(&self) -> Option<(u32, u32)> {
        match self.dims[..] {
            [_, _, Some(h), Some(w)] if h > 0 && w > 0 => Some((h as u32, w as u32)),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct OnnxHeader {
    /// The file's stem, as logs and errors name the model.
    pub name: String,
    pub input: InputSpec,
    pub info: ModelInfo,
}

impl OnnxHeader {
    pub fn read(path: &Path) -> Result<Self, InferError> {
        let bytes = std::fs::read(path).map_err(|e| InferError::ModelLoad {
            path: path.to_owned(),
            source: ModelFileError::Read(e),
        })?;
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        Self::parse(&name, &bytes).map_err(|e| match e {
            InferError::ModelLoad { source, .. } => InferError::ModelLoad {
                path: path.to_owned(),
                source,
            },
            other => other,
        })
    }

    /// The header of a serialized model named `name` (its file's stem).
    pub fn parse(name: &str, bytes: &[u8]) -> Result<Self, InferError> {
        let load = |source: ModelFileError| InferError::ModelLoad {
            path: name.into(),
            source,
        };
        let model = ModelProto::decode(bytes).map_err(|e| load(ModelFileError::NotOnnx(e)))?;
        let name = name.to_owned();
        let info = ModelInfo::parse(&name, |key| {
            model
                .metadata_props
                .iter()
                .find(|p| p.key == key)
                .map(|p| p.value.clone())
        })?;
        let graph = model.graph.unwrap_or_default();
        let [input] = graph.input.as_slice() else {
            return Err(load(ModelFileError::Inputs(graph.input.len())));
        };
        let tensor = input
            .r#type
            .as_ref()
            .and_then(|t| t.tensor_type.as_ref())
            .ok_or_else(|| load(ModelFileError::NotTensor))?;
        let element = match tensor.elem_type {
            1 => Some(ElementType::F32),
            2 => Some(ElementType::U8),
            10 => Some(ElementType::F16),
            _ => None,
        };
        // Each dimension's value where fixed and name where symbolic.
        let (dims, params) = tensor
            .shape
            .iter()
            .flat_map(|s| &s.dim)
            .map(|d| {
                (
                    d.dim_value.filter(|&v| v > 0).map(|v| v as u64),
                    d.dim_param.clone().filter(|p| !p.is_empty()),
                )
            })
            .unzip();
        Ok(Self {
            name,
            input: InputSpec {
                name: input.name.clone(),
                element,
                dims,
                params,
            },
            info,
        })
    }
}

// The fields of onnx.proto the miner reads, with their field numbers
// (byte_input writes an input back with the same types).

#[derive(Clone, PartialEq, Message)]
struct ModelProto {
    #[prost(message, optional, tag = "7")]
    graph: Option<GraphProto>,
    #[prost(message, repeated, tag = "14")]
    metadata_props: Vec<StringStringEntryProto>,
}

#[derive(Clone, PartialEq, Message)]
struct StringStringEntryProto {
    #[prost(string, tag = "1")]
    key: String,
    #[prost(string, tag = "2")]
    value: String,
}

#[derive(Clone, PartialEq, Message)]
struct GraphProto {
    #[prost(message, repeated, tag = "11")]
    input: Vec<ValueInfoProto>,
}

#[derive(Clone, PartialEq, Message)]
pub(crate) struct ValueInfoProto {
    #[prost(string, tag = "1")]
    pub(crate) name: String,
    #[prost(message, optional, tag = "2")]
    pub(crate) r#type: Option<TypeProto>,
}

#[derive(Clone, PartialEq, Message)]
pub(crate) struct TypeProto {
    #[prost(message, optional, tag = "1")]
    pub(crate) tensor_type: Option<TensorTypeProto>,
}

#[derive(Clone, PartialEq, Message)]
pub(crate) struct TensorTypeProto {
    #[prost(int32, tag = "1")]
    pub(crate) elem_type: i32,
    #[prost(message, optional, tag = "2")]
    pub(crate) shape: Option<TensorShapeProto>,
}

#[derive(Clone, PartialEq, Message)]
pub(crate) struct TensorShapeProto {
    #[prost(message, repeated, tag = "1")]
    pub(crate) dim: Vec<Dimension>,
}

#[derive(Clone, PartialEq, Message)]
pub(crate) struct Dimension {
    #[prost(int64, optional, tag = "1")]
    pub(crate) dim_value: Option<i64>,
    #[prost(string, optional, tag = "2")]
    pub(crate) dim_param: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::Task;

    fn fixture(name: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/fixtures/models")
            .join(name)
    }

    #[test]
    fn the_fixture_models_read_as_ultralytics_wrote_them() {
        let players = OnnxHeader::read(&fixture("players.onnx")).unwrap();
        assert_eq!(players.input.name, "images");
        assert_eq!(players.input.element, Some(ElementType::F32));
        assert_eq!(players.input.dims.len(), 4);
        assert_eq!(players.input.fixed_size(), None, "dynamic export");
        let params: Vec<Option<&str>> = players.input.params.iter().map(|p| p.as_deref()).collect();
        assert_eq!(params, [Some("batch"), None, Some("height"), Some("width")]);
        assert_eq!(players.info.task, Task::Detect);
        assert_eq!(players.info.names.len(), 4);
        assert_eq!(players.info.stride, 32);
        let pitch = OnnxHeader::read(&fixture("pitch.onnx")).unwrap();
        assert_eq!(pitch.info.task, Task::Pose);
        assert_eq!(pitch.info.kpt_shape, Some((32, 3)));
    }

    #[test]
    fn a_file_that_is_not_onnx_is_refused() {
        let dir = std::env::temp_dir().join(format!("sv-onnx-header-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("bad.onnx");
        std::fs::write(&path, b"\xff\xff\xff\xff not protobuf").unwrap();
        let err = OnnxHeader::read(&path).unwrap_err();
        assert!(
            matches!(
                &err,
                InferError::ModelLoad {
                    source: ModelFileError::NotOnnx(_),
                    ..
                }
            ),
            "{err}"
        );
        // The wording users see, with prost's error kept as the cause.
        assert!(
            err.to_string().starts_with(&format!(
                "cannot load model {}: not an ONNX model: ",
                path.display()
            )),
            "{err}"
        );
        let cause = std::error::Error::source(&err).and_then(std::error::Error::source);
        assert!(cause.is_some_and(|c| c.is::<prost::DecodeError>()), "{err}");
        let missing = OnnxHeader::read(&dir.join("missing.onnx")).unwrap_err();
        assert!(
            matches!(
                &missing,
                InferError::ModelLoad {
                    source: ModelFileError::Read(e),
                    ..
                } if e.kind() == std::io::ErrorKind::NotFound
            ),
            "{missing}"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}
