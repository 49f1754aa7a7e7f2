//! SCIM wire model: schema definitions, resource types, error bodies, discovery documents.
//! Pure data and rules, no I/O.

pub mod discovery;
pub mod error;
pub mod resource_type;
pub mod schema;
pub mod strict_json;

pub use error::{ScimError, ScimType};
pub use resource_type::{Resolved, ResourceKind, ResourceType};

/// The media type of every SCIM request and response body (RFC 7644 §3.1).
pub const MEDIA_TYPE: &str = "application/scim+json";

/// Schema and message URNs (RFC 7643 §8.7, RFC 7644 §3).
pub mod urn {
    pub const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
    pub const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
    pub const ENTERPRISE_USER: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    pub const LIST_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
    pub const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
    pub const SEARCH_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";
    pub const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
    pub const BULK_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
    pub const BULK_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:BulkResponse";
    pub const SERVICE_PROVIDER_CONFIG: &str = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
    pub const RESOURCE_TYPE: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
    pub const SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";
}
