//! What can go wrong talking to a SCIM endpoint, classified so that messages name the real
//! cause (a TLS trust problem is never reported as "nothing answered").

use std::time::Duration;

use thiserror::Error;

/// Why a TLS handshake failed, in the terms a user can act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsProblem {
    /// The chain does not lead to a trusted root (self-signed or a private CA).
    UnknownIssuer,
    /// The certificate is not valid for the host name or IP address in the URL.
    NameMismatch,
    /// The certificate has expired (or is not valid yet).
    Expired,
    /// Anything else in the handshake (protocol versions, a plain-HTTP server on an https URL, …).
    Handshake,
}

impl TlsProblem {
    /// What to do about it.
    pub fn hint(self) -> &'static str {
        match self {
            TlsProblem::UnknownIssuer => {
                "the server's certificate is signed by a CA this machine does not trust: pass the CA's PEM file \
                 (--ca-cert, target.caCert or SSL_CERT_FILE), or insecureSkipVerify / --insecure for a development server"
            }
            TlsProblem::NameMismatch => {
                "the server's certificate does not name the host in the URL: use the name the certificate was issued for"
            }
            TlsProblem::Expired => "the server's certificate has expired or is not valid yet: renew it",
            TlsProblem::Handshake => "the TLS handshake failed: check that the server speaks HTTPS (TLS 1.2 or 1.3) on that port",
        }
    }
}

impl std::fmt::Display for TlsProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TlsProblem::UnknownIssuer => "certificate signed by an unknown issuer",
            TlsProblem::NameMismatch => "certificate name mismatch",
            TlsProblem::Expired => "certificate expired",
            TlsProblem::Handshake => "TLS handshake failed",
        })
    }
}

#[derive(Debug, Clone, Error, PartialEq)]
pub enum ClientError {
    /// The client itself could not be set up (a CA file that does not parse, …).
    #[error("{0}")]
    Setup(String),
    #[error("cannot connect to {url}: {message}")]
    Connect { url: String, message: String },
    #[error("{url}: {problem} ({message}); {}", problem.hint())]
    Tls { url: String, problem: TlsProblem, message: String },
    #[error("{method} {url} timed out")]
    Timeout { method: String, url: String },
    #[error("{method} {url} answered {status}{}: {detail}", scim_type.as_ref().map(|t| format!(" ({t})")).unwrap_or_default())]
    Http {
        method: String,
        url: String,
        status: u16,
        scim_type: Option<String>,
        detail: String,
        /// `Retry-After` of a 429 or 503.
        retry_after: Option<Duration>,
    },
    #[error("{method} {url}: the response is not SCIM: {message}")]
    NotScim { method: String, url: String, message: String },
    #[error("authentication: {0}")]
    Auth(String),
}

impl ClientError {
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Http { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Entra's error code for a provisioning log (docs/entra-behaviour.md, "Provisioning logs").
    pub fn error_code(&self) -> &'static str {
        match self {
            ClientError::Connect { .. } | ClientError::Setup(_) => "WebExceptionProtocolError",
            ClientError::Tls { .. } => "SslConnectionError",
            ClientError::Timeout { .. } => "Timeout",
            ClientError::NotScim { .. } => "SystemForCrossDomainIdentityManagementServiceIncompatible",
            ClientError::Auth(_) => "Unauthorized",
            ClientError::Http { status, .. } => match status {
                400 => "SystemForCrossDomainIdentityManagementBadRequest",
                401 => "Unauthorized",
                403 => "InsufficientRights",
                404 => "InvalidAnchor",
                405 => "MethodNotAllowed",
                409 => "EntryConflict",
                412 => "PreconditionFailed",
                422 => "UnprocessableEntity",
                429 => "TooManyRequests",
                501 => "NotImplemented",
                _ => "InternalServerError",
            },
        }
    }

    /// Transient failures worth retrying (429, 5xx, timeouts, connection errors). A TLS
    /// failure is not: the same certificate will be presented again.
    pub fn is_transient(&self) -> bool {
        match self {
            ClientError::Connect { .. } | ClientError::Timeout { .. } => true,
            ClientError::Http { status, .. } => *status == 429 || *status >= 500,
            _ => false,
        }
    }

    /// Classifies a transport failure of `reqwest`: timeout, TLS problem or connection error.
    pub(crate) fn from_transport(method: &str, url: &str, error: &reqwest::Error) -> ClientError {
        if error.is_timeout() {
            return ClientError::Timeout { method: method.to_string(), url: url.to_string() };
        }
        let message = root_cause(error);
        match tls_problem(error) {
            Some(problem) => ClientError::Tls { url: url.to_string(), problem, message },
            None => ClientError::Connect { url: url.to_string(), message },
        }
    }
}

/// Finds a rustls error in the cause chain (I/O errors wrap it, and `io::Error::source`
/// skips the wrapped error, so both are looked into).
fn tls_problem(error: &(dyn std::error::Error + 'static)) -> Option<TlsProblem> {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = current {
        let rustls_error = e.downcast_ref::<rustls::Error>().or_else(|| {
            e.downcast_ref::<std::io::Error>()
                .and_then(|io| io.get_ref())
                .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        });
        if let Some(r) = rustls_error {
            return Some(classify(r));
        }
        if let Some(problem) = classify_message(&e.to_string()) {
            return Some(problem);
        }
        current = e.source();
    }
    None
}

/// rustls's own wording, for when the typed error is boxed away by a layer in between.
fn classify_message(message: &str) -> Option<TlsProblem> {
    let m = message.to_ascii_lowercase();
    if !m.contains("invalid peer certificate") && !m.contains("tls") && !m.contains("handshake") {
        return None;
    }
    Some(if m.contains("unknownissuer") || m.contains("unknown issuer") || m.contains("badsignature") {
        TlsProblem::UnknownIssuer
    } else if m.contains("not valid for name") || m.contains("notvalidforname") {
        TlsProblem::NameMismatch
    } else if m.contains("expired") || m.contains("not valid yet") || m.contains("notvalidyet") {
        TlsProblem::Expired
    } else {
        TlsProblem::Handshake
    })
}

fn classify(error: &rustls::Error) -> TlsProblem {
    use rustls::CertificateError as C;
    match error {
        rustls::Error::InvalidCertificate(cert) => match cert {
            C::UnknownIssuer | C::BadSignature | C::UnknownRevocationStatus => TlsProblem::UnknownIssuer,
            C::NotValidForName | C::NotValidForNameContext { .. } => TlsProblem::NameMismatch,
            C::Expired | C::ExpiredContext { .. } | C::NotValidYet | C::NotValidYetContext { .. } => {
                TlsProblem::Expired
            }
            _ => TlsProblem::Handshake,
        },
        _ => TlsProblem::Handshake,
    }
}

/// The innermost cause's message: reqwest's own ("error sending request") says nothing.
pub(crate) fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        cause = s.to_string();
        source = s.source();
    }
    cause
}
