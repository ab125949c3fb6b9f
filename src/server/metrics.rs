//! Prometheus metrics (`GET /metrics`): requests by method, route (the route's pattern, never an
//! item's or tenant's name) and status, their latency, connections open, requests refused by the
//! rate limit, and commits by operation.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub method: String,
    pub route: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OpLabels {
    pub op: String,
}

/// The server's metrics, and the registry that encodes them.
pub struct Metrics {
    registry: Registry,
    pub requests: Family<RequestLabels, Counter>,
    pub latency: Family<RouteLabels, Histogram>,
    pub connections: Gauge,
    pub rate_limited: Counter,
    pub commits: Family<OpLabels, Counter>,
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("lockbox");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register("http_requests", "HTTP requests answered", requests.clone());
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.0005, 2.0, 16))
        });
        registry.register("http_request_seconds", "Time to answer a request", latency.clone());
        let connections = Gauge::default();
        registry.register("connections", "Connections open", connections.clone());
        let rate_limited = Counter::default();
        registry.register("rate_limited", "Requests refused by a token's rate limit", rate_limited.clone());
        let commits = Family::<OpLabels, Counter>::default();
        registry.register("commits", "Commits run, by operation", commits.clone());
        Metrics { registry, requests, latency, connections, rate_limited, commits }
    }

    /// The Prometheus text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}
