//! `--frames DIR`: one lossless PNG per frame, `frame_0000.png` upwards.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use anyhow::Context;

use super::Picture;

pub struct PngDir {
    dir: PathBuf,
    digits: usize,
    written: Vec<PathBuf>,
    finished: bool,
}

impl PngDir {
    /// Creates `dir` if missing; `frames` sets the zero padding, so the
    /// names sort in frame order.
    pub fn create(dir: &Path, frames: usize) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(Self {
            dir: dir.to_owned(),
            digits: frames.saturating_sub(1).to_string().len().max(4),
            written: Vec::new(),
            finished: false,
        })
    }

    pub fn write(&mut self, picture: &Picture) -> anyhow::Result<()> {
        let path = self.dir.join(format!(
            "frame_{:0width$}.png",
            picture.index,
            width = self.digits
        ));
        let file = File::create(&path).with_context(|| format!("creating {}", path.display()))?;
        self.written.push(path.clone());
        let mut encoder = png::Encoder::new(BufWriter::new(file), picture.width, picture.height);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        encoder.set_compression(png::Compression::Fast);
        let mut writer = encoder.write_header()?;
        writer
            .write_image_data(&picture.rgb)
            .and_then(|()| writer.finish())
            .with_context(|| format!("writing {}", path.display()))
    }

    /// Keeps the pictures; returns how many there are.
    pub fn finish(mut self) -> usize {
        self.finished = true;
        self.written.len()
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// A run that failed (a result for another clip, a decode error) takes its
/// pictures back: a directory of previews should never look complete when
/// it is not.
impl Drop for PngDir {
    fn drop(&mut self) {
        if !self.finished {
            for path in &self.written {
                let _ = std::fs::remove_file(path);
            }
        }
    }
}
