//! Stakes from a JSON file, for development and tests.

use std::collections::HashMap;
use std::path::Path;

use super::{RAO_PER_TAO, StakeLookup, StakeSource};
use crate::Error;

/// A fixed map of hotkey -> TAO stake (rao). An allow-list entry has
/// unlimited stake.
#[derive(Debug, Clone, Default)]
pub struct StaticStake {
    stakes: HashMap<String, u64>,
}

#[derive(serde::Deserialize)]
#[serde(untagged)]
enum StakeFile {
    Stakes(HashMap<String, f64>),
    AllowList(Vec<String>),
}

impl StaticStake {
    /// Hotkeys with their TAO stake.
    pub fn from_tao<K: Into<String>>(stakes: impl IntoIterator<Item = (K, f64)>) -> Self {
        let stakes = stakes
            .into_iter()
            .map(|(k, tao)| (k.into(), (tao.max(0.0) * RAO_PER_TAO) as u64))
            .collect();
        Self { stakes }
    }

    /// Hotkeys allowed whatever the minimum.
    pub fn allow_list<K: Into<String>>(hotkeys: impl IntoIterator<Item = K>) -> Self {
        Self {
            stakes: hotkeys.into_iter().map(|k| (k.into(), u64::MAX)).collect(),
        }
    }

    /// Reads `{"<ss58>": <TAO>, ...}` or `["<ss58>", ...]`.
    pub fn from_file(path: &Path) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::ReadFile {
            what: "stake file",
            path: path.into(),
            source,
        })?;
        let file: StakeFile = serde_json::from_str(&text).map_err(|source| Error::FileJson {
            what: "stake file",
            path: path.into(),
            problem: "expected an object of hotkey -> TAO or an array of hotkeys",
            source,
        })?;
        Ok(match file {
            StakeFile::Stakes(stakes) => Self::from_tao(stakes),
            StakeFile::AllowList(hotkeys) => Self::allow_list(hotkeys),
        })
    }
}

impl StakeSource for StaticStake {
    fn lookup(&self, hotkey: &str) -> StakeLookup {
        self.stakes
            .get(hotkey)
            .map_or(StakeLookup::Unknown, |&rao| StakeLookup::Known(rao))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_both_file_shapes() {
        let dir = tempfile::tempdir().unwrap();
        let stakes = dir.path().join("stakes.json");
        std::fs::write(&stakes, r#"{"a": 1500.5, "b": 2}"#).unwrap();
        let source = StaticStake::from_file(&stakes).unwrap();
        assert_eq!(source.lookup("a"), StakeLookup::Known(1_500_500_000_000));
        assert_eq!(source.lookup("z"), StakeLookup::Unknown);

        let allow = dir.path().join("allow.json");
        std::fs::write(&allow, r#"["a"]"#).unwrap();
        assert_eq!(
            StaticStake::from_file(&allow).unwrap().lookup("a"),
            StakeLookup::Known(u64::MAX)
        );

        std::fs::write(&allow, r#"{"a": "lots"}"#).unwrap();
        assert!(matches!(
            StaticStake::from_file(&allow),
            Err(Error::FileJson { .. })
        ));
    }
}
