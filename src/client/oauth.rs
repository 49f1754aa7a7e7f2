//! OAuth 2.0 client credentials (RFC 6749 §4.4): how the engine gets a bearer token from
//! an authorization server when the target is not configured with a static secret.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::transport::{Body, Request, Transport};
use super::ClientError;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OAuthClient {
    pub token_url: String,
    pub client_id: String,
    pub client_secret: String,
    #[serde(default)]
    pub scope: Option<String>,
}

/// What a token endpoint granted.
#[derive(Debug, Clone, PartialEq)]
pub struct AccessToken {
    pub token: String,
    /// `expires_in`, in seconds, when the endpoint says.
    pub expires_in: Option<u64>,
}

impl OAuthClient {
    /// Fetches an access token with the client-credentials grant.
    pub async fn fetch_token(&self, transport: &Transport) -> Result<String, ClientError> {
        Ok(self.fetch(transport).await?.token)
    }

    /// Fetches an access token with the client-credentials grant, with its lifetime.
    pub async fn fetch(&self, transport: &Transport) -> Result<AccessToken, ClientError> {
        let mut form = vec![
            ("grant_type", "client_credentials"),
            ("client_id", self.client_id.as_str()),
            ("client_secret", self.client_secret.as_str()),
        ];
        if let Some(scope) = &self.scope {
            form.push(("scope", scope.as_str()));
        }
        let body = serde_urlencoded::to_string(&form)
            .map_err(|e| ClientError::Auth(format!("cannot encode the token request: {e}")))?;
        let request = Request { body: Some(Body::Form(&body)), ..Request::new("POST", &self.token_url) };
        let res = transport.send(request).await.map_err(|e| match e {
            // A TLS problem keeps its own explanation.
            tls @ ClientError::Tls { .. } => tls,
            other => ClientError::Auth(format!("token request to {} failed: {other}", self.token_url)),
        })?;
        if let Some(reason) = &res.not_json {
            return Err(ClientError::Auth(format!(
                "the token endpoint {} answered {} with a body that is not JSON ({reason})",
                self.token_url, res.status
            )));
        }
        match res.body.get("access_token").and_then(Value::as_str) {
            Some(token) if res.is_success() => Ok(AccessToken {
                token: token.to_string(),
                expires_in: res.body.get("expires_in").and_then(|v| v.as_u64().or_else(|| v.as_str()?.parse().ok())),
            }),
            _ => {
                let why = res.body.get("error_description").or_else(|| res.body.get("error")).and_then(Value::as_str);
                Err(ClientError::Auth(format!(
                    "the token endpoint {} answered {} without an access_token{}",
                    self.token_url,
                    res.status,
                    why.map(|w| format!(": {w}")).unwrap_or_default()
                )))
            }
        }
    }
}
