//! Shared-memory frame ring: decode and infer on one host pass frames through
//! a memory-mapped file and send only a [`SlotHandle`] over gRPC
//! (`SharedMemorySlot` in `stages.proto`).
//!
//! - [`writer`]: [`RingWriter`], the decode side (one per stream, created
//!   lazily once the first frame's size is known; unlinks the file on drop).
//! - [`reader`]: [`RingReader`] (zero-copy `Bytes` from a handle) and
//!   [`RingCache`] (a stream's opened rings, by name), the infer side.
//! - `layout`: the file format; `name`: ring file names and their check;
//!   `raw`: the mapping and every `unsafe` line; [`error`]: [`ShmError`].
//!
//! # Slot protocol
//!
//! Each slot header holds a `state` and a `generation` (unique per ring,
//! never 0). Who may do what:
//!
//! | state   | owner  | transition (ordering)                                         |
//! |---------|--------|---------------------------------------------------------------|
//! | FREE    | writer | writer CAS FREE -> WRITING (Acquire)                          |
//! | WRITING | writer | copy bytes, store generation, store FULL (Release)            |
//! | FULL    | nobody | reader CAS FULL -> TAKEN (Acquire), then checks generation;   |
//! |         |        | on a mismatch it stores FULL back (Release) and refuses       |
//! | TAKEN   | reader | the last `Bytes` clone dropped: store FREE (Release)          |
//!
//! The writer touches a slot's bytes only in WRITING, the reader only in
//! TAKEN, and each Release store pairs with the next owner's Acquire, so the
//! bytes cross without a data race. The CAS on take makes a handle usable
//! once: a duplicated or replayed handle gets `Stale`, never a second owner
//! that would free the slot under the first. (The brief had FREE/FULL only;
//! a plain load on take cannot give that guarantee.)
//!
//! Handles come from the wire and are never trusted: the ring name must match
//! the writer's pattern (no '/', "..", NUL) and the opened ring, the offset
//! must be exactly a slot's start, the length fit the slot, the generation
//! match. The file header is validated by recomputing the layout.
//!
//! # Lifetime
//!
//! The writer calls [`RingWriter::drain`] after the last frame so the reader
//! has opened the ring and released every slot, then drops it, which unlinks
//! the file. A reader's mapping (and every `Bytes` from it) stays valid after
//! the unlink; the kernel frees the memory when the last mapping goes. A
//! writer that never sees its slots released gets `ReaderStalled` from
//! [`RingWriter::write`] instead of waiting forever. A writer killed before
//! it could unlink leaves its ring behind; the next decode server on the
//! directory removes it (the `sweep` module: the name carries the owner's PID).

pub mod error;
mod layout;
mod name;
mod raw;
pub mod reader;
pub mod writer;

#[cfg(test)]
mod tests;

pub use error::ShmError;
pub use layout::{LayoutError, MAX_SLOT_LEN, MAX_SLOTS};
pub(crate) use name::check as check_name;
#[cfg(test)]
pub(crate) use name::make as ring_name;
pub use reader::{RingCache, RingReader};
pub use writer::RingWriter;

/// Where one frame sits in a ring: the wire's `SharedMemorySlot`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SlotHandle {
    /// The ring's file name inside the shared directory.
    pub ring: String,
    /// Byte offset of the slot's data in the file.
    pub offset: u64,
    /// Bytes of the frame (at most the slot length).
    pub length: u64,
    /// Which use of the slot this is; a reused slot has a new one.
    pub generation: u64,
}

/// The directory rings live in when none is configured.
pub const DEFAULT_DIR: &str = "/dev/shm";
