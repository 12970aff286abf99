//! `STrack` (supervision 0.22.0 `core.py`) and the detection it is built
//! from, with numpy's dtypes made explicit.

use super::kalman::{self, Cov, Mean};

/// `TrackState`; `New` is never observed on a live track.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TrackState {
    Tracked,
    Lost,
    Removed,
}

/// A box as f64 numbers plus whether numpy holds it as f32 (the values are
/// then exact f32s). The dtype decides how IoU is computed (see matching).
pub(crate) type Tlbr = [f64; 4];

/// A detection `STrack` before activation: `_tlwh` is f32 and `mean` None.
#[derive(Debug, Clone)]
pub(crate) struct Det {
    /// xyah of the f32 tlwh, computed in f32 (`tlwh_to_xyah`).
    pub xyah: [f32; 4],
    /// tlbr of the f32 tlwh (`x + w` rounded in f32, not the input x2).
    pub tlbr: Tlbr,
    /// Confidence widened to f64: 0.22.0 hstacks f32 boxes with int64 class
    /// ids, so the tensors the tracker sees are f64.
    pub score: f64,
}

impl Det {
    pub(crate) fn new(xyxy: [f32; 4], score: f64) -> Self {
        // tlbr_to_tlwh runs on the f64 row, then STrack stores f32.
        let x = xyxy[0];
        let y = xyxy[1];
        let w = (f64::from(xyxy[2]) - f64::from(x)) as f32;
        let h = (f64::from(xyxy[3]) - f64::from(y)) as f32;
        Det {
            xyah: [x + w / 2.0, y + h / 2.0, w / h, h],
            tlbr: [x, y, x + w, y + h].map(f64::from),
            score,
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct STrack {
    pub internal_id: u64,
    /// `external_track_id`; None is Python's -1.
    pub external_id: Option<u64>,
    pub mean: Mean,
    pub cov: Cov,
    /// numpy keeps the mean f32 from `initiate` until the first predict or
    /// update makes it f64; until then the box is computed in f32.
    pub mean_f32: bool,
    pub state: TrackState,
    pub is_activated: bool,
    pub tracklet_len: u32,
    pub frame_id: u64,
    pub start_frame: u64,
    pub score: f64,
}

/// What `update` and `activate` need from the tracker.
pub(crate) struct Ctx<'a> {
    pub frame_id: u64,
    pub mcf: u32,
    pub next_external: &'a mut u64,
}

impl Ctx<'_> {
    fn take_external(&mut self) -> u64 {
        let id = *self.next_external;
        *self.next_external += 1;
        id
    }
}

impl STrack {
    /// `activate`: a new track from an unmatched detection.
    pub(crate) fn activate(det: &Det, internal_id: u64, ctx: &mut Ctx<'_>) -> Self {
        let (mean, cov) = kalman::initiate(det.xyah);
        // With mcf == 1 the external id is taken now, even for a track that
        // is later removed unconfirmed: ids have gaps (PARITY C6).
        let external_id = (ctx.mcf == 1).then(|| ctx.take_external());
        STrack {
            internal_id,
            external_id,
            mean,
            cov,
            mean_f32: true,
            state: TrackState::Tracked,
            is_activated: ctx.frame_id == 1,
            tracklet_len: 0,
            frame_id: ctx.frame_id,
            start_frame: ctx.frame_id,
            score: det.score,
        }
    }

    /// `update`: a matched Tracked (or unconfirmed) track.
    pub(crate) fn update(&mut self, det: &Det, ctx: &mut Ctx<'_>) {
        self.frame_id = ctx.frame_id;
        self.tracklet_len += 1;
        self.kalman_update(det);
        self.state = TrackState::Tracked;
        if self.tracklet_len == ctx.mcf {
            self.is_activated = true;
            if self.external_id.is_none() {
                self.external_id = Some(ctx.take_external());
            }
        }
        self.score = det.score;
    }

    /// `re_activate(new_id=False)`: a Lost (or just Removed) track matched
    /// again. Keeps `is_activated` and both ids.
    pub(crate) fn re_activate(&mut self, det: &Det, frame_id: u64) {
        self.kalman_update(det);
        self.tracklet_len = 0;
        self.state = TrackState::Tracked;
        self.frame_id = frame_id;
        self.score = det.score;
    }

    fn kalman_update(&mut self, det: &Det) {
        kalman::update(&mut self.mean, &mut self.cov, det.xyah);
        self.mean_f32 = false;
    }

    /// `tlbr` from the mean: w = a*h, (x, y) = centre - (w, h)/2, in the
    /// mean's dtype.
    pub(crate) fn tlbr(&self) -> Tlbr {
        if self.mean_f32 {
            let [cx, cy, a, h] = [0, 1, 2, 3].map(|k| self.mean[k] as f32);
            let w = a * h;
            let x = cx - w / 2.0;
            let y = cy - h / 2.0;
            [x, y, x + w, y + h].map(f64::from)
        } else {
            let [cx, cy, a, h] = [0, 1, 2, 3].map(|k| self.mean[k]);
            let w = a * h;
            let x = cx - w / 2.0;
            let y = cy - h / 2.0;
            [x, y, x + w, y + h]
        }
    }

    /// Age used by `remove_duplicate_tracks`.
    pub(crate) fn age(&self) -> i64 {
        self.frame_id as i64 - self.start_frame as i64
    }
}
