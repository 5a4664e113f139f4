//! What the fuzz targets share: the key, the issuer and audience, a signer
//! that signs any header and claims bytes, and real tokens to start from.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey};
use warden::Warden;
use warden::auth::{AccessClaims, Jwt, Key};

/// The roles of the fuzzed tokens.
#[derive(Clone, Copy, warden::Role)]
pub enum FuzzRole {
    /// An administrator.
    Admin,
    /// A user.
    User,
}

/// The HS256 secret every target signs and verifies with.
pub const SECRET: &[u8] = b"warden fuzz secret, at least 32 bytes long";
/// The configured issuer.
pub const ISSUER: &str = "https://issuer.example";
/// The configured audience.
pub const AUDIENCE: &str = "api";
/// The `kid` of the configured key that has one (the other has none; both
/// hold [`SECRET`]).
pub const KID: &str = "k1";

/// Seconds since the Unix epoch.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `Jwt::hs256(SECRET)` with the issuer and audience.
pub fn jwt() -> Jwt {
    Jwt::hs256(SECRET)
        .expect("secret")
        .issuer(ISSUER)
        .audience(AUDIENCE)
}

/// The same secret twice: as key `k1`, and as the key of tokens without
/// `kid`.
pub fn jwt_with_kid() -> Jwt {
    Jwt::new(Key::hs256(SECRET).expect("secret").with_kid(KID))
        .verification_key(Key::hs256(SECRET).expect("secret"))
        .issuer(ISSUER)
        .audience(AUDIENCE)
}

/// A Warden with [`jwt`].
pub fn warden() -> Warden {
    Warden::builder().jwt(jwt()).build().expect("warden")
}

/// base64url without padding.
pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The HS256 signature (base64url) of `message` with [`SECRET`].
pub fn signature(message: &[u8]) -> String {
    let key = EncodingKey::from_secret(SECRET).expect("key");
    jsonwebtoken::crypto::sign(message, &key, Algorithm::HS256).expect("sign")
}

/// A token over exactly these header and claims bytes, validly signed.
pub fn sign(header: &[u8], claims: &[u8]) -> String {
    let message = format!("{}.{}", b64(header), b64(claims));
    let signature = signature(message.as_bytes());
    format!("{message}.{signature}")
}

/// The headers and claims of the real tokens the targets mutate, as JSON
/// text: valid, expired, for another audience, with extra claims, with a
/// `kid`, with `typ: JWT`, not yet valid. `now` is the current time.
pub fn seed_parts(now: u64) -> Vec<(String, String)> {
    let at = r#"{"alg":"HS256","typ":"at+jwt"}"#.to_owned();
    let claims = |extra: &str, exp: u64, aud: &str| {
        format!(
            r#"{{"sub":"user-1","iss":"{ISSUER}","aud":{aud},"iat":{iat},"exp":{exp},"jti":"j-1","roles":["user"],"scope":"a b"{extra}}}"#,
            iat = now.saturating_sub(60),
        )
    };
    let api = format!("\"{AUDIENCE}\"");
    vec![
        (at.clone(), claims("", now + 600, &api)),
        (at.clone(), claims("", now.saturating_sub(3600), &api)),
        (at.clone(), claims("", now + 600, r#"["other","x"]"#)),
        (
            at.clone(),
            claims(
                &format!(
                    r#","nbf":{},"tenant":"acme","nested":{{"a":[1,2.5,null,{{"b":"c"}}]}}"#,
                    now.saturating_sub(10)
                ),
                now + 600,
                &format!(r#"["x","{AUDIENCE}"]"#),
            ),
        ),
        (
            format!(r#"{{"alg":"HS256","typ":"at+jwt","kid":"{KID}"}}"#),
            claims("", now + 600, &api),
        ),
        (
            r#"{"alg":"HS256","typ":"JWT"}"#.to_owned(),
            claims("", now + 600, &api),
        ),
        (
            at,
            claims(&format!(r#","nbf":{}"#, now + 3600), now + 7200, &api),
        ),
    ]
}

/// A token warden itself issued (with roles, scopes and a custom claim).
pub fn issued(warden: &Warden) -> String {
    let request = AccessClaims::new("user-2")
        .roles([FuzzRole::Admin, FuzzRole::User])
        .scopes(["reports:read"])
        .claim("tenant", "acme")
        .expect("claim");
    warden.issue_access_token(&request).expect("issue").token
}

/// Whether a JSON text holds a `\u` escape of a lone surrogate, an
/// independent reading of what warden refuses as not I-JSON.
pub fn lone_surrogate(text: &str) -> bool {
    let bytes = text.as_bytes();
    let escape = |i: usize| -> Option<u16> {
        let hex = bytes.get(i..i + 6)?;
        (hex[0] == b'\\' && hex[1] == b'u')
            .then(|| u16::from_str_radix(std::str::from_utf8(&hex[2..]).ok()?, 16).ok())?
    };
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'\\' {
            i += 1;
            continue;
        }
        match escape(i) {
            Some(0xd800..=0xdbff) => match escape(i + 6) {
                Some(0xdc00..=0xdfff) => i += 12,
                _ => return true,
            },
            Some(0xdc00..=0xdfff) => return true,
            Some(_) => i += 6,
            // `\\`, `\"` and the other two-character escapes.
            None => i += 2,
        }
    }
    false
}
