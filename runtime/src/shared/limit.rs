//! Rate limits: the checks a rate must pass, the rule for limit names, the
//! key kinds, and how a limit is written in the `RateLimit-Policy` header.

use super::window::MAX_WINDOW_NS;

/// Why a count and a window do not make an enforceable rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RateFault {
    /// A count of zero admits nothing.
    ZeroCount,
    /// A window of zero.
    ZeroWindow,
    /// A window over 366 days.
    LongWindow,
    /// More requests than the window has nanoseconds: the emission
    /// interval would be zero.
    TooFast,
}

/// A count of requests a limit may admit: at least one.
pub(crate) const fn check_count(count: u32) -> Result<(), RateFault> {
    if count == 0 {
        Err(RateFault::ZeroCount)
    } else {
        Ok(())
    }
}

/// A window a limit may have: more than zero, at most 366 days.
pub(crate) const fn check_window(window_ns: u64) -> Result<(), RateFault> {
    if window_ns == 0 {
        Err(RateFault::ZeroWindow)
    } else if window_ns > MAX_WINDOW_NS {
        Err(RateFault::LongWindow)
    } else {
        Ok(())
    }
}

/// Everything a rate must pass: what `Rate::new` checks at run time, what
/// `#[rate_limit]` checks at compile time, and what `Rate::from_checked`
/// asserts while the constant the macro wrote is evaluated.
pub(crate) const fn check_rate(count: u32, window_ns: u64) -> Result<(), RateFault> {
    if let Err(fault) = check_count(count) {
        return Err(fault);
    }
    if let Err(fault) = check_window(window_ns) {
        return Err(fault);
    }
    if window_ns / count as u64 == 0 {
        return Err(RateFault::TooFast);
    }
    Ok(())
}

/// The longest limit name, in bytes.
pub(crate) const NAME_MAX: usize = 64;

/// What [`valid_name`] requires, for an error message.
pub(crate) const NAME_RULE: &str = "a limit name is 1 to 64 printable ASCII characters without `\"` or `\\` (it is sent in the RateLimit headers)";

/// Whether `name` can name a limit: it is sent inside a quoted
/// structured-field string of the `RateLimit` headers, so it is 1 to
/// [`NAME_MAX`] printable ASCII characters without `"` or `\`. The same
/// rule holds for the inline names of `#[rate_limit]` and the policy names
/// of the builder.
pub(crate) fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= NAME_MAX
        && name
            .bytes()
            .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\')
}

/// `key = ip`: by client address, the default.
pub(crate) const KEY_IP: &str = "ip";
/// `key = user`: by authenticated subject.
pub(crate) const KEY_USER: &str = "user";
/// `key = header("..")`: by the value of a request header.
pub(crate) const KEY_HEADER: &str = "header";
/// `with = f`: by what a function of the request returns.
pub(crate) const KEY_WITH: &str = "with";

/// Appends `n` in decimal. The runtime writes headers on every limited
/// response, so without the formatting machinery.
pub(crate) fn push_decimal(out: &mut String, n: u64) {
    // Only ASCII digits are written, so this cannot fail.
    out.push_str(std::str::from_utf8(decimal(n, &mut [0; 20])).unwrap_or("0"));
}

