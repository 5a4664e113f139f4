//! Shared helpers of the end-to-end suites: test keys, a token forge that
//! can build any token (valid or hostile), a server on a real socket, and a
//! capture of the audit events.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::{HeaderMap, Request, StatusCode};
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{Value, json};
use tower::ServiceExt;

pub mod oidc_provider;
pub mod openapi;
mod redis_server;
pub use redis_server::{RedisServer, free_port};

/// Test-only key material (see `fixtures/keys/README.md`).
pub mod keys {
    /// An HS256 secret.
    pub const SECRET: &[u8] = b"end-to-end secret of forty bytes long!!!";
    /// The previous HS256 secret, still accepted during a rotation.
    pub const OLD_SECRET: &[u8] = b"the previous secret, rotated out soon!!!";
    /// A secret nobody configured.
    pub const FOREIGN_SECRET: &[u8] = b"an attacker's secret, also forty bytes!!";
    /// RSA 2048 private key.
    pub const RSA_PRIVATE: &[u8] = include_bytes!("../fixtures/keys/rsa2048.pem");
    /// RSA 2048 public key.
    pub const RSA_PUBLIC: &[u8] = include_bytes!("../fixtures/keys/rsa2048.pub.pem");
    /// RSA 1024 public key: too small.
    pub const RSA_1024_PUBLIC: &[u8] = include_bytes!("../fixtures/keys/rsa1024.pub.pem");
    /// P-256 private key.
    pub const EC_PRIVATE: &[u8] = include_bytes!("../fixtures/keys/ec256.pem");
    /// P-256 public key.
    pub const EC_PUBLIC: &[u8] = include_bytes!("../fixtures/keys/ec256.pub.pem");
    /// Another P-256 private key.
    pub const EC_OTHER_PRIVATE: &[u8] = include_bytes!("../fixtures/keys/ec256-other.pem");
    /// Ed25519 private key.
    pub const ED_PRIVATE: &[u8] = include_bytes!("../fixtures/keys/ed25519.pem");
    /// Ed25519 public key.
    pub const ED_PUBLIC: &[u8] = include_bytes!("../fixtures/keys/ed25519.pub.pem");
}

/// Counts how many times handler bodies ran, to prove a rejected request
/// never reached one.
#[derive(Clone, Default)]
pub struct Hits(Arc<std::sync::atomic::AtomicUsize>);

impl Hits {
    /// One more handler body ran.
    pub fn hit(&self) {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }

    /// How many handler bodies ran.
    pub fn count(&self) -> usize {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// The router state of the suites: a `Warden` and the hit counter, each
/// reachable with `State<..>` through `FromRef`.
#[derive(Clone, axum::extract::FromRef)]
pub struct AppState {
    /// The runtime under test.
    pub warden: warden::Warden,
    /// The hit counter.
    pub hits: Hits,
}

/// The JWT configuration of the suites: HS256 with [`keys::SECRET`],
/// issuer and audience `warden-tests`.
pub fn jwt() -> warden::auth::Jwt {
    warden::auth::Jwt::hs256(keys::SECRET)
        .expect("secret")
        .issuer("warden-tests")
        .audience("warden-tests")
}

/// Seconds since the Unix epoch.
pub fn now() -> u64 {
    jsonwebtoken::get_current_timestamp()
}

/// base64url without padding.
pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Claims a correctly configured server accepts: `iss` and `aud` are
/// `issuer`/`audience`, valid for ten minutes.
pub fn claims(sub: &str, roles: &[&str]) -> Value {
    json!({
        "sub": sub,
        "iss": "warden-tests",
        "aud": "warden-tests",
        "iat": now(),
        "exp": now() + 600,
        "jti": format!("jti-{sub}"),
        "roles": roles,
    })
}

/// Signs `header.claims` with `key` and `alg`, whatever the header says.
pub fn forge(header: &Value, claims: &Value, key: &EncodingKey, alg: Algorithm) -> String {
    let message = format!("{}.{}", b64(header.to_string()), b64(claims.to_string()));
    let signature = jsonwebtoken::crypto::sign(message.as_bytes(), key, alg).expect("sign");
    format!("{message}.{signature}")
}

/// An HS256 access token (`typ: at+jwt`) over `claims` with `secret` and `kid`.
pub fn hs256(claims: &Value, secret: &[u8], kid: Option<&str>) -> String {
    let mut header = json!({"alg": "HS256", "typ": "at+jwt"});
    if let Some(kid) = kid {
        header["kid"] = kid.into();
    }
    forge(
        &header,
        claims,
        &EncodingKey::from_secret(secret).expect("key"),
        Algorithm::HS256,
    )
}

/// The answer to one request: status, headers and the body as JSON (or
/// the string `Value` of a non-JSON body).
#[derive(Debug)]
pub struct Answer {
    /// The status.
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
    /// The body.
    pub body: Value,
}

impl Answer {
    /// Reads `bytes` as JSON, or keeps them as a string when they are not.
    pub fn new(status: StatusCode, headers: HeaderMap, bytes: &[u8]) -> Self {
        let body = serde_json::from_slice(bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into_owned()));
        Self {
            status,
            headers,
            body,
        }
    }

    /// A header as a string ("" when absent).
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// Asserts an RFC 9457 body with this status and code.
    pub fn assert_problem(&self, status: StatusCode, code: &str) {
        assert_eq!(self.status, status, "{self:?}");
        assert_eq!(
            self.header("content-type"),
            "application/problem+json",
            "{self:?}"
        );
        assert_eq!(self.body["status"], status.as_u16(), "{self:?}");
        assert_eq!(self.body["code"], code, "{self:?}");
        assert_eq!(self.body["type"], "about:blank", "{self:?}");
        assert_eq!(
            self.body["title"],
            status.canonical_reason().unwrap_or_default(),
            "{self:?}"
        );
        assert!(
            self.body["detail"].as_str().is_some_and(|d| !d.is_empty()),
            "{self:?}"
        );
    }
}

/// Sends `request` through `router` in process.
pub async fn send(router: &Router, request: Request<Body>) -> Answer {
    let response = router.clone().oneshot(request).await.expect("infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    Answer::new(status, headers, &bytes)
}

/// How a test reaches the router under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// `tower::ServiceExt::oneshot`, no socket.
    InProcess,
    /// HTTP/1.1 over a real loopback TCP connection.
    Socket,
}

/// A client of one router, in process or over a socket.
#[derive(Clone)]
pub struct Client {
    router: Router,
    base: Option<String>,
    http: reqwest::Client,
}

impl Client {
    /// A client of `router`; with [`Transport::Socket`] the router is
    /// served on a free loopback port first.
    pub async fn new(router: Router, transport: Transport) -> Self {
        let base = match transport {
            Transport::InProcess => None,
            Transport::Socket => Some(format!("http://{}", serve(router.clone()).await)),
        };
        Self {
            router,
            base,
            // Redirects are answers to check, not to follow.
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
        }
    }

