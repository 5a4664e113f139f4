//! The cost of warden's guards, each beside the same check wired by hand,
//! all through a real `Router`, in one run.
//!
//! `cargo bench -p warden-tests --bench guards`

#![allow(missing_docs)]

use std::hint::black_box;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{ConnectInfo, FromRef, FromRequestParts};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use criterion::{Criterion, criterion_group, criterion_main};
use governor::{Quota, RateLimiter};
use hmac::{Hmac, KeyInit, Mac};
use http::request::Parts;
use http::{HeaderValue, Request, StatusCode, header};
use jsonwebtoken::{DecodingKey, Validation};
use tower::ServiceExt;
use tower_governor::GovernorLayer;
use tower_governor::governor::GovernorConfigBuilder;
use warden::limit::{LimitCheck, MemoryStore, Rate, Store};
use warden::{Auth, protected, rate_limit, validate};
use warden_tests::HandClaims;

const SECRET: &[u8] = b"benchmark secret, at least 32 bytes long";

async fn bare() -> &'static str {
    "ok"
}

#[protected]
async fn guarded(user: Auth) -> &'static str {
    black_box(user.sub());
    "ok"
}

/// The register body of the reference API, validated three ways with the
/// same rules.
mod register {
    use std::sync::LazyLock;

    use regex::Regex;
    use serde::Deserialize;
    use warden::validate::PasswordPolicy;

    #[derive(Deserialize, warden::Validate)]
    #[serde(deny_unknown_fields)]
    pub(crate) struct Warden {
        #[validate(email, len(max = 255))]
        pub(crate) email: String,
        #[validate(len(12..=128), password)]
        pub(crate) password: String,
        #[validate(len(2..=100), regex = r"^[\p{L}\s'-]+$")]
        pub(crate) name: String,
    }

    static NAME: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"^[\p{L}\s'-]+$").expect("pattern"));

    fn strong(password: &str) -> bool {
        PasswordPolicy::DEFAULT.check(password).is_empty()
    }

    fn validator_password(password: &str) -> Result<(), validator::ValidationError> {
        if strong(password) {
            Ok(())
        } else {
            Err(validator::ValidationError::new("password"))
        }
    }

    #[derive(Deserialize, validator::Validate)]
    #[serde(deny_unknown_fields)]
    pub(crate) struct WithValidator {
        #[validate(email, length(max = 255))]
        pub(crate) email: String,
        #[validate(length(min = 12, max = 128), custom(function = "validator_password"))]
        pub(crate) password: String,
        #[validate(length(min = 2, max = 100), regex(path = *NAME))]
        pub(crate) name: String,
    }

    fn garde_password(password: &str, _: &()) -> garde::Result {
        if strong(password) {
            Ok(())
        } else {
            Err(garde::Error::new("weak password"))
        }
    }

    #[derive(Deserialize, garde::Validate)]
    #[serde(deny_unknown_fields)]
    pub(crate) struct WithGarde {
        #[garde(email, length(chars, max = 255))]
        pub(crate) email: String,
        #[garde(length(chars, min = 12, max = 128), custom(garde_password))]
        pub(crate) password: String,
        #[garde(length(chars, min = 2, max = 100), pattern(r"^[\p{L}\s'-]+$"))]
        pub(crate) name: String,
    }
}

/// Always admits: measures the limiter's cost, not its refusals.
#[rate_limit(1_000_000_000, "1s")]
async fn limited() -> &'static str {
    "ok"
}

/// Authentication and a per-user limit that always admits, as on the
/// bench server's `/bench/protected`.
#[protected]
#[rate_limit(1_000_000_000, "1s", key = user)]
async fn guarded_limited(user: Auth) -> &'static str {
    black_box(user.sub());
    "ok"
}

/// The register body, validated on its way through the router.
#[validate]
async fn registered(Json(body): Json<register::Warden>) -> &'static str {
    black_box(&body.email);
    "ok"
}

/// The same route wired by hand: axum's `Json`, then validator, with a
/// problem+json answer for either failure.
async fn hand_registered(
    body: Result<Json<register::WithValidator>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let Ok(Json(body)) = body else {
        return (StatusCode::BAD_REQUEST, "invalid body").into_response();
    };
    match validator::Validate::validate(&body) {
        Ok(()) => {
            black_box(&body.email);
            "ok".into_response()
        }
        Err(errors) => (StatusCode::BAD_REQUEST, errors.to_string()).into_response(),
    }
}

