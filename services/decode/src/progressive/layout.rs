//! Whether an MP4 can be decoded as it arrives, from the order of its
//! top-level boxes.
//!
//! A demuxer reading a stream (no seeking) needs the index (`moov`) before
//! the media data (`mdat`). Encoders that "fast start" write `moov` first;
//! ffmpeg's default writes it last, and such a file can only be decoded once
//! it is all here. Only box headers are read: 8 bytes (16 with a 64-bit
//! size) at each top-level box's offset.

/// How a file's top-level boxes are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// `moov` comes before any media data: decodable while it downloads.
    IndexFirst,
    /// Media data (`mdat`, or a fragment) comes before `moov`.
    IndexAtEnd,
    /// Not an ISO base media file (MP4, MOV) as far as the header goes.
    NotMp4,
}

impl Layout {
    /// Why a layout cannot be streamed, for the log.
    pub fn reason(self) -> &'static str {
        match self {
            Self::IndexFirst => "the MP4 index (moov) comes first",
            Self::IndexAtEnd => "the MP4 index (moov) comes after the media data (mdat)",
            Self::NotMp4 => "the file does not start like an MP4 (no ISO box structure)",
        }
    }
}

/// Box types that may precede `moov` at the top level.
const SKIPPABLE: &[&[u8; 4]] = &[
    b"ftyp", b"styp", b"free", b"skip", b"wide", b"uuid", b"pdin", b"meta", b"prft", b"jumb",
];

/// Reads the layout from the first `available` bytes of a file, reading
/// box headers through `read_at(offset, buffer)`. `complete`: those bytes
/// are the whole file. `Ok(None)`: more bytes are needed to tell.
pub fn layout(
    available: u64,
    complete: bool,
    read_at: &mut dyn FnMut(u64, &mut [u8]) -> std::io::Result<()>,
) -> std::io::Result<Option<Layout>> {
    let mut offset = 0u64;
    let mut first = true;
    loop {
        if offset + 8 > available {
            return Ok(complete.then_some(if first {
                Layout::NotMp4
            } else {
                Layout::IndexAtEnd
            }));
        }
        let mut header = [0u8; 16];
        read_at(offset, &mut header[..8])?;
        let kind: [u8; 4] = header[4..8].try_into().expect("four bytes");
        if !kind.iter().all(|b| b.is_ascii_graphic() || *b == b' ') {
            return Ok(Some(Layout::NotMp4));
        }
        if &kind == b"moov" {
            return Ok(Some(Layout::IndexFirst));
        }
        let known = SKIPPABLE.contains(&&kind);
        if first && !known && &kind != b"mdat" {
            return Ok(Some(Layout::NotMp4));
        }
        if !known {
            // mdat, moof, sidx, or anything else before the index.
            return Ok(Some(Layout::IndexAtEnd));
        }
        let size = match u32::from_be_bytes(header[..4].try_into().expect("four bytes")) {
            0 => return Ok(Some(Layout::IndexAtEnd)), // runs to the end of the file
            1 => {
                if offset + 16 > available {
                    return Ok(complete.then_some(Layout::NotMp4));
                }
                read_at(offset + 8, &mut header[8..16])?;
                u64::from_be_bytes(header[8..16].try_into().expect("eight bytes"))
            }
            n => u64::from(n),
        };
        if size < 8 {
            return Ok(Some(Layout::NotMp4));
        }
        offset = offset.saturating_add(size);
        first = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn boxed(kind: &[u8; 4], payload: usize) -> Vec<u8> {
        let mut b = ((payload + 8) as u32).to_be_bytes().to_vec();
        b.extend_from_slice(kind);
        b.resize(payload + 8, 0);
        b
    }

    /// The layout of `bytes`, of which only the first `available` are here.
    fn of(bytes: &[u8], available: usize) -> Option<Layout> {
        let complete = available >= bytes.len();
        let available = available.min(bytes.len());
        let mut read = |offset: u64, buf: &mut [u8]| {
            let offset = offset as usize;
            assert!(offset + buf.len() <= available, "read past what arrived");
            buf.copy_from_slice(&bytes[offset..offset + buf.len()]);
            Ok(())
        };
        layout(available as u64, complete, &mut read).unwrap()
    }

    #[test]
    fn index_first_is_known_from_the_first_box_headers() {
        let file = [
            boxed(b"ftyp", 24),
            boxed(b"moov", 1000),
            boxed(b"mdat", 5000),
        ]
        .concat();
        assert_eq!(of(&file, 20), None, "ftyp's header alone says nothing yet");
        assert_eq!(of(&file, 40), Some(Layout::IndexFirst));
        // A free box in between is skipped by its size, not read.
        let file = [boxed(b"ftyp", 24), boxed(b"free", 300), boxed(b"moov", 10)].concat();
        assert_eq!(of(&file, 200), None);
        assert_eq!(of(&file, 32 + 308 + 8), Some(Layout::IndexFirst));
    }

    #[test]
    fn index_at_the_end_is_known_at_the_first_media_box() {
        let file = [
            boxed(b"ftyp", 24),
            boxed(b"free", 0),
            boxed(b"mdat", 5000),
            boxed(b"moov", 100),
        ]
        .concat();
        assert_eq!(of(&file, 48), Some(Layout::IndexAtEnd));
        let fragmented_wrong = [boxed(b"ftyp", 24), boxed(b"moof", 100)].concat();
        assert_eq!(of(&fragmented_wrong, 48), Some(Layout::IndexAtEnd));
        // An mdat that runs to the end of the file (size 0).
        let mut open_ended = boxed(b"ftyp", 24);
        open_ended.extend_from_slice(&[0, 0, 0, 0, b'm', b'd', b'a', b't', 1, 2, 3]);
        assert_eq!(of(&open_ended, 40), Some(Layout::IndexAtEnd));
        // A whole file with no index at all.
        assert_eq!(of(&boxed(b"ftyp", 24), 32), Some(Layout::IndexAtEnd));
    }

    #[test]
    fn sixty_four_bit_sizes_are_followed() {
        let mut ftyp = 1u32.to_be_bytes().to_vec();
        ftyp.extend_from_slice(b"ftyp");
        ftyp.extend_from_slice(&40u64.to_be_bytes());
        ftyp.resize(40, 0);
        let file = [ftyp, boxed(b"moov", 8)].concat();
        assert_eq!(of(&file, 12), None);
        assert_eq!(of(&file, 48), Some(Layout::IndexFirst));
    }

    #[test]
    fn other_files_are_not_mp4() {
        assert_eq!(
            of(b"this is not a video at all\n", 27),
            Some(Layout::NotMp4)
        );
        assert_eq!(
            of(&[0x1a, 0x45, 0xdf, 0xa3, 0x9f, 0x42, 0x86, 0x81, 1], 9),
            Some(Layout::NotMp4),
            "Matroska"
        );
        assert_eq!(of(b"", 0), Some(Layout::NotMp4));
        let tiny = [0u8, 0, 0, 4, b'f', b't', b'y', b'p'];
        assert_eq!(
            of(&tiny, 8),
            Some(Layout::NotMp4),
            "a box smaller than its header"
        );
    }

    #[test]
    fn the_sample_clip_has_its_index_first() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/clip/sample_720p.mp4"
        );
        let bytes = std::fs::read(path).unwrap();
        assert_eq!(of(&bytes, 64), Some(Layout::IndexFirst));
    }
}
