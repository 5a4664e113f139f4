use std::any::Any;
use std::fmt;
use std::future::Future;
use std::ops::Deref;
use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts};
use http::request::Parts;
use http::{HeaderValue, header};
use serde::de::DeserializeOwned;

use super::claims::Claims;
use super::error::{AuthRejection, TokenError};
use crate::audit;
use crate::{StoreFuture, Warden};

/// The verified claims of the request's access token.
///
/// In a `#[protected]` handler the guard has verified the token before any
/// extractor of the handler runs, and `Auth` gets the claims it verified:
/// the token is verified once. Used in a handler without
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
///     user.sub().to_owned()
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
    authorization: Option<HeaderValue>,
}

impl Verified {
    /// `claims`, just verified from the request's `Authorization` header.
    pub(crate) fn new(parts: &Parts, claims: Arc<Claims>) -> Self {
        Self {
            claims,
            authorization: parts.headers.get(header::AUTHORIZATION).cloned(),
        }
    }

    /// Leaves `claims`, just verified from the request's `Authorization`
    /// header, in its extensions, for the extractors that read them.
    pub(crate) fn share(parts: &mut Parts, claims: Arc<Claims>) {
        let verified = Self::new(parts, claims);
        parts.extensions.insert(verified);
    }
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

    fn from_request_parts(
        parts: &mut Parts,
        state: &S,
    ) -> impl Future<Output = Result<Self, Self::Rejection>> + Send {
        // Behind a guard, the claims it verified; no future of its own.
        if let Some(verified) = parts.extensions.get::<Verified>() {
            return StoreFuture::ready(Self::of(verified));
        }
        let warden = Warden::from_ref(state);
        match authenticate_at_once(&warden, parts) {
            Some(claims) => StoreFuture::ready(Self::verified(&warden, parts, claims)),
            None => StoreFuture::boxed(async move {
                let claims = authenticate(&warden, parts).await;
                Self::verified(&warden, parts, claims)
            }),
        }
    }
}

impl Auth {
    /// The claims a guard verified, handed to the handler's argument.
    pub(crate) fn handed(claims: Arc<Claims>) -> Self {
        Self { claims }
    }
}

impl<C: DeserializeOwned + Send + Sync + 'static> Auth<C> {
    /// The claims of a token this extractor verified itself: kept in the
    /// request extensions, or the refusal audited.
    fn verified(
        warden: &Warden,
        parts: &mut Parts,
        claims: Result<Arc<Claims>, AuthRejection>,
    ) -> Result<Self, AuthRejection> {
        match claims {
            Ok(claims) => {
                let verified = Verified::new(parts, claims);
                let auth = Self::of(&verified);
                parts.extensions.insert(verified);
                auth
            }
            Err(rejection) => {
                let client = warden.client_ip(parts);
                audit::auth_rejected("warden::Auth", parts, client, rejection);
                Err(rejection)
            }
        }
    }

    /// The claims as `C`: shared when `C` is [`Claims`], else read from the
    /// verified token's payload.
    fn of(verified: &Verified) -> Result<Self, AuthRejection> {
        let shared: Arc<dyn Any + Send + Sync> = Arc::<Claims>::clone(&verified.claims);
        match shared.downcast::<C>() {
            Ok(claims) => Ok(Self { claims }),
            Err(_) => verified
                .authorization
                .as_ref()
                .and_then(custom_claims)
                .map(|claims| Self {
                    claims: Arc::new(claims),
                })
                .ok_or(AuthRejection::InvalidToken(TokenError::InvalidClaim)),
        }
    }
}

/// Reads a custom claims type from the payload of a token already verified,
/// decoded as the verifier decodes it.
fn custom_claims<C: DeserializeOwned>(authorization: &HeaderValue) -> Option<C> {
    let token = bearer_token(authorization).ok()?;
    let payload = token.split('.').nth(1)?;
    super::jwt::read_payload(payload).ok()
}

/// Finds the bearer token of a request and verifies it.
pub(crate) async fn authenticate(
    warden: &Warden,
    parts: &Parts,
) -> Result<Arc<Claims>, AuthRejection> {
    if let Some(claims) = authenticate_at_once(warden, parts) {
        return claims;
    }
    // Only a token naming a key not cached yet (a trusted external
    // issuer's) gets here: its issuer's keys are fetched.
    let token = bearer_of(parts)?;
    // Boxed: the fetch's future is large, and every future awaiting this
    // one would otherwise carry its size.
    let claims = Box::pin(warden.verify_access_token_refetching(token))
        .await
        .map(Arc::new);
    verified(claims)
}

