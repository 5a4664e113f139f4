use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use super::LimitError;
use crate::shared::limit::{RateFault, check_rate};
use crate::shared::window::{MAX_WINDOW_NS, parse_window};

/// The longest window a rate may have: 366 days.
pub const MAX_WINDOW: Duration = Duration::from_nanos(MAX_WINDOW_NS);

/// "N requests per window", enforced with GCRA.
///
/// GCRA (the generic cell rate algorithm, as `governor` implements it) admits
/// a burst of `count` requests, then one more every `window / count`: a
/// client that spent its burst gets a new request every emission interval,
/// not a whole new burst when a fixed window rolls over, so there is no
/// double burst at a window boundary. After `window` without requests the
/// whole burst is available again.
///
/// ```
/// use std::time::Duration;
/// use warden::limit::Rate;
///
/// let rate = Rate::new(5, Duration::from_secs(15 * 60))?;   // 5 per 15 minutes
/// assert_eq!(rate.emission_interval(), Duration::from_secs(180));
/// assert!(Rate::new(0, Duration::from_secs(60)).is_err());
/// # Ok::<(), warden::limit::LimitError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rate {
    count: u32,
    window_ns: u64,
}

impl Rate {
    /// `count` requests per `window`.
    ///
    /// Refuses a zero count, a zero window, a window over [`MAX_WINDOW`], and
    /// a count so high that the emission interval would be under a
    /// nanosecond.
    pub fn new(count: u32, window: Duration) -> Result<Self, LimitError> {
        // Past u64 nanoseconds is past the maximum too.
        let window_ns = u64::try_from(window.as_nanos()).unwrap_or(u64::MAX);
        match check_rate(count, window_ns) {
            Ok(()) => Ok(Self { count, window_ns }),
            Err(RateFault::ZeroCount) => Err(LimitError::ZeroCount),
            Err(RateFault::ZeroWindow | RateFault::LongWindow) => Err(LimitError::Window),
            Err(RateFault::TooFast) => Err(LimitError::TooFast),
        }
    }

    /// A rate from values the `#[rate_limit]` macro already checked, with
    /// the same function as [`Rate::new`].
    ///
    /// # Panics
    ///
    /// When the values fail that check. The macro calls this in a
    /// constant, so a failure is a compile error, never a panic at run
    /// time.
    #[doc(hidden)]
    pub const fn from_checked(count: u32, window_ns: u64) -> Self {
        assert!(
            check_rate(count, window_ns).is_ok(),
            "a rate the #[rate_limit] macro should have refused"
        );
        Self { count, window_ns }
    }

    /// The burst size: how many requests are admitted at once.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// The window.
    pub fn window(&self) -> Duration {
        Duration::from_nanos(self.window_ns)
    }

    /// The time after which one more request is admitted.
    pub fn emission_interval(&self) -> Duration {
        Duration::from_nanos(self.interval_ns())
    }

    /// The window in nanoseconds.
    pub(crate) fn window_ns(&self) -> u64 {
        self.window_ns
    }

    /// The emission interval in nanoseconds: what one request adds to the
    /// theoretical arrival time (see [`gcra`](super::gcra)).
    pub fn interval_ns(&self) -> u64 {
        self.window_ns / u64::from(self.count)
    }

    /// The largest lead, in nanoseconds, the theoretical arrival time may
    /// take over now: `count` emission intervals.
    pub fn tolerance_ns(&self) -> u64 {
        self.interval_ns() * u64::from(self.count)
    }
}

/// `"1000/15m"`: a count, a slash, and a window in the grammar of
/// `#[rate_limit]` (units d, h, m, s, largest first, such as `"1h30m"`).
///
/// ```
/// use std::time::Duration;
/// use warden::limit::Rate;
///
/// let rate: Rate = "1000/15m".parse()?;
/// assert_eq!((rate.count(), rate.window()), (1000, Duration::from_secs(900)));
/// assert!("1000 per 15m".parse::<Rate>().is_err());
/// assert!("0/1m".parse::<Rate>().is_err());
/// # Ok::<(), warden::limit::ParseRateError>(())
/// ```
impl FromStr for Rate {
    type Err = ParseRateError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let error = |reason: String| ParseRateError { reason };
        let (count, window) = text.trim().split_once('/').ok_or_else(|| {
            error(format!(
                "{text:?} is not a rate: write a count and a window, such as \"1000/15m\""
            ))
        })?;
        let count: u32 = count.trim().parse().map_err(|_| {
            error(format!(
                "{count:?} is not a count of requests (a whole number from 1 to {})",
                u32::MAX
            ))
        })?;
        let window_ns = parse_window(window.trim()).map_err(error)?;
        Self::new(count, Duration::from_nanos(window_ns)).map_err(|e| error(e.to_string()))
    }
}

