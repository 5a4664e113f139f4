//! `warden::oidc` against an authorization server of the test's own on
//! loopback (`warden_tests::oidc_provider`), over real sockets, with a
//! cookie-keeping browser: the sign-in flow and every attack on it, then
//! external access tokens (resource-server mode).

use std::time::{Duration, Instant};

use axum::Json;
use axum::Router;
use axum::routing::get;
use serde_json::{Value, json};
use url::Url;
use warden::auth::{Jwt, TokenError};
use warden::oidc::{Identity, Provider, SignIn, TrustedIssuer};
use warden::{Auth, Warden, protected};
use warden_tests::oidc_provider::{Browser, FakeProvider, KeyKind, Tweak, User};
use warden_tests::{Captured, Client, Transport, now, serve};

const SECRET: &[u8] = b"the application's secret, of 32 bytes or more";

/// An application with one provider, `test`, served on a free port.
struct Setup {
    provider: FakeProvider,
    base: String,
}

impl Setup {
    async fn new() -> Self {
        Self::with(|provider| provider).await
    }

    async fn with(configure: impl FnOnce(Provider) -> Provider) -> Self {
        let provider = FakeProvider::start().await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        provider.set_redirect_uri(&format!("{base}/auth/test/callback"));
        let configured = configure(
            Provider::new(
                provider.issuer(),
                provider.client_id(),
                provider.client_secret(),
            )
            .expect("provider"),
        );
        let sign_in = SignIn::builder(SECRET, &base)
            .provider("test", configured)
            .build()
            .expect("sign-in");
        let router: Router = sign_in.routes(|(): (), identity: Identity| async move {
            Json(json!({
                "provider": identity.provider,
                "issuer": identity.issuer,
                "subject": identity.subject,
                "email": identity.email,
                "emailVerified": identity.email_verified,
                "name": identity.name,
            }))
        });
        tokio::spawn(async move {
            axum::serve(listener, router).await.expect("serve");
        });
        Self { provider, base }
    }

    fn start_url(&self) -> String {
        format!("{}/auth/test", self.base)
    }

    /// Starts a flow in `browser`: the provider's authorization URL.
    async fn start(&self, browser: &Browser) -> String {
        let response = browser.get(&self.start_url()).await;
        assert_eq!(response.status(), 302, "start");
        location(&response)
    }

    /// Starts a flow and lets the provider authorize it: the callback URL
    /// (with `code` and `state`), not visited yet.
    async fn callback_url(&self, browser: &Browser) -> String {
        let authorize = self.start(browser).await;
        self.authorize(browser, &authorize).await
    }

    async fn authorize(&self, browser: &Browser, authorize: &str) -> String {
        let response = browser.get(authorize).await;
        assert_eq!(response.status(), 302, "authorize");
        location(&response)
    }
}

fn location(response: &reqwest::Response) -> String {
    response.headers()["location"]
        .to_str()
        .expect("location")
        .to_owned()
}

fn query(url: &str) -> std::collections::HashMap<String, String> {
    Url::parse(url)
        .expect("url")
        .query_pairs()
        .into_owned()
        .collect()
}

fn with_query(url: &str, name: &str, value: Option<&str>) -> String {
    let mut parsed = Url::parse(url).expect("url");
    let pairs: Vec<(String, String)> = parsed
        .query_pairs()
        .into_owned()
        .filter(|(n, _)| n != name)
        .collect();
    {
        let mut query = parsed.query_pairs_mut();
        query.clear();
        for (n, v) in &pairs {
            query.append_pair(n, v);
        }
        if let Some(value) = value {
            query.append_pair(name, value);
        }
    }
    parsed.into()
}

