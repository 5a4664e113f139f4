//! The HTTP edge: problem details, client identity, and the hardened
//! defaults of [`Warden::layer`](crate::Warden::layer).

pub(crate) mod body;
pub(crate) mod client;
mod defaults;
mod problem;

pub use client::{ClientIp, ForwardedHeader, InvalidProxy, TrustedProxies};
pub use defaults::{
    Cors, CorsError, DEFAULT_BODY_LIMIT, SecurityHeaders, WardenLayer, WardenService,
};
pub(crate) use defaults::{HttpDefaults, https_refusal};
pub use problem::{PROBLEM_JSON, Problem};
