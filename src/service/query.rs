//! List and search (RFC 7644 §3.4.2–3.4.3): filter, then sort, then page; `totalResults`
//! counts the filtered set before slicing. Filters that an index can answer use it; every
//! index hit is re-checked by the evaluator, so index and scan give identical results.

use std::cmp::Ordering;
use std::collections::BTreeSet;

use serde_json::{json, Value};

use super::plan::{needs_relations, plan, required_text, Access};
use super::render::Projection;
use super::{store_error, ReadOptions, ScimService};
use crate::filter::eval::{sort_cmp, values};
use crate::filter::{parse_filter, Filter, FilterError, Target, ValidFilter, ValidateOptions};
use crate::scim::{urn, ResourceKind, ScimError};
use crate::store::{Lookup, StoredResource};

use super::profile::{Leniency, Quirks};
use crate::scim::ScimType;

/// A list query's filter, parsed once, and whether the list is cheap to answer inline.
pub struct PreparedList {
    filter: Result<Option<Filter>, ScimError>,
    /// The filter validated for the one resource type listed, under the profile's options:
    /// listing reuses it rather than validating again.
    valid: Option<ValidFilter>,
    pub cheap: bool,
}

/// A ListResponse: a JSON tree, or text written without one ([`ScimService::list_text`]).
#[derive(Debug)]
pub enum ListBody {
    Tree(Value),
    Text(String),
}

impl ListBody {
    pub fn into_value(self) -> Result<Value, ScimError> {
        match self {
            ListBody::Tree(value) => Ok(value),
            ListBody::Text(text) => serde_json::from_str(&text)
                .map_err(|e| ScimError::internal(format!("a rendered list is not JSON: {e}"))),
        }
    }
}

impl std::fmt::Display for ListBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ListBody::Tree(value) => value.fmt(f),
            ListBody::Text(text) => f.write_str(text),
        }
    }
}

/// Query parameters of a list or search request.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub filter: Option<String>,
    pub sort_by: Option<String>,
    pub sort_order: Option<String>,
    pub start_index: Option<i64>,
    pub count: Option<i64>,
    /// RFC 9865 cursor paging: `Some("")` asks for the first page, otherwise a `nextCursor`.
    pub cursor: Option<String>,
    pub attributes: Vec<String>,
    pub excluded: Vec<String>,
}

impl ListQuery {
    /// Reads a SearchRequest body (RFC 7644 §3.4.3).
    pub fn from_search_body(body: &Value) -> Result<ListQuery, ScimError> {
        let Some(obj) = body.as_object() else {
            return Err(ScimError::invalid_syntax("a search body must be a JSON object (SearchRequest)"));
        };
        let get = |name: &str| obj.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v);
        let string = |name: &str| -> Result<Option<String>, ScimError> {
            match get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(ScimError::invalid_value(format!("'{name}' must be a string"))),
            }
        };
        let int = |name: &str| -> Result<Option<i64>, ScimError> {
            match get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::Number(n)) => {
                    n.as_i64().map(Some).ok_or_else(|| ScimError::invalid_value(format!("'{name}' must be an integer")))
                }
                Some(_) => Err(ScimError::invalid_value(format!("'{name}' must be an integer"))),
            }
        };
        let list = |name: &str| -> Result<Vec<String>, ScimError> {
            match get(name) {
                None | Some(Value::Null) => Ok(Vec::new()),
                Some(Value::Array(items)) => items
                    .iter()
                    .map(|v| {
                        v.as_str()
                            .map(str::to_string)
                            .ok_or_else(|| ScimError::invalid_value(format!("'{name}' must be an array of strings")))
                    })
                    .collect(),
                Some(Value::String(s)) => Ok(split_list(s)),
                Some(_) => Err(ScimError::invalid_value(format!("'{name}' must be an array of strings"))),
            }
        };
        Ok(ListQuery {
            filter: string("filter")?,
            sort_by: string("sortBy")?,
            sort_order: string("sortOrder")?,
            start_index: int("startIndex")?,
            count: int("count")?,
            cursor: string("cursor")?,
            attributes: list("attributes")?,
            excluded: list("excludedAttributes")?,
        })
    }
}

