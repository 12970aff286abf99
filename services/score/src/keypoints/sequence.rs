//! The keypoint score's terms over time: scene segments, keypoint stability
//! and player plausibility per segment, and the player-jump score.
//!
//! Quirks kept: a frame that starts a new scene stays in the old segment
//! (the next frame opens the new one); stability pairs frames in *string*
//! order ("100" before "99"); only 2-10 px player moves lower the jump score.

use std::collections::HashMap;

use super::Crash;
use super::homography;
use super::valid::{Valid, common_indices, distance, valid_keypoints};
use crate::answer::{Answer, Frame};

/// The class id of an outfield player.
const PLAYER: u32 = 2;

/// Frame numbers (ascending) and the segment each belongs to.
#[derive(Debug, Clone, Default)]
pub struct Segments {
    /// (frame number, segment number) for every frame of the answer,
    /// ascending by frame; segments are numbered from 0.
    pub of_frame: Vec<(u64, usize)>,
    /// Scene cuts found: one less than the number of segments.
    pub transitions: usize,
}

impl Segments {
    /// The segment frame `frame` belongs to, `None` when the answer does
    /// not have it.
    pub fn segment(&self, frame: u64) -> Option<usize> {
        self.of_frame
            .binary_search_by_key(&frame, |&(f, _)| f)
            .ok()
            .map(|at| self.of_frame[at].1)
    }

    /// Each segment's frames, ascending, by segment number.
    fn groups(&self) -> Vec<Vec<u64>> {
        let count = self.of_frame.last().map_or(0, |&(_, s)| s + 1);
        let mut groups = vec![Vec::new(); count];
        for &(frame, segment) in &self.of_frame {
            groups[segment].push(frame);
        }
        groups
    }
}

/// The players of a frame (class 2, by tracker id), centre of each box, in
/// the miner's order. An id or box missing makes the validator raise.
fn players(frame: &Frame) -> Result<Vec<(&str, [f64; 2])>, Crash> {
    let mut out = Vec::new();
    for o in frame.objects.iter().filter(|o| o.is_class(PLAYER)) {
        let id =
            o.id.as_deref()
                .ok_or_else(|| Crash("a player (class 2) without an id".into()))?;
        let bbox = o
            .bbox
            .as_deref()
            .filter(|b| b.len() >= 4)
            .ok_or_else(|| Crash("a player (class 2) without a 4-value bbox".into()))?;
        out.push((id, [(bbox[0] + bbox[2]) / 2.0, (bbox[1] + bbox[3]) / 2.0]));
    }
    Ok(out)
}

fn sorted_numbers(frames: &Answer) -> Vec<u64> {
    let mut numbers: Vec<u64> = frames.frames().iter().map(|(n, _)| *n).collect();
    numbers.sort_unstable();
    numbers
}

/// The frames in ascending order of number.
fn in_order(frames: &Answer) -> impl Iterator<Item = (u64, &Frame)> {
    sorted_numbers(frames)
        .into_iter()
        .filter_map(move |n| frames.get(n).map(|f| (n, f)))
}

/// `detect_scene_transitions`: a frame where at least half of the players
/// moved more than 20 px since the previous frame is a cut.
pub fn segments(frames: &Answer) -> Result<Segments, Crash> {
    let mut out = Segments::default();
    let mut current = 0usize;
    let mut previous: HashMap<&str, [f64; 2]> = HashMap::new();
    for (i, (number, frame)) in in_order(frames).enumerate() {
        out.of_frame.push((number, current));
        let now = players(frame)?;
        if i > 0 {
            let large = now
                .iter()
                .filter(|(id, c)| previous.get(id).is_some_and(|&p| distance(*c, p) > 20.0))
                .count();
            if !now.is_empty() && large as f64 / now.len() as f64 >= 0.5 {
                out.transitions += 1;
                current += 1;
            }
        }
        previous = now.into_iter().collect();
    }
    Ok(out)
}

