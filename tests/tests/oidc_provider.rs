//! The fake OpenID Connect provider on its own, with a plain reqwest client
//! as the relying party.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{DecodingKey, Validation};
use serde_json::Value;
use sha2::{Digest as _, Sha256};
use warden_tests::oidc_provider::{Browser, FakeProvider, KeyKind, Tweak};

const CALLBACK: &str = "http://127.0.0.1:9/callback";

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
}

async fn provider() -> FakeProvider {
    FakeProvider::builder()
        .client("rp", "rp-secret")
        .redirect_uri(CALLBACK)
        .start()
        .await
}

/// Authorizes with PKCE and returns (code, verifier, nonce).
async fn authorize(provider: &FakeProvider) -> (String, String, String) {
    let verifier = format!("verifier-{}", "v".repeat(40));
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    let nonce = "nonce-1".to_owned();
    let query = form(&[
        ("response_type", "code"),
        ("client_id", "rp"),
        ("redirect_uri", CALLBACK),
        ("scope", "openid email profile"),
        ("state", "state-1"),
        ("nonce", &nonce),
        ("code_challenge", &challenge),
        ("code_challenge_method", "S256"),
    ]);
    let url = format!("{}/authorize?{query}", provider.issuer());
    let answer = client().get(url).send().await.expect("authorize");
    assert_eq!(answer.status(), 302);
    let location = reqwest::Url::parse(answer.headers()["location"].to_str().unwrap()).unwrap();
    assert!(location.as_str().starts_with(CALLBACK), "{location}");
    let param = |name: &str| {
        let mut pairs = location.query_pairs();
        pairs.find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
    };
    assert_eq!(param("state").as_deref(), Some("state-1"));
    (param("code").expect("code"), verifier, nonce)
}

