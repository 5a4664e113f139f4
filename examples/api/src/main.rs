//! `cargo run -p api`: the reference API on `127.0.0.1:$PORT`.

use std::net::SocketAddr;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let config = api::Config::from_env()?;
    let router = api::app(&config).await?;
    let listener =
        tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], config.port))).await?;
    tracing::info!(addr = %listener.local_addr()?, "api listening");
    api::serve(router, listener, api::shutdown_signal()).await?;
    Ok(())
}
