//! The deserialisers of the settings whose `[infer]` values are parsed
//! from text as their flags are.

use std::str::FromStr;

use serde::{Deserialize, Deserializer};

use super::values::Interval;

/// A value written as text and parsed as its flag is (`precision = "fp16"`).
pub(super) fn parsed<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr<Err = String>,
{
    Option::<String>::deserialize(d)?
        .map(|s| s.parse().map_err(serde::de::Error::custom))
        .transpose()
}

/// `infer_interval = 2` (or `"2"`): kept as text until applied.
pub(super) fn interval<'de, D>(d: D) -> Result<Option<Interval>, D::Error>
where
    D: Deserializer<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Given {
        Number(i64),
        Text(String),
    }
    Ok(Option::<Given>::deserialize(d)?.map(|given| match given {
        Given::Number(n) => Interval::from(n.to_string()),
        Given::Text(t) => Interval::from(t),
    }))
}

/// A list of values each parsed as its flag is (`providers = ["cuda"]`).
pub(super) fn list<'de, D, T>(d: D) -> Result<Option<Vec<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr<Err = String>,
{
    Option::<Vec<String>>::deserialize(d)?
        .map(|v| {
            v.iter()
                .map(|s| s.parse().map_err(serde::de::Error::custom))
                .collect()
        })
        .transpose()
}
