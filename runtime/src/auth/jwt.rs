use std::borrow::Cow;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64_simd::AsOut as _;
use jsonwebtoken::Header;
use serde::Deserialize;

use super::claims::{AccessClaims, Claims, IssuedAccessToken};
use super::error::{IssueError, JwtConfigError, KeyError, TokenError};
use super::extract::b64token;
use super::key::{Key, alg_name, ensure_crypto_provider};

/// The `typ` header of access tokens (RFC 9068 section 2.1).
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";
/// The default lifetime of access tokens: 15 minutes.
pub const DEFAULT_ACCESS_TTL: Duration = Duration::from_secs(15 * 60);
/// The default clock-skew leeway for `exp` and `nbf`.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(30);
/// The largest leeway a configuration may ask for.
pub const MAX_LEEWAY: Duration = Duration::from_secs(300);
/// The default bound on a token's length; longer tokens are refused before
/// any decoding.
pub const DEFAULT_MAX_TOKEN_BYTES: usize = 8 * 1024;

/// How access tokens are signed and verified.
///
/// The first key signs; every key verifies the tokens whose `kid` names it
/// (a token without `kid` is verified with the one key that has none). Add
/// the previous key with [`Jwt::verification_key`] when rotating, so tokens
/// it signed stay valid until they expire.
///
/// Verification requires `exp`, `iss`, `aud` and `sub`, honours `nbf`, allows
/// [`DEFAULT_LEEWAY`] of clock skew, and accepts only tokens whose `typ`
/// header is `at+jwt` (RFC 9068) unless
/// [`Jwt::accept_foreign_token_types`] is called.
///
/// A token is verified in one pass: its size bound, exactly three base64url
/// segments (strict: no padding, no stray bits), a header that is a JSON
/// object with no `crit` extension and an `alg` equal to the chosen key's
/// own, then the signature (HMAC keys keep their MAC state with the key
/// already absorbed and compare in constant time), and only then the
/// claims, parsed once. A missing claim and a malformed one are told apart
/// in [`TokenError`] (and in the audit log), never to the client.
///
/// ```
/// use std::time::Duration;
/// use warden::auth::{Jwt, Key};
///
/// let jwt = Jwt::new(Key::hs256(b"the new secret, 32 bytes or more")?.with_kid("2026-12"))
///     .verification_key(Key::hs256(b"the old secret, 32 bytes or more")?.with_kid("2026-11"))
///     .issuer("https://auth.example.com")
///     .audience("api")
///     .leeway(Duration::from_secs(10));
/// # Ok::<(), warden::auth::KeyError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Jwt {
    keys: Vec<Key>,
    issuer: Option<String>,
    audience: Option<String>,
    leeway: Duration,
    access_ttl: Duration,
    accept_foreign_typ: bool,
    max_token_bytes: usize,
    token_cache: usize,
    #[cfg(feature = "oidc")]
    trusted: Vec<crate::oidc::TrustedIssuer>,
}

impl Jwt {
    /// A configuration whose tokens are signed (and verified) with `key`.
    pub fn new(key: Key) -> Self {
        Self::with_keys(vec![key])
    }

    fn with_keys(keys: Vec<Key>) -> Self {
        Self {
            keys,
            issuer: None,
            audience: None,
            leeway: DEFAULT_LEEWAY,
            access_ttl: DEFAULT_ACCESS_TTL,
            accept_foreign_typ: false,
            max_token_bytes: DEFAULT_MAX_TOKEN_BYTES,
            token_cache: super::cache::DEFAULT_TOKEN_CACHE,
            #[cfg(feature = "oidc")]
            trusted: Vec::new(),
        }
    }

    /// A configuration that signs nothing and accepts the access tokens of
    /// an external issuer (Auth0, Keycloak, Entra ID, any OpenID Connect
    /// provider), verified against the keys the issuer publishes. Add more
    /// issuers with [`Jwt::trust`].
    ///
    /// ```
    /// use warden::auth::Jwt;
    /// use warden::oidc::TrustedIssuer;
    ///
    /// let jwt = Jwt::from_issuer(TrustedIssuer::new("https://tenant.eu.auth0.com/")?.audience("https://api.example.com"))
    ///     .trust(TrustedIssuer::new("https://sso.example.com/realms/staff")?.audience("api"));
    /// # Ok::<(), warden::oidc::OidcConfigError>(())
    /// ```
    #[cfg(feature = "oidc")]
    pub fn from_issuer(issuer: crate::oidc::TrustedIssuer) -> Self {
        Self::with_keys(Vec::new()).trust(issuer)
    }

    /// Also accepts the access tokens of an external issuer, verified
    /// against the keys it publishes, beside this configuration's own.
    ///
    /// A token's `iss` chooses whose keys and rules check it: a token is
    /// never checked against another issuer's keys, so a key id that two
    /// issuers share cannot let one issuer's key vouch for the other.
    #[cfg(feature = "oidc")]
    pub fn trust(mut self, issuer: crate::oidc::TrustedIssuer) -> Self {
        self.trusted.push(issuer);
        self
    }

    /// Shorthand for `Jwt::new(Key::hs256(secret)?)`: refuses secrets under
    /// 32 bytes.
    pub fn hs256(secret: impl AsRef<[u8]>) -> Result<Self, KeyError> {
        Ok(Self::new(Key::hs256(secret)?))
    }

