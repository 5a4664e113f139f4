//! Refresh tokens that rotate on every use, with reuse detection that
//! revokes the whole family (OAuth 2.0 Security BCP, section 4.14.2).
//!
//! ```
//! use warden::auth::refresh::{MemoryTokenStore, RefreshError, RefreshTokens};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), RefreshError> {
//! let tokens = RefreshTokens::new(MemoryTokenStore::new());
//! let login = tokens.issue("user-7").await?;               // a new family
//! let next = tokens.rotate(login.token.expose()).await?;   // spends the first
//! assert_eq!(next.subject, "user-7");
//! // Presenting the spent token again revokes the family...
//! assert_eq!(tokens.rotate(login.token.expose()).await.err(), Some(RefreshError::Reused));
//! // ...so the token that replaced it is dead too.
//! assert_eq!(tokens.rotate(next.issued.token.expose()).await.err(), Some(RefreshError::Revoked));
//! # Ok(())
//! # }
//! ```

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use super::jwt::unix_now;
use crate::limit::{StoreError, StoreFuture};

/// The prefix of every refresh token, so it can never be mistaken for an
/// access token (a JWT) or the other way round.
pub const PREFIX: &str = "rt_";
/// The default lifetime of one refresh token.
pub const DEFAULT_TTL: Duration = Duration::from_secs(7 * 24 * 3600);
/// The default absolute lifetime of a family (a login): rotation never
/// extends a session past it.
pub const DEFAULT_FAMILY_TTL: Duration = Duration::from_secs(30 * 24 * 3600);

/// A refresh token. Its `Debug` output never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct RefreshToken(String);

impl RefreshToken {
    /// The token, to send to the client.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for RefreshToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RefreshToken([redacted])")
    }
}

/// The identity of a family of refresh tokens: one login.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FamilyId(pub String);

/// A freshly issued refresh token.
#[derive(Debug, Clone)]
pub struct Issued {
    /// The token.
    pub token: RefreshToken,
    /// Its family.
    pub family: FamilyId,
    /// Seconds until it expires.
    pub expires_in: u64,
}

/// A successful rotation.
#[derive(Debug, Clone)]
pub struct Rotated {
    /// Whom the family belongs to.
    pub subject: String,
    /// The token that replaces the one presented.
    pub issued: Issued,
}

/// Why a refresh token was refused. Every variant answers 401.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RefreshError {
    /// Not a token this service issued (or already swept).
    Unknown,
    /// The token, or its family, is past its lifetime.
    Expired,
    /// The token was already used: its family is now revoked.
    Reused,
    /// The family was revoked (logout, or an earlier reuse).
    Revoked,
    /// The store could not answer (503, fail closed).
    Store(StoreError),
    /// The system random generator failed.
    Randomness,
}

impl fmt::Display for RefreshError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unknown => f.write_str("unknown refresh token"),
            Self::Expired => f.write_str("the refresh token has expired"),
            Self::Reused => f.write_str("the refresh token was already used; its login is revoked"),
            Self::Revoked => f.write_str("the refresh token was revoked"),
            Self::Store(error) => error.fmt(f),
            Self::Randomness => f.write_str("the system random generator failed"),
        }
    }
}

impl std::error::Error for RefreshError {}

/// The SHA-256 of a token: all a store ever sees.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenHash(pub [u8; 32]);

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenHash(..)")
    }
}

impl TokenHash {
    fn of(token: &str) -> Self {
        Self(Sha256::digest(token.as_bytes()).into())
    }
}

/// A second digest of a token, independent of its [`TokenHash`]: a store
/// may use it to encrypt what it keeps for that token (the Redis store
/// seals the family's subject with it), and never stores it, so what a
/// store holds cannot be read without the token.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct TokenSeal(pub [u8; 32]);

impl fmt::Debug for TokenSeal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenSeal(..)")
    }
}

impl TokenSeal {
    fn of(token: &str) -> Self {
        let mut digest = Sha256::new();
        digest.update(b"warden refresh-token seal\0");
        digest.update(token.as_bytes());
        Self(digest.finalize().into())
    }
}

/// One rotation, as [`TokenStore::rotate`] receives it.
#[derive(Debug, Clone, Copy)]
pub struct Rotation {
    /// The hash of the token presented.
    pub presented: TokenHash,
    /// Its seal.
    pub presented_seal: TokenSeal,
    /// The hash of the token that replaces it.
    pub next: TokenHash,
    /// Its seal.
    pub next_seal: TokenSeal,
    /// When the next token expires (Unix seconds), before the family's
    /// lifetime caps it.
    pub next_expires_at: u64,
    /// Now (Unix seconds).
    pub now: u64,
}

