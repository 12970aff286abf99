//! [`Sampled`]: a gauge family whose values are read when Prometheus
//! scrapes, from whatever holds them (a semaphore's free permits, the GPU
//! driver). Nothing is stored between scrapes.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::gauge::ConstGauge;

/// One value of a [`Sampled`] gauge: its labels and the value. A plain
/// gauge (no labels) is one sample with none.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Label name and value pairs that tell this series from the family's
    /// others (e.g. `("device", "0")`); empty for a plain gauge.
    pub labels: Vec<(&'static str, String)>,
    /// The gauge's value at scrape time.
    pub value: f64,
}

impl Sample {
    /// A value without labels.
    pub fn plain(value: f64) -> Self {
        Self {
            labels: Vec::new(),
            value,
        }
    }
}

type Read = Box<dyn Fn() -> Vec<Sample> + Send + Sync>;

/// A gauge family read at scrape time; register it with
/// `Registry::register_collector`. When `read` returns nothing the family
/// is left out of the text altogether (e.g. GPU memory on a machine
/// without a GPU), which Prometheus reads as "no such series", not zero.
pub struct Sampled {
    name: &'static str,
    help: &'static str,
    read: Read,
}

impl Sampled {
    /// `name` without the registry's prefix, as `Registry::register` takes it.
    pub fn new(
        name: &'static str,
        help: &'static str,
        read: impl Fn() -> Vec<Sample> + Send + Sync + 'static,
    ) -> Self {
        Self {
            name,
            help,
            read: Box::new(read),
        }
    }
}

impl std::fmt::Debug for Sampled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sampled").field("name", &self.name).finish()
    }
}

impl Collector for Sampled {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let samples = (self.read)();
        if samples.is_empty() {
            return Ok(());
        }
        let mut metric =
            encoder.encode_descriptor(self.name, self.help, None, MetricType::Gauge)?;
        if let [only] = samples.as_slice()
            && only.labels.is_empty()
        {
            return ConstGauge::new(only.value).encode(metric);
        }
        for sample in &samples {
            ConstGauge::new(sample.value).encode(metric.encode_family(&sample.labels)?)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

    use prometheus_client::registry::Registry;

    use super::*;
    use crate::metrics::Exposition;

    #[test]
    fn values_are_read_at_each_scrape() {
        let open = Arc::new(AtomicU64::new(2));
        let read = open.clone();
        let mut registry = Registry::with_prefix("sv_test");
        registry.register_collector(Box::new(Sampled::new(
            "streams",
            "Streams open",
            move || vec![Sample::plain(read.load(Ordering::Relaxed) as f64)],
        )));
        registry.register_collector(Box::new(Sampled::new(
            "memory_used_bytes",
            "Memory in use",
            || {
                vec![
                    Sample {
                        labels: vec![("device", "0".into())],
                        value: 1024.0,
                    },
                    Sample {
                        labels: vec![("device", "1".into())],
                        value: 2048.0,
                    },
                ]
            },
        )));
        let exposition = Exposition::new(Arc::new(registry));
        let text = exposition.render();
        assert!(text.contains("# TYPE sv_test_streams gauge\n"), "{text}");
        assert!(text.contains("\nsv_test_streams 2.0\n"), "{text}");
        assert!(
            text.contains("sv_test_memory_used_bytes{device=\"1\"} 2048.0\n"),
            "{text}"
        );
        open.store(5, Ordering::Relaxed);
        assert!(exposition.render().contains("\nsv_test_streams 5.0\n"));
    }

    #[test]
    fn nothing_read_leaves_the_family_out() {
        let mut registry = Registry::with_prefix("sv_test");
        registry.register_collector(Box::new(Sampled::new("absent", "Absent", Vec::new)));
        let text = Exposition::new(Arc::new(registry)).render();
        assert_eq!(text, "# EOF\n");
    }
}
