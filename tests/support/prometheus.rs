//! Prometheus text as the tests read it, shared by the proxy's tests
//! (`proxy/tests/observability.rs`) and Convoy's (`tests/integration/fleet_metrics.rs`),
//! each including this file by path. A grammar-based parser: route templates put braces
//! in label values.

use std::collections::HashMap;

use openmetrics_parser::prometheus::parse_prometheus;
use openmetrics_parser::{MetricFamily, PrometheusType, PrometheusValue};

pub type Families = HashMap<String, MetricFamily<PrometheusType, PrometheusValue>>;

/// The metric families of `text`; panics, showing it, when it is not Prometheus text.
pub fn parse(text: &str) -> Families {
    parse_prometheus(text)
        .unwrap_or_else(|e| panic!("not Prometheus text ({e:?}):\n{text}"))
        .families
}

/// The samples of `name` whose labels include `labels`, summed (a histogram's samples
/// count their observations); 0 when there is no such family.
pub fn sum(families: &Families, name: &str, labels: &[(&str, &str)]) -> f64 {
    let Some(family) = families.get(name) else {
        return 0.0;
    };
    family
        .iter_samples()
        .filter(|s| {
            let set = s.get_labelset().unwrap();
            labels
                .iter()
                .all(|(k, v)| set.get_label_value(k) == Some(*v))
        })
        .map(|s| match &s.value {
            PrometheusValue::Counter(c) => c.value.as_f64(),
            PrometheusValue::Gauge(n) | PrometheusValue::Unknown(n) => n.as_f64(),
            PrometheusValue::Histogram(h) => h.count.unwrap_or(0) as f64,
            PrometheusValue::Summary(_) => panic!("{name} is a summary, not a histogram"),
        })
        .sum()
}
