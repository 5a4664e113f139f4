//! The benchmark server of warden (see `api-contract.md`, section 2).
//!
//! The skeleton: `GET /health`, `GET /bench/plain` and `GET /bench/protected`
//! (authentication only for now) on `127.0.0.1:$PORT` (default 3001), with
//! `$BENCH_JWT_SECRET` as the HS256 secret.

use std::net::SocketAddr;

use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};
use warden::auth::Jwt;
use warden::{Auth, Warden, protected};

async fn health() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

async fn plain() -> Json<Value> {
    Json(json!({"userId": "anonymous"}))
}

#[protected]
async fn protected_route(user: Auth) -> Json<Value> {
    Json(json!({"userId": user.sub}))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .init();
    let secret = std::env::var("BENCH_JWT_SECRET")
        .map_err(|_| "BENCH_JWT_SECRET must be set (at least 32 bytes)")?;
    let port: u16 = match std::env::var("PORT") {
        Ok(port) => port
            .parse()
            .map_err(|_| format!("PORT is not a port number: {port:?}"))?,
        Err(_) => 3001,
    };
    let warden = Warden::builder()
        .jwt(
            Jwt::hs256(secret.as_bytes())?
                .issuer("bench")
                .audience("bench")
                .accept_foreign_token_types(),
        )
        .build()?;
    let app = Router::new()
        .route("/health", get(health))
        .route("/bench/plain", get(plain))
        .route("/bench/protected", get(protected_route))
        .with_state(warden);
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port))).await?;
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await?;
    Ok(())
}
