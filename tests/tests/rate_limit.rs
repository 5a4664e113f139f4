//! `#[rate_limit]` end to end, over real sockets: exact counts under
//! concurrency, headers, Retry-After, client identity behind proxies,
//! skip_successful/skip_failed, stacked and named limits, per-user limits,
//! bounded memory, fail-closed stores, and audit events.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use http::StatusCode;
use http::request::Parts;
use serde::Deserialize;
use warden::auth::{AccessClaims, Jwt};
use warden::limit::{LimitCheck, MemoryStore, Rate, Store, Verdict};
use warden::{Auth, BuildError, Warden, protected, public, rate_limit};
use warden::{StoreError, StoreFuture};
use warden_tests::{
    Answer, AppState, Backend, Captured, Client, Hits, Transport, jwt, keys, on_both_stores,
};

#[rate_limit(5, "1m")]
async fn per_ip(State(hits): State<Hits>) -> &'static str {
    hits.hit();
    "ok"
}

#[rate_limit(30, "1m")]
async fn thirty(State(hits): State<Hits>) -> &'static str {
    hits.hit();
    "ok"
}

/// `good` answers 200 and `bad` 401, like a login with a right or wrong
/// password. Deliberately open, and says so.
#[public]
#[rate_limit(5, "15m", skip_successful)]
async fn login(State(hits): State<Hits>, Path(outcome): Path<String>) -> StatusCode {
    hits.hit();
    if outcome == "good" {
        StatusCode::OK
    } else {
        StatusCode::UNAUTHORIZED
    }
}

#[rate_limit(3, "15m", skip_failed)]
async fn only_successes(State(hits): State<Hits>, Path(outcome): Path<String>) -> StatusCode {
    hits.hit();
    if outcome == "good" {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    }
}

#[rate_limit(3, "1m", name = "burst")]
#[rate_limit(5, "1d", name = "daily")]
async fn stacked(State(hits): State<Hits>) -> &'static str {
    hits.hit();
    "ok"
}

#[rate_limit(1, "2s")]
async fn slow(State(hits): State<Hits>) -> &'static str {
    hits.hit();
    "ok"
}

#[protected]
#[rate_limit(3, "1m", key = user)]
async fn per_user(State(hits): State<Hits>, user: Auth) -> String {
    hits.hit();
    user.sub().to_owned()
}

#[rate_limit(3, "1m")]
#[protected]
async fn ip_then_auth(State(hits): State<Hits>) -> &'static str {
    hits.hit();
    "ok"
}

/// Authentication refusals are given back: only admitted requests count.
#[protected]
#[rate_limit(3, "1m", skip_failed)]
async fn guarded_skip_failed(State(hits): State<Hits>) -> &'static str {
    hits.hit();
    "ok"
}

/// A per-address limit, then a per-user one that refuses the second
/// request of a user: the address's count is given back.
#[protected]
#[rate_limit(10, "1m")]
#[rate_limit(1, "1m", key = user)]
async fn once_per_user(State(hits): State<Hits>) -> &'static str {
    hits.hit();
    "ok"
}

#[rate_limit(2, "1m", key = header("X-Api-Key"))]
async fn per_api_key(State(hits): State<Hits>) -> &'static str {
    hits.hit();
    "ok"
}

fn tenant_of(parts: &Parts) -> Option<String> {
    parts
        .headers
        .get("x-tenant")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

#[rate_limit(2, "1m", with = tenant_of)]
async fn per_tenant(State(hits): State<Hits>) -> &'static str {
    hits.hit();
    "ok"
}

#[rate_limit("shared-policy")]
async fn named_a(State(hits): State<Hits>) -> &'static str {
    hits.hit();
    "a"
}

#[rate_limit("shared-policy")]
async fn named_b(State(hits): State<Hits>) -> &'static str {
    hits.hit();
    "b"
}

async fn whoami(client: Option<warden::http::ClientIp>) -> String {
    client.map_or_else(|| "unknown".to_owned(), |ip| ip.to_string())
}

#[derive(Deserialize)]
struct Note {
    text: String,
}

/// Counts how many times it ran.
struct Counted;

static COUNTED_RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Counted {
    type Rejection = StatusCode;

    async fn from_request_parts(_: &mut Parts, _: &S) -> Result<Self, StatusCode> {
        COUNTED_RUNS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok(Counted)
    }
}

#[rate_limit(100, "1m")]
async fn first_failure(
    State(hits): State<Hits>,
    Path(id): Path<u32>,
    _counted: Counted,
    Json(note): Json<Note>,
) -> String {
    hits.hit();
    format!("{id}: {}", note.text)
}

#[rate_limit(1, "1m")]
async fn body(State(hits): State<Hits>, Json(note): Json<Note>) -> String {
    hits.hit();
    note.text
}

/// A refused body is a failure like any other: the extractor's rejection
/// goes through the response hook, which gives its slot back.
#[rate_limit(2, "1m", skip_failed)]
async fn body_skip_failed(State(hits): State<Hits>, Json(note): Json<Note>) -> String {
    hits.hit();
    note.text
}

