//! `scorevision bench CLIP`: finds the fastest settings on this machine.
//! For each combination of provider, precision, batch size and lanes it
//! builds the embedded pipeline (models loaded and warmed, as `serve` does),
//! answers the clip end to end a few times, and reports the median: seconds,
//! frames per second, and how busy ONNX Runtime kept the lanes; and scores
//! each setting's answer as a validator would (`bench_score`). The row with
//! the highest expected final score for `--fastest-s` (the fastest one when
//! nothing could be scored) comes out as flags and as an `[infer]` TOML
//! table for `serve`.
//!
//! `--sweep-interval 1,2,3` also tries infer intervals (`--infer-interval`):
//! each row at an interval above 1 is compared with the row of the same
//! settings at interval 1 (the every-frame answer; measured first, added
//! when not listed), and only rows whose box agreement
//! ([`sv_track::Agreement::boxes`]) reaches `--min-agreement` can be the
//! best.
//!
//! - [`report`]: the table, the choice of the best row, the recommendation.

mod report;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use sv_core::{ChallengeResponse, FrameResult, MissingKeypoints, TrackSource, VideoRequest};
use sv_decode::DecodeConfig;
use sv_decode::config::HardwarePreference;
use sv_infer::{Precision, Provider};
use sv_track::{Agreement, ByteTrackConfig};

use crate::args::groups::ModelArgs;
use crate::bench_score::{BenchScorer, RowScore, final_note};
use crate::error::ConfigError;
pub use report::{best, recommendation, table};
use sv_infer::{Interval, Tuning};

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// The clip to answer (a local path, or a URL with --allow-private-urls for loopback).
    pub clip: String,
    #[command(flatten)]
    pub models: ModelArgs,
    /// Use hardware video decoders when present (auto) or never (off).
    #[arg(long, env = "SV_HARDWARE_DECODE", default_value = "auto", value_parser = crate::args::groups::hardware_decode())]
    pub hardware_decode: HardwarePreference,
    /// Providers to compare, each on its own with the CPU as fallback
    /// [default: the best one this ONNX Runtime has].
    #[arg(long, value_delimiter = ',')]
    pub sweep_providers: Option<Vec<Provider>>,
    /// Precisions to compare [default: fp32, and fp16 when both FP16 models are given].
    #[arg(long, value_delimiter = ',')]
    pub sweep_precisions: Option<Vec<Precision>>,
    /// Batch sizes to compare [default: 1,4,8,16 on a GPU, 1,2 on the CPU].
    #[arg(long, value_delimiter = ',')]
    pub sweep_batch: Option<Vec<usize>>,
    /// Lanes per device to compare (0: automatic) [default: 1,2 on a GPU, 0 on the CPU].
    #[arg(long, value_delimiter = ',')]
    pub sweep_lanes: Option<Vec<usize>>,
    /// Byte input off and/or on to compare (false,true) [default: the --byte-input setting].
    #[arg(long, value_delimiter = ',')]
    pub sweep_byte_input: Option<Vec<bool>>,
    /// Infer intervals to compare, e.g. 1,2,3 (1, the every-frame answer each
    /// is compared with, is added when missing) [default: the --infer-interval setting].
    #[arg(long, value_delimiter = ',', value_name = "N,...")]
    pub sweep_interval: Option<Vec<u32>>,
    /// The least box agreement with the every-frame answer (recall and
    /// precision at IoU 0.5) a row needs to be recommended, 0 to 1.
    #[arg(long, default_value_t = 0.95)]
    pub min_agreement: f64,
    /// Timed answers per setting (after the warm-up the models get when loaded).
    #[arg(long, default_value_t = 2)]
    pub runs: usize,
    /// Also write every row as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Let http(s) clips come from loopback or private addresses (testing).
    #[arg(long)]
    pub allow_private_urls: bool,
    #[command(flatten)]
    pub scoring: crate::score::ScoringArgs,
}