/// The decimal digits of `n`, written at the end of `digits`, two at a
/// time (one division for two digits).
pub(crate) fn decimal(mut n: u64, digits: &mut [u8; 20]) -> &[u8] {
    const PAIRS: &[u8; 200] = b"0001020304050607080910111213141516171819\
        2021222324252627282930313233343536373839\
        4041424344454647484950515253545556575859\
        6061626364656667686970717273747576777879\
        8081828384858687888990919293949596979899";
    let mut start = digits.len();
    while n >= 10 {
        let pair = (n % 100) as usize * 2;
        n /= 100;
        start -= 2;
        digits[start..start + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
    }
    // A last pair never starts with a zero (it was at least 10); one digit
    // may be left, or `n` was 0.
    if n > 0 || start == digits.len() {
        start -= 1;
        digits[start] = b'0' + n as u8;
    }
    &digits[start..]
}

/// Whole seconds of `ns`, rounded up.
pub(crate) const fn ceil_secs(ns: u64) -> u64 {
    ns.div_ceil(1_000_000_000)
}

/// Appends one limit's item of the `RateLimit-Policy` field
/// (draft-ietf-httpapi-ratelimit-headers, draft 10): `"name";q=count;w=secs`,
/// the window in whole seconds rounded up. The macro writes this item for
/// an inline rate at compile time; the runtime writes it for a rate named in
/// the builder. `name` must pass [`valid_name`].
pub(crate) fn push_policy_item(out: &mut String, name: &str, count: u32, window_ns: u64) {
    out.push('"');
    out.push_str(name);
    out.push_str("\";q=");
    push_decimal(out, u64::from(count));
    out.push_str(";w=");
    push_decimal(out, ceil_secs(window_ns));
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    #[test]
    fn rates_are_checked_in_one_place() {
        assert_eq!(check_rate(5, 900 * S), Ok(()));
        assert_eq!(check_rate(1, 1), Ok(()));
        assert_eq!(check_rate(0, 900 * S), Err(RateFault::ZeroCount));
        assert_eq!(check_rate(5, 0), Err(RateFault::ZeroWindow));
        assert_eq!(check_rate(5, MAX_WINDOW_NS), Ok(()));
        assert_eq!(check_rate(5, MAX_WINDOW_NS + 1), Err(RateFault::LongWindow));
        assert_eq!(check_rate(2_000_000_000, S), Err(RateFault::TooFast));
        assert_eq!(check_rate(u32::MAX, u64::from(u32::MAX)), Ok(()));
        // Checked at compile time too.
        const _: () = assert!(check_rate(10, 3600 * S).is_ok());
    }

    #[test]
    fn names_fit_a_quoted_header_string() {
        assert!(valid_name("login"));
        assert!(valid_name("5-per-15m"));
        assert!(valid_name("with spaces"));
        assert!(valid_name(&"x".repeat(NAME_MAX)));
        assert!(!valid_name(&"x".repeat(NAME_MAX + 1)));
        assert!(!valid_name(""));
        assert!(!valid_name("say \"hi\""));
        assert!(!valid_name("back\\slash"));
        assert!(!valid_name("tab\there"));
        assert!(!valid_name("naïve"));
        assert!(NAME_RULE.contains(&format!("1 to {NAME_MAX}")));
    }

    #[test]
    fn decimals_are_written_without_formatting() {
        let mut cases = vec![0, 7, 10, 99, 100, 101, 1_000_000_007, u64::MAX];
        // Every length, with zeros and nines at each end.
        let mut power = 1u64;
        while let Some(next) = power.checked_mul(10) {
            cases.extend([
                power - 1,
                power,
                power + 1,
                power.saturating_mul(9).saturating_add(9),
            ]);
            power = next;
        }
        cases.extend(0..1_000);
        for n in cases {
            let mut out = String::from("x");
            push_decimal(&mut out, n);
            assert_eq!(out, format!("x{n}"));
        }
    }

    #[test]
    fn policy_items_round_the_window_up() {
        let item = |name, count, window_ns| {
            let mut out = String::new();
            push_policy_item(&mut out, name, count, window_ns);
            out
        };
        assert_eq!(item("5-per-15m", 5, 900 * S), r#""5-per-15m";q=5;w=900"#);
        assert_eq!(item("daily", 100, 86_400 * S), r#""daily";q=100;w=86400"#);
        assert_eq!(item("fast", 10, 1), r#""fast";q=10;w=1"#);
        assert_eq!(item("x", 1, 1_500_000_000), r#""x";q=1;w=2"#);
    }
}
