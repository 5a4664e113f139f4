use std::fmt;
use std::time::Duration;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use super::refresh::SessionId;
use super::role::Role;

/// The verified claims of an access token.
///
/// `sub`, `iss`, `aud` and `exp` are always present on a verified token;
/// `roles` is the array warden puts in the tokens it issues and `scope` the
/// space-separated scope list of RFC 9068. Other claims are read with a
/// custom claims type in [`Auth<C>`](super::Auth).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The subject: who the token was issued to.
    pub sub: String,
    /// The issuer.
    pub iss: String,
    /// The audiences (a single string or an array in the token).
    #[serde(
        deserialize_with = "one_or_many",
        serialize_with = "serialize_audience"
    )]
    pub aud: Vec<String>,
    /// Expiry, in seconds since the Unix epoch (a fractional NumericDate is
    /// rounded down: the token ends no later than it says).
    #[serde(deserialize_with = "numeric_date_down")]
    pub exp: u64,
    /// Issue time, in seconds since the Unix epoch (rounded down).
    #[serde(
        default,
        deserialize_with = "optional_date_down",
        skip_serializing_if = "Option::is_none"
    )]
    pub iat: Option<u64>,
    /// Not-before time, in seconds since the Unix epoch (a fractional
    /// NumericDate is rounded up: the token starts no earlier than it says).
    #[serde(
        default,
        deserialize_with = "optional_date_up",
        skip_serializing_if = "Option::is_none"
    )]
    pub nbf: Option<u64>,
    /// The token's unique id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    /// The roles granted to the subject.
    #[serde(default)]
    pub roles: Vec<String>,
    /// The space-separated scopes granted (RFC 9068 section 2.2.3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// The session the token belongs to (`sid`, as in OpenID Connect): the
    /// refresh-token family of the sign-in that issued it. Set by
    /// [`Warden::sign_in`](crate::Warden::sign_in) and
    /// [`Warden::resume`](crate::Warden::resume); read with
    /// [`Claims::session`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
}

impl Claims {
    /// Whether the token grants `role`.
    pub fn has_role<R: Role + ?Sized>(&self, role: &R) -> bool {
        self.has_role_name(role.as_str())
    }

    /// Whether the token grants the role spelt `name` in tokens.
    pub fn has_role_name(&self, name: &str) -> bool {
        self.roles.iter().any(|r| r == name)
    }

    /// Whether the token grants `scope`.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes().any(|s| s == scope)
    }

    /// The scopes the token grants.
    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        self.scope.as_deref().unwrap_or("").split_ascii_whitespace()
    }

    /// The roles the token grants that the application's role type `R`
    /// knows; names it does not know are skipped.
    pub fn roles_of<R: Role>(&self) -> impl Iterator<Item = R> + '_ {
        self.roles.iter().filter_map(|name| R::from_name(name))
    }

    /// The session (refresh-token family) the token belongs to, from its
    /// `sid` claim: what [`Warden::sign_out`](crate::Warden::sign_out) ends.
    pub fn session(&self) -> Option<SessionId> {
        self.sid.clone().map(SessionId)
    }
}

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

fn numeric_date_down<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    required_date(deserializer)?.ok_or_else(|| de::Error::custom("a NumericDate is required"))
}

fn serialize_audience<S: Serializer>(aud: &[String], serializer: S) -> Result<S::Ok, S::Error> {
    match aud {
        [one] => serializer.serialize_str(one),
        many => many.serialize(serializer),
    }
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
    use super::*;

    #[test]
    fn audience_is_one_string_or_many() {
        let one: Claims =
            serde_json::from_str(r#"{"sub":"s","iss":"i","aud":"a","exp":1}"#).unwrap();
        assert_eq!(one.aud, ["a"]);
        let many: Claims =
            serde_json::from_str(r#"{"sub":"s","iss":"i","aud":["a","b"],"exp":1}"#).unwrap();
        assert_eq!(many.aud, ["a", "b"]);
        assert!(
            serde_json::from_str::<Claims>(r#"{"sub":"s","iss":"i","aud":3,"exp":1}"#).is_err()
        );
        // RFC 7519: a NumericDate may be non-integer; it is read safely.
        let fractional: Claims = serde_json::from_str(
            r#"{"sub":"s","iss":"i","aud":"a","exp":100.9,"iat":5.5,"nbf":7.1}"#,
        )
        .unwrap();
        assert_eq!(
            (fractional.exp, fractional.iat, fractional.nbf),
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