/// Splits a comma-separated attribute list.
pub fn split_list(s: &str) -> Vec<String> {
    s.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect()
}

impl ScimService {
    /// Lists resources of the given kinds (one kind for `/Users`, both for root `/.search`).
    pub fn list(
        &self,
        kinds: &[ResourceKind],
        query: &ListQuery,
        opts: &ReadOptions,
    ) -> Result<(Value, Vec<Leniency>), ScimError> {
        let (body, quirks) = self.list_prepared(kinds, query, self.prepare_list(kinds, query), opts)?;
        Ok((body.into_value()?, quirks))
    }

    /// Lists with the filter already parsed by [`ScimService::prepare_list`] (a parse error
    /// is reported where the query's checks reach the filter, as `list` reports it).
    pub fn list_prepared(
        &self,
        kinds: &[ResourceKind],
        query: &ListQuery,
        prepared: PreparedList,
        opts: &ReadOptions,
    ) -> Result<(ListBody, Vec<Leniency>), ScimError> {
        let mut quirks = Quirks::new(self.config.profile);
        let start_index = query.start_index.unwrap_or(1).max(1) as usize;
        let count =
            query.count.map(|c| c.max(0) as usize).unwrap_or(self.config.max_results).min(self.config.max_results);
        let descending = match query.sort_order.as_deref().map(str::to_ascii_lowercase).as_deref() {
            None | Some("ascending") => false,
            Some("descending") => true,
            Some(other) => {
                return Err(ScimError::invalid_value(format!(
                    "sortOrder \"{other}\" must be \"ascending\" or \"descending\""
                )))
            }
        };
        let parsed = prepared.filter?;
        let mut projections = Vec::new();
        for kind in kinds {
            projections.push(Projection::parse(self.resource_type(*kind), &query.attributes, &query.excluded)?);
        }
        let cursor = match &query.cursor {
            None => None,
            Some(_) if query.start_index.is_some() => {
                return Err(ScimError::invalid_value("use either cursor or startIndex, not both (RFC 9865 §3)"))
            }
            Some(_) if query.sort_by.is_some() => {
                return Err(ScimError::invalid_value(
                    "sortBy cannot be combined with cursor paging here; cursors walk resources in id order",
                ))
            }
            Some(text) => Some(Cursor::decode(text, kinds, query.filter.as_deref())?),
        };

        // Unfiltered cursor pages of one kind: a key range from the cursor, O(page).
        if let (None, None, [kind], Some(cursor)) = (&parsed, &query.sort_by, kinds, &cursor) {
            let total = self.store.count(*kind).map_err(|e| store_error(e, *kind, ""))?;
            let (mut page, mut more) = (Vec::new(), false);
            let after = cursor.after.as_ref().map(|(_, id)| id.as_str());
            self.store
                .scan_after_id(*kind, after, &mut |record| {
                    if page.len() < count {
                        page.push(record);
                        true
                    } else {
                        more = true;
                        false
                    }
                })
                .map_err(|e| store_error(e, *kind, ""))?;
            let body = self.cursor_page(page, more, total, kinds, query, &projections, opts)?;
            return Ok((ListBody::Tree(body), quirks.into_fired()));
        }

        // Unfiltered, unsorted, one kind: count and skip without decoding every record.
        if parsed.is_none() && query.sort_by.is_none() && kinds.len() == 1 && cursor.is_none() {
            let kind = kinds[0];
            let total = self.store.count(kind).map_err(|e| store_error(e, kind, ""))?;
            let mut page = Vec::new();
            if count > 0 {
                self.store
                    .scan_after(kind, start_index - 1, &mut |record| {
                        page.push(record);
                        page.len() < count
                    })
                    .map_err(|e| store_error(e, kind, ""))?;
            }
            let rendered = self.render_page(page, &[kind], &projections, opts)?;
            return Ok((ListBody::Tree(list_response(total, start_index, rendered)), quirks.into_fired()));
        }

        let valid_filters = match prepared.valid {
            Some(valid) => {
                if valid.coerced_boolean_strings {
                    quirks.allow(Leniency::BooleanString, ScimType::InvalidFilter, String::new)?;
                }
                vec![Some(valid)]
            }
            None => self.validate_filters(parsed.as_ref(), kinds, &mut quirks)?,
        };
        // One kind, an index-answered filter, the default projection: answered as text.
        if let ([kind], [Some(valid)], None, None) = (kinds, valid_filters.as_slice(), &query.sort_by, &cursor) {
            if projections.iter().all(Projection::is_default) {
                if let Some(text) = self.list_text(*kind, valid, start_index, count, &opts.base)? {
                    return Ok((ListBody::Text(text), quirks.into_fired()));
                }
            }
        }
        let mut matches: Vec<StoredResource> = Vec::new();
        for (kind, valid) in kinds.iter().zip(&valid_filters) {
            self.collect_matches(*kind, valid.as_ref(), &mut matches)?;
        }
        if let Some(sort_by) = &query.sort_by {
            self.sort(&mut matches, sort_by, descending)?;
        }
        let total = matches.len();
        if let Some(cursor) = cursor {
            // Keyset paging in (resource type, id) order: resources created or deleted
            // meanwhile never make a page repeat or skip one that stayed.
            let position = |r: &StoredResource| (kinds.iter().position(|k| *k == r.kind).unwrap_or(0), r.id.clone());
            let mut rest =
                matches.into_iter().filter(|r| cursor.after.as_ref().is_none_or(|after| position(r) > *after));
            let page: Vec<StoredResource> = rest.by_ref().take(count).collect();
            let more = rest.next().is_some();
            let body = self.cursor_page(page, more, total, kinds, query, &projections, opts)?;
            return Ok((ListBody::Tree(body), quirks.into_fired()));
        }
        let page: Vec<StoredResource> = matches.into_iter().skip(start_index - 1).take(count).collect();
        let rendered = self.render_page(page, kinds, &projections, opts)?;
        Ok((ListBody::Tree(list_response(total, start_index, rendered)), quirks.into_fired()))
    }

