//! `scorevision score CLIP ANSWER.json`: the validator's scoring of one
//! answer, run here (sv-score). Without the `score` feature (off by default:
//! the serving binary and the images carry no OpenCV) it says so and exits 64.

use std::path::PathBuf;

use clap::Args;

use crate::error::ConfigError;

#[derive(Debug, Args)]
pub struct ScoreArgs {
    /// The clip the answer is for (a local file).
    pub clip: PathBuf,
    /// The answer as a miner sends it (`scorevision process` writes one).
    pub answer: PathBuf,
    /// Print the report as JSON (keys: keypoint_score, keypoint_terms,
    /// box_score, quality, speed, final, frames_scored, ...).
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub scoring: ScoringArgs,
    /// Seconds the answer took on the validator's clock (request sent to
    /// answer received): adds the speed score, and the final score.
    #[arg(long, value_name = "T")]
    pub time_s: Option<f64>,
    /// Score an answer that lacks some of the clip's frames (the validator
    /// counts them against it) instead of refusing it.
    #[arg(long)]
    pub allow_missing_frames: bool,
    /// Decode by seeking to every frame, as the validator's frame pass does
    /// (slower; the same pictures wherever seeking is exact).
    #[arg(long)]
    pub seek: bool,
    /// libonnxruntime.so for the CLIP encoder (default: ORT_DYLIB_PATH, then the project's .venv).
    #[arg(long, env = "SV_ORT_LIBRARY")]
    pub ort_library: Option<PathBuf>,
}

/// What `score` and `bench` share: CLIP, the competition, assumptions.
#[derive(Debug, Clone, Args)]
pub struct ScoringArgs {
    /// CLIP ViT-B/32 image encoder as ONNX (deploy/export_clip.py): the
    /// validator's pitch-frame filter and the box score. Needs --clip-text.
    #[arg(long, value_name = "MODEL.onnx")]
    pub clip_image: Option<PathBuf>,
    /// The prompts' text embeddings for --clip-image (JSON, deploy/export_clip.py).
    #[arg(long, value_name = "EMB.json")]
    pub clip_text: Option<PathBuf>,
    /// The fastest competitor's time in seconds (the validator's t_min,
    /// among answers whose box score is over 0.2).
    #[arg(long, value_name = "T0", default_value_t = 1.0)]
    pub fastest_s: f64,
    /// The box score (0..1) to take where it is not measured (no CLIP).
    #[arg(long, value_name = "B")]
    pub assume_box_score: Option<f64>,
    /// Seed for the 100 frames the box score is drawn from (clips with
    /// more than 100 pitch frames; the validator's draw is unseeded).
    #[arg(long, default_value_t = 0)]
    pub box_seed: u64,
}

impl ScoringArgs {
    /// The CLIP pair, both or neither; numbers in range.
    pub fn check(&self) -> Result<Option<(PathBuf, PathBuf)>, ConfigError> {
        if !(self.fastest_s.is_finite() && self.fastest_s > 0.0) {
            return Err(ConfigError::Invalid(format!(
                "--fastest-s {} is not a positive number of seconds",
                self.fastest_s
            )));
        }
        if let Some(b) = self.assume_box_score
            && !(0.0..=1.0).contains(&b)
        {
            return Err(ConfigError::Invalid(format!(
                "--assume-box-score {b} is not in 0..1"
            )));
        }
        match (&self.clip_image, &self.clip_text) {
            (Some(image), Some(text)) => Ok(Some((image.clone(), text.clone()))),
            (None, None) => Ok(None),
            (Some(_), None) => Err(ConfigError::Invalid(
                "--clip-image needs --clip-text".into(),
            )),
            (None, Some(_)) => Err(ConfigError::Invalid(
                "--clip-text needs --clip-image".into(),
            )),
        }
    }
}

#[cfg(feature = "score")]
pub async fn run(args: ScoreArgs) -> anyhow::Result<()> {
    let clip_files = args.scoring.check()?;
    if let Some(t) = args.time_s
        && !(t.is_finite() && t >= 0.0)
    {
        return Err(
            ConfigError::Invalid(format!("--time-s {t} is not a number of seconds")).into(),
        );
    }
    tokio::task::spawn_blocking(move || {
        let mut clip = clip_files
            .map(|(image, text)| sv_score::Clip::load(&image, &text, args.ort_library.as_deref()))
            .transpose()
            .map_err(classify)?;
        let answer = sv_score::Answer::read(&args.answer).map_err(classify)?;
        let options = sv_score::Options {
            clip: clip.as_mut(),
            decode: if args.seek {
                sv_score::Decode::Seek
            } else {
                sv_score::Decode::Sequential
            },
            time: args.time_s.map(|t| (t, args.scoring.fastest_s)),
            assume_box_score: args.scoring.assume_box_score,
            box_seed: args.scoring.box_seed,
            allow_missing_frames: args.allow_missing_frames,
        };
        let report = sv_score::score(&args.clip, &answer, options).map_err(classify)?;
        if args.json {
            println!("{}", serde_json::to_string_pretty(&report)?);
        } else {
            print!("{report}");
        }
        Ok(())
    })
    .await?
}

/// Usage and model-file problems exit 64; data that cannot be scored, 1.
#[cfg(feature = "score")]
pub fn classify(e: sv_score::ScoreError) -> anyhow::Error {
    if e.is_usage() {
        ConfigError::refused(e).into()
    } else {
        e.into()
    }
}

#[cfg(not(feature = "score"))]
pub async fn run(args: ScoreArgs) -> anyhow::Result<()> {
    args.scoring.check()?;
    Err(ConfigError::Invalid(NOT_BUILT.into()).into())
}

/// What a build without scoring says.
#[cfg(not(feature = "score"))]
pub const NOT_BUILT: &str = "this scorevision was built without scoring (the `score` feature, \
     which links OpenCV); build it with `make release-score` (cargo build --release -p scorevision --features score)";
