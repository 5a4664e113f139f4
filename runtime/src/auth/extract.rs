use std::any::Any;
use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::request::Parts;
use http::{HeaderValue, header};
use serde::de::DeserializeOwned;

use super::claims::Claims;
use super::error::{AuthRejection, TokenError};
use crate::Warden;
use crate::audit;

/// The verified claims of the request's access token.
///
/// In a `#[protected]` handler the guard has verified the token before any
/// extractor of the handler runs, and `Auth` reads the claims it left in the
/// request extensions: the token is verified once. Used in a handler without
/// `#[protected]`, `Auth` verifies the token itself (and answers 401 when
/// there is none).
///
/// `C` is [`Claims`] by default; any `serde` type reads the token's payload
/// instead, for custom claims.
///
/// ```
/// use serde::Deserialize;
/// use warden::{Auth, protected};
///
/// #[derive(Deserialize)]
/// struct TenantClaims { sub: String, tenant: String }
///
/// #[protected]
/// async fn whoami(user: Auth) -> String {
///     user.sub.clone()
/// }
///
/// #[protected]
/// async fn tenant(user: Auth<TenantClaims>) -> String {
///     format!("{} of {}", user.sub, user.tenant)
/// }
/// ```
pub struct Auth<C = Claims> {
    claims: Arc<C>,
}

impl<C> Auth<C> {
    /// The claims, shared.
    pub fn into_arc(self) -> Arc<C> {
        self.claims
    }
}

impl<C> Deref for Auth<C> {
    type Target = C;
    fn deref(&self) -> &C {
        &self.claims
    }
}

impl<C> Clone for Auth<C> {
    fn clone(&self) -> Self {
        Self {
            claims: Arc::clone(&self.claims),
        }
    }
}

impl<C: fmt::Debug> fmt::Debug for Auth<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Auth").field(&self.claims).finish()
    }
}

/// What the guard leaves in the request extensions: the verified claims and
/// the header they came from (for custom claim types).
#[derive(Clone)]
pub(crate) struct Verified {
    pub(crate) claims: Arc<Claims>,
    authorization: HeaderValue,
}

impl fmt::Debug for Verified {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verified")
            .field("claims", &self.claims)
            .field("authorization", &"[redacted]")
            .finish()
    }
}

impl<S, C> FromRequestParts<S> for Auth<C>
where
    S: Send + Sync,
    Warden: FromRef<S>,
    C: DeserializeOwned + Send + Sync + 'static,
{
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let verified = match parts.extensions.get::<Verified>() {
            Some(verified) => verified.clone(),
            None => {
                let warden = Warden::from_ref(state);
                match authenticate(&warden, parts) {
                    Ok(verified) => {
                        parts.extensions.insert(verified.clone());
                        verified
                    }
                    Err(rejection) => {
                        let client = warden.client_ip(parts);
                        audit::auth_rejected("warden::Auth", parts, client, rejection);
                        return Err(rejection);
                    }
                }
            }
        };
        let shared: Arc<dyn Any + Send + Sync> = verified.claims;
        match shared.downcast::<C>() {
            Ok(claims) => Ok(Self { claims }),
            Err(_) => custom_claims(&verified.authorization)
                .map(|claims| Self {
                    claims: Arc::new(claims),
                })
                .ok_or(AuthRejection::InvalidToken(TokenError::InvalidClaim)),
        }
    }
}

/// Reads a custom claims type from the payload of a token already verified.
fn custom_claims<C: DeserializeOwned>(authorization: &HeaderValue) -> Option<C> {
    let token = bearer_token(authorization).ok()?;
    let payload = token.split('.').nth(1)?;
    let json = URL_SAFE_NO_PAD.decode(payload).ok()?;
    serde_json::from_slice(&json).ok()
}

/// Finds the bearer token of a request and verifies it.
pub(crate) fn authenticate(warden: &Warden, parts: &Parts) -> Result<Verified, AuthRejection> {
    let mut values = parts.headers.get_all(header::AUTHORIZATION).iter();
    let authorization = match (values.next(), values.next()) {
        (None, _) => return Err(AuthRejection::MissingToken),
        (Some(value), None) => value,
        (Some(_), Some(_)) => return Err(AuthRejection::InvalidToken(TokenError::Malformed)),
    };
    let token = bearer_token(authorization)?;
    let claims = warden
        .verify_access_token(token)
        .map_err(AuthRejection::InvalidToken)?;
    Ok(Verified {
        claims: Arc::new(claims),
        authorization: authorization.clone(),
    })
}

/// The token of an `Authorization: Bearer <token>` header. The scheme is
/// case-insensitive (RFC 9110 section 11.1); another scheme counts as no
/// bearer token at all (RFC 6750 section 3.1).
fn bearer_token(value: &HeaderValue) -> Result<&str, AuthRejection> {
    let value = value
        .to_str()
        .map_err(|_| AuthRejection::InvalidToken(TokenError::Malformed))?;
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(AuthRejection::MissingToken);
    }
    let token = rest.trim_matches(' ');
    // RFC 6750 b64token: ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/", then "="s.
    let b64token = |b: &u8| {
        b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/' | b'=')
    };
    if token.is_empty() || !token.as_bytes().iter().all(b64token) {
        return Err(AuthRejection::InvalidToken(TokenError::Malformed));
    }
    Ok(token)
}

/// The answer of an object-level `check = ...` function.
///
/// A check returns `Access` or a `bool` (`true` allows).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Let the request through.
    Allow,
    /// 403 Forbidden.
    Deny,
    /// 404 Not Found: deny without revealing that the resource exists.
    NotFound,
}

impl From<bool> for Access {
    fn from(allowed: bool) -> Self {
        if allowed { Self::Allow } else { Self::Deny }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token_of(value: &'static str) -> Result<&'static str, AuthRejection> {
        let value: &'static HeaderValue = Box::leak(Box::new(HeaderValue::from_static(value)));
        bearer_token(value)
    }

    #[test]
    fn bearer_scheme_is_case_insensitive() {
        assert_eq!(token_of("Bearer abc.def.ghi"), Ok("abc.def.ghi"));
        assert_eq!(token_of("bearer abc.def.ghi"), Ok("abc.def.ghi"));
        assert_eq!(token_of("BEARER   abc.def.ghi "), Ok("abc.def.ghi"));
    }

    #[test]
    fn other_schemes_count_as_no_token() {
        assert_eq!(
            token_of("Basic dXNlcjpwYXNz"),
            Err(AuthRejection::MissingToken)
        );
        assert_eq!(token_of("Bearerabc"), Err(AuthRejection::MissingToken));
        assert_eq!(token_of(""), Err(AuthRejection::MissingToken));
    }

    #[test]
    fn empty_or_non_b64token_is_malformed() {
        let malformed = Err(AuthRejection::InvalidToken(TokenError::Malformed));
        assert_eq!(token_of("Bearer"), malformed);
        assert_eq!(token_of("Bearer "), malformed);
        assert_eq!(token_of("Bearer a b"), malformed);
        assert_eq!(token_of("Bearer a\"b"), malformed);
    }

    #[test]
    fn booleans_convert_to_access() {
        assert_eq!(Access::from(true), Access::Allow);
        assert_eq!(Access::from(false), Access::Deny);
    }
}