    /// A cursor page's ListResponse: no startIndex, and `nextCursor` after the page's last
    /// resource when more follow (RFC 9865).
    #[allow(clippy::too_many_arguments)]
    fn cursor_page(
        &self,
        page: Vec<StoredResource>,
        more: bool,
        total: usize,
        kinds: &[ResourceKind],
        query: &ListQuery,
        projections: &[Projection],
        opts: &ReadOptions,
    ) -> Result<Value, ScimError> {
        let position = |r: &StoredResource| (kinds.iter().position(|k| *k == r.kind).unwrap_or(0), r.id.clone());
        let next = match (more, page.last()) {
            (true, Some(last)) => Some(Cursor { after: Some(position(last)) }.encode(kinds, query.filter.as_deref())),
            _ => None,
        };
        let rendered = self.render_page(page, kinds, projections, opts)?;
        let mut body = list_response(total, 1, rendered);
        if let Some(obj) = body.as_object_mut() {
            obj.remove("startIndex");
            if let Some(n) = next {
                obj.insert("nextCursor".into(), Value::String(n));
            }
        }
        Ok(body)
    }

    /// Parses the query's filter once, and tells whether the list is answered from exact
    /// index lookups or a short unfiltered page, never a scan, a prefix walk or a sort:
    /// cheap enough for the request's own thread (the HTTP layer sends the rest to the
    /// blocking pool). A filter that does not parse or validate is not cheap; listing
    /// reports its error.
    pub fn prepare_list(&self, kinds: &[ResourceKind], query: &ListQuery) -> PreparedList {
        const SHORT_PAGE: i64 = 200;
        let filter = match query.filter.as_deref().filter(|f| !f.trim().is_empty()) {
            Some(text) => parse_filter(text, self.config.filter_limits).map(Some).map_err(filter_error),
            None => Ok(None),
        };
        // As `validate_filters` validates for one resource type.
        let options = ValidateOptions {
            boolean_strings: self.config.profile.accepts(Leniency::BooleanString),
            unknown_as_absent: false,
        };
        let valid = match (kinds, &filter) {
            ([kind], Ok(Some(f))) => f.validate(self.resource_type(*kind), options).ok(),
            _ => None,
        };
        let cheap = match (kinds, &filter, &valid) {
            _ if !self.reads_inline() => false,
            // A group's members can number in the hundreds of thousands.
            ([kind], _, _) if super::may_render_members(*kind, &query.attributes, &query.excluded) => false,
            _ if query.sort_by.is_some() || query.count.is_some_and(|c| c > SHORT_PAGE) => false,
            ([_], Ok(None), _) => {
                let skip = query.start_index.unwrap_or(1).max(1) - 1;
                query.cursor.is_none() && query.count.is_some() && self.store.skip_is_short(skip as usize)
            }
            // Exact lookups only: a prefix (`sw`) or a member lookup can match thousands.
            ([kind], Ok(Some(_)), Some(valid)) => plan(*kind, &valid.expr).is_some_and(|accesses| {
                accesses
                    .iter()
                    .all(|a| matches!(a, Access::Id(_) | Access::Unique { .. } | Access::Index(Lookup::Eq(_))))
            }),
            _ => false,
        };
        PreparedList { filter, valid, cheap }
    }

