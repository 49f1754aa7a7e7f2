//! Request recording: every SCIM request and its response (secrets redacted, bodies
//! bounded) kept in a ring in sled, so a developer can see exactly what Entra or Okta sent
//! and what scimlab answered. Exported as JSON, JSONL or HAR 1.2.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{json, Value};

/// Bodies larger than this are stored truncated.
pub const MAX_RECORDED_BODY: usize = 64 * 1024;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestRecord {
    pub seq: u64,
    pub at: String,
    pub tenant: String,
    pub method: String,
    pub path: String,
    pub query: String,
    /// Request headers, `Authorization` and cookies redacted.
    pub request_headers: Vec<(String, String)>,
    /// Kept as JSON text: recording must not cost a parse and a re-serialization per
    /// response (it runs on every request); it still reads back as a JSON object.
    pub request_body: Option<Box<RawValue>>,
    pub status: u16,
    pub response_headers: Vec<(String, String)>,
    pub response_body: Option<Box<RawValue>>,
    pub latency_ms: f64,
    /// Leniencies of the quirk profile the request needed.
    pub quirks: Vec<String>,
    /// The injected fault, if any.
    pub fault: Option<String>,
}

/// Which records to return.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordQuery {
    /// Only records after this sequence number.
    pub since: Option<u64>,
    /// `404`, or a class: `4xx`, `5xx`.
    pub status: Option<String>,
    pub method: Option<String>,
    /// Path prefix under the SCIM root, e.g. `/Users`.
    pub path: Option<String>,
    pub tenant: Option<String>,
    /// Most records returned (newest kept), default 1000.
    pub limit: Option<usize>,
}

impl RecordQuery {
    fn matches(&self, r: &RequestRecord) -> bool {
        let status_ok = match self.status.as_deref() {
            None => true,
            Some(s) if s.len() == 3 && s.ends_with("xx") => {
                s.chars().next().and_then(|c| c.to_digit(10)).is_some_and(|class| r.status / 100 == class as u16)
            }
            Some(s) => s.parse::<u16>().is_ok_and(|code| code == r.status),
        };
        status_ok
            && self.since.is_none_or(|s| r.seq > s)
            && self.method.as_deref().is_none_or(|m| m.eq_ignore_ascii_case(&r.method))
            && self.path.as_deref().is_none_or(|p| r.path.contains(p))
            && self.tenant.as_deref().is_none_or(|t| t == r.tenant)
    }
}

/// The ring of recorded requests.
pub struct Recorder {
    tree: sled::Tree,
    capacity: usize,
    next: AtomicU64,
}

impl Recorder {
    pub fn open(db: &sled::Db, capacity: usize) -> Result<Recorder, sled::Error> {
        let tree = db.open_tree("recorded_requests")?;
        let last = tree.last()?.and_then(|(k, _)| k.as_ref().try_into().ok().map(u64::from_be_bytes)).unwrap_or(0);
        // A smaller capacity than last time: trim once here, not per request.
        let keep_from = (last + 1).saturating_sub(capacity as u64);
        for key in tree.range(..keep_from.to_be_bytes()).keys().flatten() {
            tree.remove(key)?;
        }
        Ok(Recorder { tree, capacity, next: AtomicU64::new(last + 1) })
    }

    pub fn enabled(&self) -> bool {
        self.capacity > 0
    }

    /// Stores a record (its `seq` is assigned here) and drops the oldest beyond capacity.
    pub fn record(&self, mut record: RequestRecord) {
        if !self.enabled() {
            return;
        }
        record.seq = self.next.fetch_add(1, Ordering::Relaxed);
        let bytes = match serde_json::to_vec(&record) {
            Ok(bytes) => bytes,
            Err(e) => {
                tracing::warn!(error = %e, "could not encode a request record");
                return;
            }
        };
        if let Err(e) = self.tree.insert(record.seq.to_be_bytes(), bytes) {
            tracing::warn!(error = %e, "could not record a request");
            return;
        }
        // Sequence numbers are contiguous, so the record that falls out of the ring is
        // exactly `capacity` behind (a length count would scan the whole tree).
        if let Some(old) = record.seq.checked_sub(self.capacity as u64) {
            if let Err(e) = self.tree.remove(old.to_be_bytes()) {
                tracing::warn!(error = %e, "could not drop the oldest recorded request");
            }
        }
    }

    pub fn query(&self, q: &RecordQuery) -> Vec<RequestRecord> {
        let start = q.since.map(|s| s.saturating_add(1)).unwrap_or(0).to_be_bytes();
        let mut out: Vec<RequestRecord> = self
            .tree
            .range(start..)
            .values()
            .flatten()
            .filter_map(|v| serde_json::from_slice::<RequestRecord>(&v).ok())
            .filter(|r| q.matches(r))
            .collect();
        let limit = q.limit.unwrap_or(1000);
        if out.len() > limit {
            out.drain(..out.len() - limit);
        }
        out
    }

    pub fn clear(&self) -> Result<(), sled::Error> {
        self.tree.clear()
    }
}

