//! Where everything sits in a ring file, and how the header is encoded.
//!
//! ```text
//! 0                    64          64 + 64 * slots      data_offset (page aligned)
//! | file header (64 B) | slot headers (64 B each) | pad | slot 0 data | slot 1 data | ...
//! ```
//!
//! Each slot's data starts on a page boundary (`stride` is `slot_len` rounded
//! up to a page), each slot header on its own cache line so the writer and the
//! reader flipping neighbouring slots do not false-share.
//!
//! The header is plain bytes written once by the writer before the ring's name
//! is handed to anybody; the reader validates it by recomputing the layout
//! from `(slots, slot_len)` and requiring every stored field to match, so a
//! reader never trusts an offset it did not derive itself.

/// Identifies a frame ring file (and, as a side effect, the byte order).
pub const MAGIC: [u8; 8] = *b"SVFRRING";
/// Bumped on any change of this layout; readers refuse other versions.
pub const VERSION: u32 = 1;
/// Size of the file header.
pub const HEADER_LEN: usize = 64;
/// Size of one slot header: one cache line.
pub const SLOT_HEADER_LEN: usize = 64;
/// Data alignment. 4 KiB is the smallest page on the hosts we run on; the
/// alignment is for the copy and DMA paths, correctness does not depend on it.
pub const PAGE: usize = 4096;
/// Enough for any sane pipeline depth; bounds what a header may claim.
pub const MAX_SLOTS: usize = 1024;
/// A 4K RGB frame is 25 MB; 1 GiB bounds what a header may claim.
pub const MAX_SLOT_LEN: usize = 1 << 30;

/// Why a ring's geometry or a ring file's header is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LayoutError {
    /// The slot count is 0 or above [`MAX_SLOTS`].
    #[error("slots must be 1..={MAX_SLOTS}, not {0}")]
    Slots(usize),
    /// The slot size is 0 or above [`MAX_SLOT_LEN`] bytes.
    #[error("slot_len must be 1..={MAX_SLOT_LEN}, not {0}")]
    SlotLen(usize),
    /// The ring's size does not fit the address space or a file offset.
    #[error("ring size overflows")]
    Overflow,
    /// The ring path is a directory, device or other non-regular file.
    #[error("not a regular file")]
    NotAFile,
    /// The file is too short to hold a header.
    #[error("{len} bytes, shorter than a header")]
    ShorterThanHeader {
        /// The file's length, in bytes.
        len: u64,
    },
    /// The file does not start with `SVFRRING`: not a ring, or its writer
    /// has not finished the header.
    #[error("wrong magic (not a frame ring, or not finished)")]
    Magic,
    /// The header's layout version is not the one this build reads.
    #[error("layout version {0}, expected {VERSION}")]
    Version(u32),
    /// The header's slot header size is not 64 bytes (one cache line).
    #[error("slot header of {0} bytes")]
    SlotHeader(u32),
    /// A stored count or size does not fit a `usize`.
    #[error("field {0} too large")]
    FieldTooLarge(u64),
    /// The stored stride, data offset or file length differs from what
    /// the stored slot count and size give.
    #[error("stride/data offset/file length {stored:?} do not match {derived:?}")]
    Mismatch {
        /// Stride, data offset and file length as the header stores them.
        stored: [u64; 3],
        /// The same three, recomputed from the slot count and size.
        derived: [u64; 3],
    },
    /// The file is shorter than its header's layout needs.
    #[error("{len} bytes, the layout needs {needs}")]
    FileShort {
        /// The file's length, in bytes.
        len: u64,
        /// The length the layout needs, in bytes.
        needs: usize,
    },
}

/// The geometry of one ring, derived from `(slots, slot_len)` only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    slots: usize,
    slot_len: usize,
    stride: usize,
    data_offset: usize,
    file_len: usize,
}

