//! ID token verification (OpenID Connect Core 1.0, section 3.1.3.7).

use super::constant_time_eq;
use serde::Deserialize;

use super::jwks::Keys;
use crate::auth::TokenError;
use crate::auth::jwt::{
    choose_key, is_access_token_typ, read_header, read_payload, split, unix_now,
};

/// The longest ID token read.
const MAX_ID_TOKEN_BYTES: usize = 16 * 1024;

/// What the ID token must say.
pub(crate) struct Expected<'a> {
    pub(crate) issuer: &'a str,
    pub(crate) client_id: &'a str,
    pub(crate) nonce: &'a str,
    pub(crate) leeway: u64,
    /// How old `iat` may be, in seconds.
    pub(crate) max_age: u64,
}

/// Why an ID token was refused: for the audit log, never for the client
/// (who sees `invalid_id_token`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IdTokenError {
    /// Header, signature or shape (see [`TokenError`]).
    Token(TokenError),
    WrongNonce,
    WrongAuthorizedParty,
    IssuedInFuture,
    TooOld,
    MissingClaim,
}

impl IdTokenError {
    pub(crate) fn reason(self) -> &'static str {
        match self {
            Self::Token(error) => error.reason(),
            Self::WrongNonce => "wrong_nonce",
            Self::WrongAuthorizedParty => "wrong_azp",
            Self::IssuedInFuture => "iat_in_future",
            Self::TooOld => "iat_too_old",
            Self::MissingClaim => "missing_claim",
        }
    }
}

/// The claims of an ID token warden reads; the whole payload is kept for
/// the application.
#[derive(Deserialize)]
pub(crate) struct IdClaims {
    #[serde(default)]
    pub(crate) iss: Option<String>,
    #[serde(default)]
    pub(crate) sub: Option<String>,
    #[serde(default, deserialize_with = "crate::auth::claims::optional_audience")]
    aud: Option<Vec<String>>,
    #[serde(default, deserialize_with = "crate::auth::claims::required_date")]
    exp: Option<u64>,
    #[serde(default, deserialize_with = "crate::auth::claims::optional_date_down")]
    iat: Option<u64>,
    #[serde(default, deserialize_with = "crate::auth::claims::optional_date_up")]
    nbf: Option<u64>,
    #[serde(default)]
    nonce: Option<String>,
    #[serde(default)]
    azp: Option<String>,
    #[serde(default)]
    pub(crate) email: Option<String>,
    #[serde(default, deserialize_with = "lenient_bool")]
    pub(crate) email_verified: Option<bool>,
    #[serde(default)]
    pub(crate) name: Option<String>,
    #[serde(flatten)]
    pub(crate) other: serde_json::Map<String, serde_json::Value>,
}

/// `email_verified` as a boolean; some providers send the string
/// `"true"`. Anything else is not verified.
fn lenient_bool<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    Ok(match serde_json::Value::deserialize(d)? {
        serde_json::Value::Bool(b) => Some(b),
        serde_json::Value::String(s) => Some(s == "true"),
        _ => Some(false),
    })
}

/// Verifies an ID token against the provider's keys: the header (the
/// key's own algorithm, which the JWKS allow-list already narrowed), the
/// signature, then `iss`, `aud` (and `azp` when there are several
/// audiences, or when present), `exp`, `nbf`, `iat` (not in the future,
/// not older than `max_age`), `sub` and `nonce`.
pub(crate) fn verify(
    token: &str,
    keys: &Keys,
    expected: &Expected<'_>,
) -> Result<IdClaims, IdTokenError> {
    let segments = split(token, MAX_ID_TOKEN_BYTES).map_err(IdTokenError::Token)?;
    let index = read_header(segments.header, |header| {
        // An access token (RFC 9068) is not an ID token.
        if header.typ.is_some_and(is_access_token_typ) {
            return Err(TokenError::WrongType);
        }
        choose_key(&keys.keys, keys.default, header)
    })
    .map_err(IdTokenError::Token)?;
    if !keys.keys[index].verifies(segments.message.as_bytes(), segments.signature) {
        return Err(IdTokenError::Token(TokenError::BadSignature));
    }
    let claims: IdClaims = read_payload(segments.payload).map_err(IdTokenError::Token)?;
    let (Some(iss), Some(sub), Some(aud), Some(exp), Some(iat), Some(nonce)) = (
        claims.iss.as_deref(),
        claims.sub.as_deref(),
        claims.aud.as_deref(),
        claims.exp,
        claims.iat,
        claims.nonce.as_deref(),
    ) else {
        return Err(IdTokenError::MissingClaim);
    };
    if iss != expected.issuer {
        return Err(IdTokenError::Token(TokenError::WrongIssuer));
    }
    if !aud.iter().any(|a| a == expected.client_id) {
        return Err(IdTokenError::Token(TokenError::WrongAudience));
    }
    match claims.azp.as_deref() {
        Some(azp) if azp != expected.client_id => return Err(IdTokenError::WrongAuthorizedParty),
        None if aud.len() > 1 => return Err(IdTokenError::WrongAuthorizedParty),
        _ => {}
    }
    let now = unix_now();
    if exp.saturating_add(expected.leeway) < now {
        return Err(IdTokenError::Token(TokenError::Expired));
    }
    if claims
        .nbf
        .is_some_and(|nbf| nbf > now.saturating_add(expected.leeway))
    {
        return Err(IdTokenError::Token(TokenError::NotYetValid));
    }
    if iat > now.saturating_add(expected.leeway) {
        return Err(IdTokenError::IssuedInFuture);
    }
    if iat.saturating_add(expected.max_age + expected.leeway) < now {
        return Err(IdTokenError::TooOld);
    }
    if sub.is_empty() {
        return Err(IdTokenError::MissingClaim);
    }
    if !constant_time_eq(nonce.as_bytes(), expected.nonce.as_bytes()) {
        return Err(IdTokenError::WrongNonce);
    }
    Ok(claims)
}
