//! A bounded cache of verified access tokens, as API gateways keep one
//! (Envoy's JWT filter): a token seen again skips the check of its bearer
//! grammar, its decoding, signature and claims parsing, and is only held
//! to its expiry.
//!
//! What makes it safe:
//! - **Keyed by the whole token.** A lookup compares the stored token with
//!   the presented credentials byte for byte: credentials that differ
//!   anywhere (a forged signature, an altered claim, a byte outside the
//!   bearer grammar) miss, and are checked and verified in full. Only
//!   tokens that verified are ever stored.
//! - **Never past `exp`.** An entry answers only while `exp` plus the
//!   leeway has not passed, exactly as the verifier would judge it.
//! - **Never past a key's removal.** Only tokens verified by the
//!   configuration's own keys are stored, and those keys are fixed for the
//!   life of a [`Warden`](crate::Warden): a configuration with other keys
//!   is another `Warden`, with a cache of its own. Tokens of trusted
//!   external issuers, whose keys rotate with their JWKS, are never
//!   stored.
//! - **Kept from the second sight.** A token is stored the second time it
//!   verifies (the first time only its hash is noted, in a fixed array):
//!   a stream of tokens each seen once costs no allocation and evicts
//!   nothing.
//! - **Bounded.** At most `capacity` entries of tokens of at most
//!   [`MAX_CACHED_TOKEN_BYTES`]; a full shard drops its oldest entry, in
//!   constant time, so that a flood of new tokens costs each one no more
//!   than a token seen once.
//!
//! The checks that depend on nothing but the token and the configuration
//! (signature, algorithm, `typ`, `iss`, `aud`, `sub`, `nbf`) hold for a
//! stored token as they did when it was verified; the time check (`exp`)
//! is made again on every hit.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use super::claims::Claims;
use crate::limit::PreHashed;

/// The default number of verified tokens a [`Jwt`](super::Jwt) keeps.
pub const DEFAULT_TOKEN_CACHE: usize = 4096;

/// The longest token the cache stores; longer ones are verified every
/// time. Bounds the cache's memory at about `capacity` times 2.5 KiB.
pub const MAX_CACHED_TOKEN_BYTES: usize = 2048;

const SHARDS: usize = 16;

/// How many bytes of the token's end the hash reads: the signature, which
/// is as good as a digest of the whole token for the tokens stored (they
/// verified), so that a lookup does not hash hundreds of bytes. Equality
/// is still checked on the whole token.
const HASHED_TAIL: usize = 32;

pub(crate) struct TokenCache {
    /// foldhash, seeded at random for each cache, rather than SipHash: the
    /// bytes hashed are the end of a signature, which only the holder of
    /// the key can choose for a token that is stored, and a presented
    /// token that was not stored only ever reads one slot. So a flood of
    /// colliding keys cannot be built, and the hash need not be slow to
    /// make it so.
    hasher: foldhash::fast::RandomState,
    shards: Box<[RwLock<Shard>]>,
    per_shard: usize,
    /// The hashes of tokens seen once, direct-mapped: a token is stored on
    /// its second sight, so that a stream of tokens each seen once (a
    /// flood of new logins, or an attacker's made-up tokens that happen to
    /// verify) costs a store into this array, not an allocation that
    /// evicts a token in use.
    seen: Box<[AtomicU64]>,
}

#[derive(Default)]
struct Shard {
    entries: HashMap<u64, Entry, BuildHasherDefault<PreHashed>>,
    /// The hashes in the order they were stored: a full shard drops its
    /// oldest entry, in constant time.
    order: VecDeque<u64>,
}

struct Entry {
    token: Box<str>,
    claims: Arc<Claims>,
    /// `exp` plus the leeway: the last second the token is valid.
    valid_until: u64,
}

impl TokenCache {
    /// A cache of at most `capacity` tokens, or `None` for 0.
    pub(crate) fn new(capacity: usize) -> Option<Self> {
        (capacity > 0).then(|| Self {
            hasher: foldhash::fast::RandomState::default(),
            shards: (0..SHARDS).map(|_| RwLock::default()).collect(),
            per_shard: capacity.div_ceil(SHARDS),
            seen: (0..(2 * capacity).next_power_of_two())
                .map(|_| AtomicU64::new(0))
                .collect(),
        })
    }

    fn hash(&self, bytes: &[u8]) -> u64 {
        let tail = &bytes[bytes.len().saturating_sub(HASHED_TAIL)..];
        let mut hasher = self.hasher.build_hasher();
        hasher.write(tail);
        hasher.write_usize(bytes.len());
        hasher.finish()
    }

    fn shard(&self, hash: u64) -> &RwLock<Shard> {
        &self.shards[(hash >> 59) as usize % SHARDS]
    }

