//! Graph's synchronization secrets (`PUT/GET /servicePrincipals/{id}/synchronization/secrets`,
//! docs/graph-api.md, "Secrets"): the settings Entra keeps outside the schema, as they map
//! onto a scimlab job.

use serde::Deserialize;
use serde_json::{json, Value};

use crate::provision::job::{JobSpec, ScopeMode};

/// One `{key, value}` pair of a secrets body.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Secret {
    pub key: String,
    pub value: Value,
}

/// A `PUT …/secrets` body.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretsBody {
    pub value: Vec<Secret>,
}

/// Keys of Graph's `synchronizationSecret` enum that scimlab has nothing to apply to (they
/// configure other connectors); accepted and reported, as Entra accepts them.
const NOT_APPLICABLE: &[&str] = &[
    "None",
    "UserName",
    "Password",
    "ClientIdentifier",
    "AppKey",
    "ApplicationTemplateIdentifier",
    "Url",
    "Server",
    "PerformInboundEntitlementGrants",
    "HardDeletesEnabled",
    "SyncNotificationSettings.Recipients",
    "Domain",
    "Oauth2ActivateUserUrl",
    "Oauth2ClientId",
    "Oauth2ClientSecret",
    "Oauth2RedirectUri",
    "Oauth2TokenExchangeUri",
    "Oauth2AuthorizationUri",
    "AuthenticationType",
    "ClientSecret",
    "CompanyId",
    "UpdateKeyOnSoftDelete",
    "SynchronizationSchedule",
    "SystemOfRecord",
    "SandboxName",
    "EnforceDomain",
    "SyncAnchorAttribute",
    "TestReferences",
    "ConnectionString",
    "Oauth2ClientCredentialsTokenEndpoint",
    "EnableEverythingAfterSoftDelete",
    "InstanceName",
    "AppReference",
    "ProvisioningSchemaId",
    "ClientID",
    "Tenant",
    "ServerUrl",
];

#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error("secret '{key}': {message}")]
    Invalid { key: String, message: String },
}

fn text(secret: &Secret) -> Result<String, SecretsError> {
    match &secret.value {
        Value::String(s) => Ok(s.clone()),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Number(n) => Ok(n.to_string()),
        other => Err(SecretsError::Invalid {
            key: secret.key.clone(),
            message: format!("the value must be a string, not {other}"),
        }),
    }
}

fn flag(secret: &Secret) -> Result<bool, SecretsError> {
    match text(secret)?.to_ascii_lowercase().as_str() {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        other => Err(SecretsError::Invalid {
            key: secret.key.clone(),
            message: format!("must be \"True\" or \"False\", not \"{other}\""),
        }),
    }
}

/// Applies the secrets to the job; keys left out keep their current values (Graph replaces
/// the whole set: send them all). Returns notes on keys scimlab accepts but does not use.
pub fn apply(spec: &mut JobSpec, secrets: &[Secret]) -> Result<Vec<String>, SecretsError> {
    let mut notes = Vec::new();
    for secret in secrets {
        match secret.key.as_str() {
            "BaseAddress" => {
                let url = text(secret)?;
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    return Err(SecretsError::Invalid { key: secret.key.clone(), message: format!("'{url}' is not an http(s) URL") });
                }
                spec.target.url = url;
            }
            "SecretToken" => spec.target.token = Some(text(secret)?),
            "SyncAll" => spec.scope = if flag(secret)? { ScopeMode::All } else { ScopeMode::Assigned },
            "SkipOutOfScopeDeletions" => spec.options.skip_out_of_scope_deletions = flag(secret)?,
            "SyncNotificationSettings" => apply_notifications(spec, secret)?,
            key if NOT_APPLICABLE.contains(&key) => notes.push(format!("{key}: accepted, not used by a scimlab job")),
            key => {
                return Err(SecretsError::Invalid {
                    key: key.to_string(),
                    message: "not a synchronizationSecret key scimlab knows; it applies BaseAddress, SecretToken, SyncAll, SkipOutOfScopeDeletions and SyncNotificationSettings".into(),
                })
            }
        }
    }
    Ok(notes)
}

/// `SyncNotificationSettings` is JSON text; its deletion threshold is the job's.
fn apply_notifications(spec: &mut JobSpec, secret: &Secret) -> Result<(), SecretsError> {
    let settings: Value = serde_json::from_str(&text(secret)?).map_err(|e| SecretsError::Invalid {
        key: secret.key.clone(),
        message: format!(
            "must be JSON text such as {{\"DeleteThresholdEnabled\":true,\"DeleteThresholdValue\":500}}: {e}"
        ),
    })?;
    let enabled = settings.get("DeleteThresholdEnabled").and_then(Value::as_bool).unwrap_or(true);
    let value = settings.get("DeleteThresholdValue").map(|v| v.as_u64().or_else(|| v.as_str()?.parse().ok()));
    match (enabled, value) {
        (false, _) => spec.options.deletion_threshold = 0,
        (true, Some(Some(n))) => spec.options.deletion_threshold = n as usize,
        (true, Some(None)) => {
            return Err(SecretsError::Invalid {
                key: secret.key.clone(),
                message: "DeleteThresholdValue must be a whole number".into(),
            })
        }
        (true, None) => {}
    }
    Ok(())
}

/// The job's secrets as Graph lists them; the token only when asked (`*` otherwise, as
/// Graph masks it).
pub fn export(spec: &JobSpec, include_token: bool) -> Value {
    let threshold = spec.options.deletion_threshold;
    let notifications = json!({
        "Enabled": spec.options.webhook_url.is_some(),
        "DeleteThresholdEnabled": threshold > 0,
        "DeleteThresholdValue": threshold,
    });
    let token = match (&spec.target.token, include_token) {
        (Some(token), true) => token.clone(),
        (Some(_), false) => "*".to_string(),
        (None, _) => String::new(),
    };
    let mut value = vec![json!({"key": "BaseAddress", "value": spec.target.url})];
    if !token.is_empty() {
        value.push(json!({"key": "SecretToken", "value": token}));
    }
    value.push(json!({"key": "SyncAll", "value": if spec.scope == ScopeMode::All { "true" } else { "false" }}));
    value.push(json!({"key": "SkipOutOfScopeDeletions", "value": if spec.options.skip_out_of_scope_deletions { "True" } else { "False" }}));
    value.push(json!({"key": "SyncNotificationSettings", "value": notifications.to_string()}));
    json!({"value": value})
}