fn builder() -> warden::WardenBuilder {
    Warden::builder().jwt(jwt()).limit_policy(
        "shared-policy",
        Rate::new(3, Duration::from_secs(60)).unwrap(),
    )
}

fn router(warden: &Warden, hits: &Hits) -> Router {
    Router::new()
        .route("/ip", get(per_ip))
        .route("/thirty", get(thirty))
        .route("/login/{outcome}", post(login))
        .route("/successes/{outcome}", post(only_successes))
        .route("/stacked", get(stacked))
        .route("/slow", get(slow))
        .route("/user", get(per_user))
        .route("/ip-then-auth", get(ip_then_auth))
        .route("/api-key", get(per_api_key))
        .route("/tenant", get(per_tenant))
        .route("/named-a", get(named_a))
        .route("/named-b", get(named_b))
        .route("/body", post(body))
        .route("/body-skip-failed", post(body_skip_failed))
        .route("/first-failure/{id}", post(first_failure))
        .route("/whoami", get(whoami))
        .route("/guarded-skip-failed", get(guarded_skip_failed))
        .route("/once-per-user", get(once_per_user))
        .with_state(AppState {
            warden: warden.clone(),
            hits: hits.clone(),
        })
}

async fn app_with(backend: &Backend, builder: warden::WardenBuilder) -> (Client, Hits, Warden) {
    let warden = backend.store(builder).await.build().unwrap();
    let hits = Hits::default();
    let client = Client::new(router(&warden, &hits), Transport::Socket).await;
    (client, hits, warden)
}

async fn app(backend: &Backend) -> (Client, Hits, Warden) {
    app_with(backend, builder()).await
}

