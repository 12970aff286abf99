//! The one error type of sv-score. Each variant says whose fault it was:
//! [`ScoreError::is_usage`] separates a wrong command line or model file
//! (exit 64) from bad data, an answer or clip that cannot be scored (exit 1).

use std::path::PathBuf;

/// Everything that stops an answer from being scored; [`Self::is_usage`]
/// says which variants are usage errors (exit 64) and which bad data (1).
#[derive(Debug, thiserror::Error)]
pub enum ScoreError {
    /// The answer file could not be read (bad data, exit 1).
    #[error("reading the answer {path}: {source}")]
    ReadAnswer {
        /// The answer file as given.
        path: PathBuf,
        /// Why reading it failed.
        #[source]
        source: std::io::Error,
    },
    /// The answer file is not valid JSON (bad data, exit 1).
    #[error("the answer {path} is not JSON: {source}")]
    AnswerJson {
        /// The answer file as given.
        path: PathBuf,
        /// Where and why parsing stopped.
        #[source]
        source: serde_json::Error,
    },
    /// The JSON is not an answer the validator would store (no `frames`
    /// list, a frame without an integer `frame_number`, ...).
    #[error("the answer cannot be scored: {reason}")]
    BadAnswer {
        /// What is wrong, naming the frame.
        reason: crate::answer::AnswerFault,
    },
    /// The answer's frames do not fit the clip: a frame number past the
    /// clip's end, or (unless missing frames are allowed) fewer frames than
    /// the clip has. Usually the answer of another clip.
    #[error(
        "the answer has {answer} frames but the clip {clip} (frame numbers {range}); is it this clip's answer?"
    )]
    FrameCount {
        /// Frames in the answer.
        answer: usize,
        /// Frames in the clip as OpenCV decodes it.
        clip: usize,
        /// The frame numbers on each side, in words.
        range: String,
    },
    /// OpenCV cannot open or decode the clip, or it has no frames.
    #[error("the clip {path} does not decode: {detail}")]
    Video {
        /// The clip as given.
        path: PathBuf,
        /// What OpenCV reported, or what was missing.
        detail: String,
    },
    /// An OpenCV call failed while scoring one frame.
    #[error("OpenCV failed on frame {frame}: {source}")]
    OpenCv {
        /// The frame being scored.
        frame: u64,
        /// OpenCV's error.
        #[source]
        source: opencv::Error,
    },
    /// ONNX Runtime could not load the CLIP image encoder (usage, exit 64).
    #[error("the CLIP image encoder {path}: {detail}")]
    ClipModel {
        /// The model file as given.
        path: PathBuf,
        /// ONNX Runtime's message.
        detail: String,
    },
    /// The model loaded but is not CLIP ViT-B/32's image tower: wrong
    /// input or output count, type or shape (usage, exit 64).
    #[error(
        "the CLIP image encoder {path} has {what} {found}; expected CLIP ViT-B/32's image tower: one float32 input [batch, 3, 224, 224] and a float32 output [batch, 512] (deploy/export_clip.py makes it)"
    )]
    ClipShape {
        /// The model file as given.
        path: PathBuf,
        /// Which part is wrong (`"inputs"`, `"input"`, `"output"`, ...).
        what: &'static str,
        /// What the model has instead.
        found: String,
    },
    /// The CLIP text embeddings file is missing or malformed (usage,
    /// exit 64).
    #[error("the CLIP text embeddings {path}: {detail}")]
    ClipText {
        /// The embeddings file as given.
        path: PathBuf,
        /// What is wrong with it.
        detail: String,
    },
    /// The CLIP image encoder failed on a batch, or returned an output of
    /// the wrong size.
    #[error("running the CLIP image encoder: {detail}")]
    ClipRun {
        /// ONNX Runtime's message, or the size found.
        detail: String,
    },
    /// The ONNX Runtime library could not be found or loaded (usage,
    /// exit 64).
    #[error("ONNX Runtime: {0}")]
    Runtime(#[from] sv_infer::InferError),
    /// The tool was called or configured wrongly; the message says how
    /// (exit 64).
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
