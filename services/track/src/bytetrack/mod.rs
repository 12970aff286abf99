//! ByteTrack with the same tracker ids as supervision 0.22.0's
//! `sv.ByteTrack().update_with_detections` (the reference miner's tracker).
//!
//! The behaviour is specified in docs/PARITY.md section C and, where that
//! is silent, by supervision 0.22.0's `supervision/tracker/byte_tracker/`.
//! Ids only match if the small things match too, so this port keeps:
//!
//! - numpy's dtypes: boxes and scores are f64 (0.22.0 hstacks f32 boxes with
//!   int64 class ids), detection tlwh is f32, the Kalman filter is f64 except
//!   for values numpy still holds as f32 (see `STrack::mean_f32` in
//!   the private `track` module);
//! - scipy's LSAP algorithm, so ties resolve the same way (the private
//!   `lsap` module);
//! - CPython's set iteration order for unmatched indices (the private `pyset`
//!   module);
//! - the one-frame delay before a timed-out track leaves the lost list.
//!
//! Unlike supervision 0.22.0, the id counters belong to the instance: every
//! new (or reset) tracker starts at id 1 (PARITY.md C6).
//!
//! The module is pure and synchronous: one [`ByteTrack`] per challenge.
//!
//! With `--infer-interval N` the tracker sees keyframes only
//! ([`ByteTrack::update_after`]). Its clock still counts frames: each
//! update advances it by the frames since the last one, so
//! `lost_track_buffer` keeps its span in time (30 frames, 1 s at 30 fps:
//! 30 / N updates), and a track's age (which of two duplicates is kept)
//! stays in frames. The score thresholds stay as they are (scores do not
//! depend on the interval); the Kalman filter's velocity is learnt per
//! update, so its prediction moves a track N frames' worth between
//! keyframes. The IoU gates of the three associations (cost 0.8, 0.5 and
//! 0.7) keep their values but compare boxes widened by half their size
//! per extra frame (`update::WIDEN_PER_FRAME`, chosen by measurement): a
//! small box that moved N frames' worth still overlaps its track. A new
//! track still gets its id on its second matched update (frame 1: at
//! once), which is now its second keyframe. With one frame between
//! updates (`update`) nothing of this applies: the ids are supervision's.

mod kalman;
mod lsap;
mod matching;
mod pyset;
mod track;
mod update;

use sv_core::{Detection, TrackedObject};

use matching::{Assignment, Cost, Matcher};
use track::STrack;

/// `sv.ByteTrack(...)` constructor arguments.
#[derive(Debug, Clone, PartialEq)]
pub struct ByteTrackConfig {
    /// Detections above this score take part in the first association;
    /// new tracks need more than this + 0.1.
    pub track_activation_threshold: f32,
    /// Frames a lost track is kept (scaled by `frame_rate / 30`).
    pub lost_track_buffer: u32,
    /// Cost threshold of the first association (cost = 1 - IoU * score).
    pub minimum_matching_threshold: f32,
    /// The video's frames per second; only scales `lost_track_buffer`
    /// (supervision's default 30 leaves it as given).
    pub frame_rate: u32,
    /// Updates a track needs before it gets an id.
    pub minimum_consecutive_frames: u32,
}

impl Default for ByteTrackConfig {
    /// supervision 0.22.0's defaults.
    fn default() -> Self {
        ByteTrackConfig {
            track_activation_threshold: 0.25,
            lost_track_buffer: 30,
            minimum_matching_threshold: 0.8,
            frame_rate: 30,
            minimum_consecutive_frames: 1,
        }
    }
}

/// One tracker per challenge; see the module docs.
#[derive(Debug)]
pub struct ByteTrack {
    config: ByteTrackConfig,
    /// The thresholds as the Python floats they stand for.
    track_thresh: f64,
    match_thresh: f64,
    det_thresh: f64,
    max_time_lost: i64,

    frame_id: u64,
    next_internal: u64,
    next_external: u64,
    /// Track storage; `tracked` and `lost` index into it (in list order).
    /// It is compacted to exactly those tracks at the end of every update.
    arena: Vec<STrack>,
    tracked: Vec<usize>,
    lost: Vec<usize>,
    /// Internal ids of the previous frame's `removed_tracks`; only used to
    /// drop them from `lost` one frame late (PARITY.md C3 step 5).
    removed_prev: Vec<u64>,
    scratch: Scratch,
}

