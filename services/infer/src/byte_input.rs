//! Byte input: the model takes the letterboxed pixels as they are (uint8,
//! NCHW) and turns them into its float input itself, with a `Cast` and a
//! `Div` by 255 put in front of its graph. On a GPU that moves a quarter of
//! the bytes of a float32 input from the host on every run, and the
//! division runs on the device; the letterbox writes
//! bytes instead of floats.
//!
//! The values are the same to the bit: `Div` is IEEE division, so
//! `float(v) / 255` equals the letterbox's table (`crate::tensor::UNIT`,
//! itself checked against the division). Only float32 inputs are rewritten (ultralytics'
//! default export, and `deploy/to_fp16.py` without `--fp16-io`): a float16
//! input already halves the bytes, and the equality could not be kept on the
//! CPU provider, which runs float16 convolutions in float32 and drops the
//! rounding of an input computed in the graph (measured: about a quarter of
//! the outputs of `players_fp16io.onnx` moved), so those are fed as they
//! are.
//!
//! The file is rewritten at the protobuf wire level: every field but the
//! replaced graph input is copied byte for byte (prost would drop the fields
//! it does not know, the weights among them), and the new nodes go first so
//! the graph stays topologically sorted.

use prost::Message;
use prost::bytes::Buf;
use prost::encoding::{WireType, decode_key, decode_varint, encode_key, encode_varint};

pub use crate::error::ByteInputError;
use crate::onnx_file::{
    Dimension, InputSpec, TensorShapeProto, TensorTypeProto, TypeProto, ValueInfoProto,
};
use crate::tensor::ElementType;

/// The byte input's name: the model's own input name with this after it.
pub const SUFFIX: &str = "_u8";

/// The name the rewritten model's input has.
pub fn input_name(original: &str) -> String {
    format!("{original}{SUFFIX}")
}

/// Whether [`rewrite`] gives a model with this input a byte input: float32
/// inputs only (see the module docs for float16).
pub fn applies(spec: &InputSpec) -> bool {
    spec.element == Some(ElementType::F32)
}

// onnx.proto field numbers and enum values used here.
const MODEL_GRAPH: u32 = 7;
const GRAPH_NODE: u32 = 1;
const GRAPH_INITIALIZER: u32 = 5;
const GRAPH_INPUT: u32 = 11;
const FLOAT: i32 = 1;
const UINT8: i32 = 2;
const ATTRIBUTE_INT: i32 = 2;

/// `model` (a serialized ONNX ModelProto) with its float32 input `spec`
/// replaced by a uint8 input of the same shape named [`input_name`],
/// converted and divided by 255 in the graph.
pub fn rewrite(model: &[u8], spec: &InputSpec) -> Result<Vec<u8>, ByteInputError> {
    match spec.element {
        Some(ElementType::F32) => {}
        Some(ElementType::F16) => return Err(ByteInputError::Float16),
        Some(ElementType::U8) => return Err(ByteInputError::AlreadyBytes),
        None => return Err(ByteInputError::OtherElement),
    }
    let mut out = Vec::with_capacity(model.len() + 512);
    let mut graphs = 0;
    for field in fields(model)? {
        if field.number == MODEL_GRAPH && field.wire == WireType::LengthDelimited {
            graphs += 1;
            let graph = rewrite_graph(field.payload, spec)?;
            encode_key(MODEL_GRAPH, WireType::LengthDelimited, &mut out);
            encode_varint(graph.len() as u64, &mut out);
            out.extend_from_slice(&graph);
        } else {
            out.extend_from_slice(field.raw);
        }
    }
    if graphs != 1 {
        return Err(ByteInputError::Graphs(graphs));
    }
    Ok(out)
}

