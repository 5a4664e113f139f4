//! Limits a handler checks itself, for keys known only once the request is
//! read: the account a login names, say.

use axum::response::{IntoResponse, Response};

use super::response::{Shown, add_headers, ceil_secs, store_unavailable, too_many_requests};
use super::{LimitCheck, Outcome, Rate, Skip};
use crate::{Warden, audit};

/// A limit on a key the handler names: the same store, GCRA, `RateLimit`
/// fields, 429 body and audit events as `#[rate_limit]`.
///
/// Credential stuffing spreads guesses over many addresses, so a per-address
/// limit never sees it; a limit per account does. Stack it with the
/// per-address `#[rate_limit]`, never instead of it.
///
/// ```
/// use axum::{Json, extract::State, response::{IntoResponse, Response}};
/// use http::StatusCode;
/// use warden::limit::{KeyedLimit, Rate};
/// use warden::{Warden, rate_limit};
///
/// #[derive(serde::Deserialize)]
/// struct Login { email: String, password: String }
///
/// #[rate_limit(5, "15m", skip_successful)]             // per address
/// async fn login(State(warden): State<Warden>, Json(body): Json<Login>) -> Response {
///     // ...and 10 failures an hour per account, whatever the address.
///     let per_account = KeyedLimit::new("login-account", "10/1h".parse().unwrap()).skip_successful();
///     let attempt = match warden.check_limit(&per_account, &body.email.to_lowercase()).await {
///         Ok(attempt) => attempt,
///         Err(refused) => return refused,                  // 429 (or 503), as #[rate_limit] answers
///     };
///     let response = StatusCode::UNAUTHORIZED.into_response();  // check the password here
///     attempt.finish(response).await                       // gives the slot back on success
/// }
/// ```
#[derive(Debug, Clone)]
pub struct KeyedLimit {
    name: &'static str,
    policy: String,
    rate: Rate,
    skip: Skip,
}

impl KeyedLimit {
    /// `rate` per key, named `name` in the `RateLimit` fields, 429 bodies
    /// and audit events (and the identity of its state: two limits with
    /// one name share counts).
    pub fn new(name: &'static str, rate: Rate) -> Self {
        Self {
            name,
            policy: format!("keyed:{name}"),
            rate,
            skip: Skip::Nothing,
        }
    }

    /// Only failures count: a response under 400 gives its slot back.
    pub fn skip_successful(mut self) -> Self {
        self.skip = Skip::Successful;
        self
    }

    /// Only successes count: a response of 400 or over gives its slot back.
    pub fn skip_failed(mut self) -> Self {
        self.skip = Skip::Failed;
        self
    }

    fn check<'a>(&'a self, key: &'a [u8]) -> LimitCheck<'a> {
        LimitCheck {
            policy: &self.policy,
            key,
            rate: self.rate,
            cost: 1,
        }
    }
}

/// A request counted by a [`KeyedLimit`]: pass the handler's response
/// through [`LimitAttempt::finish`].
#[must_use = "finish(response) gives the slot back when the limit skips this outcome, and adds the RateLimit fields"]
#[derive(Debug)]
pub struct LimitAttempt<'a> {
    limit: &'a KeyedLimit,
    key: Vec<u8>,
    outcome: Option<Outcome>,
    warden: Warden,
}

impl Warden {
    /// Counts a request against `limit` for `key`. `Err` is the response to
    /// send: 429 with `Retry-After` and the `RateLimit` fields, or 503 while
    /// the store cannot answer (unless the builder chose
    /// [`StoreFailure::FailOpen`](crate::StoreFailure::FailOpen)). The key
    /// is never logged.
    pub async fn check_limit<'a>(
        &self,
        limit: &'a KeyedLimit,
        key: &str,
    ) -> Result<LimitAttempt<'a>, Response> {
        let mut tagged = Vec::with_capacity(key.len() + 1);
        tagged.push(b'k');
        tagged.extend_from_slice(key.as_bytes());
        let checks = [limit.check(&tagged)];
        let verdict = match self.store().check(&checks).await {
            Ok(verdict) => verdict,
            Err(error) if self.fails_open() => {
                audit::keyed_limit_bypassed(limit.name, &error);
                return Ok(LimitAttempt {
                    limit,
                    key: tagged,
                    outcome: None,
                    warden: self.clone(),
                });
            }
            Err(error) => {
                audit::keyed_limit_failed(limit.name, &error);
                return Err(store_unavailable().into_response());
            }
        };
        let outcome = verdict.outcomes()[0];
        if !outcome.admitted {
            let seconds = ceil_secs(outcome.retry_after).max(1);
            audit::keyed_limit_refused(limit.name, seconds);
            let mut response = too_many_requests(outcome.retry_after)
                .with_member("limit", limit.name.into())
                .into_response();
            add_headers(
                &mut response,
                &[Shown::new(limit.name, limit.rate, &outcome, 0)],
            );
            return Err(response);
        }
        Ok(LimitAttempt {
            limit,
            key: tagged,
            outcome: Some(outcome),
            warden: self.clone(),
        })
    }
}

impl LimitAttempt<'_> {
    /// Gives the slot back when the limit skips this response's outcome
    /// (`skip_successful`, `skip_failed`), and adds the limit to the
    /// response's `RateLimit` fields.
    pub async fn finish(self, mut response: Response) -> Response {
        let Some(outcome) = self.outcome else {
            return response;
        };
        let refunded = self.limit.skip.refunds(response.status());
        if refunded
            && let Err(error) = self
                .warden
                .store()
                .refund(&[self.limit.check(&self.key)])
                .await
        {
            tracing::error!(target: crate::audit::TARGET, limit = self.limit.name, %error, "rate-limit refund failed");
        }
        add_headers(
            &mut response,
            &[Shown::new(
                self.limit.name,
                self.limit.rate,
                &outcome,
                u32::from(refunded),
            )],
        );
        response
    }
}
