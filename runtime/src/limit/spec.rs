use std::fmt;

use http::HeaderValue;
use http::request::Parts;

use super::Rate;
use crate::shared::limit::{KEY_HEADER, KEY_IP, KEY_USER, KEY_WITH};

/// One `#[rate_limit]` of one handler, as the macro wrote it down.
#[derive(Debug, Clone, Copy)]
pub struct LimitSpec {
    /// The identity of its state: the handler path and the limit's position
    /// for an inline limit (each handler counts on its own), the policy
    /// name for a named one (every handler naming it shares one count).
    pub id: &'static str,
    /// The name shown in the `RateLimit` headers and the manifest.
    pub name: &'static str,
    /// This limit's `RateLimit-Policy` item, written by the macro for an
    /// inline rate (`""` for a named one, whose rate is known at start-up).
    pub policy_field: &'static str,
    /// `policy_field` as a header value, built while the program compiles
    /// (`None` for a named rate): the `RateLimit-Policy` field of a handler
    /// with this one limit costs a request no check of its bytes.
    pub policy_header: Option<fn() -> HeaderValue>,
    /// The rate: written in the attribute, or named in the builder.
    pub rate: RateSpec,
    /// Who is counted.
    pub key: KeySpec,
    /// Which responses give their slot back.
    pub skip: Skip,
}

/// Where a limit's rate comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateSpec {
    /// `#[rate_limit(5, "15m")]`.
    Inline(Rate),
    /// `#[rate_limit("login")]`: the rate given to
    /// [`WardenBuilder::limit_policy`](crate::WardenBuilder::limit_policy).
    Named(&'static str),
}

/// Who a limit counts.
#[derive(Clone, Copy)]
pub enum KeySpec {
    /// The client address (the default): see [`ClientIp`](crate::http::ClientIp).
    Ip,
    /// The authenticated subject (`sub`); only on `#[protected]` handlers.
    User,
    /// The value of a request header (an API key, say); requests without it
    /// are counted by client address.
    Header(&'static str),
    /// A function of the request; `None` counts by client address.
    Custom(fn(&Parts) -> Option<String>),
}

impl KeySpec {
    /// Whether the key is known only after authentication.
    pub fn after_authentication(&self) -> bool {
        matches!(self, Self::User)
    }

    /// `ip`, `user`, `header(..)` or `with`, as the attribute spells it.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Ip => KEY_IP,
            Self::User => KEY_USER,
            Self::Header(_) => KEY_HEADER,
            Self::Custom(_) => KEY_WITH,
        }
    }
}

impl fmt::Debug for KeySpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Header(name) => write!(f, "Header({name:?})"),
            other => f.write_str(match other {
                Self::Ip => "Ip",
                Self::User => "User",
                _ => "Custom",
            }),
        }
    }
}

/// Which responses give their slot back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    /// Every admitted request counts.
    Nothing,
    /// `skip_successful`: responses under 400 give their slot back, so only
    /// failures count (brute-force protection for logins).
    Successful,
    /// `skip_failed`: responses of 400 and over give their slot back.
    Failed,
}

impl Skip {
    /// Whether a response with this status gives its slot back.
    pub fn refunds(self, status: http::StatusCode) -> bool {
        let success = status.as_u16() < 400;
        match self {
            Self::Nothing => false,
            Self::Successful => success,
            Self::Failed => !success,
        }
    }
}
