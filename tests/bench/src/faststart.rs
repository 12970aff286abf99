//! Moves an MP4's `moov` index in front of its media data ("fast start",
//! as `ffmpeg -movflags +faststart` or qt-faststart do), so the decode stage
//! can decode it while it downloads. The coded pictures are untouched: only
//! the box order changes and the chunk offsets (`stco`/`co64`) move by the
//! index's size.

use anyhow::{Context, bail, ensure};

/// Top-level boxes: (type, start, size).
fn boxes(bytes: &[u8]) -> anyhow::Result<Vec<([u8; 4], usize, usize)>> {
    let mut out = Vec::new();
    let mut at = 0usize;
    while at + 8 <= bytes.len() {
        let size = u32::from_be_bytes(bytes[at..at + 4].try_into()?) as usize;
        let kind: [u8; 4] = bytes[at + 4..at + 8].try_into()?;
        let size = match size {
            0 => bytes.len() - at,
            1 => usize::try_from(u64::from_be_bytes(
                bytes
                    .get(at + 8..at + 16)
                    .context("short box")?
                    .try_into()?,
            ))?,
            n => n,
        };
        ensure!(size >= 8 && at + size <= bytes.len(), "bad box at {at}");
        out.push((kind, at, size));
        at += size;
    }
    Ok(out)
}

/// Adds `shift` to every chunk offset inside `moov` (a box's payload walk).
fn shift_offsets(data: &mut [u8], shift: u64) -> anyhow::Result<()> {
    let mut at = 0usize;
    while at + 8 <= data.len() {
        let size = u32::from_be_bytes(data[at..at + 4].try_into()?) as usize;
        ensure!(size >= 8 && at + size <= data.len(), "bad box in moov");
        let kind: [u8; 4] = data[at + 4..at + 8].try_into()?;
        let body = &mut data[at + 8..at + size];
        match &kind {
            b"trak" | b"mdia" | b"minf" | b"stbl" => shift_offsets(body, shift)?,
            b"stco" | b"co64" => {
                let wide = &kind == b"co64";
                let count = u32::from_be_bytes(body[4..8].try_into()?) as usize;
                let width = if wide { 8 } else { 4 };
                ensure!(body.len() >= 8 + count * width, "short {kind:?}");
                for entry in body[8..8 + count * width].chunks_exact_mut(width) {
                    if wide {
                        let v = u64::from_be_bytes(entry.try_into()?) + shift;
                        entry.copy_from_slice(&v.to_be_bytes());
                    } else {
                        let v = u64::from(u32::from_be_bytes(entry.try_into()?)) + shift;
                        let v = u32::try_from(v).context("chunk offset past 4 GiB")?;
                        entry.copy_from_slice(&v.to_be_bytes());
                    }
                }
            }
            _ => {}
        }
        at += size;
    }
    Ok(())
}

/// `bytes` with `moov` first (after `ftyp`); unchanged if it already is.
pub fn faststart(bytes: &[u8]) -> anyhow::Result<Vec<u8>> {
    let all = boxes(bytes)?;
    let moov = all
        .iter()
        .position(|(k, ..)| k == b"moov")
        .context("no moov box")?;
    let Some(mdat) = all.iter().position(|(k, ..)| k == b"mdat") else {
        bail!("no mdat box");
    };
    if moov < mdat {
        return Ok(bytes.to_vec());
    }
    let (_, start, size) = all[moov];
    let mut index = bytes[start..start + size].to_vec();
    shift_offsets(&mut index[8..], size as u64)?;
    let mut out = Vec::with_capacity(bytes.len());
    for (i, (_, start, size)) in all.iter().enumerate() {
        if i == mdat {
            out.extend_from_slice(&index);
        }
        if i != moov {
            out.extend_from_slice(&bytes[*start..start + size]);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sv_decode::config::HardwarePreference;
    use sv_decode::{DecodeConfig, decode_file};

    fn order(bytes: &[u8]) -> Vec<String> {
        boxes(bytes)
            .unwrap()
            .iter()
            .map(|(k, ..)| String::from_utf8_lossy(k).into_owned())
            .collect()
    }

    fn frames(path: &std::path::Path) -> Vec<sv_core::Frame> {
        let config = DecodeConfig {
            hardware: HardwarePreference::Off,
            ..DecodeConfig::default()
        };
        let mut frames = Vec::new();
        decode_file(path, &config, |f| {
            frames.push(f);
            true
        })
        .unwrap();
        frames
    }

    #[test]
    fn the_index_moves_first_and_the_pictures_stay_the_same() {
        let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../fixtures/clip/sample_720p.mp4");
        let dir = std::env::temp_dir().join(format!("sv-faststart-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // ffmpeg's default layout: the index after the media data.
        let late = dir.join("late.mp4");
        let status = std::process::Command::new("ffmpeg")
            .args(["-loglevel", "error", "-y", "-i"])
            .arg(&fixture)
            .args(["-c", "copy"])
            .arg(&late)
            .status()
            .unwrap();
        assert!(status.success());
        let bytes = std::fs::read(&late).unwrap();
        let before = order(&bytes);
        assert!(
            before.iter().position(|k| k == "mdat") < before.iter().position(|k| k == "moov"),
            "{before:?}"
        );
        let moved = faststart(&bytes).unwrap();
        let after = order(&moved);
        assert!(
            after.iter().position(|k| k == "moov") < after.iter().position(|k| k == "mdat"),
            "{after:?}"
        );
        assert_eq!(moved.len(), bytes.len());
        assert_eq!(
            faststart(&moved).unwrap(),
            moved,
            "already fast-start: unchanged"
        );
        let early = dir.join("early.mp4");
        std::fs::write(&early, &moved).unwrap();
        let (a, b) = (frames(&late), frames(&early));
        std::fs::remove_dir_all(&dir).ok();
        assert_eq!(a.len(), 50);
        assert_eq!(a.len(), b.len());
        assert!(
            a.iter()
                .zip(&b)
                .all(|(a, b)| a.data == b.data && a.pts_ns == b.pts_ns)
        );
    }
}
