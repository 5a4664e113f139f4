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

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} per {:?}", self.count, self.window())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
