//! The reference API of warden: users in SQLite, access and refresh
//! tokens, rate limits, validation and hardened HTTP defaults, built only
//! with warden's public API. Its HTTP contract is `examples/api/README.md`.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use axum::Json;
use axum::extract::{FromRef, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};
use utoipa::OpenApi as _;
use utoipa::ToSchema;
use warden::auth::refresh::{RefreshError, RefreshTokens};
use warden::auth::{AccessClaims, Jwt, Role as _, Session, SessionError};
use warden::http::{Cors, Problem};
use warden::limit::{KeyedLimit, Rate};
use warden::oidc::{Identity, Provider, SignIn, SignInError};
use warden::openapi::Describe;
use warden::password::{Passwords, Verification};
use warden::redis::{Redis, RedisStore, RedisTokenStore};
use warden::routing::{Router, get, post};
use warden::{Auth, Warden, protected, public, rate_limit, validate};

/// The roles of the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, warden::Role)]
pub enum Role {
    /// May read `/api/admin`.
    Admin,
    /// Every registered user.
    User,
}

/// Where the API's configuration comes from: the environment.
#[derive(Debug, Clone)]
pub struct Config {
    /// `$PORT` (3000).
    pub port: u16,
    /// `$DATABASE_URL` (`sqlite://data/api.db?mode=rwc`).
    pub database_url: String,
    /// `$JWT_SECRET`: at least 32 bytes; `None` makes a random one.
    pub jwt_secret: Option<String>,
    /// `$JWT_ISSUER` (`warden-api`).
    pub issuer: String,
    /// `$JWT_AUDIENCE` (`warden-api`).
    pub audience: String,
    /// `$ALLOWED_ORIGINS`, comma-separated.
    pub allowed_origins: Vec<String>,
    /// `$ADMIN_EMAILS`, comma-separated, compared case-insensitively: the
    /// addresses that get `admin` when they sign in through an OpenID
    /// Connect provider that reports them verified. A password
    /// registration never gets it (see [`grant_admin`]).
    pub admin_emails: Vec<String>,
    /// `$TRUSTED_PROXIES`, comma-separated IPs or CIDRs.
    pub trusted_proxies: Vec<String>,
    /// `$REDIS_URL`: limits and refresh tokens in Redis, shared by every
    /// instance on it; in memory when unset.
    pub redis_url: Option<String>,
    /// `$GLOBAL_RATE_LIMIT` (`1000/15m`): one per-address limit over every
    /// request but `GET /health`; none when unset.
    pub global_rate_limit: Option<Rate>,
    /// `$REQUIRE_HTTPS=1`: plain-HTTP requests (by the connection, or as a
    /// trusted proxy reports) get 308 to `https` (GET, HEAD) or 403; not
    /// `/health`.
    pub require_https: bool,
    /// `$PUBLIC_URL`: the API's external base URL, from which the
    /// sign-in redirect URIs are made (`http://127.0.0.1:$PORT`).
    pub public_url: Option<String>,
    /// The OpenID Connect providers users may sign in with: `oidc` from
    /// `$OIDC_ISSUER`, `$OIDC_CLIENT_ID` and `$OIDC_CLIENT_SECRET`, and
    /// `google` from `$GOOGLE_CLIENT_ID` and `$GOOGLE_CLIENT_SECRET`.
    pub providers: Vec<ProviderConfig>,
}

/// One configured sign-in provider.
#[derive(Clone)]
pub struct ProviderConfig {
    /// The path segment of its routes: `oidc` or `google`.
    pub name: String,
    /// Its issuer identifier.
    pub issuer: String,
    /// This API's client id with it.
    pub client_id: String,
    /// This API's client secret with it.
    pub client_secret: String,
}

impl std::fmt::Debug for ProviderConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderConfig")
            .field("name", &self.name)
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("client_secret", &"[redacted]")
            .finish()
    }
}

