//! The one error type of sv-score. Each variant says whose fault it was:
//! [`ScoreError::is_usage`] separates a wrong command line or model file
//! (exit 64) from bad data, an answer or clip that cannot be scored (exit 1).

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ScoreError {
    #[error("reading the answer {path}: {source}")]
    ReadAnswer {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the answer {path} is not JSON: {source}")]
    AnswerJson {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("the answer cannot be scored: {reason}")]
    BadAnswer { reason: String },
    #[error(
        "the answer has {answer} frames but the clip {clip} (frame numbers {range}); is it this clip's answer?"
    )]
    FrameCount {
        answer: usize,
        clip: usize,
        range: String,
    },
    #[error("the clip {path} does not decode: {detail}")]
    Video { path: PathBuf, detail: String },
    #[error("OpenCV failed on frame {frame}: {source}")]
    OpenCv {
        frame: u64,
        #[source]
        source: opencv::Error,
    },
    #[error("the CLIP image encoder {path}: {detail}")]
    ClipModel { path: PathBuf, detail: String },
    #[error(
        "the CLIP image encoder {path} has {what} {found}; expected CLIP ViT-B/32's image tower: one float32 input [batch, 3, 224, 224] and a float32 output [batch, 512] (deploy/export_clip.py makes it)"
    )]
    ClipShape {
        path: PathBuf,
        what: &'static str,
        found: String,
    },
    #[error("the CLIP text embeddings {path}: {detail}")]
    ClipText { path: PathBuf, detail: String },
    #[error("running the CLIP image encoder: {detail}")]
    ClipRun { detail: String },
    #[error("ONNX Runtime: {0}")]
    Runtime(#[from] sv_infer::InferError),
    #[error("{0}")]
    Usage(String),
}

impl ScoreError {
    /// A problem with how the tool was called or configured (exit 64), as
    /// opposed to data that cannot be scored (exit 1).
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            Self::ClipModel { .. }
                | Self::ClipShape { .. }
                | Self::ClipText { .. }
                | Self::Runtime(_)
                | Self::Usage(_)
        )
    }
}
