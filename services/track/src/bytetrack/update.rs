//! `update_with_tensors` (supervision 0.22.0 `core.py`), one call per
//! frame, in the exact order of PARITY.md C2 and C3. An update that comes
//! several frames after the last (keyframes only) widens the association's
//! boxes first ([`widen`]); one frame after, nothing differs.

use sv_core::Detection;

use super::ByteTrack;
use super::kalman;
use super::matching::{fuse_score, iou_distance};
use super::track::{Ctx, Det, STrack, Tlbr, TrackState};

/// How much an association box grows on each side per frame beyond the
/// first since the last update, as a share of its width and height.
/// Measured on the fixture clips (tests/bench/README.md, "Infer
/// interval"): at interval 2, 0 kept 0.56 of the every-frame answer's boxes
/// on the sample clip's keyframes, 0.3 kept 0.84, 0.5 kept 0.90 (and gave
/// the best box agreement over all frames, recall and precision together);
/// 0.75 and 1.0 kept more boxes but matched wrong ones (precision fell
/// faster than recall rose).
pub(super) const WIDEN_PER_FRAME: f64 = 0.5;

/// Keyframes only: objects move N frames' worth between updates, and a
/// small box (a player is 15-40 px wide at 720p) that moved half its width
/// no longer overlaps its track enough to pass the IoU gates, above all
/// for new tracks, which are not predicted before their second match. So
/// every box taking part in an association grows by [`WIDEN_PER_FRAME`]
/// times the extra frames on each side (a buffered IoU, as in C-BIoU),
/// which keeps the gates' meaning in the distance moved per frame.
/// Returns whether the boxes are still exactly what numpy would hold
/// (nothing widened).
fn widen(frames: u64, a: &mut [Tlbr], b: &mut [Tlbr]) -> bool {
    if frames <= 1 {
        return true;
    }
    let grow = WIDEN_PER_FRAME * (frames - 1) as f64;
    for r in a.iter_mut().chain(b.iter_mut()) {
        let (w, h) = (r[2] - r[0], r[3] - r[1]);
        *r = [
            r[0] - grow * w,
            r[1] - grow * h,
            r[2] + grow * w,
            r[3] + grow * h,
        ];
    }
    false
}

/// `joint_tracks`: `a` then the tracks of `b` not already in it. Arena
/// indices stand for internal ids (one track object per id).
fn joint(a: &mut Vec<usize>, b: &[usize], marks: &mut Vec<bool>, n: usize) {
    marks.clear();
    marks.resize(n, false);
    a.retain(|&i| !std::mem::replace(&mut marks[i], true));
    for &i in b {
        if !std::mem::replace(&mut marks[i], true) {
            a.push(i);
        }
    }
}

