//! `scorevision process CLIP`: one clip through the embedded pipeline, the
//! validator JSON out, a per-stage summary on stderr; `scorevision ask` does
//! the same through remote track replicas.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use sv_core::{ChallengeResponse, FrameTracks, MissingKeypoints, TrackSource, VideoRequest};
use sv_decode::DecodeConfig;

use crate::args::{AskArgs, ProcessArgs};
use crate::error::ConfigError;
use crate::metrics::{MetricsListen, serve_while};
use crate::pipeline::Embedded;
use sv_proto::UpstreamConfig;

pub async fn run(args: ProcessArgs) -> anyhow::Result<()> {
    let mut decode = DecodeConfig::default();
    args.fetch.apply(&mut decode)?;
    let loading = Instant::now();
    let pipeline = Embedded::build(&args.pipeline, decode, None)?;
    let load_time = loading.elapsed();
    let metrics = MetricsListen::bind(args.metrics_listen.as_ref(), None).await?;
    let _serving = metrics.map(|listener| serve_while(listener, pipeline.metrics()));

    let progress = progress_bar();
    let started = Instant::now();
    let tracks = pipeline
        .track
        .track(VideoRequest::new(&args.challenge_id, &args.clip));
    let mut with_pitch = 0;
    let response = ChallengeResponse::assemble(
        &args.challenge_id,
        tracks,
        started,
        args.keypoints.or(MissingKeypoints::default()),
        |frame| {
            with_pitch += usize::from(has_pitch(frame));
            progress.inc(1);
        },
    )
    .await
    .with_context(|| format!("processing {}", args.clip))?;
    progress.finish_and_clear();

    write_json(&response, args.out.as_deref())?;
    eprintln!("{}", summary(&pipeline, &response, with_pitch, load_time));
    Ok(())
}

/// `scorevision ask CLIP --track ADDR`: the same JSON, from remote track
/// replicas (decode and infer wherever they point).
pub async fn ask(args: AskArgs) -> anyhow::Result<()> {
    let track = sv_track::grpc::Remote::connect(&UpstreamConfig::new(&args.track_addrs))
        .map_err(ConfigError::refused)?;
    let progress = progress_bar();
    let started = Instant::now();
    let tracks = track.track(VideoRequest::new(&args.challenge_id, &args.clip));
    let response = ChallengeResponse::assemble(
        &args.challenge_id,
        tracks,
        started,
        args.keypoints.or(MissingKeypoints::default()),
        |_| progress.inc(1),
    )
    .await
    .with_context(|| format!("processing {} remotely", args.clip))?;
    progress.finish_and_clear();
    write_json(&response, args.out.as_deref())?;
    let frames = response.frames.len();
    let total = response.processing_time;
    eprintln!(
        "scorevision: {frames} frames in {total:.3} s ({:.1} fps) through {}",
        frames as f64 / total.max(1e-9),
        track.upstream().label()
    );
    Ok(())
}

/// Whether the pitch model found the pitch in a frame (the JSON alone cannot
/// tell: a frame without a pitch instance carries 32 zero pairs by default).
fn has_pitch(frame: &FrameTracks) -> bool {
    frame.keypoints.as_ref().is_some_and(|k| !k.is_empty())
}

/// The validator JSON, to a file or stdout.
fn write_json(response: &ChallengeResponse, out: Option<&std::path::Path>) -> anyhow::Result<()> {
    let json = serde_json::to_vec(response)?;
    match out {
        Some(path) => {
            std::fs::write(path, &json).with_context(|| format!("writing {}", path.display()))?
        }
        None => {
            let mut stdout = std::io::stdout().lock();
            stdout.write_all(&json)?;
            stdout.write_all(b"\n")?;
        }
    }
    Ok(())
}

fn progress_bar() -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {pos} frames  {per_sec}  {elapsed}")
            .expect("valid template"),
    );
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

/// Where decode's time went: the download (first and last byte), the first
/// frame (from the request and from the first byte), streamed or not.
fn decode_timing(decode: &sv_decode::stats::DecodeStats) -> String {
    let s = |d: Duration| d.as_secs_f64();
    let mut text = String::new();
    if let Some(first_byte) = decode.first_byte {
        text += &format!(
            ", downloaded in {:.3} s (first byte at {:.3} s)",
            s(decode.download),
            s(first_byte)
        );
    }
    if let Some(first_frame) = decode.first_frame {
        text += &format!(", first frame at {:.3} s", s(first_frame));
    }
    if let Some(after) = decode.first_frame_after_first_byte() {
        text += &format!(" ({:.3} s after the first byte)", s(after));
    }
    if decode.streamed {
        text += ", decoded while downloading";
    }
    text
}

/// Stage times are busy times: the stages overlap, so they add up to more
/// than the total when the pipeline keeps every stage working at once.
fn summary(
    pipeline: &Embedded,
    response: &ChallengeResponse,
    with_pitch: usize,
    load_time: Duration,
) -> String {
    let decode = pipeline.decode.last_stats();
    let infer = pipeline.infer.stats();
    let track = pipeline.track.stats();
    let frames = response.frames.len();
    let total = response.processing_time;
    let objects: usize = response.frames.iter().map(|f| f.objects.len()).sum();
    format!(
        "scorevision: {frames} frames in {total:.3} s ({fps:.1} fps), models loaded in {load:.2} s\n\
         \x20 decode   {decode_s:>8.3} s  decoder {decoder}{download}\n\
         \x20 infer    {infer_s:>8.3} s  {profile}, {batches} batches, {inferred} frames inferred{between}{retried}\n\
         \x20          models: {providers}\n\
         \x20 track    {track_s:>8.3} s{filled}\n\
         \x20 total    {total:>8.3} s  {objects} tracked objects, pitch found in {with_pitch}/{frames} frames",
        fps = frames as f64 / total.max(1e-9),
        load = load_time.as_secs_f64(),
        decode_s = decode.busy.as_secs_f64(),
        decoder = decode.decoder.as_deref().unwrap_or("unknown"),
        download = decode_timing(&decode),
        infer_s = infer.busy().as_secs_f64(),
        profile = pipeline.infer.profile().map_or_else(
            || pipeline.infer.provider().name().to_owned(),
            |p| p.to_string()
        ),
        providers = pipeline.infer.provider_report(),
        batches = infer.batches(),
        retried = match infer.retried_runs() {
            0 => String::new(),
            n => format!(", {n} failed runs retried in halves"),
        },
        inferred = infer.frames(),
        between = match infer.between_keyframes() {
            0 => String::new(),
            n => format!(
                ", {n} between keyframes ({} scene cut{})",
                infer.scene_cuts(),
                if infer.scene_cuts() == 1 { "" } else { "s" }
            ),
        },
        track_s = track.busy().as_secs_f64(),
        filled = match track.filled() {
            0 => String::new(),
            n => format!("  {n} frames filled from the keyframes either side"),
        },
    )
}