    /// Sends `request` and reads the whole answer.
    pub async fn send(&self, request: Request<Body>) -> Answer {
        let Some(base) = &self.base else {
            return send(&self.router, request).await;
        };
        let (parts, body) = request.into_parts();
        let body = axum::body::to_bytes(body, usize::MAX)
            .await
            .expect("request body");
        let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
        let response = self
            .http
            .request(parts.method, format!("{base}{path}"))
            .headers(parts.headers)
            .body(body)
            .send()
            .await
            .expect("request");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.expect("response body");
        Answer::new(status, headers, &bytes)
    }

    /// `GET path` with an optional `Authorization: Bearer token`.
    pub async fn get(&self, path: &str, token: Option<&str>) -> Answer {
        match token {
            Some(token) => {
                let authorization = format!("Bearer {token}");
                self.get_with(path, &[("authorization", &authorization)])
                    .await
            }
            None => self.get_with(path, &[]).await,
        }
    }

    /// `GET path` with these headers.
    pub async fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> Answer {
        self.call(http::Method::GET, path, headers, Body::empty())
            .await
    }

    /// `POST path` with `body`, and a `Content-Type` when one is given.
    pub async fn post(
        &self,
        path: &str,
        content_type: Option<&str>,
        body: impl Into<Body>,
    ) -> Answer {
        let content_type = content_type.map(|value| ("content-type", value));
        self.call(http::Method::POST, path, content_type.as_slice(), body)
            .await
    }

    /// Any request: `method path`, these headers, this body.
    pub async fn call(
        &self,
        method: http::Method,
        path: &str,
        headers: &[(&str, &str)],
        body: impl Into<Body>,
    ) -> Answer {
        let mut request = Request::builder().method(method).uri(path);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        self.send(request.body(body.into()).expect("request")).await
    }
}

/// Runs each listed `async fn(Transport)` as two tests: `in_process::name`
/// and `over_socket::name`.
#[macro_export]
macro_rules! on_both_transports {
    ($($name:ident),* $(,)?) => {
        mod in_process {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name($crate::Transport::InProcess).await
                }
            )*
        }
        mod over_socket {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name($crate::Transport::Socket).await
                }
            )*
        }
    };
}

/// Serves `router` on a free loopback port, with the peer address known to
/// the handlers, until the test's runtime ends.
pub async fn serve(router: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .expect("serve");
    });
    addr
}

/// Where a suite keeps its rate-limit state.
pub enum Backend {
    /// A [`warden::limit::MemoryStore`] per application.
    Memory,
    /// A [`warden::redis::RedisStore`] on a server of the test's own, one
    /// key prefix per application.
    Redis(RedisServer),
}