    /// The filter validated for each resource type searched. For root searches a filter
    /// that names attributes of only some types is fine; for the others those attributes
    /// are simply absent.
    fn validate_filters(
        &self,
        parsed: Option<&Filter>,
        kinds: &[ResourceKind],
        quirks: &mut Quirks,
    ) -> Result<Vec<Option<ValidFilter>>, ScimError> {
        let Some(f) = parsed else { return Ok(vec![None; kinds.len()]) };
        let options =
            ValidateOptions { boolean_strings: quirks.accepts(Leniency::BooleanString), unknown_as_absent: false };
        let strict: Vec<Result<ValidFilter, FilterError>> =
            kinds.iter().map(|k| f.validate(self.resource_type(*k), options)).collect();
        if let Some(Err(first)) = strict.iter().find(|r| r.is_err()).filter(|_| strict.iter().all(Result::is_err)) {
            return Err(filter_error(first.clone()));
        }
        let mut valid_filters = Vec::new();
        for (kind, result) in kinds.iter().zip(strict) {
            let valid = match result {
                Ok(v) => v,
                Err(FilterError::UnknownAttribute { .. }) => f
                    .validate(self.resource_type(*kind), ValidateOptions { unknown_as_absent: true, ..options })
                    .map_err(filter_error)?,
                Err(e) => return Err(filter_error(e)),
            };
            if valid.coerced_boolean_strings {
                quirks.allow(Leniency::BooleanString, ScimType::InvalidFilter, String::new)?;
            }
            valid_filters.push(Some(valid));
        }
        Ok(valid_filters)
    }

    fn render_page(
        &self,
        page: Vec<StoredResource>,
        kinds: &[ResourceKind],
        projections: &[Projection],
        opts: &ReadOptions,
    ) -> Result<Vec<Value>, ScimError> {
        page.into_iter()
            .map(|record| {
                let position = kinds.iter().position(|k| *k == record.kind).unwrap_or(0);
                self.render(self.resource_type(record.kind), record, &projections[position], &opts.base)
            })
            .collect()
    }