    /// The `iss` tokens are issued with and must carry. Required.
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// The `aud` tokens are issued with and must contain. Required.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = Some(audience.into());
        self
    }

    /// The clock-skew allowance for `exp` and `nbf` (at most [`MAX_LEEWAY`]).
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// The lifetime of issued access tokens (default 15 minutes).
    pub fn access_token_ttl(mut self, ttl: Duration) -> Self {
        self.access_ttl = ttl;
        self
    }

    /// Adds a key that verifies but never signs: the previous key during a
    /// rotation, or another issuer's public key.
    pub fn verification_key(mut self, key: Key) -> Self {
        self.keys.push(key);
        self
    }

    /// Accepts tokens whose `typ` header is `JWT` or absent, besides
    /// `at+jwt`.
    ///
    /// Only for access tokens minted by systems that do not follow RFC 9068:
    /// it weakens the guarantee that no other kind of JWT signed with the
    /// same key (an ID token, say) is taken for an access token.
    pub fn accept_foreign_token_types(mut self) -> Self {
        self.accept_foreign_typ = true;
        self
    }

    /// The longest token accepted (default 8 KiB); longer ones are refused
    /// before any decoding.
    pub fn max_token_bytes(mut self, bytes: usize) -> Self {
        self.max_token_bytes = bytes;
        self
    }

    /// How many verified tokens to keep (default
    /// [`DEFAULT_TOKEN_CACHE`](super::DEFAULT_TOKEN_CACHE); 0 keeps none).
    /// A token seen again is then held only to its expiry: its signature
    /// and claims, which cannot change, are not checked again. Keyed by
    /// the whole token, never past `exp`, and only for tokens of the own
    /// keys, which are fixed for the life of the `Warden`; see
    /// [`MAX_CACHED_TOKEN_BYTES`](super::MAX_CACHED_TOKEN_BYTES).
    pub fn token_cache(mut self, capacity: usize) -> Self {
        self.token_cache = capacity;
        self
    }

    pub(crate) fn compile(self) -> Result<Authenticator, JwtConfigError> {
        ensure_crypto_provider();
        // Without own keys (only external issuers), the own rules check
        // nothing and may stay empty.
        let own = !self.keys.is_empty();
        let issuer = match self.issuer {
            Some(issuer) => issuer,
            None if own => return Err(JwtConfigError::MissingIssuer),
            None => String::new(),
        };
        let audience = match self.audience {
            Some(audience) => audience,
            None if own => return Err(JwtConfigError::MissingAudience),
            None => String::new(),
        };
        if self.leeway > MAX_LEEWAY {
            return Err(JwtConfigError::LeewayTooLarge {
                seconds: self.leeway.as_secs(),
                max_seconds: MAX_LEEWAY.as_secs(),
            });
        }
        if self.access_ttl.as_secs() == 0 {
            return Err(JwtConfigError::ZeroLifetime);
        }
        if self.max_token_bytes < 256 {
            return Err(JwtConfigError::MaxTokenBytesTooSmall(self.max_token_bytes));
        }
        let mut default = None;
        for (i, key) in self.keys.iter().enumerate() {
            match &key.kid {
                Some(kid) => {
                    if self.keys[..i].iter().any(|k| k.kid.as_ref() == Some(kid)) {
                        return Err(JwtConfigError::DuplicateKid(kid.clone()));
                    }
                }
                None if default.is_some() => return Err(JwtConfigError::SeveralKeysWithoutKid),
                None => default = Some(i),
            }
        }
        let leeway = self.leeway.as_secs();
        #[cfg(feature = "oidc")]
        let external = {
            let mut external: Vec<crate::oidc::ExternalIssuer> = Vec::new();
            for trusted in self.trusted {
                let compiled = trusted.compile(self.max_token_bytes, leeway)?;
                if (own && compiled.issuer() == issuer)
                    || external.iter().any(|e| e.issuer() == compiled.issuer())
                {
                    return Err(JwtConfigError::DuplicateIssuer(
                        compiled.issuer().to_owned(),
                    ));
                }
                external.push(compiled);
            }
            external
        };
        Ok(Authenticator {
            keys: self.keys,
            default,
            rules: Rules {
                issuer,
                audience,
                leeway,
                accept_foreign_typ: self.accept_foreign_typ,
                max_token_bytes: self.max_token_bytes,
            },
            access_ttl: self.access_ttl,
            known_headers: Default::default(),
            cache: super::cache::TokenCache::new(self.token_cache),
            #[cfg(feature = "oidc")]
            external,
        })
    }
}

/// A checked [`Jwt`] configuration, ready to verify and issue.
pub(crate) struct Authenticator {
    /// The own keys; empty when only external issuers are trusted.
    keys: Vec<Key>,
    default: Option<usize>,
    rules: Rules,
    access_ttl: Duration,
    known_headers: KnownHeaders,
    /// Tokens of the own keys that verified (see `Jwt::token_cache`).
    cache: Option<super::cache::TokenCache>,
    #[cfg(feature = "oidc")]
    external: Vec<crate::oidc::ExternalIssuer>,
}

impl Authenticator {
    /// Whether access tokens of external issuers are accepted.
    #[cfg_attr(not(feature = "utoipa"), allow(dead_code))]
    pub(crate) fn has_external_issuers(&self) -> bool {
        #[cfg(feature = "oidc")]
        return !self.external.is_empty();
        #[cfg(not(feature = "oidc"))]
        false
    }
}

/// The remembered headers of one set of keys.
pub(crate) type KnownHeaders = [OnceLock<KnownHeader>; KNOWN_HEADERS];

/// The key a remembered header segment chose, if it is remembered.
fn known_key(known: &KnownHeaders, segment: &str) -> Option<usize> {
    known
        .iter()
        .map_while(OnceLock::get)
        .find(|known| *known.segment == *segment)
        .map(|known| known.key)
}

/// Remembers a header segment of a token that verified, in the first
/// free slot, if any is left.
fn remember(known: &KnownHeaders, segment: &str, key: usize) {
    if segment.len() > 256 {
        return;
    }
    for slot in known {
        match slot.get() {
            Some(known) if *known.segment == *segment => return,
            Some(_) => {}
            None => {
                let _ = slot.set(KnownHeader {
                    segment: segment.into(),
                    key,
                });
                return;
            }
        }
    }
}

/// How many distinct header segments are remembered. An issuer sends one
/// header per signing key, so a handful covers rotation.
const KNOWN_HEADERS: usize = 8;

/// A header segment, exactly as sent, that has already passed every header
/// check on a token that verified, and the index of the key it chose.
/// What the header checks conclude is a function of these bytes and of the
/// (immutable) configuration alone, so a later token with the same bytes
/// skips decoding and parsing them; its signature and claims are checked as
/// always. Only tokens that verified fill a slot, and once the slots are
/// full, further headers are simply parsed every time.
pub(crate) struct KnownHeader {
    segment: Box<str>,
    key: usize,
}

/// The protected header. `crit` is read only to refuse it: this verifier
/// understands no extension, so RFC 7515 section 4.1.11 says reject.
#[derive(Deserialize)]
struct JoseHeader<'a> {
    #[serde(borrow)]
    alg: Cow<'a, str>,
    #[serde(borrow, default)]
    typ: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    kid: Option<Cow<'a, str>>,
    #[serde(default)]
    crit: Option<serde::de::IgnoredAny>,
    // The registered parameters this verifier does not use (RFC 7515
    // section 4.1): never fetched nor trusted, but refused unless of the
    // type the RFC gives them. Other parameters are ignored, as section 4
    // requires of a recipient that does not understand them.
    #[serde(borrow, default, rename = "cty")]
    _cty: Option<Cow<'a, str>>,
    #[serde(borrow, default, rename = "jku")]
    _jku: Option<Cow<'a, str>>,
    #[serde(borrow, default, rename = "x5u")]
    _x5u: Option<Cow<'a, str>>,
    #[serde(borrow, default, rename = "x5t")]
    _x5t: Option<Cow<'a, str>>,
    #[serde(borrow, default, rename = "x5t#S256")]
    _x5t_s256: Option<Cow<'a, str>>,
    #[serde(borrow, default, rename = "x5c")]
    _x5c: Option<Vec<Cow<'a, str>>>,
    #[serde(default, rename = "jwk")]
    _jwk: Option<std::collections::BTreeMap<String, serde::de::IgnoredAny>>,
}

