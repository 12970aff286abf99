//! Decoded frames as they travel from decode to infer.

use bytes::Bytes;

/// How the bytes of a [`Frame`] are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PixelFormat {
    /// Packed 8-bit R, G, B; `stride` bytes per row (at least 3 * width).
    Rgb8,
    /// Semi-planar 4:2:0: a Y plane of `stride * height` bytes followed by an
    /// interleaved UV plane of `stride * height / 2` bytes.
    Nv12,
}

/// One decoded frame. `data` is reference counted so a frame can be handed
/// between stages (and into a gRPC message) without copying pixels.
#[derive(Clone, PartialEq)]
pub struct Frame {
    /// 0-based position in decode order, consecutive within a video.
    pub index: u64,
    /// Presentation timestamp in nanoseconds, when the container gives one.
    pub pts_ns: Option<u64>,
    /// Width of the video as encoded, in pixels; detections are reported in
    /// these pixels.
    pub source_width: u32,
    /// Height of the video as encoded, in pixels (see `source_width`).
    pub source_height: u32,
    /// How `data` is laid out.
    pub format: PixelFormat,
    /// Width of the pixels in `data`. Equal to the source size unless the
    /// decoder downscaled (infer maps boxes back to source pixels either way).
    pub width: u32,
    /// Height of the pixels in `data` (see `width`).
    pub height: u32,
    /// Bytes per row of `data`.
    pub stride: u32,
    /// The pixels, in `format`, `stride` bytes per row.
    pub data: Bytes,
}

impl Frame {
    /// Builds a tightly packed RGB frame at source resolution.
    pub fn rgb(index: u64, width: u32, height: u32, data: Bytes) -> Self {
        Self {
            index,
            pts_ns: None,
            source_width: width,
            source_height: height,
            format: PixelFormat::Rgb8,
            width,
            height,
            stride: width * 3,
            data,
        }
    }

    /// The number of bytes `data` must hold for this frame's format and size.
    pub fn expected_len(&self) -> usize {
        let rows = self.height as usize;
        match self.format {
            PixelFormat::Rgb8 => self.stride as usize * rows,
            PixelFormat::Nv12 => self.stride as usize * (rows + rows.div_ceil(2)),
        }
    }
}

/// Sizes and timestamps only: a frame's pixels are megabytes of noise in a
/// log line or a failed assertion.
impl std::fmt::Debug for Frame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Frame")
            .field("index", &self.index)
            .field("pts_ns", &self.pts_ns)
            .field("source", &(self.source_width, self.source_height))
            .field("format", &self.format)
            .field("size", &(self.width, self.height))
            .field("stride", &self.stride)
            .field("bytes", &self.data.len())
            .finish()
    }
}