/// `check_keypoint_stability`: per segment, how well the distances between
/// common keypoints keep from one frame with a homography to the next.
pub fn keypoint_stability(
    frames: &Answer,
    segments: &Segments,
    width: i32,
    height: i32,
) -> Result<Vec<f64>, Crash> {
    let mut scores = Vec::new();
    for group in segments.groups() {
        if group.len() < 2 {
            scores.push(1.0);
            continue;
        }
        let mut with_h: Vec<(String, Valid)> = Vec::new();
        for &number in &group {
            let Some(rows) = frames.get(number).and_then(|f| f.keypoints.as_ref()) else {
                continue;
            };
            let points = super::pairs(rows)?;
            if homography::estimate(&points, width, height)?.is_some() {
                with_h.push((number.to_string(), valid_keypoints(&points, None)));
            }
        }
        if with_h.len() < 2 {
            scores.push(0.5);
            continue;
        }
        with_h.sort_by(|a, b| a.0.cmp(&b.0));
        let diffs: Vec<f64> = with_h
            .windows(2)
            .filter_map(|pair| relative_change(&pair[0].1, &pair[1].1))
            .collect();
        scores.push(if diffs.is_empty() {
            0.5
        } else {
            (-10.0 * mean(&diffs)).exp()
        });
    }
    Ok(scores)
}

/// The mean relative change of the pairwise distances between the common
/// keypoints of two frames; `None` with fewer than 2 in common.
fn relative_change(prev: &Valid, curr: &Valid) -> Option<f64> {
    let common = common_indices(prev, curr);
    if common.len() < 2 {
        return None;
    }
    let p: Vec<[f64; 2]> = common.iter().filter_map(|&i| prev.at(i)).collect();
    let c: Vec<[f64; 2]> = common.iter().filter_map(|&i| curr.at(i)).collect();
    let mut rel = Vec::new();
    for i in 0..common.len() {
        for j in i + 1..common.len() {
            let (dp, dc) = (distance(p[i], p[j]), distance(c[i], c[j]));
            rel.push((dp - dc).abs() / (dp + 1e-6));
        }
    }
    Some(mean(&rel))
}

/// `check_player_plausibility`: per segment, the share of player moves
/// between frames at most 2 apart that stay within 30 px (0.5 without any).
pub fn player_plausibility(frames: &Answer, segments: &Segments) -> Result<Vec<f64>, Crash> {
    let mut scores = Vec::new();
    for group in segments.groups() {
        if group.len() < 2 {
            scores.push(1.0);
            continue;
        }
        let (mut moves, mut implausible) = (0usize, 0usize);
        let mut previous: HashMap<&str, [f64; 2]> = HashMap::new();
        for (i, &number) in group.iter().enumerate() {
            let Some(frame) = frames.get(number) else {
                continue;
            };
            let now = players(frame)?;
            if i > 0 && number - group[i - 1] <= 2 {
                for (id, c) in &now {
                    if let Some(&p) = previous.get(id) {
                        moves += 1;
                        if distance(*c, p) > 30.0 {
                            implausible += 1;
                        }
                    }
                }
            }
            previous = now.into_iter().collect();
        }
        scores.push(if moves > 0 {
            (1.0 - implausible as f64 / moves as f64).max(0.0)
        } else {
            0.5
        });
    }
    Ok(scores)
}

/// A player's appearances: (frame, box centre), under its id.
type Track<'a> = (&'a str, Vec<(u64, [f64; 2])>);

/// `score_player_positions`: over each player's appearances in frame
/// order, jumps of at most 2 px or over 10 px score 1, others 0.5; the
/// mean times 100 (0 when no player appears twice).
pub fn player_jumps(frames: &Answer) -> Result<f64, Crash> {
    let mut tracks: Vec<Track<'_>> = Vec::new();
    let mut track_of: HashMap<&str, usize> = HashMap::new();
    for (number, f) in frames.frames() {
        for (id, c) in players(f)? {
            let at = *track_of.entry(id).or_insert_with(|| {
                tracks.push((id, Vec::new()));
                tracks.len() - 1
            });
            tracks[at].1.push((*number, c));
        }
    }
    let (mut total, mut count) = (0.0, 0usize);
    for (_, track) in &mut tracks {
        // Stable, as Python's sort: a player twice in a frame keeps its order.
        track.sort_by_key(|&(n, _)| n);
        for pair in track.windows(2) {
            let jump = distance(pair[1].1, pair[0].1);
            total += if jump > 2.0 && jump <= 10.0 { 0.5 } else { 1.0 };
            count += 1;
        }
    }
    Ok(if count > 0 {
        total / count as f64 * 100.0
    } else {
        0.0
    })
}

pub(super) fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}
