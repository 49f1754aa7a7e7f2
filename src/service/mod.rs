//! SCIM meaning: create, read, replace, patch, delete and query Users and Groups on top of
//! a [`Store`]. No HTTP types here; the http layer makes one call per request.

mod bulk;
#[cfg(test)]
mod inline_list_tests;
pub mod input;
mod list_text;
pub mod patch;
mod plan;
pub mod profile;
mod query;
pub mod render;
mod render_text;
pub mod seed;
#[cfg(test)]
mod unique_lookup_tests;

use std::sync::Arc;

use serde_json::{Map, Value};

use crate::clock::{rfc3339, Clock, IdSource};
use crate::filter::FilterLimits;
use crate::scim::{ResourceKind, ResourceType, ScimError};
use crate::store::{Expect, IndexKey, MemberChanges, Store, StoreError, StoredResource, WriteRequest};
use patch::{MemberPatch, Patcher};
use profile::{Leniency, Profile, Quirks};
pub use query::{split_list, ListBody, ListQuery};
use render::Projection;

/// Longest normalized value kept in an index key; longer values are truncated, and every
/// index hit is re-checked against the full filter, so results stay exact.
const MAX_INDEXED_BYTES: usize = 512;
/// How often a write is retried when a concurrent write changed the resource first.
const MAX_CAS_ATTEMPTS: usize = 64;

#[derive(Debug, Clone)]
pub struct ServiceConfig {
    pub profile: Profile,
    /// Largest page a list or search returns; larger `count`s are clamped to it.
    pub max_results: usize,
    pub filter_limits: FilterLimits,
    /// Flush to disk before acknowledging a write.
    pub durable_writes: bool,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        ServiceConfig {
            profile: Profile::default(),
            max_results: 200,
            filter_limits: FilterLimits::default(),
            durable_writes: true,
        }
    }
}

/// How a response should be shaped: the base URL for `location`/`$ref`, and the
/// `attributes`/`excludedAttributes` lists.
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    pub base: String,
    pub attributes: Vec<String>,
    pub excluded: Vec<String>,
}

/// A resource as returned to a client, with what the response headers need.
#[derive(Debug, Clone)]
pub struct Outcome<R = Value> {
    /// The rendered resource: a JSON tree, or its text.
    pub resource: R,
    pub version: u64,
    pub location: String,
    /// Leniencies the request needed (empty under strict or for RFC-clean requests).
    pub quirks: Vec<Leniency>,
}

impl<R> Outcome<R> {
    /// Weak entity tag (RFC 7644 §3.14).
    pub fn etag(&self) -> String {
        etag(self.version)
    }
}

pub fn etag(version: u64) -> String {
    format!("W/\"{version}\"")
}

pub struct ScimService {
    store: Arc<dyn Store>,
    users: ResourceType,
    groups: ResourceType,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdSource>,
    config: ServiceConfig,
}