/// `GET url` with exactly this `Cookie` header, from no browser: a
/// replayed or forged callback.
async fn replay(url: &str, cookie: &str) -> (u16, Value) {
    let response = reqwest::Client::new()
        .get(url)
        .header("cookie", cookie)
        .send()
        .await
        .expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn visit(browser: &Browser, url: &str) -> warden_tests::Answer {
    browser.follow(url).await.1
}

fn assert_problem(answer: &warden_tests::Answer, status: u16, code: &str) {
    assert_eq!(answer.status, status, "{:?}", answer.body);
    assert_eq!(answer.body["code"], code, "{:?}", answer.body);
    assert_eq!(
        answer.headers["content-type"], "application/problem+json",
        "{:?}",
        answer.headers
    );
}

#[tokio::test]
async fn a_sign_in_is_verified_end_to_end() {
    let setup = Setup::new().await;
    let browser = Browser::new();

    // The redirect, and the cookie binding the flow to this browser.
    let response = browser.get(&setup.start_url()).await;
    assert_eq!(response.status(), 302);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    for attribute in [
        "warden_oidc=",
        "HttpOnly",
        "SameSite=Lax",
        "Path=/auth/",
        "Max-Age=600",
    ] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    assert!(!cookie.contains("Secure"), "loopback HTTP: {cookie}");
    let authorize = location(&response);
    assert!(authorize.starts_with(&format!("{}/authorize?", setup.provider.issuer())));
    let asked = query(&authorize);
    assert_eq!(asked["response_type"], "code");
    assert_eq!(asked["client_id"], setup.provider.client_id());
    assert_eq!(
        asked["redirect_uri"],
        format!("{}/auth/test/callback", setup.base)
    );
    let scopes: Vec<&str> = asked["scope"].split(' ').collect();
    for scope in ["openid", "email", "profile"] {
        assert!(scopes.contains(&scope), "{scopes:?}");
    }
    assert_eq!(asked["code_challenge_method"], "S256");
    assert_eq!(asked["code_challenge"].len(), 43);
    assert!(asked["state"].len() >= 22 && asked["nonce"].len() >= 22);
    // Nothing of the flow is readable in the cookie.
    assert!(!cookie.contains(&asked["state"]) && !cookie.contains(&asked["nonce"]));

    let callback = setup.authorize(&browser, &authorize).await;
    assert!(callback.starts_with(&format!("{}/auth/test/callback?", setup.base)));
    let (_, answer) = browser.follow(&callback).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert_eq!(
        answer.body,
        json!({
            "provider": "test",
            "issuer": setup.provider.issuer(),
            "subject": "alice",
            "email": "alice@example.com",
            "emailVerified": true,
            "name": "Alice Example",
        })
    );
    assert_eq!(answer.headers["cache-control"], "no-store");
    let cleared = answer.headers["set-cookie"].to_str().unwrap();
    assert!(
        cleared.starts_with("warden_oidc=;") && cleared.contains("Max-Age=0"),
        "{cleared}"
    );
    assert_eq!(browser.cookies_for(&setup.start_url()), "");

    // Two flows have nothing in common.
    let second = query(&setup.start(&Browser::new()).await);
    assert_ne!(second["state"], asked["state"]);
    assert_ne!(second["nonce"], asked["nonce"]);
    assert_ne!(second["code_challenge"], asked["code_challenge"]);
}

#[tokio::test]
async fn es256_id_tokens_verify_too() {
    let setup = Setup::new().await;
    setup
        .provider
        .tweak_next_id_token(Tweak::SignWith(KeyKind::Es256));
    let answer = visit(&Browser::new(), &setup.start_url()).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert_eq!(answer.body["subject"], "alice");
}

#[tokio::test]
async fn the_cookie_is_secure_behind_https() {
    let provider = FakeProvider::start().await;
    let sign_in = SignIn::builder(SECRET, "https://api.example.com")
        .provider(
            "test",
            Provider::new(provider.issuer(), "client", "secret").unwrap(),
        )
        .build()
        .unwrap();
    let client = Client::new(
        sign_in.routes(|(): (), _: Identity| async { "" }),
        Transport::InProcess,
    )
    .await;
    let answer = client.get("/auth/test", None).await;
    assert_eq!(answer.status, 302);
    let cookie = answer.headers["set-cookie"].to_str().unwrap();
    assert!(cookie.contains("; Secure"), "{cookie}");
    assert!(
        query(answer.headers["location"].to_str().unwrap())["redirect_uri"]
            == "https://api.example.com/auth/test/callback"
    );
}

#[tokio::test]
async fn an_unknown_provider_is_404() {
    let setup = Setup::new().await;
    let answer = visit(&Browser::new(), &format!("{}/auth/other", setup.base)).await;
    assert_problem(&answer, 404, "unknown_provider");
    let answer = visit(
        &Browser::new(),
        &format!("{}/auth/other/callback?code=a&state=b", setup.base),
    )
    .await;
    assert_problem(&answer, 404, "unknown_provider");
}

#[tokio::test]
async fn a_missing_or_wrong_state_is_refused_and_the_real_flow_survives() {
    let setup = Setup::new().await;
    let browser = Browser::new();
    let callback = setup.callback_url(&browser).await;

    let answer = visit(&browser, &with_query(&callback, "state", None)).await;
    assert_problem(&answer, 400, "invalid_state");
    let answer = visit(
        &browser,
        &with_query(&callback, "state", Some("forged-state-value")),
    )
    .await;
    assert_problem(&answer, 400, "invalid_state");
    // A forged callback does not end the sign-in the browser is doing.
    assert!(browser.cookies_for(&callback).contains("warden_oidc="));
    assert_eq!(
        setup.provider.token_requests(),
        0,
        "refused before any exchange"
    );

    let answer = visit(&browser, &callback).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
}

#[tokio::test]
async fn a_state_works_once() {
    let setup = Setup::new().await;
    let browser = Browser::new();
    let callback = setup.callback_url(&browser).await;
    let cookie = browser.cookies_for(&callback);
    assert!(cookie.contains("warden_oidc="));
    let answer = visit(&browser, &callback).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);

    // The same callback with the same cookie, replayed.
    let (status, body) = replay(&callback, &cookie).await;
    assert_eq!((status, &body["code"]), (400, &json!("invalid_state")));
    assert_eq!(setup.provider.token_requests(), 1);
}