impl Backend {
    /// A Redis backend with a fresh server.
    pub fn redis() -> Self {
        Self::Redis(RedisServer::start())
    }

    /// `builder` with this backend's rate-limit store and refresh-token
    /// store.
    pub async fn store(&self, builder: warden::WardenBuilder) -> warden::WardenBuilder {
        match self {
            Self::Memory => builder,
            Self::Redis(server) => {
                let redis = server.connect().await;
                builder
                    .store(warden::redis::RedisStore::new(&redis))
                    .refresh_tokens(warden::auth::refresh::RefreshTokens::new(
                        warden::redis::RedisTokenStore::new(&redis),
                    ))
            }
        }
    }
}

/// Runs each listed `async fn(Backend)` as two tests: `memory::name` and
/// `redis::name`.
#[macro_export]
macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name($crate::Backend::Memory).await
                }
            )*
        }
        mod redis {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name($crate::Backend::redis()).await
                }
            )*
        }
    };
}

thread_local! {
    /// The capture of this thread's events, if a test installed one.
    static CURRENT: std::cell::RefCell<Option<Captured>> = const { std::cell::RefCell::new(None) };
}

/// The global subscriber's writer: into the current thread's capture.
struct ThreadCapture;

impl std::io::Write for ThreadCapture {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        CURRENT.with(|current| match current.borrow_mut().as_mut() {
            Some(captured) => captured.write(bytes),
            None => Ok(bytes.len()),
        })
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Ends a capture (see [`Captured::install`]) when dropped.
#[must_use = "the capture ends when the guard is dropped"]
pub struct CaptureGuard {
    previous: Option<Captured>,
}

impl Drop for CaptureGuard {
    fn drop(&mut self) {
        CURRENT.with(|current| *current.borrow_mut() = self.previous.take());
    }
}

/// Everything written by a `tracing` subscriber, for asserting on audit
/// events.
#[derive(Clone, Default)]
pub struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    /// The text captured so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("lock")).into_owned()
    }

    /// Captures warden's events on the current thread until the guard is
    /// dropped.
    ///
    /// One global subscriber, installed once per test binary, writes every
    /// event of a `warden` target to the capture of the thread it happens
    /// on. A subscriber scoped to a thread instead (`set_default`) loses
    /// events while other tests run: tracing caches whether a call site is
    /// enabled, and a test thread without a subscriber can leave a call
    /// site cached as disabled for all.
    pub fn install(&self) -> CaptureGuard {
        static GLOBAL: std::sync::Once = std::sync::Once::new();
        GLOBAL.call_once(|| {
            let subscriber = tracing_subscriber::fmt()
                .with_writer(|| ThreadCapture)
                .with_ansi(false)
                .with_env_filter(tracing_subscriber::EnvFilter::new("warden=trace"))
                .finish();
            tracing::subscriber::set_global_default(subscriber)
                .expect("no other global subscriber in the tests");
        });
        let previous = CURRENT.with(|current| current.borrow_mut().replace(self.clone()));
        CaptureGuard { previous }
    }
}

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The claims a hand-wired jsonwebtoken extractor decodes, in the
/// benchmarks: the same fields warden's `Claims` has.
#[derive(serde::Deserialize)]
pub struct HandClaims {
    /// `sub`.
    pub sub: String,
    /// `iss`.
    pub iss: String,
    /// `aud`, a string or an array.
    pub aud: Value,
    /// `exp`.
    pub exp: u64,
    /// `iat`.
    pub iat: Option<u64>,
    /// `nbf`.
    pub nbf: Option<u64>,
    /// `jti`.
    pub jti: Option<String>,
    /// `roles`.
    #[serde(default)]
    pub roles: Vec<String>,
    /// `scope`.
    pub scope: Option<String>,
}

/// The role of the benchmarks' tokens.
#[derive(Clone, Copy, warden::Role)]
pub enum BenchRole {
    /// A user.
    User,
}

/// The `Warden` of the benchmarks (HS256 under `kid` `k1`, issuer and
/// audience `bench`) and a token it issued to `user-1` with role `user`.
pub fn bench_warden(secret: &[u8]) -> (warden::Warden, String) {
    let warden = warden::Warden::builder()
        .jwt(bench_jwt(secret))
        .build()
        .expect("warden");
    let token = warden
        .issue_access_token(&warden::auth::AccessClaims::new("user-1").roles([BenchRole::User]))
        .expect("token")
        .token;
    (warden, token)
}

/// The JWT configuration of [`bench_warden`], for benchmarks that vary it.
pub fn bench_jwt(secret: &[u8]) -> warden::auth::Jwt {
    warden::auth::Jwt::new(
        warden::auth::Key::hs256(secret)
            .expect("key")
            .with_kid("k1"),
    )
    .issuer("bench")
    .audience("bench")
}
