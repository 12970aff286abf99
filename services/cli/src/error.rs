//! [`ConfigError`]: a configuration problem, which `main` turns into exit
//! code 64 (as opposed to a failed run, exit 1). Its own file so that every
//! command that refuses a setting takes it from here, not from the modules
//! that run the commands.

use sv_infer::SettingError;

/// A configuration problem (exit code 64), as opposed to a failed run.
///
/// The errors it wraps are kept whole (`main` and the tests can look at
/// them), but not offered as its `source()`: their own text already names
/// their cause, and `main` prints the whole chain (`{:#}`), which would
/// say it twice.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A flag or value this binary refuses itself, in its own words.
    #[error("{0}")]
    Invalid(String),
    /// An inference setting out of range, or an `[infer]` table that does
    /// not read.
    #[error("{0}")]
    Setting(SettingError),
    /// A setting another crate refused (an upstream address, the gateway's
    /// file, a model's metadata), its error kept as it came.
    #[error("{0}")]
    Refused(Box<dyn std::error::Error + Send + Sync>),
}

impl ConfigError {
    /// A setting another crate refused, kept whole.
    pub fn refused(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Refused(Box::new(e))
    }
}

/// An inference setting out of range, or an `[infer]` table that does not
/// read: a configuration problem like any other.
impl From<SettingError> for ConfigError {
    fn from(e: SettingError) -> Self {
        Self::Setting(e)
    }
}
