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
//!
//! # Design
//!
//! A token is `rt_` and 64 base64url characters: a 128-bit lookup id and a
//! 256-bit secret, both random. A store keeps one record per family (one
//! login), under a digest of the lookup id, holding a digest of the family's
//! current token only. A token whose family is known but which is not the
//! current one can only be a token that family issued before, since only
//! its holders know the lookup id: it is a replay, and revokes the family,
//! for as long as the family lives and whatever the replayed token's own
//! expiry. So a family costs the same whether it rotated once or a
//! thousand times, and there are no spent markers to evict. Each subject
//! holds at most [`DEFAULT_MAX_FAMILIES_PER_SUBJECT`] live families by
//! default: a new login beyond that ends the oldest.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use super::jwt::unix_now;
use crate::{StoreError, StoreFuture};

/// The prefix of every refresh token, so it can never be mistaken for an
/// access token (a JWT) or the other way round.
pub const PREFIX: &str = "rt_";
/// The default lifetime of one refresh token.
pub const DEFAULT_TTL: Duration = Duration::from_secs(7 * 24 * 3600);
/// The default absolute lifetime of a family (a login): rotation never
/// extends a session past it.
pub const DEFAULT_FAMILY_TTL: Duration = Duration::from_secs(30 * 24 * 3600);
/// The default bound on the live families (logins) of one subject: a new
/// login beyond it ends the oldest.
pub const DEFAULT_MAX_FAMILIES_PER_SUBJECT: usize = 10;

/// The bytes of a token after its prefix: lookup id, then secret.
const LOOKUP_BYTES: usize = 16;
const SECRET_BYTES: usize = 32;
/// The length of a token: the prefix and 48 bytes in base64url.
const TOKEN_LEN: usize = PREFIX.len() + 64;

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

/// The identity of a family of refresh tokens (one login): the base64url
/// of its [`FamilyKey`]. It names the family (an access token may carry it,
/// for logout) but cannot be turned into a token of it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SessionId(pub String);

/// A freshly issued refresh token.
#[derive(Debug, Clone)]
pub struct IssuedRefreshToken {
    /// The token.
    pub token: RefreshToken,
    /// Its family.
    pub family: SessionId,
    /// Seconds until it expires.
    pub expires_in: u64,
}

/// A successful rotation.
#[derive(Debug, Clone)]
pub struct Rotated {
    /// Whom the family belongs to.
    pub subject: String,
    /// The token that replaces the one presented.
    pub issued: IssuedRefreshToken,
}

/// Why a refresh token was refused. Every variant answers 401.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RefreshError {
    /// Not a token this service issued (or its family is gone).
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

macro_rules! digest_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub [u8; 32]);

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), "(..)"))
            }
        }
    };
}

digest_type!(
    /// The SHA-256 of a whole token: what a store compares the presented
    /// token with.
    TokenHash
);
digest_type!(
    /// A digest of a token's lookup id: where a store keeps its family.
    FamilyKey
);
digest_type!(
    /// A second digest of a token, independent of its [`TokenHash`]: a store
    /// may use it to encrypt what it keeps for the family while that token
    /// is current (the Redis store seals the subject's key with it), and
    /// never stores it, so what a store holds cannot be read without the
    /// token.
    TokenSeal
);

fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut digest = Sha256::new();
    for part in parts {
        digest.update(part);
    }
    digest.finalize().into()
}

/// What a store needs of one token.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct TokenKeys {
    /// Where its family is kept.
    pub family: FamilyKey,
    /// Its digest.
    pub hash: TokenHash,
    /// Its seal.
    pub seal: TokenSeal,
}

impl fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenKeys(..)")
    }
}

impl TokenKeys {
    /// The keys of `token`, or `None` when it is not shaped like a refresh
    /// token this crate issues.
    fn of(token: &str) -> Option<Self> {
        if token.len() != TOKEN_LEN || !token.starts_with(PREFIX) {
            return None;
        }
        let bytes = URL_SAFE_NO_PAD.decode(&token[PREFIX.len()..]).ok()?;
        let lookup = bytes.get(..LOOKUP_BYTES)?;
        Some(Self {
            family: FamilyKey(sha256(&[b"warden refresh-token family\0", lookup])),
            hash: TokenHash(sha256(&[token.as_bytes()])),
            seal: TokenSeal(sha256(&[b"warden refresh-token seal\0", token.as_bytes()])),
        })
    }
}