/// Reads one provider's variables: all of them, or none.
fn provider_from_env(
    var: &dyn Fn(&str) -> Option<String>,
    name: &str,
    issuer: Option<String>,
    names: [&str; 2],
) -> Result<Option<ProviderConfig>, String> {
    let [id_var, secret_var] = names;
    match (issuer, var(id_var), var(secret_var)) {
        (Some(issuer), Some(client_id), Some(client_secret)) => Ok(Some(ProviderConfig {
            name: name.to_owned(),
            issuer,
            client_id,
            client_secret,
        })),
        (None, None, None) => Ok(None),
        _ => Err(format!(
            "the {name} sign-in needs all of its variables ({id_var}, {secret_var}{}), or none",
            if name == "oidc" { ", OIDC_ISSUER" } else { "" }
        )),
    }
}

fn list(value: Option<String>) -> Vec<String> {
    value
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

impl Config {
    /// Reads the environment.
    pub fn from_env() -> Result<Self, String> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let port = match var("PORT") {
            Some(port) => port
                .parse()
                .map_err(|_| format!("PORT is not a port number: {port:?}"))?,
            None => 3000,
        };
        Ok(Self {
            port,
            database_url: var("DATABASE_URL")
                .unwrap_or_else(|| "sqlite://data/api.db?mode=rwc".into()),
            jwt_secret: var("JWT_SECRET"),
            issuer: var("JWT_ISSUER").unwrap_or_else(|| "warden-api".into()),
            audience: var("JWT_AUDIENCE").unwrap_or_else(|| "warden-api".into()),
            allowed_origins: list(var("ALLOWED_ORIGINS")),
            admin_emails: list(var("ADMIN_EMAILS")),
            trusted_proxies: list(var("TRUSTED_PROXIES")),
            redis_url: var("REDIS_URL"),
            global_rate_limit: var("GLOBAL_RATE_LIMIT")
                .map(|rate| rate.parse().map_err(|e| format!("GLOBAL_RATE_LIMIT: {e}")))
                .transpose()?,
            require_https: match var("REQUIRE_HTTPS").as_deref() {
                None | Some("0") => false,
                Some("1") => true,
                Some(other) => return Err(format!("REQUIRE_HTTPS is 1 or 0, not {other:?}")),
            },
            public_url: var("PUBLIC_URL"),
            providers: {
                let oidc = provider_from_env(
                    &var,
                    "oidc",
                    var("OIDC_ISSUER"),
                    ["OIDC_CLIENT_ID", "OIDC_CLIENT_SECRET"],
                )?;
                let google_issuer = var("GOOGLE_CLIENT_ID")
                    .or_else(|| var("GOOGLE_CLIENT_SECRET"))
                    .map(|_| warden::oidc::GOOGLE_ISSUER.to_owned());
                let google = provider_from_env(
                    &var,
                    "google",
                    google_issuer,
                    ["GOOGLE_CLIENT_ID", "GOOGLE_CLIENT_SECRET"],
                )?;
                oidc.into_iter().chain(google).collect()
            },
        })
    }

    /// A configuration for tests: an in-memory database and a fixed secret.
    pub fn for_tests() -> Self {
        Self {
            port: 0,
            database_url: "sqlite::memory:".into(),
            jwt_secret: Some("a test secret of at least thirty-two bytes!".into()),
            issuer: "warden-api".into(),
            audience: "warden-api".into(),
            allowed_origins: Vec::new(),
            admin_emails: Vec::new(),
            trusted_proxies: Vec::new(),
            redis_url: None,
            global_rate_limit: None,
            require_https: false,
            public_url: None,
            providers: Vec::new(),
        }
    }
}

/// The API's state.
#[derive(Clone, FromRef)]
pub struct AppState {
    /// The security runtime.
    pub warden: Warden,
    /// The users.
    pub db: SqlitePool,
    /// Password hashing.
    pub passwords: Passwords,
    /// `$ADMIN_EMAILS`, lower-cased.
    pub admins: Arc<HashSet<String>>,
    /// The OpenAPI document `GET /openapi.json` serves, as JSON text
    /// (shared, not copied, by each answer).
    pub openapi: axum::body::Bytes,
}