    /// The claims of `token` if it verified before and is valid at `now`;
    /// else the token's hash, for [`insert`](Self::insert). Read as bytes:
    /// a token that was stored verified, so bytes equal to it are a valid
    /// token, and other bytes, whatever they hold, miss.
    #[inline]
    pub(crate) fn get(&self, token: &[u8], now: u64) -> Result<Arc<Claims>, u64> {
        let hash = self.hash(token);
        let Ok(shard) = self.shard(hash).read() else {
            return Err(hash);
        };
        match shard.entries.get(&hash) {
            Some(entry) if now <= entry.valid_until && *entry.token.as_bytes() == *token => {
                Ok(Arc::clone(&entry.claims))
            }
            _ => Err(hash),
        }
    }

    /// Keeps the claims of `token` (whose hash [`get`](Self::get) gave),
    /// which just verified, until `valid_until`: from its second sight on.
    pub(crate) fn insert(
        &self,
        token: &str,
        hash: u64,
        claims: &Arc<Claims>,
        valid_until: u64,
        now: u64,
    ) {
        if token.len() > MAX_CACHED_TOKEN_BYTES || valid_until < now {
            return;
        }
        // First sight: remembered, not stored.
        let slot = &self.seen[hash as usize & (self.seen.len() - 1)];
        if slot.swap(hash, Ordering::Relaxed) != hash {
            return;
        }
        let Ok(mut shard) = self.shard(hash).write() else {
            return;
        };
        let shard = &mut *shard;
        if shard.entries.contains_key(&hash) {
            return;
        }
        while shard.entries.len() >= self.per_shard {
            let Some(oldest) = shard.order.pop_front() else {
                break;
            };
            shard.entries.remove(&oldest);
        }
        shard.entries.insert(
            hash,
            Entry {
                token: token.into(),
                claims: Arc::clone(claims),
                valid_until,
            },
        );
        shard.order.push_back(hash);
    }

    /// How many tokens are kept.
    pub(crate) fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|shard| shard.read().map_or(0, |s| s.entries.len()))
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(sub: &str) -> Arc<Claims> {
        let json = serde_json::json!({"sub": sub, "iss": "i", "aud": "a", "exp": 0});
        Arc::new(serde_json::from_value(json).unwrap())
    }

    #[test]
    fn a_hit_needs_the_whole_token_and_time_left() {
        let cache = TokenCache::new(64).unwrap();
        let token = "aaaa.bbbb.the-signature-of-the-token-0123456789";
        let hash = cache.get(token.as_bytes(), 50).unwrap_err();
        cache.insert(token, hash, &claims("ana"), 100, 50);
        // Seen once: remembered, not kept.
        assert!(cache.get(token.as_bytes(), 50).is_err());
        cache.insert(token, hash, &claims("ana"), 100, 50);
        assert_eq!(cache.get(token.as_bytes(), 50).unwrap().sub(), "ana");
        assert_eq!(cache.get(token.as_bytes(), 100).unwrap().sub(), "ana");
        // Past exp plus leeway: no answer.
        assert!(cache.get(token.as_bytes(), 101).is_err());
        // The same signature under another payload: the same hash, and
        // still a miss.
        let altered = "aaaa.bbbX.the-signature-of-the-token-0123456789";
        assert_eq!(cache.hash(token.as_bytes()), cache.hash(altered.as_bytes()));
        assert!(cache.get(altered.as_bytes(), 50).is_err());
        // An expired token is not stored.
        let expired = "x.y.expired-signature-expired-signature";
        for _ in 0..2 {
            cache.insert(
                expired,
                cache.hash(expired.as_bytes()),
                &claims("bo"),
                10,
                50,
            );
        }
        assert!(cache.get(expired.as_bytes(), 5).is_err());
        // Nor an oversized one.
        let long = "t".repeat(MAX_CACHED_TOKEN_BYTES + 1);
        for _ in 0..2 {
            cache.insert(&long, cache.hash(long.as_bytes()), &claims("cy"), 100, 50);
        }
        assert!(cache.get(long.as_bytes(), 50).is_err());
    }

    #[test]
    fn it_stays_within_its_capacity() {
        let cache = TokenCache::new(64).unwrap();
        for i in 0..10_000u64 {
            let token = format!("h.p.signature-{i:032}");
            for _ in 0..2 {
                cache.insert(
                    &token,
                    cache.hash(token.as_bytes()),
                    &claims("u"),
                    1_000 + i,
                    0,
                );
            }
        }
        assert!(cache.len() <= 64, "{}", cache.len());
        // The newest is there; the oldest went first.
        assert!(
            cache
                .get(format!("h.p.signature-{:032}", 9_999).as_bytes(), 0)
                .is_ok()
        );
        assert!(
            cache
                .get(format!("h.p.signature-{:032}", 0).as_bytes(), 0)
                .is_err()
        );
    }

    #[test]
    fn none_when_off() {
        assert!(TokenCache::new(0).is_none());
    }
}
