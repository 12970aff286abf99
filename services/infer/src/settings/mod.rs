//! The inference settings, each defined once ([`tuning`]): its flag, `SV_`
//! variable, `[infer]` TOML key, help and default, how it is written into
//! an [`InferConfig`](crate::InferConfig) and how it is printed back. The
//! binary's flags (`serve`, `infer`, `bench`), the `[infer]` table of a
//! config file, `scorevision bench`'s sweep and printed recommendation,
//! and `sv-bench` all take [`Tuning`] from here, so a new setting is one
//! entry in `tuning.rs` plus the code that uses it.
//!
//! Precedence: flags, then `SV_` variables (clap), then the `[infer]`
//! table ([`Tuning::or`]); whatever is still unset is
//! [`InferConfig::new`](crate::InferConfig::new)'s, mostly the device
//! profile's choice.
//!
//! - [`tuning`]: the list of settings, written through `define_settings!`
//!   (`define.rs`), which makes [`Tuning`] and its `or`, `apply` and
//!   `entries` from it.
//! - [`values`]: the value types ([`Precision`], [`Switch`], [`Interval`]);
//!   [`value`]: a value as a flag or TOML prints it.
//! - [`file`](mod@file): the `[infer]` table read from TOML (with `parse.rs`'s
//!   deserialisers); [`print`](mod@print): the settings back as flags and as a table.
//! - [`SettingError`] ([`error`]): a setting that cannot be read or applied.

mod define;
pub mod error;
pub mod file;
mod parse;
pub mod print;
#[cfg(test)]
mod tests;
pub mod tuning;
pub mod value;
pub mod values;

pub use error::SettingError;
pub use tuning::Tuning;
pub use value::Value;
pub use values::{Interval, Precision, Switch};
