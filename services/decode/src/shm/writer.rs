//! The decode side: creates a ring file, copies frames into free slots and
//! unlinks the file when dropped.

use std::fs::OpenOptions;
use std::io::ErrorKind;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::layout::Layout;
use super::raw::{self, Mapping};
use super::{ShmError, SlotHandle, name};

/// Name clashes are astronomically rare (64 random bits); a few retries cover
/// a stale file from a crashed process that reused our pid.
const CREATE_TRIES: usize = 8;
/// Longest sleep between two tries when every slot is held.
const MAX_BACKOFF: Duration = Duration::from_millis(1);
const MIN_BACKOFF: Duration = Duration::from_micros(50);

/// Writes frames into one ring; the only writer of its file.
pub struct RingWriter {
    map: Mapping,
    path: PathBuf,
    name: String,
    /// Where the next search for a free slot starts: slots are used in turn,
    /// so the reader (which frees them in order) rarely makes us skip.
    next_slot: usize,
    /// Unique per ring and never 0, so a handle can never match a slot that
    /// was reused, nor a fresh one.
    next_generation: u64,
}

impl RingWriter {
    /// Creates `dir/sv-<hint>-<pid>-<random>.ring` holding `slots` slots of
    /// `slot_len` bytes, preallocated (ENOSPC here, not SIGBUS later).
    pub fn create(
        dir: &Path,
        name_hint: &str,
        slots: usize,
        slot_len: usize,
    ) -> Result<Self, ShmError> {
        let layout = Layout::new(slots, slot_len).map_err(|source| ShmError::BadLayout {
            path: dir.to_path_buf(),
            source,
        })?;
        let (file, name, path) = create_file(dir, name_hint)?;
        // Until the writer exists, its Drop cannot clean up: do it by hand.
        let init = || -> Result<Mapping, ShmError> {
            raw::preallocate(&file, layout.file_len())
                .map_err(|e| ShmError::io("allocate", &path, e))?;
            file.write_all_at(&layout.encode(std::process::id()), 0)
                .map_err(|e| ShmError::io("write the header of", &path, e))?;
            Mapping::map(&file, layout).map_err(|e| ShmError::io("map", &path, e))
        };
        match init() {
            Ok(map) => Ok(Self {
                map,
                path,
                name,
                next_slot: 0,
                next_generation: 1,
            }),
            Err(e) => {
                let _ = std::fs::remove_file(&path);
                Err(e)
            }
        }
    }

    /// The file name inside `dir`: what goes into `SharedMemorySlot.ring`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The full path of the ring file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How many frames the ring holds at once.
    pub fn slots(&self) -> usize {
        self.map.layout().slots()
    }

    /// The most bytes one slot (one frame) holds.
    pub fn slot_len(&self) -> usize {
        self.map.layout().slot_len()
    }

    /// Copies `data` into a free slot and publishes it; `Ok(None)` when every
    /// slot is still held by the reader (try again later).
    pub fn try_write(&mut self, data: &[u8]) -> Result<Option<SlotHandle>, ShmError> {
        let slot_len = self.slot_len();
        if data.len() > slot_len {
            return Err(ShmError::TooLarge {
                len: data.len(),
                slot_len,
            });
        }
        let slots = self.slots();
        for i in 0..slots {
            let index = (self.next_slot + i) % slots;
            if self.map.publish(index, self.next_generation, data) {
                let handle = SlotHandle {
                    ring: self.name.clone(),
                    offset: self.map.layout().data_offset(index) as u64,
                    length: data.len() as u64,
                    generation: self.next_generation,
                };
                self.next_generation += 1;
                self.next_slot = (index + 1) % slots;
                return Ok(Some(handle));
            }
        }
        Ok(None)
    }

    /// [`try_write`](Self::try_write) until a slot frees up. Fails with
    /// `Cancelled` as soon as `cancelled()` says so (checked before every
    /// try) and with `ReaderStalled` after `timeout` without a free slot.
    pub async fn write(
        &mut self,
        data: &[u8],
        cancelled: impl Fn() -> bool,
        timeout: Duration,
    ) -> Result<SlotHandle, ShmError> {
        let start = tokio::time::Instant::now();
        let mut backoff = Backoff::default();
        loop {
            if cancelled() {
                return Err(ShmError::Cancelled {
                    ring: self.name.clone(),
                });
            }
            if let Some(handle) = self.try_write(data)? {
                return Ok(handle);
            }
            if start.elapsed() >= timeout {
                return Err(self.stalled(timeout));
            }
            backoff.wait().await;
        }
    }

    /// True when the reader has released every slot.
    pub fn all_free(&self) -> bool {
        (0..self.slots()).all(|i| self.map.is_free(i))
    }

    /// Waits until [`all_free`](Self::all_free): after the last frame and
    /// before dropping (unlinking), so the reader had the chance to open the
    /// ring and consume everything. `ReaderStalled` after `timeout`.
    pub async fn drain(&self, timeout: Duration) -> Result<(), ShmError> {
        let start = tokio::time::Instant::now();
        let mut backoff = Backoff::default();
        while !self.all_free() {
            if start.elapsed() >= timeout {
                return Err(self.stalled(timeout));
            }
            backoff.wait().await;
        }
        Ok(())
    }

    fn stalled(&self, waited: Duration) -> ShmError {
        ShmError::ReaderStalled {
            ring: self.name.clone(),
            waited,
        }
    }
}

impl Drop for RingWriter {
    /// Unlinks the file; readers that mapped it keep their mapping (and any
    /// `Bytes` borrowing it) until they drop it, then the kernel frees it.
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_file(&self.path)
            && e.kind() != ErrorKind::NotFound
        {
            tracing::warn!(path = %self.path.display(), error = %e, "Cannot unlink the frame ring.");
        }
    }
}

impl std::fmt::Debug for RingWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RingWriter")
            .field("path", &self.path)
            .field("layout", self.map.layout())
            .field("next_generation", &self.next_generation)
            .finish()
    }
}

/// O_EXCL + O_NOFOLLOW + 0600: never follows or reuses somebody else's file in
/// a world-writable directory like /dev/shm.
fn create_file(dir: &Path, hint: &str) -> Result<(std::fs::File, String, PathBuf), ShmError> {
    let mut last = None;
    for _ in 0..CREATE_TRIES {
        let name = name::make(hint);
        let path = dir.join(&name);
        match OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&path)
        {
            Ok(file) => return Ok((file, name, path)),
            Err(e) if e.kind() == ErrorKind::AlreadyExists => last = Some((path, e)),
            Err(e) => return Err(ShmError::io("create", path, e)),
        }
    }
    let (path, e) = last.unwrap_or_else(|| (dir.to_path_buf(), ErrorKind::AlreadyExists.into()));
    Err(ShmError::io("create", path, e))
}

/// Yield once (the reader may be on this very runtime), then sleep
/// 50 us, 100 us, ... up to 1 ms.
#[derive(Default)]
struct Backoff {
    tries: u32,
}

impl Backoff {
    async fn wait(&mut self) {
        if self.tries == 0 {
            tokio::task::yield_now().await;
        } else {
            let sleep = MIN_BACKOFF
                .saturating_mul(1 << (self.tries - 1).min(10))
                .min(MAX_BACKOFF);
            tokio::time::sleep(sleep).await;
        }
        self.tries = self.tries.saturating_add(1);
    }
}
