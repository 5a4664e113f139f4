//! What clients see of the limits: the IETF `RateLimit-Policy` and
//! `RateLimit` fields (draft-ietf-httpapi-ratelimit-headers, draft 10
//! syntax), `Retry-After`, and the 429 and 503 problems.

use std::time::Duration;

use axum::response::Response;
use bytes::Bytes;
use http::header::Entry;
use http::{HeaderName, HeaderValue, StatusCode, header};

use super::{LimitSpec, Outcome, Rate};
use crate::http::Problem;
use crate::shared::limit::{decimal, push_policy_item};

/// `RateLimit-Policy`.
pub const RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
/// `RateLimit`.
pub const RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");

/// One limit as the headers show it.
pub(crate) struct Shown<'a> {
    pub(crate) name: &'a str,
    /// The precomputed `RateLimit-Policy` item, when there is one.
    pub(crate) policy_field: &'static str,
    /// That item as a header value, built at compile time.
    pub(crate) policy_header: Option<fn() -> HeaderValue>,
    pub(crate) rate: Rate,
    pub(crate) remaining: u32,
    pub(crate) reset: Duration,
}

impl<'a> Shown<'a> {
    /// A limit with no precomputed policy item: the runtime writes it.
    pub(crate) fn new(name: &'a str, rate: Rate, outcome: &Outcome, refunded: u32) -> Self {
        let (remaining, reset) = Left::from(outcome).after_refund(rate, refunded);
        Self {
            name,
            policy_field: "",
            policy_header: None,
            rate,
            remaining,
            reset,
        }
    }

    /// A limit of a handler, with the policy item its macro wrote.
    pub(crate) fn of(spec: &'static LimitSpec, rate: Rate, left: Left, refunded: u32) -> Self {
        let (remaining, reset) = left.after_refund(rate, refunded);
        Self {
            name: spec.name,
            policy_field: spec.policy_field,
            policy_header: spec.policy_header,
            rate,
            remaining,
            reset,
        }
    }
}

/// What a limit has left after a request, as the `RateLimit` field shows
/// it: what the guard keeps of an [`Outcome`] until the response, in half
/// its room (the guard is moved with the handler's future).
#[derive(Clone, Copy)]
pub(crate) struct Left {
    pub(crate) remaining: u32,
    /// Until the whole burst is back, in nanoseconds.
    pub(crate) reset_ns: u64,
}

impl Left {
    /// Nothing: a limit not counted yet.
    pub(crate) const NOTHING: Self = Self {
        remaining: 0,
        reset_ns: 0,
    };

    /// Requests left and the time until the whole burst is back, once
    /// `refunded` requests are given back.
    fn after_refund(self, rate: Rate, refunded: u32) -> (u32, Duration) {
        let remaining = self.remaining.saturating_add(refunded).min(rate.count());
        let reset = Duration::from_nanos(self.reset_ns);
        let reset = if refunded > 0 {
            reset.saturating_sub(rate.emission_interval() * refunded)
        } else {
            reset
        };
        (remaining, reset)
    }
}

impl From<&Outcome> for Left {
    fn from(outcome: &Outcome) -> Self {
        Self {
            remaining: outcome.remaining,
            // A reset never exceeds a window (at most a year): it fits.
            reset_ns: u64::try_from(outcome.reset.as_nanos()).unwrap_or(u64::MAX),
        }
    }
}

/// Whole seconds, rounded up: a client that waits this long is admitted.
pub(crate) fn ceil_secs(duration: Duration) -> u64 {
    duration.as_secs() + u64::from(duration.subsec_nanos() > 0)
}

