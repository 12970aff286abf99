//! Letterboxing whole batches straight into the network's input tensors,
//! with the frames spread over a few threads.

use std::ops::Range;

use sv_core::{Frame, PixelFormat};

use super::letterbox::Letterbox;
use crate::error::InferError;
use crate::tensor::{ImageOut, InputTensor};

/// One image to draw: a frame, where it lands, and its part of a tensor.
pub struct Slot<'a> {
    /// The RGB frame to draw.
    pub frame: &'a Frame,
    /// Where in the input the frame lands.
    pub letterbox: Letterbox,
    /// The image's values in the batch tensor, overwritten by the draw.
    pub out: ImageOut<'a>,
}

impl Slot<'_> {
    fn draw(self) {
        match self.out {
            ImageOut::F32(out) => self.letterbox.draw_chw(self.frame, out),
            ImageOut::F16(out) => self.letterbox.draw_chw(self.frame, out),
            ImageOut::U8(out) => self.letterbox.draw_chw(self.frame, out),
        }
    }
}

/// Sizes `tensor` for a batch of `batch` images letterboxed by `letterbox`
/// and pairs each of `frames` (all of one size, at most `batch`) with its
/// image in it. Images past the frames are padding: a GPU runs every batch
/// at one shape, and their outputs are never read. The tensor keeps its
/// allocation between batches; every frame's image is overwritten when the
/// slots are drawn, so nothing is cleared here.
pub fn slots<'a>(
    letterbox: Letterbox,
    frames: &'a [Frame],
    tensor: &'a mut InputTensor,
    batch: usize,
) -> Result<Vec<Slot<'a>>, InferError> {
    let batch = batch.max(frames.len());
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
    tensor.resize(len * batch);
    Ok(frames
        .iter()
        .zip(tensor.images(len))
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
        slots.into_iter().for_each(Slot::draw);
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
            scope.spawn(move || share.into_iter().for_each(Slot::draw));
        }
        own.into_iter().for_each(Slot::draw);
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
    use crate::tensor::ElementType;

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
            let mut a = InputTensor::new(ElementType::F32);
            let mut b = InputTensor::new(ElementType::F16);
            let mut all = slots(big, &frames, &mut a, 5).unwrap();
            all.extend(slots(small, &frames, &mut b, 5).unwrap());
            draw_all(all, threads);
            (a.view().to_f32(), b.view().to_f32())
        };
        let one = draw(1);
        for threads in [2, 3, 16] {
            assert_eq!(draw(threads), one, "{threads} threads");
        }
        // And each image is the frame's own letterbox.
        let mut want = vec![half::f16::ZERO; small.tensor_len()];
        small.draw_chw(&frames[3], &mut want);
        let want: Vec<f32> = want.iter().map(|v| v.to_f32()).collect();
        let len = small.tensor_len();
        assert_eq!(&one.1[3 * len..4 * len], &want[..]);
    }

    #[test]
    fn a_short_batch_is_padded_to_the_batch_size() {
        let frames: Vec<Frame> = (0..3).map(|i| frame(i, 64, 36)).collect();
        let lb = Letterbox::new(64, 36, (64, 64), 32, true);
        let mut tensor = InputTensor::new(ElementType::F32);
        let all = slots(lb, &frames, &mut tensor, 8).unwrap();
        assert_eq!(all.len(), 3, "one slot per frame");
        draw_all(all, 2);
        assert_eq!(tensor.len(), 8 * lb.tensor_len(), "eight images");
        let values = tensor.view().to_f32();
        let mut third = vec![0f32; lb.tensor_len()];
        lb.draw_chw(&frames[2], &mut third);
        assert_eq!(
            &values[2 * lb.tensor_len()..3 * lb.tensor_len()],
            &third[..]
        );
        // A batch size below the frame count never drops a frame.
        let mut small = InputTensor::new(ElementType::F32);
        assert_eq!(slots(lb, &frames, &mut small, 1).unwrap().len(), 3);
        assert_eq!(small.len(), 3 * lb.tensor_len());
    }

    #[test]
    fn a_frame_of_another_size_is_refused() {
        let frames = [frame(0, 320, 180), frame(1, 320, 240)];
        let lb = Letterbox::new(320, 180, (320, 320), 32, true);
        let mut tensor = InputTensor::new(ElementType::F32);
        let err = slots(lb, &frames, &mut tensor, 2).err().unwrap();
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
