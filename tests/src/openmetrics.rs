//! A strict reader of the OpenMetrics text our `/metrics` endpoints write,
//! for tests that check the series by type and value: every sample belongs
//! to a family declared by `# TYPE`, with the suffixes its type allows, and
//! the text ends with `# EOF`. (The real consumer, Prometheus, reads it in
//! the tests that run one; see [`crate::prometheus`].)

use std::collections::{BTreeMap, HashMap};

use anyhow::{Context, bail, ensure};

/// One sample: `name{labels} value`.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The sample's full name, suffix included (`..._total`, `..._bucket`).
    pub name: String,
    /// Its labels, sorted by name.
    pub labels: BTreeMap<String, String>,
    /// Its value.
    pub value: f64,
}

/// A parsed exposition.
#[derive(Debug, Default)]
pub struct Exposition {
    /// Family name -> type (`counter`, `gauge`, `histogram`, ...).
    pub types: HashMap<String, String>,
    /// Every sample, in the order written.
    pub samples: Vec<Sample>,
}

/// The sample-name suffixes a family of `kind` may have.
fn suffixes(kind: &str) -> &'static [&'static str] {
    match kind {
        "counter" => &["_total", "_created"],
        "histogram" => &["_bucket", "_sum", "_count", "_created"],
        "info" => &["_info"],
        _ => &[""],
    }
}

/// Parses `text`, refusing anything out of place.
pub fn parse(text: &str) -> anyhow::Result<Exposition> {
    ensure!(text.ends_with("# EOF\n"), "no `# EOF` at the end");
    let mut out = Exposition::default();
    let mut eof = false;
    for line in text.lines() {
        ensure!(!eof, "text after # EOF: {line:?}");
        if line == "# EOF" {
            eof = true;
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').context("TYPE without a type")?;
            let earlier = out.types.insert(name.into(), kind.into());
            ensure!(earlier.is_none(), "family {name} declared twice");
        } else if line.starts_with("# HELP ") || line.starts_with("# UNIT ") {
            continue;
        } else {
            let sample = parse_sample(line).with_context(|| format!("sample {line:?}"))?;
            let family = out
                .types
                .iter()
                .find(|(family, kind)| {
                    suffixes(kind)
                        .iter()
                        .any(|s| sample.name == format!("{family}{s}"))
                })
                .map(|(family, _)| family.clone());
            ensure!(family.is_some(), "{} has no # TYPE", sample.name);
            out.samples.push(sample);
        }
    }
    Ok(out)
}

fn parse_sample(line: &str) -> anyhow::Result<Sample> {
    let (series, value) = line.rsplit_once(' ').context("no value")?;
    let value: f64 = value.parse().context("value not a number")?;
    let (name, labels) = match series.split_once('{') {
        None => (series, BTreeMap::new()),
        Some((name, rest)) => {
            let body = rest.strip_suffix('}').context("labels not closed")?;
            let mut labels = BTreeMap::new();
            for pair in body.split(',').filter(|p| !p.is_empty()) {
                let (k, v) = pair.split_once('=').context("label without =")?;
                let v = v
                    .strip_prefix('"')
                    .and_then(|v| v.strip_suffix('"'))
                    .context("label value not quoted")?;
                labels.insert(k.to_owned(), v.to_owned());
            }
            (name, labels)
        }
    };
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
    {
        bail!("bad metric name {name:?}");
    }
    Ok(Sample {
        name: name.to_owned(),
        labels,
        value,
    })
}

impl Exposition {
    /// The declared type of family `name`.
    pub fn kind(&self, name: &str) -> Option<&str> {
        self.types.get(name).map(String::as_str)
    }

    /// Samples named `name` whose labels include every `(key, value)` of
    /// `having`.
    pub fn find<'a>(
        &'a self,
        name: &'a str,
        having: &'a [(&'a str, &'a str)],
    ) -> impl Iterator<Item = &'a Sample> + 'a {
        self.samples.iter().filter(move |s| {
            s.name == name
                && having
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
    }

    /// The sum over [`find`](Self::find); 0 when nothing matches.
    pub fn sum(&self, name: &str, having: &[(&str, &str)]) -> f64 {
        self.find(name, having).map(|s| s.value).sum()
    }

    /// Checks that family `name` is declared as `kind`.
    pub fn expect_kind(&self, name: &str, kind: &str) -> anyhow::Result<()> {
        match self.kind(name) {
            Some(k) if k == kind => Ok(()),
            other => bail!("{name}: declared {other:?}, expected {kind}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_typed_families_and_refuses_strays() {
        let text = "# HELP a_frames Frames.\n# TYPE a_frames counter\na_frames_total{model=\"p\",x=\"1\"} 3\n\
                    # TYPE a_t histogram\na_t_bucket{le=\"+Inf\"} 2\na_t_sum 0.5\na_t_count 2\n\
                    # TYPE a_q gauge\na_q 1.0\n# EOF\n";
        let e = parse(text).unwrap();
        assert_eq!(e.kind("a_t"), Some("histogram"));
        assert_eq!(e.sum("a_frames_total", &[("model", "p")]), 3.0);
        assert_eq!(e.sum("a_t_count", &[]), 2.0);
        assert_eq!(e.sum("a_q", &[]), 1.0);
        assert!(parse("a_q 1\n# EOF\n").is_err(), "no TYPE");
        assert!(parse("# TYPE a_q gauge\na_q 1\n").is_err(), "no EOF");
        assert!(
            parse("# TYPE a gauge\na_total 1\n# EOF\n").is_err(),
            "a gauge with _total"
        );
    }
}