/// Adds `RateLimit-Policy` and `RateLimit` for `limits` to `response`.
pub(crate) fn add_headers(response: &mut Response, limits: &[Shown<'_>]) {
    let policy = match limits {
        [] => return,
        // The common case, one inline limit: a static value built and
        // checked at compile time, no allocation.
        [
            Shown {
                policy_header: Some(header),
                ..
            },
        ] => Ok(header()),
        _ => {
            let mut policy = String::with_capacity(40 * limits.len());
            for (i, limit) in limits.iter().enumerate() {
                if i > 0 {
                    policy.push_str(", ");
                }
                if limit.policy_field.is_empty() {
                    push_policy_item(
                        &mut policy,
                        limit.name,
                        limit.rate.count(),
                        limit.rate.window_ns(),
                    );
                } else {
                    policy.push_str(limit.policy_field);
                }
            }
            HeaderValue::try_from(policy)
        }
    };
    // Written once, into a buffer of the exact length that the value then
    // owns: no copy, and no second allocation for its sharing (which a
    // buffer with room to spare would take).
    let numbers = |l: &Shown<'_>| (u64::from(l.remaining), ceil_secs(l.reset));
    let len = limits
        .iter()
        .map(|l| {
            let (remaining, reset) = numbers(l);
            l.name.len() + digit_count(remaining) + digit_count(reset) + r#""";r=;t="#.len()
        })
        .sum::<usize>()
        + ", ".len() * (limits.len() - 1);
    let mut current = Vec::with_capacity(len);
    for (i, limit) in limits.iter().enumerate() {
        let (remaining, reset) = numbers(limit);
        if i > 0 {
            current.extend_from_slice(b", ");
        }
        current.push(b'"');
        current.extend_from_slice(limit.name.as_bytes());
        current.extend_from_slice(b"\";r=");
        current.extend_from_slice(decimal(remaining, &mut [0; 20]));
        current.extend_from_slice(b";t=");
        current.extend_from_slice(decimal(reset, &mut [0; 20]));
    }
    debug_assert_eq!(current.len(), current.capacity());
    let current = HeaderValue::from_maybe_shared(Bytes::from(current));
    let headers = response.headers_mut();
    if let (Ok(policy), Ok(current)) = (policy, current) {
        // Limits counted elsewhere (the route's, under a global limit)
        // are kept: the fields are lists.
        merge(headers, RATELIMIT_POLICY, policy);
        merge(headers, RATELIMIT, current);
    }
}

/// How many decimal digits `n` takes.
fn digit_count(n: u64) -> usize {
    n.checked_ilog10().map_or(1, |d| d as usize + 1)
}

/// Sets `name` to `value`, or appends `value` to the list already there;
/// one lookup either way.
fn merge(headers: &mut http::HeaderMap, name: HeaderName, value: HeaderValue) {
    match headers.entry(name) {
        Entry::Vacant(vacant) => {
            vacant.insert(value);
        }
        Entry::Occupied(mut occupied) => {
            let existing = occupied.get();
            let mut joined = Vec::with_capacity(existing.len() + 2 + value.len());
            joined.extend_from_slice(existing.as_bytes());
            joined.extend_from_slice(b", ");
            joined.extend_from_slice(value.as_bytes());
            occupied.insert(HeaderValue::from_bytes(&joined).unwrap_or(value));
        }
    }
}

/// 429 with `Retry-After` (whole seconds, at least 1).
pub(crate) fn too_many_requests(retry_after: Duration) -> Problem {
    let seconds = ceil_secs(retry_after).max(1);
    Problem::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        format!("too many requests; retry in {seconds} s"),
    )
    .with_member("retryAfter", seconds.into())
    .with_header(header::RETRY_AFTER, HeaderValue::from(seconds))
}

/// 503 while the store cannot answer: limits fail closed.
pub(crate) fn store_unavailable() -> Problem {
    Problem::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "limits_unavailable",
        "the service cannot check its rate limits right now; retry shortly",
    )
    .with_header(header::RETRY_AFTER, HeaderValue::from_static("1"))
}

/// 500 for a handler whose named policy the `Warden` does not define: a
/// mistake of the program's configuration, not of the client or the store.
pub(crate) fn policy_undefined() -> Problem {
    Problem::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "configuration_error",
        "the service is misconfigured",
    )
}

#[cfg(test)]
mod tests {
    use axum::response::IntoResponse;

