//! The infer side: opens a ring by name and turns handles from the wire into
//! zero-copy `Bytes`.

use std::collections::HashMap;
use std::fs::OpenOptions;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;

use super::layout::{HEADER_LEN, Layout, LayoutError};
use super::raw::{ClaimError, Mapping};
use super::{ShmError, SlotHandle, name};

/// One opened ring. Cheap to clone; the mapping lives until the last clone
/// and the last `Bytes` taken from it are dropped.
#[derive(Clone)]
pub struct RingReader {
    inner: Arc<Inner>,
}

struct Inner {
    name: String,
    path: PathBuf,
    map: Arc<Mapping>,
}

impl RingReader {
    /// Opens and maps `dir/name`, which must look like a name the writer
    /// makes and hold a valid ring header and its full length.
    pub fn open(dir: &Path, name: &str) -> Result<Self, ShmError> {
        name::check(name)?;
        let path = dir.join(name);
        let bad = |source: LayoutError| ShmError::BadLayout {
            path: path.clone(),
            source,
        };
        // Read-write: freeing a slot is a store into the mapping.
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&path)
            .map_err(|e| ShmError::io("open", &path, e))?;
        let meta = file
            .metadata()
            .map_err(|e| ShmError::io("stat", &path, e))?;
        if !meta.is_file() {
            return Err(bad(LayoutError::NotAFile));
        }
        if meta.len() < HEADER_LEN as u64 {
            return Err(bad(LayoutError::ShorterThanHeader { len: meta.len() }));
        }
        let mut header = [0u8; HEADER_LEN];
        file.read_exact_at(&mut header, 0)
            .map_err(|e| ShmError::io("read", &path, e))?;
        let layout = Layout::decode(&header).map_err(bad)?;
        // Mapping past the end of the file would fault (SIGBUS) on access.
        if meta.len() < layout.file_len() as u64 {
            return Err(bad(LayoutError::FileShort {
                len: meta.len(),
                needs: layout.file_len(),
            }));
        }
        let map = Mapping::map(&file, layout).map_err(|e| ShmError::io("map", &path, e))?;
        Ok(Self {
            inner: Arc::new(Inner {
                name: name.to_owned(),
                path,
                map: Arc::new(map),
            }),
        })
    }

    /// The ring's file name inside its directory (what handles name).
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The ring file's full path.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// The most bytes one slot (one frame) holds.
    pub fn slot_len(&self) -> usize {
        self.inner.map.layout().slot_len()
    }

    /// The frame a handle names, without copying: the `Bytes` borrows the
    /// slot, which is freed for the writer when its last clone is dropped.
    /// Each handle can be taken once; a handle for another ring, a slot that
    /// is not FULL or holds another generation, or an offset/length that is
    /// not exactly a slot are refused.
    pub fn take(&self, handle: &SlotHandle) -> Result<Bytes, ShmError> {
        let inner = &self.inner;
        if handle.ring != inner.name {
            return Err(ShmError::WrongRing {
                expected: inner.name.clone(),
                got: handle.ring.chars().take(300).collect(),
            });
        }
        let index = inner
            .map
            .layout()
            .slot_at(handle.offset, handle.length)
            .ok_or_else(|| ShmError::OutOfRange {
                ring: inner.name.clone(),
                offset: handle.offset,
                length: handle.length,
            })?;
        // `slot_at` checked length <= slot_len, which is a usize.
        let len = handle.length as usize;
        match inner.map.claim(index, handle.generation, len) {
            Ok(lease) => Ok(Bytes::from_owner(lease)),
            Err(ClaimError::NotFull | ClaimError::Generation) => Err(ShmError::Stale {
                ring: inner.name.clone(),
                slot: index,
                generation: handle.generation,
            }),
        }
    }
}

impl std::fmt::Debug for RingReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RingReader")
            .field("path", &self.inner.path)
            .field("layout", self.inner.map.layout())
            .finish()
    }
}

/// The rings one stream has opened, by name, so each is opened once.
#[derive(Debug, Default)]
pub struct RingCache {
    rings: HashMap<String, RingReader>,
}

impl RingCache {
    /// No ring opened yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The reader for `name`, opening `dir/name` on first use.
    pub fn get(&mut self, dir: &Path, name: &str) -> Result<RingReader, ShmError> {
        if let Some(reader) = self.rings.get(name) {
            return Ok(reader.clone());
        }
        let reader = RingReader::open(dir, name)?;
        self.rings.insert(name.to_owned(), reader.clone());
        Ok(reader)
    }

    /// Forgets a ring (its mapping goes once no `Bytes` borrows it).
    pub fn remove(&mut self, name: &str) -> Option<RingReader> {
        self.rings.remove(name)
    }

    /// How many rings are open.
    pub fn len(&self) -> usize {
        self.rings.len()
    }

    /// True when no ring is open.
    pub fn is_empty(&self) -> bool {
        self.rings.is_empty()
    }
}