impl Layout {
    /// The geometry of `slots` slots of `slot_len` bytes each, or why it is
    /// refused.
    pub fn new(slots: usize, slot_len: usize) -> Result<Self, LayoutError> {
        if !(1..=MAX_SLOTS).contains(&slots) {
            return Err(LayoutError::Slots(slots));
        }
        if !(1..=MAX_SLOT_LEN).contains(&slot_len) {
            return Err(LayoutError::SlotLen(slot_len));
        }
        // Both bounds above keep every product below far from overflow
        // (1024 * 1 GiB = 2^40), but stay checked so a change of bound cannot
        // silently wrap.
        let overflow = LayoutError::Overflow;
        let stride = slot_len
            .checked_next_multiple_of(PAGE)
            .ok_or(overflow.clone())?;
        let headers_end = slots
            .checked_mul(SLOT_HEADER_LEN)
            .and_then(|h| h.checked_add(HEADER_LEN))
            .ok_or(overflow.clone())?;
        let data_offset = headers_end
            .checked_next_multiple_of(PAGE)
            .ok_or(overflow.clone())?;
        let file_len = stride
            .checked_mul(slots)
            .and_then(|d| d.checked_add(data_offset))
            .ok_or(overflow.clone())?;
        // The file length travels as u64 and becomes an off_t.
        i64::try_from(file_len).map_err(|_| overflow)?;
        Ok(Self {
            slots,
            slot_len,
            stride,
            data_offset,
            file_len,
        })
    }

    /// How many slots the ring has.
    pub fn slots(&self) -> usize {
        self.slots
    }

    /// The most bytes a slot holds.
    pub fn slot_len(&self) -> usize {
        self.slot_len
    }

    /// The ring file's length, in bytes.
    pub fn file_len(&self) -> usize {
        self.file_len
    }

    /// Byte offset of slot `index`'s header.
    pub fn slot_header_offset(&self, index: usize) -> usize {
        HEADER_LEN + index * SLOT_HEADER_LEN
    }

    /// Byte offset of slot `index`'s data: what a handle's `offset` says.
    pub fn data_offset(&self, index: usize) -> usize {
        self.data_offset + index * self.stride
    }

    /// The slot a handle from the wire names, if `(offset, length)` is
    /// exactly the start of a slot and fits in it.
    pub fn slot_at(&self, offset: u64, length: u64) -> Option<usize> {
        let offset = usize::try_from(offset).ok()?;
        let length = usize::try_from(length).ok()?;
        let rel = offset.checked_sub(self.data_offset)?;
        let index = rel / self.stride;
        (rel % self.stride == 0 && index < self.slots && length <= self.slot_len).then_some(index)
    }

    /// The file header; `writer_pid` is for people reading `/dev/shm`.
    pub fn encode(&self, writer_pid: u32) -> [u8; HEADER_LEN] {
        let mut h = [0u8; HEADER_LEN];
        h[0..8].copy_from_slice(&MAGIC);
        h[8..12].copy_from_slice(&VERSION.to_ne_bytes());
        h[12..16].copy_from_slice(&(SLOT_HEADER_LEN as u32).to_ne_bytes());
        for (at, v) in [
            (16, self.slots),
            (24, self.slot_len),
            (32, self.stride),
            (40, self.data_offset),
            (48, self.file_len),
        ] {
            h[at..at + 8].copy_from_slice(&(v as u64).to_ne_bytes());
        }
        h[56..64].copy_from_slice(&u64::from(writer_pid).to_ne_bytes());
        h
    }

