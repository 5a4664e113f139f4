//! The cache of verified access tokens (`Jwt::token_cache`): a token seen
//! again is answered from it, but a forged or altered token never is, an
//! entry never outlives the token's `exp`, a configuration without the
//! token's key refuses it whatever another one cached, tokens of external
//! issuers are never kept, a token is kept from its second sight on, and
//! the cache stays within its bound.

use std::time::Duration;

use axum::Router;
use axum::routing::get;
use serde_json::json;
use warden::auth::{Jwt, Key};
use warden::oidc::TrustedIssuer;
use warden::{Auth, Warden, protected};
use warden_tests::oidc_provider::{FakeProvider, KeyKind};
use warden_tests::{Client, Transport, claims, hs256, keys, now};

#[derive(Debug, Clone, Copy, PartialEq, Eq, warden::Role)]
enum Role {
    Admin,
}

#[protected]
async fn whoami(user: Auth) -> String {
    user.sub().to_owned()
}

#[protected(role = Role::Admin)]
async fn admin(user: Auth) -> String {
    user.sub().to_owned()
}

async fn server(jwt: Jwt) -> (Warden, Client) {
    let warden = Warden::builder().jwt(jwt).build().expect("warden");
    let router = Router::new()
        .route("/whoami", get(whoami))
        .route("/admin", get(admin))
        .with_state(warden.clone());
    (warden, Client::new(router, Transport::Socket).await)
}

/// Sends `token` twice, so that the cache, empty before, holds it.
async fn seen_twice(warden: &Warden, client: &Client, token: &str) {
    assert_eq!(client.get("/whoami", Some(token)).await.status, 200);
    assert_eq!(client.get("/whoami", Some(token)).await.status, 200);
    assert_eq!(warden.cached_tokens(), 1);
}

#[tokio::test]
async fn a_token_seen_again_is_answered_from_the_cache_with_its_own_claims() {
    let (warden, client) = server(warden_tests::jwt()).await;
    let ana = hs256(&claims("ana", &["user"]), keys::SECRET, None);
    let bo = hs256(&claims("bo", &["admin"]), keys::SECRET, None);
    assert_eq!(warden.cached_tokens(), 0);
    for _ in 0..3 {
        let answer = client.get("/whoami", Some(&ana)).await;
        assert_eq!(
            (answer.status.as_u16(), answer.body.clone()),
            (200, json!("ana"))
        );
    }
    assert_eq!(warden.cached_tokens(), 1);
    // A token is kept from its second sight on.
    let answer = client.get("/whoami", Some(&bo)).await;
    assert_eq!(answer.body, "bo");
    assert_eq!(warden.cached_tokens(), 1);
    let answer = client.get("/whoami", Some(&bo)).await;
    assert_eq!(answer.body, "bo");
    assert_eq!(warden.cached_tokens(), 2);
    // The requirement is checked on cached claims as on fresh ones.
    assert_eq!(client.get("/admin", Some(&ana)).await.status, 403);
    assert_eq!(client.get("/admin", Some(&bo)).await.status, 200);
}

#[tokio::test]
async fn a_forged_or_altered_token_is_never_answered_from_the_cache() {
    let (warden, client) = server(warden_tests::jwt()).await;
    let token = hs256(&claims("ana", &["user"]), keys::SECRET, None);
    seen_twice(&warden, &client, &token).await;
    let (message, signature) = token.rsplit_once('.').unwrap();
    let (header, _) = message.split_once('.').unwrap();

    // The cached token's signature under another payload (an admin's).
    let promoted = warden_tests::b64(claims("ana", &["admin"]).to_string());
    let altered = format!("{header}.{promoted}.{signature}");
    let answer = client.get("/admin", Some(&altered)).await;
    answer.assert_problem(http::StatusCode::UNAUTHORIZED, "invalid_token");
    // The cached payload under a signature by another key.
    let forged = hs256(&claims("ana", &["user"]), keys::FOREIGN_SECRET, None);
    assert_eq!(forged.rsplit_once('.').unwrap().0, message);
    assert_eq!(client.get("/whoami", Some(&forged)).await.status, 401);
    // One byte of the signature changed.
    let mut flipped = token.clone().into_bytes();
    let last = flipped.len() - 2;
    flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
    let flipped = String::from_utf8(flipped).unwrap();
    assert_eq!(client.get("/whoami", Some(&flipped)).await.status, 401);
    // A prefix of the cached token.
    assert_eq!(
        client
            .get("/whoami", Some(&token[..token.len() - 1]))
            .await
            .status,
        401
    );
    // Nothing refused was kept; the real token still works.
    assert_eq!(warden.cached_tokens(), 1);
    assert_eq!(client.get("/whoami", Some(&token)).await.status, 200);
}

/// A cached token's credentials skip the b64token check (they passed it
/// when stored); anything else, however close, misses and is checked.
#[tokio::test]
async fn credentials_outside_the_grammar_never_hit_the_cache() {
    let (warden, client) = server(warden_tests::jwt()).await;
    let token = hs256(&claims("ana", &["user"]), keys::SECRET, None);
    seen_twice(&warden, &client, &token).await;
    for credentials in [
        format!("{token}\""),
        format!("\"{token}\""),
        format!("{token},"),
        format!("\t{token}"),
        format!("{token}\u{e9}"),
        token.replacen('.', ",", 1),
    ] {
        let header = format!("Bearer {credentials}");
        let answer = client
            .get_with("/whoami", &[("authorization", header.as_str())])
            .await;
        answer.assert_problem(http::StatusCode::UNAUTHORIZED, "invalid_token");
    }
    // Spaces around the credentials are not part of them: still a hit.
    let spaced = format!("bearer   {token}   ");
    let answer = client
        .get_with("/whoami", &[("authorization", spaced.as_str())])
        .await;
    assert_eq!((answer.status.as_u16(), answer.body), (200, json!("ana")));
    assert_eq!(warden.cached_tokens(), 1);
}

