//! Resource types (RFC 7643 §6) and attribute-path resolution against their schemas.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::schema::{common_attributes, enterprise_user_schema, group_schema, user_schema, AttributeDef, Schema};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ResourceKind {
    User,
    Group,
}

impl ResourceKind {
    pub const ALL: [ResourceKind; 2] = [ResourceKind::User, ResourceKind::Group];

    pub fn name(self) -> &'static str {
        match self {
            ResourceKind::User => "User",
            ResourceKind::Group => "Group",
        }
    }

    /// `Users` → User (case-insensitive, as endpoints arrive in paths).
    pub fn from_endpoint(endpoint: &str) -> Option<ResourceKind> {
        ResourceKind::ALL.into_iter().find(|k| k.endpoint().eq_ignore_ascii_case(endpoint))
    }

    pub fn endpoint(self) -> &'static str {
        match self {
            ResourceKind::User => "Users",
            ResourceKind::Group => "Groups",
        }
    }

    /// Case-insensitive parse of a resource type name ("User", "group").
    pub fn from_name(name: &str) -> Option<ResourceKind> {
        ResourceKind::ALL.into_iter().find(|k| k.name().eq_ignore_ascii_case(name))
    }
}

impl fmt::Display for ResourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, Clone)]
pub struct Extension {
    pub schema: Schema,
    pub required: bool,
}

/// A resource type with its core schema, extensions and the common attributes.
#[derive(Debug, Clone)]
pub struct ResourceType {
    pub kind: ResourceKind,
    pub description: String,
    pub core: Schema,
    pub extensions: Vec<Extension>,
    pub common: Vec<AttributeDef>,
}

/// Where a resolved attribute lives in a resource document.
#[derive(Debug, Clone, Copy)]
pub struct Resolved<'a> {
    /// `Some(urn)` for an extension attribute (stored under the URN key), `None` for core
    /// and common attributes (stored at the top level).
    pub extension: Option<&'a str>,
    pub attr: &'a AttributeDef,
    pub sub: Option<&'a AttributeDef>,
}

impl Resolved<'_> {
    /// The definition that governs the value addressed (the sub-attribute if there is one).
    pub fn leaf(&self) -> &AttributeDef {
        self.sub.unwrap_or(self.attr)
    }

    /// Canonical dotted name, e.g. `emails.value` or `urn:...:User:manager.value`.
    pub fn canonical(&self) -> String {
        let mut s = String::new();
        if let Some(urn) = self.extension {
            s.push_str(urn);
            s.push(':');
        }
        s.push_str(&self.attr.name);
        if let Some(sub) = self.sub {
            s.push('.');
            s.push_str(&sub.name);
        }
        s
    }
}

impl ResourceType {
    pub fn user() -> Self {
        ResourceType {
            kind: ResourceKind::User,
            description: "User Account".into(),
            core: user_schema(),
            extensions: vec![Extension { schema: enterprise_user_schema(), required: false }],
            common: common_attributes(),
        }
    }

    pub fn group() -> Self {
        ResourceType {
            kind: ResourceKind::Group,
            description: "Group".into(),
            core: group_schema(),
            extensions: Vec::new(),
            common: common_attributes(),
        }
    }

    pub fn extension(&self, urn: &str) -> Option<&Schema> {
        self.extensions.iter().map(|e| &e.schema).find(|s| s.id.eq_ignore_ascii_case(urn))
    }

    /// Every schema URN this resource type knows (core first).
    pub fn schema_urns(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.core.id.as_str()).chain(self.extensions.iter().map(|e| e.schema.id.as_str()))
    }

    /// A top-level attribute of the core schema or the common attributes.
    pub fn top_level(&self, name: &str) -> Option<&AttributeDef> {
        self.core.attribute(name).or_else(|| self.common.iter().find(|a| a.name.eq_ignore_ascii_case(name)))
    }

    /// Resolves `[urn:]name[.sub]`. The error text names what is unknown and, where it can,
    /// suggests the qualified name the client probably meant.
    pub fn resolve(&self, urn: Option<&str>, name: &str, sub: Option<&str>) -> Result<Resolved<'_>, String> {
        let (extension, attr) = match urn {
            None => match self.top_level(name) {
                Some(attr) => (None, attr),
                None => return Err(self.unknown_hint(name)),
            },
            Some(urn) if urn.eq_ignore_ascii_case(&self.core.id) => match self.core.attribute(name) {
                Some(attr) => (None, attr),
                None => return Err(format!("unknown attribute '{urn}:{name}'")),
            },
            Some(urn) => {
                let Some(schema) = self.extension(urn) else {
                    return Err(format!("unknown schema '{urn}' for resource type {}", self.kind));
                };
                match schema.attribute(name) {
                    Some(attr) => (Some(schema.id.as_str()), attr),
                    None => return Err(format!("unknown attribute '{urn}:{name}'")),
                }
            }
        };
        let sub = match sub {
            None => None,
            Some(sub_name) => {
                if attr.kind != super::schema::AttrType::Complex {
                    return Err(format!("'{}' is not complex and has no sub-attribute '{sub_name}'", attr.name));
                }
                match attr.sub(sub_name) {
                    Some(s) => Some(s),
                    None => return Err(format!("unknown sub-attribute '{}.{sub_name}'", attr.name)),
                }
            }
        };
        Ok(Resolved { extension, attr, sub })
    }

    fn unknown_hint(&self, name: &str) -> String {
        for ext in &self.extensions {
            if let Some(attr) = ext.schema.attribute(name) {
                return format!(
                    "unknown attribute '{name}'; extension attributes are qualified by their schema: '{}:{}'",
                    ext.schema.id, attr.name
                );
            }
        }
        format!("unknown attribute '{name}' for resource type {}", self.kind)
    }
}
