//! Bearer authentication: static tokens and JWTs (HS256, RS256, ES256). Protocol-agnostic;
//! the http layer turns an [`AuthError`] into `401` with `WWW-Authenticate: Bearer`.

use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum AuthError {
    #[error("no bearer token: send 'Authorization: Bearer <token>'")]
    Missing,
    #[error("the Authorization header must be 'Bearer <token>'")]
    Malformed,
    #[error("the bearer token is not valid: {0}")]
    Invalid(String),
}

#[derive(Debug, Error)]
pub enum AuthConfigError {
    #[error("could not read the JWT public key {path}: {source}")]
    KeyFile { path: String, source: std::io::Error },
    #[error("the JWT public key in {path} is not a valid {algorithm:?} PEM key: {message}")]
    KeyFormat { path: String, algorithm: Algorithm, message: String },
    #[error("--jwt-algorithm '{0}' is not supported for --jwt-public-key: use RS256 or ES256 (HS256 tokens are verified with --jwt-secret)")]
    Algorithm(String),
}

/// Who made a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// `token:<n>` for static tokens, the JWT `sub` otherwise.
    pub subject: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// One audience or several (RFC 7519 §4.1.3 allows both).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<Audience>,
    pub exp: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nbf: Option<u64>,
    /// Optional in RFC 7519; not required here either.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<u64>,
}

/// The `aud` claim: a string or an array of strings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    One(String),
    Many(Vec<String>),
}

impl From<String> for Audience {
    fn from(aud: String) -> Self {
        Audience::One(aud)
    }
}

impl From<&str> for Audience {
    fn from(aud: &str) -> Self {
        Audience::One(aud.to_string())
    }
}

struct JwtVerifier {
    key: DecodingKey,
    validation: Validation,
}

/// Validates bearer tokens against the configured credentials.
pub struct Authenticator {
    tokens: Vec<SecretString>,
    jwt: Vec<JwtVerifier>,
    /// No credentials at all: every request is let through (explicit `--no-auth`).
    open: bool,
}

/// JWT settings: a shared secret (HS256) and/or a public key file (RS256/ES256).
#[derive(Debug, Clone, Default)]
pub struct JwtSettings {
    pub secret: Option<secrecy::SecretString>,
    pub public_key_path: Option<String>,
    pub algorithm: Option<String>,
    pub issuer: Option<String>,
    pub audience: Option<String>,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("tokens", &format!("<{} hidden>", self.tokens.len()))
            .field("jwt_verifiers", &self.jwt.len())
            .field("open", &self.open)
            .finish()
    }
}

impl Authenticator {
    pub fn open() -> Self {
        Authenticator { tokens: Vec::new(), jwt: Vec::new(), open: true }
    }

    pub fn new(tokens: Vec<SecretString>, jwt: &JwtSettings) -> Result<Self, AuthConfigError> {
        let mut verifiers = Vec::new();
        let validation = |alg: Algorithm| {
            let mut v = Validation::new(alg);
            v.validate_nbf = true;
            v.leeway = 30;
            // A configured audience or issuer is required, not only checked when present.
            let mut required = vec!["exp"];
            match &jwt.audience {
                Some(aud) => {
                    v.set_audience(&[aud]);
                    required.push("aud");
                }
                None => v.validate_aud = false,
            }
            if let Some(iss) = &jwt.issuer {
                v.set_issuer(&[iss]);
                required.push("iss");
            }
            v.set_required_spec_claims(&required);
            v
        };
        if let Some(secret) = &jwt.secret {
            verifiers.push(JwtVerifier {
                key: DecodingKey::from_secret(secret.expose_secret().as_bytes()),
                validation: validation(Algorithm::HS256),
            });
        }
        if let Some(path) = &jwt.public_key_path {
            let algorithm = match jwt.algorithm.as_deref().unwrap_or("RS256").to_ascii_uppercase().as_str() {
                "RS256" => Algorithm::RS256,
                "ES256" => Algorithm::ES256,
                other => return Err(AuthConfigError::Algorithm(other.to_string())),
            };
            let pem = std::fs::read(path).map_err(|source| AuthConfigError::KeyFile { path: path.clone(), source })?;
            let key = match algorithm {
                Algorithm::ES256 => DecodingKey::from_ec_pem(&pem),
                _ => DecodingKey::from_rsa_pem(&pem),
            }
            .map_err(|e| AuthConfigError::KeyFormat {
                path: path.clone(),
                algorithm,
                message: e.to_string(),
            })?;
            verifiers.push(JwtVerifier { key, validation: validation(algorithm) });
        }
        Ok(Authenticator { tokens, jwt: verifiers, open: false })
    }

