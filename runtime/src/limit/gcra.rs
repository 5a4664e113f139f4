//! The GCRA arithmetic, on nanosecond timestamps, for every [`Store`]
//! to share.
//!
//! A store keeps one number per key, the theoretical arrival time (TAT),
//! and calls these functions under whatever atomicity it has: a lock for
//! [`MemoryStore`](super::MemoryStore); the Redis store runs the same
//! steps in its script, then reads the outcome through [`check`] from the
//! state the script saw, so what clients are told comes from this code.
//!
//! ```
//! use std::time::Duration;
//! use warden::limit::{Rate, gcra};
//!
//! let rate = Rate::new(2, Duration::from_secs(60))?;
//! let (first, tat) = gcra::check(None, 0, rate, 1);
//! assert!(first.admitted && first.remaining == 1);
//! let (second, tat) = gcra::check(tat, 0, rate, 1);
//! let (third, unchanged) = gcra::check(tat, 0, rate, 1);
//! assert!(second.admitted && !third.admitted && unchanged.is_none());
//! assert_eq!(third.retry_after, Duration::from_secs(30));
//! // A refund gives one slot back.
//! let back = gcra::refund(tat.unwrap(), 0, rate, 1);
//! assert!(gcra::check(back, 0, rate, 1).0.admitted);
//! # Ok::<(), warden::limit::LimitError>(())
//! ```
//!
//! [`Store`]: super::Store

use std::time::Duration;

use super::Rate;

/// What one limit says about one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// Whether the request fits.
    pub admitted: bool,
    /// Requests left after this one (0 when refused).
    pub remaining: u32,
    /// Time until the whole burst is available again.
    pub reset: Duration,
    /// When refused: time until this request would fit.
    pub retry_after: Duration,
}

/// Checks a request of `cost` at time `now` against the state `tat` (None:
/// no state, the burst is whole). Returns the outcome and, when admitted,
/// the new TAT to store. A state is never written on a refusal.
///
/// The steps: `tat = max(tat, now)`; `new = tat + interval * cost`;
/// admitted when `new - now <= tolerance` (see [`Rate::tolerance_ns`]).
pub fn check(tat: Option<u64>, now: u64, rate: Rate, cost: u32) -> (Outcome, Option<u64>) {
    // In 128 bits: `interval * cost` and `tat + step` cannot overflow, at
    // any time a u64 can hold and for any cost.
    let interval = u128::from(rate.interval_ns());
    let tolerance = u128::from(rate.tolerance_ns());
    let now_wide = u128::from(now);
    let tat = u128::from(tat.unwrap_or(now).max(now));
    let new_tat = tat + interval * u128::from(cost);
    let lead = new_tat - now_wide;
    let nanos = |n: u128| Duration::from_nanos(u64::try_from(n).unwrap_or(u64::MAX));
    if lead <= tolerance {
        let outcome = Outcome {
            admitted: true,
            // Both fit in 64 bits here (`lead <= tolerance`): a 64-bit
            // division, not a call into 128-bit arithmetic.
            remaining: u32::try_from(
                u64::try_from(tolerance - lead).unwrap_or(u64::MAX) / rate.interval_ns(),
            )
            .unwrap_or(u32::MAX),
            reset: nanos(lead),
            retry_after: Duration::ZERO,
        };
        // Past the year 2554 the state no longer fits: it stays at the
        // last instant a u64 holds, which restricts more, never less.
        (outcome, Some(u64::try_from(new_tat).unwrap_or(u64::MAX)))
    } else {
        let outcome = Outcome {
            admitted: false,
            remaining: 0,
            reset: nanos(tat - now_wide),
            retry_after: nanos(lead - tolerance),
        };
        (outcome, None)
    }
}

/// Gives back `cost` requests to the state `tat`: `tat - interval * cost`.
/// Returns None when the state is then fully recovered (no later than
/// `now`) and can be dropped.
pub fn refund(tat: u64, now: u64, rate: Rate, cost: u32) -> Option<u64> {
    let back = tat.saturating_sub(rate.interval_ns().saturating_mul(u64::from(cost)));
    (back > now).then_some(back)
}