/// Buffers reused across updates so a frame does little allocation.
#[derive(Debug, Default)]
struct Scratch {
    matcher: Matcher,
    cost: Cost,
    assign: Assignment,
    boxes_a: Vec<track::Tlbr>,
    boxes_b: Vec<track::Tlbr>,
    marks: Vec<bool>,
    arena_spare: Vec<STrack>,
}

/// The Python float a config value stands for: the f32's shortest decimal
/// read as f64 (0.8f32 -> 0.8, not 0.800000011920929), since supervision's
/// thresholds are Python floats.
fn py_float(x: f32) -> f64 {
    x.to_string().parse().unwrap_or(f64::from(x))
}

impl ByteTrack {
    /// A tracker with no tracks, whose first new track gets id 1.
    pub fn new(config: ByteTrackConfig) -> Self {
        let track_thresh = py_float(config.track_activation_threshold);
        // int(frame_rate / 30.0 * lost_track_buffer), truncating.
        let max_time_lost =
            (f64::from(config.frame_rate) / 30.0 * f64::from(config.lost_track_buffer)) as i64;
        ByteTrack {
            track_thresh,
            match_thresh: py_float(config.minimum_matching_threshold),
            det_thresh: track_thresh + 0.1,
            max_time_lost,
            config,
            frame_id: 0,
            next_internal: 1,
            next_external: 1,
            arena: Vec::new(),
            tracked: Vec::new(),
            lost: Vec::new(),
            removed_prev: Vec::new(),
            scratch: Scratch::default(),
        }
    }

    /// The arguments the tracker was built with.
    pub fn config(&self) -> &ByteTrackConfig {
        &self.config
    }

    /// `update_with_detections`: the tracked subset of `detections`, in
    /// their original order, with their own box and class and the tracker
    /// id. A detection that starts a track after frame 1 shows up from the
    /// track's second matched frame.
    pub fn update(&mut self, detections: &[Detection]) -> Vec<TrackedObject> {
        self.update_after(1, detections)
    }

    /// [`update`](Self::update) for a frame `frames` frames after the last
    /// one the tracker saw (keyframes only; see the module docs). The first
    /// update is frame 1 whatever `frames` says; 1 is `update` exactly.
    pub fn update_after(&mut self, frames: u64, detections: &[Detection]) -> Vec<TrackedObject> {
        let frames = if self.frame_id == 0 { 1 } else { frames };
        let n_out = self.update_tracks(frames, detections);
        if n_out == 0 {
            return Vec::new();
        }
        // After compaction `tracked` is arena[0..tracked.len()] in list
        // order; the output tracks are its activated ones, in that order.
        let s = &mut self.scratch;
        let out: Vec<usize> = (0..self.tracked.len())
            .filter(|&i| self.arena[i].is_activated)
            .collect();
        // Match every input detection to the output tracks by IoU >= 0.5.
        // Detection boxes are f64 here; track boxes keep their own dtype.
        s.boxes_a.clear();
        s.boxes_a
            .extend(detections.iter().map(|d| d.bbox.map(f64::from)));
        s.boxes_b.clear();
        s.boxes_b.extend(out.iter().map(|&i| self.arena[i].tlbr()));
        let tracks_f32 = out.iter().all(|&i| self.arena[i].mean_f32);
        matching::iou_distance(&s.boxes_a, false, &s.boxes_b, tracks_f32, &mut s.cost);
        s.matcher.linear_assignment(&mut s.cost, 0.5, &mut s.assign);

        let mut ids: Vec<Option<u64>> = vec![None; detections.len()];
        for &(d, t) in &s.assign.matches {
            ids[d] = self.arena[out[t]].external_id;
        }
        detections
            .iter()
            .zip(ids)
            .filter_map(|(d, id)| {
                id.map(|id| TrackedObject {
                    id,
                    bbox: d.bbox,
                    class_id: d.class_id,
                })
            })
            .collect()
    }

    /// The Kalman filter's velocity of every output track after the last
    /// update, by tracker id: centre x, centre y, aspect ratio and height,
    /// per update.
    pub fn velocities(&self) -> impl Iterator<Item = (u64, [f64; 4])> + '_ {
        self.arena[..self.tracked.len()]
            .iter()
            .filter(|t| t.is_activated)
            .filter_map(|t| {
                let m = &t.mean;
                t.external_id.map(|id| (id, [m[4], m[5], m[6], m[7]]))
            })
    }

    /// Tracks followed now: those the last update output from (activated
    /// and tracked, not lost).
    pub fn active_tracks(&self) -> usize {
        self.arena[..self.tracked.len()]
            .iter()
            .filter(|t| t.is_activated)
            .count()
    }

    /// `reset()`: forget all tracks and restart ids at 1.
    pub fn reset(&mut self) {
        *self = ByteTrack::new(self.config.clone());
    }
}

