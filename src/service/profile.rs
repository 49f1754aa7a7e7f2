//! Quirk profiles: the RFC-strict behaviour and the named leniencies real clients need.
//!
//! Every leniency has a name, a one-line explanation and the profiles that accept it. When
//! a request needs one, the service either records it (so responses and the request log can
//! say which quirk fired) or, under a profile that does not accept it, answers 400 with a
//! detail that names the profile which would.

use std::fmt;
use std::str::FromStr;

use crate::scim::{ScimError, ScimType};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Profile {
    /// RFC 7643/7644 only.
    Strict,
    /// Accepts everything Microsoft Entra ID sends (both PATCH dialects). The default,
    /// because Entra is the client most users point at scimlab.
    #[default]
    Entra,
    /// Accepts what Okta sends (a subset of Entra's leniencies plus Okta's own).
    Okta,
}

impl Profile {
    pub fn name(self) -> &'static str {
        match self {
            Profile::Strict => "strict",
            Profile::Entra => "entra",
            Profile::Okta => "okta",
        }
    }

    pub fn accepts(self, leniency: Leniency) -> bool {
        leniency.profiles().contains(&self)
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl TryFrom<String> for Profile {
    type Error = String;
    fn try_from(name: String) -> Result<Self, String> {
        name.parse()
    }
}

impl From<Profile> for String {
    fn from(p: Profile) -> String {
        p.to_string()
    }
}

impl FromStr for Profile {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "strict" | "rfc" => Ok(Profile::Strict),
            "entra" | "azure" | "aad" => Ok(Profile::Entra),
            "okta" => Ok(Profile::Okta),
            other => Err(format!("unknown profile '{other}': use strict, entra or okta")),
        }
    }
}

/// A departure from RFC 7643/7644 that some client needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Leniency {
    /// PATCH `op` not in lower case (`"Replace"`), RFC 7644 §3.5.2.
    OpCase,
    /// `"True"`/`"False"` strings where a boolean is defined (attribute values and filters).
    BooleanString,
    /// Path-less PATCH whose value keys are paths (`"name.givenName"`, full URNs).
    PathlessPathKeys,
    /// `remove` of `members` (or another multi-valued attribute) with a `value` list naming
    /// the values to remove, instead of a `[value eq "…"]` filter.
    RemoveByValue,
    /// Enterprise `manager` as a bare id string, a one-element array, or cleared with `""`.
    ManagerString,
    /// `add`/`replace` on `attr[filter]…` that matches nothing creates the element.
    ValuePathCreate,
    /// Unknown schema URNs in `schemas` (Entra sends a Microsoft one on Groups).
    UnknownSchemaUrn,
    /// Extension attributes present without their URN listed in `schemas`.
    UndeclaredExtension,
    /// A value outside an attribute's canonicalValues.
    NonCanonicalValue,
    /// A PATCH request without the PatchOp URN in `schemas`.
    MissingPatchSchema,
    /// A single value where the schema defines a multi-valued attribute.
    SingleForMultiValued,
}