impl ScimService {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, ids: Arc<dyn IdSource>, config: ServiceConfig) -> Self {
        ScimService { store, users: ResourceType::user(), groups: ResourceType::group(), clock, ids, config }
    }

    pub fn config(&self) -> &ServiceConfig {
        &self.config
    }

    /// Whether a single read may run on the request's own thread: true for sled, whose
    /// reads come from memory or local disk; false for a networked database.
    pub fn reads_inline(&self) -> bool {
        self.store.reads_are_local()
    }

    /// Whether a GET by id may run on the request's own thread: a read of one record and
    /// its few relations. A group's members can number in the hundreds of thousands, so a
    /// group is read inline only when the projection leaves its members out (Entra reads
    /// groups with `excludedAttributes=members`).
    pub fn get_is_cheap(&self, kind: ResourceKind, opts: &ReadOptions) -> bool {
        self.reads_inline() && !may_render_members(kind, &opts.attributes, &opts.excluded)
    }

    pub fn resource_type(&self, kind: ResourceKind) -> &ResourceType {
        match kind {
            ResourceKind::User => &self.users,
            ResourceKind::Group => &self.groups,
        }
    }

    pub fn resource_types(&self) -> [&ResourceType; 2] {
        [&self.users, &self.groups]
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    fn now(&self) -> String {
        rfc3339(self.clock.now())
    }

    fn flush(&self) -> Result<(), ScimError> {
        if self.config.durable_writes {
            self.store.flush().map_err(|e| store_error(e, ResourceKind::User, ""))?;
        }
        Ok(())
    }

    pub fn create(&self, kind: ResourceKind, body: &Value, opts: &ReadOptions) -> Result<Outcome, ScimError> {
        self.create_as(kind, None, body, opts)
    }

    /// Empties the service's data: every user, group and membership (tokens and settings
    /// live elsewhere and stay).
    pub fn reset(&self) -> Result<(), ScimError> {
        self.store.clear().map_err(|e| store_error(e, ResourceKind::User, ""))?;
        self.flush()
    }

    /// Creates a resource with the given id (a seed keeps the ids its file names), or a new
    /// one when `id` is `None`.
    pub fn create_as(
        &self,
        kind: ResourceKind,
        id: Option<&str>,
        body: &Value,
        opts: &ReadOptions,
    ) -> Result<Outcome, ScimError> {
        let rt = self.resource_type(kind);
        let mut quirks = Quirks::new(self.config.profile);
        let incoming = input::parse_resource(rt, body, &mut quirks)?;
        let projection = Projection::parse(rt, &opts.attributes, &opts.excluded)?;
        let id = id.map_or_else(|| self.ids.new_id(), str::to_string);
        let mut doc = incoming.doc;
        seal_password(&mut doc, None)?;
        let mut members = MemberChanges::default();
        if let Some(entries) = incoming.members {
            members.add = self.resolve_members(&id, member_pairs(entries)?)?;
        }
        let now = self.now();
        check_document(kind, &doc)?;
        let (index, unique) = index_keys(kind, &doc);
        let request = WriteRequest {
            kind,
            id: id.clone(),
            expect: Expect::Absent,
            created: now.clone(),
            modified: now,
            doc,
            index,
            unique,
            members,
        };
        let record = self.store.write(request).map_err(|e| store_error(e, kind, &id))?;
        self.flush()?;
        self.outcome(rt, record, &projection, opts, quirks)
    }

    /// One resource, rendered to JSON text.
    pub fn get(&self, kind: ResourceKind, id: &str, opts: &ReadOptions) -> Result<Outcome<String>, ScimError> {
        let rt = self.resource_type(kind);
        let projection = Projection::parse(rt, &opts.attributes, &opts.excluded)?;
        let quirks = Quirks::new(self.config.profile);
        if projection.is_default() {
            let stored = self.store.get_text(kind, id).map_err(|e| store_error(e, kind, id))?;
            let stored = stored.ok_or_else(|| not_found(kind, id))?;
            if let Some(text) = self.render_text(rt, &stored, &projection, &opts.base)? {
                let location = location(&opts.base, kind, &stored.id);
                return Ok(Outcome { resource: text, version: stored.version, location, quirks: quirks.into_fired() });
            }
        }
        let record = self.load(kind, id)?;
        let Outcome { resource, version, location, quirks } = self.outcome(rt, record, &projection, opts, quirks)?;
        Ok(Outcome { resource: resource.to_string(), version, location, quirks })
    }

    /// The current version of a resource, for conditional GETs.
    pub fn version(&self, kind: ResourceKind, id: &str) -> Result<u64, ScimError> {
        Ok(self.load(kind, id)?.version)
    }

    pub fn replace(
        &self,
        kind: ResourceKind,
        id: &str,
        body: &Value,
        if_match: Option<&str>,
        opts: &ReadOptions,
    ) -> Result<Outcome, ScimError> {
        let rt = self.resource_type(kind);
        let mut quirks = Quirks::new(self.config.profile);
        let incoming = input::parse_resource(rt, body, &mut quirks)?;
        let projection = Projection::parse(rt, &opts.attributes, &opts.excluded)?;
        if let Some(body_id) = body.get("id").and_then(Value::as_str) {
            if body_id != id {
                return Err(ScimError::mutability(format!(
                    "'id' is immutable: the body says \"{body_id}\" but the URL names \"{id}\""
                )));
            }
        }
        let entries = incoming.members.clone().map(member_pairs).transpose()?;
        for _ in 0..MAX_CAS_ATTEMPTS {
            let current = self.load(kind, id)?;
            check_if_match(if_match, current.version)?;
            let mut doc = incoming.doc.clone();
            seal_password(&mut doc, Some(&current.doc))?;
            let mut members = MemberChanges::default();
            if kind == ResourceKind::Group {
                // PUT replaces the whole resource, members included (RFC 7644 §3.5.1).
                members.clear = true;
                if let Some(entries) = &entries {
                    members.add = self.resolve_members(id, entries.clone())?;
                }
            }
            check_document(kind, &doc)?;
            let (index, unique) = index_keys(kind, &doc);
            let request = WriteRequest {
                kind,
                id: id.to_string(),
                expect: Expect::Version(current.version),
                created: current.created.clone(),
                modified: self.now(),
                doc,
                index,
                unique,
                members,
            };
            match self.store.write(request) {
                Ok(record) => {
                    self.flush()?;
                    return self.outcome(rt, record, &projection, opts, quirks);
                }
                Err(StoreError::VersionMismatch { .. }) if if_match.is_none() => continue,
                Err(e) => return Err(store_error(e, kind, id)),
            }
        }
        Err(contention(kind, id))
    }

    pub fn patch(
        &self,
        kind: ResourceKind,
        id: &str,
        body: &Value,
        if_match: Option<&str>,
        opts: &ReadOptions,
    ) -> Result<Outcome, ScimError> {
        let rt = self.resource_type(kind);
        let projection = Projection::parse(rt, &opts.attributes, &opts.excluded)?;
        let store = Arc::clone(&self.store);
        let group_id = id.to_string();
        let load_members = move || store.members(&group_id).map_err(|e| store_error(e, ResourceKind::Group, &group_id));
        for _ in 0..MAX_CAS_ATTEMPTS {
            let mut quirks = Quirks::new(self.config.profile);
            let ops = patch::parse_request(body, &mut quirks)?;
            let current = self.load(kind, id)?;
            check_if_match(if_match, current.version)?;
            let mut doc = current.doc.as_object().cloned().unwrap_or_default();
            let mut member_patch = MemberPatch::default();
            Patcher { rt, quirks: &mut quirks, limits: self.config.filter_limits, load_members: &load_members }.apply(
                &mut doc,
                &mut member_patch,
                &ops,
            )?;
            let mut doc = Value::Object(doc);
            input::check_required(rt, &doc)?;
            seal_password(&mut doc, Some(&current.doc))?;
            let members = self.effective_member_changes(id, member_patch)?;
            if doc == current.doc && members.is_empty() {
                // Nothing changes: answer with the resource as it is, version untouched.
                return self.outcome(rt, current, &projection, opts, quirks);
            }
            check_document(kind, &doc)?;
            let (index, unique) = index_keys(kind, &doc);
            let request = WriteRequest {
                kind,
                id: id.to_string(),
                expect: Expect::Version(current.version),
                created: current.created.clone(),
                modified: self.now(),
                doc,
                index,
                unique,
                members,
            };
            match self.store.write(request) {
                Ok(record) => {
                    self.flush()?;
                    return self.outcome(rt, record, &projection, opts, quirks);
                }
                Err(StoreError::VersionMismatch { .. }) if if_match.is_none() => continue,
                Err(e) => return Err(store_error(e, kind, id)),
            }
        }
        Err(contention(kind, id))
    }

    pub fn delete(&self, kind: ResourceKind, id: &str, if_match: Option<&str>) -> Result<(), ScimError> {
        let current = self.load(kind, id)?;
        check_if_match(if_match, current.version)?;
        let expect = if_match.map(|_| current.version);
        self.store.delete(kind, id, expect, &self.now()).map_err(|e| store_error(e, kind, id))?;
        self.flush()
    }

    fn load(&self, kind: ResourceKind, id: &str) -> Result<StoredResource, ScimError> {
        self.store.get(kind, id).map_err(|e| store_error(e, kind, id))?.ok_or_else(|| not_found(kind, id))
    }

    /// Drops no-op member changes (removing a non-member, re-adding a member) so that an
    /// idempotent PATCH does not bump the version, and resolves entries of added members.
    fn effective_member_changes(&self, group_id: &str, patch: MemberPatch) -> Result<MemberChanges, ScimError> {
        let mut changes = MemberChanges { clear: patch.clear, ..Default::default() };
        let mut adds = Vec::new();
        for (member_id, change) in patch.changes {
            let is_member = !patch.clear
                && self
                    .store
                    .has_member(group_id, &member_id)
                    .map_err(|e| store_error(e, ResourceKind::Group, group_id))?;
            match change {
                None if is_member => changes.remove.push(member_id),
                None => {}
                Some(entry) if !is_member => adds.push((member_id, entry)),
                Some(_) => {}
            }
        }
        changes.add = self.resolve_members(group_id, adds)?;
        Ok(changes)
    }

    /// Checks that each member exists and builds its stored entry (`value`, `type`, `display`).
    fn resolve_members(
        &self,
        group_id: &str,
        entries: Vec<(String, Value)>,
    ) -> Result<Vec<(String, Value)>, ScimError> {
        let mut out = Vec::with_capacity(entries.len());
        for (member_id, entry) in entries {
            if member_id == group_id {
                return Err(ScimError::invalid_value(format!("group \"{group_id}\" cannot be a member of itself")));
            }
            let found = match self
                .store
                .get(ResourceKind::User, &member_id)
                .map_err(|e| store_error(e, ResourceKind::User, &member_id))?
            {
                Some(r) => Some(r),
                None => self
                    .store
                    .get(ResourceKind::Group, &member_id)
                    .map_err(|e| store_error(e, ResourceKind::Group, &member_id))?,
            };
            let Some(member) = found else {
                return Err(ScimError::invalid_value(format!(
                    "member \"{member_id}\" does not exist; members are ids of Users or Groups on this server"
                )));
            };
            let display = entry
                .get("display")
                .cloned()
                .or_else(|| member.doc.get("displayName").cloned())
                .or_else(|| member.doc.get("userName").cloned());
            let mut stored = Map::new();
            stored.insert("value".into(), Value::String(member_id.clone()));
            stored.insert("type".into(), Value::String(member.kind.name().to_string()));
            if let Some(display) = display {
                stored.insert("display".into(), display);
            }
            out.push((member_id, Value::Object(stored)));
        }
        Ok(out)
    }

    fn outcome(
        &self,
        rt: &ResourceType,
        record: StoredResource,
        projection: &Projection,
        opts: &ReadOptions,
        quirks: Quirks,
    ) -> Result<Outcome, ScimError> {
        let location = location(&opts.base, record.kind, &record.id);
        let version = record.version;
        let resource = self.render(rt, record, projection, &opts.base)?;
        Ok(Outcome { resource, version, location, quirks: quirks.into_fired() })
    }
}