/// Whether every string of this JSON text (member names included) is
/// Unicode, as I-JSON (RFC 7493) requires: no `\u` escape of a lone
/// surrogate, which serde would let through in what it skips. Only an
/// escape can break it, so the common token without one costs a scan for
/// `\u`.
fn is_unicode_json(text: &str) -> bool {
    let bytes = text.as_bytes();
    let escape = |i: usize| -> Option<u16> {
        let hex = bytes.get(i + 2..i + 6)?;
        (bytes.get(i + 1) == Some(&b'u'))
            .then(|| u16::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok())?
    };
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'\\' {
            i += 1;
            continue;
        }
        match escape(i) {
            Some(0xd800..=0xdbff) => match escape(i + 6) {
                Some(0xdc00..=0xdfff) => i += 12,
                _ => return false,
            },
            Some(0xdc00..=0xdfff) => return false,
            Some(_) => i += 6,
            // `\\`, `\"` and the other two-character escapes.
            None => i += 2,
        }
    }
    true
}

/// Decodes one base64url segment (no padding, canonical trailing bits)
/// into `stack` when it fits, else into `heap`, and checks that it is UTF-8
/// (once, so that the JSON parser need not check each string again).
fn segment<'b>(
    encoded: &str,
    stack: &'b mut [u8],
    heap: &'b mut Vec<u8>,
) -> Result<&'b str, TokenError> {
    let most = encoded.len().div_ceil(4) * 3;
    let out: &'b mut [u8] = if most <= stack.len() {
        &mut stack[..most]
    } else {
        heap.resize(most, 0);
        heap
    };
    let decoded = decode_base64url(encoded, out).ok_or(TokenError::Malformed)?;
    std::str::from_utf8(decoded).map_err(|_| TokenError::Malformed)
}

/// Decodes base64url without padding into `out`, with a SIMD decoder as
/// strict as RFC 7515 asks (no padding, canonical trailing bits, nothing
/// outside the URL-safe alphabet; a property test holds it to the strict
/// `base64` engine): `None` for anything else, or when `out` is too short.
#[inline]
pub(crate) fn decode_base64url<'o>(encoded: &str, out: &'o mut [u8]) -> Option<&'o [u8]> {
    let engine = base64_simd::URL_SAFE_NO_PAD;
    let needed = engine.decoded_length(encoded.as_bytes()).ok()?;
    let out = out.get_mut(..needed)?;
    let decoded = engine.decode(encoded.as_bytes(), out.as_out()).ok()?;
    Some(decoded)
}

/// Whether decoded JSON is an object. serde's derive would also read a
/// struct from an array, by position; a JOSE header and a claims set are
/// objects (RFC 7515 section 4, RFC 7519 section 7.2).
fn is_object(json: &str) -> bool {
    json.trim_ascii_start().starts_with('{')
}

/// The claim rules of one issuer: what its tokens must say.
#[derive(Debug, Clone)]
pub(crate) struct Rules {
    pub(crate) issuer: String,
    pub(crate) audience: String,
    pub(crate) leeway: u64,
    pub(crate) accept_foreign_typ: bool,
    pub(crate) max_token_bytes: usize,
}

/// A compact JWS split into its parts, nothing decoded yet.
pub(crate) struct Segments<'t> {
    /// The header and payload segments with the dot between them.
    pub(crate) message: &'t str,
    pub(crate) header: &'t str,
    pub(crate) payload: &'t str,
    pub(crate) signature: &'t str,
}

/// Splits a token into exactly three segments, after the size bound.
#[inline]
pub(crate) fn split(token: &str, max_bytes: usize) -> Result<Segments<'_>, TokenError> {
    if token.len() > max_bytes {
        return Err(TokenError::TooLarge);
    }
    let (message, signature) = token.rsplit_once('.').ok_or(TokenError::Malformed)?;
    let (header, payload) = message.split_once('.').ok_or(TokenError::Malformed)?;
    if payload.contains('.') {
        return Err(TokenError::Malformed);
    }
    Ok(Segments {
        message,
        header,
        payload,
        signature,
    })
}

/// What a header says, once decoded and checked for shape: a JSON object
/// of Unicode strings, without `crit`.
pub(crate) struct HeaderView<'a> {
    pub(crate) alg: &'a str,
    pub(crate) typ: Option<&'a str>,
    pub(crate) kid: Option<&'a str>,
}