/// A token as a store keeps it.
#[derive(Debug, Clone)]
pub struct TokenRecord {
    /// The token's hash.
    pub hash: TokenHash,
    /// Whom the family belongs to.
    pub subject: String,
    /// The family.
    pub family: FamilyId,
    /// When this token expires (Unix seconds).
    pub expires_at: u64,
    /// When the family expires (Unix seconds).
    pub family_expires_at: u64,
}

/// What a store's atomic rotation found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RotateOutcome {
    /// The token was live: it is now spent and `next` is stored.
    Rotated {
        /// Whom the family belongs to.
        subject: String,
        /// The family.
        family: FamilyId,
        /// When the family expires.
        family_expires_at: u64,
    },
    /// No such token.
    Unknown,
    /// The token or its family has expired.
    Expired,
    /// The token was spent already: the family is now revoked.
    Reused,
    /// The family was revoked.
    Revoked,
}

/// Where refresh-token state lives. `rotate` must be atomic: of two
/// concurrent rotations of one token, exactly one finds it live.
pub trait TokenStore: Send + Sync + 'static {
    /// Stores the first token of a new family; `seal` is that token's
    /// [`TokenSeal`].
    fn insert(
        &self,
        record: TokenRecord,
        seal: TokenSeal,
    ) -> StoreFuture<'_, Result<(), StoreError>>;

    /// Spends the presented token and stores the next one in its family,
    /// expiring at `next_expires_at` (capped by the family's lifetime), or
    /// says why not; a spent token revokes its family.
    fn rotate(&self, rotation: Rotation) -> StoreFuture<'_, Result<RotateOutcome, StoreError>>;

    /// Revokes the family of `hash` (logout); unknown tokens are ignored.
    fn revoke_family_of(&self, hash: TokenHash) -> StoreFuture<'_, Result<(), StoreError>>;

    /// Revokes a family by its id (logout with an access token that names
    /// its login); unknown families are ignored.
    fn revoke_family(&self, family: &FamilyId) -> StoreFuture<'_, Result<(), StoreError>>;
}

/// Issues, rotates and revokes refresh tokens.
#[derive(Clone)]
pub struct RefreshTokens {
    store: Arc<dyn TokenStore>,
    ttl: Duration,
    family_ttl: Duration,
}

impl fmt::Debug for RefreshTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RefreshTokens")
            .field("ttl", &self.ttl)
            .field("family_ttl", &self.family_ttl)
            .finish_non_exhaustive()
    }
}

fn new_token() -> Result<(RefreshToken, TokenHash, TokenSeal), RefreshError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|_| RefreshError::Randomness)?;
    let token = format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes));
    let (hash, seal) = (TokenHash::of(&token), TokenSeal::of(&token));
    Ok((RefreshToken(token), hash, seal))
}

impl RefreshTokens {
    /// Tokens in `store`, 7-day lifetime, 30-day families.
    pub fn new(store: impl TokenStore) -> Self {
        Self {
            store: Arc::new(store),
            ttl: DEFAULT_TTL,
            family_ttl: DEFAULT_FAMILY_TTL,
        }
    }

    /// The lifetime of each token.
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// The absolute lifetime of a family.
    pub fn family_ttl(mut self, ttl: Duration) -> Self {
        self.family_ttl = ttl;
        self
    }

    /// The first token of a new family (a login).
    pub async fn issue(&self, subject: &str) -> Result<Issued, RefreshError> {
        let (token, hash, seal) = new_token()?;
        let mut family = [0u8; 16];
        getrandom::fill(&mut family).map_err(|_| RefreshError::Randomness)?;
        let family = FamilyId(URL_SAFE_NO_PAD.encode(family));
        let now = unix_now();
        let family_expires_at = now + self.family_ttl.as_secs();
        let expires_at = (now + self.ttl.as_secs()).min(family_expires_at);
        self.store
            .insert(
                TokenRecord {
                    hash,
                    subject: subject.to_owned(),
                    family: family.clone(),
                    expires_at,
                    family_expires_at,
                },
                seal,
            )
            .await
            .map_err(RefreshError::Store)?;
        Ok(Issued {
            token,
            family,
            expires_in: expires_at - now,
        })
    }

