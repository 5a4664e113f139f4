//! The routes of the benchmark server, wired by hand the way a careful
//! engineer would without warden: jsonwebtoken in a custom extractor,
//! governor's keyed limiters, validator on the body. Same contract, same
//! checks and the same response fields (`RateLimit-Policy` and `RateLimit`
//! on limited routes, `Retry-After` and a problem body on a 429), so that
//! the two servers can be load-tested side by side.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::{Arc, LazyLock};

use axum::Router;
use axum::extract::{ConnectInfo, FromRequestParts, Json, State};
use axum::http::HeaderValue;
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use governor::clock::{Clock, DefaultClock};
use governor::middleware::{StateInformationMiddleware, StateSnapshot};
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{NotUntil, Quota, RateLimiter};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use regex::Regex;
use serde::Deserialize;
use serde_json::{Value, json};
use validator::Validate;

/// What the handlers share.
#[derive(Clone)]
pub struct AppState {
    key: Arc<DecodingKey>,
    validation: Arc<Validation>,
    per_user: Arc<Limiter<String>>,
    per_user_min: Arc<governor::DefaultKeyedRateLimiter<String>>,
    per_ip: Arc<Limiter<IpAddr>>,
}

/// governor's keyed limiter, with the state snapshot the `RateLimit`
/// field needs.
pub type Limiter<K> =
    RateLimiter<K, DefaultKeyedStateStore<K>, DefaultClock, StateInformationMiddleware>;

/// The `RateLimit-Policy` value of the per-user limit.
pub const USER_POLICY: &str = "\"1000000000-per-1s\";q=1000000000;w=1";
/// The per-user limit's name, as the `RateLimit` field gives it.
pub const USER_LIMIT: &str = "1000000000-per-1s";
const IP_POLICY: &str = "\"100-per-1m\";q=100;w=60";
const IP_LIMIT: &str = "100-per-1m";

fn ceil_secs(duration: std::time::Duration) -> u64 {
    duration.as_secs() + u64::from(duration.subsec_nanos() > 0)
}

/// `RateLimit-Policy` and `RateLimit` on an admitted response.
pub fn admitted(
    mut response: Response,
    policy: &'static str,
    name: &str,
    state: &StateSnapshot,
) -> Response {
    let remaining = state.remaining_burst_capacity();
    let quota = state.quota();
    let reset = quota.replenish_interval() * (quota.burst_size().get() - remaining);
    let current = format!("\"{name}\";r={remaining};t={}", ceil_secs(reset));
    let headers = response.headers_mut();
    headers.insert("ratelimit-policy", HeaderValue::from_static(policy));
    if let Ok(current) = HeaderValue::try_from(current) {
        headers.insert("ratelimit", current);
    }
    response
}

/// The 429: `Retry-After`, both fields, and a problem body naming the limit.
fn refused(
    policy: &'static str,
    name: &str,
    quota: Quota,
    not_until: &NotUntil<<DefaultClock as Clock>::Instant>,
) -> Response {
    let retry = ceil_secs(not_until.wait_time_from(DefaultClock::default().now())).max(1);
    let reset = ceil_secs(quota.replenish_interval() * quota.burst_size().get());
    let body = json!({
        "type": "about:blank",
        "title": "Too Many Requests",
        "status": 429,
        "detail": format!("too many requests; retry in {retry} s"),
        "code": "rate_limited",
        "limit": name,
        "retryAfter": retry,
    });
    let mut response = (
        StatusCode::TOO_MANY_REQUESTS,
        [(header::CONTENT_TYPE, "application/problem+json")],
        body.to_string(),
    )
        .into_response();
    let headers = response.headers_mut();
    headers.insert(header::RETRY_AFTER, HeaderValue::from(retry));
    headers.insert("ratelimit-policy", HeaderValue::from_static(policy));
    if let Ok(current) = HeaderValue::try_from(format!("\"{name}\";r=0;t={reset}")) {
        headers.insert("ratelimit", current);
    }
    response
}

#[derive(Deserialize)]
struct Claims {
    sub: String,
}

struct User(String, StateSnapshot);

fn problem(status: StatusCode, code: &str) -> Response {
    let body = json!({"type": "about:blank", "status": status.as_u16(), "code": code});
    (
        status,
        [(header::CONTENT_TYPE, "application/problem+json")],
        body.to_string(),
    )
        .into_response()
}

impl FromRequestParts<AppState> for User {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, token)| scheme.eq_ignore_ascii_case("bearer") && token.len() <= 8192)
            .map(|(_, token)| token)
            .ok_or_else(|| problem(StatusCode::UNAUTHORIZED, "missing_token"))?;
        // The same typ rule as warden's bench server: JWT, at+jwt or none.
        let typ_ok = jsonwebtoken::decode_header(token).is_ok_and(|h| {
            h.typ
                .is_none_or(|t| t.eq_ignore_ascii_case("JWT") || t.eq_ignore_ascii_case("at+jwt"))
        });
        if !typ_ok {
            return Err(problem(StatusCode::UNAUTHORIZED, "invalid_token"));
        }
        let data = jsonwebtoken::decode::<Claims>(token, &state.key, &state.validation)
            .map_err(|_| problem(StatusCode::UNAUTHORIZED, "invalid_token"))?;
        match state.per_user.check_key(&data.claims.sub) {
            Ok(snapshot) => Ok(User(data.claims.sub, snapshot)),
            Err(not_until) => Err(refused(
                USER_POLICY,
                USER_LIMIT,
                not_until.quota(),
                &not_until,
            )),
        }
    }
}