impl Leniency {
    pub const ALL: [Leniency; 11] = [
        Leniency::OpCase,
        Leniency::BooleanString,
        Leniency::PathlessPathKeys,
        Leniency::RemoveByValue,
        Leniency::ManagerString,
        Leniency::ValuePathCreate,
        Leniency::UnknownSchemaUrn,
        Leniency::UndeclaredExtension,
        Leniency::NonCanonicalValue,
        Leniency::MissingPatchSchema,
        Leniency::SingleForMultiValued,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Leniency::OpCase => "op-case",
            Leniency::BooleanString => "boolean-string",
            Leniency::PathlessPathKeys => "pathless-path-keys",
            Leniency::RemoveByValue => "remove-by-value",
            Leniency::ManagerString => "manager-string",
            Leniency::ValuePathCreate => "valuepath-create",
            Leniency::UnknownSchemaUrn => "unknown-schema-urn",
            Leniency::UndeclaredExtension => "undeclared-extension",
            Leniency::NonCanonicalValue => "non-canonical-value",
            Leniency::MissingPatchSchema => "missing-patch-schema",
            Leniency::SingleForMultiValued => "single-for-multi-valued",
        }
    }

    pub fn explain(self) -> &'static str {
        match self {
            Leniency::OpCase => "PATCH op in any case (Entra sends \"Add\", \"Replace\", \"Remove\")",
            Leniency::BooleanString => "\"True\"/\"False\" strings accepted as booleans (Entra's legacy dialect)",
            Leniency::PathlessPathKeys => {
                "path-less replace keyed by attribute paths such as \"name.givenName\" (Entra aadOptscim062020)"
            }
            Leniency::RemoveByValue => {
                "remove of members listed in \"value\" removes only those members (Entra's legacy dialect)"
            }
            Leniency::ManagerString => "enterprise manager as a bare id string; \"\" or {\"value\":\"\"} clears it",
            Leniency::ValuePathCreate => "add/replace on attr[filter] that matches nothing creates the element",
            Leniency::UnknownSchemaUrn => "unknown URNs in \"schemas\" are ignored (Entra adds a Microsoft Group URN)",
            Leniency::UndeclaredExtension => "extension attributes accepted without their URN in \"schemas\"",
            Leniency::NonCanonicalValue => "values outside canonicalValues are stored as sent",
            Leniency::MissingPatchSchema => "PATCH bodies without the PatchOp URN in \"schemas\"",
            Leniency::SingleForMultiValued => {
                "a single value where an array is defined is taken as a one-element array"
            }
        }
    }

    pub fn profiles(self) -> &'static [Profile] {
        match self {
            Leniency::OpCase | Leniency::BooleanString | Leniency::UnknownSchemaUrn | Leniency::NonCanonicalValue => {
                &[Profile::Entra, Profile::Okta]
            }
            Leniency::SingleForMultiValued | Leniency::MissingPatchSchema => &[Profile::Entra, Profile::Okta],
            Leniency::PathlessPathKeys
            | Leniency::RemoveByValue
            | Leniency::ManagerString
            | Leniency::ValuePathCreate
            | Leniency::UndeclaredExtension => &[Profile::Entra],
        }
    }
}

impl fmt::Display for Leniency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Collects the leniencies one request needed, or refuses them under the active profile.
#[derive(Debug)]
pub struct Quirks {
    profile: Profile,
    fired: Vec<Leniency>,
}

impl Quirks {
    pub fn new(profile: Profile) -> Self {
        Quirks { profile, fired: Vec::new() }
    }

    pub fn profile(&self) -> Profile {
        self.profile
    }

    pub fn accepts(&self, leniency: Leniency) -> bool {
        self.profile.accepts(leniency)
    }

    /// Records `leniency` if the profile accepts it; otherwise a 400 whose detail explains
    /// the RFC rule (`what`) and names the profile that would accept the request.
    pub fn allow(
        &mut self,
        leniency: Leniency,
        scim_type: ScimType,
        what: impl FnOnce() -> String,
    ) -> Result<(), ScimError> {
        if self.profile.accepts(leniency) {
            if !self.fired.contains(&leniency) {
                self.fired.push(leniency);
            }
            return Ok(());
        }
        let accepting: Vec<&str> = leniency.profiles().iter().map(|p| p.name()).collect();
        Err(ScimError::bad_request(
            scim_type,
            format!(
                "{} (profile '{}'; the '{}' profile accepts this as quirk '{}': {})",
                what(),
                self.profile,
                accepting.join("' or '"),
                leniency.name(),
                leniency.explain()
            ),
        ))
    }

    pub fn fired(&self) -> &[Leniency] {
        &self.fired
    }

    pub fn into_fired(self) -> Vec<Leniency> {
        self.fired
    }
}
