//! `cargo run --release -p handwired-server`: the hand-wired twin of the
//! benchmark server on `127.0.0.1:$PORT` (3002).

use std::net::SocketAddr;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let secret = std::env::var("BENCH_JWT_SECRET")
        .map_err(|_| "BENCH_JWT_SECRET must be set (at least 32 bytes)")?;
    let port: u16 = match std::env::var("PORT") {
        Ok(port) => port
            .parse()
            .map_err(|_| format!("PORT is not a port number: {port:?}"))?,
        Err(_) => 3002,
    };
    let app = handwired_server::app(secret.as_bytes())?;
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port))).await?;
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await?;
    Ok(())
}