impl FamilyKey {
    /// The family's public id.
    pub fn id(&self) -> SessionId {
        SessionId(URL_SAFE_NO_PAD.encode(self.0))
    }

    /// The key a public id names, if it is one.
    pub fn from_id(id: &SessionId) -> Option<Self> {
        let bytes = URL_SAFE_NO_PAD.decode(&id.0).ok()?;
        Some(Self(bytes.try_into().ok()?))
    }
}

/// The first token of a new family, as [`TokenStore::insert`] receives it.
#[derive(Debug, Clone)]
pub struct NewFamily {
    /// The token's keys (its family key names the family).
    pub token: TokenKeys,
    /// Whom the family belongs to.
    pub subject: String,
    /// When the token expires (Unix seconds).
    pub expires_at: u64,
    /// When the family expires (Unix seconds).
    pub family_expires_at: u64,
    /// Now (Unix seconds).
    pub now: u64,
}

/// One rotation, as [`TokenStore::rotate`] receives it.
#[derive(Debug, Clone, Copy)]
pub struct Rotation {
    /// The token presented.
    pub presented: TokenKeys,
    /// The token that replaces it (in the same family).
    pub next: TokenKeys,
    /// When the next token expires (Unix seconds), before the family's
    /// lifetime caps it.
    pub next_expires_at: u64,
    /// Now (Unix seconds).
    pub now: u64,
}

/// What a store's atomic rotation found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RotateOutcome {
    /// The token was current: the next one now is.
    Rotated {
        /// Whom the family belongs to.
        subject: String,
        /// When the family expires.
        family_expires_at: u64,
    },
    /// No such family.
    Unknown,
    /// The token or its family has expired.
    Expired,
    /// The token was an earlier one of its family: the family is now
    /// revoked.
    Reused,
    /// The family was revoked.
    Revoked,
}

/// Where refresh-token families live: one record per family, holding its
/// current token. Every operation must be atomic: of two concurrent
/// rotations of one token, exactly one finds it current, and the other's
/// finding is a reuse that revokes the family.
pub trait TokenStore: Send + Sync + 'static {
    /// Stores a new family with its first token. Must keep at most its
    /// per-subject bound of live families, ending the oldest beyond it.
    fn insert(&self, family: NewFamily) -> StoreFuture<'_, Result<(), StoreError>>;

    /// Makes `next` the current token of the presented token's family, or
    /// says why not. A presented token that is not the current one of a
    /// live family revokes it, whatever that token's own expiry.
    fn rotate(&self, rotation: Rotation) -> StoreFuture<'_, Result<RotateOutcome, StoreError>>;

    /// Revokes a family (logout); unknown families are ignored.
    fn revoke(&self, family: FamilyKey) -> StoreFuture<'_, Result<(), StoreError>>;
}

/// A store shared with other owners (kept, say, to inspect it).
impl<S: TokenStore + ?Sized> TokenStore for Arc<S> {
    fn insert(&self, family: NewFamily) -> StoreFuture<'_, Result<(), StoreError>> {
        (**self).insert(family)
    }

    fn rotate(&self, rotation: Rotation) -> StoreFuture<'_, Result<RotateOutcome, StoreError>> {
        (**self).rotate(rotation)
    }

    fn revoke(&self, family: FamilyKey) -> StoreFuture<'_, Result<(), StoreError>> {
        (**self).revoke(family)
    }
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

