//! Request recording: every SCIM request and its response (secrets redacted, bodies
//! bounded) kept in a ring in memory, so a developer can see exactly what Entra or Okta sent
//! and what scimlab answered. Exported as JSON, JSONL or HAR 1.2.
//!
//! What never reaches the ring: attributes whose schema says `returned: never` (passwords)
//! by any path form (body keys, PATCH paths with or without the schema URN, Bulk data),
//! credential headers and query parameters, and request bodies that could not be parsed or
//! are too large (a summary with the size is kept instead). Requests refused for lack of
//! credentials (401) are kept as a summary only. The ring is bounded in records and in bytes.

mod capture;
mod shared;

pub use capture::Capture;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{json, Value};

use crate::store::StoreError;

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
    /// Long-poll: wait up to this long (`5s`, `500ms`, `5`) for a matching record.
    pub wait: Option<String>,
}

/// The longest a `wait` may hold a request.
pub const MAX_WAIT: std::time::Duration = std::time::Duration::from_secs(60);

/// `5s`, `500ms` or `5` (seconds), at most [`MAX_WAIT`].
pub fn parse_wait(text: &str) -> Result<std::time::Duration, String> {
    let t = text.trim();
    let (number, millis) = match t.strip_suffix("ms") {
        Some(n) => (n, true),
        None => (t.strip_suffix('s').unwrap_or(t), false),
    };
    let n: u64 = number.parse().map_err(|_| format!("wait '{text}' must be like 5s, 500ms or 5"))?;
    let d = if millis { std::time::Duration::from_millis(n) } else { std::time::Duration::from_secs(n) };
    Ok(d.min(MAX_WAIT))
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

/// How often a long-polling reader of a shared ring looks for other replicas' records.
const SHARED_POLL: std::time::Duration = std::time::Duration::from_millis(200);

/// The most bytes the ring keeps, whatever its record capacity.
pub const MAX_RING_BYTES: u64 = 64 * 1024 * 1024;

/// Paths of unauthenticated requests are cut to this many characters.
const MAX_SUMMARY_PATH: usize = 200;

/// The ring of recorded requests, in memory: bounded in records and in bytes, so neither
/// the heap nor the data directory grows with traffic (a log-structured store turned every
/// recorded request into disk growth). Records are kept encoded, as they are served.
pub struct Recorder {
    store: std::sync::Arc<RingStore>,
    /// Hands captures to the writer thread (none when recording is off).
    queue: Option<capture::Queue>,
}

/// The ring and what reads it; shared with the writer thread.
pub(crate) struct RingStore {
    capacity: usize,
    max_bytes: u64,
    /// The ring replicas share (PostgreSQL), kept instead of the in-memory one when set.
    shared: Option<std::sync::Arc<dyn crate::store::RecordLog>>,
    next: AtomicU64,
    ring: Mutex<Ring>,
    /// Wakes long-polling readers when a record arrives.
    arrived: tokio::sync::Notify,
}

#[derive(Default)]
struct Ring {
    records: VecDeque<(u64, Vec<u8>)>,
    bytes: u64,
}

impl Recorder {
    pub fn new(capacity: usize) -> Recorder {
        Self::bounded(capacity, MAX_RING_BYTES)
    }

    /// A ring of at most `capacity` records and `max_bytes` bytes.
    pub fn bounded(capacity: usize, max_bytes: u64) -> Recorder {
        Self::build(capacity, max_bytes, None)
    }

    /// A ring of at most `capacity` records in a log that replicas share.
    pub fn shared(capacity: usize, log: std::sync::Arc<dyn crate::store::RecordLog>) -> Recorder {
        Self::build(capacity, MAX_RING_BYTES, Some(log))
    }

    fn build(capacity: usize, max_bytes: u64, shared: Option<std::sync::Arc<dyn crate::store::RecordLog>>) -> Recorder {
        let store = std::sync::Arc::new(RingStore {
            capacity,
            max_bytes,
            shared,
            next: AtomicU64::new(1),
            ring: Mutex::new(Ring::default()),
            arrived: tokio::sync::Notify::new(),
        });
        let queue = (capacity > 0).then(|| capture::Queue::start(std::sync::Arc::clone(&store)));
        Recorder { store, queue }
    }

    fn ring(&self) -> std::sync::MutexGuard<'_, Ring> {
        self.store.ring()
    }

    /// Bytes the ring holds now.
    pub fn stored_bytes(&self) -> Result<u64, StoreError> {
        self.settle();
        match &self.store.shared {
            Some(log) => log.bytes(),
            None => Ok(self.ring().bytes),
        }
    }

    pub fn enabled(&self) -> bool {
        self.store.capacity > 0
    }

    /// Hands a captured exchange to the writer thread, which turns it into a record; the
    /// request does not wait for that. A full queue drops it and counts the drop.
    pub fn submit(&self, captured: Capture) {
        if let Some(queue) = &self.queue {
            queue.submit(captured);
        }
    }

    /// Exchanges dropped because the writer could not keep up.
    pub fn dropped(&self) -> u64 {
        self.queue.as_ref().map_or(0, capture::Queue::dropped)
    }

    /// Waits until every exchange submitted so far is in the ring, so a reader sees the
    /// requests that were answered before it asked.
    fn settle(&self) {
        if let Some(queue) = &self.queue {
            queue.settle();
        }
    }

    /// Stores a record now (its `seq` is assigned here).
    pub fn record(&self, record: RequestRecord) {
        self.store.record(record);
    }
}

