use std::fmt;

use super::{Outcome, Rate};
use crate::{StoreError, StoreFuture};

/// One limit to check for one request: which policy, whose key, at what
/// rate, for how many units.
#[derive(Clone, Copy)]
pub struct LimitCheck<'a> {
    /// The policy's identity; the same key under two policies is two states.
    pub policy: &'a str,
    /// The client's key under that policy (an address, a user id, ...).
    pub key: &'a [u8],
    /// The rate to enforce.
    pub rate: Rate,
    /// How many units this request takes (1 for a plain request).
    pub cost: u32,
}

impl fmt::Debug for LimitCheck<'_> {
    /// The key may be an API key: it is never shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LimitCheck")
            .field("policy", &self.policy)
            .field("key", &"[redacted]")
            .field("rate", &self.rate)
            .field("cost", &self.cost)
            .finish()
    }
}

/// The answer to one [`Store::check`] call: one [`Outcome`] per check, in
/// order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    outcomes: smallvec::SmallVec<[Outcome; 2]>,
}

impl Verdict {
    /// The verdict of these outcomes.
    pub fn new(outcomes: impl IntoIterator<Item = Outcome>) -> Self {
        Self {
            outcomes: outcomes.into_iter().collect(),
        }
    }

    /// True when every limit admitted the request; then every limit has
    /// counted it. When false, none has.
    pub fn admitted(&self) -> bool {
        self.outcomes.iter().all(|o| o.admitted)
    }

    /// One outcome per check, in order.
    pub fn outcomes(&self) -> &[Outcome] {
        &self.outcomes
    }
}

/// Where rate-limit state lives.
///
/// A check is one call carrying every limit of a request (key, policy, rate
/// and cost), so that a networked store answers in one round trip and can
/// apply it atomically: a request is admitted only if every limit admits
/// it, and a refused request counts against none of them.
pub trait Store: Send + Sync + 'static {
    /// Checks, and when every limit admits, counts, the request.
    fn check<'a>(
        &'a self,
        checks: &'a [LimitCheck<'a>],
    ) -> StoreFuture<'a, Result<Verdict, StoreError>>;

    /// Gives back what an admitted request counted (for `skip_successful`
    /// and `skip_failed`, and when a later limit refuses the request).
    fn refund<'a>(
        &'a self,
        checks: &'a [LimitCheck<'a>],
    ) -> StoreFuture<'a, Result<(), StoreError>>;

    /// [`check`](Self::check) without a future, for a store that answers
    /// in process: the guards call this first and await `check` only when
    /// it returns `None`. `None` (the default) must mean that nothing was
    /// counted.
    fn check_at_once(&self, checks: &[LimitCheck<'_>]) -> Option<Result<Verdict, StoreError>> {
        let _ = checks;
        None
    }

    /// [`refund`](Self::refund) without a future, like
    /// [`check_at_once`](Self::check_at_once): `None` (the default) must
    /// mean that nothing was given back.
    fn refund_at_once(&self, checks: &[LimitCheck<'_>]) -> Option<Result<(), StoreError>> {
        let _ = checks;
        None
    }
}

/// A shared store: keep a handle (to read [`MemoryStore::len`], say) while
/// the [`Warden`](crate::Warden) holds the other.
///
/// [`MemoryStore::len`]: super::MemoryStore::len
impl<S: Store> Store for std::sync::Arc<S> {
    fn check<'a>(
        &'a self,
        checks: &'a [LimitCheck<'a>],
    ) -> StoreFuture<'a, Result<Verdict, StoreError>> {
        (**self).check(checks)
    }

    fn refund<'a>(
        &'a self,
        checks: &'a [LimitCheck<'a>],
    ) -> StoreFuture<'a, Result<(), StoreError>> {
        (**self).refund(checks)
    }

    fn check_at_once(&self, checks: &[LimitCheck<'_>]) -> Option<Result<Verdict, StoreError>> {
        (**self).check_at_once(checks)
    }

    fn refund_at_once(&self, checks: &[LimitCheck<'_>]) -> Option<Result<(), StoreError>> {
        (**self).refund_at_once(checks)
    }
}
