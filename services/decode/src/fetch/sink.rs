//! Where a download's body goes: the [`BodySink`] trait the fetcher writes
//! through, and [`FileSink`], a body written to a file.
//!
//! The decode stage's progressive sink wraps a [`FileSink`] so the decoder
//! can read the file while it grows.

use std::future::Future;
use std::path::{Path, PathBuf};

use tokio::io::AsyncWriteExt;
use tracing::warn;

use super::FetchError;

/// Where a download's body goes. One attempt calls `begin`, `write` for
/// each chunk in order, then `end`; a retry calls `begin` again and sends
/// the body again from its first byte.
pub trait BodySink: Send {
    /// Starts the body over from its first byte, discarding anything an
    /// earlier attempt wrote.
    fn begin(&mut self) -> impl Future<Output = Result<(), FetchError>> + Send;
    /// Appends the next chunk of the body.
    fn write(&mut self, chunk: &[u8]) -> impl Future<Output = Result<(), FetchError>> + Send;
    /// The attempt's body is complete: flush what is buffered.
    fn end(&mut self) -> impl Future<Output = Result<(), FetchError>> + Send;
}

/// A body written to a file, which each attempt truncates.
#[derive(Debug)]
pub struct FileSink {
    path: PathBuf,
    file: Option<tokio::fs::File>,
}

impl FileSink {
    /// A sink for `path`; nothing is created before [`BodySink::begin`].
    pub fn new(path: &Path) -> Self {
        Self {
            path: path.to_owned(),
            file: None,
        }
    }

    /// The file the body is written to.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn io(&self, source: std::io::Error) -> FetchError {
        // The error's message leaves the path out (it may reach a validator).
        warn!(path = %self.path.display(), error = %source, "Cannot write the download.");
        FetchError::Io {
            path: self.path.clone(),
            source,
        }
    }

    /// Writes `chunk` and waits until the file holds it (another reader
    /// of the file sees it once this returns).
    pub async fn write_through(&mut self, chunk: &[u8]) -> Result<(), FetchError> {
        let Some(file) = self.file.as_mut() else {
            return Err(self.io(std::io::Error::other("write before begin")));
        };
        let written = match file.write_all(chunk).await {
            Ok(()) => file.flush().await,
            Err(e) => Err(e),
        };
        written.map_err(|e| self.io(e))
    }
}

impl BodySink for FileSink {
    async fn begin(&mut self) -> Result<(), FetchError> {
        self.file = None;
        let file = tokio::fs::File::create(&self.path)
            .await
            .map_err(|e| self.io(e))?;
        self.file = Some(file);
        Ok(())
    }

    async fn write(&mut self, chunk: &[u8]) -> Result<(), FetchError> {
        let Some(file) = self.file.as_mut() else {
            return Err(self.io(std::io::Error::other("write before begin")));
        };
        file.write_all(chunk).await.map_err(|e| self.io(e))
    }

    async fn end(&mut self) -> Result<(), FetchError> {
        match self.file.as_mut() {
            Some(file) => file.flush().await.map_err(|e| self.io(e)),
            None => Ok(()),
        }
    }
}