impl RingStore {
    fn ring(&self) -> std::sync::MutexGuard<'_, Ring> {
        self.ring.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Stores a record (its `seq` is assigned here) and drops the oldest beyond the bounds.
    pub(crate) fn record(&self, mut record: RequestRecord) {
        if self.capacity == 0 {
            return;
        }
        if let Some(log) = &self.shared {
            if let Err(e) = shared::append(log.as_ref(), &record, self.capacity) {
                tracing::warn!(error = %e, "could not store a request record in the shared ring");
            }
            self.arrived.notify_waiters();
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
        let mut ring = self.ring();
        ring.bytes += bytes.len() as u64;
        ring.records.push_back((record.seq, bytes));
        while ring.records.len() > self.capacity || ring.bytes > self.max_bytes {
            match ring.records.pop_front() {
                Some((_, old)) => ring.bytes = ring.bytes.saturating_sub(old.len() as u64),
                None => break,
            }
        }
        drop(ring);
        self.arrived.notify_waiters();
    }
}

impl Recorder {
    /// The matching records, waiting up to `wait` for at least one to arrive; woken by
    /// each new record, not by polling.
    pub async fn query_waiting(
        self: &std::sync::Arc<Self>,
        q: &RecordQuery,
        wait: std::time::Duration,
    ) -> Result<Vec<RequestRecord>, StoreError> {
        let deadline = tokio::time::Instant::now() + wait;
        // Requests other replicas record arrive without a signal here: look again this often.
        let look_again = if self.store.shared.is_some() { SHARED_POLL } else { wait };
        loop {
            let arrived = self.store.arrived.notified();
            tokio::pin!(arrived);
            arrived.as_mut().enable();
            let found = self.query_off_thread(q).await?;
            if !found.is_empty() || tokio::time::Instant::now() >= deadline {
                return Ok(found);
            }
            let next_look = (tokio::time::Instant::now() + look_again).min(deadline);
            tokio::select! {
                _ = &mut arrived => {}
                _ = tokio::time::sleep_until(next_look) => {}
            }
        }
    }

