//! The HTTP edge: problem details and client identity.

mod client;
mod problem;

pub use client::ClientIp;
pub use problem::{PROBLEM_JSON, Problem};
