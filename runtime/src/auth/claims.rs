use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;
use std::time::Duration;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::ser::SerializeStruct;
use serde::{Deserialize, Serialize, Serializer};
use smallvec::SmallVec;

use super::refresh::SessionId;
use super::role::Role;

/// The verified claims of an access token.
///
/// `sub`, `iss`, `aud` and `exp` are always present on a verified token;
/// `roles` is the array warden puts in the tokens it issues and `scope` the
/// space-separated scope list of RFC 9068. Other claims are read with a
/// custom claims type in [`Auth<C>`](super::Auth).
///
/// Each registered claim is read by the method of its name. The strings
/// are kept together, in one allocation, as the verifier read them:
/// reading a token's claims costs one allocation, not one per claim.
///
/// ```
/// use warden::auth::{AccessClaims, Jwt, Key};
///
/// #[derive(Clone, Copy, warden::Role)]
/// enum Role { Admin, User }
///
/// let warden = warden::Warden::builder()
///     .jwt(Jwt::new(Key::hs256(b"a secret of at least thirty-two bytes")?).issuer("api").audience("api"))
///     .build()?;
/// let token = warden.issue_access_token(&AccessClaims::new("user-42").roles([Role::User]))?;
/// let claims = warden.verify_access_token(&token.token)?;
/// assert_eq!(claims.sub(), "user-42");
/// assert_eq!(claims.iss(), "api");
/// assert!(claims.aud().eq(["api"]));
/// assert!(claims.has_role(&Role::User) && !claims.has_role(&Role::Admin));
/// assert_eq!(claims.jti(), Some(token.jti.as_str()));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Claims {
    /// Every string claim, one after the other.
    text: Box<str>,
    sub: Span,
    iss: Span,
    jti: Option<Span>,
    scope: Option<Span>,
    sid: Option<Span>,
    /// The audiences, then the roles.
    lists: SmallVec<[Span; 4]>,
    audiences: usize,
    exp: u64,
    iat: Option<u64>,
    nbf: Option<u64>,
}

/// Where one string claim lies in [`Claims::text`].
#[derive(Clone, Copy, PartialEq, Eq)]
struct Span {
    start: usize,
    end: usize,
}

impl Claims {
    /// The claims of a payload, or `None` when `sub`, `iss`, `aud` or
    /// `exp` is missing. Every string is copied into one buffer.
    pub(crate) fn from_payload(payload: &Payload<'_>) -> Option<Self> {
        let (sub, iss, aud, exp) = (
            payload.sub.as_ref()?,
            payload.iss.as_ref()?,
            payload.aud.as_ref()?,
            payload.exp?,
        );
        let roles: &[Text<'_>] = payload.roles.as_ref().map_or(&[], |roles| &roles.0);
        let optional = [&payload.jti, &payload.scope, &payload.sid];
        let len = [sub, iss]
            .into_iter()
            .chain(&aud.0)
            .chain(roles)
            .map(|t| t.len())
            .sum::<usize>()
            + optional
                .iter()
                .filter_map(|t| t.as_ref())
                .map(|t| t.len())
                .sum::<usize>();
        let mut text = String::with_capacity(len);
        let mut push = |value: &str| {
            let start = text.len();
            text.push_str(value);
            Span {
                start,
                end: text.len(),
            }
        };
        let (sub, iss) = (push(sub), push(iss));
        let lists = aud.0.iter().chain(roles).map(|t| push(t)).collect();
        let [jti, scope, sid] = optional.map(|t| t.as_deref().map(&mut push));
        Some(Self {
            text: text.into_boxed_str(),
            sub,
            iss,
            jti,
            scope,
            sid,
            lists,
            audiences: aud.0.len(),
            exp,
            iat: payload.iat,
            nbf: payload.nbf,
        })
    }

    fn at(&self, span: Span) -> &str {
        &self.text[span.start..span.end]
    }

    /// The subject: who the token was issued to.
    pub fn sub(&self) -> &str {
        self.at(self.sub)
    }

    /// The issuer.
    pub fn iss(&self) -> &str {
        self.at(self.iss)
    }

    /// The audiences (a single string or an array in the token).
    pub fn aud(&self) -> impl ExactSizeIterator<Item = &str> + Clone + '_ {
        self.lists[..self.audiences]
            .iter()
            .map(|span| self.at(*span))
    }

    /// Expiry, in seconds since the Unix epoch (a fractional NumericDate is
    /// rounded down: the token ends no later than it says).
    pub fn exp(&self) -> u64 {
        self.exp
    }