pub fn location(base: &str, kind: ResourceKind, id: &str) -> String {
    format!("{base}/{}/{id}", kind.endpoint())
}

fn not_found(kind: ResourceKind, id: &str) -> ScimError {
    ScimError::not_found(format!("{kind} \"{id}\" not found"))
}

fn contention(kind: ResourceKind, id: &str) -> ScimError {
    ScimError::new(503, None, format!("{kind} \"{id}\" is being changed by many requests at once; retry"))
}

/// `If-Match` (RFC 7232 §3.1 with weak comparison, RFC 7644 §3.14).
fn check_if_match(if_match: Option<&str>, version: u64) -> Result<(), ScimError> {
    let Some(header) = if_match else { return Ok(()) };
    let current = version.to_string();
    let matches = header
        .split(',')
        .map(str::trim)
        .any(|tag| tag == "*" || tag.trim_start_matches("W/").trim_matches('"') == current);
    if matches {
        Ok(())
    } else {
        Err(ScimError::precondition_failed(format!(
            "If-Match {header} does not match the current version {}",
            etag(version)
        )))
    }
}

fn member_pairs(entries: Vec<Value>) -> Result<Vec<(String, Value)>, ScimError> {
    entries
        .into_iter()
        .map(|e| match e.get("value").and_then(Value::as_str) {
            Some(id) if !id.is_empty() => Ok((id.to_string(), e.clone())),
            _ => Err(ScimError::invalid_value("every member needs a 'value' with the member's id")),
        })
        .collect()
}

