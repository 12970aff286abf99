//! Our own hotkey: from config, or from a bittensor wallet hotkey file.

use std::path::{Path, PathBuf};

use crate::Error;
use crate::auth::ss58;
use crate::config::HotkeyConfig;

/// Resolves our ss58 address and checks it is a valid prefix-42 address.
pub fn resolve(config: &HotkeyConfig) -> Result<String, Error> {
    let address = match &config.ss58 {
        Some(address) => address.clone(),
        None => {
            let dir = match &config.wallets_dir {
                Some(dir) => dir.clone(),
                None => default_wallets_dir()?,
            };
            read_hotkey_file(
                &dir.join(&config.wallet)
                    .join("hotkeys")
                    .join(&config.hotkey),
            )?
        }
    };
    if let Err(source) = ss58::decode(&address) {
        return Err(Error::OurHotkey { address, source });
    }
    Ok(address)
}

fn default_wallets_dir() -> Result<PathBuf, Error> {
    let home = std::env::var_os("HOME").ok_or_else(|| Error::Config {
        reason: "HOME is unset; set hotkey.wallets_dir or hotkey.ss58".into(),
    })?;
    Ok(PathBuf::from(home).join(".bittensor").join("wallets"))
}

/// Reads `ss58Address` from a wallet hotkey file (the keypair JSON bittensor
/// writes; only the public address is used).
pub fn read_hotkey_file(path: &Path) -> Result<String, Error> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::ReadFile {
        what: "hotkey file",
        path: path.into(),
        source,
    })?;
    let json: serde_json::Value =
        serde_json::from_str(&text).map_err(|source| Error::FileJson {
            what: "hotkey file",
            path: path.into(),
            problem: "not JSON",
            source,
        })?;
    json.get("ss58Address")
        .and_then(|v| v.as_str())
        .map(str::to_owned)
        .ok_or_else(|| Error::FileFormat {
            what: "hotkey file",
            path: path.into(),
            reason: "no string field ss58Address".into(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOB: &str = "5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty";

    #[test]
    fn reads_a_wallet_hotkey_file() {
        let dir = tempfile::tempdir().unwrap();
        let hotkeys = dir.path().join("miner").join("hotkeys");
        std::fs::create_dir_all(&hotkeys).unwrap();
        std::fs::write(
            hotkeys.join("hk1"),
            format!(r#"{{"accountId": "0x8eaf", "ss58Address": "{BOB}"}}"#),
        )
        .unwrap();
        let config = HotkeyConfig {
            ss58: None,
            wallet: "miner".into(),
            hotkey: "hk1".into(),
            wallets_dir: Some(dir.path().into()),
        };
        assert_eq!(resolve(&config).unwrap(), BOB);
    }

    #[test]
    fn config_address_wins_and_is_checked() {
        let mut config = HotkeyConfig {
            ss58: Some(BOB.into()),
            ..HotkeyConfig::default()
        };
        assert_eq!(resolve(&config).unwrap(), BOB);
        config.ss58 = Some("5FHneW46".into());
        let err = resolve(&config).unwrap_err();
        assert!(matches!(err, Error::OurHotkey { .. }), "{err:?}");
        assert!(
            err.to_string()
                .starts_with("invalid gateway config: our hotkey \"5FHneW46\": "),
            "{err}"
        );
    }

    #[test]
    fn missing_file_says_where_it_looked() {
        let config = HotkeyConfig {
            wallets_dir: Some("/nonexistent".into()),
            ..HotkeyConfig::default()
        };
        let err = resolve(&config).unwrap_err().to_string();
        assert!(
            err.contains("/nonexistent/default/hotkeys/default"),
            "{err}"
        );
    }
}
