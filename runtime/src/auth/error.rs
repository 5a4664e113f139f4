use std::fmt;

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};

use crate::http::Problem;

/// A key that cannot be used. Never carries key material.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyError {
    /// An HMAC secret shorter than its hash output.
    TooShort {
        /// The algorithm the secret was meant for.
        algorithm: &'static str,
        /// The shortest secret accepted.
        min_bytes: usize,
        /// The length of the secret given.
        got_bytes: usize,
    },
    /// An RSA key with a modulus under [`MIN_RSA_BITS`](super::MIN_RSA_BITS).
    RsaTooSmall {
        /// The smallest modulus accepted.
        min_bits: usize,
        /// The modulus of the key given.
        got_bits: usize,
    },
    /// The PEM or secret could not be read as a key for this algorithm.
    Invalid {
        /// The algorithm the key was meant for.
        algorithm: &'static str,
    },
    /// A private key was given for a key that has none (HMAC).
    NotAsymmetric {
        /// The algorithm of the key.
        algorithm: &'static str,
    },
    /// The private key does not belong to the public key.
    Mismatch {
        /// The algorithm of the key.
        algorithm: &'static str,
    },
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooShort {
                algorithm,
                min_bytes,
                got_bytes,
            } => write!(
                f,
                "{algorithm} secret is {got_bytes} bytes long; at least {min_bytes} random bytes are required"
            ),
            Self::RsaTooSmall { min_bits, got_bits } => {
                write!(
                    f,
                    "RSA key has {got_bits} bits; at least {min_bits} are required"
                )
            }
            Self::Invalid { algorithm } => write!(f, "not a valid {algorithm} key"),
            Self::NotAsymmetric { algorithm } => {
                write!(f, "{algorithm} keys are symmetric and take no private key")
            }
            Self::Mismatch { algorithm } => {
                write!(
                    f,
                    "the {algorithm} private key does not match the public key"
                )
            }
        }
    }
}

impl std::error::Error for KeyError {}

/// A JWT configuration that [`WardenBuilder::build`](crate::WardenBuilder::build) refuses.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum JwtConfigError {
    /// No issuer was configured; `iss` is a required claim.
    MissingIssuer,
    /// No audience was configured; `aud` is a required claim.
    MissingAudience,
    /// Two keys share one `kid`.
    DuplicateKid(String),
    /// More than one key has no `kid`, so a token without `kid` would be
    /// ambiguous.
    SeveralKeysWithoutKid,
    /// The leeway is over the allowed maximum.
    LeewayTooLarge {
        /// The leeway asked for, in seconds.
        seconds: u64,
        /// The largest leeway allowed, in seconds.
        max_seconds: u64,
    },
    /// The access-token lifetime is zero.
    ZeroLifetime,
    /// The token size bound is too small to hold a token.
    MaxTokenBytesTooSmall(usize),
    /// Two trusted issuers (or a trusted issuer and the own one) share
    /// one `iss`, so a token could not name whose keys check it.
    DuplicateIssuer(String),
    /// A trusted external issuer's configuration is unusable: the
    /// message says why.
    ExternalIssuer(String),
}

impl fmt::Display for JwtConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MissingIssuer => {
                f.write_str("the JWT configuration has no issuer: call .issuer(..)")
            }
            Self::MissingAudience => {
                f.write_str("the JWT configuration has no audience: call .audience(..)")
            }
            Self::DuplicateKid(kid) => write!(f, "two keys share the kid {kid:?}"),
            Self::SeveralKeysWithoutKid => f.write_str(
                "more than one key has no kid; give every key but one a kid with .with_kid(..)",
            ),
            Self::LeewayTooLarge {
                seconds,
                max_seconds,
            } => write!(
                f,
                "a leeway of {seconds} s is over the maximum of {max_seconds} s"
            ),
            Self::ZeroLifetime => f.write_str("the access-token lifetime must be positive"),
            Self::MaxTokenBytesTooSmall(n) => {
                write!(
                    f,
                    "a token size bound of {n} bytes is too small (minimum 256)"
                )
            }
            Self::DuplicateIssuer(issuer) => write!(
                f,
                "the issuer {issuer:?} is trusted twice; each issuer may be configured once"
            ),
            Self::ExternalIssuer(reason) => write!(f, "a trusted issuer is unusable: {reason}"),
        }
    }
}

