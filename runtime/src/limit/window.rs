//! The window grammar of rate limits (`"15m"`, `"1h30m"`), compiled into
//! both the `#[rate_limit]` macro, which checks windows at compile time,
//! and the runtime, which reads them from configuration (`"1000/15m"`).
//! One file, so the two can never disagree.

const NS: u128 = 1_000_000_000;
/// 366 days, the longest window.
const MAX_WINDOW_NS: u128 = 366 * 86_400 * NS;

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
    if total == 0 {
        return Err(format!(
            "a window of {text:?} is zero; nothing could be admitted"
        ));
    }
    if total > MAX_WINDOW_NS {
        return Err(format!(
            "a window of {text:?} is over the maximum of 366 days"
        ));
    }
    u64::try_from(total).map_err(|_| malformed())
}
