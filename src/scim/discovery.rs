//! Discovery documents (RFC 7643 §5–§7): ServiceProviderConfig, ResourceType, Schema.
//! They are built from the same definitions the server enforces, so they cannot drift.

use serde_json::{json, Value};

use super::resource_type::ResourceType;
use super::schema::Schema;
use super::urn;

/// What this server supports, as advertised in `/ServiceProviderConfig`.
#[derive(Debug, Clone)]
pub struct Capabilities {
    pub max_results: usize,
    pub filter_max_length: usize,
    pub filter_max_depth: usize,
    pub bulk_supported: bool,
    pub bulk_max_operations: usize,
    pub bulk_max_payload: usize,
    pub etag_supported: bool,
    pub cursor_supported: bool,
    pub jwt_enabled: bool,
    /// Where the operator documents this server; absent unless configured.
    pub documentation_uri: Option<String>,
}

impl Capabilities {
    /// The filter limits, which RFC 7643 has no ServiceProviderConfig attribute for: sent
    /// as the `X-Scimlab-Filter-Limits` header on /ServiceProviderConfig (docs/scim-server.md),
    /// so strict RFC clients never meet an unregistered extension.
    pub fn filter_limits_header(&self) -> String {
        format!(
            "maxLength={}; maxDepth={}; countAboveMaxResults=clamped",
            self.filter_max_length, self.filter_max_depth
        )
    }
}

pub fn service_provider_config(caps: &Capabilities, base: &str) -> Value {
    let mut schemes = vec![json!({
        "type": "oauthbearertoken",
        "name": "OAuth Bearer Token",
        "description": "Authentication with a static bearer token or a signed JWT in the Authorization header.",
        "specUri": "https://www.rfc-editor.org/info/rfc6750",
        "primary": true,
    })];
    if caps.jwt_enabled {
        schemes[0]["name"] = json!("OAuth Bearer Token (JWT)");
    }
    let mut doc = json!({
        "schemas": [urn::SERVICE_PROVIDER_CONFIG],
        "patch": {"supported": true},
        "bulk": {
            "supported": caps.bulk_supported,
            "maxOperations": if caps.bulk_supported { caps.bulk_max_operations } else { 0 },
            "maxPayloadSize": if caps.bulk_supported { caps.bulk_max_payload } else { 0 },
        },
        "filter": {"supported": true, "maxResults": caps.max_results},
        "changePassword": {"supported": true},
        "sort": {"supported": true},
        "etag": {"supported": caps.etag_supported},
        "authenticationSchemes": schemes,
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": format!("{base}/ServiceProviderConfig"),
        },
    });
    if let Some(uri) = &caps.documentation_uri {
        doc["documentationUri"] = json!(uri);
    }
    if caps.cursor_supported {
        doc["pagination"] = json!({
            "cursor": true,
            "index": true,
            "defaultPaginationMethod": "index",
            "defaultPageSize": caps.max_results,
            "maxPageSize": caps.max_results,
            // No cursorTimeout: cursors are keyset positions and never expire (RFC 9865
            // makes the attribute optional; advertising a timeout we do not enforce would lie).
        });
    }
    doc
}

pub fn resource_type_doc(rt: &ResourceType, base: &str) -> Value {
    json!({
        "schemas": [urn::RESOURCE_TYPE],
        "id": rt.kind.name(),
        "name": rt.kind.name(),
        "endpoint": format!("/{}", rt.kind.endpoint()),
        "description": rt.description,
        "schema": rt.core.id,
        "schemaExtensions": rt.extensions.iter().map(|e| json!({"schema": e.schema.id, "required": e.required})).collect::<Vec<_>>(),
        "meta": {"resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/{}", rt.kind.name())},
    })
}

pub fn schema_doc(schema: &Schema, base: &str) -> Value {
    let mut doc = serde_json::to_value(schema).unwrap_or(Value::Null);
    doc["schemas"] = json!([urn::SCHEMA]);
    doc["meta"] = json!({"resourceType": "Schema", "location": format!("{base}/Schemas/{}", schema.id)});
    doc
}

pub fn list_response(resources: Vec<Value>) -> Value {
    let n = resources.len();
    json!({
        "schemas": [urn::LIST_RESPONSE],
        "totalResults": n,
        "itemsPerPage": n,
        "startIndex": 1,
        "Resources": resources,
    })
}
