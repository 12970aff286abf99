//! [`Stage`]: the decode stage in process, as a [`FrameSource`].

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use sv_core::{Frame, FrameSource, FrameStream, StageError, VideoRequest};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tracing::Instrument;
use tracing::field::Empty;

use crate::budget::{FrameBudget, Held};
use crate::config::DecodeConfig;
use crate::error::DecodeError;
use crate::fetch::{FetchError, Fetcher};
use crate::metrics::DecodeMetrics;
use crate::pipeline::{self, DecodeSummary};
use crate::progressive::{self, GrowingFile, Outcome, Progress, Report};
use crate::source::{self, Download, Source};
use crate::stats::DecodeStats;

/// The decode stage in process: a [`sv_core::FrameSource`] that fetches
/// each request's video (downloading it, or reading a local file when
/// allowed) and streams its RGB frames in order. Cheap to clone; clones
/// share the fetcher, the metrics and the last video's stats.
#[derive(Clone)]
pub struct Stage {
    config: Arc<DecodeConfig>,
    fetcher: Arc<Fetcher>,
    last: Arc<Mutex<DecodeStats>>,
    in_flight: Arc<AtomicUsize>,
    metrics: DecodeMetrics,
}

/// Counts a video in [`Stage::in_flight`] for as long as it lives.
struct InFlight(Arc<AtomicUsize>);

