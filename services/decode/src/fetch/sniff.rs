//! Is this body a video? Decided from its first bytes, before the rest is
//! downloaded: a 300 MB web page or archive is refused after a few hundred
//! bytes instead of after the whole transfer.
//!
//! Containers recognised (what GStreamer's demuxers read and validators
//! could plausibly send): ISO BMFF (MP4, MOV, 3GP, M4V; QuickTime files
//! that open with `moov`/`mdat`/`wide`/`free`/`skip`), Matroska and WebM,
//! MPEG transport streams (188-byte packets, or 192 for M2TS), MPEG program
//! streams and elementary video streams (start codes), AVI, FLV, Ogg, ASF
//! (WMV) and IVF.

/// Bytes enough for every signature (two M2TS packets' sync bytes).
pub const SNIFF_LEN: usize = 2 * 192 + 4;
const _: () = assert!(SNIFF_LEN > 192 + 4);

/// What the first bytes say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sniffed {
    /// A video container (its name, for logs).
    Video(&'static str),
    /// No video container starts like this.
    NotVideo,
    /// Too few bytes to tell yet.
    NeedMore,
}

/// Sniffs `head`, the body's first bytes; `complete` when that is the
/// whole body (then nothing more will come to decide with).
pub fn sniff(head: &[u8], complete: bool) -> Sniffed {
    let at = |offset: usize, magic: &[u8]| head.get(offset..offset + magic.len()) == Some(magic);
    const BMFF: [&[u8]; 8] = [
        b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"pnot", b"uuid",
    ];
    let fixed: [(&'static str, usize, &[u8]); 9] = [
        ("Matroska/WebM", 0, &[0x1a, 0x45, 0xdf, 0xa3]),
        ("MPEG-PS", 0, &[0, 0, 1, 0xba]),
        ("MPEG video", 0, &[0, 0, 1, 0xb3]),
        ("Annex B video", 0, &[0, 0, 0, 1]),
        ("FLV", 0, b"FLV\x01"),
        ("Ogg", 0, b"OggS"),
        ("ASF", 0, &[0x30, 0x26, 0xb2, 0x75, 0x8e, 0x66, 0xcf, 0x11]),
        ("IVF", 0, b"DKIF"),
        ("AVI", 8, b"AVI "),
    ];
    for (name, offset, magic) in fixed {
        if at(offset, magic) && (name != "AVI" || at(0, b"RIFF")) {
            return Sniffed::Video(name);
        }
    }
    if BMFF.iter().any(|b| at(4, b)) {
        return Sniffed::Video("MP4/MOV");
    }
    // MPEG-TS: a sync byte every packet; one alone could be anything.
    for (name, first, packet) in [("MPEG-TS", 0, 188), ("M2TS", 4, 192)] {
        if at(first, &[0x47]) && at(first + packet, &[0x47]) {
            return Sniffed::Video(name);
        }
    }
    let could_still_be = |offset: usize, magic: &[u8]| {
        let have = head.len().saturating_sub(offset).min(magic.len());
        head.len() < offset + magic.len() && head.get(offset..offset + have) == Some(&magic[..have])
    };
    let undecided = head.len() < 12
        || fixed.iter().any(|&(_, o, m)| could_still_be(o, m))
        || (at(0, &[0x47]) && head.len() <= 188)
        || (at(4, &[0x47]) && head.len() <= 196);
    if undecided && !complete {
        Sniffed::NeedMore
    } else {
        Sniffed::NotVideo
    }
}

/// The first bytes as a reader would want them in an error: text when they
/// are printable, hex otherwise.
pub fn describe(head: &[u8]) -> String {
    let first = &head[..head.len().min(16)];
    if first.is_empty() {
        return "an empty body".into();
    }
    if first.iter().all(|b| b.is_ascii_graphic() || *b == b' ') {
        format!("{:?}", String::from_utf8_lossy(first))
    } else {
        first
            .iter()
            .take(8)
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(packet: usize, offset: usize) -> Vec<u8> {
        let mut v = vec![0u8; 2 * packet + 8];
        v[offset] = 0x47;
        v[offset + packet] = 0x47;
        v
    }

    #[test]
    fn video_containers_are_recognised() {
        let bmff = b"\0\0\0\x18ftypisom\0\0\x02\0isomiso2".to_vec();
        let mov = b"\0\0\0\x08wide\0\0\0\0mdat".to_vec();
        let mkv = vec![
            0x1a, 0x45, 0xdf, 0xa3, 0x9f, 0x42, 0x86, 0x81, 1, 0, 0, 0, 0,
        ];
        let avi = b"RIFF\x10\0\0\0AVI LIST".to_vec();
        for (bytes, name) in [
            (bmff, "MP4/MOV"),
            (mov, "MP4/MOV"),
            (mkv, "Matroska/WebM"),
            (ts(188, 0), "MPEG-TS"),
            (ts(192, 4), "M2TS"),
            (avi, "AVI"),
            (b"FLV\x01\x05\0\0\0\x09\0\0\0\0".to_vec(), "FLV"),
            (b"OggS\0\x02\0\0\0\0\0\0".to_vec(), "Ogg"),
            (
                b"\0\0\x01\xba\x44\0\x04\0\x04\x01\x01\x89".to_vec(),
                "MPEG-PS",
            ),
            (
                b"\0\0\0\x01\x67\x42\0\x1e\0\0\0\0".to_vec(),
                "Annex B video",
            ),
        ] {
            assert_eq!(sniff(&bytes, false), Sniffed::Video(name), "{bytes:?}");
        }
    }

    #[test]
    fn other_bodies_are_refused_early() {
        let html = b"<!DOCTYPE html><html><head><title>Sign in</title>".to_vec();
        let zip = b"PK\x03\x04\x14\0\0\0\x08\0\0\0".to_vec();
        let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
        let jpeg = b"\xff\xd8\xff\xe0\0\x10JFIF\0\x01\x01".to_vec();
        let wav = b"RIFF\x10\0\0\0WAVEfmt ".to_vec();
        let json = br#"{"error": "not found"}"#.to_vec();
        for bytes in [html, zip, png, jpeg, wav, json] {
            assert_eq!(sniff(&bytes, false), Sniffed::NotVideo, "{bytes:?}");
        }
        assert_eq!(sniff(b"", true), Sniffed::NotVideo);
        // One sync byte is not a transport stream.
        let mut lone = vec![0x47];
        lone.extend([0u8; 300]);
        assert_eq!(sniff(&lone, false), Sniffed::NotVideo);
    }

    #[test]
    fn a_short_start_waits_for_more_unless_it_is_all() {
        for head in [
            &b""[..],
            b"\0\0\0",
            b"\0\0\0\x18ftyp"[..7].as_ref(),
            &[0x47; 1],
        ] {
            assert_eq!(sniff(head, false), Sniffed::NeedMore, "{head:?}");
            assert_eq!(sniff(head, true), Sniffed::NotVideo, "{head:?}");
        }
        assert_eq!(sniff(&[0x1a, 0x45], false), Sniffed::NeedMore);
        assert_eq!(sniff(b"<html", false), Sniffed::NeedMore, "under 12 bytes");
        assert_eq!(sniff(b"<html><body>", false), Sniffed::NotVideo);
    }

    #[test]
    fn first_bytes_are_described_readably() {
        assert_eq!(describe(b"<!DOCTYPE html><html>"), "\"<!DOCTYPE html><\"");
        assert_eq!(describe(b"PK\x03\x04\x14\0"), "50 4b 03 04 14 00");
        assert_eq!(describe(b""), "an empty body");
    }
}