    use super::*;

    #[test]
    fn digit_counts_match_the_digits_written() {
        let mut n = 1u64;
        for expected in 1..=20 {
            for m in [n - 1, n, n.saturating_mul(9)] {
                assert_eq!(digit_count(m), decimal(m, &mut [0; 20]).len(), "{m}");
            }
            assert_eq!(digit_count(n), expected);
            n = n.saturating_mul(10);
        }
        assert_eq!(digit_count(u64::MAX), 20);
    }

    #[test]
    fn headers_use_the_structured_field_syntax() {
        let five = Rate::new(5, Duration::from_secs(900)).unwrap();
        let daily = Rate::new(100, Duration::from_secs(86_400)).unwrap();
        let mut response = StatusCode::OK.into_response();
        add_headers(
            &mut response,
            &[
                Shown {
                    name: "5-per-15m",
                    policy_field: r#""5-per-15m";q=5;w=900"#,
                    policy_header: None,
                    rate: five,
                    remaining: 3,
                    reset: Duration::from_millis(359_001),
                },
                Shown {
                    name: "daily",
                    policy_field: "",
                    policy_header: None,
                    rate: daily,
                    remaining: 98,
                    reset: Duration::from_secs(1728),
                },
            ],
        );
        assert_eq!(
            response.headers()["ratelimit-policy"],
            r#""5-per-15m";q=5;w=900, "daily";q=100;w=86400"#
        );
        assert_eq!(
            response.headers()["ratelimit"],
            r#""5-per-15m";r=3;t=360, "daily";r=98;t=1728"#
        );
    }

    #[test]
    fn one_limit_shows_the_policy_value_built_at_compile_time() {
        fn compiled() -> HeaderValue {
            const VALUE: HeaderValue = HeaderValue::from_static(r#""5-per-15m";q=5;w=900"#);
            VALUE
        }
        let five = Rate::new(5, Duration::from_secs(900)).unwrap();
        let shown = |remaining| Shown {
            name: "5-per-15m",
            policy_field: r#""5-per-15m";q=5;w=900"#,
            policy_header: Some(compiled),
            rate: five,
            remaining,
            reset: Duration::from_secs(180),
        };
        let mut response = StatusCode::OK.into_response();
        add_headers(&mut response, &[shown(4)]);
        assert_eq!(
            response.headers()["ratelimit-policy"],
            r#""5-per-15m";q=5;w=900"#
        );
        assert_eq!(response.headers()["ratelimit"], r#""5-per-15m";r=4;t=180"#);
        // Two limits: the items joined, from their text.
        let mut response = StatusCode::OK.into_response();
        add_headers(&mut response, &[shown(4), shown(3)]);
        assert_eq!(
            response.headers()["ratelimit-policy"],
            r#""5-per-15m";q=5;w=900, "5-per-15m";q=5;w=900"#
        );
    }

    #[test]
    fn a_refund_shows_the_slot_and_its_time_given_back() {
        let five = Rate::new(5, Duration::from_secs(900)).unwrap();
        let left = Left::from(&Outcome {
            admitted: true,
            remaining: 3,
            reset: Duration::from_secs(360),
            retry_after: Duration::ZERO,
        });
        // One emission interval (180 s) back with the slot.
        assert_eq!(left.after_refund(five, 1), (4, Duration::from_secs(180)));
        assert_eq!(left.after_refund(five, 0), (3, Duration::from_secs(360)));
        // Never more than the burst, never below zero.
        assert_eq!(left.after_refund(five, 9), (5, Duration::ZERO));
    }

    #[test]
    fn retry_after_is_rounded_up_and_at_least_one_second() {
        let problem = too_many_requests(Duration::from_millis(1500));
        assert_eq!(problem.headers()[header::RETRY_AFTER], "2");
        let problem = too_many_requests(Duration::ZERO);
        assert_eq!(problem.headers()[header::RETRY_AFTER], "1");
        assert_eq!(problem.status(), StatusCode::TOO_MANY_REQUESTS);
    }
}
