//! The only `unsafe` of the ring: the mapping, the slot headers' atomics and
//! the slot data, behind an API that upholds the slot protocol (see the
//! module docs of [`super`]) by construction.
//!
//! Trust model: both processes run our code (one pod, one user). A peer that
//! breaks the protocol (writes a slot we hold, truncates the file) can give us
//! wrong pixels or a SIGBUS; nothing here can stop a process that shares the
//! memory from doing that. Everything that arrives over the wire, though, is
//! checked before it touches the mapping.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use memmap2::{MmapOptions, MmapRaw};

use super::layout::{Layout, SLOT_HEADER_LEN};

/// The writer owns the slot; its bytes are garbage. Zero, so a fresh
/// (zero-filled) file starts with every slot free.
pub const FREE: u32 = 0;
/// The writer is copying into it.
pub const WRITING: u32 = 1;
/// Published: bytes and generation are final; the reader may take it.
pub const FULL: u32 = 2;
/// A reader holds the bytes (a live `Bytes`); nobody may write them.
pub const TAKEN: u32 = 3;

/// One slot's header, shared by both processes. 64-byte aligned and sized so
/// neighbouring slots sit on different cache lines.
#[repr(C, align(64))]
struct SlotHeader {
    generation: AtomicU64,
    state: AtomicU32,
}

const _: () = assert!(size_of::<SlotHeader>() == SLOT_HEADER_LEN);
// Cross-process atomics need real lock-free instructions, not a lock that
// lives in one process.
#[cfg(not(target_has_atomic = "64"))]
compile_error!("the frame ring needs lock-free 64-bit atomics");

/// Why a slot could not be claimed for reading.
#[derive(Debug, PartialEq, Eq)]
pub enum ClaimError {
    /// The slot is not FULL (never written, already taken, or freed).
    NotFull,
    /// FULL, but with another frame than the handle names.
    Generation,
}

/// A shared, read-write mapping of a whole ring file.
pub struct Mapping {
    map: MmapRaw,
    layout: Layout,
}

impl Mapping {
    /// Maps `layout.file_len()` bytes of `file`, which must be at least that
    /// long (the caller checked or allocated it) so no access can fault.
    pub fn map(file: &File, layout: Layout) -> io::Result<Self> {
        let map = MmapOptions::new().len(layout.file_len()).map_raw(file)?;
        if map.len() < layout.file_len() || !(map.as_ptr() as usize).is_multiple_of(64) {
            return Err(io::Error::other(
                "mapping shorter or less aligned than the layout",
            ));
        }
        Ok(Self { map, layout })
    }

    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    fn slot(&self, index: usize) -> &SlotHeader {
        assert!(index < self.layout.slots(), "slot {index} out of range");
        // SAFETY: the mapping is `file_len` bytes long (checked in `map`) and
        // lives as long as `&self`; slot headers lie inside it at 64-byte
        // aligned offsets of a 64-byte aligned base (checked in `map`), so the
        // pointer is valid and aligned for `SlotHeader`. Its fields are
        // atomics, so shared references to memory that another process
        // mutates concurrently are fine (all access is atomic).
        unsafe {
            &*self
                .map
                .as_ptr()
                .add(self.layout.slot_header_offset(index))
                .cast::<SlotHeader>()
        }
    }

    pub fn is_free(&self, index: usize) -> bool {
        // Acquire: pairs with the reader's Release when it freed the slot.
        self.slot(index).state.load(Ordering::Acquire) == FREE
    }