/// [`authenticate`] without awaiting: `None` when the token names a key not
/// fetched yet.
pub(crate) fn authenticate_at_once(
    warden: &Warden,
    parts: &Parts,
) -> Option<Result<Arc<Claims>, AuthRejection>> {
    let credentials = match credentials_of(parts) {
        Ok(credentials) => credentials,
        Err(rejection) => return Some(Err(rejection)),
    };
    match warden.verify_shared(credentials) {
        Err(TokenError::UnknownKey) => None,
        claims => Some(verified(claims)),
    }
}

/// The bearer token of the request's one `Authorization` header.
fn bearer_of(parts: &Parts) -> Result<&str, AuthRejection> {
    b64token(credentials_of(parts)?).map_err(AuthRejection::InvalidToken)
}

/// The bearer credentials of the request's one `Authorization` header,
/// whose grammar is not checked yet: see [`bearer_credentials`].
fn credentials_of(parts: &Parts) -> Result<&[u8], AuthRejection> {
    let mut values = parts.headers.get_all(header::AUTHORIZATION).iter();
    let authorization = match (values.next(), values.next()) {
        (None, _) => return Err(AuthRejection::MissingToken),
        (Some(value), None) => value,
        // RFC 6750 3.1: more than one way of sending a token.
        (Some(_), Some(_)) => return Err(AuthRejection::InvalidRequest),
    };
    bearer_credentials(authorization)
}

/// A verification as the guards answer it.
fn verified(claims: Result<Arc<Claims>, TokenError>) -> Result<Arc<Claims>, AuthRejection> {
    claims.map_err(|error| match error {
        TokenError::IssuerUnreachable => AuthRejection::IssuerUnavailable,
        error => AuthRejection::InvalidToken(error),
    })
}

/// Whether every byte is of an RFC 6750 b64token: ALPHA / DIGIT / "-" /
/// "." / "_" / "~" / "+" / "/", or "=" (the grammar puts the "="s last; the
/// verifier's strict base64url decoding refuses them anywhere).
///
/// Tokens are some hundreds of bytes, on every request, so the check is
/// written for the compiler to make it 16 bytes an instruction: fixed
/// chunks of 16 without an early exit, the last one padded with an allowed
/// byte, so that no byte is left to a one-at-a-time loop.
fn is_b64token(token: &[u8]) -> bool {
    const LANES: usize = 16;
    let mut refused = [0u8; LANES];
    let mut chunks = token.chunks_exact(LANES);
    for chunk in &mut chunks {
        for (lane, &b) in refused.iter_mut().zip(chunk) {
            *lane |= refused_by_b64token(b);
        }
    }
    let mut last = [b'A'; LANES];
    last[..chunks.remainder().len()].copy_from_slice(chunks.remainder());
    for (lane, b) in refused.iter_mut().zip(last) {
        *lane |= refused_by_b64token(b);
    }
    refused == [0; LANES]
}

/// 1 if `b` is not a b64token byte, else 0. Two ranges and four bytes:
/// "-", ".", "/" and the digits are 0x2D to 0x39; a letter with its case
/// bit set is "a" to "z".
#[inline(always)]
fn refused_by_b64token(b: u8) -> u8 {
    let ok = (b.wrapping_sub(b'-') <= b'9' - b'-')
        | ((b | 0x20).wrapping_sub(b'a') <= b'z' - b'a')
        | (b == b'_')
        | (b == b'~')
        | (b == b'+')
        | (b == b'=');
    u8::from(!ok)
}

/// The token of an `Authorization: Bearer <token>` header. The scheme is
/// case-insensitive (RFC 9110 section 11.1); another scheme counts as no
/// bearer token at all (RFC 6750 section 3.1).
fn bearer_token(value: &HeaderValue) -> Result<&str, AuthRejection> {
    b64token(bearer_credentials(value)?).map_err(AuthRejection::InvalidToken)
}

