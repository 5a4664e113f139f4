//! What clients see of the limits: the IETF `RateLimit-Policy` and
//! `RateLimit` fields (draft-ietf-httpapi-ratelimit-headers, draft 10
//! syntax), `Retry-After`, and the 429 and 503 problems.

use std::time::Duration;

use axum::response::Response;
use bytes::Bytes;
use http::header::Entry;
use http::{HeaderName, HeaderValue, StatusCode, header};

use super::{Outcome, Rate};
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
    pub(crate) rate: Rate,
    pub(crate) remaining: u32,
    pub(crate) reset: Duration,
}

impl<'a> Shown<'a> {
    pub(crate) fn new(
        name: &'a str,
        policy_field: &'static str,
        rate: Rate,
        outcome: &Outcome,
        refunded: u32,
    ) -> Self {
        Self {
            name,
            policy_field,
            rate,
            remaining: outcome.remaining.saturating_add(refunded).min(rate.count()),
            reset: if refunded > 0 {
                outcome
                    .reset
                    .saturating_sub(rate.emission_interval() * refunded)
            } else {
                outcome.reset
            },
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
        // The common case, one inline limit: a static value, no allocation.
        // Through `Bytes` rather than `from_static`, whose check of the bytes
        // is a loop of one byte at a time when it runs at request time;
        // `from_maybe_shared` checks them many at a time.
        [one] if !one.policy_field.is_empty() => {
            HeaderValue::from_maybe_shared(Bytes::from_static(one.policy_field.as_bytes()))
        }
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
                    rate: five,
                    remaining: 3,
                    reset: Duration::from_millis(359_001),
                },
                Shown {
                    name: "daily",
                    policy_field: "",
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
    fn retry_after_is_rounded_up_and_at_least_one_second() {
        let problem = too_many_requests(Duration::from_millis(1500));
        assert_eq!(problem.headers()[header::RETRY_AFTER], "2");
        let problem = too_many_requests(Duration::ZERO);
        assert_eq!(problem.headers()[header::RETRY_AFTER], "1");
        assert_eq!(problem.status(), StatusCode::TOO_MANY_REQUESTS);
    }
}