/// A rate that [`Rate::from_str`] cannot read; the message says why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseRateError {
    reason: String,
}

impl fmt::Display for ParseRateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason)
    }
}

impl std::error::Error for ParseRateError {}

/// A [`governor::Quota`] as the rate that enforces the same GCRA: the
/// quota's replenish interval is the emission interval and its burst size
/// is the count, so that a `tower_governor` or `governor` user passes the
/// quota they already have (`Rate::from(quota)`) and clients see the same
/// admissions, request for request.
///
/// The window is `burst * interval`, exactly; it need not be a round
/// number, and a quota whose period does not divide evenly (60 s over 7
/// requests) keeps governor's truncated interval, 8,571,428,571 ns, and a
/// window of 59,999,999,997 ns. A replenish interval of zero counts, as in
/// governor, as one nanosecond.
///
/// A quota whose whole burst takes longer than [`MAX_WINDOW`] to refill
/// becomes the rate with the same interval and the largest burst that
/// refills within it: stricter, never looser. Only an interval over
/// [`MAX_WINDOW`] on its own (one request per 367 days or more) becomes
/// one request per [`MAX_WINDOW`].
///
/// ```
/// use std::num::NonZeroU32;
/// use std::time::Duration;
/// use governor::Quota;
/// use warden::limit::Rate;
///
/// let quota = Quota::per_minute(NonZeroU32::new(7).unwrap());
/// let rate = Rate::from(quota);
/// assert_eq!(rate.count(), 7);
/// assert_eq!(rate.emission_interval(), quota.replenish_interval());
/// assert_eq!(rate.window(), Duration::from_nanos(7 * 8_571_428_571));
/// ```
impl From<governor::Quota> for Rate {
    fn from(quota: governor::Quota) -> Self {
        let max_ns = MAX_WINDOW.as_nanos() as u64;
        let interval = u64::try_from(quota.replenish_interval().as_nanos())
            .unwrap_or(u64::MAX)
            .clamp(1, max_ns);
        let count = quota.burst_size().get().min(
            // At least one: the interval is at most MAX_WINDOW.
            u32::try_from(max_ns / interval).unwrap_or(u32::MAX),
        );
        Self::from_checked(count, interval * u64::from(count))
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} per {:?}", self.count, self.window())
    }
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroU32;

    use governor::clock::{Clock, FakeRelativeClock};
    use governor::{Quota, RateLimiter};

    use super::*;
    use crate::limit::gcra;

    #[test]
    fn new_and_from_checked_agree() {
        let rate = Rate::new(5, Duration::from_secs(900)).unwrap();
        assert_eq!(rate, Rate::from_checked(5, 900_000_000_000));
        assert_eq!(rate.window_ns(), 900_000_000_000);
        const CHECKED: Rate = Rate::from_checked(100, 86_400_000_000_000);
        assert_eq!(CHECKED.window(), Duration::from_secs(86_400));
    }

    #[test]
    fn new_refuses_what_the_macro_refuses() {
        let second = Duration::from_secs(1);
        assert_eq!(Rate::new(0, second), Err(LimitError::ZeroCount));
        assert_eq!(Rate::new(5, Duration::ZERO), Err(LimitError::Window));
        assert_eq!(Rate::new(5, MAX_WINDOW + second), Err(LimitError::Window));
        assert_eq!(Rate::new(5, Duration::MAX), Err(LimitError::Window));
        assert_eq!(Rate::new(2_000_000_000, second), Err(LimitError::TooFast));
        assert!(Rate::new(5, MAX_WINDOW).is_ok());
    }

    #[test]
    #[should_panic(expected = "should have refused")]
    fn from_checked_refuses_what_new_refuses() {
        let _ = std::hint::black_box(Rate::from_checked)(0, 1);
    }

    fn n(count: u32) -> NonZeroU32 {
        NonZeroU32::new(count).unwrap()
    }

    #[test]
    fn a_quota_keeps_its_interval_and_burst() {
        let rate = Rate::from(Quota::per_second(n(5)));
        assert_eq!((rate.count(), rate.window()), (5, Duration::from_secs(1)));
        let rate = Rate::from(Quota::per_hour(n(2)).allow_burst(n(90)));
        assert_eq!(rate.emission_interval(), Duration::from_secs(1800));
        assert_eq!(rate.count(), 90);
        assert_eq!(rate.window(), Duration::from_secs(90 * 1800));
        let rate = Rate::from(
            Quota::with_period(Duration::from_millis(1500))
                .unwrap()
                .allow_burst(n(3)),
        );
        assert_eq!(rate.emission_interval(), Duration::from_millis(1500));
        assert_eq!(rate.window(), Duration::from_millis(4500));
    }

    #[test]
    fn a_period_that_does_not_divide_evenly_keeps_governors_interval() {
        // 60 s / 7 = 8,571,428,571.43 ns: governor truncates, and so does
        // the rate, whose window is then 3 ns short of a minute.
        let quota = Quota::per_minute(n(7));
        assert_eq!(
            quota.replenish_interval(),
            Duration::from_nanos(8_571_428_571)
        );
        let rate = Rate::from(quota);
        assert_eq!(rate.interval_ns(), 8_571_428_571);
        assert_eq!(rate.count(), 7);
        assert_eq!(rate.window(), Duration::from_nanos(59_999_999_997));
        assert_eq!(rate.tolerance_ns(), 59_999_999_997);
        // `Rate::new` spreads the same minute differently: the interval is
        // the same, the window a round minute.
        let round = Rate::new(7, Duration::from_secs(60)).unwrap();
        assert_eq!(round.interval_ns(), rate.interval_ns());
    }

    #[test]
    fn extreme_quotas_saturate_on_the_strict_side() {
        // Governor counts a zero interval as one nanosecond.
        let rate = Rate::from(Quota::per_second(n(u32::MAX)));
        assert_eq!((rate.interval_ns(), rate.count()), (1, u32::MAX));
        // A burst that would take over MAX_WINDOW to refill is cut, the
        // interval kept.
        let day = Duration::from_secs(86_400);
        let rate = Rate::from(Quota::with_period(day).unwrap().allow_burst(n(1000)));
        assert_eq!(rate.emission_interval(), day);
        assert_eq!(rate.count(), 366);
        assert!(rate.window() <= MAX_WINDOW);
        // An interval over MAX_WINDOW alone: one per MAX_WINDOW.
        let rate = Rate::from(Quota::with_period(Duration::MAX).unwrap());
        assert_eq!((rate.count(), rate.window()), (1, MAX_WINDOW));
    }

    /// A tiny deterministic generator of gaps between requests.
    fn gaps(seed: u64, interval: u64) -> impl Iterator<Item = u64> {
        let mut state = seed;
        std::iter::repeat_with(move || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            match (state >> 33) % 8 {
                // Bursts: several requests at one instant.
                0..=2 => 0,
                // Around the interval, on both sides and exactly on it.
                3 => interval - 1,
                4 => interval,
                5 => interval + 1,
                // Anywhere up to a few intervals.
                _ => (state >> 17) % (3 * interval),
            }
        })
    }

    /// The same requests at the same instants through governor's limiter
    /// and through warden's GCRA on the converted rate: every decision and
    /// every wait agree.
    #[test]
    fn governor_and_the_converted_rate_decide_alike() {
        let quotas = [
            Quota::per_second(n(5)),
            Quota::per_minute(n(7)),
            Quota::per_hour(n(3)).allow_burst(n(10)),
            Quota::with_period(Duration::from_nanos(3))
                .unwrap()
                .allow_burst(n(2)),
            Quota::per_second(n(1)),
        ];
        for (seed, quota) in quotas.into_iter().enumerate() {
            let clock = FakeRelativeClock::default();
            let limiter = RateLimiter::direct_with_clock(quota, clock.clone());
            let rate = Rate::from(quota);
            let interval = rate.interval_ns();
            let mut tat = None;
            let mut now = 0u64;
            let mut admitted = 0;
            for gap in gaps(seed as u64, interval).take(5_000) {
                now += gap;
                clock.advance(Duration::from_nanos(gap));
                let theirs = limiter.check();
                let (ours, new_tat) = gcra::check(tat, now, rate, 1);
                assert_eq!(ours.admitted, theirs.is_ok(), "{quota:?} at {now} ns");
                if let Err(not_until) = theirs {
                    assert_eq!(ours.retry_after, not_until.wait_time_from(clock.now()));
                }
                if new_tat.is_some() {
                    tat = new_tat;
                    admitted += 1;
                }
            }
            assert!((500..5_000).contains(&admitted), "{quota:?}: {admitted}");
        }
    }
}