const PASSWORD_PREFIX: &str = "$argon2id$";

/// argon2id with 4 MiB of memory and one pass: salted and slow enough that a copied data
/// directory does not give passwords away, fast enough (a few ms) for a test server that
/// creates thousands of users (docs/scim-server.md, "Passwords").
fn password_hasher() -> argon2::Argon2<'static> {
    let params = argon2::Params::new(4096, 1, 1, None).unwrap_or_default();
    argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
}

/// Passwords are write-only (never returned) and stored only as a salted argon2id hash.
fn seal_password(doc: &mut Value, previous: Option<&Value>) -> Result<(), ScimError> {
    use argon2::password_hash::{rand_core::OsRng, PasswordHasher, SaltString};
    let Some(obj) = doc.as_object_mut() else { return Ok(()) };
    match obj.get("password").and_then(Value::as_str) {
        Some(p)
            if p.starts_with(PASSWORD_PREFIX)
                && previous.and_then(|d| d.get("password")).and_then(Value::as_str) == Some(p) => {}
        Some(p) => {
            let salt = SaltString::generate(&mut OsRng);
            let hash = password_hasher().hash_password(p.as_bytes(), &salt).map_err(|e| {
                tracing::error!(error = %e, "password hashing failed");
                ScimError::internal("the password could not be stored")
            })?;
            obj.insert("password".into(), Value::String(hash.to_string()));
        }
        None => {
            if let Some(old) = previous.and_then(|d| d.get("password")) {
                obj.insert("password".into(), old.clone());
            }
        }
    }
    Ok(())
}

