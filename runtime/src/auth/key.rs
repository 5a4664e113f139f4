use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use sha2::{Sha256, Sha384, Sha512};

use super::error::KeyError;

/// The smallest RSA modulus warden accepts, in bits (NIST SP 800-131A).
pub const MIN_RSA_BITS: usize = 2048;

/// A key bound to exactly one signature algorithm.
///
/// A token is only ever checked with the algorithm its key was made for:
/// a token whose header names another algorithm (or `none`) is refused before
/// any signature is computed, so an RSA public key can never be abused as an
/// HMAC secret (algorithm confusion).
///
/// HMAC secrets must be at least as long as the hash output (32 bytes for
/// HS256, 48 for HS384, 64 for HS512: RFC 7518 section 3.2) and RSA keys at
/// least 2048 bits; shorter keys are refused here, when the configuration is
/// built.
///
/// ```
/// use warden::auth::Key;
///
/// let key = Key::hs256(b"a secret of at least thirty-two bytes!")?.with_kid("2026-11");
/// assert_eq!(key.kid(), Some("2026-11"));
/// assert!(Key::hs256(b"too short").is_err());
/// # Ok::<(), warden::auth::KeyError>(())
/// ```
#[derive(Clone)]
pub struct Key {
    pub(crate) algorithm: Algorithm,
    pub(crate) kid: Option<String>,
    pub(crate) encoding: Option<EncodingKey>,
    verifier: Verifier,
}

/// How a signature is checked. An HMAC key keeps the MAC state with the
/// key already absorbed, so a verification hashes only the token; a public
/// key verifies through jsonwebtoken's crypto provider.
#[derive(Clone)]
enum Verifier {
    Hs256(Hmac<Sha256>),
    Hs384(Hmac<Sha384>),
    Hs512(Hmac<Sha512>),
    Public(DecodingKey),
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key")
            .field("algorithm", &self.algorithm)
            .field("kid", &self.kid)
            .field("can_sign", &self.encoding.is_some())
            .finish_non_exhaustive()
    }
}

impl Key {
    /// An HS256 secret (at least 32 bytes) that signs and verifies.
    pub fn hs256(secret: impl AsRef<[u8]>) -> Result<Self, KeyError> {
        Self::hmac(Algorithm::HS256, secret.as_ref(), 32)
    }

    /// An HS384 secret (at least 48 bytes) that signs and verifies.
    pub fn hs384(secret: impl AsRef<[u8]>) -> Result<Self, KeyError> {
        Self::hmac(Algorithm::HS384, secret.as_ref(), 48)
    }

    /// An HS512 secret (at least 64 bytes) that signs and verifies.
    pub fn hs512(secret: impl AsRef<[u8]>) -> Result<Self, KeyError> {
        Self::hmac(Algorithm::HS512, secret.as_ref(), 64)
    }

    fn hmac(algorithm: Algorithm, secret: &[u8], min: usize) -> Result<Self, KeyError> {
        if secret.len() < min {
            return Err(KeyError::TooShort {
                algorithm: alg_name(algorithm),
                min_bytes: min,
                got_bytes: secret.len(),
            });
        }
        let encoding = EncodingKey::from_secret(secret).map_err(|_| KeyError::Invalid {
            algorithm: alg_name(algorithm),
        })?;
        let invalid = |_| KeyError::Invalid {
            algorithm: alg_name(algorithm),
        };
        let verifier = match algorithm {
            Algorithm::HS256 => Verifier::Hs256(Hmac::new_from_slice(secret).map_err(invalid)?),
            Algorithm::HS384 => Verifier::Hs384(Hmac::new_from_slice(secret).map_err(invalid)?),
            _ => Verifier::Hs512(Hmac::new_from_slice(secret).map_err(invalid)?),
        };
        Ok(Self {
            algorithm,
            kid: None,
            encoding: Some(encoding),
            verifier,
        })
    }

    /// An RS256 public key (PEM, PKCS#1 or SPKI) that verifies; add the
    /// private key with [`Key::with_private_pem`] to sign as well.
    pub fn rs256(public_pem: impl AsRef<[u8]>) -> Result<Self, KeyError> {
        let invalid = || KeyError::Invalid { algorithm: "RS256" };
        let decoding = DecodingKey::from_rsa_pem(public_pem.as_ref()).map_err(|_| invalid())?;
        let der = decoding.try_get_as_bytes().map_err(|_| invalid())?;
        let bits = rsa_modulus_bits(der).ok_or_else(invalid)?;
        if bits < MIN_RSA_BITS {
            return Err(KeyError::RsaTooSmall {
                min_bits: MIN_RSA_BITS,
                got_bits: bits,
            });
        }
        Ok(Self::public(Algorithm::RS256, decoding))
    }