#[tokio::test]
async fn a_callback_from_another_browser_is_refused() {
    let setup = Setup::new().await;
    let victim = Browser::new();
    let callback = setup.callback_url(&victim).await;
    // The callback URL leaks (or an attacker sends the victim theirs):
    // without the cookie of the browser that started it, it is refused.
    let answer = visit(&Browser::new(), &callback).await;
    assert_problem(&answer, 400, "invalid_state");

    // Login CSRF: the attacker's own callback in the victim's browser,
    // which has a flow of its own, does not match it.
    let attacker = Browser::new();
    let attackers = setup.callback_url(&attacker).await;
    let answer = visit(&victim, &attackers).await;
    assert_problem(&answer, 400, "invalid_state");
    assert_eq!(setup.provider.token_requests(), 0);
}

#[tokio::test]
async fn a_tampered_cookie_is_refused() {
    let setup = Setup::new().await;
    let browser = Browser::new();
    let callback = setup.callback_url(&browser).await;
    let cookie = browser.cookies_for(&callback);
    let value = cookie
        .split("warden_oidc=")
        .nth(1)
        .unwrap()
        .split(';')
        .next()
        .unwrap();
    let mut bytes = value.as_bytes().to_vec();
    let i = bytes.len() / 2;
    bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(bytes).unwrap();
    for value in [forged.as_str(), "", "not-base64!"] {
        let (status, body) = replay(&callback, &format!("warden_oidc={value}")).await;
        assert_eq!((status, &body["code"]), (400, &json!("invalid_state")));
    }
    // A cookie sealed under another secret does not open either.
    let other = SignIn::builder(b"another secret, also of thirty-two bytes", &setup.base)
        .provider(
            "test",
            Provider::new(
                setup.provider.issuer(),
                setup.provider.client_id(),
                setup.provider.client_secret(),
            )
            .unwrap(),
        )
        .build()
        .unwrap();
    let client = Client::new(
        other.routes(|(): (), _: Identity| async { "" }),
        Transport::InProcess,
    )
    .await;
    let started = client.get("/auth/test", None).await;
    let foreign = started.headers["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let foreign_state = query(started.headers["location"].to_str().unwrap())["state"].clone();
    let forged = with_query(&callback, "state", Some(&foreign_state));
    let (status, body) = replay(&forged, &foreign).await;
    assert_eq!((status, &body["code"]), (400, &json!("invalid_state")));
    assert_eq!(setup.provider.token_requests(), 0);
}

#[tokio::test]
async fn a_wrong_pkce_verifier_is_refused_by_the_provider() {
    let setup = Setup::new().await;
    let browser = Browser::new();
    let authorize = setup.start(&browser).await;
    // The challenge the provider records is not the one of this flow's
    // verifier (an intercepted authorization request, replayed with the
    // attacker's challenge).
    let tampered = with_query(
        &authorize,
        "code_challenge",
        Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"),
    );
    let callback = setup.authorize(&browser, &tampered).await;
    let answer = visit(&browser, &callback).await;
    assert_problem(&answer, 401, "invalid_grant");
    assert_eq!(setup.provider.token_requests(), 1);
    // The flow is spent: its cookie is cleared.
    assert_eq!(browser.cookies_for(&callback), "");
}

#[tokio::test]
async fn a_response_naming_another_issuer_is_a_mix_up() {
    let setup = Setup::new().await;
    let browser = Browser::new();
    let callback = setup.callback_url(&browser).await;
    let answer = visit(
        &browser,
        &with_query(&callback, "iss", Some("https://evil.example.com")),
    )
    .await;
    assert_problem(&answer, 400, "invalid_request");
    assert_eq!(
        setup.provider.token_requests(),
        0,
        "the code never reaches the provider"
    );
    // The provider's own issuer, as RFC 9207 providers send it, passes.
    let browser = Browser::new();
    let callback = setup.callback_url(&browser).await;
    let answer = visit(
        &browser,
        &with_query(&callback, "iss", Some(&setup.provider.issuer())),
    )
    .await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
}

#[tokio::test]
async fn a_replayed_code_is_refused() {
    let setup = Setup::new().await;
    let first = Browser::new();
    let callback = setup.callback_url(&first).await;
    let code = query(&callback)["code"].clone();
    assert_eq!(visit(&first, &callback).await.status, 200);

    // A new flow, completed with the spent code.
    let second = Browser::new();
    let fresh = setup.callback_url(&second).await;
    let answer = visit(&second, &with_query(&fresh, "code", Some(&code))).await;
    assert_problem(&answer, 401, "invalid_grant");
}

#[tokio::test]
async fn the_providers_refusal_is_access_denied() {
    let setup = Setup::new().await;
    setup.provider.deny_next();
    let browser = Browser::new();
    let callback = setup.callback_url(&browser).await;
    assert_eq!(query(&callback)["error"], "access_denied");
    let answer = visit(&browser, &callback).await;
    assert_problem(&answer, 401, "access_denied");
    assert_eq!(setup.provider.token_requests(), 0);
    // A callback without code nor error, with a valid state.
    let callback = setup.callback_url(&browser).await;
    let answer = visit(&browser, &with_query(&callback, "code", None)).await;
    assert_problem(&answer, 400, "invalid_request");
}

#[tokio::test]
async fn every_bad_id_token_is_refused() {
    let setup = Setup::new().await;
    let cases = [
        ("wrong aud", Tweak::Audience("another-client".into())),
        (
            "wrong iss",
            Tweak::Issuer("https://evil.example.com".into()),
        ),
        (
            "wrong nonce",
            Tweak::Nonce("a-nonce-of-another-flow".into()),
        ),
        ("alg none", Tweak::AlgNone),
        ("HS256 keyed with the public key", Tweak::Hs256WithPublicKey),
        ("bad signature", Tweak::BadSignature),
        ("expired", Tweak::Expired),
        ("issued in the future", Tweak::IssuedInFuture),
        ("unknown kid", Tweak::UnknownKid),
        (
            "several audiences, no azp",
            Tweak::Claims(json!({"aud": [setup.provider.client_id(), "other"]})),
        ),
        (
            "azp of another client",
            Tweak::Claims(json!({"azp": "other"})),
        ),
        ("no nonce", Tweak::Claims(json!({"nonce": null}))),
        ("no exp", Tweak::Claims(json!({"exp": null}))),
        ("no sub", Tweak::Claims(json!({"sub": null}))),
        ("no iat", Tweak::Claims(json!({"iat": null}))),
    ];
    let captured = Captured::default();
    let _guard = captured.install();
    let mut secrets = Vec::new();
    for (name, tweak) in cases {
        setup.provider.tweak_next_id_token(tweak);
        let browser = Browser::new();
        let callback = setup.callback_url(&browser).await;
        let q = query(&callback);
        secrets.push(q["code"].clone());
        secrets.push(q["state"].clone());
        let answer = visit(&browser, &callback).await;
        assert_eq!(answer.status, 401, "{name}: {:?}", answer.body);
        assert_eq!(answer.body["code"], "invalid_id_token", "{name}");
    }
    // Several audiences with this client as the authorized party pass.
    setup.provider.tweak_next_id_token(Tweak::Claims(json!({
        "aud": [setup.provider.client_id(), "other"],
        "azp": setup.provider.client_id(),
    })));
    assert_eq!(visit(&Browser::new(), &setup.start_url()).await.status, 200);

    // The refusals are audited, without a code or a state in them.
    let log = captured.text();
    assert!(
        log.contains("invalid_id_token") && log.contains("wrong_nonce"),
        "{log}"
    );
    for secret in secrets {
        assert!(!log.contains(&secret), "{secret} logged");
    }
}

#[tokio::test]
async fn a_missing_email_is_read_from_userinfo() {
    let setup = Setup::new().await;
    setup.provider.set_user(User {
        sub: "bob".into(),
        email: "bob@example.com".into(),
        email_verified: false,
        name: "Bob".into(),
    });
    setup.provider.tweak_next_id_token(Tweak::Claims(
        json!({"email": null, "email_verified": null}),
    ));
    let answer = visit(&Browser::new(), &setup.start_url()).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert_eq!(answer.body["email"], "bob@example.com");
    assert_eq!(answer.body["emailVerified"], false);
}

#[tokio::test]
async fn a_key_rotation_is_picked_up_with_one_fetch() {
    let setup = Setup::with(|p| p.jwks_refetch_interval(Duration::from_millis(200))).await;
    assert_eq!(visit(&Browser::new(), &setup.start_url()).await.status, 200);
    let fetches = setup.provider.jwks_fetches();
    assert_eq!(fetches, 1);

    let new_kid = setup.provider.rotate(KeyKind::Rs256);
    tokio::time::sleep(Duration::from_millis(250)).await;
    let answer = visit(&Browser::new(), &setup.start_url()).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert_eq!(setup.provider.signing_kid(), new_kid);
    assert_eq!(setup.provider.jwks_fetches(), fetches + 1);
    // Cached from now on.
    assert_eq!(visit(&Browser::new(), &setup.start_url()).await.status, 200);
    assert_eq!(setup.provider.jwks_fetches(), fetches + 1);
}

#[tokio::test]
async fn a_flood_of_unknown_kids_fetches_the_keys_at_most_once_per_interval() {
    let setup = Setup::with(|p| p.jwks_refetch_interval(Duration::from_secs(3600))).await;
    assert_eq!(visit(&Browser::new(), &setup.start_url()).await.status, 200);
    let before = setup.provider.jwks_fetches();
    for _ in 0..20 {
        setup.provider.tweak_next_id_token(Tweak::UnknownKid);
        let answer = visit(&Browser::new(), &setup.start_url()).await;
        assert_eq!(answer.body["code"], "invalid_id_token");
    }
    assert!(
        setup.provider.jwks_fetches() <= before + 1,
        "{} fetches",
        setup.provider.jwks_fetches()
    );
}

#[tokio::test]
async fn an_unreachable_provider_is_503_without_a_hang() {
    let setup =
        Setup::with(|p| p.timeouts(Duration::from_millis(500), Duration::from_secs(1))).await;
    setup.provider.stop().await;
    let started = Instant::now();
    let answer = visit(&Browser::new(), &setup.start_url()).await;
    assert_problem(&answer, 503, "provider_unavailable");
    assert!(answer.headers.contains_key("retry-after"));
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );

    // Back: served again (after the one-second pause between discoveries).
    setup.provider.restart().await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(visit(&Browser::new(), &setup.start_url()).await.status, 200);

    // A provider that accepts connections and never answers: the token
    // request times out, and the callback is 503 within the bound.
    let browser = Browser::new();
    let callback = setup.callback_url(&browser).await;
    setup.provider.hang(true);
    let started = Instant::now();
    let answer = visit(&browser, &callback).await;
    assert_problem(&answer, 503, "provider_unavailable");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    setup.provider.hang(false);
}

