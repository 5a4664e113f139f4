//! Redis (6.2 and later, and Valkey) as the shared home of rate-limit state
//! and refresh-token families, so that every instance of an API keeps one
//! count and one family: enable the `redis` cargo feature.
//!
//! ```no_run
//! use std::time::Duration;
//! use warden::redis::{Redis, RedisStore, RedisTokenStore};
//! use warden::auth::refresh::RefreshTokens;
//! use warden::Warden;
//!
//! # async fn start() -> Result<(), Box<dyn std::error::Error>> {
//! let redis = Redis::config("redis://127.0.0.1:6379")
//!     .prefix("myapi:")                       // default "warden:"
//!     .timeout(Duration::from_millis(50))     // per call; the default
//!     .key_secret(b"a secret every instance shares")
//!     .connect()
//!     .await?;                                // fails only on a malformed configuration
//! let warden = Warden::builder().store(RedisStore::new(&redis)).build()?;
//! let refresh = RefreshTokens::new(RedisTokenStore::new(&redis));
//! # Ok(())
//! # }
//! ```
//!
//! # The client
//!
//! The [`redis`](https://docs.rs/redis) crate, the maintained driver of the
//! redis-rs project, with its `ConnectionManager`: one multiplexed
//! connection shared by every request (no pool, no checkout), which
//! reconnects by itself after Redis restarts or the network drops. Every
//! operation is one script (`EVALSHA`, loaded again after `NOSCRIPT`), so a
//! request costs one round trip and is atomic across instances.
//!
//! # Failure
//!
//! Every call has a deadline (50 ms by default). While Redis cannot answer,
//! calls fail with a [`StoreError`] within that deadline: limited routes
//! answer 503 with `Retry-After` (fail closed, unless the builder chose
//! [`StoreFailure::FailOpen`](crate::StoreFailure::FailOpen)), and refresh
//! tokens cannot be issued or rotated. Nothing hangs on Redis, and
//! service resumes by itself when it is back. An instance can start while
//! Redis is down: [`RedisConfig::connect`] reports it and answers as above.
//! The change of state (unavailable, then available again) is logged once
//! each way on the `warden::audit` target, not once per request.
//!
//! # Keys
//!
//! Every key starts with the prefix and has a TTL from the moment it is
//! written:
//!
//! | key | holds | expires |
//! |---|---|---|
//! | `{prefix}l:{digest}` | a limit's state: the GCRA theoretical arrival time in nanoseconds | when the state equals "never seen" |
//! | `{prefix}rt:f:{family}` | a login: the digest of its current token and that token's expiry, the subject (sealed), the family key wrapped under the current token, its expiry, a revoked flag | with the family |
//! | `{prefix}rt:s:{digest}` | a subject's live families, in the order they began (at most the per-subject bound) | with its longest-lived family |
//!
//! No key or value holds a client address, a user id or a token. A limit's
//! digest, and a subject's, is an HMAC-SHA-256 keyed with
//! [`RedisConfig::key_secret`] (every instance must compute it alike, so
//! it cannot be a per-process random key; without a secret an address
//! space as small as IPv4's could be searched). A family's id is a digest
//! of the lookup id inside its tokens, and a token is kept as its SHA-256.
//! A family's subject is encrypted and authenticated with a random
//! per-family key, which is stored only wrapped under a second,
//! independent digest of the current token, so what Redis holds cannot be
//! read without that token.
//!
//! # Redis Cluster
//!
//! The scripts touch several keys: the limits of one request, or a login
//! and its subject's index (whose oldest logins it may end). In a cluster
//! they must hash to one slot, which a prefix with a hash tag gives
//! (`.prefix("{warden}:")`): every key then lives on one shard, which keeps
//! the atomicity and gives up sharding. Spreading limits over shards would
//! need one slot per client key and a script per slot; this crate does not
//! do that.

mod limits;
mod tokens;

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use redis::aio::ConnectionManager;
use redis::{Cmd, RedisError, ServerErrorKind, Value};
use sha2::{Digest, Sha256};

pub use limits::RedisStore;
pub use tokens::RedisTokenStore;

use crate::StoreError;