/// The subject of a token, as the shortest hand-wired route reads it.
#[derive(Deserialize)]
struct Subject {
    sub: String,
}

/// `/bench/protected-min`: `/bench/protected` stripped to what a user
/// writes by hand: the bearer token decoded into a one-field struct by
/// jsonwebtoken (the same validation: HS256, `exp`, `iss`, `aud`, `sub`),
/// a governor keyed limiter on `sub`, and no `RateLimit` fields, no `typ`
/// check, no problem bodies.
struct MinimalUser(String);

impl FromRequestParts<AppState> for MinimalUser {
    type Rejection = StatusCode;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or(StatusCode::UNAUTHORIZED)?;
        let data = jsonwebtoken::decode::<Subject>(token, &state.key, &state.validation)
            .map_err(|_| StatusCode::UNAUTHORIZED)?;
        state
            .per_user_min
            .check_key(&data.claims.sub)
            .map_err(|_| StatusCode::TOO_MANY_REQUESTS)?;
        Ok(Self(data.claims.sub))
    }
}

async fn protected_min(MinimalUser(sub): MinimalUser) -> Json<Value> {
    Json(json!({"userId": sub}))
}

async fn health() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

async fn plain() -> Json<Value> {
    Json(json!({"userId": "anonymous"}))
}

async fn protected(User(sub, limit): User) -> Response {
    let response = Json(json!({"userId": sub})).into_response();
    admitted(response, USER_POLICY, USER_LIMIT, &limit)
}

async fn limited(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
) -> Response {
    match state.per_ip.check_key(&peer.ip()) {
        Ok(snapshot) => admitted(
            Json(json!({"ok": true})).into_response(),
            IP_POLICY,
            IP_LIMIT,
            &snapshot,
        ),
        Err(not_until) => refused(IP_POLICY, IP_LIMIT, not_until.quota(), &not_until),
    }
}

static NAME: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[\p{L} '-]+$").expect("pattern"));

fn strong(password: &str) -> Result<(), validator::ValidationError> {
    if warden::validate::PasswordPolicy::DEFAULT
        .check(password)
        .is_empty()
    {
        Ok(())
    } else {
        Err(validator::ValidationError::new("password"))
    }
}

#[derive(Deserialize, Validate)]
#[serde(deny_unknown_fields)]
struct Register {
    #[validate(email, length(max = 255))]
    email: String,
    #[validate(length(min = 12, max = 128), custom(function = "strong"))]
    password: String,
    #[validate(length(min = 2, max = 100), regex(path = *NAME))]
    name: String,
}

async fn validated(
    body: Result<Json<Register>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let Ok(Json(body)) = body else {
        return problem(StatusCode::BAD_REQUEST, "invalid_body");
    };
    match body.validate() {
        Ok(()) => Json(json!({"ok": true})).into_response(),
        Err(errors) => {
            let issues: Vec<Value> = errors
                .field_errors()
                .iter()
                .flat_map(|(field, list)| {
                    list.iter()
                        .map(move |e| json!({"path": field, "code": e.code}))
                })
                .collect();
            let body = json!({"type": "about:blank", "status": 400, "code": "validation_failed", "issues": issues});
            (
                StatusCode::BAD_REQUEST,
                [(header::CONTENT_TYPE, "application/problem+json")],
                body.to_string(),
            )
                .into_response()
        }
    }
}

/// jsonwebtoken's validation for the bench tokens: HS256, `exp`, `iss`,
/// `aud` and `sub` required, `nbf` honoured, 30 s of leeway, `iss` and
/// `aud` both `bench`.
pub fn validation() -> Validation {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    validation.leeway = 30;
    validation.validate_nbf = true;
    validation.set_issuer(&["bench"]);
    validation.set_audience(&["bench"]);
    validation
}

/// The per-user limiter: 1,000,000,000 per second, which always admits.
pub fn per_user_limiter() -> Limiter<String> {
    let quota = Quota::per_second(NonZeroU32::new(1_000_000_000).expect("non-zero"));
    RateLimiter::keyed(quota).with_middleware::<StateInformationMiddleware>()
}

/// The router, given the HS256 secret.
pub fn app(secret: &[u8]) -> Result<Router, String> {
    if secret.len() < 32 {
        return Err("BENCH_JWT_SECRET must be at least 32 bytes".into());
    }
    let per_ip = Quota::per_minute(NonZeroU32::new(100).expect("non-zero"));
    let state = AppState {
        key: Arc::new(DecodingKey::from_secret(secret).map_err(|e| e.to_string())?),
        validation: Arc::new(validation()),
        per_user: Arc::new(per_user_limiter()),
        per_user_min: Arc::new(RateLimiter::keyed(Quota::per_second(
            NonZeroU32::new(1_000_000_000).expect("non-zero"),
        ))),
        per_ip: Arc::new(
            RateLimiter::keyed(per_ip).with_middleware::<StateInformationMiddleware>(),
        ),
    };
    Ok(Router::new()
        .route("/health", get(health))
        .route("/bench/plain", get(plain))
        .route("/bench/protected", get(protected))
        .route("/bench/protected-min", get(protected_min))
        .route("/bench/limited", get(limited))
        .route("/bench/validate", post(validated))
        .with_state(state))
}
