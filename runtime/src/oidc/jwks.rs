//! A provider's published keys (its JWKS), cached, and fetched again when
//! a token names a key the cache does not have: at most once per interval,
//! so a stream of made-up key ids cannot make the server hammer the
//! provider.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;
use url::Url;

use super::fetch::{FetchError, Fetcher};
use crate::auth::{Key, MIN_RSA_BITS};

/// The default shortest interval between two fetches of a JWKS that an
/// unknown `kid` may cause.
pub const DEFAULT_JWKS_REFETCH_INTERVAL: Duration = Duration::from_secs(30);

/// The most keys kept from one JWKS; the rest are ignored.
const MAX_KEYS: usize = 32;

/// The asymmetric algorithms accepted by default. HMAC never: a key from
/// the network must not be a shared secret, and `none` is no algorithm.
pub(crate) const DEFAULT_ALGORITHMS: &[Algorithm] = &[
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// How warden reaches a provider or an issuer: the algorithms its keys
/// may use, the bound on JWKS refetches, and the timeouts of its client.
/// [`Provider`](super::Provider) and [`TrustedIssuer`](super::TrustedIssuer)
/// both hold one.
#[derive(Debug, Clone)]
pub(crate) struct Remote {
    pub(crate) algorithms: Vec<Algorithm>,
    pub(crate) refetch_interval: Duration,
    pub(crate) connect_timeout: Duration,
    pub(crate) request_timeout: Duration,
}

impl Default for Remote {
    fn default() -> Self {
        Self {
            algorithms: DEFAULT_ALGORITHMS.to_vec(),
            refetch_interval: DEFAULT_JWKS_REFETCH_INTERVAL,
            connect_timeout: super::fetch::DEFAULT_CONNECT_TIMEOUT,
            request_timeout: super::fetch::DEFAULT_REQUEST_TIMEOUT,
        }
    }
}

impl Remote {
    /// Keeps the asymmetric algorithms among `algorithms`: a shared
    /// secret is never taken from the network.
    pub(crate) fn set_algorithms(&mut self, algorithms: impl IntoIterator<Item = Algorithm>) {
        self.algorithms = algorithms
            .into_iter()
            .filter(|a| DEFAULT_ALGORITHMS.contains(a))
            .collect();
    }

    /// The client and the (empty) key cache, once the settings are
    /// checked: some algorithm allowed, timeouts positive and at most a
    /// minute.
    pub(crate) fn build(&self) -> Result<(Fetcher, KeySet), super::OidcConfigError> {
        let fits = |d: Duration| !d.is_zero() && d <= Duration::from_secs(60);
        if !fits(self.connect_timeout) || !fits(self.request_timeout) {
            return Err(super::OidcConfigError::InvalidTimeout);
        }
        if self.algorithms.is_empty() {
            return Err(super::OidcConfigError::Missing(
                "list of allowed algorithms",
            ));
        }
        let fetcher = Fetcher::new(self.connect_timeout, self.request_timeout)?;
        let keys = KeySet::new(self.refetch_interval, self.algorithms.clone().into());
        Ok((fetcher, keys))
    }
}

/// The keys of one fetch.
#[derive(Default)]
pub(crate) struct Keys {
    pub(crate) keys: Vec<Key>,
    /// The key a token without `kid` uses: the only key, or the only one
    /// without a `kid`.
    pub(crate) default: Option<usize>,
    /// Bumped by every successful fetch, so that a caller whose
    /// verification failed on this set knows whether a newer one exists.
    pub(crate) generation: u64,
}

/// The cached keys of one issuer, and when they were last fetched.
pub(crate) struct KeySet {
    current: RwLock<Arc<Keys>>,
    /// One fetch at a time; holds the instant of the last attempt and
    /// whether it failed.
    fetching: tokio::sync::Mutex<Option<(Instant, bool)>>,
    fetches: AtomicU64,
    interval: Duration,
    algorithms: Arc<[Algorithm]>,
}

impl std::fmt::Debug for KeySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeySet")
            .field("keys", &self.snapshot().keys.len())
            .field("fetches", &self.fetches.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl KeySet {
    pub(crate) fn new(interval: Duration, algorithms: Arc<[Algorithm]>) -> Self {
        Self {
            current: RwLock::new(Arc::default()),
            fetching: tokio::sync::Mutex::new(None),
            fetches: AtomicU64::new(0),
            interval,
            algorithms,
        }
    }

    /// The keys as last fetched, with their generation.
    pub(crate) fn snapshot(&self) -> Arc<Keys> {
        match self.current.read() {
            Ok(keys) => Arc::clone(&keys),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// How many times the JWKS was fetched.
    pub(crate) fn fetches(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }

    /// Fetches the JWKS again because a token named a key that the set
    /// of generation `seen` lacks. Returns whether there is a newer set
    /// to try: `Ok(false)` when the last attempt is too recent (the
    /// bound), `Ok(true)` after a fetch, or when another caller fetched
    /// meanwhile. `Err` when this fetch failed, or when the last one
    /// failed too recently to try again.
    pub(crate) async fn refetch(
        &self,
        seen: u64,
        fetcher: &Fetcher,
        uri: &Url,
    ) -> Result<bool, FetchError> {
        let mut last = self.fetching.lock().await;
        let generation = self.snapshot().generation;
        if generation != seen {
            return Ok(true);
        }
        if let Some((at, failed)) = *last
            && at.elapsed() < self.interval
        {
            return if failed {
                Err(FetchError::Unreachable)
            } else {
                Ok(false)
            };
        }
        *last = Some((Instant::now(), true));
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let set: JwkSet = fetcher.get_json(uri, None).await?;
        *last = Some((Instant::now(), false));
        // One fetch at a time (the lock above): the only writer.
        let keys = Arc::new(self.keys_of(set, generation + 1));
        match self.current.write() {
            Ok(mut current) => *current = keys,
            Err(poisoned) => *poisoned.into_inner() = keys,
        }
        Ok(true)
    }

    /// The usable signing keys of a JWKS: asymmetric, of an allowed
    /// algorithm, RSA of at least [`MIN_RSA_BITS`], meant for signatures.
    /// Keys this verifier cannot use are skipped, not fatal: a provider
    /// may publish encryption keys or new key types beside its own.
    fn keys_of(&self, set: JwkSet, generation: u64) -> Keys {
        let mut keys: Vec<Key> = set
            .keys
            .into_iter()
            .filter_map(|value| serde_json::from_value::<RawJwk>(value).ok())
            .filter_map(|jwk| jwk.into_key(&self.algorithms))
            .take(MAX_KEYS)
            .collect();
        // Two keys with one kid: neither can be told apart, keep the first.
        let mut seen = std::collections::HashSet::new();
        keys.retain(|key| key.kid().is_none_or(|kid| seen.insert(kid.to_owned())));
        let without_kid: Vec<usize> = (0..keys.len())
            .filter(|&i| keys[i].kid().is_none())
            .collect();
        let default = match (keys.len(), without_kid.as_slice()) {
            (1, _) => Some(0),
            (_, [only]) => Some(*only),
            _ => None,
        };
        Keys {
            keys,
            default,
            generation,
        }
    }
}

#[derive(Deserialize)]
struct JwkSet {
    keys: Vec<serde_json::Value>,
}

/// The members of a JWK (RFC 7517, 7518, 8037) this verifier reads.
#[derive(Deserialize)]
struct RawJwk {
    kty: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default, rename = "use")]
    usage: Option<String>,
    #[serde(default)]
    alg: Option<String>,
    #[serde(default)]
    n: Option<String>,
    #[serde(default)]
    e: Option<String>,
    #[serde(default)]
    crv: Option<String>,
    #[serde(default)]
    x: Option<String>,
    #[serde(default)]
    y: Option<String>,
}

impl RawJwk {
    fn into_key(self, allowed: &[Algorithm]) -> Option<Key> {
        if self.usage.as_deref().is_some_and(|u| u != "sig") {
            return None;
        }
        let named: Option<Algorithm> = match self.alg.as_deref() {
            Some(alg) => Some(alg.parse().ok()?),
            None => None,
        };
        let (algorithm, decoding) = match (self.kty.as_str(), self.crv.as_deref()) {
            ("RSA", _) => {
                let algorithm = named.unwrap_or(Algorithm::RS256);
                let (n, e) = (self.n.as_deref()?, self.e.as_deref()?);
                if rsa_bits(n)? < MIN_RSA_BITS {
                    return None;
                }
                (algorithm, DecodingKey::from_rsa_components(n, e).ok()?)
            }
            ("EC", Some(curve)) => {
                let algorithm = match curve {
                    "P-256" => Algorithm::ES256,
                    "P-384" => Algorithm::ES384,
                    _ => return None,
                };
                (
                    algorithm,
                    DecodingKey::from_ec_components(self.x.as_deref()?, self.y.as_deref()?).ok()?,
                )
            }
            ("OKP", Some("Ed25519")) => (
                Algorithm::EdDSA,
                DecodingKey::from_ed_components(self.x.as_deref()?).ok()?,
            ),
            _ => return None,
        };
        // The algorithm is the key's own: a JWK naming another algorithm
        // than its type allows is unusable, not reinterpreted.
        if named.is_some_and(|n| n != algorithm) {
            return None;
        }
        if !allowed.contains(&algorithm) || !family_fits(algorithm, &self.kty) {
            return None;
        }
        let key = Key::public(algorithm, decoding);
        Some(match self.kid {
            Some(kid) => key.with_kid(kid),
            None => key,
        })
    }
}

fn family_fits(algorithm: Algorithm, kty: &str) -> bool {
    matches!(
        (algorithm, kty),
        (
            Algorithm::RS256
                | Algorithm::RS384
                | Algorithm::RS512
                | Algorithm::PS256
                | Algorithm::PS384
                | Algorithm::PS512,
            "RSA"
        ) | (Algorithm::ES256 | Algorithm::ES384, "EC")
            | (Algorithm::EdDSA, "OKP")
    )
}

/// The bit length of a base64url big-endian modulus.
fn rsa_bits(n: &str) -> Option<usize> {
    let bytes = URL_SAFE_NO_PAD.decode(n.trim_end_matches('=')).ok()?;
    let start = bytes.iter().position(|&b| b != 0)?;
    let significant = &bytes[start..];
    Some(significant.len() * 8 - significant[0].leading_zeros() as usize)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn set(keys: serde_json::Value) -> Keys {
        let set = KeySet::new(Duration::from_secs(1), DEFAULT_ALGORITHMS.into());
        set.keys_of(serde_json::from_value(json!({ "keys": keys })).unwrap(), 1)
    }

    fn modulus(bits: usize) -> String {
        let mut bytes = vec![0xffu8; bits / 8];
        bytes[0] = 0xc1;
        URL_SAFE_NO_PAD.encode(bytes)
    }

    #[test]
    fn only_usable_signing_keys_are_kept() {
        let keys = set(json!([
            {"kty": "RSA", "kid": "ok", "use": "sig", "alg": "RS256", "n": modulus(2048), "e": "AQAB"},
            {"kty": "RSA", "kid": "small", "n": modulus(1024), "e": "AQAB"},
            {"kty": "RSA", "kid": "enc", "use": "enc", "n": modulus(2048), "e": "AQAB"},
            {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"},
            {"kty": "RSA", "kid": "hs", "alg": "HS256", "n": modulus(2048), "e": "AQAB"},
            {"kty": "RSA", "kid": "none", "alg": "none", "n": modulus(2048), "e": "AQAB"},
            {"kty": "EC", "kid": "curve", "crv": "secp256k1", "x": "AA", "y": "AA"},
            {"kty": "RSA", "kid": "ok", "n": modulus(4096), "e": "AQAB"},
            {"kty": "RSA", "kid": "ps", "alg": "PS256", "n": modulus(3072), "e": "AQAB"},
            "not an object"
        ]));
        let kept: Vec<_> = keys.keys.iter().map(|k| (k.kid(), k.algorithm())).collect();
        assert_eq!(kept, [(Some("ok"), "RS256"), (Some("ps"), "PS256")]);
        assert_eq!(keys.default, None);
    }

    #[test]
    fn a_lone_key_serves_tokens_without_kid() {
        let keys = set(json!([{"kty": "RSA", "kid": "k1", "n": modulus(2048), "e": "AQAB"}]));
        assert_eq!(keys.default, Some(0));
    }

    #[test]
    fn modulus_bits_are_counted_exactly() {
        assert_eq!(rsa_bits(&modulus(2048)), Some(2048));
        assert_eq!(rsa_bits(&URL_SAFE_NO_PAD.encode([0, 0x7f])), Some(7));
        assert_eq!(rsa_bits("!!"), None);
    }
}
