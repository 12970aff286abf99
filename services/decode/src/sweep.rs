//! Leftovers of a stage that died: a process killed mid-video (SIGKILL, an
//! OOM kill, a crash) never runs the destructors that remove its download
//! and its shared-memory ring, and a restarted stage would otherwise leave
//! them in `/tmp` and `/dev/shm` for good (44 MB per ring at 720p).
//!
//! Both kinds of file carry their owner's PID in the name (downloads:
//! `scorevision-<pid>-...video`, rings: `sv-<hint>-<pid>-<random>.ring`), so
//! the first sweep of a directory in a process removes exactly those whose
//! owner is gone, and nothing another live process is using. Our own PID
//! counts as gone in that first sweep: the process cannot have made a file
//! yet, so one with its PID was left by an earlier process with the same
//! PID (a restarted container's PID 1).

use std::collections::HashSet;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

/// What one sweep did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Swept {
    /// Files removed (their owner is gone).
    pub removed: Vec<PathBuf>,
    /// Their size, in bytes.
    pub bytes: u64,
    /// Files of ours kept because their owner still runs.
    pub kept: usize,
}

/// The kinds of leftover, each recognised by its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Leftover {
    /// A video download ([`crate::source::Download`]).
    Download,
    /// A shared-memory frame ring ([`crate::shm::RingWriter`]).
    Ring,
}

impl Leftover {
    /// The PID a file of this kind names as its owner, or None when the name
    /// is not one we make.
    pub fn owner(self, name: &str) -> Option<u32> {
        let pid = match self {
            Self::Download => {
                let middle = name.strip_prefix("scorevision-")?.strip_suffix(".video")?;
                let mut parts = middle.split('-');
                let (pid, nanos, n) = (parts.next()?, parts.next()?, parts.next()?);
                if parts.next().is_some() || !all_digits(nanos) || !all_digits(n) {
                    return None;
                }
                pid
            }
            Self::Ring => {
                crate::shm::check_name(name).ok()?;
                let middle = name.strip_prefix("sv-")?.strip_suffix(".ring")?;
                let mut parts = middle.rsplitn(3, '-');
                let (random, pid, _hint) = (parts.next()?, parts.next()?, parts.next()?);
                if random.len() != 16 || !random.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return None;
                }
                pid
            }
        };
        if !all_digits(pid) {
            return None;
        }
        // PID 0 is no process (and kill(0, ..) would mean our group).
        pid.parse()
            .ok()
            .filter(|&p: &u32| p != 0 && p <= i32::MAX as u32)
    }
}

fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// Whether process `pid` runs (in this PID namespace). A process we may not
/// signal (EPERM) runs too.
pub fn process_alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    if pid <= 0 {
        return false;
    }
    // SAFETY: signal 0 sends nothing; it only checks that the process exists.
    let result = unsafe { libc::kill(pid, 0) };
    result == 0 || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// Removes the `kind` files in `dir` whose owner is gone. `own_pid_is_gone`:
