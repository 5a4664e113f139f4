//! `cargo run -p bench-server`: the benchmark server on `127.0.0.1:$PORT`
//! (3001), with `$BENCH_JWT_SECRET` as the HS256 secret (required), and its
//! limits in Redis when `$REDIS_URL` is set.

use std::net::SocketAddr;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Errors only by default: an audit line per refused request would
    // measure the terminal, not the guards (RUST_LOG=warn shows them).
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "error".into()),
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
    let app = match std::env::var("REDIS_URL").ok().filter(|u| !u.is_empty()) {
        Some(url) => {
            let redis = warden::redis::Redis::config(url)
                .connect()
                .await
                .map_err(|e| format!("REDIS_URL: {e}"))?;
            bench_server::app_with_store(secret.as_bytes(), warden::redis::RedisStore::new(&redis))?
        }
        None => bench_server::app(secret.as_bytes())?,
    };
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port))).await?;
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await?;
    Ok(())
}