    /// Issue time, in seconds since the Unix epoch (rounded down).
    pub fn iat(&self) -> Option<u64> {
        self.iat
    }

    /// Not-before time, in seconds since the Unix epoch (a fractional
    /// NumericDate is rounded up: the token starts no earlier than it says).
    pub fn nbf(&self) -> Option<u64> {
        self.nbf
    }

    /// The token's unique id.
    pub fn jti(&self) -> Option<&str> {
        self.jti.map(|span| self.at(span))
    }

    /// The roles granted to the subject, as spelt in the token.
    pub fn roles(&self) -> impl ExactSizeIterator<Item = &str> + Clone + '_ {
        self.lists[self.audiences..]
            .iter()
            .map(|span| self.at(*span))
    }

    /// The space-separated scopes granted (RFC 9068 section 2.2.3), as
    /// written; see [`scopes`](Self::scopes) for each one.
    pub fn scope(&self) -> Option<&str> {
        self.scope.map(|span| self.at(span))
    }

    /// The session the token belongs to (`sid`, as in OpenID Connect): the
    /// refresh-token family of the sign-in that issued it. Set by
    /// warden on the tokens of a session; see [`Claims::session`].
    pub fn sid(&self) -> Option<&str> {
        self.sid.map(|span| self.at(span))
    }

    /// Whether the token grants `role`.
    pub fn has_role<R: Role + ?Sized>(&self, role: &R) -> bool {
        self.has_role_name(role.as_str())
    }

    /// Whether the token grants the role spelt `name` in tokens.
    pub fn has_role_name(&self, name: &str) -> bool {
        self.roles().any(|r| r == name)
    }

    /// Whether the token grants `scope`.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes().any(|s| s == scope)
    }

    /// The scopes the token grants.
    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        self.scope().unwrap_or("").split_ascii_whitespace()
    }

    /// The roles the token grants that the application's role type `R`
    /// knows; names it does not know are skipped.
    pub fn roles_of<'a, R: Role + 'a>(&'a self) -> impl Iterator<Item = R> + 'a {
        self.roles().filter_map(R::from_name)
    }

    /// The session (refresh-token family) the token belongs to, from its
    /// `sid` claim: what [`Warden::sign_out`](crate::Warden::sign_out) ends.
    pub fn session(&self) -> Option<SessionId> {
        self.sid().map(|sid| SessionId(sid.to_owned()))
    }
}

impl fmt::Debug for Claims {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Claims")
            .field("sub", &self.sub())
            .field("iss", &self.iss())
            .field("aud", &Listed(self.aud()))
            .field("exp", &self.exp)
            .field("iat", &self.iat)
            .field("nbf", &self.nbf)
            .field("jti", &self.jti())
            .field("roles", &Listed(self.roles()))
            .field("scope", &self.scope())
            .field("sid", &self.sid())
            .finish()
    }
}

/// Strings shown, or serialized, as a list.
struct Listed<I>(I);

impl<'s, I: Iterator<Item = &'s str> + Clone> fmt::Debug for Listed<I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.0.clone()).finish()
    }
}

impl<'s, I: Iterator<Item = &'s str> + Clone> Serialize for Listed<I> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.clone())
    }
}

/// As a JWT claims set: `aud` a string when there is one audience, the
/// optional claims left out when absent.
impl Serialize for Claims {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let optional = [
            self.iat.is_some(),
            self.nbf.is_some(),
            self.jti.is_some(),
            self.scope.is_some(),
            self.sid.is_some(),
        ];
        let fields = 5 + optional.iter().filter(|present| **present).count();
        let mut map = serializer.serialize_struct("Claims", fields)?;
        map.serialize_field("sub", self.sub())?;
        map.serialize_field("iss", self.iss())?;
        match self.audiences {
            1 => map.serialize_field("aud", &self.at(self.lists[0]))?,
            _ => map.serialize_field("aud", &Listed(self.aud()))?,
        }
        map.serialize_field("exp", &self.exp)?;
        if let Some(iat) = self.iat {
            map.serialize_field("iat", &iat)?;
        }
        if let Some(nbf) = self.nbf {
            map.serialize_field("nbf", &nbf)?;
        }
        if let Some(jti) = self.jti() {
            map.serialize_field("jti", jti)?;
        }
        map.serialize_field("roles", &Listed(self.roles()))?;
        if let Some(scope) = self.scope() {
            map.serialize_field("scope", scope)?;
        }
        if let Some(sid) = self.sid() {
            map.serialize_field("sid", sid)?;
        }
        map.end()
    }
}

