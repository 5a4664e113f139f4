//! The reference API, started on a free port, walked row by row through
//! its HTTP contract, `examples/api/README.md`.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::{Request, StatusCode};
use serde_json::{Value, json};
use warden_tests::{Answer, Client, Transport};

/// A client of a fresh API that remembers every status it saw.
#[derive(Clone)]
struct Api {
    client: Client,
    statuses: Arc<Mutex<Vec<u16>>>,
}

impl Api {
    async fn start(config: api::Config) -> Self {
        let router = api::app(&config).await.expect("api");
        Self {
            client: Client::new(router, Transport::Socket).await,
            statuses: Arc::default(),
        }
    }

    async fn new() -> Self {
        Self::start(api::Config::for_tests()).await
    }

    async fn send(&self, request: Request<Body>) -> Answer {
        let answer = self.client.send(request).await;
        self.statuses.lock().unwrap().push(answer.status.as_u16());
        answer
    }

    async fn post(&self, path: &str, body: Value, headers: &[(&str, &str)]) -> Answer {
        let mut request = Request::post(path).header("content-type", "application/json");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        self.send(request.body(Body::from(body.to_string())).unwrap())
            .await
    }

    async fn get(&self, path: &str, token: Option<&str>) -> Answer {
        let mut request = Request::get(path);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        self.send(request.body(Body::empty()).unwrap()).await
    }

    async fn register(&self, email: &str) -> Answer {
        self.post(
            "/register",
            json!({"email": email, "password": PASSWORD, "name": "Ana Núñez"}),
            &[],
        )
        .await
    }

    async fn login(&self, email: &str, password: &str) -> Answer {
        self.post("/login", json!({"email": email, "password": password}), &[])
            .await
    }

    async fn refresh(&self, token: &str) -> Answer {
        self.post("/refresh", json!({"refreshToken": token}), &[])
            .await
    }

    fn assert_no_5xx(&self) {
        let statuses = self.statuses.lock().unwrap();
        assert!(
            statuses.iter().all(|s| *s < 500),
            "a 5xx was answered: {statuses:?}"
        );
    }
}

const PASSWORD: &str = "Str0ng&Secure!";

fn tokens(answer: &Answer) -> (String, String) {
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    (
        answer.body["accessToken"].as_str().unwrap().to_owned(),
        answer.body["refreshToken"].as_str().unwrap().to_owned(),
    )
}

fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

fn assert_hardened(answer: &Answer) {
    for name in [
        "strict-transport-security",
        "x-content-type-options",
        "x-frame-options",
        "referrer-policy",
        "content-security-policy",
    ] {
        assert!(
            answer.headers.get(name).is_some(),
            "{name} missing on {answer:?}"
        );
    }
    assert_eq!(answer.header("x-content-type-options"), "nosniff");
    assert_eq!(answer.header("x-frame-options"), "DENY");
    assert_eq!(answer.header("referrer-policy"), "no-referrer");
    assert!(answer.headers.get("server").is_none() && answer.headers.get("x-powered-by").is_none());
}

#[tokio::test]
async fn health() {
    let api = Api::new().await;
    let answer = api.get("/health", None).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body, json!({"status": "ok"}));
    assert_hardened(&answer);
    let missing = api.get("/nowhere", None).await;
    missing.assert_problem(StatusCode::NOT_FOUND, "not_found");
    assert_hardened(&missing);
}