/// Redacts credentials in headers: the scheme stays, the secret goes.
pub fn redact_header(name: &str, value: &str) -> String {
    match name.to_ascii_lowercase().as_str() {
        "authorization" | "proxy-authorization" => match value.split_once(' ') {
            Some((scheme, _)) => format!("{scheme} [redacted]"),
            None => "[redacted]".into(),
        },
        "cookie" | "set-cookie" | "x-api-key" => "[redacted]".into(),
        _ => value.to_string(),
    }
}

/// A request body for the record: passwords redacted, large bodies cut.
pub fn recorded_request_body(bytes: &[u8]) -> Option<Box<RawValue>> {
    if bytes.is_empty() {
        return None;
    }
    let value = match serde_json::from_slice::<Value>(bytes) {
        Ok(mut v) if bytes.len() <= MAX_RECORDED_BODY => {
            redact_passwords(&mut v);
            v
        }
        _ => return recorded_response_body(bytes),
    };
    serde_json::value::to_raw_value(&value).ok()
}

/// A response body for the record: JSON as it was sent (the server never returns a
/// password), anything else or anything too large as a string.
pub fn recorded_response_body(bytes: &[u8]) -> Option<Box<RawValue>> {
    if bytes.is_empty() {
        return None;
    }
    if bytes.len() > MAX_RECORDED_BODY {
        let head = String::from_utf8_lossy(&bytes[..MAX_RECORDED_BODY]);
        return serde_json::value::to_raw_value(&json!({"truncated": true, "bytes": bytes.len(), "head": head})).ok();
    }
    let text = String::from_utf8_lossy(bytes).into_owned();
    RawValue::from_string(text.clone()).or_else(|_| serde_json::value::to_raw_value(&Value::String(text))).ok()
}

fn redact_passwords(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for (k, child) in map.iter_mut() {
                if k.eq_ignore_ascii_case("password") && !child.is_null() {
                    *child = Value::String("[redacted]".into());
                } else {
                    redact_passwords(child);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact_passwords),
        _ => {}
    }
}

/// HAR 1.2 (what browser dev tools and HTTP debuggers import).
pub fn to_har(records: &[RequestRecord], base: &str) -> Value {
    let headers = |h: &[(String, String)]| -> Vec<Value> {
        h.iter().map(|(name, value)| json!({"name": name, "value": value})).collect()
    };
    let entries: Vec<Value> = records
        .iter()
        .map(|r| {
            let url = if r.query.is_empty() { format!("{base}{}", r.path) } else { format!("{base}{}?{}", r.path, r.query) };
            let text = |b: &Option<Box<RawValue>>| b.as_ref().map(|v| v.get().to_string()).unwrap_or_default();
            let mut request = json!({
                "method": r.method, "url": url, "httpVersion": "HTTP/1.1", "cookies": [],
                "headers": headers(&r.request_headers), "queryString": [], "headersSize": -1,
                "bodySize": text(&r.request_body).len()
            });
            if r.request_body.is_some() {
                request["postData"] = json!({"mimeType": "application/scim+json", "text": text(&r.request_body)});
            }
            json!({
                "startedDateTime": r.at,
                "time": r.latency_ms,
                "request": request,
                "response": {
                    "status": r.status, "statusText": "", "httpVersion": "HTTP/1.1", "cookies": [],
                    "headers": headers(&r.response_headers),
                    "content": {"size": text(&r.response_body).len(), "mimeType": "application/scim+json", "text": text(&r.response_body)},
                    "redirectURL": "", "headersSize": -1, "bodySize": text(&r.response_body).len()
                },
                "cache": {},
                "timings": {"send": 0, "wait": r.latency_ms, "receive": 0},
                "comment": format!("seq {} tenant {}{}", r.seq, r.tenant, r.fault.as_ref().map(|f| format!(" fault {f}")).unwrap_or_default())
            })
        })
        .collect();
    json!({"log": {"version": "1.2", "creator": {"name": "scimlab", "version": env!("CARGO_PKG_VERSION")}, "entries": entries}})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_reach_the_record() {
        assert_eq!(redact_header("Authorization", "Bearer abc.def"), "Bearer [redacted]");
        let raw = recorded_request_body(br#"{"userName":"a","password":"hunter2","x":[{"password":"p"}]}"#).unwrap();
        let body: Value = serde_json::from_str(raw.get()).unwrap();
        assert_eq!(body["password"], "[redacted]");
        assert_eq!(body["x"][0]["password"], "[redacted]");
        assert_eq!(body["userName"], "a");
    }

    #[test]
    fn status_classes_filter() {
        let r = RequestRecord {
            seq: 1,
            at: String::new(),
            tenant: "default".into(),
            method: "POST".into(),
            path: "/scim/v2/Users".into(),
            query: String::new(),
            request_headers: vec![],
            request_body: None,
            status: 409,
            response_headers: vec![],
            response_body: None,
            latency_ms: 1.0,
            quirks: vec![],
            fault: None,
        };
        let q = |s: &str| RecordQuery { status: Some(s.into()), ..Default::default() };
        assert!(q("4xx").matches(&r) && q("409").matches(&r));
        assert!(!q("5xx").matches(&r) && !q("404").matches(&r));
    }
}