// External access tokens: `Jwt::from_issuer` and `Jwt::trust`.

#[protected]
async fn whoami(user: Auth) -> String {
    user.sub().to_owned()
}

fn access_claims(provider: &FakeProvider, audience: &str) -> Value {
    json!({
        "iss": provider.issuer(),
        "sub": "service-7",
        "aud": audience,
        "iat": now(),
        "exp": now() + 300,
        "roles": ["user"],
    })
}

fn at_jwt() -> Value {
    json!({"typ": "at+jwt"})
}

async fn resource_server(jwt: Jwt) -> (Warden, Client) {
    let warden = Warden::builder().jwt(jwt).build().expect("warden");
    let router = Router::new()
        .route("/whoami", get(whoami))
        .with_state(warden.clone());
    (warden, Client::new(router, Transport::Socket).await)
}

#[tokio::test]
async fn external_access_tokens_are_accepted_under_warden_rules() {
    let provider = FakeProvider::start().await;
    let (warden, client) = resource_server(Jwt::from_issuer(
        TrustedIssuer::new(provider.issuer())
            .unwrap()
            .audience("api"),
    ))
    .await;
    for kind in [KeyKind::Rs256, KeyKind::Es256] {
        let token = provider.mint(kind, at_jwt(), access_claims(&provider, "api"));
        let answer = client.get("/whoami", Some(&token)).await;
        assert_eq!(answer.status, 200, "{kind:?}: {:?}", answer.body);
        assert_eq!(answer.body, "service-7");
    }
    assert_eq!(warden.jwks_fetches(&provider.issuer()), Some(1));

    let refused = |token: String| {
        let client = client.clone();
        async move { client.get("/whoami", Some(&token)).await }
    };
    // Wrong audience, wrong issuer, expired, the JWT typ of an ID token.
    let answer = refused(provider.mint(
        KeyKind::Rs256,
        at_jwt(),
        access_claims(&provider, "other-api"),
    ))
    .await;
    assert_eq!(answer.status, 401);
    let mut claims = access_claims(&provider, "api");
    claims["iss"] = json!("https://untrusted.example.com");
    assert_eq!(
        refused(provider.mint(KeyKind::Rs256, at_jwt(), claims))
            .await
            .status,
        401
    );
    let mut claims = access_claims(&provider, "api");
    claims["exp"] = json!(now() - 3600);
    assert_eq!(
        refused(provider.mint(KeyKind::Rs256, at_jwt(), claims))
            .await
            .status,
        401
    );
    let answer = refused(provider.mint(
        KeyKind::Rs256,
        json!({"typ": "JWT"}),
        access_claims(&provider, "api"),
    ))
    .await;
    assert_eq!(answer.status, 401);
    assert_eq!(
        warden.verify_access_token(&provider.mint(
            KeyKind::Rs256,
            json!({"typ": "JWT"}),
            access_claims(&provider, "api")
        )),
        Err(TokenError::WrongType)
    );
    // The algorithm is the key's own: the RSA key's kid on an ES256
    // signature is refused.
    let token = provider.mint(
        KeyKind::Es256,
        json!({"typ": "at+jwt", "kid": provider.kid(KeyKind::Rs256)}),
        access_claims(&provider, "api"),
    );
    assert_eq!(refused(token).await.status, 401);
}

