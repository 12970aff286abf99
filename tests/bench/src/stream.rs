//! `sv-bench stream CLIP --rates 10,50,200`: decoding while downloading
//! against downloading first, on a loopback server throttled to each rate.
//! For each rate and mode: the time from the request to the first and to
//! the last frame, and the decode stage's own figures. The clip is served
//! with its index first (rewritten in memory when it is not: see
//! `faststart`), since only such a clip can be decoded as it arrives.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use futures::StreamExt;
use sv_core::{FrameSource, VideoRequest};
use sv_decode::{DecodeConfig, Stage};
use sv_test_http::{Pace, Reply, Server};

#[derive(Debug, Clone, Args)]
pub struct StreamArgs {
    clip: std::path::PathBuf,
    /// Server bandwidths in MB/s (10^6 bytes).
    #[arg(long, value_delimiter = ',', default_value = "10,50,200")]
    rates: Vec<f64>,
    /// Runs of each mode at each rate (interleaved); medians reported.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    #[arg(long, default_value = "auto", value_parser = ["auto", "off"])]
    hardware_decode: String,
    #[arg(long, default_value_t = 0)]
    convert_threads: usize,
}

/// Serves `body` at `/clip.mp4`, `/<rate>/clip.mp4` paced to `rate` MB/s.
async fn serve(body: Arc<Vec<u8>>) -> anyhow::Result<std::net::SocketAddr> {
    let server = Server::start(move |request| {
        let rate: Option<f64> = request
            .path
            .trim_start_matches('/')
            .split('/')
            .next()
            .and_then(|r| r.parse().ok());
        let reply = Reply::video(body.clone());
        match rate {
            Some(rate) => reply.pace(Pace::Rate {
                bytes_per_s: rate * 1e6,
            }),
            None => reply,
        }
    })
    .await?;
    Ok(server.addr)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

pub fn run(args: &StreamArgs) -> anyhow::Result<serde_json::Value> {
    let original = std::fs::read(&args.clip).with_context(|| args.clip.display().to_string())?;
    let body = crate::faststart::faststart(&original)?;
    let rewritten = body != original;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let addr = serve(Arc::new(body.clone())).await?;
        let local = |stream_downloads| -> anyhow::Result<Stage> {
            let mut config = DecodeConfig {
                hardware: crate::decode::hardware(&args.hardware_decode),
                convert_threads: args.convert_threads,
                stream_downloads,
                ..DecodeConfig::default()
            };
            config.fetch.allow_nets = vec!["127.0.0.1/32".parse()?];
            Ok(Stage::new(config)?)
        };
        let modes = [("streaming", local(true)?), ("download_then_decode", local(false)?)];
        let mut rows = Vec::new();
        for &rate in &args.rates {
            let url = format!("http://{addr}/{rate}/clip.mp4");
            let mut samples: BTreeMap<&str, Vec<serde_json::Value>> = BTreeMap::new();
            for _ in 0..args.runs.max(1) {
                for (name, local) in &modes {
                    let started = Instant::now();
                    let mut stream = local.frames(VideoRequest::new("bench", &url));
                    let (mut frames, mut first, mut last) = (0u64, None, 0.0);
                    while let Some(frame) = stream.next().await {
                        frame.map_err(|e| anyhow::anyhow!("{}", e.message))?;
                        last = started.elapsed().as_secs_f64();
                        first.get_or_insert(last);
                        frames += 1;
                    }
                    let s = local.last_stats();
                    samples.entry(name).or_default().push(serde_json::json!({
                        "frames": frames,
                        "first_frame_s": first,
                        "last_frame_s": last,
                        "download_s": s.download.as_secs_f64(),
                        "first_byte_s": s.first_byte.map(|d| d.as_secs_f64()),
                        "first_frame_after_first_byte_s": s.first_frame_after_first_byte().map(|d| d.as_secs_f64()),
                        "decode_busy_s": s.busy.as_secs_f64(),
                        "streamed": s.streamed,
                        "decoder": s.decoder,
                    }));
                }
            }
            let pick = |name: &str, key: &str| {
                median(
                    samples[name]
                        .iter()
                        .filter_map(|s| s[key].as_f64())
                        .collect(),
                )
            };
            let (st, dd) = ("streaming", "download_then_decode");
            rows.push(serde_json::json!({
                "rate_mb_s": rate,
                "median_last_frame_s": { st: pick(st, "last_frame_s"), dd: pick(dd, "last_frame_s") },
                "median_first_frame_s": { st: pick(st, "first_frame_s"), dd: pick(dd, "first_frame_s") },
                "median_download_s": { st: pick(st, "download_s"), dd: pick(dd, "download_s") },
                "median_first_frame_after_first_byte_s": pick(st, "first_frame_after_first_byte_s"),
                "runs": samples,
            }));
        }
        Ok(serde_json::json!({
            "clip": args.clip.display().to_string(),
            "bytes": body.len(),
            "index_moved_first": rewritten,
            "rates": rows,
        }))
    })
}
