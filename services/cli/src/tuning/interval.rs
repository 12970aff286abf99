//! [`Interval`]: `--infer-interval` as given, checked when applied.

use std::convert::Infallible;
use std::str::FromStr;

use crate::pipeline::ConfigError;

/// `--infer-interval` as given. Checked when the settings are applied, so a
/// bad value (0, or not a number) is a configuration error (exit 64) that
/// names the flag, whether it came from the flag, `SV_INFER_INTERVAL` or
/// the `[infer]` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interval(pub(super) String);

impl Interval {
    /// Frames per keyframe: 1 or more.
    pub fn frames(&self) -> Result<u32, ConfigError> {
        match self.0.trim().parse::<u32>() {
            Ok(n) if n >= 1 => Ok(n),
            _ => Err(ConfigError(format!(
                "--infer-interval {:?} (SV_INFER_INTERVAL, [infer] infer_interval): expected a whole number of frames, 1 or more",
                self.0
            ))),
        }
    }
}

impl From<u32> for Interval {
    fn from(n: u32) -> Self {
        Self(n.to_string())
    }
}

impl FromStr for Interval {
    type Err = Infallible;
    fn from_str(s: &str) -> Result<Self, Infallible> {
        Ok(Self(s.to_owned()))
    }
}