/// files named with this process's PID count as an earlier process's.
pub fn sweep(dir: &Path, kind: Leftover, own_pid_is_gone: bool) -> io::Result<Swept> {
    let me = std::process::id();
    let mut swept = Swept::default();
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(swept),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let Some(owner) = name.to_str().and_then(|n| kind.owner(n)) else {
            continue;
        };
        let gone = if owner == me {
            own_pid_is_gone
        } else {
            !process_alive(owner)
        };
        // Only plain files: never follow a link someone put there.
        let plain = entry.file_type().is_ok_and(|t| t.is_file());
        if !gone || !plain {
            swept.kept += 1;
            continue;
        }
        let bytes = entry.metadata().map(|m| m.len()).unwrap_or(0);
        match std::fs::remove_file(entry.path()) {
            Ok(()) => {
                swept.bytes += bytes;
                swept.removed.push(entry.path());
            }
            // Another process swept it first.
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(swept)
}

/// [`sweep`] the first time a process asks for `dir` and `kind`, later calls
/// do nothing (the process's own files are in use by then). Logs what it
/// removed; a directory it cannot read is logged, not fatal.
pub fn once(dir: &Path, kind: Leftover) -> Swept {
    static SWEPT: Mutex<Option<HashSet<(PathBuf, Leftover)>>> = Mutex::new(None);
    let key = (dir.canonicalize().unwrap_or_else(|_| dir.to_owned()), kind);
    let mut done = SWEPT.lock().unwrap_or_else(PoisonError::into_inner);
    if !done.get_or_insert_with(HashSet::new).insert(key) {
        return Swept::default();
    }
    // Swept under the lock: no video of this process can start in `dir`
    // before its earlier processes' files are gone.
    match sweep(dir, kind, true) {
        Ok(swept) => {
            if !swept.removed.is_empty() {
                tracing::info!(
                    dir = %dir.display(),
                    kind = ?kind,
                    files = swept.removed.len(),
                    bytes = swept.bytes,
                    "Removed what stopped processes left behind."
                );
            }
            swept
        }
        Err(e) => {
            tracing::warn!(dir = %dir.display(), kind = ?kind, error = %e, "Cannot sweep leftovers.");
            Swept::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A PID no process has: a child's, once it has been reaped.
    fn dead_pid() -> u32 {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        assert!(!process_alive(pid), "pid {pid} reused at once");
        pid
    }

    #[test]
    fn owners_are_read_from_the_names_we_make() {
        let download = crate::source::Download::new(Path::new("/x"));
        let name = download.path().file_name().unwrap().to_str().unwrap();
        assert_eq!(Leftover::Download.owner(name), Some(std::process::id()));
        assert_eq!(Leftover::Ring.owner(name), None);
        let ring = crate::shm::ring_name("chall-enge-7");
        assert_eq!(Leftover::Ring.owner(&ring), Some(std::process::id()));
        assert_eq!(Leftover::Download.owner(&ring), None);
        for foreign in [
            "scorevision-12.video",
            "scorevision-x-1-2.video",
            "scorevision-0-1-2.video",
            "scorevision-1-2-3-4.video",
            "sv-a-12-0123.ring",
            "sv-a-12-0123456789abcdeg.ring",
            "sv-0123456789abcdef.ring",
            "sv-a-99999999999-0123456789abcdef.ring",
            "notes.txt",
        ] {
            assert_eq!(Leftover::Download.owner(foreign), None, "{foreign}");
            assert_eq!(Leftover::Ring.owner(foreign), None, "{foreign}");
        }
        assert_eq!(
            Leftover::Ring.owner("sv-a-b-4242-0123456789abcdef.ring"),
            Some(4242)
        );
    }

    #[test]
    fn removes_only_what_a_gone_process_left() {
        let dir = tempfile::tempdir().unwrap();
        let dead = dead_pid();
        let alive = std::os::unix::process::parent_id();
        let me = std::process::id();
        let file = |name: String| {
            let path = dir.path().join(name);
            std::fs::write(&path, b"left").unwrap();
            path
        };
        let dead_download = file(format!("scorevision-{dead}-1-0.video"));
        let dead_ring = file(format!("sv-c1-{dead}-0123456789abcdef.ring"));
        let live_download = file(format!("scorevision-{alive}-1-0.video"));
        let live_ring = file(format!("sv-c1-{alive}-0123456789abcdef.ring"));
        let mine = file(format!("scorevision-{me}-1-0.video"));
        let other = file(format!("other-{dead}.video"));

        let swept = sweep(dir.path(), Leftover::Download, false).unwrap();
        assert_eq!(swept.removed, vec![dead_download.clone()]);
        assert_eq!((swept.bytes, swept.kept), (4, 2));
        let swept = sweep(dir.path(), Leftover::Ring, false).unwrap();
        assert_eq!(swept.removed, vec![dead_ring.clone()]);
        for kept in [&live_download, &live_ring, &mine, &other] {
            assert!(kept.exists(), "{} was removed", kept.display());
        }
        // The first sweep of a process: a file with its PID is an earlier
        // process's.
        let swept = sweep(dir.path(), Leftover::Download, true).unwrap();
        assert_eq!(swept.removed, vec![mine]);
        assert!(live_download.exists() && other.exists());
        assert!(!dead_download.exists() && !dead_ring.exists());
    }

    #[test]
    fn a_link_is_never_followed_nor_removed() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("precious");
        std::fs::write(&target, b"keep").unwrap();
        let link = dir
            .path()
            .join(format!("scorevision-{}-1-0.video", dead_pid()));
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let swept = sweep(dir.path(), Leftover::Download, true).unwrap();
        assert!(swept.removed.is_empty());
        assert!(target.exists() && link.symlink_metadata().is_ok());
    }

    #[test]
    fn once_per_directory_and_kind() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir
            .path()
            .join(format!("scorevision-{}-1-0.video", dead_pid()));
        std::fs::write(&path, b"x").unwrap();
        assert_eq!(
            once(dir.path(), Leftover::Download).removed,
            vec![path.clone()]
        );
        std::fs::write(&path, b"x").unwrap();
        assert!(once(dir.path(), Leftover::Download).removed.is_empty());
        assert!(path.exists(), "a second sweep ran");
        assert!(missing_dir_is_no_error());
    }

    fn missing_dir_is_no_error() -> bool {
        sweep(Path::new("/nonexistent/sv-sweep"), Leftover::Ring, true).is_ok()
    }
}
