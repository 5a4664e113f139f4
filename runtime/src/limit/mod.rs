//! Rate limiting: rates, GCRA, the [`Store`] seam and the bounded
//! [`MemoryStore`], and the specs `#[rate_limit]` writes down.
//!
//! # Semantics
//!
//! "N per window" is enforced with GCRA: a burst of N, then one more
//! request every window/N, and no double burst at a window boundary (see
//! [`Rate`]). Several limits on one handler are checked as one: a request is
//! admitted only if every limit admits it, and a refused request counts
//! against none of them. Refused requests never reach the handler or any of
//! its extractors.

pub mod gcra;
pub(crate) mod global;
mod keyed;
mod memory;
pub(crate) use memory::PreHashed;
mod rate;
pub(crate) mod response;
mod spec;
mod store;

use std::fmt;

pub use gcra::Outcome;
pub use keyed::{KeyedLimit, LimitAttempt};
pub use memory::{DEFAULT_MAX_KEYS, MemoryStore};
pub use rate::{MAX_WINDOW, ParseRateError, Rate};
pub use response::{RATELIMIT, RATELIMIT_POLICY};
pub use spec::{KeySpec, LimitSpec, RateSpec, Skip};
pub use store::{LimitCheck, Store, Verdict};

/// A rate that cannot be enforced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LimitError {
    /// A count of zero.
    ZeroCount,
    /// A zero window, or one over [`MAX_WINDOW`].
    Window,
    /// More requests than nanoseconds in the window.
    TooFast,
}

impl fmt::Display for LimitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::ZeroCount => "a rate limit must admit at least one request",
            Self::Window => "a rate-limit window must be between 1 ns and 366 days",
            Self::TooFast => "the count is higher than the window has nanoseconds",
        })
    }
}

impl std::error::Error for LimitError {}
