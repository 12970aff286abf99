//! A download's file while it grows: the fetcher writes it, the decoder
//! reads behind it.
//!
//! [`GrowingFile`] is the fetcher's [`BodySink`]: each chunk goes to the
//! file, then [`Progress`] says how many bytes the file holds. A retry
//! starts the body again: the sink first moves [`Progress`] to a new
//! generation (under its lock), then truncates the file, so a reader that
//! checks the generation after reading knows whether its bytes belong to
//! the attempt it was reading.

use std::path::Path;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::fetch::{BodySink, FetchError, FileSink};

/// Where a download stands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Attempts that got a body so far (0 before the first byte).
    pub generation: u32,
    /// Bytes of this generation's body in the file.
    pub written: u64,
    /// Some(true): complete; Some(false): the download gave up.
    pub finished: Option<bool>,
    /// The consumer left; stop reading.
    pub cancelled: bool,
}

/// Shared between the fetcher (writer) and the decode thread (reader).
#[derive(Debug, Default)]
pub struct Progress {
    state: Mutex<(Snapshot, Option<Instant>)>,
    changed: Condvar,
}

impl Progress {
    fn lock(&self) -> MutexGuard<'_, (Snapshot, Option<Instant>)> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn update(&self, change: impl FnOnce(&mut Snapshot)) {
        change(&mut self.lock().0);
        self.changed.notify_all();
    }

    /// Where the download stands now.
    pub fn snapshot(&self) -> Snapshot {
        self.lock().0
    }

    /// When the first body byte arrived, if one has.
    pub fn first_byte(&self) -> Option<Instant> {
        self.lock().1
    }

    /// Waits until the state differs from `seen`, or `timeout` passes.
    pub fn wait_change(&self, seen: &Snapshot, timeout: Duration) -> Snapshot {
        let guard = self.lock();
        let (guard, _) = self
            .changed
            .wait_timeout_while(guard, timeout, |(now, _)| now == seen)
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        guard.0
    }

    /// Stops readers: nobody wants the video any more.
    pub fn cancel(&self) {
        self.update(|s| s.cancelled = true);
    }

    /// The download ended: complete, or given up.
    pub fn finish(&self, complete: bool) {
        self.update(|s| s.finished = Some(complete));
    }

    fn begin(&self) {
        self.update(|s| {
            s.generation += 1;
            s.written = 0;
        });
    }

    fn wrote(&self, bytes: u64) {
        {
            let mut state = self.lock();
            state.0.written += bytes;
            state.1.get_or_insert_with(Instant::now);
        }
        self.changed.notify_all();
    }
}

/// The sink that writes the file and publishes what it holds.
#[derive(Debug)]
pub struct GrowingFile {
    file: FileSink,
    progress: Arc<Progress>,
}

impl GrowingFile {
    /// A sink writing `path` and publishing its progress to `progress`.
    pub fn new(path: &Path, progress: Arc<Progress>) -> Self {
        Self {
            file: FileSink::new(path),
            progress,
        }
    }
}

impl BodySink for GrowingFile {
    async fn begin(&mut self) -> Result<(), FetchError> {
        // Generation first, truncation second: see the module's doc.
        self.progress.begin();
        self.file.begin().await
    }

    async fn write(&mut self, chunk: &[u8]) -> Result<(), FetchError> {
        self.file.write_through(chunk).await?;
        self.progress.wrote(chunk.len() as u64);
        Ok(())
    }

    async fn end(&mut self) -> Result<(), FetchError> {
        self.file.end().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn readers_see_each_attempt_as_a_new_generation() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("video");
        let progress = Arc::new(Progress::default());
        let mut sink = GrowingFile::new(&path, progress.clone());
        assert_eq!(progress.snapshot(), Snapshot::default());
        assert!(progress.first_byte().is_none());

        sink.begin().await.unwrap();
        sink.write(b"hello ").await.unwrap();
        sink.write(b"world").await.unwrap();
        let seen = progress.snapshot();
        assert_eq!((seen.generation, seen.written), (1, 11));
        assert_eq!(
            std::fs::read(&path).unwrap(),
            b"hello world",
            "readable once published"
        );
        let first = progress.first_byte().unwrap();

        // A retry: new generation, nothing written, the file truncated.
        sink.begin().await.unwrap();
        let now = progress.wait_change(&seen, Duration::from_secs(5));
        assert_eq!((now.generation, now.written), (2, 0));
        assert_eq!(std::fs::read(&path).unwrap(), b"");
        sink.write(b"again").await.unwrap();
        sink.end().await.unwrap();
        progress.finish(true);
        let done = progress.snapshot();
        assert_eq!(
            (done.generation, done.written, done.finished),
            (2, 5, Some(true))
        );
        assert_eq!(
            progress.first_byte(),
            Some(first),
            "the first byte of the first attempt"
        );

        // Waiting without a change returns after the timeout, unchanged.
        assert_eq!(progress.wait_change(&done, Duration::from_millis(10)), done);
        progress.cancel();
        assert!(progress.snapshot().cancelled);
    }
}
