//! [`define_settings!`]: the one macro every inference setting is written
//! through. From each entry it makes the field of [`super::Tuning`] (its
//! doc is the `--help` line; its `#[arg]` gives the flag and the `SV_`
//! variable; the field's name is the `[infer]` key and, with dashes, the
//! flag), and the setting's part of `or`, `apply` and `entries`.

/// Defines [`super::Tuning`] from a list of settings, each:
///
/// ```text
/// /// Most frames per inference call [default: 1 on the CPU, the GPU profile's on a GPU].
/// #[arg(long, env = "SV_BATCH_SIZE")]
/// batch_size: usize,
///     apply |config, value| { config.batch_size = *value; },
///     show |value| Value::Number(*value as u64);
/// ```
///
/// `apply` writes a given value into an `InferConfig` (a block in a
/// function returning `Result<(), SettingError>`, so it may refuse the
/// value); `show` gives it back for the printed flags and `[infer]` table.
macro_rules! define_settings {
    ($(
        $(#[$meta:meta])*
        $name:ident: $ty:ty,
            apply |$config:ident, $value:ident| $apply:block,
            show |$shown:ident| $show:expr;
    )*) => {
        /// The inference settings, each optional: flags and `SV_` variables
        /// (clap), or the `[infer]` table of a TOML file (serde). Whatever
        /// is left unset keeps `InferConfig::new`'s value, for most the
        /// device profile's choice.
        #[derive(Debug, Clone, Default, PartialEq, clap::Args, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct Tuning {
            $(
                $(#[$meta])*
                pub $name: Option<$ty>,
            )*
        }

        impl Tuning {
            /// These settings, with `fallback`'s where these are unset.
            pub fn or(self, fallback: Tuning) -> Tuning {
                Tuning {
                    $($name: self.$name.or(fallback.$name),)*
                }
            }

            /// Writes the settings that are set into `config`; a value out
            /// of range is an error naming its flag.
            pub fn apply(&self, config: &mut InferConfig) -> Result<(), SettingError> {
                $(
                    if let Some($value) = &self.$name {
                        let $config = &mut *config;
                        $apply
                    }
                )*
                Ok(())
            }

            /// The settings that are set: each `[infer]` key (the flag with
            /// dashes) and its value, in the order they are defined.
            pub fn entries(&self) -> Vec<(&'static str, Value)> {
                let mut entries = Vec::new();
                $(
                    if let Some($shown) = &self.$name {
                        entries.push((stringify!($name), $show));
                    }
                )*
                entries
            }
        }
    };
}

pub(super) use define_settings;
