//! [`SettingError`]: a setting that cannot be read or applied.

use std::path::PathBuf;

/// A setting that cannot be read or applied: a configuration problem.
#[derive(Debug, thiserror::Error)]
pub enum SettingError {
    /// A value out of the setting's range; the message names its flag.
    #[error("{0}")]
    Invalid(String),
    /// The TOML text does not parse, or its `[infer]` table has a key or
    /// value no setting takes.
    #[error("{0}")]
    Toml(#[from] toml::de::Error),
    /// The settings file cannot be read.
    #[error("reading {}: {source}", path.display())]
    Read {
        /// The file named.
        path: PathBuf,
        /// Why it could not be read.
        #[source]
        source: std::io::Error,
    },
    /// The `[infer]` table of this file is wrong.
    #[error("{}: {source}", path.display())]
    File {
        /// The file whose table is wrong.
        path: PathBuf,
        /// What is wrong in it.
        #[source]
        source: Box<SettingError>,
    },
}