    /// Parses and cross-checks a header read from a file.
    pub fn decode(h: &[u8; HEADER_LEN]) -> Result<Self, LayoutError> {
        let u32_at = |at: usize| u32::from_ne_bytes([h[at], h[at + 1], h[at + 2], h[at + 3]]);
        let u64_at = |at: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&h[at..at + 8]);
            u64::from_ne_bytes(b)
        };
        if h[0..8] != MAGIC {
            return Err(LayoutError::Magic);
        }
        let version = u32_at(8);
        if version != VERSION {
            return Err(LayoutError::Version(version));
        }
        if u32_at(12) as usize != SLOT_HEADER_LEN {
            return Err(LayoutError::SlotHeader(u32_at(12)));
        }
        let to_usize = |v: u64| usize::try_from(v).map_err(|_| LayoutError::FieldTooLarge(v));
        let layout = Self::new(to_usize(u64_at(16))?, to_usize(u64_at(24))?)?;
        let stored = [u64_at(32), u64_at(40), u64_at(48)];
        let derived = [layout.stride, layout.data_offset, layout.file_len].map(|v| v as u64);
        if stored != derived {
            return Err(LayoutError::Mismatch { stored, derived });
        }
        Ok(layout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_headers_are_cache_lines_and_data_is_page_aligned() {
        let l = Layout::new(4, 1280 * 720 * 3).expect("layout");
        assert_eq!(l.slot_header_offset(0), 64);
        assert_eq!(l.slot_header_offset(3), 64 + 3 * 64);
        assert_eq!(l.data_offset(0), PAGE);
        assert_eq!(l.data_offset(1) % PAGE, 0);
        assert!(l.data_offset(1) - l.data_offset(0) >= 1280 * 720 * 3);
        assert_eq!(
            l.file_len(),
            l.data_offset(3) + (l.data_offset(1) - l.data_offset(0))
        );
        // 63 slot headers + file header fill exactly one page; 64 spill over.
        assert_eq!(Layout::new(63, 1).expect("63").data_offset(0), PAGE);
        assert_eq!(Layout::new(64, 1).expect("64").data_offset(0), 2 * PAGE);
    }

    #[test]
    fn bad_geometry_is_refused() {
        assert_eq!(Layout::new(0, 10), Err(LayoutError::Slots(0)));
        assert_eq!(
            Layout::new(MAX_SLOTS + 1, 10),
            Err(LayoutError::Slots(MAX_SLOTS + 1))
        );
        assert_eq!(Layout::new(1, 0), Err(LayoutError::SlotLen(0)));
        assert_eq!(
            Layout::new(1, MAX_SLOT_LEN + 1).unwrap_err().to_string(),
            format!(
                "slot_len must be 1..={MAX_SLOT_LEN}, not {}",
                MAX_SLOT_LEN + 1
            )
        );
    }

    #[test]
    fn header_round_trips_and_tampering_is_caught() {
        let l = Layout::new(5, 10_000).expect("layout");
        let h = l.encode(42);
        assert_eq!(Layout::decode(&h), Ok(l));

        let mut bad = h;
        bad[0] ^= 1;
        assert_eq!(Layout::decode(&bad), Err(LayoutError::Magic));
        let mut bad = h;
        bad[8] = 9;
        assert_eq!(Layout::decode(&bad), Err(LayoutError::Version(9)));
        let mut bad = h;
        bad[48] ^= 0x10; // file_len no longer what (slots, slot_len) give
        assert!(
            matches!(Layout::decode(&bad), Err(LayoutError::Mismatch { .. })),
            "file_len"
        );
        let mut bad = h;
        bad[16..24].copy_from_slice(&u64::MAX.to_ne_bytes());
        assert!(Layout::decode(&bad).is_err(), "slots");
    }

    #[test]
    fn slot_at_accepts_only_slot_starts_that_fit() {
        let l = Layout::new(3, 5000).expect("layout");
        for i in 0..3 {
            assert_eq!(l.slot_at(l.data_offset(i) as u64, 5000), Some(i));
            assert_eq!(l.slot_at(l.data_offset(i) as u64, 0), Some(i));
        }
        assert_eq!(l.slot_at(l.data_offset(0) as u64, 5001), None);
        assert_eq!(l.slot_at(l.data_offset(0) as u64 + 1, 10), None);
        assert_eq!(l.slot_at(l.data_offset(0) as u64 - 1, 10), None);
        assert_eq!(l.slot_at(0, 10), None);
        assert_eq!(l.slot_at(l.data_offset(3) as u64, 10), None);
        assert_eq!(l.slot_at(u64::MAX, 1), None);
        assert_eq!(l.slot_at(l.data_offset(0) as u64, u64::MAX), None);
    }
}