/// Opens the database (creating it and its folder if needed) and runs the
/// embedded migrations.
pub async fn database(url: &str) -> Result<SqlitePool, String> {
    let options = SqliteConnectOptions::from_str(url)
        .map_err(|e| format!("DATABASE_URL is not a SQLite URL: {e}"))?
        .create_if_missing(true)
        .foreign_keys(true);
    let memory = url.contains(":memory:") || url.contains("mode=memory");
    if !memory
        && let Some(parent) = options.get_filename().parent()
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent)
            .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    }
    // An in-memory database lives as long as its one connection.
    let pool = if memory {
        SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
    } else {
        SqlitePoolOptions::new().max_connections(8)
    }
    .connect_with(options)
    .await
    .map_err(|e| format!("cannot open the database: {e}"))?;
    // Instances started together on one new file race to apply the same
    // migration; the loser finds it applied when it tries again.
    let migrator = sqlx::migrate!("./migrations");
    let mut attempt = 0;
    while let Err(error) = migrator.run(&pool).await {
        attempt += 1;
        if attempt == 5 {
            return Err(format!("cannot migrate the database: {error}"));
        }
        tokio::time::sleep(Duration::from_millis(50 * attempt)).await;
    }
    Ok(pool)
}

/// Grants `admin` to the user with `email` (compared case-insensitively):
/// `api grant-admin EMAIL`. Returns false when no user has that email. The
/// role is read at login and refresh, so the user's next token carries it.
pub async fn grant_admin(db: &SqlitePool, email: &str) -> Result<bool, String> {
    let updated = sqlx::query("UPDATE users SET role = 'admin' WHERE email = ?")
        .bind(email.trim().to_lowercase())
        .execute(db)
        .await
        .map_err(|e| format!("cannot update the user: {e}"))?;
    Ok(updated.rows_affected() > 0)
}

/// Builds the API. Every route goes through `warden::routing`, so a
/// handler without `#[protected]` or `#[public]` would not compile.
pub async fn app(config: &Config) -> Result<axum::Router, String> {
    let secret = match &config.jwt_secret {
        Some(secret) => secret.clone().into_bytes(),
        None => {
            let mut secret = vec![0u8; 48];
            getrandom::fill(&mut secret).map_err(|_| "the system random generator failed")?;
            tracing::warn!(
                "JWT_SECRET is not set: using a random secret; tokens will not survive a restart and other instances will not accept them"
            );
            secret
        }
    };
    let jwt = Jwt::hs256(&secret)
        .map_err(|e| format!("JWT_SECRET: {e}"))?
        .issuer(&config.issuer)
        .audience(&config.audience);
    let mut builder = Warden::builder()
        .jwt(jwt)
        .trusted_proxies(&config.trusted_proxies)
        .cors(Cors::allow_origins(config.allowed_origins.clone()));
    if let Some(rate) = config.global_rate_limit {
        builder = builder.global_limit(rate).global_limit_exempt("/health");
    }
    if config.require_https {
        builder = builder.require_https().https_exempt("/health");
    }
    if let Some(url) = &config.redis_url {
        // 250 ms a call: an outage is still answered well within the
        // second the contract allows, and a loaded host's slow reply is
        // not taken for one.
        let mut redis = Redis::config(url.as_str()).timeout(Duration::from_millis(250));
        // Every instance shares the JWT secret, so it can key the limit
        // digests alike on all of them.
        if config.jwt_secret.is_some() {
            redis = redis.key_secret(&secret);
        }
        // Reports an outage once and starts all the same: routes that
        // need Redis answer 503 until it is back.
        let redis = redis
            .connect()
            .await
            .map_err(|e| format!("REDIS_URL: {e}"))?;
        builder = builder
            .store(RedisStore::new(&redis))
            .refresh_tokens(RefreshTokens::new(RedisTokenStore::new(&redis)));
    }
    let warden = builder.build().map_err(|e| e.to_string())?;
    let sign_in = providers_sign_in(config, &secret, &warden)?;
    let mut router = routes();
    let openapi = openapi_document(&router, &warden, sign_in.as_ref())?;
    let state = AppState {
        warden: warden.clone(),
        db: database(&config.database_url).await?,
        passwords: Passwords::new(),
        admins: Arc::new(
            config
                .admin_emails
                .iter()
                .map(|e| e.to_lowercase())
                .collect(),
        ),
        openapi: openapi.into(),
    };
    if let Some(sign_in) = sign_in {
        // A provider that cannot be reached now does not stop the API:
        // its routes answer 503 until it can be.
        tokio::spawn({
            let sign_in = sign_in.clone();
            async move { sign_in.warm_up().await }
        });
        // warden's own, deliberately open sign-in routes.
        router = router.merge_open(sign_in.routes(signed_in_with_provider));
    }
    Ok(router.layer(warden.layer()).with_state(state))
}

