//! Schema definitions (RFC 7643 §7 and §8.7.1) as typed data. The same values drive
//! validation, filtering, projection and the `/Schemas` discovery documents, so what we
//! advertise is what we enforce.

use serde::Serialize;

use super::urn;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum AttrType {
    String,
    Boolean,
    Decimal,
    Integer,
    DateTime,
    Binary,
    Reference,
    Complex,
}

impl AttrType {
    pub fn name(self) -> &'static str {
        match self {
            AttrType::String => "string",
            AttrType::Boolean => "boolean",
            AttrType::Decimal => "decimal",
            AttrType::Integer => "integer",
            AttrType::DateTime => "dateTime",
            AttrType::Binary => "binary",
            AttrType::Reference => "reference",
            AttrType::Complex => "complex",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Mutability {
    ReadOnly,
    ReadWrite,
    Immutable,
    WriteOnly,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Returned {
    Always,
    Never,
    Default,
    Request,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Uniqueness {
    None,
    Server,
    Global,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AttributeDef {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: AttrType,
    pub multi_valued: bool,
    pub description: String,
    pub required: bool,
    pub case_exact: bool,
    pub mutability: Mutability,
    pub returned: Returned,
    pub uniqueness: Uniqueness,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub canonical_values: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub reference_types: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sub_attributes: Vec<AttributeDef>,
}

impl AttributeDef {
    fn new(name: &str, kind: AttrType, description: &str) -> Self {
        AttributeDef {
            name: name.to_string(),
            kind,
            multi_valued: false,
            description: description.to_string(),
            required: false,
            case_exact: false,
            mutability: Mutability::ReadWrite,
            returned: Returned::Default,
            uniqueness: Uniqueness::None,
            canonical_values: Vec::new(),
            reference_types: Vec::new(),
            sub_attributes: Vec::new(),
        }
    }

    /// Finds a sub-attribute by name, case-insensitively (RFC 7643 §2.1).
    pub fn sub(&self, name: &str) -> Option<&AttributeDef> {
        self.sub_attributes.iter().find(|a| a.name.eq_ignore_ascii_case(name))
    }

    fn required(mut self) -> Self {
        self.required = true;
        self
    }
    fn case_exact(mut self) -> Self {
        self.case_exact = true;
        self
    }
    fn multi(mut self) -> Self {
        self.multi_valued = true;
        self
    }
    fn mutability(mut self, m: Mutability) -> Self {
        self.mutability = m;
        self
    }
    fn returned(mut self, r: Returned) -> Self {
        self.returned = r;
        self
    }
    fn unique(mut self) -> Self {
        self.uniqueness = Uniqueness::Server;
        self
    }
    fn canonical(mut self, values: &[&str]) -> Self {
        self.canonical_values = values.iter().map(|v| v.to_string()).collect();
        self
    }
    fn refs(mut self, types: &[&str]) -> Self {
        self.reference_types = types.iter().map(|v| v.to_string()).collect();
        self
    }
    fn subs(mut self, subs: Vec<AttributeDef>) -> Self {
        self.sub_attributes = subs;
        self
    }
}

fn string(name: &str, description: &str) -> AttributeDef {
    AttributeDef::new(name, AttrType::String, description)
}
fn boolean(name: &str, description: &str) -> AttributeDef {
    AttributeDef::new(name, AttrType::Boolean, description)
}
fn complex(name: &str, description: &str, subs: Vec<AttributeDef>) -> AttributeDef {
    AttributeDef::new(name, AttrType::Complex, description).subs(subs)
}
fn reference(name: &str, description: &str, types: &[&str]) -> AttributeDef {
    AttributeDef::new(name, AttrType::Reference, description).refs(types)
}

#[derive(Debug, Clone, Serialize)]
pub struct Schema {
    pub id: String,
    pub name: String,
    pub description: String,
    pub attributes: Vec<AttributeDef>,
}

impl Schema {
    pub fn attribute(&self, name: &str) -> Option<&AttributeDef> {
        self.attributes.iter().find(|a| a.name.eq_ignore_ascii_case(name))
    }
}

/// A multi-valued complex attribute with the usual value/display/type/primary quartet.
fn plural(name: &str, description: &str, value: AttributeDef, types: &[&str]) -> AttributeDef {
    complex(
        name,
        description,
        vec![
            value,
            string("display", "A human-readable name, primarily used for display purposes.")
                .mutability(Mutability::ReadWrite),
            string("type", "A label indicating the attribute's function.").canonical(types),
            boolean("primary", "A Boolean value indicating the 'primary' or preferred attribute value."),
        ],
    )
    .multi()
}

pub fn user_schema() -> Schema {
    let name = complex(
        "name",
        "The components of the user's real name.",
        vec![
            string("formatted", "The full name, formatted for display."),
            string("familyName", "The family name of the User."),
            string("givenName", "The given name of the User."),
            string("middleName", "The middle name(s) of the User."),
            string("honorificPrefix", "The honorific prefix(es) of the User."),
            string("honorificSuffix", "The honorific suffix(es) of the User."),
        ],
    );
    let addresses = complex(
        "addresses",
        "A physical mailing address for this User.",
        vec![
            string("formatted", "The full mailing address, formatted for display."),
            string("streetAddress", "The full street address component."),
            string("locality", "The city or locality component."),
            string("region", "The state or region component."),
            string("postalCode", "The zip code or postal code component."),
            string("country", "The country name component."),
            string("type", "A label indicating the attribute's function.").canonical(&["work", "home", "other"]),
            boolean("primary", "A Boolean value indicating the 'primary' or preferred attribute value."),
        ],
    )
    .multi();
    let groups = complex(
        "groups",
        "A list of groups to which the user belongs, computed by the service provider.",
        vec![
            string("value", "The identifier of the User's group.").mutability(Mutability::ReadOnly),
            reference("$ref", "The URI of the corresponding 'Group' resource.", &["User", "Group"])
                .mutability(Mutability::ReadOnly),
            string("display", "A human-readable name of the group.").mutability(Mutability::ReadOnly),
            string("type", "How the membership was derived.")
                .canonical(&["direct", "indirect"])
                .mutability(Mutability::ReadOnly),
        ],
    )
    .multi()
    .mutability(Mutability::ReadOnly);
    Schema {
        id: urn::USER.to_string(),
        name: "User".into(),
        description: "User Account".into(),
        attributes: vec![
            string("userName", "Unique identifier for the User, used by the user to authenticate.").required().unique(),
            name,
            string("displayName", "The name of the User, suitable for display to end-users."),
            string("nickName", "The casual way to address the user in real life."),
            reference(
                "profileUrl",
                "A fully qualified URL pointing to a page representing the User's online profile.",
                &["external"],
            ),
            string("title", "The user's title, such as \"Vice President\"."),
            string("userType", "Used to identify the relationship between the organization and the user."),
            string("preferredLanguage", "The User's preferred written or spoken language."),
            string("locale", "Used to indicate the User's default location."),
            string("timezone", "The User's time zone in the 'Olson' time zone database format."),
            boolean("active", "A Boolean value indicating the User's administrative status."),
            string("password", "The User's cleartext password, used to set a password; never returned.")
                .mutability(Mutability::WriteOnly)
                .returned(Returned::Never),
            plural(
                "emails",
                "Email addresses for the user.",
                string("value", "Email address for the user."),
                &["work", "home", "other"],
            ),
            plural(
                "phoneNumbers",
                "Phone numbers for the User.",
                string("value", "Phone number of the User."),
                &["work", "home", "mobile", "fax", "pager", "other"],
            ),
            plural(
                "ims",
                "Instant messaging addresses for the User.",
                string("value", "Instant messaging address for the User."),
                &["aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"],
            ),
            plural(
                "photos",
                "URLs of photos of the User.",
                reference("value", "URL of a photo of the User.", &["external"]),
                &["photo", "thumbnail"],
            ),
            addresses,
            groups,
            plural(
                "entitlements",
                "A list of entitlements for the User.",
                string("value", "The value of an entitlement."),
                &[],
            ),
            plural("roles", "A list of roles for the User.", string("value", "The value of a role."), &[]),
            plural(
                "x509Certificates",
                "A list of certificates issued to the User.",
                AttributeDef::new("value", AttrType::Binary, "The value of an X.509 certificate."),
                &[],
            ),
        ],
    }
}

pub fn group_schema() -> Schema {
    let members = complex(
        "members",
        "A list of members of the Group.",
        vec![
            string("value", "Identifier of the member of this Group.").mutability(Mutability::Immutable),
            reference(
                "$ref",
                "The URI corresponding to a SCIM resource that is a member of this Group.",
                &["User", "Group"],
            )
            .mutability(Mutability::Immutable),
            string("type", "A label indicating the type of resource.")
                .canonical(&["User", "Group"])
                .mutability(Mutability::Immutable),
            string("display", "A human-readable name for the member.").mutability(Mutability::Immutable),
        ],
    )
    .multi();
    Schema {
        id: urn::GROUP.to_string(),
        name: "Group".into(),
        description: "Group".into(),
        attributes: vec![string("displayName", "A human-readable name for the Group.").required(), members],
    }
}

pub fn enterprise_user_schema() -> Schema {
    let manager = complex(
        "manager",
        "The User's manager.",
        vec![
            string("value", "The id of the SCIM resource representing the User's manager."),
            reference("$ref", "The URI of the SCIM resource representing the User's manager.", &["User"]),
            string("displayName", "The displayName of the User's manager.").mutability(Mutability::ReadOnly),
        ],
    );
    Schema {
        id: urn::ENTERPRISE_USER.to_string(),
        name: "EnterpriseUser".into(),
        description: "Enterprise User".into(),
        attributes: vec![
            string("employeeNumber", "Numeric or alphanumeric identifier assigned to a person."),
            string("costCenter", "Identifies the name of a cost center."),
            string("organization", "Identifies the name of an organization."),
            string("division", "Identifies the name of a division."),
            string("department", "Identifies the name of a department."),
            manager,
        ],
    }
}

/// Attributes every resource has (RFC 7643 §3.1).
pub fn common_attributes() -> Vec<AttributeDef> {
    let meta = complex(
        "meta",
        "Resource metadata.",
        vec![
            string("resourceType", "The name of the resource type of the resource.")
                .case_exact()
                .mutability(Mutability::ReadOnly),
            AttributeDef::new("created", AttrType::DateTime, "When the resource was added.")
                .mutability(Mutability::ReadOnly),
            AttributeDef::new("lastModified", AttrType::DateTime, "When the resource was last updated.")
                .mutability(Mutability::ReadOnly),
            reference("location", "The URI of the resource.", &["uri"]).case_exact().mutability(Mutability::ReadOnly),
            string("version", "The version (weak ETag) of the resource.").case_exact().mutability(Mutability::ReadOnly),
        ],
    )
    .mutability(Mutability::ReadOnly);
    vec![
        string("id", "Unique identifier for the resource, assigned by the service provider.")
            .case_exact()
            .mutability(Mutability::ReadOnly)
            .returned(Returned::Always)
            .unique(),
        string("externalId", "Identifier of the resource as defined by the provisioning client.").case_exact(),
        meta,
    ]
}
