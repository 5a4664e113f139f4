//! The benchmark server of warden (its contract: `examples/bench-server/README.md`): a bare
//! handler and the same kind of handler behind each guard, with warden's
//! macros and nothing else in the request path.

use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use warden::auth::Jwt;
use warden::limit::{MemoryStore, Store};
use warden::{Auth, Warden, protected, rate_limit, validate};

/// The issuer and audience tokens must carry.
pub const ISSUER: &str = "bench";

async fn health() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

async fn plain() -> Json<Value> {
    Json(json!({"userId": "anonymous"}))
}

/// Always admits: the limit measures the limiter's cost, not its refusals.
#[protected]
#[rate_limit(1_000_000_000, "1s", key = user)]
async fn protected_route(user: Auth) -> Json<Value> {
    Json(json!({"userId": user.sub()}))
}

#[rate_limit(100, "1m")]
async fn limited() -> Json<Value> {
    Json(json!({"ok": true}))
}

/// The register body of the reference API (`examples/api/README.md`).
#[derive(Deserialize, warden::Validate)]
#[serde(deny_unknown_fields)]
pub struct Register {
    #[validate(email, len(max = 255))]
    email: String,
    #[validate(len(12..=128), password)]
    password: String,
    #[validate(len(2..=100), regex = r"^[\p{L} '-]+$")]
    name: String,
}

#[validate]
async fn validated(Json(body): Json<Register>) -> Json<Value> {
    let _ = (&body.email, &body.password, &body.name);
    Json(json!({"ok": true}))
}

/// The router, given the HS256 secret (at least 32 bytes). Tokens need
/// `iss` and `aud` `bench`; their `typ` may be `JWT` or absent, so that any
/// JWT library can mint them.
pub fn app(secret: &[u8]) -> Result<Router, String> {
    app_with_store(secret, MemoryStore::new())
}

/// The router with its limits in `store` (a
/// [`RedisStore`](warden::redis::RedisStore) when `$REDIS_URL` is set).
pub fn app_with_store(secret: &[u8], store: impl Store) -> Result<Router, String> {
    let jwt = Jwt::hs256(secret)
        .map_err(|e| format!("BENCH_JWT_SECRET: {e}"))?
        .issuer(ISSUER)
        .audience(ISSUER)
        .accept_foreign_token_types();
    let warden = Warden::builder()
        .jwt(jwt)
        .store(store)
        .build()
        .map_err(|e| e.to_string())?;
    Ok(Router::new()
        .route("/health", get(health))
        .route("/bench/plain", get(plain))
        .route("/bench/protected", get(protected_route))
        .route("/bench/limited", get(limited))
        .route("/bench/validate", post(validated))
        .with_state(warden))
}