    /// [`Recorder::query`] on the blocking pool. A query first waits for the writer thread
    /// to store what it was handed (up to 2 s under load), then scans the ring or asks
    /// PostgreSQL: neither may hold an async thread that other requests share.
    pub async fn query_off_thread(
        self: &std::sync::Arc<Self>,
        q: &RecordQuery,
    ) -> Result<Vec<RequestRecord>, StoreError> {
        let (recorder, q) = (std::sync::Arc::clone(self), q.clone());
        match tokio::task::spawn_blocking(move || recorder.query(&q)).await {
            Ok(found) => found,
            Err(e) => Err(StoreError::Backend(crate::store::BackendError::new(e))),
        }
    }

    /// The newest `limit` records that match, oldest first; read from the newest end, so a
    /// query stops as soon as it has enough.
    pub fn query(&self, q: &RecordQuery) -> Result<Vec<RequestRecord>, StoreError> {
        self.settle();
        if let Some(log) = &self.store.shared {
            return shared::query(log.as_ref(), q, self.store.capacity);
        }
        let limit = q.limit.unwrap_or(1000);
        let since = q.since.unwrap_or(0);
        let ring = self.ring();
        let mut out: Vec<RequestRecord> = ring
            .records
            .iter()
            .rev()
            .take_while(|(seq, _)| *seq > since)
            .filter_map(|(_, bytes)| serde_json::from_slice::<RequestRecord>(bytes).ok())
            .filter(|r| q.matches(r))
            .take(limit)
            .collect();
        out.reverse();
        Ok(out)
    }

    /// Forgets one tenant's records and keeps the others'.
    pub fn clear_tenant(&self, tenant: &str) -> Result<(), StoreError> {
        self.settle();
        if let Some(log) = &self.store.shared {
            return log.clear(Some(tenant));
        }
        let mut ring = self.ring();
        ring.records.retain(|(_, bytes)| {
            serde_json::from_slice::<RequestRecord>(bytes).map(|r| r.tenant != tenant).unwrap_or(true)
        });
        ring.bytes = ring.records.iter().map(|(_, b)| b.len() as u64).sum();
        Ok(())
    }

    pub fn clear(&self) -> Result<(), StoreError> {
        self.settle();
        if let Some(log) = &self.store.shared {
            return log.clear(None);
        }
        let mut ring = self.ring();
        ring.records.clear();
        ring.bytes = 0;
        Ok(())
    }
}

/// Words that make a header or query parameter name a credential.
const CREDENTIAL_WORDS: [&str; 8] =
    ["token", "secret", "password", "passwd", "apikey", "api-key", "api_key", "session"];

fn is_credential_name(name: &str) -> bool {
    let contains = |word: &str| name.as_bytes().windows(word.len()).any(|w| w.eq_ignore_ascii_case(word.as_bytes()));
    ["cookie", "set-cookie", "code"].iter().any(|exact| name.eq_ignore_ascii_case(exact))
        || CREDENTIAL_WORDS.iter().any(|w| contains(w))
}

/// Redacts credentials in headers: the scheme of `Authorization` stays, the secret goes;
/// cookies and any header named like a token, key, secret or password go entirely.
pub fn redact_header(name: &str, value: &str) -> String {
    if name.eq_ignore_ascii_case("authorization") || name.eq_ignore_ascii_case("proxy-authorization") {
        return match value.split_once(' ') {
            Some((scheme, _)) => format!("{scheme} [redacted]"),
            None => "[redacted]".into(),
        };
    }
    if is_credential_name(name) {
        return "[redacted]".into();
    }
    value.to_string()
}

/// A query string with the values of credential parameters (`access_token`, `api_key`, …)
/// replaced; a query that does not parse is kept only as its length.
pub fn redact_query(query: &str) -> String {
    if query.is_empty() {
        return String::new();
    }
    // Most queries name no credential in plain keys: kept as sent, not decoded and re-encoded
    // on the recorder's thread for every request. An encoded key takes the full path.
    let mut keys = query.split('&').map(|pair| pair.split_once('=').map_or(pair, |(key, _)| key));
    if keys.all(|key| !key.contains(['%', '+']) && !is_credential_name(key)) {
        return query.to_string();
    }
    match serde_urlencoded::from_str::<Vec<(String, String)>>(query) {
        Ok(pairs) => {
            let pairs: Vec<(String, String)> = pairs
                .into_iter()
                .map(|(k, v)| if is_credential_name(&k) { (k, "[redacted]".into()) } else { (k, v) })
                .collect();
            serde_urlencoded::to_string(pairs).unwrap_or_else(|_| format!("[{} bytes]", query.len()))
        }
        Err(_) => format!("[unparsed query of {} bytes]", query.len()),
    }
}

/// A request refused for lack of credentials, reduced to what helps and costs nothing:
/// method, a cut path, status and latency.
pub fn summarize_unauthenticated(record: &mut RequestRecord) {
    record.path = record.path.chars().take(MAX_SUMMARY_PATH).collect();
    record.query = String::new();
    record.request_headers.clear();
    record.request_body = None;
    record.response_headers.clear();
    record.response_body = None;
}

/// Names of attributes that are never returned (passwords), from the schemas.
fn never_returned() -> &'static Vec<String> {
    static NAMES: OnceLock<Vec<String>> = OnceLock::new();
    NAMES.get_or_init(|| {
        let mut names = Vec::new();
        for rt in [crate::scim::ResourceType::user(), crate::scim::ResourceType::group()] {
            let schemas = std::iter::once(&rt.core).chain(rt.extensions.iter().map(|e| &e.schema));
            for schema in schemas {
                for attr in &schema.attributes {
                    if attr.returned == crate::scim::schema::Returned::Never {
                        names.push(attr.name.to_ascii_lowercase());
                    }
                }
            }
        }
        names
    })
}