/// The API's own routes, through `warden::routing`: a handler without
/// `#[protected]` or `#[public]` would not compile here. Its
/// [`policy_table`](Router::policy_table) is what `api policy` prints.
/// The sign-in routes of section 1.1, when configured, are added by
/// [`app`].
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/health", get(health))
        .route("/register", post(register))
        .route("/login", post(login))
        .route("/refresh", post(refresh))
        .route("/logout", post(logout))
        .route("/api/data", get(data))
        .route("/api/admin", get(admin))
        .route("/openapi.json", get(openapi))
}

/// The OpenAPI 3.1 document of every route `router` serves, and of the
/// sign-in routes when a provider is configured: the routes and bodies
/// from [`ApiDoc`], and what warden knows of each route (security, its
/// problem responses, limits and their headers, validation rules) from the
/// router's policy table and the runtime's configuration. A route the
/// document leaves out, or describes without a route, fails here.
pub fn openapi_document(
    router: &Router<AppState>,
    warden: &Warden,
    sign_in: Option<&SignIn>,
) -> Result<String, String> {
    let table = router.policy_table();
    let mut describe = Describe::new(&table).warden(warden);
    if let Some(sign_in) = sign_in {
        describe = describe.open_paths(
            sign_in.openapi_paths(
                utoipa::openapi::ResponseBuilder::new()
                    .description(
                        "Signed in: the token pair, as `/login` gives it. The identity is linked \
                     to the user with its verified email, created without a password if none.",
                    )
                    .content(
                        "application/json",
                        utoipa::openapi::Content::new(Some(
                            utoipa::openapi::Ref::from_schema_name("TokenPair"),
                        )),
                    )
                    .header("Cache-Control", no_store_header())
                    .build(),
            ),
        );
    }
    let document = describe
        .apply(ApiDoc::openapi())
        .map_err(|e| format!("the OpenAPI document: {e}"))?;
    serde_json::to_string(&document).map_err(|e| format!("the OpenAPI document: {e}"))
}

fn no_store_header() -> utoipa::openapi::header::Header {
    utoipa::openapi::header::HeaderBuilder::new()
        .schema(
            utoipa::openapi::schema::ObjectBuilder::new()
                .schema_type(utoipa::openapi::Type::String),
        )
        .description(Some("`no-store`: tokens are never cached."))
        .build()
}

/// The API's routes and bodies as utoipa sees them; [`openapi_document`]
/// adds the rest.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "warden reference API",
        description = "Register, log in, refresh, log out, and guarded routes. Every error is RFC 9457 problem+json.",
        license(name = "MIT OR Apache-2.0")
    ),
    paths(health, register, login, refresh, logout, data, admin, openapi),
    components(schemas(TokenPair))
)]
pub struct ApiDoc;

