//! The prompts' text embeddings: a JSON file
//! `{"model": "...", "texts": {"<prompt>": [512 floats], ...}}` holding the
//! 14 prompts the validator asks about (deploy/export_clip.py writes it).

use std::collections::HashMap;
use std::path::Path;

use serde::Deserialize;

use super::EMBED_DIM;
use crate::error::ScoreError;

/// One of the validator's CLIP questions: its prompts, in its order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Question {
    /// The pitch filter: a pitch, or a close-up.
    Pitch,
    /// Every box: a person, or grass.
    PersonOrGrass,
    /// The first ball: something round on grass, or not.
    Round,
    /// The first ball, if round: a ball, grass, or other.
    Ball,
    /// Person boxes: which role, or crowd, or a black shape.
    Role,
}

impl Question {
    /// Every question, in the validator's order; their prompts are the 14
    /// the embeddings file must hold.
    pub const ALL: [Question; 5] = [
        Question::Pitch,
        Question::PersonOrGrass,
        Question::Round,
        Question::Ball,
        Question::Role,
    ];

    /// The question's prompts, verbatim and in the validator's order: the
    /// index of the likeliest is the answer.
    pub fn prompts(self) -> &'static [&'static str] {
        match self {
            Question::Pitch => &["a football pitch", "a close-up of a football player"],
            Question::PersonOrGrass => &["person", "grass"],
            Question::Round => &["a photo of a round object on grass", "a random object"],
            Question::Ball => &[
                "a small soccer ball on the field",
                "just grass without any ball",
                "other",
            ],
            Question::Role => &[
                "football player",
                "goalkeeper",
                "referee",
                "crowd",
                "black shape",
            ],
        }
    }
}

#[derive(Deserialize)]
struct File {
    texts: HashMap<String, Vec<f64>>,
}

/// Unit-length embeddings of every prompt.
pub struct TextEmbeddings {
    by_prompt: HashMap<&'static str, Vec<f64>>,
}

impl TextEmbeddings {
    /// Reads the JSON file and checks that every prompt of every question
    /// has a non-zero embedding of [`EMBED_DIM`] values; the vectors are
    /// scaled to unit length.
    pub fn read(path: &Path) -> Result<TextEmbeddings, ScoreError> {
        let fail = |detail: String| ScoreError::ClipText {
            path: path.to_owned(),
            detail,
        };
        let bytes = std::fs::read(path).map_err(|e| fail(e.to_string()))?;
        let file: File = serde_json::from_slice(&bytes).map_err(|e| fail(e.to_string()))?;
        let mut by_prompt = HashMap::new();
        let mut missing = Vec::new();
        for prompt in Question::ALL.iter().flat_map(|q| q.prompts()) {
            match file.texts.get(*prompt) {
                Some(v) if v.len() == EMBED_DIM => {
                    let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
                    if !(norm > 0.0 && norm.is_finite()) {
                        return Err(fail(format!("the embedding of {prompt:?} has no length")));
                    }
                    by_prompt.insert(*prompt, v.iter().map(|x| x / norm).collect());
                }
                Some(v) => {
                    return Err(fail(format!(
                        "the embedding of {prompt:?} has {} values, expected {EMBED_DIM}",
                        v.len()
                    )));
                }
                None => missing.push(*prompt),
            }
        }
        if !missing.is_empty() {
            return Err(fail(format!("no embedding for {missing:?}")));
        }
        Ok(TextEmbeddings { by_prompt })
    }

    /// The question's embeddings, in prompt order.
    pub fn question(&self, q: Question) -> Vec<&[f64]> {
        q.prompts()
            .iter()
            .map(|p| self.by_prompt[p].as_slice())
            .collect()
    }
}