    /// Appends every resource of `kind` matching `filter`, in id order.
    fn collect_matches(
        &self,
        kind: ResourceKind,
        filter: Option<&ValidFilter>,
        out: &mut Vec<StoredResource>,
    ) -> Result<(), ScimError> {
        let Some(filter) = filter else {
            return self
                .store
                .scan(kind, &mut |r| {
                    out.push(r);
                    true
                })
                .map_err(|e| store_error(e, kind, ""));
        };
        let relations = needs_relations(kind, &filter.expr);
        let mut error = None;
        let mut check = |mut record: StoredResource, out: &mut Vec<StoredResource>| {
            let matched = if relations {
                match self.with_relations(&record) {
                    Ok(doc) => filter.matches(&doc),
                    Err(e) => {
                        error.get_or_insert(e);
                        false
                    }
                }
            } else {
                matches_with_id(filter, &mut record)
            };
            if matched {
                out.push(record);
            }
        };
        match plan(kind, &filter.expr) {
            Some(accesses) => {
                let ids = self.candidate_ids(kind, accesses)?;
                for record in self.store.get_many(kind, &ids).map_err(|e| store_error(e, kind, ""))? {
                    check(record, out);
                }
            }
            None => {
                // Text every match must contain: documents without it are not even decoded.
                let required = if relations { Vec::new() } else { required_text(&filter.expr) };
                let needles: Vec<memchr::memmem::Finder<'static>> =
                    required.iter().map(|n| memchr::memmem::Finder::new(n.as_bytes()).into_owned()).collect();
                let keep = |bytes: &[u8]| {
                    // Unicode case mapping can turn a non-ASCII letter into an ASCII one
                    // (the Kelvin sign lower-cases to 'k'): only pure-ASCII text is ruled out.
                    if needles.is_empty() || !bytes.is_ascii() {
                        return true;
                    }
                    let lower = bytes.to_ascii_lowercase();
                    needles.iter().all(|n| n.find(&lower).is_some())
                };
                self.store
                    .scan_where(kind, &required, &keep, &mut |record| {
                        check(record, out);
                        true
                    })
                    .map_err(|e| store_error(e, kind, ""))?;
            }
        }
        match error {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// The ids the index accesses name, once each, in id order.
    pub(super) fn candidate_ids(&self, kind: ResourceKind, accesses: Vec<Access>) -> Result<Vec<String>, ScimError> {
        let mut ids = BTreeSet::new();
        for access in accesses {
            match access {
                Access::Id(id) => {
                    ids.insert(id);
                }
                Access::Index(lookup) => {
                    ids.extend(self.store.lookup(kind, &lookup).map_err(|e| store_error(e, kind, ""))?)
                }
                Access::Unique { key, index } => {
                    let owner = self.store.lookup(kind, &Lookup::Unique(key)).map_err(|e| store_error(e, kind, ""))?;
                    if owner.is_empty() {
                        let found = self.store.lookup(kind, &Lookup::Eq(index));
                        ids.extend(found.map_err(|e| store_error(e, kind, ""))?);
                    } else {
                        ids.extend(owner);
                    }
                }
            }
        }
        Ok(ids.into_iter().collect())
    }

    /// The document with `id`, `meta` and computed `members`/`groups`, for filters on them.
    fn with_relations(&self, record: &StoredResource) -> Result<Value, ScimError> {
        let mut doc = with_id(record);
        match record.kind {
            ResourceKind::Group => {
                let members = self.store.members(&record.id).map_err(|e| store_error(e, record.kind, &record.id))?;
                doc["members"] = Value::Array(members);
            }
            ResourceKind::User => {
                let groups = self
                    .store
                    .lookup(ResourceKind::Group, &Lookup::GroupsWithMember(record.id.clone()))
                    .map_err(|e| store_error(e, record.kind, &record.id))?;
                doc["groups"] =
                    Value::Array(groups.into_iter().map(|g| json!({"value": g, "type": "direct"})).collect());
            }
        }
        Ok(doc)
    }

    fn sort(&self, records: &mut [StoredResource], sort_by: &str, descending: bool) -> Result<(), ScimError> {
        let path = parse_filter(&format!("{sort_by} pr"), self.config.filter_limits)
            .map_err(|e| ScimError::invalid_value(format!("sortBy \"{sort_by}\" is not an attribute path ({e})")))?;
        let Filter::Present(path) = path else {
            return Err(ScimError::invalid_value(format!("sortBy \"{sort_by}\" must name one attribute")));
        };
        let mut targets = Vec::new();
        for rt in self.resource_types() {
            if let Ok(resolved) = rt.resolve(path.urn.as_deref(), &path.name, path.sub.as_deref()) {
                crate::filter::never_returned(resolved.leaf())
                    .map_err(|e| ScimError::invalid_filter(format!("sortBy \"{sort_by}\": {e}")))?;
                let leaf = resolved.leaf();
                let (sub, leaf) = match (leaf.kind, leaf.sub("value")) {
                    (crate::scim::schema::AttrType::Complex, Some(v)) => (Some(v.name.clone()), v),
                    _ => (resolved.sub.map(|s| s.name.clone()), leaf),
                };
                targets.push((
                    rt.kind,
                    Target {
                        extension: resolved.extension.map(str::to_string),
                        attr: resolved.attr.name.clone(),
                        sub,
                        kind: leaf.kind,
                        case_exact: leaf.case_exact,
                        relative: false,
                    },
                ));
            }
        }
        if targets.is_empty() {
            return Err(ScimError::invalid_value(format!("sortBy: unknown attribute \"{sort_by}\"")));
        }
        let keyed: Vec<(Option<Value>, usize)> = records
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let key = targets.iter().find(|(k, _)| *k == r.kind).and_then(|(_, t)| sort_key(t, &with_id(r)));
                (key, i)
            })
            .collect();
        let target_of = |kind: ResourceKind| targets.iter().find(|(k, _)| *k == kind).map(|(_, t)| t);
        let mut order: Vec<usize> = (0..records.len()).collect();
        order.sort_by(|&a, &b| {
            // Resources without a value sort last in either direction.
            match (&keyed[a].0, &keyed[b].0) {
                (None, None) => Ordering::Equal,
                (None, Some(_)) => Ordering::Greater,
                (Some(_), None) => Ordering::Less,
                (Some(x), Some(y)) => {
                    let t = target_of(records[a].kind).or_else(|| target_of(records[b].kind));
                    let ord = t.map(|t| sort_cmp(t.kind, t.case_exact, x, y)).unwrap_or(Ordering::Equal);
                    if descending {
                        ord.reverse()
                    } else {
                        ord
                    }
                }
            }
        });
        let sorted: Vec<StoredResource> = order.into_iter().map(|i| records[i].clone()).collect();
        records.clone_from_slice(&sorted);
        Ok(())
    }
}