/// Whether a key or PATCH path names a never-returned attribute: `password`,
/// `urn:…:User:password`, `password` in any case.
fn names_secret(key_or_path: &str) -> bool {
    let last = key_or_path.rsplit([':', '.']).next().unwrap_or(key_or_path).trim().to_ascii_lowercase();
    never_returned().contains(&last)
}

/// A request body for the record: never-returned attributes redacted by any path form.
/// A body too large or not JSON is not kept, only its size (it could hold a password).
pub fn recorded_request_body(bytes: &[u8]) -> Option<Box<RawValue>> {
    if bytes.is_empty() {
        return None;
    }
    let summary = |why: &str| json!({"notRecorded": why, "bytes": bytes.len()});
    let value = if bytes.len() > MAX_RECORDED_BODY {
        summary("larger than the recorder keeps")
    } else {
        match serde_json::from_slice::<Value>(bytes) {
            Ok(mut v) => {
                redact_secrets(&mut v);
                v
            }
            Err(_) => summary("not JSON"),
        }
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
    // Not JSON (rare): the text again, as a JSON string.
    RawValue::from_string(String::from_utf8_lossy(bytes).into_owned())
        .or_else(|_| serde_json::value::to_raw_value(&Value::String(String::from_utf8_lossy(bytes).into_owned())))
        .ok()
}

/// Redacts never-returned attributes: as keys at any depth (resources, path-less PATCH
/// values, Bulk data) and as the `value` of a PATCH operation whose `path` names one.
fn redact_secrets(v: &mut Value) {
    match v {
        Value::Object(map) => {
            let path_is_secret = map.get("path").and_then(Value::as_str).is_some_and(names_secret);
            for (k, child) in map.iter_mut() {
                let secret = names_secret(k) || (path_is_secret && k.eq_ignore_ascii_case("value"));
                if secret && !child.is_null() {
                    *child = Value::String("[redacted]".into());
                } else {
                    redact_secrets(child);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact_secrets),
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

    fn recorded(body: &str) -> String {
        recorded_request_body(body.as_bytes()).map(|r| r.get().to_string()).unwrap_or_default()
    }

    #[test]
    fn secrets_never_reach_the_record() {
        assert_eq!(redact_header("Authorization", "Bearer abc.def"), "Bearer [redacted]");
        assert_eq!(redact_header("X-Auth-Token", "abc"), "[redacted]");
        assert_eq!(redact_header("X-Api-Key", "abc"), "[redacted]");
        assert_eq!(redact_header("Content-Type", "application/json"), "application/json");
        let raw = recorded(r#"{"userName":"a","password":"hunter2","x":[{"password":"p"}]}"#);
        let body: Value = serde_json::from_str(&raw).unwrap();
        assert_eq!(
            (body["password"].as_str(), body["x"][0]["password"].as_str()),
            (Some("[redacted]"), Some("[redacted]"))
        );
        assert_eq!(body["userName"], "a");
        for patch in [
            r#"{"Operations":[{"op":"replace","path":"password","value":"hunter2"}]}"#,
            r#"{"Operations":[{"op":"replace","path":"urn:ietf:params:scim:schemas:core:2.0:User:password","value":"hunter2"}]}"#,
            r#"{"Operations":[{"op":"replace","value":{"Password":"hunter2"}}]}"#,
            r#"{"Operations":[{"method":"POST","path":"/Users","data":{"userName":"b","password":"hunter2"}}]}"#,
            r#"{"userName": "broken", "password": "hunter2""#,
        ] {
            assert!(!recorded(patch).contains("hunter2"), "{patch} → {}", recorded(patch));
        }
        let big = format!(r#"{{"password":"hunter2","pad":"{}"}}"#, "x".repeat(MAX_RECORDED_BODY));
        assert!(!recorded(&big).contains("hunter2"));
        assert!(recorded(&big).contains("notRecorded"));
        assert_eq!(redact_query("access_token=abc&filter=x"), "access_token=%5Bredacted%5D&filter=x");
        assert_eq!(redact_query("filter=x&API_Key=abc"), "filter=x&API_Key=%5Bredacted%5D");
        assert_eq!(redact_query("filter=x&acc%65ss_t%6Fken=abc"), "filter=x&access_token=%5Bredacted%5D");
        assert_eq!(redact_query("Code=abc"), "Code=%5Bredacted%5D");
        assert_eq!(redact_query("filter=userName+eq+%22a%22&count=5"), "filter=userName+eq+%22a%22&count=5");
        assert_eq!(redact_header("X-Api-Key", "abc"), "[redacted]");
        assert_eq!(redact_header("Set-Cookie", "s=1"), "[redacted]");
        assert_eq!(redact_header("AUTHORIZATION", "Bearer abc"), "Bearer [redacted]");
        assert_eq!(redact_header("Accept", "application/scim+json"), "application/scim+json");
    }

    fn record(path: &str) -> RequestRecord {
        RequestRecord {
            seq: 0,
            at: String::new(),
            tenant: "default".into(),
            method: "GET".into(),
            path: path.into(),
            query: String::new(),
            request_headers: vec![],
            request_body: None,
            status: 200,
            response_headers: vec![],
            response_body: None,
            latency_ms: 1.0,
            quirks: vec![],
            fault: None,
        }
    }

    #[test]
    fn the_ring_is_bounded_in_bytes_and_queries_read_from_the_newest_end() {
        let ring = Recorder::bounded(1_000_000, 20_000);
        for i in 0..500 {
            ring.record(record(&format!("/scim/v2/Users/{i}/{}", "x".repeat(200))));
        }
        let stored = ring.stored_bytes().expect("in memory");
        assert!(stored <= 20_000, "{stored}");
        let newest = ring.query(&RecordQuery { limit: Some(3), ..Default::default() }).expect("in memory");
        let seqs: Vec<u64> = newest.iter().map(|r| r.seq).collect();
        assert_eq!(seqs, [498, 499, 500], "the newest three, oldest first");
        let kept = ring.query(&RecordQuery { limit: Some(1_000_000), ..Default::default() }).expect("in memory").len();
        assert!(kept < 500 && kept > 10, "{kept}");
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
