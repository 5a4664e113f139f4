//! Authentication: JWT keys and verification, claims, roles, the `Auth`
//! extractor and the guard behind `#[protected]`.

mod cache;
pub(crate) mod claims;
mod error;
mod extract;
pub(crate) mod jwt;
mod key;
mod payload;
pub mod refresh;
mod role;
mod session;

pub use cache::{DEFAULT_TOKEN_CACHE, MAX_CACHED_TOKEN_BYTES};
pub use claims::{AccessClaims, Claims, IssuedAccessToken};
pub use error::{AuthRejection, IssueError, JwtConfigError, KeyError, TokenError};
pub use extract::{Auth, Decision};
pub(crate) use extract::{Verified, authenticate, authenticate_at_once};
pub use jwt::{
    ACCESS_TOKEN_TYP, DEFAULT_ACCESS_TTL, DEFAULT_LEEWAY, DEFAULT_MAX_TOKEN_BYTES, Jwt, MAX_LEEWAY,
};
pub use key::{Key, MIN_RSA_BITS};
pub use role::Role;
pub use session::{Session, SessionError};

pub(crate) use jwt::Authenticator;