/// The credentials of an `Authorization: Bearer <credentials>` header,
/// the spaces around them trimmed, before their grammar is checked: a
/// token the cache of verified tokens holds, byte for byte, passed that
/// check when it was stored, so only a token it does not hold is checked
/// ([`b64token`], before it is verified).
fn bearer_credentials(value: &HeaderValue) -> Result<&[u8], AuthRejection> {
    let bytes = value.as_bytes();
    let (scheme, rest) = match bytes.iter().position(|&b| b == b' ') {
        Some(space) => (&bytes[..space], &bytes[space + 1..]),
        None => (bytes, &[][..]),
    };
    if !scheme.eq_ignore_ascii_case(b"bearer") {
        // A value that is not visible ASCII is malformed whatever its scheme.
        return Err(if value.to_str().is_ok() {
            AuthRejection::MissingToken
        } else {
            AuthRejection::InvalidToken(TokenError::Malformed)
        });
    }
    let start = rest.iter().position(|&b| b != b' ').unwrap_or(rest.len());
    let end = rest
        .iter()
        .rposition(|&b| b != b' ')
        .map_or(start, |last| last + 1);
    let credentials = &rest[start..end];
    if credentials.is_empty() {
        // The scheme without its parameter: a malformed request.
        return Err(AuthRejection::InvalidRequest);
    }
    Ok(credentials)
}

/// Bearer credentials as a token: malformed unless every byte is of the
/// b64token grammar. Read as bytes: the grammar admits only ASCII, so the
/// check also makes them a `str`.
pub(crate) fn b64token(credentials: &[u8]) -> Result<&str, TokenError> {
    if !is_b64token(credentials) {
        return Err(TokenError::Malformed);
    }
    std::str::from_utf8(credentials).map_err(|_| TokenError::Malformed)
}

/// The answer of an object-level `check = ...` function.
///
/// A check returns `Decision` or a `bool` (`true` allows).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Let the request through.
    Allow,
    /// 403 Forbidden.
    Deny,
    /// 404 Not Found: deny without revealing that the resource exists.
    NotFound,
}

impl From<bool> for Decision {
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
    fn an_empty_token_is_an_invalid_request_and_a_non_b64token_malformed() {
        let malformed = Err(AuthRejection::InvalidToken(TokenError::Malformed));
        assert_eq!(token_of("Bearer"), Err(AuthRejection::InvalidRequest));
        assert_eq!(token_of("Bearer "), Err(AuthRejection::InvalidRequest));
        assert_eq!(token_of("bearer    "), Err(AuthRejection::InvalidRequest));
        assert_eq!(token_of("Bearer a b"), malformed);
        assert_eq!(token_of("Bearer a\"b"), malformed);
    }

    #[test]
    fn the_b64token_grammar_is_exact() {
        let allowed: Vec<u8> = (0..=255u8)
            .filter(|&b| is_b64token(&[b'a', b, b'z']))
            .collect();
        let mut expected: Vec<u8> = (b'0'..=b'9')
            .chain(b'A'..=b'Z')
            .chain(b'a'..=b'z')
            .chain(*b"-._~+/=")
            .collect();
        expected.sort_unstable();
        assert_eq!(allowed, expected);
        assert!(is_b64token(&[b'x'; 1000]));
        let mut long = vec![b'x'; 1000];
        long[777] = b' ';
        assert!(!is_b64token(&long));
    }

    /// The check reads 16 bytes at a time and pads the last chunk: a
    /// refused byte is found at every position of every length around the
    /// chunk boundaries, and the padding never refuses a good token.
    #[test]
    fn the_b64token_check_sees_every_position_of_every_length() {
        assert!(is_b64token(b""));
        for len in 1..=70 {
            let good: Vec<u8> = (0..len).map(|i| b"aZ9-._~+/="[i % 10]).collect();
            assert!(is_b64token(&good), "length {len}");
            for at in 0..len {
                for bad in [
                    b' ', b'"', b'\x80', b'\xff', b'@', b'[', b'`', b'{', b',', b':',
                ] {
                    let mut token = good.clone();
                    token[at] = bad;
                    assert!(!is_b64token(&token), "{bad:#x} at {at} of {len}");
                }
            }
        }
    }

    #[test]
    fn values_that_are_not_visible_ascii_are_malformed_whatever_the_scheme() {
        for raw in [
            &b"Basic \xff\xfe"[..],
            b"Bearer abc\xff",
            b"Bearer a\tb",
            b"Bearer \x80",
        ] {
            let value = HeaderValue::from_bytes(raw).unwrap();
            assert_eq!(
                bearer_token(&value),
                Err(AuthRejection::InvalidToken(TokenError::Malformed)),
                "{raw:?}"
            );
        }
    }

    #[test]
    fn booleans_convert_to_access() {
        assert_eq!(Decision::from(true), Decision::Allow);
        assert_eq!(Decision::from(false), Decision::Deny);
    }
}
