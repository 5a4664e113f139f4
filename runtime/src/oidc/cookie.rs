//! The flow cookie: what a sign-in must remember between the redirect to
//! the provider and the callback (the provider, `state`, `nonce`, the PKCE
//! verifier, the expiry), encrypted and authenticated with a key derived
//! from the application's secret, so the browser holds it but can neither
//! read nor change it.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use http::HeaderMap;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use zeroize::Zeroize;

/// The cookie's name.
pub(crate) const COOKIE_NAME: &str = "warden_oidc";

/// What the cookie carries.
#[derive(Serialize, Deserialize)]
pub(crate) struct Flow {
    #[serde(rename = "p")]
    pub(crate) provider: String,
    #[serde(rename = "s")]
    pub(crate) state: String,
    #[serde(rename = "n")]
    pub(crate) nonce: String,
    #[serde(rename = "v")]
    pub(crate) verifier: String,
    /// Unix seconds.
    #[serde(rename = "e")]
    pub(crate) expires_at: u64,
}

impl Drop for Flow {
    fn drop(&mut self) {
        self.verifier.zeroize();
        self.nonce.zeroize();
    }
}

/// The cipher of flow cookies.
pub(crate) struct Sealer {
    cipher: XChaCha20Poly1305,
}

impl Sealer {
    /// The key is HMAC-SHA256 of a fixed label under the application's
    /// secret: tied to it, and useless for anything else it keys.
    pub(crate) fn new(secret: &[u8]) -> Self {
        let mut mac = <Hmac<Sha256> as hmac::KeyInit>::new_from_slice(secret)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(b"warden oidc flow cookie v1");
        let mut key = [0u8; 32];
        key.copy_from_slice(&mac.finalize().into_bytes());
        let cipher = XChaCha20Poly1305::new(&key.into());
        key.zeroize();
        Self { cipher }
    }

    /// The cookie value: base64url of a random 24-byte nonce and the
    /// ciphertext. `None` if the random generator fails.
    pub(crate) fn seal(&self, flow: &Flow) -> Option<String> {
        let mut nonce = [0u8; 24];
        getrandom::fill(&mut nonce).ok()?;
        let mut plain = serde_json::to_vec(flow).ok()?;
        let sealed = self.cipher.encrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: &plain,
                aad: COOKIE_NAME.as_bytes(),
            },
        );
        plain.zeroize();
        let mut out = nonce.to_vec();
        out.extend(sealed.ok()?);
        Some(URL_SAFE_NO_PAD.encode(out))
    }

    /// The flow of a cookie value this sealer made; `None` for anything
    /// else (forged, altered, from another secret, malformed).
    pub(crate) fn open(&self, value: &str) -> Option<Flow> {
        if value.len() > 4096 {
            return None;
        }
        let bytes = URL_SAFE_NO_PAD.decode(value).ok()?;
        if bytes.len() < 24 + 16 {
            return None;
        }
        let (nonce, sealed) = bytes.split_at(24);
        let mut plain = self
            .cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: COOKIE_NAME.as_bytes(),
                },
            )
            .ok()?;
        let flow = serde_json::from_slice(&plain).ok();
        plain.zeroize();
        flow
    }
}

/// The value of the flow cookie among the request's `Cookie` headers; with
/// several, the first (browsers list the most specific path first, RFC
/// 6265 section 5.4).
pub(crate) fn flow_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(|(name, _)| *name == COOKIE_NAME)
        .map(|(_, value)| value.trim_matches('"'))
        .next()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flow() -> Flow {
        Flow {
            provider: "google".into(),
            state: "s".into(),
            nonce: "n".into(),
            verifier: "v".repeat(43),
            expires_at: 42,
        }
    }

    #[test]
    fn a_sealed_flow_opens_with_the_same_secret_only() {
        let sealer = Sealer::new(b"a secret of at least thirty-two bytes");
        let value = sealer.seal(&flow()).unwrap();
        assert!(!value.contains("google") && !value.contains("vvvv"));
        let opened = sealer.open(&value).unwrap();
        assert_eq!(
            (opened.provider.as_str(), opened.expires_at),
            ("google", 42)
        );
        let other = Sealer::new(b"another secret of thirty-two bytes!!");
        assert!(other.open(&value).is_none());
    }

    #[test]
    fn any_altered_byte_is_refused() {
        let sealer = Sealer::new(b"a secret of at least thirty-two bytes");
        let value = sealer.seal(&flow()).unwrap();
        let mut bytes = URL_SAFE_NO_PAD.decode(&value).unwrap();
        for i in 0..bytes.len() {
            bytes[i] ^= 1;
            assert!(
                sealer.open(&URL_SAFE_NO_PAD.encode(&bytes)).is_none(),
                "byte {i}"
            );
            bytes[i] ^= 1;
        }
        assert!(sealer.open("").is_none());
        assert!(sealer.open("%%%").is_none());
        assert!(sealer.open(&"A".repeat(5000)).is_none());
    }

    #[test]
    fn the_cookie_is_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(
            http::header::COOKIE,
            "a=1; warden_oidc=xyz; b=2".parse().unwrap(),
        );
        assert_eq!(flow_cookie(&headers), Some("xyz"));
        headers.insert(http::header::COOKIE, "warden_oidcx=1".parse().unwrap());
        assert_eq!(flow_cookie(&headers), None);
    }
}