/// What a careful engineer writes by hand for the same policy: bearer
/// parsing, a size bound, the `typ` and `kid` checks, and jsonwebtoken's
/// validation of exp/nbf/iss/aud/sub.
#[derive(Clone)]
struct HandKeys {
    kid: String,
    key: DecodingKey,
    validation: Arc<Validation>,
    per_user: Arc<handwired_server::Limiter<String>>,
}

struct HandAuth(HandClaims);

struct Unauthorized;

impl IntoResponse for Unauthorized {
    fn into_response(self) -> Response {
        (StatusCode::UNAUTHORIZED, "unauthorized").into_response()
    }
}

impl<S> FromRequestParts<S> for HandAuth
where
    S: Send + Sync,
    HandKeys: FromRef<S>,
{
    type Rejection = Unauthorized;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let keys = HandKeys::from_ref(state);
        let value = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or(Unauthorized)?;
        let (scheme, token) = value.split_once(' ').ok_or(Unauthorized)?;
        if !scheme.eq_ignore_ascii_case("bearer") || token.len() > 8192 {
            return Err(Unauthorized);
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| Unauthorized)?;
        if !header.typ.is_some_and(|t| t.eq_ignore_ascii_case("at+jwt")) {
            return Err(Unauthorized);
        }
        if header.kid.as_deref() != Some(keys.kid.as_str()) {
            return Err(Unauthorized);
        }
        let data = jsonwebtoken::decode::<HandClaims>(token, &keys.key, &keys.validation)
            .map_err(|_| Unauthorized)?;
        Ok(HandAuth(data.claims))
    }
}

async fn hand_guarded(HandAuth(claims): HandAuth) -> &'static str {
    black_box(&claims.sub);
    "ok"
}

/// The per-user limit by hand: governor keyed by subject after the
/// jsonwebtoken extractor, a 429 past it, and the `RateLimit-Policy` and
/// `RateLimit` fields the bench server sends on every limited response, written
/// as the hand-wired twin server writes them.
async fn hand_guarded_limited(
    axum::extract::State(keys): axum::extract::State<HandKeys>,
    HandAuth(claims): HandAuth,
) -> Response {
    match keys.per_user.check_key(&claims.sub) {
        Ok(snapshot) => handwired_server::admitted(
            "ok".into_response(),
            handwired_server::USER_POLICY,
            handwired_server::USER_LIMIT,
            &snapshot,
        ),
        Err(_) => StatusCode::TOO_MANY_REQUESTS.into_response(),
    }
}

/// Makes the request a route is measured with.
type MakeRequest = Box<dyn Fn() -> Request<Body>>;

fn post_json(path: &str, body: &'static str) -> Request<Body> {
    let mut request = Request::post(path)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body))
        .expect("request");
    request
        .extensions_mut()
        .insert(ConnectInfo(SocketAddr::from(([203, 0, 113, 7], 40000))));
    request
}

fn request(path: &str, authorization: &HeaderValue) -> Request<Body> {
    let mut request = Request::get(path)
        .header(header::AUTHORIZATION, authorization.clone())
        .body(Body::empty())
        .expect("request");
    // As axum's `into_make_service_with_connect_info` would.
    request
        .extensions_mut()
        .insert(ConnectInfo(SocketAddr::from(([203, 0, 113, 7], 40000))));
    request
}

/// Requests to `path` with `tokens` in turn, from the counter `next`
/// (shared by the routes that must not see a token twice).
fn in_turn(
    path: &'static str,
    tokens: &Arc<Vec<HeaderValue>>,
    next: &Arc<std::sync::atomic::AtomicUsize>,
) -> MakeRequest {
    let (tokens, next) = (Arc::clone(tokens), Arc::clone(next));
    Box::new(move || {
        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % tokens.len();
        request(path, &tokens[i])
    })
}

/// Polls a future that is ready at once (the memory store's).
fn ready<F: std::future::Future + Unpin>(mut future: F) -> F::Output {
    match Pin::new(&mut future).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(value) => value,
        Poll::Pending => panic!("the memory store answers at once"),
    }
}