/// Read as the verifier reads a payload (without its checks): `sub`,
/// `iss`, `aud` and `exp` required.
impl<'de> Deserialize<'de> for Claims {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let payload = Payload::deserialize(deserializer)?;
        Self::from_payload(&payload)
            .ok_or_else(|| de::Error::custom("`sub`, `iss`, `aud` and `exp` are required"))
    }
}

/// The payload as sent: every registered claim optional, so that a
/// missing one is told apart from a malformed one, and every string
/// borrowed from the decoded JSON unless it holds an escape. Unknown
/// claims are skipped here and read by `Auth<C>` for custom claim types.
#[derive(Deserialize, Default, Debug, PartialEq)]
pub(crate) struct Payload<'a> {
    #[serde(borrow, default)]
    pub(crate) sub: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub(crate) iss: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub(crate) aud: Option<Audience<'a>>,
    #[serde(default, deserialize_with = "required_date")]
    pub(crate) exp: Option<u64>,
    #[serde(default, deserialize_with = "optional_date_down")]
    pub(crate) iat: Option<u64>,
    #[serde(default, deserialize_with = "optional_date_up")]
    pub(crate) nbf: Option<u64>,
    #[serde(borrow, default)]
    pub(crate) jti: Option<Text<'a>>,
    #[serde(borrow, default, deserialize_with = "present")]
    pub(crate) roles: Option<Roles<'a>>,
    #[serde(borrow, default)]
    pub(crate) scope: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub(crate) sid: Option<Text<'a>>,
}

/// A JSON string, borrowed from the input unless it holds an escape.
#[derive(Debug, PartialEq)]
pub(crate) struct Text<'a>(pub(crate) Cow<'a, str>);

impl std::ops::Deref for Text<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

struct TextVisitor;

impl<'de> Visitor<'de> for TextVisitor {
    type Value = Text<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }
    fn visit_borrowed_str<E: de::Error>(self, value: &'de str) -> Result<Self::Value, E> {
        Ok(Text(Cow::Borrowed(value)))
    }
    fn visit_str<E: de::Error>(self, value: &str) -> Result<Self::Value, E> {
        Ok(Text(Cow::Owned(value.to_owned())))
    }
    fn visit_string<E: de::Error>(self, value: String) -> Result<Self::Value, E> {
        Ok(Text(Cow::Owned(value)))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(TextVisitor)
    }
}

/// `aud`: one string or an array of strings.
#[derive(Debug, PartialEq)]
pub(crate) struct Audience<'a>(pub(crate) SmallVec<[Text<'a>; 2]>);

impl<'de: 'a, 'a> Deserialize<'de> for Audience<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer
            .deserialize_any(Strings::<'a>::new(true))
            .map(Audience)
    }
}

/// `roles`: an array of strings.
#[derive(Debug, PartialEq)]
pub(crate) struct Roles<'a>(pub(crate) SmallVec<[Text<'a>; 2]>);

impl<'de: 'a, 'a> Deserialize<'de> for Roles<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer
            .deserialize_seq(Strings::<'a>::new(false))
            .map(Roles)
    }
}

/// Reads an array of strings, and when `one` is set a lone string too.
struct Strings<'a> {
    one: bool,
    text: PhantomData<Text<'a>>,
}

impl Strings<'_> {
    fn new(one: bool) -> Self {
        Self {
            one,
            text: PhantomData,
        }
    }

    fn lone<'a, E: de::Error>(&self, text: Text<'a>) -> Result<SmallVec<[Text<'a>; 2]>, E> {
        if self.one {
            Ok(smallvec::smallvec![text])
        } else {
            Err(E::invalid_type(de::Unexpected::Str(&text), self))
        }
    }
}

impl<'de: 'a, 'a> Visitor<'de> for Strings<'a> {
    type Value = SmallVec<[Text<'a>; 2]>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.one {
            "a string or an array of strings"
        } else {
            "an array of strings"
        })
    }
    fn visit_borrowed_str<E: de::Error>(self, value: &'de str) -> Result<Self::Value, E> {
        self.lone(Text(Cow::Borrowed(value)))
    }
    fn visit_str<E: de::Error>(self, value: &str) -> Result<Self::Value, E> {
        self.lone(Text(Cow::Owned(value.to_owned())))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = SmallVec::new();
        while let Some(item) = seq.next_element::<Text<'a>>()? {
            out.push(item);
        }
        Ok(out)
    }
}

