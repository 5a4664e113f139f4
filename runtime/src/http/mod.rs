//! The HTTP edge: problem details, client identity, and the hardened
//! defaults of [`Warden::layer`](crate::Warden::layer), each also a layer
//! of its own ([`SecurityHeadersLayer`], [`ProblemJsonLayer`], CORS through
//! [`Cors::layer`]).

pub(crate) mod body;
pub(crate) mod client;
mod defaults;
mod problem;
mod security_headers;

pub use client::{ClientIp, ForwardedHeader, InvalidProxy, TrustedProxies};
pub use defaults::{
    Cors, CorsError, DEFAULT_BODY_LIMIT, ProblemJsonFuture, ProblemJsonLayer, ProblemJsonService,
    WardenFuture, WardenLayer, WardenService,
};
pub(crate) use defaults::{HttpDefaults, https_refusal};
pub use problem::{PROBLEM_JSON, Problem};
pub use security_headers::{
    SecurityHeaders, SecurityHeadersFuture, SecurityHeadersLayer, SecurityHeadersService,
};
