//! OpenID Connect (feature `oidc`): sign-in through providers such as
//! Google, and trust in external issuers' access tokens.
//!
//! - [`SignIn`] serves the authorization code flow with every protection
//!   on (PKCE S256, a browser-bound single-use `state`, a `nonce`, a fully
//!   verified ID token) and hands the application a verified
//!   [`Identity`].
//! - [`TrustedIssuer`] lets [`Jwt`](crate::auth::Jwt) accept access
//!   tokens of Auth0, Keycloak, Entra ID or any provider with a JWKS, so
//!   `#[protected]` works unchanged in front of them
//!   ([`Jwt::from_issuer`](crate::auth::Jwt::from_issuer),
//!   [`Jwt::trust`](crate::auth::Jwt::trust)).
//!
//! Built on `oauth2` (the authorization request, PKCE, the code exchange
//! and its error responses) and on warden's own JWT verifier with
//! `jsonwebtoken`'s crypto for the ID token: the same verifier, key
//! handling and JWKS cache serve external access tokens, so there is one
//! set of rules for every token warden accepts, and the JWKS is fetched
//! again on an unknown `kid` under warden's bound (which the
//! `openidconnect` crate, fetching keys once with the discovery document,
//! does not offer). Provider calls go through `reqwest` with rustls, with
//! connect and total timeouts, no redirects, and bounded response sizes.

mod cookie;
mod discovery;
mod error;
mod fetch;
mod flow;
mod id_token;
mod issuer;
mod jwks;
#[cfg(feature = "utoipa")]
mod openapi;
mod provider;

pub use error::{OidcConfigError, SignInError};
pub use fetch::{DEFAULT_CONNECT_TIMEOUT, DEFAULT_REQUEST_TIMEOUT};
pub use flow::{DEFAULT_CALLBACK_DEADLINE, FLOW_LIFETIME, Identity, SignIn, SignInBuilder};
pub use issuer::TrustedIssuer;
pub use jwks::DEFAULT_JWKS_REFETCH_INTERVAL;
pub use provider::{GOOGLE_ISSUER, Provider};

pub(crate) use issuer::ExternalIssuer;

/// Equality whose time depends on the lengths only: for the `state` and
/// the `nonce`, which an attacker may probe.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