#[cfg(feature = "oidc")]
fn one_or_many<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    struct OneOrMany;
    impl<'de> Visitor<'de> for OneOrMany {
        type Value = Vec<String>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a string or an array of strings")
        }
        fn visit_str<E: de::Error>(self, value: &str) -> Result<Self::Value, E> {
            Ok(vec![value.to_owned()])
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(1).min(16));
            while let Some(item) = seq.next_element::<String>()? {
                out.push(item);
            }
            Ok(out)
        }
    }
    deserializer.deserialize_any(OneOrMany)
}

/// `aud` where it may be absent or `null`: `None` then, so that the
/// verifier reports a missing claim rather than a malformed one.
#[cfg(feature = "oidc")]
pub(crate) fn optional_audience<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Vec<String>>, D::Error> {
    struct Optional;
    impl<'de> Visitor<'de> for Optional {
        type Value = Option<Vec<String>>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a string, an array of strings, or null")
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            one_or_many(d).map(Some)
        }
    }
    deserializer.deserialize_option(Optional)
}

/// An RFC 7519 NumericDate: seconds since the epoch, "possibly non-integer"
/// (section 2). Whole seconds are kept as they are; a fraction is rounded
/// down or up, whichever is the safer reading of the claim. Negative,
/// non-finite and out-of-range values are malformed, and so is `null`
/// (absent is absent; `null` is no date), except for a required claim,
/// where it reads as missing.
struct NumericDate {
    round_up: bool,
    null_is_absent: bool,
}

impl<'de> Visitor<'de> for NumericDate {
    type Value = Option<u64>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a NumericDate (seconds since the epoch), or null")
    }
    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Self::Value, E> {
        Ok(Some(value))
    }
    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Self::Value, E> {
        u64::try_from(value)
            .map(Some)
            .map_err(|_| E::custom("a NumericDate cannot be negative"))
    }
    fn visit_f64<E: de::Error>(self, value: f64) -> Result<Self::Value, E> {
        let rounded = if self.round_up {
            value.ceil()
        } else {
            value.floor()
        };
        // 2^64 is exactly representable; anything at or over it is not a u64.
        if rounded.is_finite() && (0.0..18_446_744_073_709_551_616.0).contains(&rounded) {
            Ok(Some(rounded as u64))
        } else {
            Err(E::custom("a NumericDate out of range"))
        }
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        self.visit_unit()
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        if self.null_is_absent {
            Ok(None)
        } else {
            Err(E::custom("a NumericDate cannot be null"))
        }
    }
}

/// `exp`: required, so `null` reads as missing (the verifier tells a
/// missing claim from a malformed one).
pub(crate) fn required_date<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<u64>, D::Error> {
    deserializer.deserialize_any(NumericDate {
        round_up: false,
        null_is_absent: true,
    })
}

/// `iat`, rounded down.
pub(crate) fn optional_date_down<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<u64>, D::Error> {
    deserializer.deserialize_any(NumericDate {
        round_up: false,
        null_is_absent: false,
    })
}

/// `nbf`, rounded up.
pub(crate) fn optional_date_up<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<u64>, D::Error> {
    deserializer.deserialize_any(NumericDate {
        round_up: true,
        null_is_absent: false,
    })
}

/// A claim that may be absent (`#[serde(default)]`) but, when present, is
/// a value of its type: `null` is malformed, not absent.
pub(super) fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<T>, D::Error> {
    T::deserialize(deserializer).map(Some)
}

/// What to put in an access token: built by the application at login and
/// signed with [`Warden::issue_access_token`](crate::Warden::issue_access_token).
///
/// ```
/// use warden::auth::AccessClaims;
///
/// #[derive(Clone, Copy, warden::Role)]
/// enum Role { Admin, User }
///
/// let token = AccessClaims::new("user-42")
///     .roles([Role::User])
///     .scopes(["reports:read"])
///     .claim("tenant", "acme")?;
/// # Ok::<(), warden::auth::IssueError>(())
/// ```
#[derive(Debug, Clone)]
pub struct AccessClaims {
    pub(crate) subject: String,
    pub(crate) roles: Vec<String>,
    pub(crate) scopes: Vec<String>,
    pub(crate) extra: serde_json::Map<String, serde_json::Value>,
    pub(crate) ttl: Option<Duration>,
    /// The `sid` claim: set by warden when it issues the token of a
    /// session, never by the application.
    pub(crate) session: Option<SessionId>,
}

