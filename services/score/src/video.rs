//! The clip as the validator sees it: decoded by OpenCV's `VideoCapture`
//! (FFmpeg backend, BGR, native size), its size and frame count from the
//! container.
//!
//! The validator seeks before every frame (`CAP_PROP_POS_FRAMES`) when it
//! finds the pitch lines and pitch frames, and reads in order when it scores
//! boxes. [`Decode::Sequential`] reads in order (one decode per frame);
//! [`Decode::Seek`] seeks like the validator (each seek decodes from the
//! previous keyframe, so it is much slower). Where OpenCV's seeking is
//! exact, as on the fixture clip, both give the same pictures.

use std::path::{Path, PathBuf};

use opencv::core::{Mat, MatTraitConst};
use opencv::prelude::VideoCaptureTraitConst;
use opencv::videoio::{self, VideoCapture, VideoCaptureTrait};

use crate::error::ScoreError;

/// How frames are read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Decode {
    /// In order, as the validator's box scoring reads.
    #[default]
    Sequential,
    /// Seek to each index then read, as the validator's frame pass does.
    Seek,
}

/// An open clip.
pub struct Video {
    path: PathBuf,
    capture: VideoCapture,
    /// `CAP_PROP_FRAME_WIDTH` as an integer, pixels.
    pub width: i32,
    /// `CAP_PROP_FRAME_HEIGHT` as an integer, pixels.
    pub height: i32,
    /// `CAP_PROP_FRAME_COUNT`: the indices the validator walks.
    pub frame_count: u64,
}

impl Video {
    /// Opens `path` with OpenCV's FFmpeg backend and reads its size and
    /// frame count; a missing file, one OpenCV cannot open, or one without
    /// a size or frames is a [`ScoreError::Video`].
    pub fn open(path: &Path) -> Result<Video, ScoreError> {
        let fail = |detail: String| ScoreError::Video {
            path: path.to_owned(),
            detail,
        };
        if !path.is_file() {
            return Err(fail("no such file".into()));
        }
        let name = path
            .to_str()
            .ok_or_else(|| fail("the path is not UTF-8".into()))?;
        let capture =
            VideoCapture::from_file(name, videoio::CAP_FFMPEG).map_err(|e| fail(e.to_string()))?;
        if !capture.is_opened().map_err(|e| fail(e.to_string()))? {
            return Err(fail("OpenCV cannot open it as a video".into()));
        }
        let prop = |p: i32| capture.get(p).map_err(|e| fail(e.to_string()));
        let (width, height) = (
            prop(videoio::CAP_PROP_FRAME_WIDTH)? as i32,
            prop(videoio::CAP_PROP_FRAME_HEIGHT)? as i32,
        );
        let count = prop(videoio::CAP_PROP_FRAME_COUNT)?;
        if width <= 0 || height <= 0 || count < 1.0 {
            return Err(fail(format!("{width}x{height}, {count} frames")));
        }
        Ok(Video {
            path: path.to_owned(),
            capture,
            width,
            height,
            frame_count: count as u64,
        })
    }

    /// Calls `each(index, frame)` for every index below the frame count
    /// that decodes (the validator skips those that do not); returns how
    /// many did. Reading stops early only at the end of the stream.
    pub fn for_each_frame(
        &mut self,
        decode: Decode,
        mut each: impl FnMut(u64, &Mat) -> Result<(), ScoreError>,
    ) -> Result<u64, ScoreError> {
        let mut frame = Mat::default();
        let mut decoded = 0;
        for index in 0..self.frame_count {
            if decode == Decode::Seek {
                self.capture
                    .set(videoio::CAP_PROP_POS_FRAMES, index as f64)
                    .map_err(|e| self.failed(index, e))?;
            }
            let ok = self
                .capture
                .read(&mut frame)
                .map_err(|e| self.failed(index, e))?;
            if !ok || frame.empty() {
                if decode == Decode::Sequential {
                    break;
                }
                continue;
            }
            decoded += 1;
            each(index, &frame)?;
        }
        if decoded == 0 {
            return Err(ScoreError::Video {
                path: self.path.clone(),
                detail: "no frame decodes".into(),
            });
        }
        Ok(decoded)
    }

    /// Back to the first frame, for another pass.
    pub fn rewind(&mut self) -> Result<(), ScoreError> {
        self.capture
            .set(videoio::CAP_PROP_POS_FRAMES, 0.0)
            .map_err(|e| self.failed(0, e))?;
        Ok(())
    }

    fn failed(&self, index: u64, e: opencv::Error) -> ScoreError {
        ScoreError::Video {
            path: self.path.clone(),
            detail: format!("frame {index}: {e}"),
        }
    }
}