/// One setting's figures.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub provider: String,
    pub precision: String,
    pub batch_size: usize,
    /// Lanes per device as asked (0: automatic).
    pub lanes: usize,
    /// The models took the letterboxed bytes (`--byte-input`).
    pub byte_input: bool,
    /// The models ran on one frame in this many (`--infer-interval`).
    pub interval: u32,
    /// Box agreement with the same settings' every-frame answer (`None`:
    /// this row is that answer, or no interval was swept).
    pub agreement: Option<f64>,
    /// The device profile the stage resolved.
    pub profile: String,
    /// Models loaded and warmed (TensorRT: engines built or loaded).
    pub load_s: f64,
    /// Median time to answer the clip.
    pub seconds: f64,
    pub fps: f64,
    /// ONNX Runtime's share of the lanes' time while answering.
    pub ort_busy: f64,
    pub frames: usize,
    pub objects: usize,
    /// The answer scored as a validator would (None where it could not be).
    pub score: Option<RowScore>,
    pub error: Option<String>,
    #[serde(skip)]
    pub tuning: Tuning,
    /// The last answer, to compare the other intervals with.
    #[serde(skip)]
    pub answer: Vec<FrameResult>,
}

pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    let base = args.models.infer_config(None)?;
    let best_available = base.resolve()?.provider;
    let providers = args
        .sweep_providers
        .clone()
        .unwrap_or_else(|| vec![best_available]);
    let have_fp16 =
        args.models.player_model_fp16.is_some() && args.models.pitch_model_fp16.is_some();
    let precisions = args.sweep_precisions.clone().unwrap_or_else(|| {
        if have_fp16 {
            vec![Precision::Fp32, Precision::Fp16]
        } else {
            vec![Precision::Fp32]
        }
    });
    if precisions.contains(&Precision::Fp16) && !have_fp16 {
        return Err(
            ConfigError::Invalid("fp16 needs --player-fp16 and --pitch-fp16".into()).into(),
        );
    }
    let gpu = best_available.is_gpu();
    let batches = args
        .sweep_batch
        .clone()
        .unwrap_or_else(|| if gpu { vec![1, 4, 8, 16] } else { vec![1, 2] });
    let lanes = args
        .sweep_lanes
        .clone()
        .unwrap_or_else(|| if gpu { vec![1, 2] } else { vec![0] });
    if args.runs == 0 || batches.contains(&0) {
        return Err(ConfigError::Invalid(
            "--runs and every --sweep-batch must be at least 1".into(),
        )
        .into());
    }
    let intervals = intervals(args.sweep_interval.as_deref())?;
    if !(0.0..=1.0).contains(&args.min_agreement) {
        return Err(ConfigError::Invalid(format!(
            "--min-agreement {} is not a share between 0 and 1",
            args.min_agreement
        ))
        .into());
    }

    // None: the operator's own --byte-input (or the default) for every row.
    let byte_inputs: Vec<Option<bool>> = match &args.sweep_byte_input {
        Some(v) => v.iter().copied().map(Some).collect(),
        None => vec![None],
    };

    let mut settings = Vec::new();
    for &provider in &providers {
        for &precision in &precisions {
            for &batch in &batches {
                for &lane in &lanes {
                    for &byte_input in &byte_inputs {
                        for &interval in &intervals {
                            settings.push(Tuning {
                                providers: Some(fallback_list(provider)),
                                precision: Some(precision),
                                batch_size: Some(batch),
                                lanes: Some(lane),
                                byte_input,
                                infer_interval: interval.map(Interval::from),
                                ..Tuning::default()
                            });
                        }
                    }
                }
            }
        }
    }
    let progress = progress_bar((settings.len() * (args.runs + 1)) as u64);
    let decode = DecodeConfig {
        hardware: args.hardware_decode,
        fetch: {
            let mut fetch = DecodeConfig::default().fetch;
            fetch.allow_private = args.allow_private_urls;
            fetch
        },
        ..DecodeConfig::default()
    };
    let mut scorer = match BenchScorer::new(
        &args.clip,
        &args.scoring,
        args.models.ort_library.as_deref(),
    ) {
        Ok(scorer) => Some(scorer),
        Err(e) if e.downcast_ref::<ConfigError>().is_some() => return Err(e),
        Err(e) => {
            eprintln!("Scores: none ({e:#}); the best setting is the fastest.");
            None
        }
    };
    let mut rows = Vec::with_capacity(settings.len());
    for sweep in settings {
        // The operator's own flags apply to every row; the swept ones win.
        let tuning = sweep.or(args.models.tuning.clone());
        progress.set_message(label(&tuning));
        let mut row = measure(&args, &tuning, decode.clone(), &progress, scorer.as_mut()).await;
        if args.sweep_interval.is_some() {
            row.agreement = every_frame_answer(&rows, &row)
                .map(|reference| Agreement::between(&reference.answer, &row.answer).boxes());
        }
        let line = match &row.error {
            Some(e) => format!("{}: failed: {e}", label(&tuning)),
            None => format!(
                "{}: {:.3} s, {:.1} fps{}",
                label(&tuning),
                row.seconds,
                row.fps,
                row.agreement
                    .map_or(String::new(), |a| format!(", box agreement {a:.3}"))
            ),
        };
        // Above the bar on a terminal; as a plain line into a log.
        if progress.is_hidden() {
            eprintln!("{line}");
        } else {
            progress.println(line);
        }
        rows.push(row);
        // After every row, so a sweep cut short keeps what it measured.
        if let Some(path) = &args.json {
            write_json(path, &rows)?;
        }
    }
    progress.finish_and_clear();

    println!("{}", table(&rows));
    if let Some(note) = final_note(rows.iter().filter_map(|r| r.score), args.scoring.fastest_s) {
        println!("{note}");
    }
    if let Some(best) = best(&rows, args.min_agreement) {
        println!("{}", recommendation(best));
    } else {
        println!("No setting answered the clip.");
    }
    Ok(())
}

