//! Letterboxing whole batches straight into the network's input tensors,
//! with the frames spread over a few threads.

use std::ops::Range;

use sv_core::{Frame, PixelFormat};

use super::letterbox::Letterbox;
use crate::error::InferError;

/// One image to draw: a frame, where it lands, and its part of a tensor.
pub struct Slot<'a> {
    pub frame: &'a Frame,
    pub letterbox: Letterbox,
    pub out: &'a mut [f32],
}

/// Sizes `tensor` for `frames` (all of one size) letterboxed by `letterbox`
/// and pairs each frame with its image in it. The tensor keeps its
/// allocation between batches; every element is overwritten when the slots
/// are drawn, so nothing is cleared here.
pub fn slots<'a>(
    letterbox: Letterbox,
    frames: &'a [Frame],
    tensor: &'a mut Vec<f32>,
) -> Result<Vec<Slot<'a>>, InferError> {
    for frame in frames {
        check_frame(frame)?;
        if (frame.width, frame.height) != (letterbox.src_w, letterbox.src_h) {
            return Err(InferError::BadFrame {
                index: frame.index,
                why: "frame size differs from the rest of its batch".into(),
            });
        }
    }
    let len = letterbox.tensor_len();
    tensor.resize(len * frames.len(), 0.0);
    Ok(frames
        .iter()
        .zip(tensor.chunks_exact_mut(len))
        .map(|(frame, out)| Slot {
            frame,
            letterbox,
            out,
        })
        .collect())
}

/// Draws every slot on up to `threads` threads, this one included. Images
/// go largest first to the least loaded thread, so a batch mixing the player
/// model's big inputs with the pitch model's small ones still splits evenly.
pub fn draw_all(mut slots: Vec<Slot<'_>>, threads: usize) {
    let threads = threads.clamp(1, slots.len().max(1));
    if threads == 1 {
        for slot in slots {
            slot.letterbox.draw_chw(slot.frame, slot.out);
        }
        return;
    }
    slots.sort_by_key(|s| std::cmp::Reverse(s.out.len()));
    let mut shares: Vec<(usize, Vec<Slot<'_>>)> = (0..threads).map(|_| (0, Vec::new())).collect();
    for slot in slots {
        let lightest = (0..shares.len()).min_by_key(|&i| shares[i].0).unwrap_or(0);
        shares[lightest].0 += slot.out.len();
        shares[lightest].1.push(slot);
    }
    let mut shares = shares.into_iter().map(|(_, share)| share);
    let own = shares.next().unwrap_or_default();
    std::thread::scope(|scope| {
        for share in shares {
            scope.spawn(move || {
                for slot in share {
                    slot.letterbox.draw_chw(slot.frame, slot.out);
                }
            });
        }
        for slot in own {
            slot.letterbox.draw_chw(slot.frame, slot.out);
        }
    });
}

/// Splits `frames` into runs of equally sized frames (one tensor each).
pub fn same_size_runs(frames: &[Frame]) -> Vec<Range<usize>> {
    let mut runs = Vec::new();
    let mut start = 0;
    while start < frames.len() {
        let size = (frames[start].width, frames[start].height);
        let len = frames[start..]
            .iter()
            .take_while(|f| (f.width, f.height) == size)
            .count();
        runs.push(start..start + len);
        start += len;
    }
    runs
}

/// What the CPU letterbox can take.
pub fn check_frame(frame: &Frame) -> Result<(), InferError> {
    let bad = |why: &str| {
        Err(InferError::BadFrame {
            index: frame.index,
            why: why.into(),
        })
    };
    if frame.format != PixelFormat::Rgb8 {
        return bad("infer takes RGB frames");
    }
    if frame.width == 0
        || frame.height == 0
        || frame.data.len() < frame.expected_len()
        || frame.stride < frame.width * 3
    {
        return bad("pixel buffer does not match the frame size");
    }
    if (frame.width, frame.height) != (frame.source_width, frame.source_height) {
        return bad("downscaled frames are not supported by the CPU path");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(index: u64, width: u32, height: u32) -> Frame {
        let data: Vec<u8> = (0..width * height * 3)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8 ^ index as u8)
            .collect();
        Frame::rgb(index, width, height, data.into())
    }

    #[test]
    fn threads_draw_exactly_what_one_thread_draws() {
        let frames: Vec<Frame> = (0..5).map(|i| frame(i, 320, 180)).collect();
        let big = Letterbox::new(320, 180, (320, 320), 32, true);
        let small = Letterbox::new(320, 180, (160, 160), 32, true);
        let draw = |threads: usize| {
            let (mut a, mut b) = (Vec::new(), Vec::new());
            let mut all = slots(big, &frames, &mut a).unwrap();
            all.extend(slots(small, &frames, &mut b).unwrap());
            draw_all(all, threads);
            (a, b)
        };
        let one = draw(1);
        for threads in [2, 3, 16] {
            assert_eq!(draw(threads), one, "{threads} threads");
        }
        // And each image is the frame's own letterbox.
        let mut want = vec![0.0; small.tensor_len()];
        small.draw_chw(&frames[3], &mut want);
        let len = small.tensor_len();
        assert_eq!(&one.1[3 * len..4 * len], &want[..]);
    }

    #[test]
    fn a_frame_of_another_size_is_refused() {
        let frames = [frame(0, 320, 180), frame(1, 320, 240)];
        let lb = Letterbox::new(320, 180, (320, 320), 32, true);
        let err = slots(lb, &frames, &mut Vec::new()).err().unwrap();
        assert!(
            matches!(err, InferError::BadFrame { index: 1, .. }),
            "{err}"
        );
    }

    #[test]
    fn runs_split_where_the_size_changes() {
        let frames = [
            frame(0, 32, 32),
            frame(1, 32, 32),
            frame(2, 64, 32),
            frame(3, 32, 32),
        ];
        assert_eq!(same_size_runs(&frames), vec![0..2, 2..3, 3..4]);
        assert!(same_size_runs(&[]).is_empty());
    }
}
