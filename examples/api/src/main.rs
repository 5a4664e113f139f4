//! `cargo run -p api`: the reference API on `127.0.0.1:$PORT`.
//! `api grant-admin EMAIL`: gives the user with that email the `admin`
//! role, in the database of `$DATABASE_URL`.
//! `api policy [--json]`: prints every route's policy (who may call it,
//! its limits, its validated input).

use std::net::SocketAddr;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        [] => serve().await,
        ["grant-admin", email] => grant_admin(email).await,
        ["policy"] => {
            print!("{}", api::routes().policy_table());
            Ok(())
        }
        ["policy", "--json"] => {
            println!("{:#}", api::routes().policy_table().to_json());
            Ok(())
        }
        _ => Err("usage: api                    serve the API\n       api grant-admin EMAIL  give that user the admin role\n       api policy [--json]    print every route's policy".into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("api: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn grant_admin(email: &str) -> Result<(), Box<dyn std::error::Error>> {
    let config = api::Config::from_env()?;
    let db = api::database(&config.database_url).await?;
    if !api::grant_admin(&db, email).await? {
        return Err(format!("no user has the email {email:?}; nothing was changed").into());
    }
    println!(
        "{} is now an admin; their next token (login or refresh) carries the role",
        email.trim().to_lowercase()
    );
    Ok(())
}

async fn serve() -> Result<(), Box<dyn std::error::Error>> {
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
