//! The one SCIM HTTP client. Everything that talks HTTP to another process goes through
//! here: the provisioning engine (targets, SCIM sources, OAuth, webhooks), the validator,
//! the demo and the benchmarks. It owns TLS trust, timeouts, retries with backoff and
//! `Retry-After`, OAuth client credentials, the SCIM media type and the exchange log.
//!
//! Depends on `scim` and `filter` (pure wire types) only; see docs/architecture.md.

mod error;
mod exchange;
mod gate;
mod oauth;
mod retry;
mod scim;
mod tls;
mod transport;

pub use error::{ClientError, TlsProblem};
pub use exchange::{Exchange, ExchangeLog, Tracing, EXCHANGE_LOG_CAPACITY};
pub use gate::PauseGate;
pub use oauth::{AccessToken, OAuthClient};
pub use retry::{parse_retry_after, RetryPolicy};
pub use scim::{split_tenant_url, Credentials, Endpoint, ScimClient};
pub use tls::{TlsOptions, SSL_CERT_FILE};
pub use transport::{Body, HttpOptions, Request, Response, Transport, SCIM_MEDIA_TYPE};