/// The value a resource sorts by: for multi-valued attributes the primary value, else the first.
fn sort_key(target: &Target, doc: &Value) -> Option<Value> {
    let mut t = target.clone();
    let sub = t.sub.take();
    let top = values(&t, doc);
    let chosen = top.iter().find(|v| v.get("primary") == Some(&Value::Bool(true))).or_else(|| top.first()).copied()?;
    match sub {
        Some(sub) => chosen.get(&sub).cloned(),
        None => Some(chosen.clone()),
    }
}

/// The `meta` a filter sees (`meta.created`, `meta.lastModified`, `meta.resourceType`).
pub(super) fn filter_meta(kind: ResourceKind, created: &str, modified: &str) -> Value {
    json!({"resourceType": kind.name(), "created": created, "lastModified": modified})
}

/// [`ValidFilter::matches`] on the document with `id` and `meta`, added in place and taken
/// away again: a copy of every candidate cost more than checking it.
fn matches_with_id(filter: &ValidFilter, record: &mut StoredResource) -> bool {
    let meta = filter_meta(record.kind, &record.created, &record.modified);
    let Some(doc) = record.doc.as_object_mut().filter(|d| !d.contains_key("id") && !d.contains_key("meta")) else {
        return filter.matches(&with_id(record));
    };
    // Appended last, so removing them (last first) leaves the document's order as it was.
    doc.insert("id".into(), Value::String(record.id.clone()));
    doc.insert("meta".into(), meta);
    let matched = filter.matches(&record.doc);
    if let Some(doc) = record.doc.as_object_mut() {
        doc.remove("meta");
        doc.remove("id");
    }
    matched
}

