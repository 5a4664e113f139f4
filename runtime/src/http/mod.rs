//! The HTTP edge: problem details and client identity.

pub(crate) mod client;
mod problem;

pub use client::{ClientIp, ForwardedHeader, InvalidProxy, TrustedProxies};
pub use problem::{PROBLEM_JSON, Problem};