impl std::error::Error for JwtConfigError {}

/// Why an access token could not be issued.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum IssueError {
    /// The signing key has no private part (a verify-only public key).
    NoSigningKey,
    /// A custom claim tried to set a claim warden sets itself.
    ReservedClaim(String),
    /// The subject is empty.
    EmptySubject,
    /// The claims could not be serialised as a JSON object.
    InvalidClaims,
    /// The signature could not be computed.
    Signing,
    /// The operating system's random generator failed.
    Randomness,
}

impl fmt::Display for IssueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoSigningKey => f.write_str("the signing key has no private key"),
            Self::ReservedClaim(name) => write!(
                f,
                "the claim {name:?} is set by warden and cannot be given as a custom claim"
            ),
            Self::EmptySubject => f.write_str("the subject of a token cannot be empty"),
            Self::InvalidClaims => f.write_str("custom claims must serialise to JSON values"),
            Self::Signing => f.write_str("the token could not be signed"),
            Self::Randomness => f.write_str("the system random generator failed"),
        }
    }
}

impl std::error::Error for IssueError {}

/// Why a presented access token was refused.
///
/// The variants are precise for logs and audit events; what a client sees is
/// deliberately coarser (see [`TokenError::client_detail`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenError {
    /// Longer than the configured bound; refused before any decoding.
    TooLarge,
    /// Not three base64url segments with a JSON header.
    Malformed,
    /// The header's `typ` is not an access token's.
    WrongType,
    /// The header names a `kid` no configured key has, or names none where
    /// every key has one.
    UnknownKey,
    /// The header's `alg` is not the algorithm of the selected key.
    WrongAlgorithm,
    /// The signature does not verify.
    BadSignature,
    /// `exp` is in the past (beyond the leeway).
    Expired,
    /// `nbf` is in the future (beyond the leeway).
    NotYetValid,
    /// `iss` is not the configured issuer.
    WrongIssuer,
    /// `aud` does not contain the configured audience.
    WrongAudience,
    /// A required claim (`exp`, `iss`, `aud`, `sub`) is missing.
    MissingClaim,
    /// A claim has the wrong JSON type.
    InvalidClaim,
    /// The token's issuer is trusted, but its keys could not be fetched.
    IssuerUnreachable,
}

impl TokenError {
    /// A short machine-readable reason, used in audit events.
    pub fn reason(self) -> &'static str {
        match self {
            Self::TooLarge => "token_too_large",
            Self::Malformed => "malformed_token",
            Self::WrongType => "wrong_token_type",
            Self::UnknownKey => "unknown_key",
            Self::WrongAlgorithm => "wrong_algorithm",
            Self::BadSignature => "bad_signature",
            Self::Expired => "expired",
            Self::NotYetValid => "not_yet_valid",
            Self::WrongIssuer => "wrong_issuer",
            Self::WrongAudience => "wrong_audience",
            Self::MissingClaim => "missing_claim",
            Self::InvalidClaim => "invalid_claim",
            Self::IssuerUnreachable => "issuer_unreachable",
        }
    }

    /// What the client is told. Only expiry is distinguished, so a client
    /// knows to refresh; every other failure reads the same.
    pub fn client_detail(self) -> &'static str {
        match self {
            Self::Expired => "the access token has expired",
            _ => "the access token is invalid",
        }
    }
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.reason())
    }
}

impl std::error::Error for TokenError {}