fn rewrite_graph(graph: &[u8], spec: &InputSpec) -> Result<Vec<u8>, ByteInputError> {
    let byte_input = input_name(&spec.name);
    let prefix = format!("/sv_byte_input/{}", spec.name);
    let (cast, scale) = (format!("{prefix}/Cast_output_0"), format!("{prefix}/255"));
    let nodes = [
        NodeProto::cast(&format!("{prefix}/Cast"), &byte_input, &cast, FLOAT),
        NodeProto {
            input: vec![cast, scale.clone()],
            output: vec![spec.name.clone()],
            name: format!("{prefix}/Div"),
            op_type: "Div".into(),
            attribute: Vec::new(),
        },
    ];
    let mut out = Vec::with_capacity(graph.len() + 512);
    for node in &nodes {
        node.encode_length_delimited_field(GRAPH_NODE, &mut out);
    }
    TensorProto {
        dims: Vec::new(),
        data_type: FLOAT,
        float_data: vec![255.0],
        name: scale,
    }
    .encode_length_delimited_field(GRAPH_INITIALIZER, &mut out);

    let mut replaced = 0;
    for field in fields(graph)? {
        if field.number == GRAPH_INPUT && field.wire == WireType::LengthDelimited {
            let input =
                ValueInfoProto::decode(field.payload).map_err(ByteInputError::GraphInput)?;
            if input.name == spec.name {
                replaced += 1;
                bytes_input(&input, &byte_input)?
                    .encode_length_delimited_field(GRAPH_INPUT, &mut out);
                continue;
            }
            if input.name == byte_input {
                return Err(ByteInputError::NameTaken(byte_input));
            }
        }
        out.extend_from_slice(field.raw);
    }
    if replaced != 1 {
        return Err(ByteInputError::Inputs {
            count: replaced,
            name: spec.name.clone(),
        });
    }
    Ok(out)
}

/// `input` as a uint8 tensor of the same shape, named `name`.
fn bytes_input(input: &ValueInfoProto, name: &str) -> Result<ValueInfoProto, ByteInputError> {
    let shape = input
        .r#type
        .as_ref()
        .and_then(|t| t.tensor_type.as_ref())
        .and_then(|t| t.shape.clone())
        .unwrap_or_default();
    if shape.dim.len() != 4 || shape.dim[1].dim_value.is_some_and(|c| c != 3) {
        return Err(ByteInputError::InputShape(describe(&shape)));
    }
    Ok(ValueInfoProto {
        name: name.to_owned(),
        r#type: Some(TypeProto {
            tensor_type: Some(TensorTypeProto {
                elem_type: UINT8,
                shape: Some(shape),
            }),
        }),
    })
}

fn describe(shape: &TensorShapeProto) -> String {
    let dims: Vec<String> = shape
        .dim
        .iter()
        .map(|d: &Dimension| match (&d.dim_value, &d.dim_param) {
            (Some(v), _) => v.to_string(),
            (None, Some(p)) => p.clone(),
            (None, None) => "?".into(),
        })
        .collect();
    format!("[{}]", dims.join(", "))
}

trait LengthDelimitedField: Message + Sized {
    /// Appends `self` as field `number` of the enclosing message.
    fn encode_length_delimited_field(&self, number: u32, out: &mut Vec<u8>) {
        encode_key(number, WireType::LengthDelimited, out);
        encode_varint(self.encoded_len() as u64, out);
        self.encode_raw(out);
    }
}

impl<M: Message> LengthDelimitedField for M {}

/// One field of a serialized message: its number, wire type, the whole
/// field as written (key included) and, for length-delimited fields, the
/// bytes inside.
struct Field<'a> {
    number: u32,
    wire: WireType,
    raw: &'a [u8],
    payload: &'a [u8],
}

/// The top-level fields of a serialized protobuf message, in order.
fn fields(message: &[u8]) -> Result<Vec<Field<'_>>, ByteInputError> {
    let mut rest = message;
    let mut out = Vec::new();
    while rest.has_remaining() {
        let start = message.len() - rest.len();
        let (number, wire) = decode_key(&mut rest)?;
        let skip = |rest: &mut &[u8], n: usize| -> Result<(), ByteInputError> {
            if rest.len() < n {
                return Err(ByteInputError::Truncated);
            }
            rest.advance(n);
            Ok(())
        };
        let mut payload: &[u8] = &[];
        match wire {
            WireType::Varint => {
                decode_varint(&mut rest)?;
            }
            WireType::SixtyFourBit => skip(&mut rest, 8)?,
            WireType::ThirtyTwoBit => skip(&mut rest, 4)?,
            WireType::LengthDelimited => {
                let len = decode_varint(&mut rest)? as usize;
                if rest.len() < len {
                    return Err(ByteInputError::Truncated);
                }
                payload = &rest[..len];
                rest.advance(len);
            }
            WireType::StartGroup | WireType::EndGroup => {
                return Err(ByteInputError::Groups);
            }
        }
        let end = message.len() - rest.len();
        out.push(Field {
            number,
            wire,
            raw: &message[start..end],
            payload,
        });
    }
    Ok(out)
}

// The onnx.proto messages the rewrite writes (only the fields it sets).

