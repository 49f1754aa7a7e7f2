//! Prometheus metrics with `prometheus-client`: SCIM requests by method, route and status,
//! a latency histogram per route, resources per tenant (read at scrape time), and the
//! cycles and objects of hosted provisioning jobs. Served as OpenMetrics text at `/metrics`.
//!
//! Label values come from small, known sets: the method is one of the HTTP methods SCIM
//! uses (anything else is `other`) and the route is the matched pattern, never a path, so a
//! client cannot create series at will.

use std::sync::Mutex;

use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Upper bounds (seconds) of the latency buckets.
const BUCKETS: [f64; 12] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5];

/// The content type of [`Metrics::render`]'s output.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    route: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResourceLabels {
    tenant: String,
    r#type: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TenantLabels {
    tenant: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CycleLabels {
    job: String,
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ObjectLabels {
    job: String,
    action: &'static str,
}

type LatencyFamily = Family<RouteLabels, Histogram, fn() -> Histogram>;

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: LatencyFamily,
    resources: Family<ResourceLabels, Gauge>,
    held: Family<TenantLabels, Gauge>,
    cycles: Family<CycleLabels, Counter>,
    objects: Family<ObjectLabels, Counter>,
    /// Encoding is rare (scrapes); one at a time keeps gauge updates and output consistent.
    scrape: Mutex<()>,
}

fn latency_histogram() -> Histogram {
    Histogram::new(BUCKETS)
}

/// The method as a label value: the ones SCIM uses, everything else `other`.
fn method_label(method: &str) -> &'static str {
    const KNOWN: [&str; 7] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];
    KNOWN.iter().find(|m| m.eq_ignore_ascii_case(method)).copied().unwrap_or("other")
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        let latency: LatencyFamily = Family::new_with_constructor(latency_histogram);
        let resources = Family::<ResourceLabels, Gauge>::default();
        let held = Family::<TenantLabels, Gauge>::default();
        let cycles = Family::<CycleLabels, Counter>::default();
        let objects = Family::<ObjectLabels, Counter>::default();
        registry.register("scimlab_http_requests", "SCIM requests by method, route and status", requests.clone());
        registry.register("scimlab_http_request_duration_seconds", "SCIM request latency by route", latency.clone());
        registry.register("scimlab_resources", "Resources stored, by tenant and type", resources.clone());
        registry.register(
            "scimlab_fault_held_requests",
            "Requests a fault rule is delaying or hanging now, by tenant",
            held.clone(),
        );
        registry.register(
            "scimlab_provisioning_cycles",
            "Completed provisioning cycles of hosted jobs",
            cycles.clone(),
        );
        registry.register(
            "scimlab_provisioning_objects",
            "Objects processed by hosted jobs, by outcome",
            objects.clone(),
        );
        Metrics { registry, requests, latency, resources, held, cycles, objects, scrape: Mutex::new(()) }
    }
}

impl Metrics {
    /// One SCIM request; `route` is the matched pattern (`/scim/v2/{endpoint}/{id}`).
    /// One answered request; `route` is a route pattern from a fixed set, so labelling
    /// allocates nothing.
    pub fn observe_request(&self, method: &str, route: &'static str, status: u16, seconds: f64) {
        let labels = RequestLabels { method: method_label(method), route, status };
        self.requests.get_or_create(&labels).inc();
        self.latency.get_or_create(&RouteLabels { route }).observe(seconds);
    }

    /// One completed provisioning cycle of a hosted job: its kind (`initial` or
    /// `incremental`) and the objects per outcome (`created`, `failed`, …).
    pub fn observe_cycle(&self, job: &str, kind: &'static str, objects: &[(&'static str, usize)]) {
        self.cycles.get_or_create(&CycleLabels { job: job.to_string(), kind }).inc();
        for (action, n) in objects {
            self.objects.get_or_create(&ObjectLabels { job: job.to_string(), action }).inc_by(*n as u64);
        }
    }

    /// The exposition text; `resources` are (tenant, resource type, count) and `held`
    /// (tenant, requests held by a fault), both read at scrape time.
    pub fn render(
        &self,
        resources: &[(String, &str, usize)],
        held: &[(String, usize)],
    ) -> Result<String, std::fmt::Error> {
        let _one_scrape = self.scrape.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let gauge = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        for (tenant, kind, n) in resources {
            let labels = ResourceLabels { tenant: tenant.clone(), r#type: kind.to_string() };
            self.resources.get_or_create(&labels).set(gauge(*n));
        }
        for (tenant, n) in held {
            self.held.get_or_create(&TenantLabels { tenant: tenant.clone() }).set(gauge(*n));
        }
        let mut out = String::new();
        encode(&mut out, &self.registry)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative_and_unknown_methods_share_one_label() {
        let m = Metrics::default();
        m.observe_request("GET", "/scim/v2/{endpoint}", 200, 0.003);
        m.observe_request("GET", "/scim/v2/{endpoint}", 200, 0.2);
        m.observe_request("XYZZY", "unmatched", 404, 0.001);
        m.observe_request("FROBNICATE", "unmatched", 404, 0.001);
        let text = m.render(&[], &[]).unwrap();
        assert!(text.contains("le=\"0.001\",route=\"/scim/v2/{endpoint}\"} 0"), "{text}");
        assert!(text.contains("le=\"0.005\",route=\"/scim/v2/{endpoint}\"} 1"), "{text}");
        assert!(text.contains("le=\"0.25\",route=\"/scim/v2/{endpoint}\"} 2"), "{text}");
        assert!(text.contains("le=\"+Inf\",route=\"/scim/v2/{endpoint}\"} 2"), "{text}");
        assert!(
            text.contains("scimlab_http_requests_total{method=\"GET\",route=\"/scim/v2/{endpoint}\",status=\"200\"} 2"),
            "{text}"
        );
        assert!(text.contains("method=\"other\",route=\"unmatched\",status=\"404\"} 2"), "{text}");
    }
}