#[tokio::test]
async fn register_row() {
    let api = Api::new().await;
    let answer = api.register("ana@example.com").await;
    assert_eq!(answer.status, StatusCode::CREATED, "{answer:?}");
    assert!(
        answer.body["userId"]
            .as_str()
            .is_some_and(|id| !id.is_empty())
    );
    // The same email, in another case: 409.
    api.register("ANA@Example.com")
        .await
        .assert_problem(StatusCode::CONFLICT, "email_taken");
    // Every broken rule at once.
    let answer = api
        .post(
            "/register",
            json!({"email": "nope", "password": "weak", "name": "R2D2"}),
            &[],
        )
        .await;
    answer.assert_problem(StatusCode::BAD_REQUEST, "validation_failed");
    let paths: HashSet<_> = answer.body["issues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["path"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        paths,
        HashSet::from(["email".to_owned(), "password".to_owned(), "name".to_owned()])
    );
    assert!(
        !answer.body.to_string().contains("weak\""),
        "the password was echoed"
    );
    // Names: letters of any script, spaces, ' and -; not tabs or newlines.
    for (name, status) in [
        ("José Ñúñez", StatusCode::CREATED),
        ("Zoë O'Brien-Smith", StatusCode::CREATED),
        ("Ana\tBo", StatusCode::BAD_REQUEST),
        ("Ana\nBo", StatusCode::BAD_REQUEST),
    ] {
        let email = format!("{}@names.example", name.len());
        let answer = api
            .post(
                "/register",
                json!({"email": email, "password": PASSWORD, "name": name}),
                &[],
            )
            .await;
        assert_eq!(answer.status, status, "{name:?}: {answer:?}");
    }
    // Unknown fields are refused.
    let answer = api
        .post(
            "/register",
            json!({"email": "b@example.com", "password": PASSWORD, "name": "Bo", "role": "admin"}),
            &[],
        )
        .await;
    answer.assert_problem(StatusCode::BAD_REQUEST, "validation_failed");
    assert_eq!(answer.body["issues"][0]["code"], "unknown_field");
    // Not JSON: 415. Over 64 KiB: 413.
    let request = Request::post("/register")
        .body(Body::from("email=a"))
        .unwrap();
    api.send(request)
        .await
        .assert_problem(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
    let big =
        json!({"email": "c@example.com", "password": PASSWORD, "name": "x".repeat(70 * 1024)});
    api.post("/register", big, &[])
        .await
        .assert_problem(StatusCode::PAYLOAD_TOO_LARGE, "body_too_large");
    // 10 per hour per client: the limit counts every attempt above.
    let mut last = None;
    for i in 0..6 {
        last = Some(api.register(&format!("user{i}@example.com")).await);
    }
    last.unwrap()
        .assert_problem(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    api.assert_no_5xx();
}

#[tokio::test]
async fn login_row() {
    let api = Api::new().await;
    assert_eq!(
        api.register("ana@example.com").await.status,
        StatusCode::CREATED
    );
    let answer = api.login("ANA@example.com", PASSWORD).await;
    assert_eq!(answer.header("cache-control"), "no-store");
    assert_eq!(answer.body["tokenType"], "Bearer");
    assert_eq!(answer.body["expiresIn"], 900);
    let (access, refresh) = tokens(&answer);
    assert!(refresh.starts_with("rt_"));
    let header: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(access.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header["alg"], "HS256");
    assert_eq!(header["typ"], "at+jwt");
    let c = claims(&access);
    for claim in ["sub", "iat", "exp", "jti", "iss", "aud", "roles"] {
        assert!(!c[claim].is_null(), "{claim} missing: {c}");
    }
    assert_eq!(c["exp"].as_u64().unwrap() - c["iat"].as_u64().unwrap(), 900);
    assert_eq!(
        (c["iss"].as_str(), c["aud"].as_str()),
        (Some("warden-api"), Some("warden-api"))
    );
    assert_eq!(c["roles"], json!(["user"]));

    // Unknown email and wrong password: the same answer.
    let wrong = api.login("ana@example.com", "Wr0ng&Password").await;
    let unknown = api.login("nobody@example.com", PASSWORD).await;
    wrong.assert_problem(StatusCode::UNAUTHORIZED, "invalid_credentials");
    assert_eq!(wrong.body, unknown.body);
    assert_eq!(wrong.status, unknown.status);
    // A malformed body is a 400.
    api.post("/login", json!({"email": "a@b.co"}), &[])
        .await
        .assert_problem(StatusCode::BAD_REQUEST, "validation_failed");
    api.assert_no_5xx();
}

#[tokio::test]
async fn five_failed_logins_then_429_while_successes_never_count() {
    let api = Api::new().await;
    assert_eq!(
        api.register("ana@example.com").await.status,
        StatusCode::CREATED
    );
    for _ in 0..8 {
        assert_eq!(
            api.login("ana@example.com", PASSWORD).await.status,
            StatusCode::OK
        );
    }
    // Two failures so far (the 400 and the wrong password count).
    assert_eq!(
        api.post("/login", json!({"email": ""}), &[]).await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        api.login("ana@example.com", "Wr0ng&Password").await.status,
        StatusCode::UNAUTHORIZED
    );
    for _ in 0..3 {
        assert_eq!(
            api.login("nobody@example.com", PASSWORD).await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    // Limit reached: even the right password waits, and says how long.
    let answer = api.login("ana@example.com", PASSWORD).await;
    answer.assert_problem(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    assert!(answer.header("retry-after").parse::<u64>().unwrap() > 0);
    assert!(
        !answer.header("ratelimit").is_empty() && !answer.header("ratelimit-policy").is_empty()
    );
    assert_hardened(&answer);
    // A forged X-Forwarded-For from an untrusted peer does not reset it.
    let forged = api
        .post(
            "/login",
            json!({"email": "ana@example.com", "password": PASSWORD}),
            &[("x-forwarded-for", "198.51.100.77")],
        )
        .await;
    assert_eq!(forged.status, StatusCode::TOO_MANY_REQUESTS);
    api.assert_no_5xx();
}

#[tokio::test]
async fn ten_failed_logins_an_hour_per_account_whatever_the_address() {
    let mut config = api::Config::for_tests();
    config.trusted_proxies = vec!["127.0.0.1".into()];
    let api = Api::start(config).await;
    assert_eq!(
        api.register("ana@example.com").await.status,
        StatusCode::CREATED
    );
    assert_eq!(
        api.register("bo@example.com").await.status,
        StatusCode::CREATED
    );
    let from = |i: u32| format!("198.51.{}.{}", i / 200, i % 200);
    let login_from = |email: &'static str, password: &'static str, address: String| {
        let api = api.clone();
        async move {
            api.post(
                "/login",
                json!({"email": email, "password": password}),
                &[("x-forwarded-for", &address)],
            )
            .await
        }
    };
    // Successes never count against the account.
    for i in 0..12 {
        assert_eq!(
            login_from("ana@example.com", PASSWORD, from(i))
                .await
                .status,
            StatusCode::OK
        );
    }
    // Ten failures, each from another address (the per-address limit never
    // sees more than one), spelt in any case.
    for i in 0..10 {
        let email = if i % 2 == 0 {
            "ana@example.com"
        } else {
            "ANA@Example.com"
        };
        let answer = login_from(email, "Wr0ng&Password", from(100 + i)).await;
        answer.assert_problem(StatusCode::UNAUTHORIZED, "invalid_credentials");
    }
    // The account is locked for everyone, even with the right password.
    let answer = login_from("ana@example.com", PASSWORD, from(200)).await;
    answer.assert_problem(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    assert_eq!(answer.body["limit"], "10-per-1h-per-account");
    assert_eq!(answer.header("retry-after"), "360");
    assert!(
        answer
            .header("ratelimit")
            .contains(r#""10-per-1h-per-account";r=0"#),
        "{answer:?}"
    );
    // Another account is not.
    assert_eq!(
        login_from("bo@example.com", PASSWORD, from(201))
            .await
            .status,
        StatusCode::OK
    );
    // An account that does not exist is limited alike: no way to tell.
    for i in 0..10 {
        let answer = login_from("ghost@example.com", PASSWORD, from(300 + i)).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    }
    let answer = login_from("ghost@example.com", PASSWORD, from(399)).await;
    answer.assert_problem(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    api.assert_no_5xx();
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_family() {
    let api = Api::new().await;
    api.register("ana@example.com").await;
    let (_, first) = tokens(&api.login("ana@example.com", PASSWORD).await);
    let answer = api.refresh(&first).await;
    assert_eq!(answer.header("cache-control"), "no-store");
    let (access, second) = tokens(&answer);
    assert_eq!(
        api.get("/api/data", Some(&access)).await.status,
        StatusCode::OK
    );
    // The used token is spent: presenting it again is reuse...
    api.refresh(&first)
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "invalid_refresh_token");
    // ...which revoked the whole family, the new token too.
    api.refresh(&second)
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "invalid_refresh_token");
    // Unknown and malformed tokens, and an access token, are 401 too.
    api.refresh("rt_unknown")
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "invalid_refresh_token");
    api.refresh(&access)
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "invalid_refresh_token");
    // ...and a refresh token is no access token.
    let (access_again, refresh_again) = tokens(&api.login("ana@example.com", PASSWORD).await);
    let answer = api.get("/api/data", Some(&refresh_again)).await;
    answer.assert_problem(StatusCode::UNAUTHORIZED, "invalid_token");
    assert_hardened(&answer);
    assert_eq!(
        api.get("/api/data", Some(&access_again)).await.status,
        StatusCode::OK
    );
    // Another login is untouched.
    let (_, other) = tokens(&api.login("ana@example.com", PASSWORD).await);
    assert_eq!(api.refresh(&other).await.status, StatusCode::OK);
    api.assert_no_5xx();
}

#[tokio::test]
async fn of_two_concurrent_refreshes_one_wins_and_the_replay_revokes_it() {
    let api = Api::new().await;
    api.register("ana@example.com").await;
    let (_, token) = tokens(&api.login("ana@example.com", PASSWORD).await);
    let (a, b) = tokio::join!(api.refresh(&token), api.refresh(&token));
    let mut statuses = [a.status, b.status];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::OK, StatusCode::UNAUTHORIZED]);
    let winner = if a.status == StatusCode::OK { a } else { b };
    let (_, next) = tokens(&winner);
    api.refresh(&next)
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "invalid_refresh_token");
    api.assert_no_5xx();
}

#[tokio::test]
async fn logout_revokes_the_login() {
    let api = Api::new().await;
    api.register("ana@example.com").await;
    let (access, refresh) = tokens(&api.login("ana@example.com", PASSWORD).await);
    let request = |token: Option<&str>| {
        let mut request = Request::post("/logout");
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        request.body(Body::empty()).unwrap()
    };
    let answer = api.send(request(None)).await;
    answer.assert_problem(StatusCode::UNAUTHORIZED, "missing_token");
    assert_eq!(answer.header("www-authenticate"), "Bearer");
    assert_eq!(
        api.send(request(Some(&access))).await.status,
        StatusCode::NO_CONTENT
    );
    api.refresh(&refresh)
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "invalid_refresh_token");
    api.assert_no_5xx();
}

#[tokio::test]
async fn data_row_and_exactly_30_of_200_concurrent_calls() {
    let api = Api::new().await;
    api.register("ana@example.com").await;
    let (access, _) = tokens(&api.login("ana@example.com", PASSWORD).await);
    let answer = api.get("/api/data", None).await;
    answer.assert_problem(StatusCode::UNAUTHORIZED, "missing_token");
    assert!(answer.header("www-authenticate").starts_with("Bearer"));
    let answer = api.get("/api/data", Some("garbage")).await;
    assert!(
        answer
            .header("www-authenticate")
            .contains(r#"error="invalid_token""#)
    );

    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..200 {
        let (api, access) = (api.clone(), access.clone());
        calls.spawn(async move { api.get("/api/data", Some(&access)).await });
    }
    let mut ok = 0;
    let mut limited = 0;
    while let Some(answer) = calls.join_next().await {
        let answer = answer.unwrap();
        match answer.status {
            StatusCode::OK => {
                ok += 1;
                assert_eq!(answer.body["email"], "ana@example.com");
                assert_eq!(answer.body["roles"], json!(["user"]));
                assert!(answer.body["userId"].as_str().is_some());
                assert!(!answer.header("ratelimit").is_empty());
                // An email is in the answer: no cache may keep it.
                assert_eq!(answer.header("cache-control"), "no-store");
            }
            StatusCode::TOO_MANY_REQUESTS => limited += 1,
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!((ok, limited), (30, 170));
    api.assert_no_5xx();
}

#[tokio::test]
async fn admin_row() {
    let path = std::env::temp_dir().join(format!("warden-admin-{}.db", std::process::id()));
    let url = format!("sqlite://{}?mode=rwc", path.display());
    let mut config = api::Config::for_tests();
    config.database_url = url.clone();
    // Listed, but a password registration proves nothing about the address.
    config.admin_emails = vec!["Boss@Example.com".into()];
    let api = Api::start(config).await;
    api.register("boss@EXAMPLE.com").await;
    api.register("ana@example.com").await;
    let (boss, boss_refresh) = tokens(&api.login("boss@example.com", PASSWORD).await);
    let (ana, _) = tokens(&api.login("ana@example.com", PASSWORD).await);
    for token in [&boss, &ana] {
        api.get("/api/admin", Some(token))
            .await
            .assert_problem(StatusCode::FORBIDDEN, "insufficient_scope");
    }
    let data = api.get("/api/data", Some(&boss)).await;
    assert_eq!(data.body["roles"], json!(["user"]));

    // An operator grants it; the next token carries it, by refresh or login.
    let db = api::database(&url).await.unwrap();
    assert!(api::grant_admin(&db, " BOSS@example.com ").await.unwrap());
    assert!(!api::grant_admin(&db, "nobody@example.com").await.unwrap());
    api.get("/api/admin", Some(&boss))
        .await
        .assert_problem(StatusCode::FORBIDDEN, "insufficient_scope");
    let (refreshed, _) = tokens(&api.refresh(&boss_refresh).await);
    let answer = api.get("/api/admin", Some(&refreshed)).await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    assert_eq!(answer.body, json!({"users": 2}));
    let (boss, _) = tokens(&api.login("boss@example.com", PASSWORD).await);
    assert_eq!(
        api.get("/api/admin", Some(&boss)).await.status,
        StatusCode::OK
    );
    api.get("/api/admin", Some(&ana))
        .await
        .assert_problem(StatusCode::FORBIDDEN, "insufficient_scope");
    api.get("/api/admin", None)
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "missing_token");
    api.assert_no_5xx();
    let _ = std::fs::remove_file(path);
}

#[tokio::test]
async fn cors_allows_only_the_listed_origins() {
    let mut config = api::Config::for_tests();
    config.allowed_origins = vec!["https://app.example.com".into()];
    let api = Api::start(config).await;
    let preflight = |origin: &str| {
        Request::builder()
            .method("OPTIONS")
            .uri("/api/data")
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .body(Body::empty())
            .unwrap()
    };
    let allowed = api.send(preflight("https://app.example.com")).await;
    assert_eq!(
        allowed.header("access-control-allow-origin"),
        "https://app.example.com"
    );
    let refused = api.send(preflight("https://evil.example")).await;
    assert!(refused.headers.get("access-control-allow-origin").is_none());
    api.assert_no_5xx();
}

#[tokio::test]
async fn a_malformed_redis_url_is_refused_without_repeating_it() {
    let mut config = api::Config::for_tests();
    config.redis_url = Some("http://user:hunter2@example.com".into());
    let error = api::app(&config).await.err().unwrap();
    assert!(error.starts_with("REDIS_URL: "), "{error}");
    assert!(!error.contains("hunter2"), "{error}");
}

#[tokio::test]
async fn with_redis_url_limits_and_refresh_tokens_live_in_redis() {
    let server = warden_tests::RedisServer::start();
    let mut config = api::Config::for_tests();
    config.redis_url = Some(server.url());
    let api = Api::start(config).await;
    assert_eq!(
        api.register("redis@example.com").await.status,
        StatusCode::CREATED
    );
    let pair = api.login("redis@example.com", PASSWORD).await;
    assert_eq!(pair.status, StatusCode::OK);
    let first = pair.body["refreshToken"].as_str().unwrap().to_owned();
    let next = api.refresh(&first).await;
    assert_eq!(next.status, StatusCode::OK);
    api.refresh(&first)
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "invalid_refresh_token");
    let second = next.body["refreshToken"].as_str().unwrap();
    api.refresh(second)
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "invalid_refresh_token");
    let keys: Vec<String> = redis::Commands::keys(&mut server.client(), "warden:*").unwrap();
    assert!(keys.iter().any(|k| k.starts_with("warden:l:")), "{keys:?}");
    assert!(
        keys.iter().any(|k| k.starts_with("warden:rt:f:")),
        "{keys:?}"
    );
    api.assert_no_5xx();
}

#[tokio::test]
async fn require_https_redirects_reads_and_refuses_writes_over_plain_http() {
    let mut config = api::Config::for_tests();
    config.require_https = true;
    config.trusted_proxies = vec!["127.0.0.1".into()];
    let api = Api::start(config).await;
    let answer = api
        .send(
            Request::get("/api/data?x=1")
                .header("host", "api.example.com")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(answer.status, StatusCode::PERMANENT_REDIRECT);
    assert_eq!(
        answer.header("location"),
        "https://api.example.com/api/data?x=1"
    );
    api.post(
        "/login",
        json!({"email": "a@example.com", "password": PASSWORD}),
        &[],
    )
    .await
    .assert_problem(StatusCode::FORBIDDEN, "https_required");
    assert_eq!(api.get("/health", None).await.status, StatusCode::OK);
    // Over HTTPS at the proxy, the API answers as usual.
    let answer = api
        .post(
            "/register",
            json!({"email": "tls@example.com", "password": PASSWORD, "name": "Ana"}),
            &[("x-forwarded-proto", "https")],
        )
        .await;
    assert_eq!(answer.status, StatusCode::CREATED, "{answer:?}");
    api.assert_no_5xx();
}

#[tokio::test]
async fn global_rate_limit_counts_every_request_but_health() {
    let mut config = api::Config::for_tests();
    config.global_rate_limit = Some("3/15m".parse().unwrap());
    let api = Api::start(config).await;
    assert_eq!(
        api.get("/api/data", None).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        api.get("/nowhere", None).await.status,
        StatusCode::NOT_FOUND
    );
    let answer = api.register("global@example.com").await;
    assert_eq!(answer.status, StatusCode::CREATED);
    assert!(
        answer.header("ratelimit").contains(r#""global";r=0"#),
        "{answer:?}"
    );
    for path in ["/nowhere", "/api/data", "/openapi.json"] {
        let answer = api.get(path, None).await;
        answer.assert_problem(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
        assert_eq!(answer.body["limit"], "global");
        assert!(answer.header("retry-after").parse::<u64>().unwrap() >= 1);
    }
    for _ in 0..5 {
        assert_eq!(api.get("/health", None).await.status, StatusCode::OK);
    }
    api.assert_no_5xx();
}

#[tokio::test]
async fn users_persist_in_a_sqlite_file() {
    let dir = std::env::temp_dir().join(format!("warden-api-{}", std::process::id()));
    let path = dir.join("nested").join("users.db");
    let mut config = api::Config::for_tests();
    config.database_url = format!("sqlite://{}?mode=rwc", path.display());
    {
        let api = Api::start(config.clone()).await;
        assert_eq!(
            api.register("ana@example.com").await.status,
            StatusCode::CREATED
        );
    }
    assert!(
        path.exists(),
        "the database file and its folder were created"
    );
    // A second instance on the same file sees the user.
    let api = Api::start(config).await;
    assert_eq!(
        api.login("ana@example.com", PASSWORD).await.status,
        StatusCode::OK
    );
    api.register("ana@example.com")
        .await
        .assert_problem(StatusCode::CONFLICT, "email_taken");
    let _ = std::fs::remove_dir_all(dir);
}

/// The reference API's policy table: any change to any route's access,
/// limits or validated input shows up in review as a diff of this
/// snapshot (`cargo run -p api -- policy` prints the same table).
#[test]
fn the_policy_table_of_every_route() {
    let table = api::routes().policy_table();
    insta::assert_snapshot!("api_policy", table.to_string());
    // Every route the contract lists is there, and every handler decided.
    let json = table.to_json();
    let rows = json.as_array().unwrap();
    assert_eq!(rows.len(), 8);
    for row in rows {
        assert_ne!(row["access"], "unmarked", "{row}");
        assert!(
            row["location"]
                .as_str()
                .unwrap()
                .starts_with("examples/api/src/lib.rs:"),
            "{row}"
        );
    }
    let register = rows.iter().find(|r| r["path"] == "/register").unwrap();
    assert_eq!(register["method"], "POST");
    assert_eq!(
        register["limits"][0]["rate"],
        json!({"count": 10, "windowSeconds": 3600.0})
    );
    assert_eq!(register["validated"][0]["strict"], true);
    assert_eq!(
        register["validated"][0]["fields"][1],
        json!({"field": "password", "rules": ["len(12..=128)", "password"]})
    );
}