#[derive(Clone, PartialEq, Message)]
struct NodeProto {
    #[prost(string, repeated, tag = "1")]
    input: Vec<String>,
    #[prost(string, repeated, tag = "2")]
    output: Vec<String>,
    #[prost(string, tag = "3")]
    name: String,
    #[prost(string, tag = "4")]
    op_type: String,
    #[prost(message, repeated, tag = "5")]
    attribute: Vec<AttributeProto>,
}

impl NodeProto {
    fn cast(name: &str, input: &str, output: &str, to: i32) -> Self {
        Self {
            input: vec![input.to_owned()],
            output: vec![output.to_owned()],
            name: name.to_owned(),
            op_type: "Cast".into(),
            attribute: vec![AttributeProto {
                name: "to".into(),
                i: i64::from(to),
                r#type: ATTRIBUTE_INT,
            }],
        }
    }
}

#[derive(Clone, PartialEq, Message)]
struct AttributeProto {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(int64, tag = "3")]
    i: i64,
    #[prost(int32, tag = "20")]
    r#type: i32,
}

#[derive(Clone, PartialEq, Message)]
struct TensorProto {
    #[prost(int64, repeated, tag = "1")]
    dims: Vec<i64>,
    #[prost(int32, tag = "2")]
    data_type: i32,
    #[prost(float, repeated, tag = "4")]
    float_data: Vec<f32>,
    #[prost(string, tag = "8")]
    name: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::onnx_file::OnnxHeader;
    use std::path::{Path, PathBuf};

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/fixtures/models")
            .join(name)
    }

    fn rewritten(name: &str) -> (OnnxHeader, Vec<u8>) {
        let path = fixture(name);
        let header = OnnxHeader::read(&path).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        let out = rewrite(&bytes, &header.input).unwrap();
        (header, out)
    }

    #[test]
    fn the_input_becomes_bytes_of_the_same_shape() {
        for name in ["players.onnx", "pitch.onnx", "pitch_fp16.onnx"] {
            let (before, bytes) = rewritten(name);
            let after = OnnxHeader::parse(name, &bytes).unwrap();
            assert_eq!(after.input.name, "images_u8", "{name}");
            assert_eq!(after.input.element, Some(ElementType::U8), "{name}");
            assert_eq!(after.input.dims, before.input.dims, "{name}");
            // Metadata (a field after the graph) survives.
            assert_eq!(after.info, before.info, "{name}");
        }
    }

    #[test]
    fn every_other_byte_is_kept() {
        // The weights are most of the file; the rewrite adds a few hundred
        // bytes and changes one input's type.
        let path = fixture("players.onnx");
        let original = std::fs::read(&path).unwrap();
        let (_, bytes) = rewritten("players.onnx");
        assert!(bytes.len() > original.len());
        assert!(bytes.len() < original.len() + 1024, "{}", bytes.len());
        let fields_before: Vec<u32> = fields(&original)
            .unwrap()
            .iter()
            .map(|f| f.number)
            .collect();
        let fields_after: Vec<u32> = fields(&bytes).unwrap().iter().map(|f| f.number).collect();
        assert_eq!(fields_before, fields_after);
    }

    #[test]
    fn float16_inputs_are_left_as_they_are() {
        let path = fixture("players_fp16io.onnx");
        let header = OnnxHeader::read(&path).unwrap();
        assert_eq!(header.input.element, Some(ElementType::F16));
        let err = rewrite(&std::fs::read(&path).unwrap(), &header.input).unwrap_err();
        assert!(matches!(err, ByteInputError::Float16), "{err}");
        assert!(err.to_string().contains("float16"), "{err}");
    }

    #[test]
    fn what_cannot_be_rewritten_is_refused() {
        let path = fixture("players.onnx");
        let bytes = std::fs::read(&path).unwrap();
        let header = OnnxHeader::read(&path).unwrap();
        let mut other = header.input.clone();
        other.name = "not_there".into();
        assert!(
            rewrite(&bytes, &other)
                .unwrap_err()
                .to_string()
                .contains("0 inputs named not_there")
        );
        let mut u8_input = header.input.clone();
        u8_input.element = Some(ElementType::U8);
        assert!(
            rewrite(&bytes, &u8_input)
                .unwrap_err()
                .to_string()
                .contains("already takes bytes")
        );
        assert!(rewrite(&[0xff, 0xff, 0xff], &header.input).is_err());
        assert!(rewrite(&bytes[..bytes.len() / 2], &header.input).is_err());
        // Rewriting twice finds the byte input already there.
        let once = rewrite(&bytes, &header.input).unwrap();
        assert!(rewrite(&once, &header.input).is_err());
    }
}
