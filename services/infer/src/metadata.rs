//! What ultralytics writes into an exported ONNX model's metadata
//! (docs/PARITY.md A6): every value is Python's `str()` of the value,
//! e.g. `names = "{0: 'ball', 1: 'goalkeeper'}"`, `imgsz = "[1280, 1280]"`.

use std::collections::BTreeMap;

use crate::error::InferError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Task {
    Detect,
    Pose,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelInfo {
    pub task: Task,
    pub names: BTreeMap<u32, String>,
    /// (height, width) the model was exported at.
    pub imgsz: (u32, u32),
    pub stride: u32,
    /// (keypoints, values per keypoint) for pose models.
    pub kpt_shape: Option<(usize, usize)>,
}

impl ModelInfo {
    /// Builds the info from a metadata lookup (`key -> value`).
    pub fn parse(model: &str, get: impl Fn(&str) -> Option<String>) -> Result<Self, InferError> {
        let bad = |key: &str, why: &str| InferError::Metadata {
            model: model.to_owned(),
            key: key.to_owned(),
            why: why.to_owned(),
        };
        let need = |key: &str| {
            get(key).ok_or_else(|| bad(key, "missing (was the model exported by ultralytics?)"))
        };
        let task = match need("task")?.as_str() {
            "detect" => Task::Detect,
            "pose" => Task::Pose,
            other => return Err(bad("task", &format!("unsupported task {other:?}"))),
        };
        let names =
            parse_names(&need("names")?).ok_or_else(|| bad("names", "not a {int: 'name'} dict"))?;
        if names.is_empty() {
            return Err(bad("names", "no classes"));
        }
        let imgsz = parse_ints(&need("imgsz")?).ok_or_else(|| bad("imgsz", "not an int list"))?;
        let imgsz = match imgsz.as_slice() {
            [s] => (*s as u32, *s as u32),
            [h, w] => (*h as u32, *w as u32),
            _ => return Err(bad("imgsz", "expected one or two sizes")),
        };
        let stride = need("stride")?
            .trim()
            .parse::<u32>()
            .map_err(|_| bad("stride", "not an integer"))?;
        let kpt_shape = match task {
            Task::Pose => {
                let shape = parse_ints(&need("kpt_shape")?)
                    .ok_or_else(|| bad("kpt_shape", "not an int list"))?;
                match shape.as_slice() {
                    [k, d @ (2 | 3)] => Some((*k as usize, *d as usize)),
                    _ => return Err(bad("kpt_shape", "expected [keypoints, 2 or 3]")),
                }
            }
            Task::Detect => None,
        };
        Ok(Self {
            task,
            names,
            imgsz,
            stride: stride.max(1),
            kpt_shape,
        })
    }
}

/// `"[1280, 1280]"` -> `[1280, 1280]`.
fn parse_ints(text: &str) -> Option<Vec<i64>> {
    let inner = text
        .trim()
        .strip_prefix(['[', '('])?
        .strip_suffix([']', ')'])?;
    inner
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().ok())
        .collect()
}

/// `"{0: 'ball', 1: \"goal's\"}"` -> {0: "ball", 1: "goal's"}: a Python dict
/// of int keys and quoted strings, with backslash escapes.
fn parse_names(text: &str) -> Option<BTreeMap<u32, String>> {
    let mut chars = text
        .trim()
        .strip_prefix('{')?
        .strip_suffix('}')?
        .chars()
        .peekable();
    let mut names = BTreeMap::new();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace() || *c == ',') {
            chars.next();
        }
        if chars.peek().is_none() {
            return Some(names);
        }
        let key: String = std::iter::from_fn(|| chars.next_if(|c| c.is_ascii_digit())).collect();
        let key = key.parse().ok()?;
        while chars.next_if(|c| c.is_whitespace() || *c == ':').is_some() {}
        let quote = chars.next().filter(|q| *q == '\'' || *q == '"')?;
        let mut name = String::new();
        loop {
            match chars.next()? {
                '\\' => name.push(chars.next()?),
                c if c == quote => break,
                c => name.push(c),
            }
        }
        names.insert(key, name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn parses_a_player_model() {
        let info = ModelInfo::parse(
            "players",
            meta(&[
                ("task", "detect"),
                ("stride", "32"),
                ("imgsz", "[1280, 1280]"),
                (
                    "names",
                    "{0: 'ball', 1: 'goalkeeper', 2: 'player', 3: 'referee'}",
                ),
            ]),
        )
        .unwrap();
        assert_eq!(info.task, Task::Detect);
        assert_eq!(info.imgsz, (1280, 1280));
        assert_eq!(info.names[&3], "referee");
        assert_eq!(info.kpt_shape, None);
    }

    #[test]
    fn parses_a_pose_model_and_odd_names() {
        let info = ModelInfo::parse(
            "pitch",
            meta(&[
                ("task", "pose"),
                ("stride", "32"),
                ("imgsz", "[640, 640]"),
                ("names", r#"{0: "it's"}"#),
                ("kpt_shape", "[32, 3]"),
            ]),
        )
        .unwrap();
        assert_eq!(info.kpt_shape, Some((32, 3)));
        assert_eq!(info.names[&0], "it's");
    }

    #[test]
    fn rejects_missing_and_malformed_keys() {
        let err = ModelInfo::parse("m", meta(&[("task", "detect")])).unwrap_err();
        assert!(err.to_string().contains("names"), "{err}");
        let err = ModelInfo::parse("m", meta(&[("task", "segment")])).unwrap_err();
        assert!(err.to_string().contains("segment"), "{err}");
        let err = ModelInfo::parse(
            "m",
            meta(&[
                ("task", "pose"),
                ("stride", "32"),
                ("imgsz", "[640]"),
                ("names", "{0: 'p'}"),
            ]),
        )
        .unwrap_err();
        assert!(err.to_string().contains("kpt_shape"), "{err}");
    }
}