    /// Copies `data` into slot `index` and publishes it under `generation`,
    /// if the slot is FREE; returns false (writing nothing) otherwise.
    pub fn publish(&self, index: usize, generation: u64, data: &[u8]) -> bool {
        assert!(
            data.len() <= self.layout.slot_len(),
            "frame larger than a slot"
        );
        let slot = self.slot(index);
        // Acquire: everything the reader did with the old bytes happens
        // before we overwrite them. The CAS (not a load) makes WRITING ours
        // alone even if two writers shared a mapping.
        if slot
            .state
            .compare_exchange(FREE, WRITING, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            return false;
        }
        // SAFETY: the destination is `slot_len >= data.len()` bytes starting
        // at the slot's data offset, inside the mapping (layout invariant).
        // Nobody reads it: the state is WRITING, which only we can leave, and
        // readers touch data only between FULL -> TAKEN and TAKEN -> FREE.
        // `data` is ordinary memory, so the ranges do not overlap.
        unsafe {
            let dst = self.map.as_mut_ptr().add(self.layout.data_offset(index));
            std::ptr::copy_nonoverlapping(data.as_ptr(), dst, data.len());
        }
        // Relaxed: published by the Release store of FULL just below.
        slot.generation.store(generation, Ordering::Relaxed);
        // Release: the bytes and generation are visible to whoever Acquires FULL.
        slot.state.store(FULL, Ordering::Release);
        true
    }

    /// Takes slot `index` (FULL -> TAKEN) if it holds `generation`; the lease
    /// gives the first `len` bytes and frees the slot when dropped.
    pub fn claim(
        self: &Arc<Self>,
        index: usize,
        generation: u64,
        len: usize,
    ) -> Result<SlotLease, ClaimError> {
        assert!(len <= self.layout.slot_len(), "length larger than a slot");
        let slot = self.slot(index);
        // Acquire: pairs with the writer's Release of FULL, so the bytes and
        // generation it wrote are visible. The CAS makes the lease exclusive:
        // a handle taken twice cannot yield two owners that each free it.
        slot.state
            .compare_exchange(FULL, TAKEN, Ordering::Acquire, Ordering::Relaxed)
            .map_err(|_| ClaimError::NotFull)?;
        // Relaxed: ordered by the Acquire above; stable while TAKEN.
        if slot.generation.load(Ordering::Relaxed) != generation {
            // Not the frame the handle names: put it back for its real handle.
            slot.state.store(FULL, Ordering::Release);
            return Err(ClaimError::Generation);
        }
        Ok(SlotLease {
            map: Arc::clone(self),
            index,
            len,
        })
    }
}

/// A read lease on one TAKEN slot; the owner behind a zero-copy `Bytes`.
/// Holds the mapping alive; frees the slot on drop.
pub struct SlotLease {
    map: Arc<Mapping>,
    index: usize,
    len: usize,
}

impl AsRef<[u8]> for SlotLease {
    fn as_ref(&self) -> &[u8] {
        // SAFETY: `len <= slot_len` (asserted in `claim`), so the range lies in
        // the slot's data inside the mapping, which `self.map` keeps mapped
        // for as long as `&self` lives (unlinking the file does not unmap).
        // The slot is TAKEN for the lease's whole life (set by `claim`, left
        // only by `drop`), and the writer writes only FREE slots, so the bytes
        // do not change while borrowed.
        unsafe {
            let p = self
                .map
                .map
                .as_ptr()
                .add(self.map.layout.data_offset(self.index));
            std::slice::from_raw_parts(p, self.len)
        }
    }
}

impl Drop for SlotLease {
    fn drop(&mut self) {
        // Release: our reads of the bytes happen before the writer reuses it.
        self.map
            .slot(self.index)
            .state
            .store(FREE, Ordering::Release);
    }
}

/// Reserves the file's blocks now. On tmpfs (/dev/shm) a sparse file that
/// outgrows the mount's size limit (64 MiB by default in Docker) would raise
/// SIGBUS on first touch of the mapping; this turns that into ENOSPC here.
pub fn preallocate(file: &File, len: usize) -> io::Result<()> {
    let len = libc::off_t::try_from(len).map_err(|_| io::Error::other("ring too large"))?;
    // SAFETY: plain syscall on a file descriptor `file` keeps open; no memory
    // is passed.
    let rc = unsafe { libc::posix_fallocate(file.as_raw_fd(), 0, len) };
    // posix_fallocate returns the error number instead of setting errno.
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::from_raw_os_error(rc))
    }
}