#[tokio::test]
async fn foreign_token_types_are_accepted_only_when_asked() {
    let provider = FakeProvider::start().await;
    let (_, client) = resource_server(Jwt::from_issuer(
        TrustedIssuer::new(provider.issuer())
            .unwrap()
            .audience("api")
            .accept_foreign_token_types(),
    ))
    .await;
    let token = provider.mint(
        KeyKind::Rs256,
        json!({"typ": "JWT"}),
        access_claims(&provider, "api"),
    );
    assert_eq!(client.get("/whoami", Some(&token)).await.status, 200);
}

#[tokio::test]
async fn each_issuer_is_checked_with_its_own_keys_only() {
    let a = FakeProvider::start().await;
    let b = FakeProvider::start().await;
    let (warden, client) = resource_server(
        Jwt::hs256(warden_tests::keys::SECRET)
            .unwrap()
            .issuer("own")
            .audience("api")
            .trust(TrustedIssuer::new(a.issuer()).unwrap().audience("api"))
            .trust(TrustedIssuer::new(b.issuer()).unwrap().audience("api")),
    )
    .await;
    // Each issuer's own token passes, and so does warden's own.
    for provider in [&a, &b] {
        let token = provider.mint(KeyKind::Rs256, at_jwt(), access_claims(provider, "api"));
        assert_eq!(client.get("/whoami", Some(&token)).await.status, 200);
    }
    let own = warden
        .issue_access_token(&warden::auth::AccessClaims::new("local-user"))
        .unwrap();
    assert_eq!(
        client.get("/whoami", Some(&own.token)).await.body,
        "local-user"
    );

    // B's key vouching for a token that says it is A's: refused, even
    // when it names A's kid or its own.
    let token = b.mint(KeyKind::Rs256, at_jwt(), access_claims(&a, "api"));
    assert_eq!(client.get("/whoami", Some(&token)).await.status, 401);
    let token = b.mint(
        KeyKind::Rs256,
        json!({"typ": "at+jwt", "kid": a.kid(KeyKind::Rs256)}),
        access_claims(&a, "api"),
    );
    assert_eq!(client.get("/whoami", Some(&token)).await.status, 401);
    // An external token claiming warden's own issuer is checked with
    // warden's own key, and fails.
    let mut claims = access_claims(&a, "api");
    claims["iss"] = json!("own");
    assert_eq!(
        client
            .get("/whoami", Some(&a.mint(KeyKind::Rs256, at_jwt(), claims)))
            .await
            .status,
        401
    );
}