/// The default key prefix.
pub const DEFAULT_PREFIX: &str = "warden:";
/// The default deadline of one call.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(50);
/// The deadline of the first connection, in [`RedisConfig::connect`].
const FIRST_CONNECTION: Duration = Duration::from_secs(1);

/// A shared connection to Redis, with the settings every warden store on it
/// uses. Cloning is cheap: clones share the one connection.
#[derive(Clone)]
pub struct Redis {
    shared: Arc<Shared>,
}

struct Shared {
    connection: ConnectionManager,
    prefix: String,
    timeout: Duration,
    keyer: Hmac<Sha256>,
    available: AtomicBool,
}

impl fmt::Debug for Redis {
    /// The URL may hold a password: it is never shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Redis")
            .field("prefix", &self.shared.prefix)
            .field("timeout", &self.shared.timeout)
            .finish_non_exhaustive()
    }
}

/// The settings of a [`Redis`] connection; [`RedisConfig::connect`] checks
/// them.
#[must_use = "a configuration does nothing until .connect() is called"]
pub struct RedisConfig {
    url: String,
    prefix: String,
    timeout: Duration,
    key_secret: Option<Vec<u8>>,
}

impl fmt::Debug for RedisConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisConfig")
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .field(
                "key_secret",
                &self.key_secret.as_ref().map(|_| "[redacted]"),
            )
            .finish_non_exhaustive()
    }
}

/// A Redis configuration that [`RedisConfig::connect`] refuses.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RedisConfigError {
    /// Not a `redis://` (or `rediss://`, `redis+unix://`) URL. The URL is
    /// not repeated: it may hold a password.
    Url,
    /// A prefix over 64 bytes, or with a space or control character.
    Prefix,
    /// A zero deadline, or one over 10 seconds.
    Timeout,
}

impl fmt::Display for RedisConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Url => {
                "the Redis URL is malformed: expected redis://[user:password@]host[:port][/db]"
            }
            Self::Prefix => {
                "a Redis key prefix must be at most 64 bytes, without spaces or control characters"
            }
            Self::Timeout => "a Redis call deadline must be between 1 ms and 10 s",
        })
    }
}

impl std::error::Error for RedisConfigError {}

impl Redis {
    /// Starts a configuration for the server at `url`
    /// (`redis://[user:password@]host[:port][/db]`).
    pub fn config(url: impl Into<String>) -> RedisConfig {
        RedisConfig {
            url: url.into(),
            prefix: DEFAULT_PREFIX.to_owned(),
            timeout: DEFAULT_TIMEOUT,
            key_secret: None,
        }
    }

    /// The key prefix.
    pub fn prefix(&self) -> &str {
        &self.shared.prefix
    }

    /// The deadline of one call.
    pub fn timeout(&self) -> Duration {
        self.shared.timeout
    }