/// Whether a state no longer restricts anything: it equals "never seen",
/// so a store may drop it (or let it expire at `tat`).
pub fn recovered(tat: u64, now: u64) -> bool {
    tat <= now
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    fn rate(count: u32, secs: u64) -> Rate {
        Rate::new(count, Duration::from_secs(secs)).unwrap()
    }

    /// Runs requests at the given times; returns which were admitted.
    fn run(rate: Rate, times: &[u64]) -> Vec<bool> {
        let mut tat = None;
        times
            .iter()
            .map(|&t| {
                let (outcome, new) = check(tat, t, rate, 1);
                if new.is_some() {
                    tat = new;
                }
                outcome.admitted
            })
            .collect()
    }

    #[test]
    fn a_burst_of_n_then_one_per_interval() {
        // 5 per 15 minutes: 5 at once, the 6th waits 3 minutes.
        let r = rate(5, 900);
        let t0 = 1000 * S;
        let at = |s: u64| t0 + s * S;
        assert_eq!(run(r, &[at(0); 6]), [true, true, true, true, true, false]);
        let admitted = run(
            r,
            &[at(0), at(0), at(0), at(0), at(0), at(179), at(180), at(181)],
        );
        assert_eq!(admitted, [true, true, true, true, true, false, true, false]);
    }

    #[test]
    fn no_double_burst_at_a_window_boundary() {
        // A fixed window would admit 5 at 14:59 and 5 more at 15:01.
        let r = rate(5, 900);
        let mut times = vec![899 * S; 5];
        times.extend([901 * S; 5]);
        let admitted = run(r, &times);
        assert_eq!(admitted.iter().filter(|a| **a).count(), 5);
    }

    #[test]
    fn the_whole_burst_returns_after_a_window() {
        let r = rate(3, 60);
        let mut times = vec![0; 3];
        times.extend([60 * S; 3]);
        times.push(60 * S);
        assert_eq!(run(r, &times), [true, true, true, true, true, true, false]);
    }

    #[test]
    fn remaining_reset_and_retry_after() {
        let r = rate(5, 900);
        let (first, tat) = check(None, 0, r, 1);
        assert_eq!(
            (first.remaining, first.reset),
            (4, Duration::from_secs(180))
        );
        let mut tat = tat;
        for _ in 0..4 {
            tat = check(tat, 0, r, 1).1;
        }
        let (refused, none) = check(tat, 10 * S, r, 1);
        assert!(!refused.admitted && none.is_none());
        assert_eq!(refused.remaining, 0);
        assert_eq!(refused.retry_after, Duration::from_secs(170));
        assert_eq!(refused.reset, Duration::from_secs(890));
    }

    #[test]
    fn a_refund_undoes_exactly_one_request() {
        let r = rate(2, 60);
        let (_, tat) = check(None, 0, r, 1);
        let (_, tat) = check(tat, 0, r, 1);
        assert!(!check(tat, 0, r, 1).0.admitted);
        let back = refund(tat.unwrap(), 0, r, 1);
        assert!(check(back, 0, r, 1).0.admitted);
        // Refunding the only request leaves no state to keep.
        let (_, single) = check(None, 0, r, 1);
        assert_eq!(refund(single.unwrap(), 0, r, 1), None);
    }

    #[test]
    fn huge_rates_and_costs_never_overflow_into_an_admission() {
        let r = Rate::new(1_000_000_000, Duration::from_secs(1)).unwrap();
        let (outcome, _) = check(Some(u64::MAX - 1), u64::MAX - 10, r, u32::MAX);
        assert!(!outcome.admitted);
        let (outcome, _) = check(None, 0, rate(1, 366 * 24 * 3600), u32::MAX);
        assert!(!outcome.admitted);
        assert!(recovered(5, 5) && !recovered(6, 5));
    }
}
