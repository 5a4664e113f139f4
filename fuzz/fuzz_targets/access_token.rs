//! `Warden::verify_access_token` on arbitrary text: never panics, and
//! whatever it accepts has every claim verification promises.

#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use warden::Warden;
use warden_fuzz::{AUDIENCE, ISSUER, now, warden};

static WARDEN: LazyLock<Warden> = LazyLock::new(warden);

fuzz_target!(|data: &[u8]| {
    let token = String::from_utf8_lossy(data);
    let Ok(claims) = WARDEN.verify_access_token(&token) else {
        return;
    };
    // Only a token signed with the secret can get here (the seeds are
    // real tokens); it must then be one warden promises to accept.
    assert!(token.len() <= 8 * 1024);
    assert!(!claims.sub.is_empty());
    assert_eq!(claims.iss, ISSUER);
    assert!(claims.aud.iter().any(|a| a == AUDIENCE));
    assert!(claims.exp.saturating_add(30) >= now());
    assert!(claims.nbf.is_none_or(|nbf| nbf <= now() + 30));
});