impl Default for ByteTrack {
    fn default() -> Self {
        ByteTrack::new(ByteTrackConfig::default())
    }
}

/// tests/fixtures/bytetrack/unit_cases.json: scipy, CPython and numpy
/// answers written by make_goldens.py.
#[cfg(test)]
pub(crate) fn unit_cases() -> serde_json::Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/bytetrack/unit_cases.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).expect("unit_cases.json")).unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn det(x: f32, y: f32, conf: f32) -> Detection {
        Detection {
            bbox: [x, y, x + 20.0, y + 40.0],
            confidence: conf,
            class_id: 2,
        }
    }

    #[test]
    fn thresholds_are_python_floats() {
        let t = ByteTrack::default();
        // Python: 0.25 + 0.1 == 0.35 (PARITY.md C1 says 0.35000000000000003;
        // no f32 score lies between the two, so it cannot matter).
        assert_eq!(t.det_thresh, 0.35);
        assert!(f64::from(0.35f32) < t.det_thresh);
        assert_eq!(t.match_thresh, 0.8);
        assert_eq!(t.max_time_lost, 30);
    }

    #[test]
    fn first_frame_outputs_at_once_later_tracks_one_frame_late() {
        let mut t = ByteTrack::default();
        let out = t.update(&[det(0.0, 0.0, 0.9), det(100.0, 0.0, 0.3)]);
        // 0.3 < det_thresh: dropped.
        assert_eq!(out.iter().map(|o| o.id).collect::<Vec<_>>(), vec![1]);
        let out = t.update(&[det(1.0, 0.0, 0.9), det(200.0, 0.0, 0.9)]);
        assert_eq!(out.iter().map(|o| o.id).collect::<Vec<_>>(), vec![1]);
        let out = t.update(&[det(2.0, 0.0, 0.9), det(201.0, 0.0, 0.9)]);
        assert_eq!(out.iter().map(|o| o.id).collect::<Vec<_>>(), vec![1, 2]);
    }

    #[test]
    fn updates_after_a_gap_keep_lost_tracks_for_the_same_frames() {
        // Seen once, then 40 empty frames: gone after lost_track_buffer (30)
        // frames, whether the tracker sees every frame or one in 4.
        let step = |interval: u64| {
            let mut t = ByteTrack::default();
            t.update(&[det(0.0, 0.0, 0.9)]);
            let mut frame = 0;
            let mut lost_after = None;
            while frame < 40 {
                frame += interval;
                t.update_after(interval, &[]);
                if lost_after.is_none() && t.lost.is_empty() {
                    lost_after = Some(frame);
                }
            }
            lost_after
        };
        assert_eq!(step(1), Some(32));
        // One keyframe in 4: the first update past 32 frames.
        assert_eq!(step(4), Some(36));
    }

    #[test]
    fn velocities_are_per_update() {
        let mut t = ByteTrack::default();
        for k in 0..12 {
            // 10 px to the right per update.
            t.update_after(3, &[det(10.0 * k as f32, 0.0, 0.9)]);
        }
        let v: Vec<(u64, [f64; 4])> = t.velocities().collect();
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].0, 1);
        assert!((v[0].1[0] - 10.0).abs() < 1.0, "{v:?}");
        assert!(v[0].1[1].abs() < 0.5, "{v:?}");
    }

    #[test]
    fn reset_restarts_ids() {
        let mut t = ByteTrack::default();
        t.update(&[det(0.0, 0.0, 0.9), det(50.0, 0.0, 0.9)]);
        t.reset();
        let out = t.update(&[det(300.0, 0.0, 0.9)]);
        assert_eq!(out[0].id, 1);
    }

    #[test]
    fn empty_frames() {
        let mut t = ByteTrack::default();
        assert!(t.update(&[]).is_empty());
        assert!(t.update(&[det(0.0, 0.0, 0.9)]).is_empty());
        assert_eq!(t.update(&[det(0.0, 0.0, 0.9)])[0].id, 1);
    }
}
