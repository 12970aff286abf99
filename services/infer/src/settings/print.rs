//! The settings printed back: as command-line flags and as an `[infer]`
//! TOML table (what `scorevision bench` recommends).

use super::tuning::Tuning;

impl Tuning {
    /// The settings that are set, as command-line flags.
    pub fn to_flags(&self) -> Vec<String> {
        self.entries()
            .into_iter()
            .map(|(key, value)| format!("--{} {}", key.replace('_', "-"), value.flag()))
            .collect()
    }

    /// The settings that are set, as an `[infer]` TOML table.
    pub fn to_toml(&self) -> String {
        let mut out = String::from("[infer]\n");
        for (key, value) in self.entries() {
            out.push_str(&format!("{key} = {}\n", value.toml()));
        }
        out
    }
}
