//! The pipeline's three kinds of threads and what flows between them:
//!
//! ```text
//! jobs --> prepare --meta (in order)------------------------------> post --> reply
//!             |                                                      ^
//!             +--work (rendezvous)--> lane 1..n (ONNX Runtime) --done+
//!             ^                              |
//!             +---------tensors back---------+
//! ```
//!
//! - prepare: letterboxes each batch straight into its two input tensors
//!   (frames spread over `prep_threads`), then lets go of the frames.
//! - lanes: each owns a session of both models and runs whatever input is
//!   next, in batches that fit (`crate::fit`: a failed run is split and
//!   retried); an input is handed over only when a lane takes it, so
//!   preparing runs one batch ahead of inference and no further.
//! - post: takes the batches in submission order, waits for their outputs,
//!   runs NMS and answers. Outputs are ONNX Runtime's own buffers, moved.

use std::sync::mpsc::{Receiver, Sender, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Instant;

use sv_core::{Frame, FrameDetections};
use tokio::sync::{mpsc, oneshot};

use super::stats::InferStats;
use crate::config::WorkerConfig;
use crate::detector::{Detector, assemble};
use crate::engine::Output;
use crate::error::InferError;
use crate::fit::Fitted;
use crate::metrics::{self, InferMetrics};
use crate::model::{Postprocess, Preprocess};
use crate::pre::Letterbox;
use crate::pre::batch::{self, same_size_runs};
use crate::tensor::{ElementType, InputTensor};

pub(super) type Reply = oneshot::Sender<Result<Vec<FrameDetections>, InferError>>;

pub(super) struct Job {
    pub frames: Vec<Frame>,
    pub reply: Reply,
    /// A warm-up's: kept out of the metrics.
    pub warm_up: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Model {
    Players,
    Pitch,
}

impl Model {
    /// Its `model` label in the metrics.
    fn label(self) -> &'static str {
        match self {
            Self::Players => "players",
            Self::Pitch => "pitch",
        }
    }
}

/// One model's input for one run of equally sized frames.
struct Work {
    model: Model,
    tensor: InputTensor,
    shape: [usize; 4],
    /// The real frames at the front of the tensor (the rest is padding).
    frames: usize,
    warm_up: bool,
    done: SyncSender<Result<Output, InferError>>,
}

/// One run of equally sized frames, as post sees it.
struct Run {
    indices: Vec<u64>,
    players: (Letterbox, Receiver<Result<Output, InferError>>),
    pitch: (Letterbox, Receiver<Result<Output, InferError>>),
}

/// A batch in submission order: its runs, or why it could not be prepared.
struct Meta {
    runs: Result<Vec<Run>, InferError>,
    frames: usize,
    reply: Reply,
}

type Tensors = (Sender<(Model, InputTensor)>, Receiver<(Model, InputTensor)>);

/// Starts every thread; they stop when `jobs` closes. A thread that cannot
/// be started leaves the others without work, so callers see `WorkerGone`.
pub(super) fn spawn(
    detectors: Vec<Detector>,
    config: WorkerConfig,
    jobs: mpsc::Receiver<Job>,
    stats: Arc<InferStats>,
    metrics: InferMetrics,
) -> Result<Vec<JoinHandle<()>>, std::io::Error> {
    let meta_queue = config.in_flight;
    let (meta_tx, meta_rx) = sync_channel::<Meta>(meta_queue.max(1));
    let (work_tx, work_rx) = sync_channel::<Work>(0);
    let (back_tx, back_rx): Tensors = std::sync::mpsc::channel();
    let work_rx = Arc::new(Mutex::new(work_rx));

    // The letterbox writes into the engines' page-locked buffers when they
    // have them (I/O binding): enough for every lane to run one while one
    // more is prepared and one waits to be taken; beyond that, ordinary
    // buffers.
    let mut free = Vec::new();
    if let Some(first) = detectors.first() {
        let count = detectors.len() + 2;
        let players = first.players.engine().host_inputs(count);
        let pitch = first.pitch.engine().host_inputs(count);
        free.extend(players.into_iter().map(|t| (Model::Players, t)));
        free.extend(pitch.into_iter().map(|t| (Model::Pitch, t)));
    }
    let mut post = None;
    let mut pre = None;
    let mut engines = Vec::with_capacity(detectors.len());
    for detector in detectors {
        let types = (
            detector.players.engine().input_type(),
            detector.pitch.engine().input_type(),
        );
        let fitted = |model: crate::model::YoloModel| {
            let limit = model.batch_limit().clone();
            let (pre, engine, post) = model.into_parts();
            (pre, Fitted::new(engine, post.name(), limit), post)
        };
        let (players_pre, players, players_post) = fitted(detector.players);
        let (pitch_pre, pitch, pitch_post) = fitted(detector.pitch);
        pre.get_or_insert((players_pre, pitch_pre, types));
        post.get_or_insert((players_post, pitch_post));
        engines.push((players, pitch));
    }
    let (Some(pre), Some(post)) = (pre, post) else {
        return Ok(Vec::new()); // no lanes: `jobs` drops here and callers see WorkerGone
    };
    let mut threads = Vec::new();
    for (i, (players, pitch)) in engines.into_iter().enumerate() {
        let (work, back, stats) = (work_rx.clone(), back_tx.clone(), stats.clone());
        let series = (i, metrics.clone());
        threads.push(
            std::thread::Builder::new()
                .name(format!("sv-infer-lane-{i}"))
                .spawn(move || lane(players, pitch, &work, &back, &stats, &series))?,
        );
    }
    drop(back_tx);
    let post_stats = stats.clone();
    threads.push(
        std::thread::Builder::new()
            .name("sv-infer-post".into())
            .spawn(move || postprocess(&post.0, &post.1, &meta_rx, &post_stats))?,
    );
    threads.push(
        std::thread::Builder::new()
            .name("sv-infer-prep".into())
            .spawn(move || {
                let mut prep = Prepare {
                    players: pre.0,
                    pitch: pre.1,
                    types: pre.2,
                    threads: config.prep_threads.max(1),
                    pad_to: config.pad_to,
                    back: back_rx,
                    free,
                };
                prep.serve(jobs, &meta_tx, &work_tx, &stats, &metrics)
            })?,
    );
    Ok(threads)
}

struct Prepare {
    players: Preprocess,
    pitch: Preprocess,
    /// Each model's input element type.
    types: (ElementType, ElementType),
    threads: usize,
    /// Every run goes to the engines at this batch size (GPUs: one shape).
    pad_to: Option<usize>,
    /// Input tensors coming back from the lanes, and those ready for reuse.
    back: Receiver<(Model, InputTensor)>,
    free: Vec<(Model, InputTensor)>,
}

impl Prepare {
    fn serve(
        &mut self,
        mut jobs: mpsc::Receiver<Job>,
        meta: &SyncSender<Meta>,
        work: &SyncSender<Work>,
        stats: &InferStats,
        metrics: &InferMetrics,
    ) {
        while let Some(job) = jobs.blocking_recv() {
            metrics.dequeued(job.frames.len());
            if job.reply.is_closed() {
                continue; // the challenge was cancelled while queued
            }
            stats.batch_started();
            let started = Instant::now();
            let prepared = self.prepare(&job.frames, job.warm_up);
            stats.add_preprocess(started.elapsed());
            let (runs, works) = match prepared {
                Ok((runs, works)) => (Ok(runs), works),
                Err(e) => (Err(e), Vec::new()),
            };
            let frames = job.frames.len();
            drop(job.frames); // the pixels are in the tensors now
            // Meta first: post must know a batch before its outputs arrive.
            if meta
                .send(Meta {
                    runs,
                    frames,
                    reply: job.reply,
                })
                .is_err()
            {
                return;
            }
            for w in works {
                if work.send(w).is_err() {
                    return;
                }
            }
        }
    }

    /// A tensor of `model` to fill: one the lanes gave back, or a new one.
    fn tensor(&mut self, model: Model) -> InputTensor {
        while let Ok(t) = self.back.try_recv() {
            self.free.push(t);
        }
        match self.free.iter().position(|(m, _)| *m == model) {
            Some(i) => self.free.swap_remove(i).1,
            None => InputTensor::new(match model {
                Model::Players => self.types.0,
                Model::Pitch => self.types.1,
            }),
        }
    }

    fn prepare(
        &mut self,
        frames: &[Frame],
        warm_up: bool,
    ) -> Result<(Vec<Run>, Vec<Work>), InferError> {
        let mut runs = Vec::new();
        let mut works = Vec::new();
        for range in same_size_runs(frames) {
            let frames = &frames[range];
            let (w, h) = (frames[0].width, frames[0].height);
            let (players_lb, pitch_lb) = (self.players.letterbox(w, h), self.pitch.letterbox(w, h));
            let mut players = self.tensor(Model::Players);
            let mut pitch = self.tensor(Model::Pitch);
            let batch = self.pad_to.unwrap_or(0).max(frames.len());
            let mut slots = batch::slots(players_lb, frames, &mut players, batch)?;
            slots.extend(batch::slots(pitch_lb, frames, &mut pitch, batch)?);
            batch::draw_all(slots, self.threads);
            let (players_done, players_rx) = sync_channel(1);
            let (pitch_done, pitch_rx) = sync_channel(1);
            let shape = |lb: &Letterbox| [batch, 3, lb.out_h as usize, lb.out_w as usize];
            // The pitch model first, as the reference miner calls them.
            works.push(Work {
                model: Model::Pitch,
                shape: shape(&pitch_lb),
                frames: frames.len(),
                warm_up,
                tensor: pitch,
                done: pitch_done,
            });
            works.push(Work {
                model: Model::Players,
                shape: shape(&players_lb),
                frames: frames.len(),
                warm_up,
                tensor: players,
                done: players_done,
            });
            runs.push(Run {
                indices: frames.iter().map(|f| f.index).collect(),
                players: (players_lb, players_rx),
                pitch: (pitch_lb, pitch_rx),
            });
        }
        Ok((runs, works))
    }
}

fn lane(
    mut players: Fitted,
    mut pitch: Fitted,
    work: &Mutex<Receiver<Work>>,
    back: &Sender<(Model, InputTensor)>,
    stats: &InferStats,
    (index, series): &(usize, InferMetrics),
) {
    loop {
        // One lane at a time waits on the queue; the others wait for the lock.
        let next = match work.lock() {
            Ok(queue) => queue.recv(),
            Err(_) => return,
        };
        let Ok(item) = next else { return };
        let engine = match item.model {
            Model::Players => &mut players,
            Model::Pitch => &mut pitch,
        };
        let started = Instant::now();
        // In batches that fit; a failed run is split and retried (`crate::fit`).
        let ran = engine.run(item.tensor.view(), item.shape, item.frames);
        let took = started.elapsed();
        // Only a run of the whole tensor reads the engine's own memory.
        let host = matches!(item.tensor, InputTensor::Host(_)) && ran.whole;
        stats.add_inference(took, ran.runs, usize::from(host), ran.retried);
        if !item.warm_up {
            let provider = engine.engine().provider();
            let run = metrics::Run {
                model: item.model.label(),
                provider,
                frames: item.frames,
                slots: item.shape[0],
                took,
            };
            series.observe_run(*index, run);
            if ran.retried > 0 {
                series.count_retried_runs(item.model.label(), provider, ran.retried as u64);
            }
        }
        let _ = back.send((item.model, item.tensor));
        let _ = item.done.send(ran.output); // post may have given up on the batch
    }
}

fn postprocess(
    players: &Postprocess,
    pitch: &Postprocess,
    meta: &Receiver<Meta>,
    stats: &InferStats,
) {
    while let Ok(batch) = meta.recv() {
        let result = batch.runs.and_then(|runs| {
            let mut out = Vec::with_capacity(batch.frames);
            for run in runs {
                let output = |(lb, rx): &(Letterbox, Receiver<Result<Output, InferError>>)| {
                    rx.recv()
                        .map_err(|_| InferError::WorkerGone)?
                        .map(|o| (o, *lb))
                };
                let (pitch_out, pitch_lb) = output(&run.pitch)?;
                let (players_out, players_lb) = output(&run.players)?;
                let started = Instant::now();
                let n = run.indices.len();
                let poses = pitch.decode(&pitch_out, n, &pitch_lb)?;
                let found = players.decode(&players_out, n, &players_lb)?;
                drop((pitch_out, players_out));
                out.extend(assemble(&run.indices, found, poses));
                stats.add_postprocess(started.elapsed());
            }
            Ok(out)
        });
        stats.batch_done(batch.frames);
        let _ = batch.reply.send(result); // the caller may have left
    }
}
