//! The global limit of [`WardenBuilder::global_limit`]: one count per
//! client address over every request through `warden.layer()`.
//!
//! [`WardenBuilder::global_limit`]: crate::WardenBuilder::global_limit

use axum::response::{IntoResponse, Response};
use http::request::Parts;

use super::response::{Shown, add_headers, store_unavailable, too_many_requests};
use super::{LimitCheck, Outcome, Rate};
use crate::{Warden, audit};

/// The policy identity of the global limit's state.
const POLICY: &str = "warden::global";
/// Its name in the `RateLimit` fields, in 429 bodies and audit events.
pub(crate) const NAME: &str = "global";

/// The configured global limit.
#[derive(Debug)]
pub(crate) struct GlobalLimit {
    pub(crate) rate: Rate,
    pub(crate) exempt: Vec<String>,
}

/// Counts `parts` against the global limit. `Ok(Some(..))`: admitted and
/// counted, with the rate and outcome to show on the response; `Ok(None)`: not counted (no
/// global limit, an exempt path, or a store failure under fail-open);
/// `Err(response)`: 429 or 503.
pub(crate) async fn count(
    warden: &Warden,
    parts: &Parts,
) -> Result<Option<(Rate, Outcome)>, Response> {
    let Some(global) = warden.global_limit() else {
        return Ok(None);
    };
    if global.exempt.iter().any(|path| path == parts.uri.path()) {
        return Ok(None);
    }
    let client = warden.client_ip(parts);
    let key = crate::guard::ip_limit_key(client, warden);
    let checks = [LimitCheck {
        policy: POLICY,
        key: &key,
        rate: global.rate,
        cost: 1,
    }];
    let verdict = match warden.store().check(&checks).await {
        Ok(verdict) => verdict,
        Err(error) if warden.fails_open() => {
            audit::limits_bypassed(NAME, parts, &error);
            return Ok(None);
        }
        Err(error) => {
            audit::store_failed(NAME, parts, &error);
            return Err(store_unavailable().into_response());
        }
    };
    let outcome = verdict.outcomes()[0];
    if outcome.admitted {
        return Ok(Some((global.rate, outcome)));
    }
    let problem = too_many_requests(outcome.retry_after).with_member("limit", NAME.into());
    let seconds = super::response::ceil_secs(outcome.retry_after).max(1);
    audit::rate_limited(NAME, parts, client, NAME, seconds);
    let mut response = problem.into_response();
    show(&mut response, global.rate, &outcome);
    Err(response)
}

/// Adds the global limit to the response's `RateLimit` fields.
pub(crate) fn show(response: &mut Response, rate: Rate, outcome: &Outcome) {
    add_headers(response, &[Shown::new(NAME, rate, outcome, 0)]);
}
