//! [`RedisStore`]: rate-limit state in Redis, one script per request.

use std::fmt;

use redis::Value;

use super::{Redis, RedisConfigError, Script, bytes, sha1_hex, unexpected};
use crate::limit::{LimitCheck, Outcome, Store, Verdict, gcra};
use crate::{StoreError, StoreFuture};

const CHECK_CODE: &str = concat!(include_str!("time.lua"), include_str!("check.lua"));
const REFUND_CODE: &str = concat!(include_str!("time.lua"), include_str!("refund.lua"));
pub(crate) static CHECK: Script = Script::new(CHECK_CODE, || sha1_hex(CHECK_CODE));
pub(crate) static REFUND: Script = Script::new(REFUND_CODE, || sha1_hex(REFUND_CODE));

/// An increment no state can absorb: beyond any tolerance (366 days).
const NEVER_FITS: (u64, u64) = (1 << 50, 0);

/// Rate-limit state in Redis, shared by every instance that uses the same
/// server and prefix.
///
/// Each request is one `EVALSHA` of one script that checks every limit of
/// the request and counts it against all only when all admit it (a
/// refused request counts against none), exactly as
/// [`MemoryStore`](crate::limit::MemoryStore) does. The time is Redis's
/// own (`TIME`), so instances whose clocks differ still share one count.
/// The arithmetic is [`gcra`]'s: the script takes the same steps on the
/// same nanosecond numbers, and returns the state it saw, from which
/// [`gcra::check`] computes what the client is told. Each state expires
/// when it equals "never seen", so Redis holds only limits that restrict
/// someone. See [the module](super) for the keys and for failures.
#[derive(Clone)]
pub struct RedisStore {
    redis: Redis,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("redis", &self.redis)
            .finish()
    }
}

impl RedisStore {
    /// The Lua script of a check, as Redis runs it: for review, or to time
    /// a bare `EVALSHA` of it beside the store.
    pub const CHECK_SCRIPT: &'static str = CHECK_CODE;

    /// A store on `redis`.
    pub fn new(redis: &Redis) -> Self {
        Self {
            redis: redis.clone(),
        }
    }

    /// A store on the server at `url`, with the default prefix and
    /// deadline: [`Redis::config`]`(url).connect()`.
    pub async fn connect(url: &str) -> Result<Self, RedisConfigError> {
        Ok(Self::new(&Redis::config(url).connect().await?))
    }

    /// The connection.
    pub fn redis(&self) -> &Redis {
        &self.redis
    }

    /// The key that holds the state of `check`.
    pub fn key_of(&self, check: &LimitCheck<'_>) -> String {
        String::from_utf8_lossy(self.redis.limit_key(check.policy, check.key).as_bytes())
            .into_owned()
    }

    async fn check_all(&self, checks: &[LimitCheck<'_>]) -> Result<Verdict, StoreError> {
        let mut command = CHECK.command(checks.len(), 5 * checks.len(), 120 * checks.len());
        for check in checks {
            command.arg(self.redis.limit_key(check.policy, check.key).as_bytes());
        }
        for check in checks {
            let (inc_s, inc_n) = increment(check);
            let (tol_s, tol_n) = split(check.rate.tolerance_ns());
            command.arg(inc_s).arg(inc_n).arg(tol_s).arg(tol_n);
        }
        let reply = self.redis.eval(&CHECK, &command).await?;
        let Value::Array(items) = reply else {
            return Err(unexpected());
        };
        let [Value::Int(admitted), now, states @ ..] = items.as_slice() else {
            return Err(unexpected());
        };
        let now = bytes(now).and_then(number).ok_or_else(unexpected)?;
        if states.len() != checks.len() {
            return Err(unexpected());
        }
        let mut outcomes: smallvec::SmallVec<[Outcome; 2]> = smallvec::SmallVec::new();
        for (check, state) in checks.iter().zip(states) {
            let tat = match bytes(state).ok_or_else(unexpected)? {
                b"" => None,
                digits => Some(number(digits).ok_or_else(unexpected)?),
            };
            outcomes.push(gcra::check(tat, now, check.rate, check.cost).0);
        }
        let verdict = Verdict::new(outcomes);
        if verdict.admitted() != (*admitted == 1) {
            // The script and the arithmetic disagree: never guess.
            return Err(StoreError::new(
                "the Redis script and the GCRA arithmetic disagree",
            ));
        }
        Ok(verdict)
    }

    async fn refund_all(&self, checks: &[LimitCheck<'_>]) -> Result<(), StoreError> {
        let mut command = REFUND.command(checks.len(), 3 * checks.len(), 110 * checks.len());
        for check in checks {
            command.arg(self.redis.limit_key(check.policy, check.key).as_bytes());
        }
        for check in checks {
            let (inc_s, inc_n) = increment(check);
            command.arg(inc_s).arg(inc_n);
        }
        self.redis.eval(&REFUND, &command).await.map(drop)
    }
}

/// `interval * cost`, as seconds and nanoseconds.
fn increment(check: &LimitCheck<'_>) -> (u64, u64) {
    check
        .rate
        .interval_ns()
        .checked_mul(u64::from(check.cost))
        .map_or(NEVER_FITS, split)
}

fn split(ns: u64) -> (u64, u64) {
    (ns / 1_000_000_000, ns % 1_000_000_000)
}

/// A decimal u64.
fn number(digits: &[u8]) -> Option<u64> {
    std::str::from_utf8(digits).ok()?.parse().ok()
}

impl Store for RedisStore {
    fn check<'a>(
        &'a self,
        checks: &'a [LimitCheck<'a>],
    ) -> StoreFuture<'a, Result<Verdict, StoreError>> {
        StoreFuture::boxed(self.check_all(checks))
    }

    fn refund<'a>(
        &'a self,
        checks: &'a [LimitCheck<'a>],
    ) -> StoreFuture<'a, Result<(), StoreError>> {
        StoreFuture::boxed(self.refund_all(checks))
    }
}
