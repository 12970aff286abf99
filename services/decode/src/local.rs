//! [`Local`]: the decode stage in process, as a [`FrameSource`].

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sv_core::{FrameSource, FrameStream, StageError, VideoRequest};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tracing::Instrument;

use crate::config::DecodeConfig;
use crate::error::DecodeError;
use crate::fetch::Fetcher;
use crate::{pipeline, source};

/// What the last finished video cost, for the CLI's summary.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DecodeStats {
    pub frames: u64,
    /// Time spent fetching the video (zero for local files).
    pub download: Duration,
    /// Time decoding, excluding time blocked on a slow consumer.
    pub busy: Duration,
    pub decoder: Option<String>,
}

#[derive(Clone)]
pub struct Local {
    config: Arc<DecodeConfig>,
    fetcher: Arc<Fetcher>,
    last: Arc<Mutex<DecodeStats>>,
    in_flight: Arc<AtomicUsize>,
}

/// Counts a video in [`Local::in_flight`] for as long as it lives.
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

impl Local {
    /// The stage; with `config.warm_up`, the first one in a process decodes
    /// the built-in clip first (blocking: NVDEC's set-up takes seconds).
    pub fn new(config: DecodeConfig) -> Result<Self, DecodeError> {
        pipeline::init(&config)?;
        if config.warm_up {
            let _ = crate::warm::once(&config);
        }
        let fetcher = Fetcher::new(config.fetch.clone())?;
        Ok(Self {
            config: Arc::new(config),
            fetcher: Arc::new(fetcher),
            last: Arc::default(),
            in_flight: Arc::default(),
        })
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

impl FrameSource for Local {
    fn frames(&self, request: VideoRequest) -> FrameStream {
        let (tx, rx) = mpsc::channel(self.config.channel_capacity.max(1));
        let this = self.clone();
        let in_flight = InFlight::new(&self.in_flight);
        // One span per video, joined to the caller's trace (another process
        // or the same one).
        let span = tracing::info_span!("decode", challenge_id = %request.challenge_id);
        sv_telemetry::set_parent(&span, &request.trace);
        let work = async move {
            let _in_flight = in_flight;
            if let Err(e) = this.run(request, tx.clone()).await {
                // The receiver may be gone already; then nobody needs to know.
                let _ = tx.send(Err(StageError::from(e))).await;
            }
        };
        tokio::spawn(work.instrument(span));
        Box::pin(ReceiverStream::new(rx))
    }
}

impl Local {
    async fn run(
        &self,
        request: VideoRequest,
        tx: mpsc::Sender<Result<sv_core::Frame, StageError>>,
    ) -> Result<(), DecodeError> {
        let started = Instant::now();
        let video = source::resolve(&request.video_url, &self.fetcher, &self.config.download_dir)
            .instrument(tracing::info_span!("download", challenge_id = %request.challenge_id))
            .await?;
        let download = match video {
            source::VideoFile::Downloaded { .. } => started.elapsed(),
            source::VideoFile::Local(_) => Duration::ZERO,
        };
        let config = self.config.clone();
        let gstreamer = tracing::info_span!("gstreamer", challenge_id = %request.challenge_id);
        let decoded = tokio::task::spawn_blocking(move || {
            let _span = gstreamer.enter();
            let started = Instant::now();
            let mut blocked = Duration::ZERO;
            let summary = pipeline::decode_file(video.path(), &config, |frame| {
                let send_started = Instant::now();
                let open = tx.blocking_send(Ok(frame)).is_ok();
                blocked += send_started.elapsed();
                open
            });
            drop(video); // deletes a download only after GStreamer let go of it
            summary.map(|summary| (summary, started.elapsed().saturating_sub(blocked)))
        })
        .await
        .map_err(|e| DecodeError::Gstreamer {
            message: format!("decode thread panicked: {e}"),
        })?;
        let (summary, busy) = decoded?;
        if summary.cancelled {
            tracing::debug!(challenge_id = %request.challenge_id, frames = summary.frames, "Decode stopped: the consumer left.");
        } else {
            tracing::info!(
                challenge_id = %request.challenge_id,
                frames = summary.frames,
                decoder = summary.decoder.as_deref().unwrap_or("unknown"),
                "Video decoded."
            );
        }
        if let Ok(mut last) = self.last.lock() {
            *last = DecodeStats {
                frames: summary.frames,
                download,
                busy,
                decoder: summary.decoder,
            };
        }
        Ok(())
    }
}
