//! Rendering a stored resource straight to JSON text, for the default projection (no
//! `attributes` or `excludedAttributes`): the common GET by id. Decoding the document into
//! a tree, rendering the tree and serializing it was a fifth of a GET (docs/perf.md,
//! round 2). Here the document's top level is split into raw values, which are copied
//! as they are stored.
//!
//! The output is byte for byte what the tree renderer ([`ScimService::render`]) produces.
//! A document whose keys the tree renderer would merge with computed ones
//! (`schemas`, `id`, `meta`, `members`, `groups`) goes to the tree renderer instead.

use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::Value;

use super::render::Projection;
use super::{etag, location, ScimService};
use crate::scim::{ResourceKind, ResourceType, ScimError};
use crate::store::StoredText;

/// An object's members in order, values left as JSON text.
pub(super) struct RawMembers<'a>(pub(super) Vec<(String, &'a RawValue)>);

impl<'de: 'a, 'a> Deserialize<'de> for RawMembers<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Members<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for Members<'a> {
            type Value = RawMembers<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut members = Vec::with_capacity(map.size_hint().unwrap_or(8));
                while let Some((key, value)) = map.next_entry::<String, &'de RawValue>()? {
                    members.push((key, value));
                }
                Ok(RawMembers(members))
            }
        }
        deserializer.deserialize_map(Members(std::marker::PhantomData))
    }
}

/// Keys the tree renderer computes; a document that holds one of them is rendered as a tree.
const COMPUTED: [&str; 5] = ["schemas", "id", "meta", "members", "groups"];

/// Appends `,"key":value` (or without the comma first).
fn member(out: &mut String, key: &str, value: &str) {
    if !out.ends_with('{') {
        out.push(',');
    }
    push_json_string(out, key);
    out.push(':');
    out.push_str(value);
}

fn json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    push_json_string(&mut out, text);
    out
}

/// Appends `text` as a JSON string, as serde_json writes it.
fn push_json_string(out: &mut String, text: &str) {
    // Attribute names and ids need no escapes: copied as they are.
    if text.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\' && b < 0x7f) {
        out.push('"');
        out.push_str(text);
        out.push('"');
    } else {
        out.push_str(&Value::String(text.to_string()).to_string());
    }
}

impl ScimService {
    /// The wire form of `stored` as JSON text under the default projection; None when only
    /// the tree renderer can render it (another projection, or a document holding a
    /// computed key).
    pub(super) fn render_text(
        &self,
        rt: &ResourceType,
        stored: &StoredText,
        projection: &Projection,
        base: &str,
    ) -> Result<Option<String>, ScimError> {
        if !projection.is_default() {
            return Ok(None);
        }
        let Ok(RawMembers(doc)) = serde_json::from_str::<RawMembers<'_>>(stored.doc.get()) else { return Ok(None) };
        self.render_members_text(rt, stored, &doc, base)
    }

    /// [`ScimService::render_text`] over the document's members already split (`doc`), so
    /// a caller that has split them to check a filter does not split them again.
    pub(super) fn render_members_text(
        &self,
        rt: &ResourceType,
        stored: &StoredText,
        doc: &[(String, &RawValue)],
        base: &str,
    ) -> Result<Option<String>, ScimError> {
        if doc.iter().any(|(key, _)| COMPUTED.contains(&key.as_str())) {
            return Ok(None);
        }
        let keeps = |name: &str| rt.top_level(name).is_some_and(Projection::keeps_by_default);
        let mut out = String::with_capacity(stored.doc.get().len() + 256);
        out.push('{');
        let mut schemas = vec![Value::String(rt.core.id.clone())];
        for ext in &rt.extensions {
            if doc.iter().any(|(key, _)| *key == ext.schema.id) {
                schemas.push(Value::String(ext.schema.id.clone()));
            }
        }
        member(&mut out, "schemas", &Value::Array(schemas).to_string());
        if keeps("id") {
            member(&mut out, "id", &json_string(&stored.id));
        }
        for (key, value) in doc.iter().filter(|(key, _)| rt.extension(key).is_none()) {
            if keeps(key) {
                member(&mut out, key, value.get());
            }
        }
        match stored.kind {
            ResourceKind::Group if keeps("members") => {
                let members = self.members_with_refs(&stored.id, base)?;
                member(&mut out, "members", &Value::Array(members).to_string());
            }
            ResourceKind::User if keeps("groups") => {
                let groups = self.groups_of(&stored.id, base)?;
                if !groups.is_empty() {
                    member(&mut out, "groups", &Value::Array(groups).to_string());
                }
            }
            _ => {}
        }
        for (key, value) in doc {
            let Some(schema) = rt.extension(key) else { continue };
            // Not an object: the tree renderer drops it too.
            let Ok(RawMembers(attributes)) = serde_json::from_str::<RawMembers<'_>>(value.get()) else { continue };
            let mut kept = String::from("{");
            for (name, attribute) in &attributes {
                if schema.attribute(name).is_some_and(Projection::keeps_by_default) {
                    member(&mut kept, name, attribute.get());
                }
            }
            if kept.len() > 1 {
                kept.push('}');
                member(&mut out, key, &kept);
            }
        }
        if keeps("meta") {
            // `render::meta`'s members in its order, written as text.
            let mut meta = String::from("{");
            member(&mut meta, "resourceType", &json_string(stored.kind.name()));
            member(&mut meta, "created", &json_string(&stored.created));
            member(&mut meta, "lastModified", &json_string(&stored.modified));
            member(&mut meta, "location", &json_string(&location(base, stored.kind, &stored.id)));
            member(&mut meta, "version", &json_string(&etag(stored.version)));
            meta.push('}');
            member(&mut out, "meta", &meta);
        }
        out.push('}');
        Ok(Some(out))
    }
}