impl ByteTrack {
    /// Runs one frame, `frames` after the last one (1 unless only
    /// keyframes are tracked), and leaves `tracked`/`lost` compacted at the
    /// front of the arena. Returns how many tracks are output (tracked,
    /// activated).
    pub(super) fn update_tracks(&mut self, frames: u64, input: &[Detection]) -> usize {
        self.frame_id += frames.max(1);
        let frame = self.frame_id;
        let mut high = Vec::new();
        let mut second = Vec::new();
        for d in input {
            let score = f64::from(d.confidence);
            // high: score > ta; second: 0.1 < score < ta; == ta is neither.
            if score > self.track_thresh {
                high.push(Det::new(d.bbox, score));
            } else if score > 0.1 && score < self.track_thresh {
                second.push(Det::new(d.bbox, score));
            }
        }

        let arena = &mut self.arena;
        let s = &mut self.scratch;
        let mut ctx = Ctx {
            frame_id: frame,
            mcf: self.config.minimum_consecutive_frames,
            next_external: &mut self.next_external,
        };
        let (unconfirmed, mut pool): (Vec<usize>, Vec<usize>) =
            self.tracked.iter().partition(|&&i| !arena[i].is_activated);
        joint(&mut pool, &self.lost, &mut s.marks, arena.len());

        // Predict the pool (not the unconfirmed tracks). numpy stacks the
        // means, so the noise is f32 only if every mean still is.
        let pool_f32 = pool.iter().all(|&i| arena[i].mean_f32);
        for &i in &pool {
            let t = &mut arena[i];
            if t.state != TrackState::Tracked {
                t.mean[7] = 0.0;
            }
            let q = kalman::process_noise(t.mean[3], pool_f32);
            kalman::predict(&mut t.mean, &mut t.cov, &q);
            t.mean_f32 = false;
        }

        // Association 1: pool x high, fused with the score.
        let mut activated = Vec::new();
        let mut refind = Vec::new();
        let mut lost_new = Vec::new();
        let mut removed_new = Vec::new();
        s.boxes_a.clear();
        s.boxes_a.extend(pool.iter().map(|&i| arena[i].tlbr()));
        s.boxes_b.clear();
        s.boxes_b.extend(high.iter().map(|d| d.tlbr));
        let exact = widen(frames, &mut s.boxes_a, &mut s.boxes_b);
        iou_distance(&s.boxes_a, false, &s.boxes_b, exact, &mut s.cost);
        let scores: Vec<f64> = high.iter().map(|d| d.score).collect();
        fuse_score(&mut s.cost, &scores);
        s.matcher
            .linear_assignment(&mut s.cost, self.match_thresh, &mut s.assign);
        for &(it, id) in &s.assign.matches {
            let i = pool[it];
            if arena[i].state == TrackState::Tracked {
                arena[i].update(&high[id], &mut ctx);
                activated.push(i);
            } else {
                arena[i].re_activate(&high[id], frame);
                refind.push(i);
            }
        }
        let u_det = std::mem::take(&mut s.assign.unmatched_b);

        // Association 2: the still-Tracked unmatched pool x low-score dets.
        let r_tracked: Vec<usize> = (s.assign.unmatched_a.iter())
            .map(|&it| pool[it])
            .filter(|&i| arena[i].state == TrackState::Tracked)
            .collect();
        s.boxes_a.clear();
        s.boxes_a.extend(r_tracked.iter().map(|&i| arena[i].tlbr()));
        s.boxes_b.clear();
        s.boxes_b.extend(second.iter().map(|d| d.tlbr));
        let exact = widen(frames, &mut s.boxes_a, &mut s.boxes_b);
        iou_distance(&s.boxes_a, false, &s.boxes_b, exact, &mut s.cost);
        s.matcher.linear_assignment(&mut s.cost, 0.5, &mut s.assign);
        for &(it, id) in &s.assign.matches {
            let i = r_tracked[it];
            if arena[i].state == TrackState::Tracked {
                arena[i].update(&second[id], &mut ctx);
                activated.push(i);
            } else {
                arena[i].re_activate(&second[id], frame);
                refind.push(i);
            }
        }
        for &it in &s.assign.unmatched_a {
            let i = r_tracked[it];
            if arena[i].state != TrackState::Lost {
                arena[i].state = TrackState::Lost;
                lost_new.push(i);
            }
        }

        // Unconfirmed tracks x the high dets left over, in u_det order.
        let rest: Vec<&Det> = u_det.iter().map(|&k| &high[k]).collect();
        s.boxes_a.clear();
        s.boxes_a
            .extend(unconfirmed.iter().map(|&i| arena[i].tlbr()));
        let unconf_f32 = unconfirmed.iter().all(|&i| arena[i].mean_f32);
        s.boxes_b.clear();
        s.boxes_b.extend(rest.iter().map(|d| d.tlbr));
        let exact = widen(frames, &mut s.boxes_a, &mut s.boxes_b);
        iou_distance(
            &s.boxes_a,
            unconf_f32 && exact,
            &s.boxes_b,
            exact,
            &mut s.cost,
        );
        let scores: Vec<f64> = rest.iter().map(|d| d.score).collect();
        fuse_score(&mut s.cost, &scores);
        s.matcher.linear_assignment(&mut s.cost, 0.7, &mut s.assign);
        for &(it, id) in &s.assign.matches {
            arena[unconfirmed[it]].update(rest[id], &mut ctx);
            activated.push(unconfirmed[it]);
        }
        for &it in &s.assign.unmatched_a {
            let t = &mut arena[unconfirmed[it]];
            t.state = TrackState::Removed;
            removed_new.push(t.internal_id);
        }

        // New tracks, in the (set-ordered) order of the unmatched dets.
        for &k in &s.assign.unmatched_b {
            let det = rest[k];
            if det.score < self.det_thresh {
                continue;
            }
            let t = STrack::activate(det, self.next_internal, &mut ctx);
            self.next_internal += 1;
            activated.push(arena.len());
            arena.push(t);
        }

        // Housekeeping (C3), in supervision's order.
        for &i in &self.lost {
            let t = &mut arena[i];
            if frame as i64 - t.frame_id as i64 > self.max_time_lost {
                t.state = TrackState::Removed;
                removed_new.push(t.internal_id);
            }
        }
        let n = arena.len();
        let mut tracked: Vec<usize> = self
            .tracked
            .iter()
            .copied()
            .filter(|&i| arena[i].state == TrackState::Tracked)
            .collect();
        joint(&mut tracked, &activated, &mut s.marks, n);
        joint(&mut tracked, &refind, &mut s.marks, n);
        // s.marks now flags exactly the tracked set.
        let mut lost: Vec<usize> = self.lost.iter().copied().filter(|&i| !s.marks[i]).collect();
        lost.extend(lost_new);
        // The previous frame's removed tracks leave `lost` only now.
        lost.retain(|&i| !self.removed_prev.contains(&arena[i].internal_id));
        self.removed_prev = removed_new;
        self.remove_duplicates(&mut tracked, &mut lost);
        self.compact(&tracked, &lost);
        (0..self.tracked.len())
            .filter(|&i| self.arena[i].is_activated)
            .count()
    }