    /// Spends `token` and returns its replacement. A token that is not
    /// shaped like a refresh token is [`RefreshError::Unknown`] without a
    /// store round trip.
    pub async fn rotate(&self, token: &str) -> Result<Rotated, RefreshError> {
        if !token.starts_with(PREFIX) || token.len() != PREFIX.len() + 43 {
            return Err(RefreshError::Unknown);
        }
        let (next, next_hash, next_seal) = new_token()?;
        let now = unix_now();
        let outcome = self
            .store
            .rotate(Rotation {
                presented: TokenHash::of(token),
                presented_seal: TokenSeal::of(token),
                next: next_hash,
                next_seal,
                next_expires_at: now + self.ttl.as_secs(),
                now,
            })
            .await
            .map_err(RefreshError::Store)?;
        match outcome {
            RotateOutcome::Rotated {
                subject,
                family,
                family_expires_at,
            } => {
                let expires_at = (now + self.ttl.as_secs()).min(family_expires_at);
                Ok(Rotated {
                    subject,
                    issued: Issued {
                        token: next,
                        family,
                        expires_in: expires_at.saturating_sub(now),
                    },
                })
            }
            RotateOutcome::Unknown => Err(RefreshError::Unknown),
            RotateOutcome::Expired => Err(RefreshError::Expired),
            RotateOutcome::Reused => Err(RefreshError::Reused),
            RotateOutcome::Revoked => Err(RefreshError::Revoked),
        }
    }

    /// Revokes a family by its id: the `family` of the [`Issued`] token,
    /// carried in the access token of that login.
    pub async fn revoke_family(&self, family: &FamilyId) -> Result<(), RefreshError> {
        self.store
            .revoke_family(family)
            .await
            .map_err(RefreshError::Store)
    }

    /// Revokes the family `token` belongs to (logout).
    pub async fn revoke(&self, token: &str) -> Result<(), RefreshError> {
        self.store
            .revoke_family_of(TokenHash::of(token))
            .await
            .map_err(RefreshError::Store)
    }
}

/// The default bound on the tokens a [`MemoryTokenStore`] holds.
pub const DEFAULT_MAX_TOKENS: usize = 1_000_000;

/// Refresh-token state in process memory: expired tokens and families are
/// swept, and the number of tokens is bounded (when full and nothing has
/// expired, the token closest to expiry is dropped, which ends that
/// session early rather than growing memory).
pub struct MemoryTokenStore {
    state: Mutex<State>,
    max_tokens: usize,
}

#[derive(Default)]
struct State {
    tokens: HashMap<TokenHash, Entry>,
    families: HashMap<FamilyId, Family>,
    inserts_since_sweep: usize,
}

struct Entry {
    record: TokenRecord,
    spent: bool,
}

struct Family {
    revoked: bool,
    expires_at: u64,
}

impl fmt::Debug for MemoryTokenStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryTokenStore")
            .field("tokens", &self.len())
            .field("max_tokens", &self.max_tokens)
            .finish()
    }
}

impl Default for MemoryTokenStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryTokenStore {
    /// A store bounded at [`DEFAULT_MAX_TOKENS`].
    pub fn new() -> Self {
        Self::with_max_tokens(DEFAULT_MAX_TOKENS)
    }

    /// A store that holds at most `max` tokens (spent ones included, until
    /// they expire, so that their reuse is still detected).
    pub fn with_max_tokens(max: usize) -> Self {
        Self {
            state: Mutex::new(State::default()),
            max_tokens: max.max(1),
        }
    }

    /// How many tokens are held.
    pub fn len(&self) -> usize {
        self.lock().tokens.len()
    }

    /// Whether no token is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl State {
    fn sweep(&mut self, now: u64) {
        self.tokens.retain(|_, e| e.record.expires_at > now);
        self.families.retain(|_, f| f.expires_at > now);
        self.inserts_since_sweep = 0;
    }

    fn make_room(&mut self, max: usize, now: u64) {
        self.inserts_since_sweep += 1;
        if self.tokens.len() < max && self.inserts_since_sweep < 1024 {
            return;
        }
        self.sweep(now);
        while self.tokens.len() >= max {
            let Some(oldest) = self
                .tokens
                .iter()
                .min_by_key(|(_, e)| e.record.expires_at)
                .map(|(h, _)| *h)
            else {
                break;
            };
            self.tokens.remove(&oldest);
        }
    }
}