/// The rejection of the authentication guard and of [`Auth`](super::Auth):
/// an RFC 9457 problem with the RFC 6750 `WWW-Authenticate` challenge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthRejection {
    /// No bearer token was sent: 401 with a bare `Bearer` challenge.
    MissingToken,
    /// A malformed request (RFC 6750 section 3.1): two `Authorization`
    /// headers, or the `Bearer` scheme with no token. 400 with
    /// `error="invalid_request"`.
    InvalidRequest,
    /// The token was refused: 401 with `error="invalid_token"`.
    InvalidToken(TokenError),
    /// The token is valid but its roles or scopes do not satisfy the policy:
    /// 403 with `error="insufficient_scope"`.
    InsufficientScope,
    /// The handler's `check` function denied access: 403.
    Denied,
    /// The handler's `check` function asked to hide the resource: 404.
    NotFound,
    /// The token names a trusted external issuer whose keys cannot be
    /// fetched now: 503 `issuer_unavailable` with `Retry-After`, since
    /// the token may well be valid.
    IssuerUnavailable,
}

impl AuthRejection {
    /// The HTTP status of the rejection.
    pub fn status(self) -> StatusCode {
        match self {
            Self::MissingToken | Self::InvalidToken(_) => StatusCode::UNAUTHORIZED,
            Self::InvalidRequest => StatusCode::BAD_REQUEST,
            Self::InsufficientScope | Self::Denied => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::IssuerUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// A short machine-readable reason, used in audit events.
    pub fn reason(self) -> &'static str {
        match self {
            Self::MissingToken => "missing_token",
            Self::InvalidRequest => "invalid_request",
            Self::InvalidToken(error) => error.reason(),
            Self::InsufficientScope => "insufficient_scope",
            Self::Denied => "check_denied",
            Self::NotFound => "check_hidden",
            Self::IssuerUnavailable => "issuer_unavailable",
        }
    }

    /// The problem details this rejection answers with.
    pub fn to_problem(self) -> Problem {
        let challenge =
            |value: &'static str| (header::WWW_AUTHENTICATE, HeaderValue::from_static(value));
        let (problem, (name, value)) = match self {
            Self::MissingToken => (
                Problem::new(
                    StatusCode::UNAUTHORIZED,
                    "missing_token",
                    "this resource requires a bearer access token in the Authorization header",
                ),
                challenge("Bearer"),
            ),
            Self::InvalidRequest => (
                Problem::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "send one Authorization header with one bearer token: Authorization: Bearer <token>",
                ),
                challenge(r#"Bearer error="invalid_request""#),
            ),
            Self::InvalidToken(error) if error == TokenError::Expired => (
                Problem::new(
                    StatusCode::UNAUTHORIZED,
                    "invalid_token",
                    error.client_detail(),
                ),
                challenge(
                    r#"Bearer error="invalid_token", error_description="the access token expired""#,
                ),
            ),
            Self::InvalidToken(error) => (
                Problem::new(
                    StatusCode::UNAUTHORIZED,
                    "invalid_token",
                    error.client_detail(),
                ),
                challenge(r#"Bearer error="invalid_token""#),
            ),
            Self::InsufficientScope => (
                Problem::new(
                    StatusCode::FORBIDDEN,
                    "insufficient_scope",
                    "the access token does not grant the role or scope this resource requires",
                ),
                challenge(r#"Bearer error="insufficient_scope""#),
            ),
            Self::Denied => (
                Problem::new(
                    StatusCode::FORBIDDEN,
                    "forbidden",
                    "the access token does not grant access to this resource",
                ),
                challenge(r#"Bearer error="insufficient_scope""#),
            ),
            Self::NotFound => {
                return Problem::new(StatusCode::NOT_FOUND, "not_found", "no such resource");
            }
            Self::IssuerUnavailable => (
                Problem::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "issuer_unavailable",
                    "the keys of this token's issuer cannot be fetched at the moment; try again shortly",
                ),
                (header::RETRY_AFTER, HeaderValue::from_static("5")),
            ),
        };
        problem.with_header(name, value)
    }
}

impl fmt::Display for AuthRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.reason())
    }
}