/// The sign-in through the configured providers, if any.
fn providers_sign_in(
    config: &Config,
    secret: &[u8],
    warden: &Warden,
) -> Result<Option<SignIn>, String> {
    if config.providers.is_empty() {
        return Ok(None);
    }
    let public_url = config
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://127.0.0.1:{}", config.port));
    // Completed flows are recorded where the limits live (Redis with
    // $REDIS_URL), so a flow completes once across every instance.
    let mut builder = SignIn::builder(secret, public_url).warden(warden);
    for provider in &config.providers {
        let configured = Provider::new(
            &provider.issuer,
            &provider.client_id,
            &provider.client_secret,
        )
        .map_err(|e| format!("the {} sign-in: {e}", provider.name))?;
        builder = builder.provider(&provider.name, configured);
    }
    let sign_in = builder.build().map_err(|e| format!("PUBLIC_URL: {e}"))?;
    for name in sign_in.providers() {
        tracing::info!(
            provider = name,
            redirect_uri = sign_in.redirect_uri(name).unwrap_or_default(),
            "sign-in through an OpenID Connect provider is on"
        );
    }
    Ok(Some(sign_in))
}

/// The end of a sign-in through a provider (contract section 1.1): a
/// verified email is required; the identity is linked to the user with
/// that email, who is created without a password if there is none;
/// `$ADMIN_EMAILS` grants `admin` here and only here. Answers with a token
/// pair, as `/login` does.
async fn signed_in_with_provider(state: AppState, identity: Identity) -> Response {
    match link_identity(&state, &identity).await {
        Ok(user) => {
            let claims = match claims_of(&user) {
                Ok(claims) => claims,
                Err(problem) => return problem.into_response(),
            };
            match state.warden.sign_in(claims).await {
                Ok(session) => token_pair(&session),
                Err(error) => session_refused(error).into_response(),
            }
        }
        Err(problem) => problem.into_response(),
    }
}

async fn link_identity(state: &AppState, identity: &Identity) -> Result<User, Problem> {
    let email = identity
        .verified_email()
        .map_err(SignInError::to_problem)?
        .to_lowercase();
    let admin = state.admins.contains(&email);
    let now = unix_seconds();
    let name = identity
        .name
        .clone()
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| email.split('@').next().unwrap_or_default().to_owned());
    // No password: an empty hash, which /login refuses like an unknown
    // email.
    sqlx::query(
        "INSERT INTO users (id, email, name, password_hash, role, created_at) VALUES (?, ?, ?, '', ?, ?) ON CONFLICT(email) DO NOTHING",
    )
    .bind(random_id()?)
    .bind(&email)
    .bind(&name)
    .bind(Role::User.as_str())
    .bind(now)
    .execute(&state.db)
    .await
    .map_err(internal)?;
    let user = user_by(&state.db, "email", &email)
        .await?
        .ok_or_else(|| internal("the user just linked is gone"))?;
    sqlx::query(
        "INSERT INTO identities (issuer, subject, user_id, provider, created_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT(issuer, subject) DO UPDATE SET user_id = excluded.user_id",
    )
    .bind(&identity.issuer)
    .bind(&identity.subject)
    .bind(&user.id)
    .bind(&identity.provider)
    .bind(now)
    .execute(&state.db)
    .await
    .map_err(internal)?;
    if admin && user.role != Some(Role::Admin) {
        grant_admin(&state.db, &email).await.map_err(internal)?;
        tracing::info!(provider = %identity.provider, "admin granted to a verified email of ADMIN_EMAILS");
        return user_by(&state.db, "id", &user.id)
            .await?
            .ok_or_else(|| internal("the user just granted is gone"));
    }
    Ok(user)
}

/// Serves the API on `addr` until `shutdown` completes.
pub async fn serve(
    router: axum::Router,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

/// `{"status": "ok"}`.
#[derive(ToSchema)]
#[allow(dead_code)]
struct Health {
    /// Always `ok`.
    #[schema(pattern = "^ok$")]
    status: String,
}

#[utoipa::path(get, path = "/health", operation_id = "health",
    summary = "Whether the API is up",
    responses((status = 200, description = "Up.", body = Health)))]
#[public]
async fn health() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

#[utoipa::path(get, path = "/openapi.json", operation_id = "openapi",
    summary = "This document",
    responses((status = 200, description = "The OpenAPI 3.1 document of every route.",
        content_type = "application/json", body = Object)))]
#[public]
async fn openapi(State(state): State<AppState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        state.openapi,
    )
        .into_response()
}