/// The form two userNames are compared in for uniqueness (docs/scim-server.md,
/// "userName uniqueness"): without zero-width characters and surrounding spaces, lower-cased
/// as filters compare, NFKC (fullwidth and composed forms become plain), then Unicode case
/// folding (ß matches SS). Lower-casing first makes every pair a `userName eq` filter
/// equates share one key, which lets that filter be answered from the uniqueness entry:
/// folding alone misses letters newer than the fold's tables and a few Greek sequences.
/// The stored value stays as sent.
pub(crate) fn user_name_key(user_name: &str) -> String {
    if user_name.is_ascii() {
        // ASCII is its own NFKC form, has no zero-width characters, and folds to lower case.
        return user_name.trim().to_ascii_lowercase();
    }
    folded_user_name_key(user_name)
}

/// [`user_name_key`] for any text, through normalization and folding.
fn folded_user_name_key(user_name: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    let visible: String =
        user_name.chars().filter(|c| !matches!(c, '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}')).collect();
    let normalized: String = visible.trim().to_lowercase().nfkc().collect();
    caseless::default_case_fold_str(&normalized).nfkc().collect()
}

/// The most values a multi-valued attribute of a resource may hold (group members, kept
/// one storage key each, are not limited). Larger documents make every later PATCH slow.
pub const MAX_MULTI_VALUES: usize = 10_000;

/// Refuses documents with a multi-valued attribute above [`MAX_MULTI_VALUES`].
fn check_sizes(doc: &Value) -> Result<(), ScimError> {
    let Some(obj) = doc.as_object() else { return Ok(()) };
    let nested = obj.values().filter_map(Value::as_object).flat_map(|ext| ext.iter());
    for (name, value) in obj.iter().chain(nested) {
        if let Value::Array(items) = value {
            if items.len() > MAX_MULTI_VALUES && !name.eq_ignore_ascii_case("members") {
                return Err(ScimError::invalid_value(format!(
                    "'{name}' has {} values; at most {MAX_MULTI_VALUES} are accepted per multi-valued attribute",
                    items.len()
                )));
            }
        }
    }
    Ok(())
}

/// A userName with control characters could never be typed or found by a filter; also
/// the size limits of every resource.
fn check_document(kind: ResourceKind, doc: &Value) -> Result<(), ScimError> {
    check_sizes(doc)?;
    if kind != ResourceKind::User {
        return Ok(());
    }
    match doc.get("userName").and_then(Value::as_str) {
        Some(name) if name.chars().any(char::is_control) => Err(ScimError::invalid_value(
            "userName contains a control character (such as NUL or a line break); send printable text",
        )),
        Some(name) if name.trim().is_empty() => Err(ScimError::invalid_value("userName is blank")),
        _ => Ok(()),
    }
}