    /// An ES256 (P-256) public key (PEM) that verifies.
    pub fn es256(public_pem: impl AsRef<[u8]>) -> Result<Self, KeyError> {
        let decoding = DecodingKey::from_ec_pem(public_pem.as_ref())
            .map_err(|_| KeyError::Invalid { algorithm: "ES256" })?;
        Ok(Self::public(Algorithm::ES256, decoding))
    }

    /// An Ed25519 (`EdDSA`) public key (PEM) that verifies.
    pub fn eddsa(public_pem: impl AsRef<[u8]>) -> Result<Self, KeyError> {
        let decoding = DecodingKey::from_ed_pem(public_pem.as_ref())
            .map_err(|_| KeyError::Invalid { algorithm: "EdDSA" })?;
        Ok(Self::public(Algorithm::EdDSA, decoding))
    }

    pub(crate) fn public(algorithm: Algorithm, decoding: DecodingKey) -> Self {
        Self {
            algorithm,
            kid: None,
            encoding: None,
            verifier: Verifier::Public(decoding),
        }
    }

    /// Whether `signature` (the token's third segment, base64url) signs
    /// `message` (its first two segments with the dot between them).
    pub(crate) fn verifies(&self, message: &[u8], signature: &str) -> bool {
        fn mac<M: Mac + Clone>(state: &M, message: &[u8], signature: &str) -> bool {
            // The longest HMAC output is 64 bytes; anything longer fails to
            // decode into the buffer and so fails the check.
            let mut buffer = [0u8; 64];
            let Some(decoded) = super::jwt::decode_base64url(signature, &mut buffer) else {
                return false;
            };
            let mut state = state.clone();
            state.update(message);
            // Constant-time, and the length must be the full output.
            state.verify_slice(decoded).is_ok()
        }
        match &self.verifier {
            Verifier::Hs256(state) => mac(state, message, signature),
            Verifier::Hs384(state) => mac(state, message, signature),
            Verifier::Hs512(state) => mac(state, message, signature),
            Verifier::Public(decoding) => {
                jsonwebtoken::crypto::verify(signature, message, decoding, self.algorithm)
                    .unwrap_or(false)
            }
        }
    }

    /// Adds the private key (PEM, PKCS#8 or PKCS#1 for RSA) of an asymmetric
    /// key, so that it can sign tokens too.
    ///
    /// The private key is checked to belong to the public key: a token it
    /// signs must verify with this key, or the call fails.
    pub fn with_private_pem(mut self, private_pem: impl AsRef<[u8]>) -> Result<Self, KeyError> {
        ensure_crypto_provider();
        let pem = private_pem.as_ref();
        let algorithm = alg_name(self.algorithm);
        let encoding = match self.algorithm {
            Algorithm::RS256 => EncodingKey::from_rsa_pem(pem),
            Algorithm::ES256 => EncodingKey::from_ec_pem(pem),
            Algorithm::EdDSA => EncodingKey::from_ed_pem(pem),
            _ => return Err(KeyError::NotAsymmetric { algorithm }),
        }
        .map_err(|_| KeyError::Invalid { algorithm })?;
        let probe = b"warden key pair probe";
        let signature = jsonwebtoken::crypto::sign(probe, &encoding, self.algorithm)
            .map_err(|_| KeyError::Invalid { algorithm })?;
        if !self.verifies(probe, &signature) {
            return Err(KeyError::Mismatch { algorithm });
        }
        self.encoding = Some(encoding);
        Ok(self)
    }

    /// Names the key: tokens it signs carry this `kid` header, and tokens
    /// carrying it are verified with this key.
    pub fn with_kid(mut self, kid: impl Into<String>) -> Self {
        self.kid = Some(kid.into());
        self
    }

    /// The key id, if the key has one.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The algorithm (`"HS256"`, `"RS256"`, ...) this key is bound to.
    pub fn algorithm(&self) -> &'static str {
        alg_name(self.algorithm)
    }

    /// Whether this key can sign tokens.
    pub fn can_sign(&self) -> bool {
        self.encoding.is_some()
    }
}

/// Makes sure `jsonwebtoken` has a process-wide crypto provider.
///
/// `jsonwebtoken` picks one from its crate features, and panics on first use
/// when it cannot (a dependency graph that enables both of its back ends).
/// warden installs the RustCrypto provider it depends on in that case, so
/// that no request can hit that panic.
pub(crate) fn ensure_crypto_provider() {
    use jsonwebtoken::crypto::{CryptoProvider, rust_crypto};
    if CryptoProvider::try_get_default().is_none() {
        // Err means another thread installed one first: just as good.
        let _ = rust_crypto::DEFAULT_PROVIDER.install_default();
    }
}