    pub fn is_open(&self) -> bool {
        self.open
    }

    pub fn jwt_enabled(&self) -> bool {
        !self.jwt.is_empty()
    }

    /// Checks an `Authorization` header value.
    pub fn authenticate(&self, header: Option<&str>) -> Result<Principal, AuthError> {
        if self.open {
            return Ok(Principal { subject: "anonymous".into() });
        }
        let header = header.ok_or(AuthError::Missing)?;
        let (scheme, token) = header.trim().split_once(' ').ok_or(AuthError::Malformed)?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(AuthError::Malformed);
        }
        let token = token.trim();
        if token.is_empty() {
            return Err(AuthError::Missing);
        }
        // Every configured token is compared, in constant time each, so neither the
        // position of a match nor a token's length shows in the timing.
        let matched = self.tokens.iter().enumerate().fold(None, |found, (i, known)| {
            let equal = constant_time_eq(known.expose_secret().as_bytes(), token.as_bytes());
            if equal && found.is_none() {
                Some(i)
            } else {
                found
            }
        });
        if let Some(i) = matched {
            return Ok(Principal { subject: format!("token:{}", i + 1) });
        }
        let mut last_error = None;
        for verifier in &self.jwt {
            match decode::<Claims>(token, &verifier.key, &verifier.validation) {
                Ok(data) => return Ok(Principal { subject: data.claims.sub.unwrap_or_else(|| "jwt".into()) }),
                Err(e) => last_error = Some(explain_jwt_error(&e)),
            }
        }
        Err(AuthError::Invalid(last_error.unwrap_or_else(|| "it matches no configured token".into())))
    }
}

/// What is wrong with a JWT, in words a client developer can act on (jsonwebtoken's own
/// messages are its enum names, such as "InvalidAudience").
fn explain_jwt_error(e: &jsonwebtoken::errors::Error) -> String {
    use jsonwebtoken::errors::ErrorKind as K;
    match e.kind() {
        K::ExpiredSignature => "the JWT has expired (its 'exp' is in the past)".into(),
        K::ImmatureSignature => "the JWT is not valid yet (its 'nbf' is in the future)".into(),
        K::InvalidAudience => "the JWT's 'aud' is not the audience this server requires (--jwt-audience)".into(),
        K::InvalidIssuer => "the JWT's 'iss' is not the issuer this server requires (--jwt-issuer)".into(),
        K::InvalidSignature => "the JWT's signature does not verify with the configured key or secret".into(),
        K::InvalidAlgorithm => "the JWT is signed with an algorithm this server does not accept".into(),
        K::MissingRequiredClaim(claim) => format!("the JWT lacks the required '{claim}' claim"),
        K::Json(_) => {
            "the JWT's claims do not decode: 'exp' must be a number (seconds since 1970), 'aud' a string or a list"
                .into()
        }
        K::InvalidToken | K::Base64(_) | K::Utf8(_) => {
            "it is neither a configured token nor a well-formed JWT (header.payload.signature)".into()
        }
        _ => format!("the JWT is not accepted ({e})"),
    }
}

/// Equality whose time depends on neither where the inputs differ nor the length of the
/// secret `a`: both are hashed first, and the digests compared byte by byte.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use sha2::{Digest, Sha256};
    let (x, y) = (Sha256::digest(a), Sha256::digest(b));
    x.iter().zip(y.iter()).fold(0u8, |acc, (p, q)| acc | (p ^ q)) == 0
}

/// Mints an HS256 test JWT (`scimlab token`). `now` is a parameter so tests can fix it.
pub fn mint_token(secret: &str, claims: &Claims) -> Result<String, jsonwebtoken::errors::Error> {
    encode(&Header::new(Algorithm::HS256), claims, &EncodingKey::from_secret(secret.as_bytes()))
}

impl Claims {
    pub fn new(now_unix: u64, ttl_secs: u64) -> Self {
        Claims { sub: None, iss: None, aud: None, exp: now_unix + ttl_secs, nbf: Some(now_unix), iat: Some(now_unix) }
    }
}