/// Normalizes a value for an index key: lower-cased unless case-exact, bounded in length.
pub(crate) fn index_value(value: &str, case_exact: bool) -> String {
    let mut v = if case_exact { value.to_string() } else { value.to_lowercase() };
    if v.len() > MAX_INDEXED_BYTES {
        let mut cut = MAX_INDEXED_BYTES;
        while !v.is_char_boundary(cut) {
            cut -= 1;
        }
        v.truncate(cut);
    }
    v
}

/// The index and uniqueness entries of a document (SCIM meaning decides what is indexed).
fn index_keys(kind: ResourceKind, doc: &Value) -> (Vec<IndexKey>, Vec<IndexKey>) {
    let mut index = Vec::new();
    let mut unique = Vec::new();
    let str_of = |name: &str| doc.get(name).and_then(Value::as_str);
    if let Some(ext) = str_of("externalId") {
        index.push(IndexKey::new("externalId", index_value(ext, true)));
    }
    match kind {
        ResourceKind::User => {
            if let Some(user_name) = str_of("userName") {
                index.push(IndexKey::new("userName", index_value(user_name, false)));
                // Unique under the look-alike fold, in full, never truncated.
                unique.push(IndexKey::new("userName", user_name_key(user_name)));
            }
            if let Some(Value::Array(emails)) = doc.get("emails") {
                for email in emails {
                    if let Some(v) = email.get("value").and_then(Value::as_str) {
                        let key = IndexKey::new("emails.value", index_value(v, false));
                        if !index.contains(&key) {
                            index.push(key);
                        }
                    }
                }
            }
        }
        ResourceKind::Group => {
            if let Some(name) = str_of("displayName") {
                index.push(IndexKey::new("displayName", index_value(name, false)));
                // Entra matches groups by displayName: two groups of one name could never
                // be told apart (docs/scim-server.md, "Group displayName uniqueness").
                unique.push(IndexKey::new("displayName", user_name_key(name)));
            }
        }
    }
    (index, unique)
}

/// Maps a store failure to what the client sees.
fn store_error(e: StoreError, kind: ResourceKind, id: &str) -> ScimError {
    match e {
        StoreError::NotFound { kind, id } => ScimError::not_found(format!("{kind} \"{id}\" not found")),
        StoreError::AlreadyExists { kind, id } => ScimError::uniqueness(format!("{kind} \"{id}\" already exists")),
        StoreError::VersionMismatch { current } => {
            ScimError::precondition_failed(format!("{kind} \"{id}\" changed; the current version is {}", etag(current)))
        }
        StoreError::Unique { attr, existing_id, .. } => ScimError::uniqueness(format!(
            "{attr} is already in use by {kind} \"{existing_id}\" ({attr} is unique case-insensitively)"
        )),
        StoreError::MemberNotFound(member) => ScimError::invalid_value(format!(
            "member \"{member}\" does not exist; members are ids of Users or Groups on this server"
        )),
        StoreError::Corrupt(m) => {
            tracing::error!(error = %m, "corrupt stored record");
            ScimError::internal("the server could not read or write its storage; see the server log")
        }
        StoreError::Unavailable(source) => {
            tracing::warn!(error = %source, cause = ?std::error::Error::source(&source), "storage unavailable");
            ScimError::new(503, None, "the server's database cannot be reached just now; retry shortly")
        }
        StoreError::Backend(source) => {
            tracing::error!(error = %source, cause = ?std::error::Error::source(&source), "storage failure");
            ScimError::internal("the server could not read or write its storage; see the server log")
        }
    }
}

/// Whether rendering resources of `kind` under this projection may read a group's members:
/// unless `members` itself is excluded, or attributes are asked for and none names members
/// (conservatively: `members.value`, or any name containing it, counts as naming them).
pub(crate) fn may_render_members(kind: ResourceKind, attributes: &[String], excluded: &[String]) -> bool {
    let lower = |a: &String| a.to_ascii_lowercase();
    let excludes_members = excluded.iter().map(lower).any(|a| a == "members" || a.ends_with(":members"));
    let asks_members = attributes.is_empty() || attributes.iter().map(lower).any(|a| a.contains("members"));
    kind == ResourceKind::Group && !excludes_members && asks_members
}