#[tokio::test]
async fn external_keys_rotate_and_unknown_kids_are_bounded() {
    let provider = FakeProvider::start().await;
    let (warden, client) = resource_server(Jwt::from_issuer(
        TrustedIssuer::new(provider.issuer())
            .unwrap()
            .audience("api")
            .jwks_refetch_interval(Duration::from_millis(300)),
    ))
    .await;
    let token = provider.mint(KeyKind::Rs256, at_jwt(), access_claims(&provider, "api"));
    assert_eq!(client.get("/whoami", Some(&token)).await.status, 200);
    assert_eq!(warden.jwks_fetches(&provider.issuer()), Some(1));

    // A flood of made-up kids within the interval: no fetch.
    for i in 0..30 {
        let token = provider.mint(
            KeyKind::Rs256,
            json!({"typ": "at+jwt", "kid": format!("made-up-{i}")}),
            access_claims(&provider, "api"),
        );
        assert_eq!(client.get("/whoami", Some(&token)).await.status, 401);
    }
    assert!(warden.jwks_fetches(&provider.issuer()) <= Some(2));

    // A real rotation, after the interval: one fetch, then accepted.
    let kid = provider.rotate(KeyKind::Es256);
    tokio::time::sleep(Duration::from_millis(350)).await;
    let before = warden.jwks_fetches(&provider.issuer()).unwrap();
    let token = provider.mint(kid.as_str(), at_jwt(), access_claims(&provider, "api"));
    assert_eq!(client.get("/whoami", Some(&token)).await.status, 200);
    assert_eq!(warden.jwks_fetches(&provider.issuer()), Some(before + 1));
}

