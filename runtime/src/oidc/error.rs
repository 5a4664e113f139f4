//! The errors of `warden::oidc`: configurations refused at start-up, and
//! the problems a sign-in answers with.

use std::fmt;

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};

use crate::http::Problem;

/// A provider or issuer configuration that cannot work.
///
/// Messages name the setting, never a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum OidcConfigError {
    /// A URL does not parse.
    InvalidUrl {
        /// Which setting.
        what: &'static str,
    },
    /// A URL is neither HTTPS nor plain HTTP to a loopback address.
    InsecureUrl {
        /// Which setting.
        what: &'static str,
        /// The URL, without query or credentials.
        url: String,
    },
    /// A required setting is empty.
    Missing(&'static str),
    /// The sign-in secret is shorter than 32 bytes.
    SecretTooShort {
        /// Its length.
        got_bytes: usize,
    },
    /// A provider name is not a single lower-case path segment
    /// (`[a-z0-9_-]`, 1 to 32 characters).
    InvalidProviderName(String),
    /// Two providers have one name.
    DuplicateProvider(String),
    /// No provider was configured.
    NoProvider,
    /// A timeout is zero or longer than a minute.
    InvalidTimeout,
    /// The HTTP client could not be built (no TLS roots, say).
    HttpClient,
}

impl fmt::Display for OidcConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidUrl { what } => write!(f, "the {what} is not a valid URL"),
            Self::InsecureUrl { what, url } => write!(
                f,
                "the {what} {url} must use HTTPS (plain HTTP is allowed on a loopback address only)"
            ),
            Self::Missing(what) => write!(f, "the {what} is empty"),
            Self::SecretTooShort { got_bytes } => write!(
                f,
                "the sign-in secret has {got_bytes} bytes; at least 32 are required"
            ),
            Self::InvalidProviderName(name) => write!(
                f,
                "the provider name {name:?} must be 1 to 32 characters of a-z, 0-9, '-' and '_'"
            ),
            Self::DuplicateProvider(name) => write!(f, "the provider {name:?} is configured twice"),
            Self::NoProvider => f.write_str("no provider is configured"),
            Self::InvalidTimeout => {
                f.write_str("provider timeouts must be positive and at most 60 seconds")
            }
            Self::HttpClient => f.write_str("the HTTP client for providers could not be built"),
        }
    }
}

impl std::error::Error for OidcConfigError {}

/// Why a sign-in failed. Each is a problem+json response with its own
/// `code`; none carries a code, token, verifier or provider message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignInError {
    /// No provider of that name is configured: 404 `unknown_provider`.
    UnknownProvider,
    /// The callback's `state` is missing, does not match the flow cookie,
    /// the cookie is missing, expired or forged, or the flow was already
    /// completed: 400 `invalid_state`.
    InvalidState,
    /// The callback carries neither a code nor an error, or names another
    /// issuer than the provider's (RFC 9207): 400 `invalid_request`.
    InvalidRequest,
    /// The provider answered the authorization request with an error
    /// (`?error=access_denied`, say): 401 `access_denied`.
    AccessDenied,
    /// The provider refused to exchange the code (used, expired, a wrong
    /// PKCE verifier, a wrong client secret): 401 `invalid_grant`.
    InvalidGrant,
    /// The ID token failed a check (signature, `alg`, `kid`, `iss`, `aud`,
    /// `azp`, `exp`, `iat`, `nonce`, or a missing claim): 401
    /// `invalid_id_token`.
    InvalidIdToken,
    /// The identity has no email, or the provider does not say it is
    /// verified: 401 `email_not_verified`. Returned by applications that
    /// need a verified email ([`Identity::verified_email`](super::Identity::verified_email)).
    EmailNotVerified,
    /// The provider could not be reached (or answered nonsense) within
    /// the configured timeouts: 503 `provider_unavailable`, with
    /// `Retry-After`.
    ProviderUnavailable,
    /// The store that records completed flows cannot answer: 503
    /// `store_unavailable`, with `Retry-After`.
    StoreUnavailable,
}

impl SignInError {
    /// The HTTP status.
    pub fn status(self) -> StatusCode {
        match self {
            Self::UnknownProvider => StatusCode::NOT_FOUND,
            Self::InvalidState | Self::InvalidRequest => StatusCode::BAD_REQUEST,
            Self::AccessDenied
            | Self::InvalidGrant
            | Self::InvalidIdToken
            | Self::EmailNotVerified => StatusCode::UNAUTHORIZED,
            Self::ProviderUnavailable | Self::StoreUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The machine-readable `code` of the problem.
    pub fn code(self) -> &'static str {
        match self {
            Self::UnknownProvider => "unknown_provider",
            Self::InvalidState => "invalid_state",
            Self::InvalidRequest => "invalid_request",
            Self::AccessDenied => "access_denied",
            Self::InvalidGrant => "invalid_grant",
            Self::InvalidIdToken => "invalid_id_token",
            Self::EmailNotVerified => "email_not_verified",
            Self::ProviderUnavailable => "provider_unavailable",
            Self::StoreUnavailable => "store_unavailable",
        }
    }

    fn detail(self) -> &'static str {
        match self {
            Self::UnknownProvider => "no sign-in provider of this name is configured",
            Self::InvalidState => {
                "this sign-in callback does not belong to a sign-in started by this browser, or it was already used; start the sign-in again"
            }
            Self::InvalidRequest => {
                "the sign-in callback carries neither a code nor an error, or names another provider"
            }
            Self::AccessDenied => "the provider did not authorize the sign-in",
            Self::InvalidGrant => {
                "the provider refused to exchange the authorization code; start the sign-in again"
            }
            Self::InvalidIdToken => "the provider's ID token failed verification",
            Self::EmailNotVerified => "the provider does not report a verified email address",
            Self::ProviderUnavailable => {
                "the sign-in provider cannot be reached at the moment; try again shortly"
            }
            Self::StoreUnavailable => {
                "the service cannot complete sign-ins right now; retry shortly"
            }
        }
    }

    /// The problem details of this error.
    pub fn to_problem(self) -> Problem {
        let problem = Problem::new(self.status(), self.code(), self.detail());
        match self {
            Self::ProviderUnavailable => {
                problem.with_header(header::RETRY_AFTER, HeaderValue::from_static("5"))
            }
            Self::StoreUnavailable => {
                problem.with_header(header::RETRY_AFTER, HeaderValue::from_static("1"))
            }
            _ => problem,
        }
    }
}

impl fmt::Display for SignInError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.detail())
    }
}

impl std::error::Error for SignInError {}

impl IntoResponse for SignInError {
    fn into_response(self) -> Response {
        self.to_problem().into_response()
    }
}