/// A new token: of a new family (`lookup` None) or of the family whose
/// lookup id is given.
fn new_token(lookup: Option<&[u8]>) -> Result<(RefreshToken, TokenKeys), RefreshError> {
    let mut bytes = [0u8; LOOKUP_BYTES + SECRET_BYTES];
    getrandom::fill(&mut bytes).map_err(|_| RefreshError::Randomness)?;
    if let Some(lookup) = lookup {
        bytes[..LOOKUP_BYTES].copy_from_slice(lookup);
    }
    let token = format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes));
    let keys = TokenKeys::of(&token).ok_or(RefreshError::Randomness)?;
    Ok((RefreshToken(token), keys))
}

/// The lookup id of a well-formed token.
fn lookup_of(token: &str) -> Option<Vec<u8>> {
    let bytes = URL_SAFE_NO_PAD.decode(token.get(PREFIX.len()..)?).ok()?;
    Some(bytes[..LOOKUP_BYTES].to_vec())
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
    pub async fn issue(&self, subject: &str) -> Result<IssuedRefreshToken, RefreshError> {
        let (token, keys) = new_token(None)?;
        let now = unix_now();
        let family_expires_at = now + self.family_ttl.as_secs();
        let expires_at = (now + self.ttl.as_secs()).min(family_expires_at);
        self.store
            .insert(NewFamily {
                token: keys,
                subject: subject.to_owned(),
                expires_at,
                family_expires_at,
                now,
            })
            .await
            .map_err(RefreshError::Store)?;
        Ok(IssuedRefreshToken {
            token,
            family: keys.family.id(),
            expires_in: expires_at - now,
        })
    }

    /// Spends `token` and returns its replacement. A token that is not
    /// shaped like a refresh token is [`RefreshError::Unknown`] without a
    /// store round trip.
    pub async fn rotate(&self, token: &str) -> Result<Rotated, RefreshError> {
        let presented = TokenKeys::of(token).ok_or(RefreshError::Unknown)?;
        let lookup = lookup_of(token).ok_or(RefreshError::Unknown)?;
        let (next, next_keys) = new_token(Some(&lookup))?;
        let now = unix_now();
        let outcome = self
            .store
            .rotate(Rotation {
                presented,
                next: next_keys,
                next_expires_at: now + self.ttl.as_secs(),
                now,
            })
            .await
            .map_err(RefreshError::Store)?;
        match outcome {
            RotateOutcome::Rotated {
                subject,
                family_expires_at,
            } => {
                let expires_at = (now + self.ttl.as_secs()).min(family_expires_at);
                Ok(Rotated {
                    subject,
                    issued: IssuedRefreshToken {
                        token: next,
                        family: presented.family.id(),
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

    /// Revokes a family by its id: the `family` of the [`IssuedRefreshToken`] token,
    /// carried in the access token of that login. Ids that name no family
    /// are ignored.
    pub async fn revoke_family(&self, family: &SessionId) -> Result<(), RefreshError> {
        match FamilyKey::from_id(family) {
            Some(key) => self.store.revoke(key).await.map_err(RefreshError::Store),
            None => Ok(()),
        }
    }

    /// Revokes the family `token` belongs to (logout).
    pub async fn revoke(&self, token: &str) -> Result<(), RefreshError> {
        match TokenKeys::of(token) {
            Some(keys) => self
                .store
                .revoke(keys.family)
                .await
                .map_err(RefreshError::Store),
            None => Ok(()),
        }
    }
}

/// The default bound on the families a [`MemoryTokenStore`] holds.
pub const DEFAULT_MAX_FAMILIES: usize = 1_000_000;

/// Refresh-token families in process memory, bounded: at most
/// [`DEFAULT_MAX_FAMILIES_PER_SUBJECT`] live families per subject (a new
/// login ends the oldest) and [`DEFAULT_MAX_FAMILIES`] in all. When full,
/// expired families go first, then the family closest to its end of life,
/// whole: in O(log n), and never a part of a family, so reuse detection
/// holds for every family kept. A family costs the same however often it
/// rotated.
pub struct MemoryTokenStore {
    state: Mutex<State>,
    max_families: usize,
    max_per_subject: usize,
}

#[derive(Default)]
struct State {
    families: HashMap<FamilyKey, Family>,
    /// (family expiry, family) in order: the next to expire first.
    by_expiry: BTreeSet<(u64, FamilyKey)>,
    /// Each subject's live families, oldest first.
    by_subject: HashMap<Arc<str>, VecDeque<FamilyKey>>,
}

struct Family {
    subject: Arc<str>,
    current: TokenHash,
    current_expires_at: u64,
    expires_at: u64,
    revoked: bool,
}

impl fmt::Debug for MemoryTokenStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryTokenStore")
            .field("families", &self.len())
            .field("max_families", &self.max_families)
            .field("max_per_subject", &self.max_per_subject)
            .finish()
    }
}

impl Default for MemoryTokenStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryTokenStore {
    /// A store bounded at [`DEFAULT_MAX_FAMILIES`], and
    /// [`DEFAULT_MAX_FAMILIES_PER_SUBJECT`] per subject.
    pub fn new() -> Self {
        Self {
            state: Mutex::new(State::default()),
            max_families: DEFAULT_MAX_FAMILIES,
            max_per_subject: DEFAULT_MAX_FAMILIES_PER_SUBJECT,
        }
    }

    /// At most `max` families in all (at least 1).
    pub fn max_families(mut self, max: usize) -> Self {
        self.max_families = max.max(1);
        self
    }

    /// At most `max` live families per subject (at least 1): a new login
    /// beyond it ends the oldest.
    pub fn max_families_per_subject(mut self, max: usize) -> Self {
        self.max_per_subject = max.max(1);
        self
    }

    /// How many families are held.
    pub fn len(&self) -> usize {
        self.lock().families.len()
    }

    /// Whether no family is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many families `subject` holds.
    pub fn families_of(&self, subject: &str) -> usize {
        self.lock().by_subject.get(subject).map_or(0, VecDeque::len)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl State {
    /// Drops a whole family and its place in every index: O(log n), plus
    /// the subject's own list, which is bounded.
    fn remove(&mut self, key: &FamilyKey) {
        let Some(family) = self.families.remove(key) else {
            return;
        };
        self.by_expiry.remove(&(family.expires_at, *key));
        if let Some(list) = self.by_subject.get_mut(&family.subject) {
            list.retain(|k| k != key);
            if list.is_empty() {
                self.by_subject.remove(&family.subject);
            }
        }
    }

    /// Drops the families that have expired, the next to expire first.
    fn expire(&mut self, now: u64) {
        while let Some(&(expires_at, key)) = self.by_expiry.first() {
            if expires_at > now {
                break;
            }
            self.remove(&key);
        }
    }
}

impl TokenStore for MemoryTokenStore {
    fn insert(&self, new: NewFamily) -> StoreFuture<'_, Result<(), StoreError>> {
        let mut state = self.lock();
        state.expire(new.now);
        let subject: Arc<str> = match state.by_subject.get_key_value(new.subject.as_str()) {
            Some((subject, _)) => Arc::clone(subject),
            None => Arc::from(new.subject.as_str()),
        };
        // The subject's oldest logins end first, then, when the store is
        // full, the family nearest its end of life.
        while state
            .by_subject
            .get(&subject)
            .is_some_and(|list| list.len() >= self.max_per_subject)
        {
            let Some(oldest) = state
                .by_subject
                .get(&subject)
                .and_then(|l| l.front().copied())
            else {
                break;
            };
            state.remove(&oldest);
        }
        while state.families.len() >= self.max_families {
            let Some(&(_, next)) = state.by_expiry.first() else {
                break;
            };
            state.remove(&next);
        }
        let key = new.token.family;
        state.remove(&key);
        state.by_expiry.insert((new.family_expires_at, key));
        state
            .by_subject
            .entry(Arc::clone(&subject))
            .or_default()
            .push_back(key);
        state.families.insert(
            key,
            Family {
                subject,
                current: new.token.hash,
                current_expires_at: new.expires_at.min(new.family_expires_at),
                expires_at: new.family_expires_at,
                revoked: false,
            },
        );
        StoreFuture::ready(Ok(()))
    }

    fn rotate(&self, rotation: Rotation) -> StoreFuture<'_, Result<RotateOutcome, StoreError>> {
        let mut state = self.lock();
        let now = rotation.now;
        let outcome = match state.families.get_mut(&rotation.presented.family) {
            None => RotateOutcome::Unknown,
            Some(family) if family.expires_at <= now => RotateOutcome::Expired,
            Some(family) if family.revoked => RotateOutcome::Revoked,
            Some(family) if family.current != rotation.presented.hash => {
                family.revoked = true;
                RotateOutcome::Reused
            }
            Some(family) if family.current_expires_at <= now => RotateOutcome::Expired,
            Some(family) => {
                family.current = rotation.next.hash;
                family.current_expires_at = rotation.next_expires_at.min(family.expires_at);
                RotateOutcome::Rotated {
                    subject: family.subject.to_string(),
                    family_expires_at: family.expires_at,
                }
            }
        };
        StoreFuture::ready(Ok(outcome))
    }

    fn revoke(&self, family: FamilyKey) -> StoreFuture<'_, Result<(), StoreError>> {
        if let Some(family) = self.lock().families.get_mut(&family) {
            family.revoked = true;
        }
        StoreFuture::ready(Ok(()))
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
        assert_eq!(a.token.expose().len(), 3 + 64, "128 + 256 random bits");
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
            .revoke_family(&SessionId("unknown".into()))
            .await
            .unwrap();
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

    fn keys(token: &str) -> TokenKeys {
        TokenKeys::of(token).unwrap()
    }

    fn token(lookup: u8, secret: u8) -> String {
        let mut bytes = [secret; LOOKUP_BYTES + SECRET_BYTES];
        bytes[..LOOKUP_BYTES].fill(lookup);
        format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes))
    }

    fn family(
        token: &str,
        subject: &str,
        expires_at: u64,
        family_expires_at: u64,
        now: u64,
    ) -> NewFamily {
        NewFamily {
            token: keys(token),
            subject: subject.into(),
            expires_at,
            family_expires_at,
            now,
        }
    }

    fn rotation(presented: &str, next: &str, now: u64) -> Rotation {
        Rotation {
            presented: keys(presented),
            next: keys(next),
            next_expires_at: now + 100,
            now,
        }
    }

    #[tokio::test]
    async fn expired_tokens_and_families_are_refused() {
        let store = MemoryTokenStore::new();
        let now = unix_now();
        let (first, second) = (token(1, 1), token(1, 2));
        ready(store.insert(family(&first, "u", now - 1, now + 100, now)));
        assert_eq!(
            ready(store.rotate(rotation(&first, &second, now))),
            RotateOutcome::Expired
        );
        // The family's absolute lifetime caps every rotation.
        let tokens = tokens().family_ttl(Duration::from_secs(60));
        let login = tokens.issue("u").await.unwrap();
        assert_eq!(login.expires_in, 60);
        let next = tokens.rotate(login.token.expose()).await.unwrap();
        assert!(next.issued.expires_in <= 60);
    }

    #[test]
    fn a_spent_token_replayed_after_its_own_expiry_still_revokes_its_family() {
        let store = MemoryTokenStore::new();
        let now = unix_now();
        let (first, second, third) = (token(7, 1), token(7, 2), token(7, 3));
        ready(store.insert(family(&first, "u", now + 10, now + 1000, now)));
        let later = now + 500;
        // The first token expired at now + 10; it was spent before that.
        assert!(matches!(
            ready(store.rotate(rotation(&first, &second, now + 5))),
            RotateOutcome::Rotated { .. }
        ));
        assert_eq!(
            ready(store.rotate(rotation(&first, &third, later))),
            RotateOutcome::Reused
        );
        assert_eq!(
            ready(store.rotate(rotation(&second, &third, now + 6))),
            RotateOutcome::Revoked
        );
    }

    #[test]
    fn one_subject_logging_in_in_a_loop_keeps_ten_families_and_others_keep_theirs() {
        let store = MemoryTokenStore::new();
        let now = unix_now();
        let victim = token(200, 1);
        ready(store.insert(family(&victim, "victim", now + 100, now + 1000, now)));
        for i in 0..5000u32 {
            let mut bytes = [0u8; LOOKUP_BYTES + SECRET_BYTES];
            bytes[..4].copy_from_slice(&i.to_be_bytes());
            let t = format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes));
            ready(store.insert(family(&t, "flooder", now + 100, now + 1000, now)));
        }
        assert_eq!(
            store.families_of("flooder"),
            DEFAULT_MAX_FAMILIES_PER_SUBJECT
        );
        assert_eq!(store.len(), DEFAULT_MAX_FAMILIES_PER_SUBJECT + 1);
        // The other user's login and its reuse detection are intact.
        let next = token(200, 2);
        assert!(matches!(
            ready(store.rotate(rotation(&victim, &next, now + 1))),
            RotateOutcome::Rotated { .. }
        ));
        assert_eq!(
            ready(store.rotate(rotation(&victim, &token(200, 3), now + 2))),
            RotateOutcome::Reused
        );
        // The flooder's oldest logins ended.
        let mut bytes = [0u8; LOOKUP_BYTES + SECRET_BYTES];
        bytes[..4].copy_from_slice(&0u32.to_be_bytes());
        let oldest = format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes));
        assert_eq!(
            ready(store.rotate(rotation(&oldest, &token(9, 9), now + 1))),
            RotateOutcome::Unknown
        );
        // Configurable.
        let strict = MemoryTokenStore::new().max_families_per_subject(1);
        ready(strict.insert(family(&token(1, 1), "u", now + 100, now + 1000, now)));
        ready(strict.insert(family(&token(2, 1), "u", now + 100, now + 1000, now)));
        assert_eq!(strict.families_of("u"), 1);
    }

    #[test]
    fn the_store_is_bounded_and_evicts_whole_families_nearest_their_end_first() {
        let store = MemoryTokenStore::new().max_families(100);
        let now = unix_now();
        // A long-lived family that rotated many times: still one record.
        let keeper = token(250, 0);
        ready(store.insert(family(&keeper, "keeper", now + 100, now + 100_000, now)));
        let mut current = keeper.clone();
        for i in 1..=200u8 {
            let next = token(250, i);
            assert!(matches!(
                ready(store.rotate(rotation(&current, &next, now))),
                RotateOutcome::Rotated { .. }
            ));
            current = next;
        }
        assert_eq!(store.len(), 1);
        for i in 0..1000u32 {
            let mut bytes = [1u8; LOOKUP_BYTES + SECRET_BYTES];
            bytes[..4].copy_from_slice(&i.to_be_bytes());
            let t = format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes));
            // Each its own subject, ending sooner than the keeper.
            let subject = format!("user-{i}");
            ready(store.insert(family(
                &t,
                &subject,
                now + 100,
                now + 1000 + u64::from(i),
                now,
            )));
        }
        assert!(store.len() <= 100, "{}", store.len());
        // The keeper, furthest from its end, is kept, and so is what it
        // knows: an old token of it is a replay.
        assert_eq!(
            ready(store.rotate(rotation(&token(250, 7), &token(250, 255), now))),
            RotateOutcome::Reused
        );
        // Expired families go first, whatever else is there.
        let small = MemoryTokenStore::new().max_families(2);
        ready(small.insert(family(&token(1, 1), "a", now, now + 1, now)));
        ready(small.insert(family(&token(2, 1), "b", now + 100, now + 10_000, now)));
        ready(small.insert(family(&token(3, 1), "c", now + 100, now + 10_000, now + 5)));
        assert_eq!(small.len(), 2);
        assert!(matches!(
            ready(small.rotate(rotation(&token(2, 1), &token(2, 2), now + 6))),
            RotateOutcome::Rotated { .. }
        ));
    }

    #[tokio::test]
    async fn garbage_and_access_tokens_are_unknown() {
        let tokens = tokens();
        for garbage in [
            "",
            "rt_",
            "eyJhbGciOiJIUzI1NiJ9.e30.sig",
            "rt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "rt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
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
}
