//! Frames read back from the PNGs the fixture script saved from
//! `cv2.VideoCapture`: exactly the pixels the reference miner saw.

use std::path::Path;

use bytes::Bytes;
use sv_core::{Frame, FrameSource, FrameStream, StageError, VideoRequest};

/// Decodes one PNG (8-bit RGB) into a frame.
pub fn load_png(path: &Path, index: u64) -> anyhow::Result<Frame> {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path)?));
    let mut reader = decoder.read_info()?;
    let mut data = vec![
        0;
        reader
            .output_buffer_size()
            .ok_or_else(|| anyhow::anyhow!("PNG too large"))?
    ];
    let info = reader.next_frame(&mut data)?;
    anyhow::ensure!(
        info.color_type == png::ColorType::Rgb && info.bit_depth == png::BitDepth::Eight,
        "{} is not 8-bit RGB",
        path.display()
    );
    data.truncate(info.buffer_size());
    Ok(Frame::rgb(
        index,
        info.width,
        info.height,
        Bytes::from(data),
    ))
}

/// A [`FrameSource`] over the golden frames, whatever URL it is asked for.
pub struct PngFrames {
    /// The frames it yields, in order, for every request.
    pub frames: Vec<Frame>,
}

impl FrameSource for PngFrames {
    fn frames(&self, _request: VideoRequest) -> FrameStream {
        let items: Vec<Result<Frame, StageError>> = self.frames.iter().cloned().map(Ok).collect();
        Box::pin(futures::stream::iter(items))
    }
}