impl TokenStore for MemoryTokenStore {
    fn revoke_family(&self, family: &FamilyId) -> StoreFuture<'_, Result<(), StoreError>> {
        if let Some(f) = self.lock().families.get_mut(family) {
            f.revoked = true;
        }
        StoreFuture::ready(Ok(()))
    }

    fn insert(&self, record: TokenRecord, _: TokenSeal) -> StoreFuture<'_, Result<(), StoreError>> {
        let mut state = self.lock();
        state.make_room(self.max_tokens, unix_now());
        state.families.insert(
            record.family.clone(),
            Family {
                revoked: false,
                expires_at: record.family_expires_at,
            },
        );
        state.tokens.insert(
            record.hash,
            Entry {
                record,
                spent: false,
            },
        );
        StoreFuture::ready(Ok(()))
    }

    fn rotate(&self, rotation: Rotation) -> StoreFuture<'_, Result<RotateOutcome, StoreError>> {
        let Rotation {
            presented: hash,
            next: next_hash,
            next_expires_at,
            now,
            ..
        } = rotation;
        let mut state = self.lock();
        let outcome = (|| {
            let Some(entry) = state.tokens.get(&hash) else {
                return RotateOutcome::Unknown;
            };
            let family = entry.record.family.clone();
            let revoked = state.families.get(&family).is_none_or(|f| f.revoked);
            if entry.record.expires_at <= now || entry.record.family_expires_at <= now {
                return RotateOutcome::Expired;
            }
            if revoked {
                return RotateOutcome::Revoked;
            }
            if entry.spent {
                if let Some(f) = state.families.get_mut(&family) {
                    f.revoked = true;
                }
                return RotateOutcome::Reused;
            }
            let record = entry.record.clone();
            if let Some(entry) = state.tokens.get_mut(&hash) {
                entry.spent = true;
            }
            state.make_room(self.max_tokens, now);
            state.tokens.insert(
                next_hash,
                Entry {
                    record: TokenRecord {
                        hash: next_hash,
                        subject: record.subject.clone(),
                        family: record.family.clone(),
                        expires_at: next_expires_at.min(record.family_expires_at),
                        family_expires_at: record.family_expires_at,
                    },
                    spent: false,
                },
            );
            RotateOutcome::Rotated {
                subject: record.subject,
                family: record.family,
                family_expires_at: record.family_expires_at,
            }
        })();
        StoreFuture::ready(Ok(outcome))
    }

    fn revoke_family_of(&self, hash: TokenHash) -> StoreFuture<'_, Result<(), StoreError>> {
        let family = self
            .lock()
            .tokens
            .get(&hash)
            .map(|e| e.record.family.clone());
        match family {
            Some(family) => self.revoke_family(&family),
            None => StoreFuture::ready(Ok(())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens() -> RefreshTokens {
        RefreshTokens::new(MemoryTokenStore::new())
    }

    #[tokio::test]
    async fn tokens_are_opaque_random_and_prefixed() {
        let tokens = tokens();
        let a = tokens.issue("u").await.unwrap();
        let b = tokens.issue("u").await.unwrap();
        assert!(a.token.expose().starts_with(PREFIX));
        assert_eq!(a.token.expose().len(), 3 + 43, "256 random bits");
        assert_ne!(a.token, b.token);
        assert_ne!(a.family, b.family);
        assert_eq!(a.expires_in, 7 * 24 * 3600);
        assert!(!format!("{a:?}").contains(a.token.expose()));
    }

    #[tokio::test]
    async fn rotation_spends_and_replaces() {
        let tokens = tokens();
        let first = tokens.issue("u").await.unwrap();
        let second = tokens.rotate(first.token.expose()).await.unwrap();
        assert_eq!(second.subject, "u");
        assert_eq!(second.issued.family, first.family);
        let third = tokens.rotate(second.issued.token.expose()).await.unwrap();
        assert_eq!(third.issued.family, first.family);
    }

    #[tokio::test]
    async fn reuse_revokes_the_family_and_only_it() {
        let tokens = tokens();
        let mine = tokens.issue("u").await.unwrap();
        let other_login = tokens.issue("u").await.unwrap();
        let next = tokens.rotate(mine.token.expose()).await.unwrap();
        assert_eq!(
            tokens.rotate(mine.token.expose()).await.err(),
            Some(RefreshError::Reused)
        );
        assert_eq!(
            tokens.rotate(next.issued.token.expose()).await.err(),
            Some(RefreshError::Revoked)
        );
        assert!(tokens.rotate(other_login.token.expose()).await.is_ok());
    }

    #[tokio::test]
    async fn logout_revokes_the_family() {
        let tokens = tokens();
        let login = tokens.issue("u").await.unwrap();
        let next = tokens.rotate(login.token.expose()).await.unwrap();
        tokens.revoke(next.issued.token.expose()).await.unwrap();
        assert_eq!(
            tokens.rotate(next.issued.token.expose()).await.err(),
            Some(RefreshError::Revoked)
        );
        tokens.revoke("rt_unknown").await.unwrap();
        // By family id, as an access token names it.
        let other = tokens.issue("u").await.unwrap();
        tokens.revoke_family(&other.family).await.unwrap();
        assert_eq!(
            tokens.rotate(other.token.expose()).await.err(),
            Some(RefreshError::Revoked)
        );
        tokens
            .revoke_family(&FamilyId("unknown".into()))
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn expired_tokens_and_families_are_refused() {
        let store = MemoryTokenStore::new();
        let now = unix_now();
        let hash = TokenHash::of("rt_x");
        store.insert(
            TokenRecord {
                hash,
                subject: "u".into(),
                family: FamilyId("f".into()),
                expires_at: now - 1,
                family_expires_at: now + 100,
            },
            TokenSeal::of("rt_x"),
        );
        let outcome = ready(store.rotate(Rotation {
            presented: hash,
            presented_seal: TokenSeal::of("rt_x"),
            next: TokenHash::of("rt_y"),
            next_seal: TokenSeal::of("rt_y"),
            next_expires_at: now + 10,
            now,
        }));
        assert_eq!(outcome, RotateOutcome::Expired);
        // The family's absolute lifetime caps every rotation.
        let tokens = tokens().family_ttl(Duration::from_secs(60));
        let login = tokens.issue("u").await.unwrap();
        assert_eq!(login.expires_in, 60);
        let next = tokens.rotate(login.token.expose()).await.unwrap();
        assert!(next.issued.expires_in <= 60);
    }

    fn ready<T: Unpin>(mut future: StoreFuture<'_, Result<T, StoreError>>) -> T {
        use std::future::Future;
        use std::pin::Pin;
        use std::task::{Context, Poll, Waker};
        match Pin::new(&mut future).poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(value) => value.unwrap(),
            Poll::Pending => unreachable!(),
        }
    }

    #[tokio::test]
    async fn garbage_and_access_tokens_are_unknown() {
        let tokens = tokens();
        for garbage in [
            "",
            "rt_",
            "eyJhbGciOiJIUzI1NiJ9.e30.sig",
            "rt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        ] {
            assert_eq!(
                tokens.rotate(garbage).await.err(),
                Some(RefreshError::Unknown),
                "{garbage:?}"
            );
        }
    }

    #[test]
    fn of_two_concurrent_uses_one_wins_and_the_loser_revokes_the_winner() {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .unwrap();
        runtime.block_on(async {
            for _ in 0..50 {
                let tokens = tokens();
                let login = tokens.issue("u").await.unwrap();
                let token = login.token.expose().to_owned();
                let (a, b) = tokio::join!(
                    tokio::spawn({
                        let (tokens, token) = (tokens.clone(), token.clone());
                        async move { tokens.rotate(&token).await }
                    }),
                    tokio::spawn({
                        let (tokens, token) = (tokens.clone(), token.clone());
                        async move { tokens.rotate(&token).await }
                    }),
                );
                let results = [a.unwrap(), b.unwrap()];
                let winners: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
                assert_eq!(winners.len(), 1, "{results:?}");
                assert!(
                    results
                        .iter()
                        .any(|r| r.as_ref().err() == Some(&RefreshError::Reused))
                );
                let winner_token = winners[0].issued.token.expose();
                assert_eq!(
                    tokens.rotate(winner_token).await.err(),
                    Some(RefreshError::Revoked)
                );
            }
        });
    }

    #[test]
    fn the_store_is_bounded() {
        let store = MemoryTokenStore::with_max_tokens(100);
        let now = unix_now();
        for i in 0..1000u32 {
            store.insert(
                TokenRecord {
                    hash: TokenHash::of(&format!("rt_{i}")),
                    subject: "u".into(),
                    family: FamilyId(i.to_string()),
                    expires_at: now + 1000 + u64::from(i),
                    family_expires_at: now + 5000,
                },
                TokenSeal::of(&format!("rt_{i}")),
            );
        }
        assert!(store.len() <= 100, "{}", store.len());
    }
}