/// Decodes a header segment, checks its shape, and hands what it says to
/// `choose` (which picks the key).
#[inline]
pub(crate) fn read_header<T>(
    segment: &str,
    choose: impl FnOnce(&HeaderView<'_>) -> Result<T, TokenError>,
) -> Result<T, TokenError> {
    let (mut stack, mut heap) = ([0u8; 128], Vec::new());
    let text = self::segment(segment, &mut stack, &mut heap)?;
    if !is_object(text) {
        return Err(TokenError::Malformed);
    }
    let header: JoseHeader<'_> = serde_json::from_str(text).map_err(|_| TokenError::Malformed)?;
    // Every string of the header, in parameters this verifier ignores
    // too, must be Unicode (I-JSON, RFC 7493): a lone surrogate is
    // refused, as any JOSE library that reads that parameter would.
    // Only an escape can make one, and headers that verified are
    // remembered, so this rarely costs a second parse.
    if text.contains("\\u") && !is_unicode_json(text) {
        return Err(TokenError::Malformed);
    }
    if header.crit.is_some() {
        return Err(TokenError::Malformed);
    }
    choose(&HeaderView {
        alg: &header.alg,
        typ: header.typ.as_deref(),
        kid: header.kid.as_deref(),
    })
}

/// Decodes a payload segment into `T`: a JSON object whose strings are
/// all Unicode.
#[inline]
pub(crate) fn read_payload<T: serde::de::DeserializeOwned>(segment: &str) -> Result<T, TokenError> {
    let (mut stack, mut heap) = ([0u8; 512], Vec::new());
    let payload = checked_payload(self::segment(segment, &mut stack, &mut heap)?)?;
    serde_json::from_str(payload).map_err(|_| TokenError::InvalidClaim)
}

/// Checks that a decoded payload is a JSON object whose strings are all
/// Unicode.
#[inline]
fn checked_payload(payload: &str) -> Result<&str, TokenError> {
    if !is_object(payload) {
        return Err(TokenError::InvalidClaim);
    }
    // Claims this verifier skips must still be Unicode (I-JSON): only
    // an escape can break that, and claims rarely hold one.
    if payload.contains("\\u") && !is_unicode_json(payload) {
        return Err(TokenError::InvalidClaim);
    }
    Ok(payload)
}

/// The `iss` of a payload, read before its signature is checked, only to
/// choose whose keys check it.
#[cfg(feature = "oidc")]
#[derive(Deserialize)]
pub(crate) struct IssuerOnly {
    #[serde(default)]
    pub(crate) iss: Option<String>,
}

/// Whether a `typ` header names an RFC 9068 access token (`at+jwt`, or
/// its full media type), in any case.
#[inline]
pub(crate) fn is_access_token_typ(typ: &str) -> bool {
    typ.eq_ignore_ascii_case(ACCESS_TOKEN_TYP) || typ.eq_ignore_ascii_case("application/at+jwt")
}

impl Rules {
    /// Whether the header's `typ` is an access token's (or, when foreign
    /// types are accepted, `JWT` or none).
    #[inline]
    pub(crate) fn typ_accepted(&self, typ: Option<&str>) -> bool {
        match typ {
            Some(t) if is_access_token_typ(t) => true,
            Some(t) if t.eq_ignore_ascii_case("JWT") => self.accept_foreign_typ,
            None => self.accept_foreign_typ,
            Some(_) => false,
        }
    }

    /// Verifies a compact JWS access token against `keys` under these
    /// rules, in one pass and in the order of the cheapest refusal: the
    /// size bound, the three segments, the header (`typ`, `kid`, and
    /// `alg`, which must be the chosen key's own), the signature, then the
    /// claims: `exp`, `iss`, `aud` and a non-empty `sub` required, `exp`
    /// and `nbf` within the leeway, `iss` and `aud` equal to the
    /// configured ones. `known` remembers the headers of tokens that
    /// verified, for keys that never change.
    #[inline]
    pub(crate) fn verify(
        &self,
        token: &str,
        keys: &[Key],
        default: Option<usize>,
        known: Option<&KnownHeaders>,
        now: u64,
    ) -> Result<Claims, TokenError> {
        let segments = split(token, self.max_token_bytes)?;
        let remembered = known.and_then(|known| known_key(known, segments.header));
        let key_index = match remembered {
            Some(index) => index,
            None => read_header(segments.header, |header| {
                if !self.typ_accepted(header.typ) {
                    return Err(TokenError::WrongType);
                }
                choose_key(keys, default, header)
            })?,
        };
        if !keys[key_index].verifies(segments.message.as_bytes(), segments.signature) {
            return Err(TokenError::BadSignature);
        }

        let (mut payload_stack, mut payload_heap) = ([0u8; 512], Vec::new());
        let json = self::segment(segments.payload, &mut payload_stack, &mut payload_heap)?;
        // The plain form issuers write is read without serde; anything
        // else, by serde_json, which decides.
        let payload = match super::payload::read_plain(json) {
            Some(payload) => payload,
            None => serde_json::from_str(checked_payload(json)?)
                .map_err(|_| TokenError::InvalidClaim)?,
        };
        let (Some(sub), Some(iss), Some(aud), Some(exp)) =
            (&payload.sub, &payload.iss, &payload.aud, payload.exp)
        else {
            return Err(TokenError::MissingClaim);
        };
        if exp.saturating_add(self.leeway) < now {
            return Err(TokenError::Expired);
        }
        if payload
            .nbf
            .is_some_and(|nbf| nbf > now.saturating_add(self.leeway))
        {
            return Err(TokenError::NotYetValid);
        }
        if sub.is_empty() {
            return Err(TokenError::InvalidClaim);
        }
        if **iss != *self.issuer {
            return Err(TokenError::WrongIssuer);
        }
        if !aud.0.iter().any(|aud| **aud == *self.audience) {
            return Err(TokenError::WrongAudience);
        }
        if remembered.is_none()
            && let Some(known) = known
        {
            remember(known, segments.header, key_index);
        }
        Claims::from_payload(&payload).ok_or(TokenError::MissingClaim)
    }
}

/// Finds the key a header names among `keys` (by `kid`, or the one
/// without a `kid` when the header names none), and refuses a header
/// whose `alg` is not that key's own.
#[inline]
pub(crate) fn choose_key(
    keys: &[Key],
    default: Option<usize>,
    header: &HeaderView<'_>,
) -> Result<usize, TokenError> {
    let index = match header.kid {
        Some(kid) => keys.iter().position(|k| k.kid.as_deref() == Some(kid)),
        None => default,
    }
    .ok_or(TokenError::UnknownKey)?;
    if header.alg != alg_name(keys[index].algorithm) {
        return Err(TokenError::WrongAlgorithm);
    }
    Ok(index)
}

impl Authenticator {
    /// Verifies a compact JWS access token and returns its claims.
    ///
    /// One pass, in the order of the cheapest refusal: the size bound, the
    /// three segments, the header (`typ`, `kid`, and `alg`, which must be
    /// the chosen key's own), the signature, then the claims (see
    /// [`Rules::claims`]). When external issuers are trusted, the token's
    /// unverified `iss` first chooses whose keys and rules check it: a
    /// token is only ever checked against its own issuer's keys.
    pub(crate) fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        #[cfg(feature = "oidc")]
        if !self.external.is_empty() {
            return self.verify_routed(token);
        }
        self.verify_own(token)
    }

    /// Verifies the token of bearer `credentials` like
    /// [`verify`](Self::verify), answering from the cache of verified
    /// tokens when it holds them and they are still valid, and keeping
    /// them there when they verified with the own keys. The credentials'
    /// grammar (b64token) is checked only when the cache does not hold
    /// them: a token it holds, byte for byte, passed that check when it
    /// was stored.
    #[inline]
    pub(crate) fn verify_shared(&self, credentials: &[u8]) -> Result<Arc<Claims>, TokenError> {
        let Some(cache) = &self.cache else {
            return self.verify(b64token(credentials)?).map(Arc::new);
        };
        let now = unix_now();
        let hash = match cache.get(credentials, now) {
            Ok(claims) => return Ok(claims),
            Err(hash) => hash,
        };
        let token = b64token(credentials)?;
        // An external issuer's token: its keys rotate; never kept.
        #[cfg(feature = "oidc")]
        if !self.external.is_empty()
            && let Some(external) = self.route(token)?
        {
            return external.verify(token, &external.keys()).map(Arc::new);
        }
        let claims = Arc::new(self.verify_own_at(token, now)?);
        cache.insert(
            token,
            hash,
            &claims,
            claims.exp().saturating_add(self.rules.leeway),
            now,
        );
        Ok(claims)
    }

    /// How many verified tokens the cache keeps now.
    pub(crate) fn cached_tokens(&self) -> usize {
        self.cache.as_ref().map_or(0, super::cache::TokenCache::len)
    }

    /// Verifies a token against this configuration's own keys and rules.
    fn verify_own(&self, token: &str) -> Result<Claims, TokenError> {
        self.verify_own_at(token, unix_now())
    }

    /// Verifies a token against the own keys and rules at `now` (seconds
    /// since the epoch): one clock read serves the cache and the verifier.
    #[inline]
    fn verify_own_at(&self, token: &str, now: u64) -> Result<Claims, TokenError> {
        self.rules.verify(
            token,
            &self.keys,
            self.default,
            Some(&self.known_headers),
            now,
        )
    }

    /// Whose keys check this token: the external issuer its unverified
    /// `iss` names, or `None` for the own keys.
    #[cfg(feature = "oidc")]
    fn route(&self, token: &str) -> Result<Option<&crate::oidc::ExternalIssuer>, TokenError> {
        let segments = split(token, self.rules.max_token_bytes)?;
        let issuer = read_payload::<IssuerOnly>(segments.payload)?
            .iss
            .ok_or(TokenError::MissingClaim)?;
        if !self.keys.is_empty() && issuer == self.rules.issuer {
            return Ok(None);
        }
        self.external_for(&issuer)
            .map(Some)
            .ok_or(TokenError::WrongIssuer)
    }

    /// Chooses the issuer by the token's `iss`, then verifies with that
    /// issuer's keys and rules alone.
    #[cfg(feature = "oidc")]
    fn verify_routed(&self, token: &str) -> Result<Claims, TokenError> {
        match self.route(token)? {
            None => self.verify_own(token),
            Some(external) => external.verify(token, &external.keys()),
        }
    }

    /// Verifies like [`verify`](Self::verify), and when a trusted
    /// external issuer's token names a key not cached yet, fetches that
    /// issuer's keys again (bounded, see `KeySet::refetch`) and retries
    /// once.
    #[cfg(feature = "oidc")]
    pub(crate) async fn verify_refetching(&self, token: &str) -> Result<Claims, TokenError> {
        if self.external.is_empty() {
            return self.verify_own(token);
        }
        let Some(external) = self.route(token)? else {
            return self.verify_own(token);
        };
        let keys = external.keys();
        match external.verify(token, &keys) {
            Err(TokenError::UnknownKey) => match external.refetch(keys.generation).await {
                Ok(true) => external.verify(token, &external.keys()),
                Ok(false) => Err(TokenError::UnknownKey),
                Err(_) => Err(TokenError::IssuerUnreachable),
            },
            verified => verified,
        }
    }

    /// How many times the trusted issuer `issuer` had its keys fetched.
    #[cfg(feature = "oidc")]
    pub(crate) fn jwks_fetches(&self, issuer: &str) -> Option<u64> {
        self.external_for(issuer).map(|e| e.jwks_fetches())
    }

    /// The trusted external issuer whose `iss` this is.
    #[cfg(feature = "oidc")]
    pub(crate) fn external_for(&self, issuer: &str) -> Option<&crate::oidc::ExternalIssuer> {
        self.external.iter().find(|e| e.issuer() == issuer)
    }

    /// Whether tokens can be signed: the first key has its private part.
    pub(crate) fn can_sign(&self) -> bool {
        self.keys.first().is_some_and(|key| key.encoding.is_some())
    }

    /// Signs an access token with the first key.
    pub(crate) fn issue(&self, request: &AccessClaims) -> Result<IssuedAccessToken, IssueError> {
        if request.subject.is_empty() {
            return Err(IssueError::EmptySubject);
        }
        let signing = self.keys.first().ok_or(IssueError::NoSigningKey)?;
        let encoding = signing.encoding.as_ref().ok_or(IssueError::NoSigningKey)?;
        let ttl = request.ttl.unwrap_or(self.access_ttl).as_secs().max(1);
        let now = unix_now();
        let jti = random_id().ok_or(IssueError::Randomness)?;

        let mut payload = request.extra.clone();
        let mut put = |k: &str, v: serde_json::Value| payload.insert(k.to_owned(), v);
        put("sub", request.subject.clone().into());
        put("iss", self.rules.issuer.clone().into());
        put("aud", self.rules.audience.clone().into());
        put("iat", now.into());
        put("exp", (now + ttl).into());
        put("jti", jti.clone().into());
        put("roles", request.roles.clone().into());
        if !request.scopes.is_empty() {
            put("scope", request.scopes.join(" ").into());
        }
        if let Some(session) = &request.session {
            put("sid", session.0.clone().into());
        }

        let mut header = Header::new(signing.algorithm);
        header.typ = Some(ACCESS_TOKEN_TYP.to_owned());
        header.kid = signing.kid.clone();
        let token =
            jsonwebtoken::encode(&header, &payload, encoding).map_err(|_| IssueError::Signing)?;
        Ok(IssuedAccessToken {
            token,
            jti,
            expires_in: ttl,
        })
    }
}

pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// 128 random bits, base64url.
fn random_id() -> Option<String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).ok()?;
    Some(URL_SAFE_NO_PAD.encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(50_000))]
        /// The SIMD decoder refuses and accepts exactly what the strict
        /// `base64` engine does (no padding, canonical trailing bits,
        /// nothing outside the URL-safe alphabet), with the same bytes.
        #[test]
        fn simd_base64_is_as_strict_as_the_base64_crate(
            text in proptest::string::string_regex(
                "[A-Za-z0-9_-]{0,70}[=+/ .\\x00\\u{80}]?[A-Za-z0-9_-]{0,3}"
            ).unwrap(),
        ) {
            let strict = URL_SAFE_NO_PAD.decode(&text).ok();
            let simd = base64_simd::URL_SAFE_NO_PAD.decode_to_vec(&text).ok();
            proptest::prop_assert_eq!(&strict, &simd, "{:?}", text);
            // And as the verifier calls it, into a buffer that may be short.
            let mut out = [0u8; 48];
            let ours = decode_base64url(&text, &mut out).map(<[u8]>::to_vec);
            let fits = strict.clone().filter(|d| d.len() <= 48);
            proptest::prop_assert_eq!(ours, fits, "{:?}", text);
        }
    }

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn jwt() -> Jwt {
        Jwt::hs256(SECRET).unwrap().issuer("iss").audience("aud")
    }

    #[test]
    fn issuer_and_audience_are_required() {
        assert_eq!(
            Jwt::hs256(SECRET).unwrap().audience("a").compile().err(),
            Some(JwtConfigError::MissingIssuer)
        );
        assert_eq!(
            Jwt::hs256(SECRET).unwrap().issuer("i").compile().err(),
            Some(JwtConfigError::MissingAudience)
        );
    }

    #[test]
    fn leeway_lifetime_and_size_bounds_are_checked() {
        assert!(matches!(
            jwt().leeway(Duration::from_secs(301)).compile().err(),
            Some(JwtConfigError::LeewayTooLarge { .. })
        ));
        assert!(jwt().leeway(Duration::from_secs(300)).compile().is_ok());
        assert_eq!(
            jwt().access_token_ttl(Duration::ZERO).compile().err(),
            Some(JwtConfigError::ZeroLifetime)
        );
        assert!(matches!(
            jwt().max_token_bytes(10).compile().err(),
            Some(JwtConfigError::MaxTokenBytesTooSmall(10))
        ));
    }

    #[test]
    fn kids_must_be_unique_and_only_one_key_may_lack_one() {
        let key = |kid: Option<&str>| {
            let k = Key::hs256(SECRET).unwrap();
            match kid {
                Some(kid) => k.with_kid(kid),
                None => k,
            }
        };
        let dup = Jwt::new(key(Some("a")))
            .verification_key(key(Some("a")))
            .issuer("i")
            .audience("a");
        assert_eq!(
            dup.compile().err(),
            Some(JwtConfigError::DuplicateKid("a".into()))
        );
        let two_defaults = Jwt::new(key(None))
            .verification_key(key(None))
            .issuer("i")
            .audience("a");
        assert_eq!(
            two_defaults.compile().err(),
            Some(JwtConfigError::SeveralKeysWithoutKid)
        );
    }

    #[derive(Clone, Copy, crate::Role)]
    enum Role {
        Admin,
    }

    #[test]
    fn issued_tokens_verify_and_carry_every_claim() {
        let auth = jwt().compile().unwrap();
        let issued = auth
            .issue(
                &AccessClaims::new("user-1")
                    .roles([Role::Admin])
                    .scopes(["a:b", "c"])
                    .claim("tenant", "acme")
                    .unwrap(),
            )
            .unwrap();
        assert_eq!(issued.expires_in, 900);
        let claims = auth.verify(&issued.token).unwrap();
        assert_eq!(claims.sub(), "user-1");
        assert_eq!(claims.iss(), "iss");
        assert!(claims.aud().eq(["aud"]));
        assert!(claims.roles().eq(["admin"]));
        assert_eq!(claims.scope(), Some("a:b c"));
        assert!(claims.has_scope("a:b") && claims.has_scope("c"));
        assert_eq!(claims.jti(), Some(issued.jti.as_str()));
        assert_eq!(claims.sid(), None);
        assert_eq!(claims.exp() - claims.iat().unwrap(), 900);
        assert_eq!(claims.nbf(), None);
        let header = jsonwebtoken::decode_header(&issued.token).unwrap();
        assert_eq!(header.typ.as_deref(), Some("at+jwt"));
        assert_eq!(header.alg, jsonwebtoken::Algorithm::HS256);
    }

    #[test]
    fn jtis_are_unique() {
        let auth = jwt().compile().unwrap();
        let a = auth.issue(&AccessClaims::new("u")).unwrap();
        let b = auth.issue(&AccessClaims::new("u")).unwrap();
        assert_ne!(a.jti, b.jti);
        assert_eq!(a.jti.len(), 22);
    }

    #[test]
    fn empty_subjects_are_neither_issued_nor_accepted() {
        let auth = jwt().compile().unwrap();
        assert_eq!(
            auth.issue(&AccessClaims::new("")).err(),
            Some(IssueError::EmptySubject)
        );
    }

    #[test]
    fn oversized_and_malformed_tokens_are_refused_before_decoding() {
        let auth = jwt().compile().unwrap();
        assert_eq!(
            auth.verify(&"a".repeat(9000)).err(),
            Some(TokenError::TooLarge)
        );
        for garbage in [
            "",
            ".",
            "..",
            "a.b",
            "a.b.c.d",
            "!!.!!.!!",
            "e30.e30.",
            "bm90IGpzb24.e30.x",
        ] {
            assert_eq!(
                auth.verify(garbage).err(),
                Some(TokenError::Malformed),
                "{garbage:?}"
            );
        }
    }

    #[test]
    fn typ_is_checked() {
        let strict = jwt().compile().unwrap();
        let lenient = jwt().accept_foreign_token_types().compile().unwrap();
        for typ in ["at+jwt", "AT+JWT", "application/at+jwt"] {
            assert!(strict.rules.typ_accepted(Some(typ)));
        }
        assert!(!strict.rules.typ_accepted(Some("JWT")));
        assert!(!strict.rules.typ_accepted(None));
        assert!(!strict.rules.typ_accepted(Some("refresh+jwt")));
        assert!(lenient.rules.typ_accepted(Some("JWT")));
        assert!(lenient.rules.typ_accepted(None));
        assert!(!lenient.rules.typ_accepted(Some("refresh+jwt")));
    }

    /// A token over exactly these header and payload bytes, signed with
    /// the test secret.
    fn signed(header: &str, payload: &str) -> String {
        use hmac::{Hmac, KeyInit, Mac};
        let message = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(payload)
        );
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(SECRET).unwrap();
        mac.update(message.as_bytes());
        let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        format!("{message}.{signature}")
    }

    const HEADER: &str = r#"{"alg":"HS256","typ":"at+jwt"}"#;

    fn payload(extra: &str) -> String {
        let exp = unix_now() + 600;
        format!(r#"{{"sub":"u","iss":"iss","aud":"aud","exp":{exp}{extra}}}"#)
    }

    #[test]
    fn hand_signed_tokens_verify_with_every_audience_form() {
        let auth = jwt().compile().unwrap();
        let claims = auth.verify(&signed(HEADER, &payload(""))).unwrap();
        assert_eq!((claims.sub(), claims.roles().len()), ("u", 0));
        let exp = unix_now() + 600;
        let listed = format!(r#"{{"sub":"u","iss":"iss","aud":["x","aud"],"exp":{exp}}}"#);
        assert_eq!(
            auth.verify(&signed(HEADER, &listed))
                .unwrap()
                .aud()
                .collect::<Vec<_>>(),
            ["x", "aud"]
        );
        let other = format!(r#"{{"sub":"u","iss":"iss","aud":["x"],"exp":{exp}}}"#);
        assert_eq!(
            auth.verify(&signed(HEADER, &other)).err(),
            Some(TokenError::WrongAudience)
        );
    }

    #[test]
    fn missing_claims_are_told_from_malformed_ones() {
        let auth = jwt().compile().unwrap();
        let exp = unix_now() + 600;
        for payload in [
            format!(r#"{{"iss":"iss","aud":"aud","exp":{exp}}}"#),
            format!(r#"{{"sub":"u","aud":"aud","exp":{exp}}}"#),
            format!(r#"{{"sub":"u","iss":"iss","exp":{exp}}}"#),
            format!(r#"{{"sub":"u","iss":"iss","aud":null,"exp":{exp}}}"#),
            r#"{"sub":"u","iss":"iss","aud":"aud"}"#.to_owned(),
        ] {
            assert_eq!(
                auth.verify(&signed(HEADER, &payload)).err(),
                Some(TokenError::MissingClaim),
                "{payload}"
            );
        }
        for payload in [
            format!(r#"{{"sub":"u","iss":"iss","aud":"aud","exp":"{exp}"}}"#),
            format!(r#"{{"sub":"u","iss":"iss","aud":"aud","exp":-{exp}}}"#),
            format!(r#"{{"sub":"u","iss":"iss","aud":"aud","exp":{exp}e300}}"#),
            format!(r#"{{"sub":"u","iss":"iss","aud":7,"exp":{exp}}}"#),
            format!(r#"{{"sub":"","iss":"iss","aud":"aud","exp":{exp}}}"#),
            format!(r#"{{"sub":"u","sub":"v","iss":"iss","aud":"aud","exp":{exp}}}"#),
            payload(r#","roles":"admin""#),
            "[]".to_owned(),
            format!(r#"["u","iss","aud",{exp}]"#),
            "not json".to_owned(),
        ] {
            assert_eq!(
                auth.verify(&signed(HEADER, &payload)).err(),
                Some(TokenError::InvalidClaim),
                "{payload}"
            );
        }
    }

    #[test]
    fn null_claims_and_mistyped_registered_headers_are_malformed() {
        let auth = jwt().compile().unwrap();
        let exp = unix_now() + 600;
        for extra in [r#","nbf":null"#, r#","iat":null"#, r#","roles":null"#] {
            let payload = format!(r#"{{"sub":"u","iss":"iss","aud":"aud","exp":{exp}{extra}}}"#);
            assert_eq!(
                auth.verify(&signed(HEADER, &payload)).err(),
                Some(TokenError::InvalidClaim),
                "{extra}"
            );
        }
        let payload = format!(r#"{{"sub":"u","iss":"iss","aud":"aud","exp":{exp}}}"#);
        for header in [
            r#"{"alg":"HS256","typ":"at+jwt","jku":0}"#,
            r#"{"alg":"HS256","typ":"at+jwt","x5c":[1]}"#,
            r#"{"alg":"HS256","typ":"at+jwt","jwk":"k"}"#,
            r#"{"alg":"HS256","typ":"at+jwt","cty":"\ud800"}"#,
            r#"{"alg":"HS256","typ":"at+jwt","x-trace":"\uD800"}"#,
            r#"{"alg":"HS256","typ":"at+jwt","jwk":{"k":"\ud800"}}"#,
        ] {
            assert!(auth.verify(&signed(header, &payload)).is_err(), "{header}");
        }
        // Nor in a claim it skips.
        let odd = format!(r#"{{"sub":"u","iss":"iss","aud":"aud","exp":{exp},"x":["\ud800"]}}"#);
        assert_eq!(
            auth.verify(&signed(HEADER, &odd)).err(),
            Some(TokenError::InvalidClaim)
        );
        let escaped = format!(
            r#"{{"sub":"u","iss":"iss","aud":"aud","exp":{exp},"x":"\u00e9\ud83d\ude00"}}"#
        );
        assert!(auth.verify(&signed(HEADER, &escaped)).is_ok());
        // Parameters it does not know are ignored (RFC 7515 section 4).
        let header = r#"{"alg":"HS256","typ":"at+jwt","x-trace":{"id":[1,2]},"jku":"https://e"}"#;
        assert!(auth.verify(&signed(header, &payload)).is_ok());
    }

    #[test]
    fn only_lone_surrogate_escapes_break_unicode() {
        for (text, unicode) in [
            (r#"{"a":"plain"}"#, true),
            (r#"{"a":"\u00e9\uD83D\uDE00"}"#, true),
            (r#"{"a":"\\ud800"}"#, true),
            (r#"{"a":"x\"\\\u0041"}"#, true),
            (r#"{"a":"\ud800"}"#, false),
            (r#"{"a\udc00":1}"#, false),
            (r#"{"a":"\ud800\u0041"}"#, false),
            (r#"{"a":"\ud8"}"#, true),
        ] {
            assert_eq!(is_unicode_json(text), unicode, "{text}");
        }
    }

    #[test]
    fn non_integer_numeric_dates_are_valid() {
        let auth = jwt().compile().unwrap();
        let exp = unix_now() + 600;
        let payload =
            format!(r#"{{"sub":"u","iss":"iss","aud":"aud","exp":{exp}.75,"iat":1.5,"nbf":2.25}}"#);
        let claims = auth.verify(&signed(HEADER, &payload)).unwrap();
        assert_eq!(
            (claims.exp(), claims.iat(), claims.nbf()),
            (exp, Some(1), Some(3))
        );
        // Rounded the safe way: a fraction past the leeway is still late.
        let late = format!(
            r#"{{"sub":"u","iss":"iss","aud":"aud","exp":{}.99}}"#,
            unix_now() - 31
        );
        assert_eq!(
            auth.verify(&signed(HEADER, &late)).err(),
            Some(TokenError::Expired)
        );
    }

    #[test]
    fn time_claims_honour_the_leeway() {
        let auth = jwt().compile().unwrap();
        let now = unix_now();
        let at = |exp: u64, nbf: u64| {
            let payload =
                format!(r#"{{"sub":"u","iss":"iss","aud":"aud","exp":{exp},"nbf":{nbf}}}"#);
            auth.verify(&signed(HEADER, &payload)).err()
        };
        assert_eq!(at(now - 10, now - 100), None);
        assert_eq!(at(now - 40, now - 100), Some(TokenError::Expired));
        assert_eq!(at(now + 600, now + 10), None);
        assert_eq!(at(now + 600, now + 40), Some(TokenError::NotYetValid));
        assert_eq!(at(0, 0), Some(TokenError::Expired));
        assert_eq!(at(u64::MAX, 0), None);
    }

    #[test]
    fn a_header_must_be_an_object() {
        let auth = jwt().compile().unwrap();
        assert_eq!(
            auth.verify(&signed(r#"["HS256"]"#, &payload(""))).err(),
            Some(TokenError::Malformed)
        );
    }

    #[test]
    fn critical_extensions_are_refused() {
        let auth = jwt().compile().unwrap();
        let header = r#"{"alg":"HS256","typ":"at+jwt","crit":["b64"],"b64":false}"#;
        assert_eq!(
            auth.verify(&signed(header, &payload(""))).err(),
            Some(TokenError::Malformed)
        );
    }

    #[test]
    fn signatures_must_be_exact() {
        let auth = jwt().compile().unwrap();
        let token = signed(HEADER, &payload(""));
        let (message, signature) = token.rsplit_once('.').unwrap();
        let truncated = &signature[..signature.len() - 1];
        let mut flipped = signature.as_bytes().to_vec();
        flipped[0] = if flipped[0] == b'A' { b'B' } else { b'A' };
        let flipped = String::from_utf8(flipped).unwrap();
        // The last character carries 2 unused bits: setting them makes a
        // non-canonical encoding of the same bytes.
        let last = signature.as_bytes()[signature.len() - 1];
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let index = alphabet.iter().position(|&c| c == last).unwrap();
        let loose = format!(
            "{}{}",
            &signature[..signature.len() - 1],
            alphabet[index | 1] as char
        );
        for bad in [
            String::new(),
            truncated.to_owned(),
            flipped,
            format!("{signature}="),
            format!("{signature}AAAA"),
            "A".repeat(200),
            loose,
        ] {
            assert_eq!(
                auth.verify(&format!("{message}.{bad}")).err(),
                Some(TokenError::BadSignature),
                "{bad:?}"
            );
        }
        let other = Jwt::new(Key::hs384([9u8; 48]).unwrap())
            .issuer("iss")
            .audience("aud")
            .compile()
            .unwrap();
        assert_eq!(other.verify(&token).err(), Some(TokenError::WrongAlgorithm));
    }

    fn remembered(auth: &Authenticator) -> usize {
        auth.known_headers
            .iter()
            .filter(|s| s.get().is_some())
            .count()
    }

    #[test]
    fn a_remembered_header_still_has_its_signature_and_claims_checked() {
        let auth = jwt().compile().unwrap();
        assert_eq!(remembered(&auth), 0);
        assert!(auth.verify(&signed(HEADER, &payload(""))).is_ok());
        assert_eq!(remembered(&auth), 1);

        let token = signed(HEADER, &payload(""));
        let (message, _) = token.rsplit_once('.').unwrap();
        let forged = format!("{message}.{}", URL_SAFE_NO_PAD.encode([0u8; 32]));
        assert_eq!(auth.verify(&forged).err(), Some(TokenError::BadSignature));
        let expired = r#"{"sub":"u","iss":"iss","aud":"aud","exp":1}"#;
        assert_eq!(
            auth.verify(&signed(HEADER, expired)).err(),
            Some(TokenError::Expired)
        );
        let foreign = r#"{"sub":"u","iss":"other","aud":"aud","exp":99999999999}"#;
        assert_eq!(
            auth.verify(&signed(HEADER, foreign)).err(),
            Some(TokenError::WrongIssuer)
        );
        assert!(auth.verify(&signed(HEADER, &payload(""))).is_ok());
        assert_eq!(remembered(&auth), 1);
    }

    #[test]
    fn only_headers_of_tokens_that_verified_are_remembered_and_slots_are_bounded() {
        let auth = jwt().compile().unwrap();
        let wrong_typ = r#"{"alg":"HS256","typ":"JWT"}"#;
        for _ in 0..2 {
            assert_eq!(
                auth.verify(&signed(wrong_typ, &payload(""))).err(),
                Some(TokenError::WrongType)
            );
        }
        // A header that passes its checks on a token that fails later.
        let other = r#"{"alg":"HS256","typ":"at+jwt","x":1}"#;
        let expired = r#"{"sub":"u","iss":"iss","aud":"aud","exp":1}"#;
        assert_eq!(
            auth.verify(&signed(other, expired)).err(),
            Some(TokenError::Expired)
        );
        assert_eq!(remembered(&auth), 0);

        for i in 0..(KNOWN_HEADERS + 4) {
            let header = format!(r#"{{"alg":"HS256","typ":"at+jwt","n":{i}}}"#);
            assert!(auth.verify(&signed(&header, &payload(""))).is_ok());
            assert!(auth.verify(&signed(&header, &payload(""))).is_ok());
        }
        assert_eq!(remembered(&auth), KNOWN_HEADERS);
    }

    #[test]
    fn remembered_headers_keep_their_own_key() {
        let a = Key::hs256([1u8; 32]).unwrap().with_kid("a");
        let b = Key::hs256([2u8; 32]).unwrap().with_kid("b");
        let auth = Jwt::new(a)
            .verification_key(b)
            .issuer("iss")
            .audience("aud")
            .compile()
            .unwrap();
        let sign = |secret: [u8; 32], header: &str| {
            use hmac::{Hmac, KeyInit, Mac};
            let message = format!(
                "{}.{}",
                URL_SAFE_NO_PAD.encode(header),
                URL_SAFE_NO_PAD.encode(payload(""))
            );
            let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&secret).unwrap();
            mac.update(message.as_bytes());
            format!(
                "{message}.{}",
                URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
            )
        };
        let header_a = r#"{"alg":"HS256","typ":"at+jwt","kid":"a"}"#;
        let header_b = r#"{"alg":"HS256","typ":"at+jwt","kid":"b"}"#;
        for _ in 0..2 {
            assert!(auth.verify(&sign([1u8; 32], header_a)).is_ok());
            assert!(auth.verify(&sign([2u8; 32], header_b)).is_ok());
            assert_eq!(
                auth.verify(&sign([2u8; 32], header_a)).err(),
                Some(TokenError::BadSignature)
            );
            assert_eq!(
                auth.verify(&sign([1u8; 32], header_b)).err(),
                Some(TokenError::BadSignature)
            );
        }
        assert_eq!(remembered(&auth), 2);
    }

    #[test]
    fn segments_longer_than_the_stack_buffers_decode_on_the_heap() {
        let auth = jwt().compile().unwrap();
        let long_header = format!(
            r#"{{"alg":"HS256","typ":"at+jwt","note":"{}"}}"#,
            "h".repeat(300)
        );
        let long_claim = format!(r#","note":"{}""#, "p".repeat(3000));
        let claims = auth
            .verify(&signed(&long_header, &payload(&long_claim)))
            .unwrap();
        assert_eq!(claims.sub(), "u");
        // Headers this long are parsed every time rather than remembered.
        assert_eq!(remembered(&auth), 0);
        let long_foreign = format!(
            r#"{{"alg":"HS256","typ":"JWT","note":"{}"}}"#,
            "h".repeat(300)
        );
        assert_eq!(
            auth.verify(&signed(&long_foreign, &payload(""))).err(),
            Some(TokenError::WrongType)
        );
    }
}