    /// Whether Redis answers now (one `PING`, within the deadline).
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.run(&redis::cmd("PING")).await.map(drop)
    }

    /// Makes the connection, with the time a first connection may need
    /// (TCP, TLS, `AUTH`) rather than a request's deadline, and loads the
    /// scripts so that the first requests skip `NOSCRIPT`.
    async fn warm_up(&self) -> Result<(), StoreError> {
        let mut connection = self.shared.connection.clone();
        let scripts = [
            &limits::CHECK,
            &limits::REFUND,
            &tokens::INSERT,
            &tokens::ROTATE,
            &tokens::REVOKE,
        ];
        self.within(FIRST_CONNECTION, async move {
            for script in scripts {
                send(
                    &mut connection,
                    redis::cmd("SCRIPT").arg("LOAD").arg(script.code),
                )
                .await?;
            }
            Ok(Value::Okay)
        })
        .await
        .map(drop)
    }

    /// A key under the prefix: `{prefix}{kind}{name}`.
    fn key(&self, kind: &str, name: &str) -> String {
        let mut key = String::with_capacity(self.shared.prefix.len() + kind.len() + name.len());
        key.push_str(&self.shared.prefix);
        key.push_str(kind);
        key.push_str(name);
        key
    }

    /// The key of a limit's state: `{prefix}l:` and the keyed digest of
    /// (policy, client key).
    fn limit_key(&self, policy: &str, key: &[u8]) -> LimitKey {
        self.digest_key("l:", policy, key)
    }

    /// `{prefix}{kind}` and the keyed digest of (`domain`, `value`), 128
    /// bits in base64url, the same on every instance with the same secret:
    /// for keys that must not show what they are about (a client address,
    /// a user id). Written on the stack: it is on every limited request's
    /// path.
    fn digest_key(&self, kind: &str, domain: &str, value: &[u8]) -> LimitKey {
        use base64::Engine as _;
        let mut mac = self.shared.keyer.clone();
        mac.update(&(domain.len() as u64).to_be_bytes());
        mac.update(domain.as_bytes());
        mac.update(value);
        let digest = mac.finalize().into_bytes();
        let prefix = self.shared.prefix.as_bytes();
        let head = prefix.len() + kind.len();
        let mut out = LimitKey {
            bytes: [0; LIMIT_KEY_MAX],
            len: head + 22,
        };
        out.bytes[..prefix.len()].copy_from_slice(prefix);
        out.bytes[prefix.len()..head].copy_from_slice(kind.as_bytes());
        let written = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode_slice(&digest[..16], &mut out.bytes[head..]);
        debug_assert_eq!(written.ok(), Some(22));
        out
    }

    /// Runs one command within the deadline.
    async fn run(&self, command: &Cmd) -> Result<Value, StoreError> {
        let mut connection = self.shared.connection.clone();
        self.within(self.shared.timeout, async move {
            send(&mut connection, command).await
        })
        .await
    }

    /// Runs a script by its SHA-1 (`EVALSHA`); when Redis does not know it
    /// (a restart, `SCRIPT FLUSH`), loads it and runs it again.
    async fn eval(&self, script: &Script, command: &Cmd) -> Result<Value, StoreError> {
        let mut connection = self.shared.connection.clone();
        self.within(self.shared.timeout, async move {
            match send(&mut connection, command).await {
                Err(error)
                    if error.kind() == redis::ErrorKind::Server(ServerErrorKind::NoScript) =>
                {
                    send(
                        &mut connection,
                        redis::cmd("SCRIPT").arg("LOAD").arg(script.code),
                    )
                    .await?;
                    send(&mut connection, command).await
                }
                other => other,
            }
        })
        .await
    }

    /// Awaits `call` within `deadline`, and keeps track of whether Redis
    /// is available (logged once per change, not per call).
    async fn within(
        &self,
        deadline: Duration,
        call: impl Future<Output = Result<Value, RedisError>>,
    ) -> Result<Value, StoreError> {
        let result = match tokio::time::timeout(deadline, call).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => Err(describe(&error)),
            Err(_) => Err(format!("no answer within {} ms", deadline.as_millis())),
        };
        self.record(result.as_ref().err());
        result.map_err(StoreError::new)
    }

    fn record(&self, error: Option<&String>) {
        match error {
            Some(error) => {
                if self.shared.available.swap(false, Ordering::Relaxed) {
                    tracing::error!(
                        target: crate::audit::TARGET,
                        event = "redis_unavailable",
                        error = %error,
                        "Redis does not answer: limited routes and refresh tokens answer 503 until it is back"
                    );
                }
            }
            None => {
                if !self.shared.available.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        target: crate::audit::TARGET,
                        event = "redis_available",
                        "Redis answers again"
                    );
                }
            }
        }
    }
}

impl RedisConfig {
    /// The prefix of every key (default `"warden:"`), so that several
    /// applications can share one Redis.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The deadline of each call (default 50 ms): past it the call fails
    /// and the request is answered 503.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The secret the limit keys are digested with. Every instance must be
    /// given the same one. Without it the digest is unkeyed, and anyone who
    /// can read the keys could test guessed addresses against them.
    pub fn key_secret(mut self, secret: impl AsRef<[u8]>) -> Self {
        self.key_secret = Some(secret.as_ref().to_vec());
        self
    }

    /// Checks the configuration and opens the shared connection.
    ///
    /// Tries to connect and load the scripts, waiting at most a second;
    /// the connection is made again whenever it is lost. Redis need not be
    /// up: when it does not answer, this logs it once and returns the
    /// handle all the same, so an instance can start during an outage.
    /// Fails only on a malformed configuration. Needs a Tokio runtime.
    pub async fn connect(self) -> Result<Redis, RedisConfigError> {
        let redis = self.open()?;
        // An outage is reported (once) by the call that meets it.
        let _ = redis.warm_up().await;
        Ok(redis)
    }