/// Claims warden sets itself; custom claims cannot replace them.
pub(crate) const RESERVED_CLAIMS: &[&str] = &[
    "sub", "iss", "aud", "exp", "iat", "nbf", "jti", "roles", "scope", "sid",
];

impl AccessClaims {
    /// A token for `subject` with no roles and no scopes.
    pub fn new(subject: impl Into<String>) -> Self {
        Self {
            subject: subject.into(),
            roles: Vec::new(),
            scopes: Vec::new(),
            extra: serde_json::Map::new(),
            ttl: None,
            session: None,
        }
    }

    /// Grants roles of the application's role type.
    pub fn roles<R: Role>(mut self, roles: impl IntoIterator<Item = R>) -> Self {
        self.roles
            .extend(roles.into_iter().map(|r| r.as_str().to_owned()));
        self
    }

    /// Grants scopes.
    pub fn scopes<S: Into<String>>(mut self, scopes: impl IntoIterator<Item = S>) -> Self {
        self.scopes.extend(scopes.into_iter().map(Into::into));
        self
    }

    /// Adds a custom claim. The registered claims warden manages (`sub`,
    /// `iss`, `aud`, `exp`, `iat`, `nbf`, `jti`, `roles`, `scope`, `sid`) are
    /// refused.
    pub fn claim(mut self, name: &str, value: impl Serialize) -> Result<Self, super::IssueError> {
        if RESERVED_CLAIMS.contains(&name) {
            return Err(super::IssueError::ReservedClaim(name.to_owned()));
        }
        let value = serde_json::to_value(value).map_err(|_| super::IssueError::InvalidClaims)?;
        self.extra.insert(name.to_owned(), value);
        Ok(self)
    }

    /// Overrides the configured lifetime for this token.
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = Some(ttl);
        self
    }

    /// The subject the token is for.
    pub fn subject(&self) -> &str {
        &self.subject
    }
}

/// A freshly signed access token.
///
/// Its `Debug` output never shows the token itself.
#[derive(Clone)]
pub struct IssuedAccessToken {
    /// The compact JWT.
    pub token: String,
    /// The token's `jti`.
    pub jti: String,
    /// Seconds until it expires.
    pub expires_in: u64,
}