fn with_id(record: &StoredResource) -> Value {
    let mut doc = record.doc.clone();
    if let Some(obj) = doc.as_object_mut() {
        obj.insert("id".into(), Value::String(record.id.clone()));
        obj.insert("meta".into(), filter_meta(record.kind, &record.created, &record.modified));
    }
    doc
}

/// An RFC 9865 cursor: the last position returned, bound to the query it came from.
struct Cursor {
    /// (index of the resource type in the query's kinds, id); `None` before the first page.
    after: Option<(usize, String)>,
}

impl Cursor {
    fn binding(kinds: &[ResourceKind], filter: Option<&str>) -> String {
        let names: Vec<&str> = kinds.iter().map(|k| k.endpoint()).collect();
        crate::digest::fingerprint(format!("{}|{}", names.join(","), filter.unwrap_or("")).as_bytes())
    }

    fn encode(&self, kinds: &[ResourceKind], filter: Option<&str>) -> String {
        use base64::Engine;
        let (kind, id) = self.after.clone().unwrap_or_default();
        let raw = serde_json::json!({"k": kind, "id": id, "q": Self::binding(kinds, filter)}).to_string();
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
    }

    fn decode(text: &str, kinds: &[ResourceKind], filter: Option<&str>) -> Result<Cursor, ScimError> {
        use base64::Engine;
        if text.is_empty() {
            return Ok(Cursor { after: None });
        }
        let invalid = |why: &str| {
            ScimError::bad_request(
                ScimType::InvalidCursor,
                format!("cursor \"{text}\" {why}; start again with cursor= (empty) and follow nextCursor"),
            )
        };
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(text)
            .map_err(|_| invalid("was not issued by this server"))?;
        let v: Value = serde_json::from_slice(&bytes).map_err(|_| invalid("was not issued by this server"))?;
        if v["q"].as_str() != Some(Self::binding(kinds, filter).as_str()) {
            return Err(invalid("belongs to a different endpoint or filter"));
        }
        match (v["k"].as_u64(), v["id"].as_str()) {
            (Some(k), Some(id)) => Ok(Cursor { after: Some((k as usize, id.to_string())) }),
            _ => Err(invalid("was not issued by this server")),
        }
    }
}

/// A ListResponse (RFC 7644 §3.4.2). Built by hand: `json!` would copy every rendered
/// resource into the envelope.
fn list_response(total: usize, start_index: usize, resources: Vec<Value>) -> Value {
    let mut body = list_envelope(total, start_index, resources.len());
    body.insert("Resources".into(), Value::Array(resources));
    Value::Object(body)
}

/// A ListResponse's members before `Resources`, which comes last.
fn list_envelope(total: usize, start_index: usize, items_per_page: usize) -> serde_json::Map<String, Value> {
    let mut body = serde_json::Map::new();
    body.insert("schemas".into(), json!([urn::LIST_RESPONSE]));
    body.insert("totalResults".into(), total.into());
    body.insert("itemsPerPage".into(), items_per_page.into());
    body.insert("startIndex".into(), start_index.into());
    body
}

pub(crate) fn filter_error(e: FilterError) -> ScimError {
    ScimError::invalid_filter(e.to_string())
}