impl std::error::Error for AuthRejection {}

impl IntoResponse for AuthRejection {
    fn into_response(self) -> Response {
        self.to_problem().into_response()
    }
}

#[cfg(test)]
mod tests {
    use axum::response::IntoResponse;
    use serde_json::{Value, json};

    use super::*;

    async fn answer(rejection: AuthRejection) -> (u16, Option<String>, String, Value) {
        let response = rejection.into_response();
        let status = response.status().as_u16();
        let challenge = response
            .headers()
            .get(header::WWW_AUTHENTICATE)
            .map(|v| v.to_str().unwrap().to_owned());
        let content_type = response.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .to_owned();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        (
            status,
            challenge,
            content_type,
            serde_json::from_slice(&bytes).unwrap(),
        )
    }

    #[tokio::test]
    async fn every_rejection_has_its_exact_body_and_challenge() {
        let cases = [
            (
                AuthRejection::MissingToken,
                401,
                Some("Bearer"),
                json!({"type": "about:blank", "title": "Unauthorized", "status": 401, "code": "missing_token",
                       "detail": "this resource requires a bearer access token in the Authorization header"}),
            ),
            (
                AuthRejection::InvalidToken(TokenError::BadSignature),
                401,
                Some(r#"Bearer error="invalid_token""#),
                json!({"type": "about:blank", "title": "Unauthorized", "status": 401, "code": "invalid_token",
                       "detail": "the access token is invalid"}),
            ),
            (
                AuthRejection::InvalidToken(TokenError::Expired),
                401,
                Some(
                    r#"Bearer error="invalid_token", error_description="the access token expired""#,
                ),
                json!({"type": "about:blank", "title": "Unauthorized", "status": 401, "code": "invalid_token",
                       "detail": "the access token has expired"}),
            ),
            (
                AuthRejection::InsufficientScope,
                403,
                Some(r#"Bearer error="insufficient_scope""#),
                json!({"type": "about:blank", "title": "Forbidden", "status": 403, "code": "insufficient_scope",
                       "detail": "the access token does not grant the role or scope this resource requires"}),
            ),
            (
                AuthRejection::Denied,
                403,
                Some(r#"Bearer error="insufficient_scope""#),
                json!({"type": "about:blank", "title": "Forbidden", "status": 403, "code": "forbidden",
                       "detail": "the access token does not grant access to this resource"}),
            ),
            (
                AuthRejection::NotFound,
                404,
                None,
                json!({"type": "about:blank", "title": "Not Found", "status": 404, "code": "not_found",
                       "detail": "no such resource"}),
            ),
        ];
        for (rejection, status, challenge, body) in cases {
            let got = answer(rejection).await;
            assert_eq!(got.0, status, "{rejection:?}");
            assert_eq!(got.1.as_deref(), challenge, "{rejection:?}");
            assert_eq!(got.2, "application/problem+json", "{rejection:?}");
            assert_eq!(got.3, body, "{rejection:?}");
        }
    }

    #[test]
    fn every_token_error_but_expiry_reads_the_same_to_clients() {
        use TokenError::*;
        for error in [
            TooLarge,
            Malformed,
            WrongType,
            UnknownKey,
            WrongAlgorithm,
            BadSignature,
            NotYetValid,
            WrongIssuer,
            WrongAudience,
            MissingClaim,
            InvalidClaim,
        ] {
            assert_eq!(error.client_detail(), "the access token is invalid");
            assert_eq!(
                AuthRejection::InvalidToken(error).reason(),
                error.reason(),
                "the audit keeps the precise reason"
            );
        }
        assert_eq!(Expired.client_detail(), "the access token has expired");
    }
}
