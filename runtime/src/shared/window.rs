//! The window grammar of rate limits (`"15m"`, `"1h30m"`): the
//! `#[rate_limit]` macro checks windows with it at compile time, and the
//! runtime reads rates from configuration with it (`"1000/15m"`).

use super::limit::{RateFault, check_window};

const NS: u128 = 1_000_000_000;
/// 366 days, the longest window, in nanoseconds.
pub(crate) const MAX_WINDOW_NS: u64 = 366 * 86_400 * 1_000_000_000;

/// `"15m"`, `"1h30m"`, `"2d"`: units d, h, m, s, each at most once, from
/// the largest to the smallest. Returns nanoseconds.
pub(crate) fn parse_window(text: &str) -> Result<u64, String> {
    let malformed = || {
        format!(
            "malformed window {text:?}: expected numbers with units d, h, m or s, largest first, such as \"15m\" or \"1h30m\""
        )
    };
    if text.is_empty() {
        return Err("empty window: write a duration such as \"15m\" or \"1h30m\"".into());
    }
    let mut total: u128 = 0;
    let mut last_rank = usize::MAX;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(malformed());
        }
        let (number, tail) = rest.split_at(digits);
        let mut chars = tail.chars();
        let (rank, seconds) = match chars.next() {
            Some('d') => (3, 86_400),
            Some('h') => (2, 3_600),
            Some('m') => (1, 60),
            Some('s') => (0, 1),
            _ => return Err(malformed()),
        };
        if rank >= last_rank {
            return Err(malformed());
        }
        last_rank = rank;
        let value: u128 = number.parse().map_err(|_| malformed())?;
        total = total.saturating_add(value.saturating_mul(seconds * NS));
        rest = chars.as_str();
    }
    // Anything past u64 is past the maximum too.
    let window_ns = u64::try_from(total).unwrap_or(u64::MAX);
    match check_window(window_ns) {
        Ok(()) => Ok(window_ns),
        Err(RateFault::ZeroWindow) => Err(format!(
            "a window of {text:?} is zero; nothing could be admitted"
        )),
        Err(_) => Err(format!(
            "a window of {text:?} is over the maximum of 366 days"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    #[test]
    fn windows_parse() {
        assert_eq!(parse_window("15m"), Ok(900 * S));
        assert_eq!(parse_window("1h30m"), Ok(5400 * S));
        assert_eq!(parse_window("1d2h3m4s"), Ok((86_400 + 7200 + 180 + 4) * S));
        assert_eq!(parse_window("366d"), Ok(366 * 86_400 * S));
        assert_eq!(parse_window("366d"), Ok(MAX_WINDOW_NS));
        for bad in [
            "",
            "15x",
            "0s",
            "0h0m",
            "m",
            "15",
            "1m1h",
            "1h1h",
            "-5m",
            "1.5h",
            "5 m",
            "367d",
            "366d1s",
            "99999999999999999999999d",
        ] {
            assert!(parse_window(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn errors_say_what_is_wrong() {
        assert!(parse_window("").unwrap_err().starts_with("empty window"));
        assert!(parse_window("0s").unwrap_err().contains("is zero"));
        assert!(parse_window("367d").unwrap_err().contains("366 days"));
        assert!(parse_window("15x").unwrap_err().starts_with("malformed"));
    }
}