    /// `remove_duplicate_tracks`: for each (tracked, lost) pair with
    /// 1 - IoU < 0.15, drop the younger one (the tracked one on a tie).
    fn remove_duplicates(&mut self, tracked: &mut Vec<usize>, lost: &mut Vec<usize>) {
        let arena = &self.arena;
        let s = &mut self.scratch;
        s.boxes_a.clear();
        s.boxes_a.extend(tracked.iter().map(|&i| arena[i].tlbr()));
        s.boxes_b.clear();
        s.boxes_b.extend(lost.iter().map(|&i| arena[i].tlbr()));
        let a_f32 = tracked.iter().all(|&i| arena[i].mean_f32);
        let b_f32 = lost.iter().all(|&i| arena[i].mean_f32);
        iou_distance(&s.boxes_a, a_f32, &s.boxes_b, b_f32, &mut s.cost);
        let limit = if s.cost.f32 { f64::from(0.15f32) } else { 0.15 };
        let mut drop_a = vec![false; tracked.len()];
        let mut drop_b = vec![false; lost.len()];
        let cols = s.cost.cols;
        for (k, &c) in s.cost.data.iter().enumerate() {
            if c < limit {
                let (ia, ib) = (k / cols, k % cols);
                if arena[tracked[ia]].age() > arena[lost[ib]].age() {
                    drop_b[ib] = true;
                } else {
                    drop_a[ia] = true;
                }
            }
        }
        let mut flags = drop_a.iter();
        tracked.retain(|_| !flags.next().copied().unwrap_or(false));
        let mut flags = drop_b.iter();
        lost.retain(|_| !flags.next().copied().unwrap_or(false));
    }

    /// Rebuilds the arena as `tracked ++ lost`, dropping every other track.
    fn compact(&mut self, tracked: &[usize], lost: &[usize]) {
        let spare = &mut self.scratch.arena_spare;
        spare.clear();
        spare.extend(tracked.iter().chain(lost).map(|&i| self.arena[i].clone()));
        std::mem::swap(&mut self.arena, spare);
        self.tracked.clear();
        self.tracked.extend(0..tracked.len());
        self.lost.clear();
        self.lost.extend(tracked.len()..tracked.len() + lost.len());
    }
}
