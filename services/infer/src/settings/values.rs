//! The value types of the settings that are neither numbers, switches nor
//! paths: [`Precision`], [`Switch`] and [`Interval`].

use std::convert::Infallible;
use std::str::FromStr;

use super::error::SettingError;

/// Which model files run: the FP32 exports, or their FP16 versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Precision {
    /// FP16 on a GPU when FP16 files are given, FP32 otherwise.
    #[default]
    Auto,
    /// The FP32 exports, on every provider.
    Fp32,
    /// The FP16 files; without them the stage refuses to start.
    Fp16,
}

impl Precision {
    /// As `--precision` and the `[infer]` table spell it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Fp32 => "fp32",
            Self::Fp16 => "fp16",
        }
    }
}

impl FromStr for Precision {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Ok(Self::Auto),
            "fp32" | "float32" => Ok(Self::Fp32),
            "fp16" | "float16" | "half" => Ok(Self::Fp16),
            other => Err(format!("unknown precision {other:?} (auto, fp32, fp16)")),
        }
    }
}

/// A setting that the device profile decides unless it is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Switch {
    /// The device profile decides (on GPUs on, on the CPU off).
    #[default]
    Auto,
    /// On whatever the device.
    On,
    /// Off whatever the device.
    Off,
}

impl Switch {
    /// As the flag and the `[infer]` table spell it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::On => "on",
            Self::Off => "off",
        }
    }
}

impl FromStr for Switch {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Ok(Self::Auto),
            "on" | "true" | "1" => Ok(Self::On),
            "off" | "false" | "0" => Ok(Self::Off),
            other => Err(format!("expected auto, on or off, not {other:?}")),
        }
    }
}

/// `--infer-interval` as given. Checked when the settings are applied, so a
/// bad value (0, or not a number) is a configuration error that names the
/// flag, whether it came from the flag, `SV_INFER_INTERVAL` or the
/// `[infer]` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interval(String);

impl Interval {
    /// Frames per keyframe: 1 or more.
    pub fn frames(&self) -> Result<u32, SettingError> {
        match self.0.trim().parse::<u32>() {
            Ok(n) if n >= 1 => Ok(n),
            _ => Err(SettingError::Invalid(format!(
                "--infer-interval {:?} (SV_INFER_INTERVAL, [infer] infer_interval): expected a whole number of frames, 1 or more",
                self.0
            ))),
        }
    }

    /// The text as given.
    pub fn as_given(&self) -> &str {
        &self.0
    }
}

impl From<u32> for Interval {
    fn from(n: u32) -> Self {
        Self(n.to_string())
    }
}

impl From<String> for Interval {
    fn from(given: String) -> Self {
        Self(given)
    }
}

impl FromStr for Interval {
    type Err = Infallible;
    fn from_str(s: &str) -> Result<Self, Infallible> {
        Ok(Self(s.to_owned()))
    }
}