/// The intervals to sweep, the every-frame one first (`None`: no sweep,
/// the operator's own setting).
fn intervals(sweep: Option<&[u32]>) -> Result<Vec<Option<u32>>, ConfigError> {
    let Some(sweep) = sweep else {
        return Ok(vec![None]);
    };
    if sweep.contains(&0) {
        return Err(ConfigError::Invalid(
            "--sweep-interval: every interval must be 1 or more".into(),
        ));
    }
    let mut out = vec![Some(1)];
    for &n in sweep {
        if !out.contains(&Some(n)) {
            out.push(Some(n));
        }
    }
    Ok(out)
}

/// The row measured before `row` with the same settings at interval 1.
fn every_frame_answer<'a>(rows: &'a [Row], row: &Row) -> Option<&'a Row> {
    if row.interval == 1 || row.error.is_some() {
        return None;
    }
    let same = |r: &&Row| {
        let every_frame = Tuning {
            infer_interval: Some(Interval::from(1)),
            ..row.tuning.clone()
        };
        r.tuning == every_frame && r.error.is_none()
    };
    rows.iter().find(same)
}

fn write_json(path: &std::path::Path, rows: &[Row]) -> anyhow::Result<()> {
    let json = serde_json::to_vec_pretty(rows)?;
    std::fs::write(path, json).with_context(|| format!("writing {}", path.display()))
}

/// A GPU provider keeps the CPU behind it for the operators it lacks.
fn fallback_list(provider: Provider) -> Vec<Provider> {
    match provider {
        Provider::Cpu => vec![Provider::Cpu],
        p => vec![p, Provider::Cpu],
    }
}

fn label(t: &Tuning) -> String {
    format!(
        "{} {} batch {} lanes {}{}{}",
        t.providers
            .as_ref()
            .and_then(|p| p.first())
            .map_or("auto", |p| p.name()),
        t.precision.map_or("auto", Precision::name),
        t.batch_size.unwrap_or(0),
        t.lanes.map_or("auto".to_string(), |l| if l == 0 {
            "auto".into()
        } else {
            l.to_string()
        }),
        if t.byte_input == Some(true) {
            " byte input"
        } else {
            ""
        },
        t.infer_interval
            .as_ref()
            .and_then(|i| i.frames().ok())
            .map_or(String::new(), |n| format!(" interval {n}")),
    )
}

