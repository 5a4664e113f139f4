//! API security for [axum] in a few attributes.
//!
//! warden turns `#[protected(role = Role::Admin)]` and
//! `#[rate_limit(5, "15m")]` on a handler into JWT authentication, role
//! checks and rate limits that run before the handler or any of its
//! extractors. Whatever can be checked before the program runs is checked by
//! the compiler: a misspelt role, an unknown option, an empty `any()`, a
//! malformed window or `key = user` on an unprotected handler is a compile
//! error that points at your token. What remains, such as a JWT
//! configuration without an issuer or a named rate-limit policy nobody
//! defined, is refused by [`WardenBuilder::build`] at start-up, never at the
//! first request.
//!
//! ```
//! use axum::{Router, routing::{get, post}};
//! use axum::body::Body;
//! use http::{Request, StatusCode};
//! use tower::ServiceExt;
//! use warden::auth::{AccessClaims, Jwt};
//! use warden::{Auth, Warden, protected, rate_limit};
//!
//! #[derive(Clone, Copy, warden::Role)]
//! enum Role {
//!     Admin,
//!     User,
//! }
//!
//! #[protected]                        // any valid access token
//! async fn me(user: Auth) -> String {
//!     user.sub().to_owned()
//! }
//!
//! #[protected(role = Role::Admin)]    // `Role::Admn` would not compile
//! async fn admin() -> &'static str {
//!     "welcome"
//! }
//!
//! #[rate_limit(5, "15m", skip_successful)]   // only failed attempts count
//! async fn login() -> StatusCode {
//!     StatusCode::UNAUTHORIZED
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let warden = Warden::builder()
//!     .jwt(Jwt::hs256(b"a secret of at least thirty-two bytes")?.issuer("api").audience("api"))
//!     .build()?;
//! let app = Router::new()
//!     .route("/me", get(me))
//!     .route("/admin", get(admin))
//!     .route("/login", post(login))
//!     .with_state(warden.clone());
//!
//! let token = warden.issue_access_token(&AccessClaims::new("user-7").roles([Role::User]))?;
//! let request = |path: &str| {
//!     Request::get(path)
//!         .header("authorization", format!("Bearer {}", token.token))
//!         .body(Body::empty())
//! };
//! let response = app.clone().oneshot(request("/me")?).await?;
//! assert_eq!(response.status(), StatusCode::OK);
//! let response = app.clone().oneshot(request("/admin")?).await?;
//! assert_eq!(response.status(), StatusCode::FORBIDDEN);
//!
//! for _ in 0..5 {
//!     let response = app.clone().oneshot(Request::post("/login").body(Body::empty())?).await?;
//!     assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
//!     assert!(response.headers().contains_key("ratelimit"));
//! }
//! let response = app.oneshot(Request::post("/login").body(Body::empty())?).await?;
//! assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
//! # Ok(())
//! # }
//! ```
//!
//! # Modules
//!
//! - [`auth`]: keys, JWT verification and issuing, claims, roles, [`Auth`],
//!   and sessions ([`Warden::sign_in`]): an access token and a rotating
//!   refresh token linked by the `sid` claim.
//! - [`limit`]: rates (GCRA), the [`Store`](limit::Store) seam and the
//!   bounded [`MemoryStore`](limit::MemoryStore).
//! - [`validate`](mod@validate): the `Validate` trait, rules, issue
//!   lists and the [`Valid`] extractors behind `#[validate]`.
//! - [`http`]: RFC 9457 problem details, client addresses behind trusted
//!   proxies, and the layers [`Warden::layer`] is made of, each usable
//!   alone: [`SecurityHeadersLayer`](http::SecurityHeadersLayer),
//!   [`ProblemJsonLayer`](http::ProblemJsonLayer), CORS and the body limit.
//! - [`password`]: argon2id hashing off the async threads.
//! - [`audit`]: the `tracing` events every rejection emits.
//! - [`manifest`]: every handler's policy, for review or snapshot tests;
//!   [`PolicyTable`] joins it to the routes of a
//!   [`routing::Router`], as text or JSON.
//! - [`routing`]: deny by default: axum's router, routing only handlers
//!   marked `#[protected]` or [`#[public]`](macro@public); any other is a
//!   compile error where it is routed.
//! - `oidc` (cargo feature `oidc`): sign-in through OpenID Connect
//!   providers such as Google (`SignIn`), and trust in external issuers'
//!   access tokens (`Jwt::from_issuer`, `Jwt::trust`).
//! - `openapi` (cargo feature `utoipa`): what warden knows of each route
//!   (security, problem responses, rate-limit headers, validation rules as
//!   schema keywords) added to a utoipa document, which must agree with
//!   the routes (`openapi::Describe`).

extern crate self as warden;

pub mod audit;
pub mod auth;
mod guard;
pub mod http;
pub mod limit;
mod manifest;
#[cfg(feature = "oidc")]
pub mod oidc;
#[cfg(feature = "utoipa")]
pub mod openapi;
pub mod password;
#[cfg(feature = "redis")]
pub mod redis;
pub mod routing;
mod runtime;
mod signature;
mod store;
// Compiled into warden-macros too; each crate uses its part.
#[allow(dead_code)]
mod shared;
pub mod validate;

pub use crate::auth::{Auth, Role};
pub use crate::manifest::{
    FieldRules, HandlerPolicy, PolicyRow, PolicyTable, TypeRules, ValidatedParam, manifest,
};
pub use crate::runtime::{BuildError, DEFAULT_IPV6_PREFIX, StoreFailure, Warden, WardenBuilder};
pub use crate::signature::{CheckFn, HasWarden, KeyFn};
pub use crate::store::{StoreError, StoreFuture};
pub use crate::validate::{Valid, Validate};
pub use warden_macros::Role;
#[doc = include_str!("derive_validate.md")]
pub use warden_macros::Validate;
#[doc = include_str!("protected.md")]
pub use warden_macros::protected;
#[doc = include_str!("public.md")]
pub use warden_macros::public;
#[doc = include_str!("rate_limit.md")]
pub use warden_macros::rate_limit;
#[doc = include_str!("validate.md")]
pub use warden_macros::validate;

/// What the macros' generated code calls. Not a public API: it changes
/// without notice.
#[doc(hidden)]
pub mod __private {
    pub use crate::Warden;
    pub use crate::auth::{Claims, Decision, Role};
    pub use crate::guard::{
        ClaimsProbe, Extracted, Guard, Later, LimitedGuard, NoClaims, Policy, ViaClaims,
        ViaNoClaims,
    };
    pub use crate::limit::{KeySpec, LimitSpec, Rate, RateSpec, Skip};
    pub use crate::manifest::{
        FieldRules, HandlerPolicy, Requirement, RoleName, RuleSpec, TypeRules, ValidatedParam,
        ViaNoRole, ViaRole,
    };
    pub use crate::routing::{DecidedGuard, DecidedPolicy, Open};
    pub use crate::signature::{CheckFn, HasWarden, KeyFn};
    pub use crate::validate::rules::{self, Rule};
    pub use crate::validate::{
        Nested, PasswordPolicy, Report, Valid, Validate, ViaNothing, ViaValidate,
    };
    pub use ::axum::extract::FromRequestParts;
    pub use ::axum::response::{IntoResponse, Response};
    pub use ::http::HeaderValue;
    pub use ::http::request::Parts;
    pub use ::inventory;
    pub use ::regex::Regex;
}