fn guards(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let (warden, token) = warden_tests::bench_warden(SECRET);
    let authorization = HeaderValue::from_str(&format!("Bearer {token}")).expect("header");

    let bare_router = Router::new().route("/bare", get(bare));
    let warden_router = Router::new()
        .route("/protected", get(guarded))
        .with_state(warden.clone());
    let hand_keys = HandKeys {
        kid: "k1".into(),
        key: DecodingKey::from_secret(SECRET).expect("key"),
        validation: Arc::new(handwired_server::validation()),
        per_user: Arc::new(handwired_server::per_user_limiter()),
    };
    let hand_router = Router::new()
        .route("/hand", get(hand_guarded))
        .route("/hand-limited", get(hand_guarded_limited))
        .with_state(hand_keys.clone());
    let warden_limited_user = Router::new()
        .route("/protected-limited", get(guarded_limited))
        .with_state(warden.clone());
    let warden_validate = Router::new()
        .route("/register", post(registered))
        .with_state(warden.clone());
    let hand_validate = Router::new().route("/register", post(hand_registered));
    let limited_router = Router::new()
        .route("/limited", get(limited))
        .with_state(warden.clone());
    let governor_config = GovernorConfigBuilder::default()
        .per_nanosecond(1)
        .burst_size(1_000_000_000)
        .use_headers()
        .finish()
        .expect("governor config");
    let governor_router = Router::new()
        .route("/governed", get(bare))
        .layer(GovernorLayer::new(governor_config));

    // Every route must answer 200 before it is measured.
    for (router, path) in [
        (&bare_router, "/bare"),
        (&warden_router, "/protected"),
        (&hand_router, "/hand"),
        (&warden_limited_user, "/protected-limited"),
        (&hand_router, "/hand-limited"),
        (&limited_router, "/limited"),
        (&governor_router, "/governed"),
    ] {
        let response = runtime
            .block_on(router.clone().oneshot(request(path, &authorization)))
            .expect("response");
        assert_eq!(response.status(), StatusCode::OK, "{path}");
    }

    // Tokens seen for the first time: 120,000 distinct ones (the same
    // user, each with its own `jti`), taken in turn, so that the cache of
    // verified tokens (4,096) never holds the next one: every request pays
    // the full verification and the cache's insertion.
    let cold_tokens: Arc<Vec<HeaderValue>> = Arc::new(
        (0..120_000)
            .map(|_| {
                let token = warden
                    .issue_access_token(
                        &warden::auth::AccessClaims::new("user-1")
                            .roles([warden_tests::BenchRole::User]),
                    )
                    .expect("token")
                    .token;
                HeaderValue::from_str(&format!("Bearer {token}")).expect("header")
            })
            .collect(),
    );
    let next_cold = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    // First sight with the token's bytes in the CPU cache, as a server
    // sees a token it has just read from its socket: 64 distinct tokens in
    // turn (25 KiB), through a `Warden` whose cache of verified tokens
    // holds one token and notes two, so that no token is ever kept. Every
    // request pays the cache's lookup, the full verification and the
    // noting of its hash, and reads no byte from DRAM the hot route does
    // not.
    let first_sight_warden = warden::Warden::builder()
        .jwt(warden_tests::bench_jwt(SECRET).token_cache(1))
        .build()
        .expect("warden");
    let first_sight_router = Router::new()
        .route("/protected-limited", get(guarded_limited))
        .with_state(first_sight_warden);
    let first_sight_tokens: Arc<Vec<HeaderValue>> = Arc::new(cold_tokens[..64].to_vec());
    let next_first_sight = Arc::new(std::sync::atomic::AtomicUsize::new(0));

    let register_body =
        r#"{"email":"ana@example.com","password":"Str0ng&Secure!","name":"José Ñúñez"}"#;
    for router in [&warden_validate, &hand_validate] {
        let response = runtime
            .block_on(
                router
                    .clone()
                    .oneshot(post_json("/register", register_body)),
            )
            .expect("response");
        assert_eq!(response.status(), StatusCode::OK, "/register");
    }

    // The floor: HMAC-SHA256 over the token's signing input, compared with
    // its signature, and nothing else (no base64, no JSON, no claims). Two
    // forms: absorbing the key on every call, as jsonwebtoken does, and
    // from a state with the key already absorbed, as warden does.
    let (message, signature) = token.rsplit_once('.').expect("three segments");
    let signature = URL_SAFE_NO_PAD.decode(signature).expect("base64url");
    let keyed = Hmac::<sha2::Sha256>::new_from_slice(SECRET).expect("key");
    let mut group = c.benchmark_group("guards");
    group.bench_function("hmac_floor_key_per_call", |b| {
        b.iter(|| {
            let mut mac = Hmac::<sha2::Sha256>::new_from_slice(SECRET).expect("key");
            mac.update(black_box(message.as_bytes()));
            mac.verify_slice(black_box(&signature)).expect("valid")
        })
    });
    group.bench_function("hmac_floor_key_absorbed", |b| {
        b.iter(|| {
            let mut mac = keyed.clone();
            mac.update(black_box(message.as_bytes()));
            mac.verify_slice(black_box(&signature)).expect("valid")
        })
    });
    group.bench_function("jsonwebtoken_decode", |b| {
        b.iter(|| {
            jsonwebtoken::decode::<HandClaims>(
                black_box(&token),
                &hand_keys.key,
                &hand_keys.validation,
            )
            .expect("valid")
        })
    });
    // Every route as (name, router, request).
    let get = |path: &'static str| {
        let authorization = authorization.clone();
        Box::new(move || request(path, &authorization)) as MakeRequest
    };
    let cold = |path| in_turn(path, &cold_tokens, &next_cold);
    let first_sight = |path| in_turn(path, &first_sight_tokens, &next_first_sight);
    let routes: Vec<(&str, &Router, MakeRequest)> = vec![
        ("bare", &bare_router, get("/bare")),
        ("protected_warden", &warden_router, get("/protected")),
        ("protected_warden_cold", &warden_router, cold("/protected")),
        (
            "protected_user_limit_warden_cold",
            &warden_limited_user,
            cold("/protected-limited"),
        ),
        (
            "protected_user_limit_warden_first_sight",
            &first_sight_router,
            first_sight("/protected-limited"),
        ),
        ("protected_handwired", &hand_router, get("/hand")),
        (
            "protected_user_limit_warden",
            &warden_limited_user,
            get("/protected-limited"),
        ),
        (
            "protected_user_limit_handwired",
            &hand_router,
            get("/hand-limited"),
        ),
        ("rate_limit_warden", &limited_router, get("/limited")),
        (
            "rate_limit_tower_governor",
            &governor_router,
            get("/governed"),
        ),
        (
            "validate_route_warden",
            &warden_validate,
            Box::new(move || post_json("/register", register_body)),
        ),
        (
            "validate_route_handwired",
            &hand_validate,
            Box::new(move || post_json("/register", register_body)),
        ),
    ];

    for (name, router, make) in &routes {
        group.bench_function(*name, |b| {
            b.to_async(&runtime).iter(|| {
                let router = (*router).clone();
                let request = make();
                async move { router.oneshot(request).await.expect("response") }
            })
        });
    }
    group.finish();

    // Under `--profile-time` one route is being profiled: the paired
    // table would only blur its profile.
    if std::env::args().any(|arg| arg == "--profile-time") {
        return;
    }
    paired(&runtime, &routes, || {
        let mut mac = keyed.clone();
        mac.update(black_box(message.as_bytes()));
        mac.verify_slice(black_box(&signature)).expect("valid");
    });

    // Validating the register body: warden against validator and garde,
    // the same rules, a valid body (the common case) and an invalid one.
    let mut group = c.benchmark_group("validate_register");
    let valid = r#"{"email":"ana@example.com","password":"Str0ng&Secure!","name":"José Ñúñez"}"#;
    let invalid = r#"{"email":"ana-at-example","password":"weakpassword","name":"R2D2"}"#;
    for (case, body) in [("valid", valid), ("invalid", invalid)] {
        let ours: register::Warden = serde_json::from_str(body).expect("body");
        let theirs: register::WithValidator = serde_json::from_str(body).expect("body");
        let garde_body: register::WithGarde = serde_json::from_str(body).expect("body");
        // All three agree before they are timed.
        let expect_ok = case == "valid";
        assert_eq!(warden::Validate::validate(&ours).is_ok(), expect_ok);
        assert_eq!(validator::Validate::validate(&theirs).is_ok(), expect_ok);
        assert_eq!(garde::Validate::validate(&garde_body).is_ok(), expect_ok);
        group.bench_function(format!("warden_{case}"), |b| {
            b.iter(|| warden::Validate::validate(black_box(&ours)))
        });
        group.bench_function(format!("validator_{case}"), |b| {
            b.iter(|| validator::Validate::validate(black_box(&theirs)))
        });
        group.bench_function(format!("garde_{case}"), |b| {
            b.iter(|| garde::Validate::validate(black_box(&garde_body)))
        });
    }
    group.finish();

    // The limiter alone: warden's GCRA over its sharded store against
    // governor's keyed limiter, one key, always admitting.
    let mut group = c.benchmark_group("gcra_check");
    let store = MemoryStore::new();
    let rate = Rate::new(1_000_000_000, Duration::from_secs(1)).expect("rate");
    let key = [4u8, 203, 0, 113, 7];
    group.bench_function("warden_memory_store", |b| {
        b.iter(|| {
            let checks = [LimitCheck {
                policy: "bench::limited#0",
                key: black_box(&key),
                rate,
                cost: 1,
            }];
            let verdict = ready(store.check(&checks)).expect("memory store");
            assert!(verdict.admitted());
            verdict
        })
    });
    let keyed = RateLimiter::keyed(Quota::per_second(
        std::num::NonZeroU32::new(1_000_000_000).expect("non-zero"),
    ));
    let ip: std::net::IpAddr = [203, 0, 113, 7].into();
    group.bench_function("governor_keyed", |b| {
        b.iter(|| keyed.check_key(black_box(&ip)).expect("admitted"))
    });
    group.finish();
}