#[tokio::test]
async fn a_cached_token_is_refused_once_it_expires() {
    let (warden, client) = server(warden_tests::jwt().leeway(Duration::ZERO)).await;
    let mut short = claims("ana", &["user"]);
    short["exp"] = json!(now() + 1);
    let token = hs256(&short, keys::SECRET, None);
    seen_twice(&warden, &client, &token).await;
    // Past exp (no leeway here), the cached entry no longer answers.
    while now() <= short["exp"].as_u64().unwrap() {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let answer = client.get("/whoami", Some(&token)).await;
    answer.assert_problem(http::StatusCode::UNAUTHORIZED, "invalid_token");
    assert!(
        answer.header("www-authenticate").contains("expired"),
        "{}",
        answer.header("www-authenticate")
    );
}

#[tokio::test]
async fn a_configuration_without_the_key_refuses_what_another_cached() {
    // Two keys; a token of the old one is verified and cached.
    let both = Jwt::new(Key::hs256(keys::SECRET).unwrap().with_kid("new"))
        .verification_key(Key::hs256(keys::OLD_SECRET).unwrap().with_kid("old"))
        .issuer("warden-tests")
        .audience("warden-tests");
    let (before, client) = server(both).await;
    let token = hs256(&claims("ana", &["user"]), keys::OLD_SECRET, Some("old"));
    assert_eq!(client.get("/whoami", Some(&token)).await.status, 200);
    assert_eq!(client.get("/whoami", Some(&token)).await.status, 200);
    assert_eq!(before.cached_tokens(), 1);
    // The old key removed: the new configuration refuses the token at once.
    let rotated = Jwt::new(Key::hs256(keys::SECRET).unwrap().with_kid("new"))
        .issuer("warden-tests")
        .audience("warden-tests");
    let (after, client) = server(rotated).await;
    let answer = client.get("/whoami", Some(&token)).await;
    answer.assert_problem(http::StatusCode::UNAUTHORIZED, "invalid_token");
    assert_eq!(after.cached_tokens(), 0);
}

#[tokio::test]
async fn tokens_of_external_issuers_are_never_kept() {
    let provider = FakeProvider::start().await;
    let (warden, client) = server(Jwt::from_issuer(
        TrustedIssuer::new(provider.issuer())
            .unwrap()
            .audience("api")
            .jwks_refetch_interval(Duration::from_millis(200)),
    ))
    .await;
    let token = provider.mint(
        KeyKind::Rs256,
        json!({"typ": "at+jwt"}),
        json!({
            "iss": provider.issuer(),
            "aud": "api",
            "sub": "service-7",
            "exp": now() + 600,
            "iat": now(),
        }),
    );
    for _ in 0..3 {
        assert_eq!(client.get("/whoami", Some(&token)).await.status, 200);
    }
    assert_eq!(warden.cached_tokens(), 0);
    // Its key rotated out of the JWKS: once the keys are fetched again
    // (for a token with the new key's kid), the token is refused.
    let old = provider.kid(KeyKind::Rs256);
    provider.rotate(KeyKind::Rs256);
    provider.unpublish(&old);
    tokio::time::sleep(Duration::from_millis(250)).await;
    let fresh = provider.mint(
        KeyKind::Rs256,
        json!({"typ": "at+jwt"}),
        json!({
            "iss": provider.issuer(),
            "aud": "api",
            "sub": "service-8",
            "exp": now() + 600,
            "iat": now(),
        }),
    );
    assert_eq!(client.get("/whoami", Some(&fresh)).await.status, 200);
    assert_eq!(client.get("/whoami", Some(&token)).await.status, 401);
}

#[tokio::test]
async fn tokens_seen_once_are_not_kept() {
    let (warden, client) = server(warden_tests::jwt()).await;
    for i in 0..500 {
        let token = hs256(&claims(&format!("user-{i}"), &[]), keys::SECRET, None);
        assert_eq!(client.get("/whoami", Some(&token)).await.status, 200);
    }
    assert_eq!(warden.cached_tokens(), 0);
}

#[tokio::test]
async fn the_cache_stays_within_its_bound_and_can_be_turned_off() {
    let (warden, client) = server(warden_tests::jwt().token_cache(32)).await;
    for i in 0..200 {
        let token = hs256(&claims(&format!("user-{i}"), &[]), keys::SECRET, None);
        for _ in 0..2 {
            let answer = client.get("/whoami", Some(&token)).await;
            assert_eq!(answer.body, format!("user-{i}"));
        }
    }
    assert!(warden.cached_tokens() <= 32, "{}", warden.cached_tokens());
    assert!(warden.cached_tokens() > 0);

    let (off, client) = server(warden_tests::jwt().token_cache(0)).await;
    let token = hs256(&claims("ana", &[]), keys::SECRET, None);
    for _ in 0..3 {
        assert_eq!(client.get("/whoami", Some(&token)).await.status, 200);
    }
    assert_eq!(off.cached_tokens(), 0);
}
