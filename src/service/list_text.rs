//! A ListResponse written as text, for the list Entra and Okta send most: one resource type,
//! a filter answered from an index (`userName eq "…"`), the default projection. Each
//! candidate is read as JSON text ([`crate::store::Store::get_text`]), checked on only the
//! attributes the filter reads, and rendered with [`ScimService::render_text`]. The bytes
//! are those of the tree path (`query::list_response` over `render`); a test holds them equal.

use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::plan::{needs_relations, plan, read_attributes};
use super::query::filter_meta;
use super::render_text::RawMembers;
use super::{store_error, ScimService};
use crate::filter::ValidFilter;
use crate::scim::{ResourceKind, ScimError};
use crate::store::StoredText;

impl ScimService {
    /// The page as ListResponse text; None when the filter is not answered from an index
    /// or reads relations, or a candidate can only be rendered as a tree.
    pub(super) fn list_text(
        &self,
        kind: ResourceKind,
        filter: &ValidFilter,
        start_index: usize,
        count: usize,
        base: &str,
    ) -> Result<Option<String>, ScimError> {
        if needs_relations(kind, &filter.expr) {
            return Ok(None);
        }
        let Some(accesses) = plan(kind, &filter.expr) else { return Ok(None) };
        let read = read_attributes(&filter.expr);
        let rt = self.resource_type(kind);
        let page = (start_index - 1)..(start_index - 1).saturating_add(count);
        let (mut total, mut resources) = (0, Vec::new());
        for id in self.candidate_ids(kind, accesses)? {
            let Some(stored) = self.store.get_text(kind, &id).map_err(|e| store_error(e, kind, &id))? else {
                continue;
            };
            // Split once: the filter check and the rendering read the same members.
            let Ok(RawMembers(members)) = serde_json::from_str::<RawMembers<'_>>(stored.doc.get()) else {
                return Ok(None);
            };
            let Some(checked) = checked_document(&stored, &members, &read) else { return Ok(None) };
            if !filter.matches(&checked) {
                continue;
            }
            if page.contains(&total) {
                let Some(text) = self.render_members_text(rt, &stored, &members, base)? else { return Ok(None) };
                resources.push(text);
            }
            total += 1;
        }
        // The members in the order `query::list_envelope` gives the tree path, then
        // `Resources`, its last member.
        let mut text = format!(
            "{{\"schemas\":[\"{}\"],\"totalResults\":{total},\"itemsPerPage\":{},\"startIndex\":{start_index},\"Resources\":[",
            crate::scim::urn::LIST_RESPONSE,
            resources.len()
        );
        text.push_str(&resources.join(","));
        text.push_str("]}");
        Ok(Some(text))
    }
}

/// The part of a document a filter reads, with `id` and `meta` as the tree path adds them
/// when it reads those: the attributes it names (matched as the evaluator matches them,
/// ignoring case).
fn checked_document(
    stored: &StoredText,
    members: &[(String, &RawValue)],
    read: &[(Option<&str>, &str)],
) -> Option<Value> {
    let mut doc = Map::new();
    for (key, value) in members {
        let wanted = read.iter().any(|(extension, attr)| match extension {
            Some(urn) => key.eq_ignore_ascii_case(urn),
            None => key.eq_ignore_ascii_case(attr),
        });
        if wanted && key != "id" && key != "meta" {
            doc.insert(key.clone(), serde_json::from_str(value.get()).ok()?);
        }
    }
    // `id` and `meta` are not in the stored document: added only when the filter reads them.
    let reads =
        |name: &str| read.iter().any(|(extension, attr)| extension.is_none() && attr.eq_ignore_ascii_case(name));
    if reads("id") {
        doc.insert("id".into(), Value::String(stored.id.clone()));
    }
    if reads("meta") {
        doc.insert("meta".into(), filter_meta(stored.kind, &stored.created, &stored.modified));
    }
    Some(Value::Object(doc))
}
