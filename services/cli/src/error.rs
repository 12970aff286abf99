//! [`ConfigError`]: a configuration problem, which `main` turns into exit
//! code 64 (as opposed to a failed run, exit 1). Its own file so that every
//! command that refuses a setting takes it from here, not from the modules
//! that run the commands.

use sv_infer::SettingError;

/// A configuration problem (exit code 64), as opposed to a failed run.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

/// An inference setting out of range, or an `[infer]` table that does not
/// read: a configuration problem like any other.
impl From<SettingError> for ConfigError {
    fn from(e: SettingError) -> Self {
        Self(e.to_string())
    }
}
