//! The routes of the benchmark server, wired by hand the way a careful
//! engineer would without warden: jsonwebtoken in a custom extractor,
//! governor's keyed limiters, validator on the body. Same contract, same
//! checks, so that the two servers can be load-tested side by side.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::{Arc, LazyLock};

use axum::Router;
use axum::extract::{ConnectInfo, FromRequestParts, Json, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
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
    per_user: Arc<DefaultKeyedRateLimiter<String>>,
    per_ip: Arc<DefaultKeyedRateLimiter<IpAddr>>,
}

#[derive(Deserialize)]
struct Claims {
    sub: String,
}

struct User(String);

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
        if state.per_user.check_key(&data.claims.sub).is_err() {
            return Err(problem(StatusCode::TOO_MANY_REQUESTS, "rate_limited"));
        }
        Ok(User(data.claims.sub))
    }
}

async fn health() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

async fn plain() -> Json<Value> {
    Json(json!({"userId": "anonymous"}))
}

async fn protected(User(sub): User) -> Json<Value> {
    Json(json!({"userId": sub}))
}

async fn limited(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
) -> Response {
    match state.per_ip.check_key(&peer.ip()) {
        Ok(()) => Json(json!({"ok": true})).into_response(),
        Err(_) => problem(StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
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

/// The router, given the HS256 secret.
pub fn app(secret: &[u8]) -> Result<Router, String> {
    if secret.len() < 32 {
        return Err("BENCH_JWT_SECRET must be at least 32 bytes".into());
    }
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    validation.leeway = 30;
    validation.validate_nbf = true;
    validation.set_issuer(&["bench"]);
    validation.set_audience(&["bench"]);
    let per_user = Quota::per_second(NonZeroU32::new(1_000_000_000).expect("non-zero"));
    let per_ip = Quota::per_minute(NonZeroU32::new(100).expect("non-zero"));
    let state = AppState {
        key: Arc::new(DecodingKey::from_secret(secret).map_err(|e| e.to_string())?),
        validation: Arc::new(validation),
        per_user: Arc::new(RateLimiter::keyed(per_user)),
        per_ip: Arc::new(RateLimiter::keyed(per_ip)),
    };
    Ok(Router::new()
        .route("/health", get(health))
        .route("/bench/plain", get(plain))
        .route("/bench/protected", get(protected))
        .route("/bench/limited", get(limited))
        .route("/bench/validate", post(validated))
        .with_state(state))
}