impl InFlight {
    fn new(count: &Arc<AtomicUsize>) -> Self {
        count.fetch_add(1, Ordering::SeqCst);
        Self(count.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Stage {
    /// The stage; with `config.warm_up`, the first one in a process decodes
    /// the built-in clip first (blocking: NVDEC's set-up takes seconds). The
    /// first one on a download directory removes what processes that died
    /// left there (the `sweep` module).
    pub fn new(config: DecodeConfig) -> Result<Self, DecodeError> {
        // Downloads a killed earlier process left (once per process).
        crate::sweep::once(&config.download_dir, crate::sweep::Leftover::Download);
        pipeline::init(&config)?;
        if config.warm_up {
            let _ = crate::warm::once(&config);
        }
        let fetcher = Fetcher::new(config.fetch.clone())?;
        let in_flight = Arc::default();
        let metrics = DecodeMetrics::new(fetcher.retries().clone(), Arc::clone(&in_flight));
        Ok(Self {
            config: Arc::new(config),
            fetcher: Arc::new(fetcher),
            last: Arc::default(),
            in_flight,
            metrics,
        })
    }

    /// The stage's Prometheus series (`sv_decode_*`).
    pub fn metrics(&self) -> &DecodeMetrics {
        &self.metrics
    }

    /// Statistics of the most recently finished video.
    pub fn last_stats(&self) -> DecodeStats {
        self.last.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Videos being fetched or decoded right now (a consumer that left
    /// stops its video in the background; this says when it has).
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::SeqCst)
    }
}

/// A frame (or the error ending the video) with its share of the frame
/// budget, returned when the consumer receives it.
type Sent = (Result<Frame, StageError>, Option<Held>);
type Sender = mpsc::Sender<Sent>;

impl FrameSource for Stage {
    fn frames(&self, mut request: VideoRequest) -> FrameStream {
        let (tx, rx) = mpsc::channel(self.config.channel_capacity.max(1));
        let budget = FrameBudget::new(self.config.frames_in_flight_bytes);
        let this = self.clone();
        let in_flight = InFlight::new(&self.in_flight);
        // One span per video, joined to the caller's trace (another process
        // or the same one); where the time went is recorded on it.
        let span = sv_telemetry::stage_span(
            tracing::info_span!(
                "decode",
                challenge_id = %request.challenge_id,
                frames = Empty,
                decoder = Empty,
                streamed = Empty,
                download_ms = Empty,
                first_byte_ms = Empty,
                first_frame_ms = Empty,
                busy_ms = Empty,
            ),
            &mut request.trace,
        );
        let work = async move {
            let _in_flight = in_flight;
            if let Err(e) = this
                .run(
                    request,
                    Emitting {
                        tx: tx.clone(),
                        budget,
                    },
                )
                .await
            {
                this.metrics.failed(&e);
                // The receiver may be gone already; then nobody needs to know.
                let _ = tx.send((Err(StageError::from(e)), None)).await;
            }
        };
        tokio::spawn(work.instrument(span));
        // Receiving a frame returns its share of the budget.
        Box::pin(ReceiverStream::new(rx).map(|(item, _share)| item))
    }
}

/// Where one video's frames go: the channel to the consumer and the byte
/// budget of frames in flight on it.
struct Emitting {
    tx: Sender,
    budget: Arc<FrameBudget>,
}

/// Hands frames to the consumer from the decode thread, timing the first
/// one and the time spent blocked on a slow consumer.
struct Emitter {
    to: Emitting,
    started: Instant,
    first_frame: Option<Duration>,
    blocked: Duration,
}

impl Emitter {
    fn new(to: Emitting, started: Instant) -> Self {
        Self {
            to,
            started,
            first_frame: None,
            blocked: Duration::ZERO,
        }
    }

    fn emit(&mut self, frame: Frame) -> bool {
        let now = Instant::now();
        self.first_frame
            .get_or_insert_with(|| now.duration_since(self.started));
        let tx = &self.to.tx;
        let open = match self.to.budget.take(frame.data.len(), || tx.is_closed()) {
            Some(share) => tx.blocking_send((Ok(frame), Some(share))).is_ok(),
            None => false,
        };
        self.blocked += now.elapsed();
        open
    }
}

fn thread_panicked(e: tokio::task::JoinError) -> DecodeError {
    DecodeError::Gstreamer {
        message: format!("decode thread panicked: {e}"),
    }
}

impl Stage {
    async fn run(&self, request: VideoRequest, to: Emitting) -> Result<(), DecodeError> {
        let started = Instant::now();
        let id = request.challenge_id.clone();
        let source = source::classify(&request.video_url, self.config.local_files)?;
        let (summary, stats) = match source {
            Source::Local(path) => self.decode_local(path, &id, started, to).await?,
            Source::Http(url) => self.decode_download(url, &id, started, to).await?,
        };
        let span = tracing::Span::current();
        span.record("frames", stats.frames);
        span.record("decoder", stats.decoder.as_deref().unwrap_or("unknown"));
        span.record("streamed", stats.streamed);
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        span.record("download_ms", ms(stats.download));
        if let Some(d) = stats.first_byte {
            span.record("first_byte_ms", ms(d));
        }
        if let Some(d) = stats.first_frame {
            span.record("first_frame_ms", ms(d));
        }
        span.record("busy_ms", ms(stats.busy));
        if summary.cancelled {
            tracing::debug!(challenge_id = %id, frames = stats.frames, "Decode stopped: the consumer left.");
        } else {
            tracing::info!(
                challenge_id = %id,
                frames = stats.frames,
                decoder = stats.decoder.as_deref().unwrap_or("unknown"),
                streamed = stats.streamed,
                download_ms = ms(stats.download) as u64,
                first_frame_ms = stats.first_frame.map(|d| ms(d) as u64),
                busy_ms = ms(stats.busy) as u64,
                "Video decoded."
            );
        }
        self.metrics.finished(&stats, summary.cancelled);
        if let Ok(mut last) = self.last.lock() {
            *last = stats;
        }
        Ok(())
    }

    async fn decode_local(
        &self,
        path: PathBuf,
        id: &str,
        started: Instant,
        to: Emitting,
    ) -> Result<(DecodeSummary, DecodeStats), DecodeError> {
        let config = self.config.clone();
        let span = tracing::info_span!("gstreamer", challenge_id = %id);
        tokio::task::spawn_blocking(move || {
            let _span = span.enter();
            let began = Instant::now();
            let mut emitter = Emitter::new(to, started);
            let summary = pipeline::decode_file(&path, &config, |f| emitter.emit(f))?;
            let stats = DecodeStats {
                frames: summary.frames,
                first_frame: emitter.first_frame,
                busy: began.elapsed().saturating_sub(emitter.blocked),
                decoder: summary.decoder.clone(),
                ..DecodeStats::default()
            };
            Ok((summary, stats))
        })
        .await
        .map_err(thread_panicked)?
    }

    /// Downloads `url` and decodes it, while it arrives when its layout
    /// allows. The consumer leaving stops both; the decode ending first
    /// (an error, or no more frames wanted) stops the download.
    async fn decode_download(
        &self,
        url: String,
        id: &str,
        started: Instant,
        to: Emitting,
    ) -> Result<(DecodeSummary, DecodeStats), DecodeError> {
        let download = Download::new(&self.config.download_dir);
        let progress = Arc::new(Progress::default());
        let fetch = {
            let (fetcher, progress) = (self.fetcher.clone(), progress.clone());
            let mut sink = GrowingFile::new(download.path(), progress.clone());
            async move {
                let result = fetcher.download_into(&url, &mut sink).await;
                progress.finish(result.is_ok());
                result
            }
            .instrument(tracing::info_span!("download", challenge_id = %id))
        };
        let consumer = to.tx.clone();
        let decode = {
            let (config, progress) = (self.config.clone(), progress.clone());
            let path = download.path().to_owned();
            let span = tracing::info_span!("gstreamer", challenge_id = %id);
            tokio::task::spawn_blocking(move || {
                let _span = span.enter();
                let began = Instant::now();
                let mut emitter = Emitter::new(to, started);
                // Messages name the challenge, not our temporary file.
                let uri = "the downloaded video";
                let decoded =
                    progressive::decode_download(&progress, &path, uri, &config, &mut |f| {
                        emitter.emit(f)
                    });
                decoded.map(|(outcome, report)| {
                    let busy = began
                        .elapsed()
                        .saturating_sub(emitter.blocked)
                        .saturating_sub(report.waited);
                    (outcome, report, emitter.first_frame, busy)
                })
            })
        };
        tokio::pin!(fetch, decode);
        let left = consumer.closed();
        tokio::pin!(left);
        let (mut fetched, mut downloaded): (Option<Result<u64, FetchError>>, _) = (None, None);
        let mut gone = false;
        let decoded = loop {
            tokio::select! {
                result = &mut fetch, if fetched.is_none() => {
                    downloaded = Some(started.elapsed());
                    fetched = Some(result);
                }
                () = &mut left, if !gone => {
                    gone = true;
                    progress.cancel();
                }
                decoded = &mut decode => break decoded.map_err(thread_panicked)?,
            }
        };
        let (outcome, report, first_frame, busy) = decoded?;
        let stats = |summary: &DecodeSummary, report: &Report| DecodeStats {
            frames: summary.frames,
            bytes: progress.snapshot().written,
            download: downloaded.unwrap_or_else(|| started.elapsed()),
            first_byte: progress
                .first_byte()
                .map(|t| t.saturating_duration_since(started)),
            first_frame,
            busy,
            decoder: summary.decoder.clone(),
            streamed: report.streamed,
            restarts: report.restarts,
        };
        match outcome {
            Outcome::Done(summary) => {
                let stats = stats(&summary, &report);
                Ok((summary, stats))
            }
            Outcome::Cancelled(summary) => {
                let stats = stats(&summary, &report);
                Ok((
                    DecodeSummary {
                        cancelled: true,
                        ..summary
                    },
                    stats,
                ))
            }
            Outcome::DownloadFailed(_) => {
                let result = match fetched {
                    Some(result) => result,
                    None => fetch.await,
                };
                Err(match result {
                    Err(e) => DecodeError::Fetch(e),
                    Ok(_) => DecodeError::Gstreamer {
                        message: "the download was reported failed but succeeded".into(),
                    },
                })
            }
        }
    }
}