fn assert_limited(answer: &Answer) {
    answer.assert_problem(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    let retry: u64 = answer
        .header("retry-after")
        .parse()
        .expect("Retry-After seconds");
    assert!(retry >= 1, "{answer:?}");
    assert_eq!(answer.body["retryAfter"], retry, "{answer:?}");
    assert!(!answer.header("ratelimit").is_empty(), "{answer:?}");
    assert!(!answer.header("ratelimit-policy").is_empty(), "{answer:?}");
}

async fn a_burst_of_n_then_429_with_standard_headers(backend: Backend) {
    let (app, hits, _) = app(&backend).await;
    for remaining in (0..5).rev() {
        let answer = app.get("/ip", None).await;
        assert_eq!(answer.status, StatusCode::OK);
        assert_eq!(answer.header("ratelimit-policy"), r#""5-per-1m";q=5;w=60"#);
        assert_eq!(
            answer.header("ratelimit"),
            format!(r#""5-per-1m";r={remaining};t={}"#, 12 * (5 - remaining)),
            "{answer:?}"
        );
    }
    let answer = app.get("/ip", None).await;
    assert_limited(&answer);
    // The burst is spent: the next request fits in one emission interval.
    assert_eq!(answer.header("retry-after"), "12");
    assert_eq!(answer.header("ratelimit"), r#""5-per-1m";r=0;t=60"#);
    assert_eq!(answer.body["limit"], "5-per-1m");
    assert_eq!(hits.count(), 5);
}

async fn exactly_n_of_200_concurrent_requests_are_admitted(backend: Backend) {
    let (app, hits, _) = app(&backend).await;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..200 {
        let app = app.clone();
        tasks.spawn(async move { app.get("/thirty", None).await.status });
    }
    let mut admitted = 0;
    let mut refused = 0;
    while let Some(status) = tasks.join_next().await {
        match status.unwrap() {
            StatusCode::OK => admitted += 1,
            StatusCode::TOO_MANY_REQUESTS => refused += 1,
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!((admitted, refused), (30, 170));
    assert_eq!(hits.count(), 30);
}

async fn retry_after_is_accurate(backend: Backend) {
    let (app, hits, _) = app(&backend).await;
    assert_eq!(app.get("/slow", None).await.status, StatusCode::OK);
    let answer = app.get("/slow", None).await;
    assert_limited(&answer);
    assert_eq!(answer.header("retry-after"), "2");
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let answer = app.get("/slow", None).await;
    assert_limited(&answer);
    let retry: u64 = answer.header("retry-after").parse().unwrap();
    assert_eq!(retry, 1);
    tokio::time::sleep(Duration::from_secs(retry)).await;
    assert_eq!(app.get("/slow", None).await.status, StatusCode::OK);
    assert_eq!(hits.count(), 2);
}

async fn a_spoofed_forwarding_header_from_an_untrusted_peer_is_ignored(backend: Backend) {
    let captured = Captured::default();
    let _guard = captured.install();
    let (app, hits, _) = app(&backend).await;
    for i in 0..5 {
        let forged = format!("198.51.100.{i}");
        let answer = app.get_with("/ip", &[("x-forwarded-for", &forged)]).await;
        assert_eq!(answer.status, StatusCode::OK);
    }
    // A new forged address does not buy a new burst.
    let answer = app
        .get_with("/ip", &[("x-forwarded-for", "203.0.113.99")])
        .await;
    assert_limited(&answer);
    let answer = app
        .get_with("/ip", &[("forwarded", "for=203.0.113.98")])
        .await;
    assert_limited(&answer);
    assert_eq!(hits.count(), 5);
    let text = captured.text();
    let warnings = text.matches("not a trusted proxy").count();
    assert_eq!(warnings, 1, "one warning, not one per request: {text}");
}

async fn proxied(backend: &Backend) -> (Client, Hits, Warden) {
    app_with(
        backend,
        builder().trusted_proxies(["127.0.0.1/32", "10.0.0.0/8"]),
    )
    .await
}

async fn a_trusted_proxy_chain_is_honoured(backend: Backend) {
    let (app, hits, _) = proxied(&backend).await;
    for _ in 0..5 {
        let answer = app
            .get_with("/ip", &[("x-forwarded-for", "198.51.100.1")])
            .await;
        assert_eq!(answer.status, StatusCode::OK);
    }
    // The forged leftmost entry is not believed: the rightmost untrusted
    // hop is the client, and it is spent.
    let answer = app
        .get_with(
            "/ip",
            &[("x-forwarded-for", "6.6.6.6, 198.51.100.1, 10.1.2.3")],
        )
        .await;
    assert_limited(&answer);
    // Another client behind the same proxy has its own burst.
    let answer = app
        .get_with("/ip", &[("x-forwarded-for", "198.51.100.2")])
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    // The proxy itself, without a header, is a client of its own.
    assert_eq!(app.get("/ip", None).await.status, StatusCode::OK);
    assert_eq!(hits.count(), 7);
}

async fn ipv6_clients_are_keyed_by_their_56_prefix(backend: Backend) {
    let (app, hits, _) = proxied(&backend).await;
    let same_subscriber = [
        "2001:db8:1:ab00::1",
        "2001:db8:1:ab00::2",
        "2001:db8:1:abff:ffff:ffff:ffff:ffff",
        "2001:db8:1:ab12::77",
        "2001:db8:1:ab00:1234::1",
    ];
    for address in same_subscriber {
        let answer = app.get_with("/ip", &[("x-forwarded-for", address)]).await;
        assert_eq!(answer.status, StatusCode::OK, "{address}");
    }
    let answer = app
        .get_with("/ip", &[("x-forwarded-for", "2001:db8:1:ab99::5")])
        .await;
    assert_limited(&answer);
    let answer = app
        .get_with("/ip", &[("x-forwarded-for", "2001:db8:1:ac00::1")])
        .await;
    assert_eq!(answer.status, StatusCode::OK, "another /56");
    assert_eq!(hits.count(), 6);
}

async fn ipv4_mapped_addresses_are_keyed_as_ipv4(backend: Backend) {
    let (app, hits, _) = proxied(&backend).await;
    for i in 0..5 {
        let address = if i % 2 == 0 {
            "198.51.100.7"
        } else {
            "::ffff:198.51.100.7"
        };
        let answer = app.get_with("/ip", &[("x-forwarded-for", address)]).await;
        assert_eq!(answer.status, StatusCode::OK);
    }
    for address in ["::ffff:198.51.100.7", "::ffff:c633:6407", "198.51.100.7"] {
        let answer = app.get_with("/ip", &[("x-forwarded-for", address)]).await;
        assert_limited(&answer);
    }
    assert_eq!(hits.count(), 5);
}

async fn skip_successful_counts_only_failures(backend: Backend) {
    skip_successful_counts_only_failures_on(app(&backend).await).await;
}

async fn skip_successful_counts_only_failures_on((app, hits, _): (Client, Hits, Warden)) {
    // Successes never count.
    for _ in 0..20 {
        assert_eq!(
            app.post("/login/good", None, "").await.status,
            StatusCode::OK
        );
    }
    for _ in 0..5 {
        assert_eq!(
            app.post("/login/bad", None, "").await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    // Five failures: now even the right password is refused.
    assert_limited(&app.post("/login/good", None, "").await);
    assert_limited(&app.post("/login/bad", None, "").await);
    assert_eq!(hits.count(), 25);
}

async fn skip_successful_under_a_concurrent_burst_of_successes_and_failures(backend: Backend) {
    let (app, hits, _) = app(&backend).await;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..60 {
        let app = app.clone();
        let path = if i % 2 == 0 {
            "/login/good"
        } else {
            "/login/bad"
        };
        tasks.spawn(async move { (path, app.post(path, None, "").await.status) });
    }
    let mut failures_admitted = 0;
    let mut successes = 0;
    while let Some(result) = tasks.join_next().await {
        match result.unwrap() {
            ("/login/bad", StatusCode::UNAUTHORIZED) => failures_admitted += 1,
            ("/login/good", StatusCode::OK) => successes += 1,
            (_, StatusCode::TOO_MANY_REQUESTS) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    // Never more than five failures get through, whatever the interleaving.
    assert!(failures_admitted <= 5, "{failures_admitted}");
    assert!(successes > 0);
    assert_eq!(hits.count(), failures_admitted + successes);
    // Successes gave their slots back: exactly what the failures left is
    // still there, and successes keep not counting.
    let left = 5 - failures_admitted;
    if left > 0 {
        for _ in 0..10 {
            assert_eq!(
                app.post("/login/good", None, "").await.status,
                StatusCode::OK
            );
        }
    }
    for _ in 0..left {
        assert_eq!(
            app.post("/login/bad", None, "").await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_limited(&app.post("/login/bad", None, "").await);
    assert_limited(&app.post("/login/good", None, "").await);
}

async fn skip_failed_counts_only_successes(backend: Backend) {
    let (app, hits, _) = app(&backend).await;
    for _ in 0..10 {
        assert_eq!(
            app.post("/successes/bad", None, "").await.status,
            StatusCode::BAD_REQUEST
        );
    }
    for _ in 0..3 {
        assert_eq!(
            app.post("/successes/good", None, "").await.status,
            StatusCode::OK
        );
    }
    assert_limited(&app.post("/successes/good", None, "").await);
    assert_limited(&app.post("/successes/bad", None, "").await);
    assert_eq!(hits.count(), 13);
}

async fn stacked_limits_all_apply_and_a_refusal_consumes_none(backend: Backend) {
    let (app, hits, _) = app(&backend).await;
    for _ in 0..3 {
        assert_eq!(app.get("/stacked", None).await.status, StatusCode::OK);
    }
    let answer = app.get("/stacked", None).await;
    assert_limited(&answer);
    assert_eq!(
        answer.header("ratelimit-policy"),
        r#""burst";q=3;w=60, "daily";q=5;w=86400"#
    );
    // Refused by "burst": "daily" still has 2 of 5 left.
    assert!(
        answer.header("ratelimit").contains(r#""burst";r=0"#),
        "{answer:?}"
    );
    assert!(
        answer.header("ratelimit").contains(r#""daily";r=2"#),
        "{answer:?}"
    );
    for _ in 0..5 {
        assert_limited(&app.get("/stacked", None).await);
    }
    let answer = app.get("/stacked", None).await;
    assert!(
        answer.header("ratelimit").contains(r#""daily";r=2"#),
        "{answer:?}"
    );
    assert_eq!(hits.count(), 3);
}

fn token(warden: &Warden, sub: &str) -> String {
    warden
        .issue_access_token(&AccessClaims::new(sub))
        .unwrap()
        .token
}

async fn per_user_limits_follow_the_user_not_the_address(backend: Backend) {
    let (app, hits, warden) = proxied(&backend).await;
    let alice = token(&warden, "alice");
    let bob = token(&warden, "bob");
    for i in 0..3 {
        // Alice moves between addresses; her count follows her.
        let address = format!("198.51.100.{i}");
        let answer = app
            .get_with(
                "/user",
                &[
                    ("authorization", &format!("Bearer {alice}")),
                    ("x-forwarded-for", &address),
                ],
            )
            .await;
        assert_eq!(answer.status, StatusCode::OK);
        assert_eq!(answer.body, "alice");
    }
    assert_limited(&app.get("/user", Some(&alice)).await);
    assert_eq!(app.get("/user", Some(&bob)).await.status, StatusCode::OK);
    // Without a token the guard answers 401 before any per-user count.
    assert_eq!(
        app.get("/user", None).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(hits.count(), 4);
}

async fn per_ip_limits_run_before_authentication(backend: Backend) {
    let (app, hits, warden) = app(&backend).await;
    for _ in 0..3 {
        let answer = app.get("/ip-then-auth", Some("guessed.token.value")).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
        assert!(!answer.header("ratelimit").is_empty(), "{answer:?}");
    }
    // Token guessing is throttled: even a valid token now waits.
    let valid = token(&warden, "carol");
    assert_limited(&app.get("/ip-then-auth", Some(&valid)).await);
    assert_eq!(hits.count(), 0);
}

async fn header_and_custom_keys(backend: Backend) {
    let (app, hits, _) = app(&backend).await;
    for _ in 0..2 {
        let answer = app.get_with("/api-key", &[("x-api-key", "key-1")]).await;
        assert_eq!(answer.status, StatusCode::OK);
    }
    assert_limited(&app.get_with("/api-key", &[("x-api-key", "key-1")]).await);
    assert_eq!(
        app.get_with("/api-key", &[("x-api-key", "key-2")])
            .await
            .status,
        StatusCode::OK
    );
    // Without the header, the client address is the key.
    assert_eq!(app.get("/api-key", None).await.status, StatusCode::OK);

    for _ in 0..2 {
        assert_eq!(
            app.get_with("/tenant", &[("x-tenant", "acme")])
                .await
                .status,
            StatusCode::OK
        );
    }
    assert_limited(&app.get_with("/tenant", &[("x-tenant", "acme")]).await);
    assert_eq!(
        app.get_with("/tenant", &[("x-tenant", "globex")])
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(hits.count(), 7);
}

async fn named_policies_come_from_the_builder_and_are_shared(backend: Backend) {
    let (app, hits, _) = app(&backend).await;
    assert_eq!(app.get("/named-a", None).await.status, StatusCode::OK);
    assert_eq!(app.get("/named-b", None).await.status, StatusCode::OK);
    let answer = app.get("/named-a", None).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(
        answer.header("ratelimit-policy"),
        r#""shared-policy";q=3;w=60"#
    );
    assert_limited(&app.get("/named-b", None).await);
    assert_eq!(hits.count(), 3);

    // Operators can retune without a rebuild.
    let (app, _, _) = app_with(
        &backend,
        Warden::builder()
            .jwt(Jwt::hs256(keys::SECRET).unwrap().issuer("i").audience("a"))
            .limit_policy(
                "shared-policy",
                Rate::new(1, Duration::from_secs(60)).unwrap(),
            ),
    )
    .await;
    assert_eq!(app.get("/named-a", None).await.status, StatusCode::OK);
    assert_limited(&app.get("/named-b", None).await);
}

#[test]
fn a_named_policy_missing_from_the_builder_is_a_build_error() {
    let error = Warden::builder()
        .jwt(Jwt::hs256(keys::SECRET).unwrap().issuer("i").audience("a"))
        .build()
        .unwrap_err();
    assert!(
        matches!(
            error,
            BuildError::UnknownPolicy {
                name: "shared-policy",
                ..
            }
        ),
        "{error:?}"
    );
    assert!(
        error
            .to_string()
            .contains(".limit_policy(\"shared-policy\""),
        "{error}"
    );
}

async fn refused_requests_never_reach_the_handler_or_its_extractors(backend: Backend) {
    let (app, hits, _) = app(&backend).await;
    let ok = http::Request::post("/body")
        .header("content-type", "application/json")
        .body(axum::body::Body::from(r#"{"text":"first"}"#))
        .unwrap();
    assert_eq!(app.send(ok).await.body, "first");
    // A flood of 1 MiB non-JSON bodies: a handler whose extractors ran
    // would answer 415; the limiter answers first.
    let flood = vec![b'x'; 1024 * 1024];
    for _ in 0..5 {
        let request = http::Request::post("/body")
            .body(axum::body::Body::from(flood.clone()))
            .unwrap();
        assert_limited(&app.send(request).await);
    }
    assert_eq!(hits.count(), 1);
}

#[tokio::test]
async fn a_limited_handler_stops_at_its_first_failing_extractor() {
    let (app, hits, _) = app(&Backend::Memory).await;
    let send = |path: &str, body: Vec<u8>| {
        http::Request::post(path)
            .header("content-type", "application/json")
            .body(axum::body::Body::from(body))
            .unwrap()
    };
    let answer = app
        .send(send("/first-failure/7", br#"{"text":"hi"}"#.to_vec()))
        .await;
    assert_eq!(answer.body, "7: hi");
    let runs = COUNTED_RUNS.load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(runs, 1);
    // The path does not parse: neither the next extractor nor the body
    // (1 MiB, not even JSON) is touched, and the path's rejection answers,
    // with the limit's headers.
    let answer = app
        .send(send("/first-failure/not-a-number", vec![b'x'; 1024 * 1024]))
        .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{answer:?}");
    assert!(!answer.header("ratelimit").is_empty(), "{answer:?}");
    assert_eq!(COUNTED_RUNS.load(std::sync::atomic::Ordering::SeqCst), runs);
    assert_eq!(hits.count(), 1);
}

#[tokio::test]
async fn memory_stays_bounded_when_keys_rotate() {
    let store = Arc::new(MemoryStore::with_max_keys(1024));
    let (app, hits, _) = app_with(
        &Backend::Memory,
        builder()
            .trusted_proxies(["127.0.0.1"])
            .ipv6_prefix(128)
            .store(Arc::clone(&store)),
    )
    .await;
    for i in 0..3000u32 {
        let address = format!("2001:db8::{:x}:{:x}", i >> 16, i & 0xffff);
        let answer = app.get_with("/ip", &[("x-forwarded-for", &address)]).await;
        assert_eq!(answer.status, StatusCode::OK);
    }
    assert!(
        store.len() <= store.max_keys(),
        "{} > {}",
        store.len(),
        store.max_keys()
    );
    assert!(store.len() >= store.max_keys() / 2, "{}", store.len());
    assert_eq!(hits.count(), 3000);
}

async fn refused_tokens_are_given_back_under_skip_failed(backend: Backend) {
    refused_tokens_are_given_back(app(&backend).await).await;
}

async fn refused_tokens_are_given_back((app, hits, warden): (Client, Hits, Warden)) {
    for _ in 0..5 {
        let answer = app
            .get("/guarded-skip-failed", Some("guessed.token.value"))
            .await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
        assert!(
            answer.header("ratelimit").starts_with(r#""3-per-1m";r=3;"#),
            "{answer:?}"
        );
    }
    let valid = token(&warden, "erin");
    for remaining in [2, 1, 0] {
        let answer = app.get("/guarded-skip-failed", Some(&valid)).await;
        assert_eq!(answer.status, StatusCode::OK);
        assert!(
            answer
                .header("ratelimit")
                .starts_with(&format!(r#""3-per-1m";r={remaining};"#)),
            "{answer:?}"
        );
    }
    assert_limited(&app.get("/guarded-skip-failed", Some(&valid)).await);
    assert_eq!(hits.count(), 3);
}

async fn a_user_limit_refusal_gives_back_the_address_count(backend: Backend) {
    address_count_given_back(app(&backend).await).await;
}

async fn address_count_given_back((app, hits, warden): (Client, Hits, Warden)) {
    let carol = token(&warden, "carol");
    let answer = app.get("/once-per-user", Some(&carol)).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(
        answer.header("ratelimit"),
        r#""10-per-1m";r=9;t=6, "1-per-1m";r=0;t=60"#
    );
    for _ in 0..3 {
        let answer = app.get("/once-per-user", Some(&carol)).await;
        assert_limited(&answer);
        assert!(
            answer.header("ratelimit").contains(r#""10-per-1m";r=9;"#),
            "{answer:?}"
        );
    }
    // Had the refusals counted against the address, 6 would be left.
    let dave = token(&warden, "dave");
    let answer = app.get("/once-per-user", Some(&dave)).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert!(
        answer
            .header("ratelimit")
            .starts_with(r#""10-per-1m";r=8;"#),
        "{answer:?}"
    );
    assert_eq!(hits.count(), 2);
}

/// A store that checks at once, in process, but gives back only through a
/// future: the guard's response hook and its refunds then wait, after
/// checks made at once.
struct RefundsWait(MemoryStore);

impl Store for RefundsWait {
    fn check<'a>(
        &'a self,
        checks: &'a [LimitCheck<'a>],
    ) -> StoreFuture<'a, Result<Verdict, StoreError>> {
        self.0.check(checks)
    }
    fn refund<'a>(
        &'a self,
        checks: &'a [LimitCheck<'a>],
    ) -> StoreFuture<'a, Result<(), StoreError>> {
        StoreFuture::boxed(async move {
            tokio::task::yield_now().await;
            self.0.refund(checks).await
        })
    }
    fn check_at_once(&self, checks: &[LimitCheck<'_>]) -> Option<Result<Verdict, StoreError>> {
        self.0.check_at_once(checks)
    }
}

fn refunds_wait() -> warden::WardenBuilder {
    builder().store(RefundsWait(MemoryStore::new()))
}

#[tokio::test]
async fn refunds_that_wait_after_checks_made_at_once() {
    // The response hook of skip_successful, a 200 given back.
    skip_successful_counts_only_failures_on(app_with(&Backend::Memory, refunds_wait()).await).await;
    // The response hook of an authentication refusal under skip_failed.
    refused_tokens_are_given_back(app_with(&Backend::Memory, refunds_wait()).await).await;
    // A per-user refusal giving back the per-address count.
    address_count_given_back(app_with(&Backend::Memory, refunds_wait()).await).await;
    // An extractor's rejection under skip_failed.
    rejected_bodies_are_given_back(app_with(&Backend::Memory, refunds_wait()).await).await;
}

/// The `RateLimit-Policy` value the macro builds at compile time is its
/// policy item, byte for byte; a named rate has none (its rate is known at
/// start-up).
#[test]
fn the_compiled_policy_value_is_the_policy_item() {
    use warden::__private::Policy;
    for spec in [
        __warden_policy_per_ip::LIMITS,
        __warden_policy_stacked::LIMITS,
    ]
    .into_iter()
    .flatten()
    {
        let value = spec.policy_header.expect("an inline rate")();
        assert_eq!(value.as_bytes(), spec.policy_field.as_bytes());
        assert!(!spec.policy_field.is_empty());
    }
    let [named] = __warden_policy_named_a::LIMITS else {
        panic!("one limit")
    };
    assert!(named.policy_header.is_none());
    assert_eq!(named.policy_field, "");
}

#[tokio::test]
async fn rejected_bodies_are_given_back_under_skip_failed() {
    rejected_bodies_are_given_back(app(&Backend::Memory).await).await;
}

async fn rejected_bodies_are_given_back((app, hits, _): (Client, Hits, Warden)) {
    let json = |body: &str| {
        http::Request::post("/body-skip-failed")
            .header("content-type", "application/json")
            .body(axum::body::Body::from(body.to_owned()))
            .unwrap()
    };
    // More refused bodies than the limit: each is given back.
    for _ in 0..4 {
        let answer = app.send(json(r#"{"text": 7}"#)).await;
        assert!(answer.status.is_client_error(), "{answer:?}");
        assert_ne!(answer.status, StatusCode::TOO_MANY_REQUESTS, "{answer:?}");
        assert_eq!(answer.header("ratelimit-policy"), r#""2-per-1m";q=2;w=60"#);
        assert!(
            answer.header("ratelimit").starts_with(r#""2-per-1m";r=2;"#),
            "{answer:?}"
        );
    }
    assert_eq!(hits.count(), 0);
    // Successes count.
    for remaining in [1, 0] {
        let answer = app.send(json(r#"{"text": "hi"}"#)).await;
        assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
        assert_eq!(answer.body, "hi");
        assert!(
            answer
                .header("ratelimit")
                .starts_with(&format!(r#""2-per-1m";r={remaining};"#)),
            "{answer:?}"
        );
    }
    assert_limited(&app.send(json(r#"{"text": "hi"}"#)).await);
    assert_eq!(hits.count(), 2);
}

/// A store whose backend is down.
struct Unreachable;

impl Store for Unreachable {
    fn check<'a>(
        &'a self,
        _: &'a [LimitCheck<'a>],
    ) -> StoreFuture<'a, Result<Verdict, StoreError>> {
        StoreFuture::boxed(async { Err(StoreError::new("connection refused")) })
    }
    fn refund<'a>(&'a self, _: &'a [LimitCheck<'a>]) -> StoreFuture<'a, Result<(), StoreError>> {
        StoreFuture::ready(Err(StoreError::new("connection refused")))
    }
}

#[tokio::test]
async fn an_unreachable_store_fails_closed() {
    let (app, hits, _) = app_with(&Backend::Memory, builder().store(Unreachable)).await;
    let answer = app.get("/ip", None).await;
    answer.assert_problem(StatusCode::SERVICE_UNAVAILABLE, "limits_unavailable");
    assert_eq!(answer.header("retry-after"), "1");
    assert!(!answer.body.to_string().contains("connection refused"));
    assert_eq!(hits.count(), 0);
}

async fn every_refusal_is_audited(backend: Backend) {
    let captured = Captured::default();
    let _guard = captured.install();
    let (app, _, _) = app(&backend).await;
    for _ in 0..2 {
        let _ = app
            .get_with("/api-key", &[("x-api-key", "secret-api-key-value")])
            .await;
    }
    assert_limited(
        &app.get_with("/api-key", &[("x-api-key", "secret-api-key-value")])
            .await,
    );
    let text = captured.text();
    let events: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("warden::audit") && l.contains("rate_limited"))
        .collect();
    assert_eq!(events.len(), 1, "{text}");
    let event = events[0];
    for field in [
        "route=\"/api-key\"",
        "client_ip=127.0.0.1",
        "status=429",
        "limit=\"2-per-1m\"",
        "retry_after=30",
    ] {
        assert!(event.contains(field), "{field} missing: {event}");
    }
    assert!(
        !text.contains("secret-api-key-value"),
        "a key leaked: {text}"
    );
}

#[tokio::test]
async fn the_manifest_lists_every_policy() {
    let manifest: Vec<String> = warden::manifest().iter().map(ToString::to_string).collect();
    let line = |suffix: &str| {
        manifest
            .iter()
            .find(|l| l.starts_with(&format!("rate_limit::{suffix}:")))
            .cloned()
            .unwrap_or_else(|| panic!("{suffix} not in {manifest:#?}"))
    };
    assert_eq!(
        line("login"),
        r#"rate_limit::login: public; limit "5-per-15m" 5 per 900s by ip skip_successful"#
    );
    assert_eq!(
        line("stacked"),
        r#"rate_limit::stacked: unmarked; limit "burst" 3 per 60s by ip; limit "daily" 5 per 86400s by ip"#
    );
    assert_eq!(
        line("per_user"),
        r#"rate_limit::per_user: protected; limit "3-per-1m" 3 per 60s by user"#
    );
    assert_eq!(
        line("named_a"),
        r#"rate_limit::named_a: unmarked; limit policy "shared-policy" by ip"#
    );
}

#[tokio::test]
async fn the_client_ip_extractor_resolves_like_the_guards() {
    let (behind_proxy, _, _) = proxied(&Backend::Memory).await;
    let answer = behind_proxy
        .get_with("/whoami", &[("x-forwarded-for", "6.6.6.6, 198.51.100.9")])
        .await;
    assert_eq!(answer.body, "198.51.100.9");
    let answer = behind_proxy
        .get_with("/whoami", &[("x-forwarded-for", "::ffff:198.51.100.9")])
        .await;
    assert_eq!(answer.body, "198.51.100.9");
    let (direct, _, _) = app(&Backend::Memory).await;
    let answer = direct
        .get_with("/whoami", &[("x-forwarded-for", "198.51.100.9")])
        .await;
    assert_eq!(answer.body, "127.0.0.1");
}

async fn without_peer_addresses_clients_share_one_count_and_a_warning_says_why(backend: Backend) {
    let captured = Captured::default();
    let _guard = captured.install();
    let warden = backend.store(builder()).await.build().unwrap();
    let hits = Hits::default();
    // In process, with no ConnectInfo: the server recorded no peer address.
    let app = Client::new(router(&warden, &hits), Transport::InProcess).await;
    for _ in 0..5 {
        assert_eq!(app.get("/ip", None).await.status, StatusCode::OK);
    }
    assert_limited(&app.get("/ip", None).await);
    assert_eq!(app.get("/whoami", None).await.body, "unknown");
    let text = captured.text();
    assert_eq!(
        text.matches("into_make_service_with_connect_info").count(),
        1,
        "{text}"
    );
}

async fn a_global_limit_counts_every_request_but_the_exempt_ones(backend: Backend) {
    let warden = backend
        .store(
            builder()
                .global_limit("3/1m".parse().unwrap())
                .global_limit_exempt("/health"),
        )
        .await
        .build()
        .unwrap();
    let hits = Hits::default();
    let router = router(&warden, &hits)
        .route("/health", get(|| async { "ok" }))
        .layer(warden.layer());
    let app = Client::new(router, Transport::Socket).await;

    let answer = app.get("/ip", None).await;
    assert_eq!(answer.status, StatusCode::OK);
    // The route's own limit and the global one, as one list each.
    assert_eq!(
        answer.header("ratelimit-policy"),
        r#""5-per-1m";q=5;w=60, "global";q=3;w=60"#
    );
    assert_eq!(
        answer.header("ratelimit"),
        r#""5-per-1m";r=4;t=12, "global";r=2;t=20"#
    );
    // Unknown routes count too.
    let answer = app.get("/no-such-route", None).await;
    answer.assert_problem(StatusCode::NOT_FOUND, "not_found");
    assert_eq!(answer.header("ratelimit"), r#""global";r=1;t=40"#);
    assert_eq!(app.get("/whoami", None).await.status, StatusCode::OK);

    for path in ["/ip", "/no-such-route", "/whoami"] {
        let answer = app.get(path, None).await;
        assert_limited(&answer);
        assert_eq!(answer.body["limit"], "global");
        assert_eq!(answer.header("retry-after"), "20");
        assert_eq!(answer.header("ratelimit"), r#""global";r=0;t=60"#);
        // The hardened defaults still apply to the refusal.
        assert_eq!(answer.header("x-content-type-options"), "nosniff");
    }
    // The exempt path is never counted nor refused.
    for _ in 0..5 {
        let answer = app.get("/health", None).await;
        assert_eq!(answer.status, StatusCode::OK);
        assert_eq!(answer.header("ratelimit"), "");
    }
    assert_eq!(hits.count(), 1, "refused requests never reach a handler");
}

#[test]
fn global_limit_settings_are_checked_at_build() {
    let error = Warden::builder()
        .global_limit_exempt("/health")
        .build()
        .unwrap_err();
    assert_eq!(error, BuildError::ExemptWithoutGlobalLimit);
    let error = Warden::builder()
        .global_limit("10/1m".parse().unwrap())
        .global_limit_exempt("health")
        .build()
        .unwrap_err();
    assert_eq!(error, BuildError::ExemptPath("health".into()));
    for (text, reason) in [
        ("1000 15m", "not a rate"),
        ("x/15m", "not a count"),
        ("0/15m", "at least one"),
        ("10/15x", "malformed window"),
        ("10/0s", "is zero"),
    ] {
        let error = text.parse::<Rate>().unwrap_err().to_string();
        assert!(error.contains(reason), "{text}: {error}");
    }
}

on_both_stores!(
    a_global_limit_counts_every_request_but_the_exempt_ones,
    a_burst_of_n_then_429_with_standard_headers,
    exactly_n_of_200_concurrent_requests_are_admitted,
    retry_after_is_accurate,
    a_spoofed_forwarding_header_from_an_untrusted_peer_is_ignored,
    a_trusted_proxy_chain_is_honoured,
    ipv6_clients_are_keyed_by_their_56_prefix,
    ipv4_mapped_addresses_are_keyed_as_ipv4,
    skip_successful_counts_only_failures,
    skip_successful_under_a_concurrent_burst_of_successes_and_failures,
    skip_failed_counts_only_successes,
    stacked_limits_all_apply_and_a_refusal_consumes_none,
    per_user_limits_follow_the_user_not_the_address,
    per_ip_limits_run_before_authentication,
    header_and_custom_keys,
    named_policies_come_from_the_builder_and_are_shared,
    refused_requests_never_reach_the_handler_or_its_extractors,
    every_refusal_is_audited,
    without_peer_addresses_clients_share_one_count_and_a_warning_says_why,
    refused_tokens_are_given_back_under_skip_failed,
    a_user_limit_refusal_gives_back_the_address_count,
);
