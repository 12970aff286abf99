//! The `[infer]` table of a TOML file read into [`Tuning`].

use std::path::Path;

use super::error::SettingError;
use super::tuning::Tuning;

impl Tuning {
    /// The `[infer]` table of a TOML file (the whole file is checked: other
    /// tables are the gateway's).
    pub fn from_file(path: &Path) -> Result<Tuning, SettingError> {
        let text = std::fs::read_to_string(path).map_err(|source| SettingError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::from_toml(&text).map_err(|e| SettingError::File {
            path: path.to_owned(),
            source: Box::new(e),
        })
    }

    /// The `[infer]` table of TOML text; no table: nothing set.
    pub fn from_toml(text: &str) -> Result<Tuning, SettingError> {
        let mut table: toml::Table = toml::from_str(text)?;
        match table.remove("infer") {
            Some(infer) => Ok(infer.try_into()?),
            None => Ok(Tuning::default()),
        }
    }
}