/// `{"userId": ".."}`.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
#[allow(dead_code)]
struct Registered {
    /// The new user's id.
    user_id: String,
}

/// `{"accessToken", "refreshToken", "tokenType": "Bearer", "expiresIn"}`,
/// sent with `Cache-Control: no-store`.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct TokenPair {
    /// A JWT (`typ: at+jwt`), for `Authorization: Bearer ..`.
    access_token: String,
    /// Single-use; spent by `/refresh`, which gives a new pair.
    refresh_token: String,
    /// Always `Bearer`.
    #[schema(pattern = "^Bearer$")]
    token_type: String,
    /// Seconds until the access token expires.
    #[schema(minimum = 1)]
    expires_in: u64,
}

/// `{"userId", "email", "roles"}`.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
#[allow(dead_code)]
struct Profile {
    user_id: String,
    email: String,
    roles: Vec<String>,
}

/// `{"users": <count>}`.
#[derive(ToSchema)]
#[allow(dead_code)]
struct UserCount {
    #[schema(minimum = 0)]
    users: i64,
}

/// `POST /register`.
#[derive(Deserialize, ToSchema, warden::Validate)]
#[serde(deny_unknown_fields)]
pub struct RegisterBody {
    #[validate(email, len(max = 255))]
    email: String,
    #[validate(len(12..=128), password)]
    password: String,
    #[validate(len(2..=100), regex = r"^[\p{L} '-]+$")]
    name: String,
}

/// `POST /login`.
#[derive(Deserialize, ToSchema, warden::Validate)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    #[validate(non_empty, len(max = 255))]
    email: String,
    #[validate(non_empty, len(max = 1024))]
    password: String,
}

/// `POST /refresh`.
#[derive(Deserialize, ToSchema, warden::Validate)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RefreshBody {
    #[validate(non_empty, len(max = 512))]
    refresh_token: String,
}

fn internal(error: impl std::fmt::Display) -> Problem {
    tracing::error!(%error, "request failed");
    Problem::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal_error",
        "the server could not complete the request",
    )
}

fn unavailable() -> Problem {
    Problem::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
        "the service is unavailable; retry shortly",
    )
    .with_header(header::RETRY_AFTER, HeaderValue::from_static("1"))
}

/// Now, in Unix seconds, as the `created_at` columns keep it.
fn unix_seconds() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn random_id() -> Result<String, Problem> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(internal)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

#[utoipa::path(post, path = "/register", operation_id = "register",
    summary = "Create a user (role `user`)",
    request_body = RegisterBody,
    responses(
        (status = 201, description = "Registered.", body = Registered),
        (status = 409, description = "This email is already registered: `email_taken`.",
            content_type = "application/problem+json", body = Problem),
    ))]
#[public]
#[validate]
#[rate_limit(10, "1h")]
async fn register(
    State(state): State<AppState>,
    Json(body): Json<RegisterBody>,
) -> Result<Response, Problem> {
    let email = body.email.to_lowercase();
    let hash = state
        .passwords
        .hash(&body.password)
        .await
        .map_err(internal)?;
    // A password registration proves nothing about the address: it gets
    // `user`, whatever the address. Operators grant `admin` with
    // `api grant-admin EMAIL`.
    let role = Role::User.as_str();
    let id = random_id()?;
    let now = unix_seconds();
    let inserted = sqlx::query(
        "INSERT INTO users (id, email, name, password_hash, role, created_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(email) DO NOTHING",
    )
    .bind(&id)
    .bind(&email)
    .bind(&body.name)
    .bind(&hash)
    .bind(role)
    .bind(now)
    .execute(&state.db)
    .await
    .map_err(internal)?;
    if inserted.rows_affected() == 0 {
        return Err(Problem::new(
            StatusCode::CONFLICT,
            "email_taken",
            "this email is already registered",
        ));
    }
    Ok((StatusCode::CREATED, Json(json!({"userId": id}))).into_response())
}

struct User {
    id: String,
    email: String,
    password_hash: String,
    /// The stored role, read back as the typed role; a name this build
    /// does not know grants nothing.
    role: Option<Role>,
}