fn form(pairs: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// Exchanges `code` with client_secret_basic: (status, body).
async fn exchange(provider: &FakeProvider, code: &str, verifier: &str) -> (u16, Value) {
    let body = form(&[
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", CALLBACK),
        ("code_verifier", verifier),
    ]);
    let answer = client()
        .post(format!("{}/token", provider.issuer()))
        .basic_auth("rp", Some("rp-secret"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .expect("token");
    (answer.status().as_u16(), answer.json().await.expect("JSON"))
}

/// Verifies `token` with the JWK of its `kid` from `/jwks`.
async fn verify(provider: &FakeProvider, token: &str) -> jsonwebtoken::errors::Result<Value> {
    let header = jsonwebtoken::decode_header(token)?;
    let url = format!("{}/jwks", provider.issuer());
    let jwks: JwkSet = client()
        .get(url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let kid = header.kid.unwrap_or_default();
    let Some(jwk) = jwks.find(&kid) else {
        return Err(jsonwebtoken::errors::ErrorKind::InvalidKeyFormat.into());
    };
    let mut validation = Validation::new(header.alg);
    validation.set_audience(&["rp"]);
    validation.set_issuer(&[provider.issuer()]);
    let key = DecodingKey::from_jwk(jwk)?;
    Ok(jsonwebtoken::decode::<Value>(token, &key, &validation)?.claims)
}

#[tokio::test]
async fn discovery_names_the_endpoints() {
    let provider = provider().await;
    let issuer = provider.issuer();
    let url = format!("{issuer}/.well-known/openid-configuration");
    let doc: Value = client()
        .get(url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["issuer"], issuer);
    assert!(!issuer.ends_with('/'));
    assert_eq!(doc["authorization_endpoint"], format!("{issuer}/authorize"));
    assert_eq!(doc["token_endpoint"], format!("{issuer}/token"));
    assert_eq!(doc["jwks_uri"], format!("{issuer}/jwks"));
    assert_eq!(doc["userinfo_endpoint"], format!("{issuer}/userinfo"));
    assert_eq!(doc["code_challenge_methods_supported"][0], "S256");
    let algs = &doc["id_token_signing_alg_values_supported"];
    assert_eq!(algs, &serde_json::json!(["RS256", "ES256"]));
    assert_eq!(provider.discovery_fetches(), 1);
}

#[tokio::test]
async fn code_flow_rs256_and_es256_verify_against_the_jwks() {
    let provider = provider().await;
    for kind in [KeyKind::Rs256, KeyKind::Es256] {
        provider.tweak_next_id_token(Tweak::SignWith(kind));
        let (code, verifier, nonce) = authorize(&provider).await;
        let (status, body) = exchange(&provider, &code, &verifier).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["token_type"], "Bearer");
        assert_eq!(body["expires_in"], 3600);
        let id_token = body["id_token"].as_str().expect("id_token");
        let header = jsonwebtoken::decode_header(id_token).unwrap();
        assert_eq!(header.alg, kind.algorithm());
        assert_eq!(header.kid, Some(provider.kid(kind)));
        let claims = verify(&provider, id_token).await.expect("valid ID token");
        assert_eq!(claims["nonce"], nonce.as_str());
        assert_eq!(claims["sub"], "alice");
        assert_eq!(claims["email"], "alice@example.com");

        let access_token = body["access_token"].as_str().unwrap();
        let url = format!("{}/userinfo", provider.issuer());
        let userinfo = client().get(url).bearer_auth(access_token).send().await;
        let userinfo: Value = userinfo.unwrap().json().await.unwrap();
        assert_eq!(userinfo["sub"], "alice");
    }
    assert_eq!(provider.token_requests(), 2);
    assert_eq!(provider.authorize_requests()[0]["nonce"], "nonce-1");
}

#[tokio::test]
async fn a_wrong_verifier_is_invalid_grant() {
    let provider = provider().await;
    let (code, verifier, _) = authorize(&provider).await;
    let wrong = verifier.replace('v', "w");
    let (status, body) = exchange(&provider, &code, &wrong).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
}

#[tokio::test]
async fn a_replayed_code_is_invalid_grant() {
    let provider = provider().await;
    let (code, verifier, _) = authorize(&provider).await;
    assert_eq!(exchange(&provider, &code, &verifier).await.0, 200);
    let (status, body) = exchange(&provider, &code, &verifier).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
}

#[tokio::test]
async fn client_credentials_are_checked_both_ways() {
    let provider = FakeProvider::builder()
        .client("rp:1", "s3cr+t %")
        .redirect_uri(CALLBACK)
        .start()
        .await;
    let token = format!("{}/token", provider.issuer());
    let post = |auth: Option<&str>, body: String| {
        let mut request = client()
            .post(&token)
            .header("content-type", "application/x-www-form-urlencoded");
        if let Some(auth) = auth {
            request = request.header("authorization", format!("Basic {auth}"));
        }
        async move { request.body(body).send().await.unwrap().status().as_u16() }
    };
    let grant = "grant_type=authorization_code&code=nope&redirect_uri=x&code_verifier=y";
    // client_secret_basic, form-urlencoded before base64 (RFC 6749 §2.3.1).
    let encoded = base64::engine::general_purpose::STANDARD.encode("rp%3A1:s3cr%2Bt+%25");
    assert_eq!(post(Some(&encoded), grant.into()).await, 400);
    let raw = base64::engine::general_purpose::STANDARD.encode("rp:1:s3cr+t %");
    assert_eq!(post(Some(&raw), grant.into()).await, 401);
    // client_secret_post.
    let credentials = form(&[("client_id", "rp:1"), ("client_secret", "s3cr+t %")]);
    assert_eq!(post(None, format!("{grant}&{credentials}")).await, 400);
    assert_eq!(post(None, grant.into()).await, 401);
}

#[tokio::test]
async fn wrong_tokens_do_not_verify() {
    let provider = provider().await;
    for tweak in [
        Tweak::BadSignature,
        Tweak::UnknownKid,
        Tweak::AlgNone,
        Tweak::Hs256WithPublicKey,
        Tweak::Expired,
        Tweak::Audience("someone-else".into()),
    ] {
        provider.tweak_next_id_token(tweak.clone());
        let (code, verifier, _) = authorize(&provider).await;
        let (_, body) = exchange(&provider, &code, &verifier).await;
        let id_token = body["id_token"].as_str().unwrap();
        assert!(verify(&provider, id_token).await.is_err(), "{tweak:?}");
    }
    let kid = provider.rotate_unpublished(KeyKind::Es256);
    let token = provider.mint(kid.as_str(), Value::Null, serde_json::json!({"sub": "x"}));
    assert!(verify(&provider, &token).await.is_err());
    provider.publish(&kid);
    let claims = serde_json::json!({"sub": "x", "aud": "rp", "iss": provider.issuer(), "exp": warden_tests::now() + 60});
    let token = provider.mint(kid.as_str(), Value::Null, claims);
    assert!(verify(&provider, &token).await.is_ok());
}

#[tokio::test]
async fn stop_refuses_connections_and_restart_serves_again() {
    let provider = provider().await;
    let url = format!("{}/jwks", provider.issuer());
    let http = client();
    let before: Value = http.get(&url).send().await.unwrap().json().await.unwrap();
    provider.stop().await;
    let error = http.get(&url).send().await.expect_err("stopped");
    assert!(error.is_connect(), "{error:?}");
    provider.restart().await;
    let after: Value = http.get(&url).send().await.unwrap().json().await.unwrap();
    assert_eq!(before, after);
    assert_eq!(provider.jwks_fetches(), 2);
}

#[tokio::test]
async fn hang_leaves_requests_unanswered() {
    let provider = provider().await;
    let url = format!("{}/jwks", provider.issuer());
    provider.hang(true);
    let quick = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    assert!(quick.get(&url).send().await.unwrap_err().is_timeout());
    provider.hang(false);
    assert_eq!(quick.get(&url).send().await.unwrap().status(), 200);
    assert_eq!(provider.jwks_fetches(), 1);

    // Stopping does not wait for the requests it holds.
    provider.hang(true);
    let held = tokio::spawn(client().get(url).send());
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = std::time::Instant::now();
    provider.stop().await;
    assert!(started.elapsed() < Duration::from_secs(2));
    let _ = held.await;
}

#[tokio::test]
async fn the_browser_follows_redirects_and_keeps_cookies() {
    let provider = provider().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let app = format!("http://{}", listener.local_addr().unwrap());
    provider.set_redirect_uri(&format!("{app}/callback"));
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest([b'v'; 43]));
    let query = form(&[
        ("response_type", "code"),
        ("client_id", "rp"),
        ("redirect_uri", &format!("{app}/callback")),
        ("scope", "openid"),
        ("state", "s"),
        ("nonce", "n"),
        ("code_challenge", &challenge),
        ("code_challenge_method", "S256"),
    ]);
    let authorize = format!("{}/authorize?{query}", provider.issuer());
    let login = axum::routing::get(move || async move {
        let cookie = [("set-cookie", "login=pending; Path=/")];
        (cookie, axum::response::Redirect::to(&authorize))
    });
    let callback =
        axum::routing::get(
            |query: axum::extract::RawQuery| async move { query.0.unwrap_or_default() },
        );
    let router = axum::Router::new()
        .route("/login", login)
        .route("/callback", callback);
    tokio::spawn(async move { axum::serve(listener, router).await });

    let browser = Browser::new();
    let (visited, answer) = browser.follow(&format!("{app}/login")).await;
    assert_eq!(visited.len(), 3, "{visited:?}");
    assert!(visited[1].starts_with(&provider.issuer()), "{visited:?}");
    assert!(visited[2].starts_with(&format!("{app}/callback?code=")));
    assert_eq!(answer.status, 200);
    assert!(answer.body.as_str().unwrap().ends_with("&state=s"));
    assert_eq!(browser.cookies_for(&app), "login=pending");
    assert_eq!(Browser::new().cookies_for(&app), "");
    provider.deny_next();
    let (_, answer) = browser.follow(&format!("{app}/login")).await;
    assert!(
        answer
            .body
            .as_str()
            .unwrap()
            .starts_with("error=access_denied&")
    );
}

#[tokio::test]
async fn bad_input_gets_oauth_errors() {
    let provider = provider().await;
    let issuer = provider.issuer();
    let http = client();
    let get = |query: &str| http.get(format!("{issuer}/authorize?{query}")).send();
    let unknown = get("client_id=intruder&redirect_uri=x").await.unwrap();
    assert_eq!(unknown.status(), 400);
    let elsewhere = form(&[
        ("client_id", "rp"),
        ("redirect_uri", "http://evil.invalid/"),
    ]);
    assert_eq!(get(&elsewhere).await.unwrap().status(), 400);
    let no_pkce = form(&[
        ("client_id", "rp"),
        ("redirect_uri", CALLBACK),
        ("response_type", "code"),
        ("scope", "openid"),
        ("state", "s"),
        ("nonce", "n"),
    ]);
    let answer = get(&no_pkce).await.unwrap();
    assert_eq!(answer.status(), 302);
    let location = answer.headers()["location"].to_str().unwrap();
    assert!(location.starts_with(&format!("{CALLBACK}?error=invalid_request&")));
    assert!(location.ends_with("&state=s"), "{location}");
    assert_eq!(get("%ff%fe=%").await.unwrap().status(), 400);

    let token = format!("{issuer}/token");
    for (authorization, body) in [
        ("Basic %%%", "grant_type=authorization_code"),
        ("Basic /w==", ""),
        ("Bearer x", "\u{0}\u{ff}"),
    ] {
        let answer = http
            .post(&token)
            .header("authorization", authorization)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 401);
        let body: Value = answer.json().await.unwrap();
        assert_eq!(body["error"], "invalid_client");
    }
    let userinfo = http.get(format!("{issuer}/userinfo")).bearer_auth("forged");
    assert_eq!(userinfo.send().await.unwrap().status(), 401);
}
