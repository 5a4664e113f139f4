//! [`RedisTokenStore`]: refresh-token families in Redis.

use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use redis::Value;
use sha2::Sha256;

use super::{Redis, Script, bytes, sha1_hex, sha256, unexpected};
use crate::auth::refresh::{
    DEFAULT_MAX_FAMILIES_PER_SUBJECT, FamilyKey, NewFamily, RotateOutcome, Rotation, SessionId,
    TokenStore,
};
use crate::{StoreError, StoreFuture};

const INSERT_CODE: &str = include_str!("token_insert.lua");
const ROTATE_CODE: &str = include_str!("token_rotate.lua");
const REVOKE_CODE: &str = include_str!("token_revoke.lua");
pub(crate) static INSERT: Script = Script::new(INSERT_CODE, || sha1_hex(INSERT_CODE));
pub(crate) static ROTATE: Script = Script::new(ROTATE_CODE, || sha1_hex(ROTATE_CODE));
pub(crate) static REVOKE: Script = Script::new(REVOKE_CODE, || sha1_hex(REVOKE_CODE));

/// The length of the tag that authenticates a sealed subject.
const TAG: usize = 16;

/// Refresh-token families in Redis, shared by every instance.
///
/// A family is one hash (`{prefix}rt:f:{family id}`) holding the digest of
/// its current token; insertion, rotation (with reuse detection) and
/// revocation are one atomic script each, so of two instances racing to
/// rotate one token exactly one wins, and the loser's replay revokes the
/// family for every instance. Each subject keeps at most
/// [`DEFAULT_MAX_FAMILIES_PER_SUBJECT`] live families (a sorted set under a
/// keyed digest of the subject): a new login beyond it ends the oldest.
/// Redis holds only digests of tokens; a family's subject is sealed under
/// a key that only its current token can unwrap (see [the module](super)).
/// Families expire by TTL with their lifetime.
#[derive(Clone)]
pub struct RedisTokenStore {
    redis: Redis,
    max_per_subject: usize,
}

impl fmt::Debug for RedisTokenStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisTokenStore")
            .field("redis", &self.redis)
            .field("max_per_subject", &self.max_per_subject)
            .finish()
    }
}

impl RedisTokenStore {
    /// A store on `redis`, with [`DEFAULT_MAX_FAMILIES_PER_SUBJECT`].
    pub fn new(redis: &Redis) -> Self {
        Self {
            redis: redis.clone(),
            max_per_subject: DEFAULT_MAX_FAMILIES_PER_SUBJECT,
        }
    }

    /// At most `max` live families per subject (at least 1): a new login
    /// beyond it ends the oldest.
    pub fn max_families_per_subject(mut self, max: usize) -> Self {
        self.max_per_subject = max.max(1);
        self
    }

    fn family_key(&self, family: &FamilyKey) -> String {
        self.redis.key("rt:f:", &family.id().0)
    }

    async fn insert_family(&self, new: NewFamily) -> Result<(), StoreError> {
        let mut family_secret = [0u8; 32];
        getrandom::fill(&mut family_secret)
            .map_err(|_| StoreError::new("the system random generator failed"))?;
        let id = new.token.family.id();
        let wrapped = xor(&family_secret, &new.token.seal.0);
        let sealed = seal_subject(&family_secret, &id, &new.subject);
        let subjects = self
            .redis
            .digest_key("rt:s:", "subject", new.subject.as_bytes());
        let mut command = INSERT.command(2, 11, 400);
        command
            .arg(self.family_key(&new.token.family))
            .arg(subjects.as_bytes())
            .arg(&new.token.hash.0[..])
            .arg(new.expires_at.min(new.family_expires_at))
            .arg(new.family_expires_at)
            .arg(sealed)
            .arg(&wrapped[..])
            .arg(self.max_per_subject)
            .arg(new.now)
            .arg(self.redis.key("rt:f:", ""))
            .arg(&id.0);
        self.redis.eval(&INSERT, &command).await.map(drop)
    }

    async fn rotate_token(&self, rotation: Rotation) -> Result<RotateOutcome, StoreError> {
        let delta = xor(&rotation.presented.seal.0, &rotation.next.seal.0);
        let mut command = ROTATE.command(1, 5, 250);
        command
            .arg(self.family_key(&rotation.presented.family))
            .arg(&rotation.presented.hash.0[..])
            .arg(&rotation.next.hash.0[..])
            .arg(rotation.next_expires_at)
            .arg(rotation.now)
            .arg(&delta[..]);
        let reply = self.redis.eval(&ROTATE, &command).await?;
        let Value::Array(items) = reply else {
            return Err(unexpected());
        };
        let status = items.first().and_then(bytes).ok_or_else(unexpected)?;
        Ok(match status {
            b"unknown" => RotateOutcome::Unknown,
            b"expired" => RotateOutcome::Expired,
            b"revoked" => RotateOutcome::Revoked,
            b"reused" => RotateOutcome::Reused,
            b"rotated" => {
                let [_, sealed, wrapped, family_expires_at] = items.as_slice() else {
                    return Err(unexpected());
                };
                let wrapped: [u8; 32] = bytes(wrapped)
                    .and_then(|w| w.try_into().ok())
                    .ok_or_else(unexpected)?;
                let family_secret = xor(&wrapped, &rotation.presented.seal.0);
                let sealed = bytes(sealed).ok_or_else(unexpected)?;
                let id = rotation.presented.family.id();
                let subject = open_subject(&family_secret, &id, sealed).ok_or_else(|| {
                    StoreError::new("a sealed subject in Redis failed its authentication")
                })?;
                let family_expires_at = bytes(family_expires_at)
                    .and_then(|d| std::str::from_utf8(d).ok()?.parse().ok())
                    .ok_or_else(unexpected)?;
                RotateOutcome::Rotated {
                    subject,
                    family_expires_at,
                }
            }
            _ => return Err(unexpected()),
        })
    }