/// Builds the pipeline with `tuning`, answers the clip `runs` times.
async fn measure(
    args: &BenchArgs,
    tuning: &Tuning,
    decode: DecodeConfig,
    progress: &ProgressBar,
    scorer: Option<&mut BenchScorer>,
) -> Row {
    let mut row = Row {
        provider: tuning
            .providers
            .as_ref()
            .and_then(|p| p.first())
            .map_or("auto", |p| p.name())
            .to_string(),
        precision: tuning.precision.map_or("auto", Precision::name).to_string(),
        batch_size: tuning.batch_size.unwrap_or(0),
        lanes: tuning.lanes.unwrap_or(0),
        byte_input: tuning.byte_input.unwrap_or(false),
        interval: 1,
        agreement: None,
        profile: String::new(),
        load_s: 0.0,
        seconds: 0.0,
        fps: 0.0,
        ort_busy: 0.0,
        frames: 0,
        objects: 0,
        score: None,
        error: None,
        tuning: tuning.clone(),
        answer: Vec::new(),
    };
    match answer_runs(args, tuning, decode, progress, &mut row).await {
        Ok(answer) => {
            if let Some(scorer) = scorer {
                match serde_json::to_value(&answer)
                    .map_err(anyhow::Error::from)
                    .and_then(|a| scorer.score(&a, row.seconds))
                {
                    Ok(score) => row.score = Some(score),
                    Err(e) => eprintln!("{}: not scored: {e:#}", label(tuning)),
                }
            }
        }
        Err(e) => row.error = Some(format!("{e:#}")),
    }
    row
}

async fn answer_runs(
    args: &BenchArgs,
    tuning: &Tuning,
    decode: DecodeConfig,
    progress: &ProgressBar,
    row: &mut Row,
) -> anyhow::Result<ChallengeResponse> {
    let models = ModelArgs {
        tuning: tuning.clone(),
        ..args.models.clone()
    };
    let config = models.infer_config(None)?;
    row.interval = config.infer_interval;
    let loading = Instant::now();
    let decode = sv_decode::Stage::new(decode)?;
    let infer = Arc::new(sv_infer::Stage::new(decode, &config)?);
    let track = sv_track::Stage::new(infer.clone(), ByteTrackConfig::default());
    row.load_s = loading.elapsed().as_secs_f64();
    progress.inc(1);
    let profile = infer
        .profile()
        .cloned()
        .context("the stage has no profile")?;
    row.profile = profile.to_string();
    row.byte_input = profile.byte_input;
    let lanes = profile.lanes * profile.devices.len();

    let mut times = Vec::with_capacity(args.runs);
    let mut busy = Vec::with_capacity(args.runs);
    let mut last = None;
    for run in 0..args.runs {
        let ort_before = infer.stats().inference();
        let started = Instant::now();
        let stream = track.track(VideoRequest::new(format!("bench-{run}"), &args.clip));
        // The answer serve gives by default, as serve would assemble it.
        let response =
            ChallengeResponse::assemble("bench", stream, started, MissingKeypoints::Zeros, |_| {})
                .await
                .with_context(|| format!("answering {}", args.clip))?;
        let wall = started.elapsed();
        let ort = infer.stats().inference().saturating_sub(ort_before);
        times.push(wall);
        busy.push(ort.as_secs_f64() / (wall.as_secs_f64() * lanes.max(1) as f64));
        row.frames = response.frames.len();
        row.objects = response.frames.iter().map(|f| f.objects.len()).sum();
        row.answer = response.frames.clone();
        last = Some(response);
        progress.inc(1);
    }
    let median = median(&mut times);
    row.seconds = median.as_secs_f64();
    row.fps = row.frames as f64 / row.seconds.max(1e-9);
    busy.sort_by(f64::total_cmp);
    row.ort_busy = busy[busy.len() / 2];
    last.context("no run answered")
}

fn median(times: &mut [Duration]) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn progress_bar(total: u64) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} {msg}  {elapsed}")
            .expect("valid template"),
    );
    bar
}