#[tokio::test]
async fn an_unreachable_issuer_is_503_not_401() {
    let provider = FakeProvider::start().await;
    let token = provider.mint(KeyKind::Rs256, at_jwt(), access_claims(&provider, "api"));
    provider.stop().await;
    let (_, client) = resource_server(Jwt::from_issuer(
        TrustedIssuer::new(provider.issuer())
            .unwrap()
            .audience("api")
            .timeouts(Duration::from_millis(500), Duration::from_secs(1)),
    ))
    .await;
    let started = Instant::now();
    let answer = client.get("/whoami", Some(&token)).await;
    assert_eq!(answer.status, 503, "{:?}", answer.body);
    assert_eq!(answer.body["code"], "issuer_unavailable");
    assert!(answer.headers.contains_key("retry-after"));
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[test]
fn issuer_configurations_are_checked() {
    assert!(TrustedIssuer::new("http://idp.example.com").is_err());
    assert!(TrustedIssuer::new("not a url").is_err());
    let no_audience = Warden::builder()
        .jwt(Jwt::from_issuer(
            TrustedIssuer::new("https://idp.example.com").unwrap(),
        ))
        .build();
    assert!(no_audience.is_err());
    let twice = Warden::builder()
        .jwt(
            Jwt::from_issuer(
                TrustedIssuer::new("https://idp.example.com")
                    .unwrap()
                    .audience("a"),
            )
            .trust(
                TrustedIssuer::new("https://idp.example.com")
                    .unwrap()
                    .audience("b"),
            ),
        )
        .build();
    assert!(twice.is_err());
    // A verify-only configuration cannot sign.
    let warden = Warden::builder()
        .jwt(Jwt::from_issuer(
            TrustedIssuer::new("https://idp.example.com")
                .unwrap()
                .audience("a"),
        ))
        .build()
        .unwrap();
    assert!(
        warden
            .issue_access_token(&warden::auth::AccessClaims::new("x"))
            .is_err()
    );
    let _ = serve;
}

#[tokio::test]
async fn a_discovery_document_must_speak_for_its_own_issuer_over_https() {
    for overrides in [
        json!({"issuer": "https://accounts.google.com"}),
        json!({"token_endpoint": "http://idp.example.com/token"}),
        json!({"jwks_uri": "ftp://127.0.0.1/jwks"}),
        json!({"authorization_endpoint": null}),
    ] {
        let setup = Setup::new().await;
        setup.provider.override_discovery(overrides.clone());
        let answer = visit(&Browser::new(), &setup.start_url()).await;
        assert_problem(&answer, 503, "provider_unavailable");
        assert_eq!(setup.provider.discovery_fetches(), 1, "{overrides}");
        // Refused again at once, without another fetch.
        let answer = visit(&Browser::new(), &setup.start_url()).await;
        assert_problem(&answer, 503, "provider_unavailable");
        assert_eq!(setup.provider.discovery_fetches(), 1, "{overrides}");
    }
}

/// Two instances behind one balancer (one public URL), their completed
/// flows recorded in one Redis: a flow completed on one is refused on the
/// other, before any exchange.
#[tokio::test]
async fn a_flow_completes_once_across_instances_sharing_a_redis() {
    let redis = warden_tests::RedisServer::start();
    let provider = FakeProvider::start().await;
    let listeners = [
        tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
        tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
    ];
    let bases: Vec<String> = listeners
        .iter()
        .map(|l| format!("http://{}", l.local_addr().unwrap()))
        .collect();
    let public = bases[0].clone();
    provider.set_redirect_uri(&format!("{public}/auth/test/callback"));
    for listener in listeners {
        let store = redis
            .connect_with(
                warden::redis::Redis::config(redis.url())
                    .prefix("oidc-shared:")
                    .key_secret(SECRET),
            )
            .await;
        let warden = Warden::builder()
            .jwt(warden_tests::jwt())
            .store(warden::redis::RedisStore::new(&store))
            .build()
            .unwrap();
        let sign_in = SignIn::builder(SECRET, &public)
            .provider(
                "test",
                Provider::new(
                    provider.issuer(),
                    provider.client_id(),
                    provider.client_secret(),
                )
                .unwrap(),
            )
            .warden(&warden)
            .build()
            .unwrap();
        let router: Router =
            sign_in.routes(|(): (), identity: Identity| async move { identity.subject });
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    }
    let browser = Browser::new();
    let start = browser.get(&format!("{public}/auth/test")).await;
    let authorize = location(&start);
    let callback = location(&browser.get(&authorize).await);
    let cookie = browser.cookies_for(&callback);
    let answer = visit(&browser, &callback).await;
    assert_eq!(
        (answer.status.as_u16(), answer.body.clone()),
        (200, json!("alice"))
    );

    // The same callback and cookie, replayed on the other instance.
    let on_b = callback.replace(&bases[0], &bases[1]);
    let (status, body) = replay(&on_b, &cookie).await;
    assert_eq!((status, &body["code"]), (400, &json!("invalid_state")));
    assert_eq!(provider.token_requests(), 1, "refused before any exchange");

    // Redis gone: a completion cannot be recorded, so none is allowed.
    let browser = Browser::new();
    let start = browser.get(&format!("{public}/auth/test")).await;
    let callback = location(&browser.get(&location(&start)).await);
    let mut redis = redis;
    redis.kill();
    let answer = visit(&browser, &callback).await;
    assert_problem(&answer, 503, "store_unavailable");
    assert_eq!(provider.token_requests(), 1);
}