    async fn revoke_family(&self, family: FamilyKey) -> Result<(), StoreError> {
        let mut command = REVOKE.command(1, 1, 100);
        command.arg(self.family_key(&family));
        self.redis.eval(&REVOKE, &command).await.map(drop)
    }
}

fn xor(a: &[u8; 32], b: &[u8; 32]) -> [u8; 32] {
    std::array::from_fn(|i| a[i] ^ b[i])
}

/// The keystream of a family key: SHA-256 in counter mode.
fn keystream(family_key: &[u8; 32], length: usize) -> Vec<u8> {
    let mut stream = Vec::with_capacity(length + 32);
    let mut counter = 0u64;
    while stream.len() < length {
        stream.extend_from_slice(&sha256(&[
            b"warden family subject\0",
            family_key,
            &counter.to_be_bytes(),
        ]));
        counter += 1;
    }
    stream.truncate(length);
    stream
}

fn tag(family_key: &[u8; 32], family: &SessionId, subject: &[u8]) -> Hmac<Sha256> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(family_key)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(&(family.0.len() as u64).to_be_bytes());
    mac.update(family.0.as_bytes());
    mac.update(subject);
    mac
}

/// The subject, encrypted under the family key and authenticated with the
/// family id: `ciphertext || tag`.
fn seal_subject(family_key: &[u8; 32], family: &SessionId, subject: &str) -> Vec<u8> {
    let mut sealed: Vec<u8> = subject
        .bytes()
        .zip(keystream(family_key, subject.len()))
        .map(|(b, k)| b ^ k)
        .collect();
    let tag = tag(family_key, family, subject.as_bytes())
        .finalize()
        .into_bytes();
    sealed.extend_from_slice(&tag[..TAG]);
    sealed
}

fn open_subject(family_key: &[u8; 32], family: &SessionId, sealed: &[u8]) -> Option<String> {
    let split = sealed.len().checked_sub(TAG)?;
    let (ciphertext, expected) = sealed.split_at(split);
    let subject: Vec<u8> = ciphertext
        .iter()
        .zip(keystream(family_key, ciphertext.len()))
        .map(|(b, k)| b ^ k)
        .collect();
    tag(family_key, family, &subject)
        .verify_truncated_left(expected)
        .ok()?;
    String::from_utf8(subject).ok()
}

impl TokenStore for RedisTokenStore {
    fn insert(&self, family: NewFamily) -> StoreFuture<'_, Result<(), StoreError>> {
        StoreFuture::boxed(self.insert_family(family))
    }

    fn rotate(&self, rotation: Rotation) -> StoreFuture<'_, Result<RotateOutcome, StoreError>> {
        StoreFuture::boxed(self.rotate_token(rotation))
    }

    fn revoke(&self, family: FamilyKey) -> StoreFuture<'_, Result<(), StoreError>> {
        StoreFuture::boxed(self.revoke_family(family))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_subject_opens_only_with_its_key_and_family() {
        let key = [7u8; 32];
        let family = SessionId("fam".into());
        let sealed = seal_subject(&key, &family, "user-42");
        assert!(!sealed.windows(7).any(|w| w == b"user-42"));
        assert_eq!(
            open_subject(&key, &family, &sealed).as_deref(),
            Some("user-42")
        );
        assert_eq!(open_subject(&[8u8; 32], &family, &sealed), None);
        assert_eq!(
            open_subject(&key, &SessionId("other".into()), &sealed),
            None
        );
        let mut flipped = sealed.clone();
        flipped[0] ^= 1;
        assert_eq!(open_subject(&key, &family, &flipped), None);
        assert_eq!(open_subject(&key, &family, &sealed[..3]), None);
        // Long subjects use more than one keystream block.
        let long = "x".repeat(300);
        let sealed = seal_subject(&key, &family, &long);
        assert_eq!(open_subject(&key, &family, &sealed), Some(long));
    }

    #[test]
    fn a_wrapped_key_moves_from_token_to_token_by_one_xor() {
        let (key, old, new) = ([1u8; 32], [2u8; 32], [3u8; 32]);
        let wrapped = xor(&key, &old);
        let moved = xor(&wrapped, &xor(&old, &new));
        assert_eq!(xor(&moved, &new), key);
    }
}