/// Nanoseconds per request of one route, over `n` requests.
fn per_request(
    runtime: &tokio::runtime::Runtime,
    router: &Router,
    make: &MakeRequest,
    n: u32,
) -> f64 {
    let start = Instant::now();
    runtime.block_on(async {
        for _ in 0..n {
            let response = router.clone().oneshot(make()).await.expect("response");
            black_box(response);
        }
    });
    start.elapsed().as_nanos() as f64 / f64::from(n)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Ratios measured pair by pair in alternation: each round times warden's
/// route and its hand-wired twin back to back, so a machine whose speed
/// drifts over minutes (a shared VM) moves both alike; the median of the
/// per-round ratios is the figure. Also the cost of `#[protected]` plus a
/// per-user limit beyond the bare route and the HMAC floor, per round.
fn paired(
    runtime: &tokio::runtime::Runtime,
    routes: &[(&str, &Router, MakeRequest)],
    floor: impl Fn(),
) {
    const ROUNDS: usize = 41;
    const N: u32 = 2_000;
    let route = |name: &str| {
        let (_, router, make) = routes.iter().find(|(n, _, _)| *n == name).expect("route");
        (*router, make)
    };
    println!("\npaired ratios ({ROUNDS} alternating rounds of {N} requests each):");
    println!(
        "{:<32} {:>10} {:>10} {:>8}",
        "warden / hand-wired", "warden ns", "hand ns", "ratio"
    );
    for (ours, theirs) in [
        ("bare", "bare"),
        ("protected_warden", "protected_handwired"),
        ("protected_warden_cold", "protected_handwired"),
        (
            "protected_user_limit_warden",
            "protected_user_limit_handwired",
        ),
        (
            "protected_user_limit_warden_cold",
            "protected_user_limit_handwired",
        ),
        (
            "protected_user_limit_warden_first_sight",
            "protected_user_limit_handwired",
        ),
        ("rate_limit_warden", "rate_limit_tower_governor"),
        ("validate_route_warden", "validate_route_handwired"),
    ] {
        let (a, make_a) = route(ours);
        let (b, make_b) = route(theirs);
        let (mut xs, mut ys, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..ROUNDS {
            let x = per_request(runtime, a, make_a, N);
            let y = per_request(runtime, b, make_b, N);
            xs.push(x);
            ys.push(y);
            ratios.push(x / y);
        }
        println!(
            "{:<32} {:>10.0} {:>10.0} {:>8.3}",
            ours,
            median(xs),
            median(ys),
            median(ratios)
        );
    }

    let (bare, make_bare) = route("bare");
    for (name, what) in [
        (
            "protected_user_limit_warden",
            "one token, seen again (warm)",
        ),
        (
            "protected_user_limit_warden_first_sight",
            "a token seen for the first time, its bytes in the CPU cache (first sight)",
        ),
        (
            "protected_user_limit_warden_cold",
            "a token seen for the first time, among 120,000 read from DRAM (cold)",
        ),
    ] {
        let (guarded, make_guarded) = route(name);
        let (mut beyond, mut floors, mut costs) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..ROUNDS {
            let start = Instant::now();
            for _ in 0..N {
                floor();
            }
            let floor_ns = start.elapsed().as_nanos() as f64 / f64::from(N);
            let cost = per_request(runtime, guarded, make_guarded, N)
                - per_request(runtime, bare, make_bare, N);
            floors.push(floor_ns);
            costs.push(cost);
            beyond.push(cost - floor_ns);
        }
        println!(
            "#[protected] + per-user limit, {what}: {:.0} ns over the bare route; HMAC floor {:.0} ns; {:.0} ns beyond the floor",
            median(costs),
            median(floors),
            median(beyond)
        );
    }
}

criterion_group!(benches, guards);
criterion_main!(benches);