pub(crate) fn alg_name(algorithm: Algorithm) -> &'static str {
    match algorithm {
        Algorithm::HS256 => "HS256",
        Algorithm::HS384 => "HS384",
        Algorithm::HS512 => "HS512",
        Algorithm::RS256 => "RS256",
        Algorithm::RS384 => "RS384",
        Algorithm::RS512 => "RS512",
        Algorithm::PS256 => "PS256",
        Algorithm::PS384 => "PS384",
        Algorithm::PS512 => "PS512",
        Algorithm::ES256 => "ES256",
        Algorithm::ES384 => "ES384",
        Algorithm::EdDSA => "EdDSA",
        _ => "unsupported",
    }
}

/// Reads the bit length of the modulus of a PKCS#1 `RSAPublicKey`
/// (`SEQUENCE { INTEGER n, INTEGER e }`) in DER.
pub(crate) fn rsa_modulus_bits(der: &[u8]) -> Option<usize> {
    fn read_len(bytes: &[u8]) -> Option<(usize, &[u8])> {
        let (&first, rest) = bytes.split_first()?;
        if first < 0x80 {
            return Some((usize::from(first), rest));
        }
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 || rest.len() < count {
            return None;
        }
        let len = rest[..count]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        Some((len, &rest[count..]))
    }
    let rest = der.strip_prefix(&[0x30])?;
    let (_, rest) = read_len(rest)?;
    let rest = rest.strip_prefix(&[0x02])?;
    let (len, rest) = read_len(rest)?;
    let modulus = rest.get(..len)?;
    let significant: &[u8] = match modulus.iter().position(|&b| b != 0) {
        Some(start) => &modulus[start..],
        None => return Some(0),
    };
    Some(significant.len() * 8 - significant[0].leading_zeros() as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_keys_shorter_than_the_hash_are_refused() {
        assert!(matches!(
            Key::hs256([7u8; 31]),
            Err(KeyError::TooShort {
                min_bytes: 32,
                got_bytes: 31,
                ..
            })
        ));
        assert!(Key::hs256([7u8; 32]).is_ok());
        assert!(matches!(
            Key::hs384([7u8; 47]),
            Err(KeyError::TooShort { min_bytes: 48, .. })
        ));
        assert!(Key::hs384([7u8; 48]).is_ok());
        assert!(matches!(
            Key::hs512([7u8; 63]),
            Err(KeyError::TooShort { min_bytes: 64, .. })
        ));
        assert!(Key::hs512([7u8; 64]).is_ok());
        assert!(Key::hs256([]).is_err());
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let key = Key::hs256(b"super-secret-value-of-32-bytes!!").unwrap();
        let shown = format!("{key:?}");
        assert!(!shown.contains("super-secret"), "{shown}");
        assert!(shown.contains("HS256"));
        let error = Key::hs256(b"short-secret").unwrap_err().to_string();
        assert!(!error.contains("short-secret"), "{error}");
    }

    #[test]
    fn garbage_pem_is_an_error_not_a_panic() {
        for pem in [
            &b""[..],
            b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
            b"\xff\x00",
        ] {
            assert!(Key::rs256(pem).is_err());
            assert!(Key::es256(pem).is_err());
            assert!(Key::eddsa(pem).is_err());
        }
    }

    #[test]
    fn private_keys_only_attach_to_asymmetric_keys() {
        let key = Key::hs256([1u8; 32]).unwrap();
        assert!(matches!(
            key.with_private_pem(b"whatever"),
            Err(KeyError::NotAsymmetric { .. })
        ));
    }

    #[test]
    fn modulus_bits_are_read_from_der() {
        // SEQUENCE { INTEGER (0x00, 0x80 followed by 255 bytes) , INTEGER 65537 }
        let mut modulus = vec![0x00, 0x80];
        modulus.extend(std::iter::repeat_n(0x11, 255));
        let mut body = vec![0x02, 0x82, 0x01, 0x01];
        body.extend(&modulus);
        body.extend([0x02, 0x03, 0x01, 0x00, 0x01]);
        let mut der = vec![0x30, 0x82, (body.len() >> 8) as u8, body.len() as u8];
        der.extend(body);
        assert_eq!(rsa_modulus_bits(&der), Some(2048));
        assert_eq!(rsa_modulus_bits(&[0x30]), None);
        assert_eq!(rsa_modulus_bits(&[]), None);
    }
}