async fn user_by(db: &SqlitePool, column: &str, value: &str) -> Result<Option<User>, Problem> {
    let query = format!("SELECT id, email, password_hash, role FROM users WHERE {column} = ?");
    let row: Option<(String, String, String, String)> = sqlx::query_as(&query)
        .bind(value)
        .fetch_optional(db)
        .await
        .map_err(internal)?;
    Ok(row.map(|(id, email, password_hash, role)| User {
        id,
        email,
        password_hash,
        role: Role::from_name(&role),
    }))
}

/// The access token the user's current record earns: their typed role and
/// email.
fn claims_of(user: &User) -> Result<AccessClaims, Problem> {
    AccessClaims::new(&user.id)
        .roles(user.role)
        .claim("email", &user.email)
        .map_err(internal)
}

/// A session that could not be started or continued: the token store is
/// down (503), or the refresh token is refused (401).
fn session_refused(error: SessionError) -> Problem {
    match error {
        SessionError::Refresh(error) => refresh_refused(error),
        _ => internal(error),
    }
}

/// The token pair, sent with `Cache-Control: no-store`.
fn token_pair(session: &Session) -> Response {
    let mut response = Json(json!({
        "accessToken": session.access.token,
        "refreshToken": session.refresh.token.expose(),
        "tokenType": "Bearer",
        "expiresIn": session.access.expires_in,
    }))
    .into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn bad_credentials() -> Problem {
    Problem::new(
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
        "the email or the password is wrong",
    )
}

/// 10 failed logins an hour per account (the email as sent, lower-cased,
/// whether or not it exists), from any address: credential stuffing spreads
/// over addresses, so the per-address limit alone does not see it.
static PER_ACCOUNT: LazyLock<KeyedLimit> = LazyLock::new(|| {
    KeyedLimit::new(
        "10-per-1h-per-account",
        Rate::new(10, Duration::from_secs(3600)).unwrap_or_else(|_| unreachable!("a valid rate")),
    )
    .skip_successful()
});

#[utoipa::path(post, path = "/login", operation_id = "login",
    summary = "Exchange email and password for a token pair",
    description = "Besides the per-address limit, 10 failed attempts per hour per account \
        (the email, lower-cased, whether or not it exists) from any address: 429.",
    request_body = LoginBody,
    responses(
        (status = 200, description = "The token pair.", body = TokenPair,
            headers(("Cache-Control" = String, description = "`no-store`."))),
        (status = 401, description = "The email or the password is wrong: \
            `invalid_credentials` (the same body and timing whether the email exists or not).",
            content_type = "application/problem+json", body = Problem),
        (status = 429, description = "Too many failed attempts for this account \
            (`limit: \"10-per-1h-per-account\"`).",
            content_type = "application/problem+json", body = Problem),
        (status = 503, description = "The token store cannot answer: `unavailable`.",
            content_type = "application/problem+json", body = Problem),
    ))]
#[public]
#[validate]
#[rate_limit(5, "15m", skip_successful)]
async fn login(State(state): State<AppState>, Json(body): Json<LoginBody>) -> Response {
    let email = body.email.to_lowercase();
    let attempt = match state.warden.check_limit(&PER_ACCOUNT, &email).await {
        Ok(attempt) => attempt,
        Err(refused) => return refused,
    };
    let response = match sign_in(&state, &email, &body.password).await {
        Ok(response) => response,
        Err(problem) => problem.into_response(),
    };
    attempt.finish(response).await
}

async fn sign_in(state: &AppState, email: &str, password: &str) -> Result<Response, Problem> {
    let user = user_by(&state.db, "email", email).await?;
    // The same argon2 work whether the user exists or not, or has no
    // password (signed up through a provider).
    let stored = user
        .as_ref()
        .map(|u| u.password_hash.as_str())
        .filter(|hash| !hash.is_empty());
    let verification = state
        .passwords
        .check(password, stored)
        .await
        .map_err(internal)?;
    let (Some(user), Verification::Valid { needs_upgrade }) = (user, verification) else {
        return Err(bad_credentials());
    };
    if needs_upgrade && let Ok(hash) = state.passwords.hash(password).await {
        let _ = sqlx::query("UPDATE users SET password_hash = ? WHERE id = ?")
            .bind(hash)
            .bind(&user.id)
            .execute(&state.db)
            .await;
    }
    let session = state
        .warden
        .sign_in(claims_of(&user)?)
        .await
        .map_err(session_refused)?;
    Ok(token_pair(&session))
}