    fn open(self) -> Result<Redis, RedisConfigError> {
        if self.prefix.len() > 64 || self.prefix.bytes().any(|b| b <= b' ' || b == 0x7f) {
            return Err(RedisConfigError::Prefix);
        }
        if self.timeout < Duration::from_millis(1) || self.timeout > Duration::from_secs(10) {
            return Err(RedisConfigError::Timeout);
        }
        let client = redis::Client::open(self.url.as_str()).map_err(|_| RedisConfigError::Url)?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_response_timeout(None)
            .set_connection_timeout(Some(FIRST_CONNECTION))
            .set_number_of_retries(2)
            .set_min_delay(Duration::from_millis(10))
            .set_max_delay(Duration::from_millis(200));
        let connection = ConnectionManager::new_lazy_with_config(client, config)
            .map_err(|_| RedisConfigError::Url)?;
        let keyer = <Hmac<Sha256> as KeyInit>::new_from_slice(
            self.key_secret
                .as_deref()
                .unwrap_or(b"warden rate-limit keys, unkeyed"),
        )
        .map_err(|_| RedisConfigError::Url)?;
        Ok(Redis {
            shared: Arc::new(Shared {
                connection,
                prefix: self.prefix,
                timeout: self.timeout,
                keyer,
                available: AtomicBool::new(true),
            }),
        })
    }
}

/// The longest digested key: a 64-byte prefix, a kind of at most 5 bytes
/// (`rt:s:`) and 22 digest characters.
const LIMIT_KEY_MAX: usize = 64 + 5 + 22;

/// A limit key, on the stack.
pub(crate) struct LimitKey {
    bytes: [u8; LIMIT_KEY_MAX],
    len: usize,
}

impl LimitKey {
    fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

/// A Lua script and its SHA-1, computed once.
pub(crate) struct Script {
    code: &'static str,
    sha: std::sync::LazyLock<String>,
}

impl Script {
    const fn new(code: &'static str, sha: fn() -> String) -> Self {
        Self {
            code,
            sha: std::sync::LazyLock::new(sha),
        }
    }

    /// `EVALSHA sha numkeys`, to which the caller adds `args` more
    /// arguments (keys and values) of about `bytes` bytes in all.
    fn command(&self, keys: usize, args: usize, bytes: usize) -> Cmd {
        let mut command = Cmd::with_capacity(3 + args, 7 + 40 + 4 + bytes);
        command.arg("EVALSHA").arg(self.sha.as_str()).arg(keys);
        command
    }
}

/// The SHA-1 `EVALSHA` names a script by.
fn sha1_hex(code: &str) -> String {
    redis::Script::new(code).get_hash().to_owned()
}

/// Sends one command; an error reply is an error.
async fn send(connection: &mut ConnectionManager, command: &Cmd) -> Result<Value, RedisError> {
    connection
        .send_packed_command(command)
        .await
        .and_then(Value::extract_error)
}

/// What went wrong, without anything from the URL (it may hold a password)
/// or the data.
fn describe(error: &RedisError) -> String {
    if error.is_timeout() {
        "no answer in time".to_owned()
    } else if error.is_io_error() || error.is_connection_dropped() {
        "cannot reach the server".to_owned()
    } else if let Some(code) = error.code() {
        format!("the server answered an error ({code})")
    } else {
        format!("{:?}", error.kind())
    }
}

/// The bytes of a bulk or simple string in a reply.
fn bytes(value: &Value) -> Option<&[u8]> {
    match value {
        Value::BulkString(bytes) => Some(bytes),
        Value::SimpleString(text) => Some(text.as_bytes()),
        _ => None,
    }
}

fn unexpected() -> StoreError {
    StoreError::new("Redis answered a script with an unexpected reply")
}

/// SHA-256 of `parts`, one after another.
fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut digest = Sha256::new();
    for part in parts {
        digest.update(part);
    }
    digest.finalize().into()
}