impl fmt::Debug for IssuedAccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedAccessToken")
            .field("token", &"[redacted]")
            .field("jti", &self.jti)
            .field("expires_in", &self.expires_in)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn audience_is_one_string_or_many() {
        let one: Claims =
            serde_json::from_str(r#"{"sub":"s","iss":"i","aud":"a","exp":1}"#).unwrap();
        assert!(one.aud().eq(["a"]));
        let many: Claims =
            serde_json::from_str(r#"{"sub":"s","iss":"i","aud":["a","b"],"exp":1}"#).unwrap();
        assert!(many.aud().eq(["a", "b"]));
        assert!(
            serde_json::from_str::<Claims>(r#"{"sub":"s","iss":"i","aud":3,"exp":1}"#).is_err()
        );
        // RFC 7519: a NumericDate may be non-integer; it is read safely.
        let fractional: Claims = serde_json::from_str(
            r#"{"sub":"s","iss":"i","aud":"a","exp":100.9,"iat":5.5,"nbf":7.1}"#,
        )
        .unwrap();
        assert_eq!(
            (fractional.exp(), fractional.iat(), fractional.nbf()),
            (100, Some(5), Some(8))
        );
        for bad in ["-1", "1e300", "\"100\"", "-0.5e3"] {
            let json = format!(r#"{{"sub":"s","iss":"i","aud":"a","exp":{bad}}}"#);
            assert!(serde_json::from_str::<Claims>(&json).is_err(), "{bad}");
        }
        assert!(
            serde_json::from_str::<Claims>(r#"{"sub":"s","iss":"i","aud":"a","exp":null}"#)
                .is_err()
        );
        assert_eq!(serde_json::to_value(&one).unwrap()["aud"], "a");
        assert_eq!(
            serde_json::to_value(&many).unwrap()["aud"],
            json!(["a", "b"])
        );
    }

    #[test]
    fn every_claim_reads_back_from_the_one_buffer() {
        // Escaped strings are unescaped (owned), the others borrowed from
        // the input: both read back the same way.
        let json = r#"{"sub":"s\u00e9\"q","iss":"i","aud":["a1","a\/2"],"exp":9,
            "iat":1,"nbf":2,"jti":"j","roles":["admin","user\tx"],
            "scope":"r w","sid":"f","tenant":"skipped"}"#;
        let claims: Claims = serde_json::from_str(json).unwrap();
        assert_eq!(claims.sub(), "sé\"q");
        assert_eq!(claims.iss(), "i");
        assert_eq!(claims.aud().collect::<Vec<_>>(), ["a1", "a/2"]);
        assert_eq!(
            (claims.exp(), claims.iat(), claims.nbf()),
            (9, Some(1), Some(2))
        );
        assert_eq!(claims.jti(), Some("j"));
        assert_eq!(claims.roles().collect::<Vec<_>>(), ["admin", "user\tx"]);
        assert!(claims.has_role_name("admin") && !claims.has_role_name("user"));
        assert_eq!(claims.scope(), Some("r w"));
        assert_eq!(claims.scopes().collect::<Vec<_>>(), ["r", "w"]);
        assert_eq!(claims.sid(), Some("f"));
        assert_eq!(claims.session().map(|s| s.0), Some("f".to_owned()));
        // Serialized as a claims set, and read back equal.
        let value = serde_json::to_value(&claims).unwrap();
        assert_eq!(
            value,
            json!({"sub":"sé\"q","iss":"i","aud":["a1","a/2"],"exp":9,"iat":1,"nbf":2,
                "jti":"j","roles":["admin","user\tx"],"scope":"r w","sid":"f"})
        );
        assert_eq!(serde_json::from_value::<Claims>(value).unwrap(), claims);
        assert_eq!(
            format!("{claims:?}"),
            r#"Claims { sub: "sé\"q", iss: "i", aud: ["a1", "a/2"], exp: 9, iat: Some(1), nbf: Some(2), jti: Some("j"), roles: ["admin", "user\tx"], scope: Some("r w"), sid: Some("f") }"#
        );
        // The optional ones absent: left out, and `roles` empty.
        let bare: Claims =
            serde_json::from_str(r#"{"sub":"s","iss":"i","aud":"a","exp":1}"#).unwrap();
        assert_eq!(
            (bare.jti(), bare.scope(), bare.sid(), bare.iat(), bare.nbf()),
            (None, None, None, None, None)
        );
        assert_eq!(bare.roles().len(), 0);
        assert_eq!(
            serde_json::to_value(&bare).unwrap(),
            json!({"sub":"s","iss":"i","aud":"a","exp":1,"roles":[]})
        );
        // A required claim missing, or a claim of the wrong type, is refused.
        for bad in [
            r#"{"iss":"i","aud":"a","exp":1}"#,
            r#"{"sub":"s","aud":"a","exp":1}"#,
            r#"{"sub":"s","iss":"i","exp":1}"#,
            r#"{"sub":"s","iss":"i","aud":"a"}"#,
            r#"{"sub":1,"iss":"i","aud":"a","exp":1}"#,
            r#"{"sub":"s","iss":"i","aud":["a",1],"exp":1}"#,
            r#"{"sub":"s","iss":"i","aud":"a","exp":1,"roles":"admin"}"#,
            r#"{"sub":"s","iss":"i","aud":"a","exp":1,"roles":null}"#,
            r#"{"sub":"s","iss":"i","aud":"a","exp":1,"jti":7}"#,
        ] {
            assert!(serde_json::from_str::<Claims>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn scopes_are_space_separated() {
        let claims: Claims = serde_json::from_str(
            r#"{"sub":"s","iss":"i","aud":"a","exp":1,"scope":"reports:read  users:write"}"#,
        )
        .unwrap();
        assert!(claims.has_scope("reports:read"));
        assert!(claims.has_scope("users:write"));
        assert!(!claims.has_scope("reports"));
        assert!(!claims.has_scope(""));
    }

    #[test]
    fn reserved_claims_cannot_be_overridden() {
        for name in RESERVED_CLAIMS {
            assert!(AccessClaims::new("s").claim(name, 1).is_err(), "{name}");
        }
        assert!(AccessClaims::new("s").claim("tenant", "acme").is_ok());
    }

    #[test]
    fn issued_token_debug_is_redacted() {
        let issued = IssuedAccessToken {
            token: "eyJsecret".into(),
            jti: "j".into(),
            expires_in: 900,
        };
        assert!(!format!("{issued:?}").contains("eyJsecret"));
    }
}
