//! Prometheus metrics: SCIM requests by route and status, a latency histogram per route,
//! resources per tenant, and provisioning cycle counters of hosted jobs. Rendered in the
//! Prometheus text exposition format at `/metrics`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;

/// Upper bounds (seconds) of the latency buckets.
const BUCKETS: [f64; 12] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5];

#[derive(Default, Clone)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Default)]
struct Inner {
    requests: BTreeMap<(String, String, u16), u64>,
    latency: BTreeMap<String, Histogram>,
    cycles: BTreeMap<(String, &'static str), u64>,
    objects: BTreeMap<(String, &'static str), u64>,
}

#[derive(Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

fn escape(label: &str) -> String {
    label.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

impl Metrics {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// One SCIM request; `route` is the matched pattern (`/scim/v2/{endpoint}/{id}`), so the
    /// label set stays small.
    pub fn observe_request(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let mut inner = self.lock();
        *inner.requests.entry((method.to_string(), route.to_string(), status)).or_default() += 1;
        let h = inner.latency.entry(route.to_string()).or_default();
        for (i, bound) in BUCKETS.iter().enumerate() {
            if seconds <= *bound {
                h.counts[i] += 1;
            }
        }
        h.count += 1;
        h.sum += seconds;
    }

    /// One completed provisioning cycle of a hosted job: its kind (`initial` or
    /// `incremental`) and the objects per outcome (`created`, `failed`, …).
    pub fn observe_cycle(&self, job: &str, kind: &'static str, objects: &[(&'static str, usize)]) {
        let mut inner = self.lock();
        *inner.cycles.entry((job.to_string(), kind)).or_default() += 1;
        for (action, n) in objects {
            *inner.objects.entry((job.to_string(), action)).or_default() += *n as u64;
        }
    }

    /// The exposition text; `resources` are (tenant, resource type, count) read at scrape time.
    pub fn render(&self, resources: &[(String, &str, usize)]) -> String {
        let inner = self.lock();
        let mut out = String::new();
        out.push_str("# HELP scimlab_http_requests_total SCIM requests by method, route and status.\n");
        out.push_str("# TYPE scimlab_http_requests_total counter\n");
        for ((method, route, status), n) in &inner.requests {
            let _ = writeln!(
                out,
                "scimlab_http_requests_total{{method=\"{}\",route=\"{}\",status=\"{status}\"}} {n}",
                escape(method),
                escape(route)
            );
        }
        out.push_str("# HELP scimlab_http_request_duration_seconds SCIM request latency by route.\n");
        out.push_str("# TYPE scimlab_http_request_duration_seconds histogram\n");
        for (route, h) in &inner.latency {
            let route = escape(route);
            for (bound, n) in BUCKETS.iter().zip(h.counts) {
                let _ = writeln!(
                    out,
                    "scimlab_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {n}"
                );
            }
            let _ = writeln!(
                out,
                "scimlab_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(out, "scimlab_http_request_duration_seconds_sum{{route=\"{route}\"}} {}", h.sum);
            let _ = writeln!(out, "scimlab_http_request_duration_seconds_count{{route=\"{route}\"}} {}", h.count);
        }
        out.push_str("# HELP scimlab_resources Resources stored, by tenant and type.\n");
        out.push_str("# TYPE scimlab_resources gauge\n");
        for (tenant, kind, n) in resources {
            let _ = writeln!(out, "scimlab_resources{{tenant=\"{}\",type=\"{kind}\"}} {n}", escape(tenant));
        }
        out.push_str("# HELP scimlab_provisioning_cycles_total Completed provisioning cycles of hosted jobs.\n");
        out.push_str("# TYPE scimlab_provisioning_cycles_total counter\n");
        for ((job, kind), n) in &inner.cycles {
            let _ = writeln!(out, "scimlab_provisioning_cycles_total{{job=\"{}\",kind=\"{kind}\"}} {n}", escape(job));
        }
        out.push_str("# HELP scimlab_provisioning_objects_total Objects processed by hosted jobs, by outcome.\n");
        out.push_str("# TYPE scimlab_provisioning_objects_total counter\n");
        for ((job, action), n) in &inner.objects {
            let _ =
                writeln!(out, "scimlab_provisioning_objects_total{{job=\"{}\",action=\"{action}\"}} {n}", escape(job));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative() {
        let m = Metrics::default();
        m.observe_request("GET", "/scim/v2/{endpoint}", 200, 0.003);
        m.observe_request("GET", "/scim/v2/{endpoint}", 200, 0.2);
        let text = m.render(&[]);
        assert!(text.contains("le=\"0.001\"} 0"), "{text}");
        assert!(text.contains("le=\"0.005\"} 1"), "{text}");
        assert!(text.contains("le=\"0.25\"} 2"), "{text}");
        assert!(text.contains("le=\"+Inf\"} 2"), "{text}");
        assert!(
            text.contains("scimlab_http_requests_total{method=\"GET\",route=\"/scim/v2/{endpoint}\",status=\"200\"} 2")
        );
    }
}