fn refresh_refused(error: RefreshError) -> Problem {
    match error {
        RefreshError::Store(_) | RefreshError::Randomness => unavailable(),
        RefreshError::Expired => Problem::new(
            StatusCode::UNAUTHORIZED,
            "invalid_refresh_token",
            "the refresh token has expired",
        ),
        _ => Problem::new(
            StatusCode::UNAUTHORIZED,
            "invalid_refresh_token",
            "the refresh token is not valid",
        ),
    }
}

#[utoipa::path(post, path = "/refresh", operation_id = "refresh",
    summary = "Spend a refresh token for a new token pair",
    request_body = RefreshBody,
    responses(
        (status = 200, description = "A new token pair; the refresh token sent is spent.",
            body = TokenPair, headers(("Cache-Control" = String, description = "`no-store`."))),
        (status = 401, description = "The refresh token is unknown, expired, revoked or \
            already used: `invalid_refresh_token`. Reuse of a spent token also revokes every \
            token of its login.",
            content_type = "application/problem+json", body = Problem),
        (status = 503, description = "The token store cannot answer: `unavailable`.",
            content_type = "application/problem+json", body = Problem),
    ))]
#[public]
#[validate]
#[rate_limit(30, "15m")]
async fn refresh(
    State(state): State<AppState>,
    Json(body): Json<RefreshBody>,
) -> Result<Response, Problem> {
    let rotated = state
        .warden
        .refresh(&body.refresh_token)
        .await
        .map_err(refresh_refused)?;
    let Some(user) = user_by(&state.db, "id", &rotated.subject).await? else {
        // The account is gone: so is its session.
        let _ = state
            .warden
            .refresh_tokens()
            .revoke_family(&rotated.issued.family)
            .await;
        return Err(refresh_refused(RefreshError::Revoked));
    };
    let session = state
        .warden
        .resume(rotated, claims_of(&user)?)
        .map_err(session_refused)?;
    Ok(token_pair(&session))
}

/// The claims of this API's access tokens.
#[derive(Deserialize)]
pub struct SessionClaims {
    sub: String,
    email: String,
    roles: Vec<String>,
}

#[utoipa::path(post, path = "/logout", operation_id = "logout",
    summary = "End this login: revoke its refresh tokens",
    responses(
        (status = 204, description = "Signed out; the access token lapses when it expires."),
        (status = 503, description = "The token store cannot answer: `unavailable`.",
            content_type = "application/problem+json", body = Problem),
    ))]
#[protected]
async fn logout(State(state): State<AppState>, user: Auth) -> Result<StatusCode, Problem> {
    state
        .warden
        .sign_out(&user)
        .await
        .map_err(|_| unavailable())?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/data", operation_id = "data",
    summary = "The caller's own profile",
    responses((status = 200, description = "From the access token's claims.", body = Profile)))]
#[protected]
#[rate_limit(30, "1m", key = user)]
async fn data(session: Auth<SessionClaims>) -> Json<Value> {
    Json(json!({"userId": session.sub, "email": session.email, "roles": session.roles}))
}

#[utoipa::path(get, path = "/api/admin", operation_id = "admin",
    summary = "How many users there are (admins only)",
    responses((status = 200, description = "The number of users.", body = UserCount)))]
#[protected(role = Role::Admin)]
async fn admin(State(db): State<SqlitePool>) -> Result<Json<Value>, Problem> {
    let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM users")
        .fetch_one(&db)
        .await
        .map_err(internal)?;
    Ok(Json(json!({"users": count})))
}

/// Waits for Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}

/// How long the API waits for in-flight requests at shutdown.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
