//! A fake OpenID Connect provider on a real loopback socket, for the suites
//! of warden's OpenID Connect client, and a [`Browser`] to walk its
//! redirects.
//!
//! [`FakeProvider`] is an authorization server of its own: discovery,
//! `/authorize` (authorization code with PKCE S256), `/token`, `/jwks` and
//! `/userinfo`, with keys generated at start (one RS256, one ES256). Its
//! knobs make it misbehave the way a test needs: a denied login, an ID token
//! that is wrong in one chosen way, key rotation, a stopped or hanging
//! server. It answers a client's bad input with the OAuth error, never a
//! panic.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey};
use p256::elliptic_curve::Generate as _;
use reqwest::cookie::CookieStore as _;
use rsa::pkcs8::{EncodePrivateKey as _, EncodePublicKey as _, LineEnding};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use tokio::sync::watch;

use crate::{Answer, b64, forge, now};

/// How long an authorization code can be exchanged.
const CODE_LIFETIME: Duration = Duration::from_secs(60);
/// How long an ID token is valid, in seconds.
const ID_TOKEN_LIFETIME: u64 = 600;
/// How long an access token is said to be valid, in seconds.
const ACCESS_TOKEN_LIFETIME: u64 = 3600;
/// The scopes the provider knows, and grants.
const SCOPES: [&str; 3] = ["openid", "email", "profile"];

/// The kind of a signing key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyKind {
    /// RSA 2048, RS256.
    Rs256,
    /// P-256, ES256.
    Es256,
}

impl KeyKind {
    /// The JWS algorithm the key signs with.
    pub fn algorithm(self) -> Algorithm {
        match self {
            Self::Rs256 => Algorithm::RS256,
            Self::Es256 => Algorithm::ES256,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Rs256 => "RS256",
            Self::Es256 => "ES256",
        }
    }
}

/// Names a key of the provider: the newest key of a kind, or a key by
/// `kid`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyRef {
    /// The newest key of this kind (published or not).
    Kind(KeyKind),
    /// The key with this `kid`.
    Kid(String),
}

impl From<KeyKind> for KeyRef {
    fn from(kind: KeyKind) -> Self {
        Self::Kind(kind)
    }
}

impl From<&str> for KeyRef {
    fn from(kid: &str) -> Self {
        Self::Kid(kid.to_owned())
    }
}

/// The end user the provider logs in at `/authorize`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// `sub`.
    pub sub: String,
    /// `email`.
    pub email: String,
    /// `email_verified`.
    pub email_verified: bool,
    /// `name`.
    pub name: String,
}

impl Default for User {
    /// `alice`, with a verified address.
    fn default() -> Self {
        Self {
            sub: "alice".into(),
            email: "alice@example.com".into(),
            email_verified: true,
            name: "Alice Example".into(),
        }
    }
}

/// How the next ID token is wrong. Tweaks given before one token is issued
/// all apply to it; the token after it is correct again.
#[derive(Debug, Clone, PartialEq)]
pub enum Tweak {
    /// `aud` is this instead of the client id.
    Audience(String),
    /// `iss` is this instead of the issuer.
    Issuer(String),
    /// `nonce` is this instead of the authorization request's.
    Nonce(String),
    /// Expired an hour ago (`exp` now − 3600, `iat` now − 7200).
    Expired,
    /// Issued a day from now (`iat` now + 86400, `exp` ten minutes later).
    IssuedInFuture,
    /// One bit of the signature flipped (still valid base64url).
    BadSignature,
    /// Signed by a fresh key of the signing key's kind, with a new `kid`,
    /// never published.
    UnknownKid,
    /// `alg: "none"` and an empty signature.
    AlgNone,
    /// `alg: "HS256"` with the newest RSA key's `kid`, the HMAC keyed with
    /// that key's public PEM ([`FakeProvider::public_pem`]).
    Hs256WithPublicKey,
    /// Valid, but signed by the newest key of this kind instead of the
    /// signing key.
    SignWith(KeyKind),
    /// Merged over the claims; a `null` member removes the claim (for
    /// `azp`, several audiences, a missing `email`...).
    Claims(Value),
}

/// A key pair of the provider.
struct Key {
    kid: String,
    kind: KeyKind,
    encoding: EncodingKey,
    jwk: Value,
    public_pem: String,
    published: bool,
}

impl Key {
    /// Generates a key of `kind` with a new random `kid`.
    fn generate(kind: KeyKind) -> Self {
        let kid = format!("{}-{}", kind.name().to_lowercase(), random(6));
        let (encoding, public_pem) = match kind {
            KeyKind::Rs256 => {
                let private =
                    rsa::PrivateKey::new(&mut getrandom::SysRng, 2048).expect("RSA key generation");
                let pem = private.to_pkcs8_pem(LineEnding::LF).expect("PKCS#8 PEM");
                let public = private.to_public_key();
                (
                    EncodingKey::from_rsa_pem(pem.as_bytes()).expect("RSA signing key"),
                    public
                        .to_public_key_pem(LineEnding::LF)
                        .expect("public PEM"),
                )
            }
            KeyKind::Es256 => {
                let secret = p256::SecretKey::try_generate_from_rng(&mut getrandom::SysRng)
                    .expect("P-256 key generation");
                let pem = secret.to_pkcs8_pem(LineEnding::LF).expect("PKCS#8 PEM");
                (
                    EncodingKey::from_ec_pem(pem.as_bytes()).expect("EC signing key"),
                    secret
                        .public_key()
                        .to_public_key_pem(LineEnding::LF)
                        .expect("public PEM"),
                )
            }
        };
        let jwk = Jwk::from_encoding_key(&encoding, kind.algorithm()).expect("JWK");
        let mut jwk = serde_json::to_value(jwk).expect("JWK as JSON");
        jwk["kid"] = kid.clone().into();
        jwk["use"] = "sig".into();
        jwk["alg"] = kind.name().into();
        Self {
            kid,
            kind,
            encoding,
            jwk,
            public_pem,
            published: true,
        }
    }

    /// A JWT over `claims` with this key, under `header` (whose `alg` and
    /// `kid` the caller set).
    fn sign(&self, header: &Value, claims: &Value) -> String {
        forge(header, claims, &self.encoding, self.kind.algorithm())
    }

    /// `{alg, kid, typ: "JWT"}`.
    fn header(&self) -> Value {
        json!({"alg": self.kind.name(), "kid": self.kid, "typ": "JWT"})
    }
}

/// An issued authorization code.
struct Grant {
    client_id: String,
    redirect_uri: String,
    challenge: String,
    nonce: String,
    user: User,
    issued: Instant,
    /// Set once the code was presented; the access token it bought.
    spent: Option<Option<String>>,
}

/// The provider's mutable state, kept across [`FakeProvider::restart`].
struct Inner {
    client_id: String,
    client_secret: String,
    redirect_uri: Option<String>,
    user: User,
    keys: Vec<Key>,
    signing: String,
    deny_next: bool,
    tweaks: Vec<Tweak>,
    codes: HashMap<String, Grant>,
    access_tokens: HashMap<String, User>,
    authorize_log: Vec<HashMap<String, String>>,
    discovery_overrides: Value,
}

impl Inner {
    fn key(&self, key: &KeyRef) -> Option<&Key> {
        match key {
            KeyRef::Kind(kind) => self.keys.iter().rev().find(|k| k.kind == *kind),
            KeyRef::Kid(kid) => self.keys.iter().find(|k| k.kid == *kid),
        }
    }

    fn signing_key(&self) -> &Key {
        self.key(&KeyRef::Kid(self.signing.clone()))
            .expect("the signing key exists")
    }

    fn key_mut(&mut self, kid: &str) -> &mut Key {
        self.keys
            .iter_mut()
            .find(|k| k.kid == kid)
            .unwrap_or_else(|| panic!("the provider has no key {kid:?}"))
    }
}

/// What the handlers share.
struct Shared {
    issuer: String,
    port: u16,
    inner: Mutex<Inner>,
    discovery_fetches: AtomicUsize,
    jwks_fetches: AtomicUsize,
    token_requests: AtomicUsize,
    hang: watch::Sender<bool>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The router state of one serving run: the shared state and the run's
/// stop signal.
#[derive(Clone)]
struct Run {
    shared: Arc<Shared>,
    stop: watch::Receiver<bool>,
}

/// A serving run: its stop signal and its task.
struct Server {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

/// Configures a [`FakeProvider`] before it starts.
#[derive(Debug, Clone)]
pub struct FakeProviderBuilder {
    client_id: String,
    client_secret: String,
    redirect_uri: Option<String>,
    user: User,
}

impl FakeProviderBuilder {
    /// The one registered client (default `warden-client`, secret
    /// `warden-secret`).
    pub fn client(mut self, id: &str, secret: &str) -> Self {
        self.client_id = id.to_owned();
        self.client_secret = secret.to_owned();
        self
    }

    /// The client's registered redirect URI (none by default: every
    /// authorization request is refused until one is set).
    pub fn redirect_uri(mut self, url: &str) -> Self {
        self.redirect_uri = Some(url.to_owned());
        self
    }

    /// The user logged in at `/authorize` (default [`User::default`]).
    pub fn user(mut self, user: User) -> Self {
        self.user = user;
        self
    }

    /// Generates the keys and serves on a free loopback port.
    pub async fn start(self) -> FakeProvider {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the provider");
        let port = listener.local_addr().expect("provider address").port();
        let rsa = Key::generate(KeyKind::Rs256);
        let ec = Key::generate(KeyKind::Es256);
        let inner = Inner {
            client_id: self.client_id,
            client_secret: self.client_secret,
            redirect_uri: self.redirect_uri,
            user: self.user,
            signing: rsa.kid.clone(),
            keys: vec![rsa, ec],
            deny_next: false,
            tweaks: Vec::new(),
            codes: HashMap::new(),
            access_tokens: HashMap::new(),
            authorize_log: Vec::new(),
            discovery_overrides: Value::Null,
        };
        let shared = Arc::new(Shared {
            issuer: format!("http://127.0.0.1:{port}"),
            port,
            inner: Mutex::new(inner),
            discovery_fetches: AtomicUsize::new(0),
            jwks_fetches: AtomicUsize::new(0),
            token_requests: AtomicUsize::new(0),
            hang: watch::Sender::new(false),
        });
        let server = spawn(shared.clone(), listener);
        FakeProvider {
            shared,
            server: Mutex::new(Some(server)),
        }
    }
}

/// An OpenID Connect provider of the test's own on `127.0.0.1`, with one
/// registered client. Stopped when dropped.
///
/// Issuer `http://127.0.0.1:PORT`; endpoints `/.well-known/openid-configuration`,
/// `/authorize`, `/token`, `/jwks`, `/userinfo`. At start it generates an
/// RS256 key (the signing key) and an ES256 key, both published.
pub struct FakeProvider {
    shared: Arc<Shared>,
    server: Mutex<Option<Server>>,
}

impl FakeProvider {
    /// A builder with the defaults (client `warden-client` /
    /// `warden-secret`, no redirect URI, [`User::default`]).
    pub fn builder() -> FakeProviderBuilder {
        FakeProviderBuilder {
            client_id: "warden-client".into(),
            client_secret: "warden-secret".into(),
            redirect_uri: None,
            user: User::default(),
        }
    }

    /// Starts one with the defaults.
    pub async fn start() -> Self {
        Self::builder().start().await
    }

    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub fn issuer(&self) -> String {
        self.shared.issuer.clone()
    }

    /// The registered client's id.
    pub fn client_id(&self) -> String {
        self.shared.lock().client_id.clone()
    }

    /// The registered client's secret.
    pub fn client_secret(&self) -> String {
        self.shared.lock().client_secret.clone()
    }

    /// Registers the client's redirect URI (replacing the previous one).
    pub fn set_redirect_uri(&self, url: &str) {
        self.shared.lock().redirect_uri = Some(url.to_owned());
    }

    /// The user the next authorization logs in.
    pub fn set_user(&self, user: User) {
        self.shared.lock().user = user;
    }

    /// The next authorization request is answered `error=access_denied`.
    pub fn deny_next(&self) {
        self.shared.lock().deny_next = true;
    }

    /// Makes the next issued ID token wrong in this way (see [`Tweak`]).
    pub fn tweak_next_id_token(&self, tweak: Tweak) {
        self.shared.lock().tweaks.push(tweak);
    }

    /// Merged over every later discovery document (`null` removes a
    /// member), for a wrong `issuer`, a missing endpoint...
    pub fn override_discovery(&self, overrides: Value) {
        self.shared.lock().discovery_overrides = overrides;
    }

    /// Generates a key of `kind` with a new `kid`, publishes it and makes
    /// it the signing key. The older keys stay published. Returns the kid.
    pub fn rotate(&self, kind: KeyKind) -> String {
        self.add_key(kind, true)
    }

    /// Like [`FakeProvider::rotate`], but the new signing key is not
    /// published until [`FakeProvider::publish`]: ID tokens then carry a
    /// `kid` the JWKS does not have.
    pub fn rotate_unpublished(&self, kind: KeyKind) -> String {
        self.add_key(kind, false)
    }

    fn add_key(&self, kind: KeyKind, published: bool) -> String {
        let mut key = Key::generate(kind);
        key.published = published;
        let kid = key.kid.clone();
        let mut inner = self.shared.lock();
        inner.keys.push(key);
        inner.signing = kid.clone();
        kid
    }

    /// Publishes the key `kid` in the JWKS. Panics on an unknown kid.
    pub fn publish(&self, kid: &str) {
        self.shared.lock().key_mut(kid).published = true;
    }

    /// Removes the key `kid` from the JWKS (it can still sign). Panics on
    /// an unknown kid.
    pub fn unpublish(&self, kid: &str) {
        self.shared.lock().key_mut(kid).published = false;
    }

    /// The `kid` of the key that signs ID tokens.
    pub fn signing_kid(&self) -> String {
        self.shared.lock().signing.clone()
    }

    /// The `kid` of the newest key of `kind`.
    pub fn kid(&self, kind: KeyKind) -> String {
        let inner = self.shared.lock();
        inner
            .key(&kind.into())
            .expect("a key of each kind")
            .kid
            .clone()
    }

    /// The SPKI PEM of a key's public half. Panics on an unknown kid.
    pub fn public_pem(&self, key: impl Into<KeyRef>) -> String {
        let key = key.into();
        let inner = self.shared.lock();
        let found = inner.key(&key);
        found
            .unwrap_or_else(|| panic!("no key {key:?}"))
            .public_pem
            .clone()
    }

    /// A JWT over `claims` signed by one of the provider's keys, with the
    /// header `{alg, kid, typ: "JWT"}` merged with `header_extra` (for
    /// `typ: "at+jwt"`...). Panics on an unknown kid.
    pub fn mint(&self, key: impl Into<KeyRef>, header_extra: Value, claims: Value) -> String {
        let key = key.into();
        let inner = self.shared.lock();
        let key = inner.key(&key).unwrap_or_else(|| panic!("no key {key:?}"));
        let mut header = key.header();
        merge(&mut header, &header_extra);
        key.sign(&header, &claims)
    }

    /// How many times `/jwks` was fetched.
    pub fn jwks_fetches(&self) -> usize {
        self.shared.jwks_fetches.load(Ordering::SeqCst)
    }

    /// How many times the discovery document was fetched.
    pub fn discovery_fetches(&self) -> usize {
        self.shared.discovery_fetches.load(Ordering::SeqCst)
    }

    /// How many requests reached `/token`.
    pub fn token_requests(&self) -> usize {
        self.shared.token_requests.load(Ordering::SeqCst)
    }

    /// The query parameters of every authorization request, in order, bad
    /// ones included (the first of a repeated parameter).
    pub fn authorize_requests(&self) -> Vec<HashMap<String, String>> {
        self.shared.lock().authorize_log.clone()
    }

    /// While on, every request that arrives is accepted and never
    /// answered, nor counted: it is held until the provider stops (turning
    /// this off serves only the requests that come after).
    pub fn hang(&self, on: bool) {
        self.shared.hang.send_replace(on);
    }

    /// Stops serving: the listening socket closes (connections are refused
    /// afterwards) and open connections are closed. State and keys are
    /// kept for [`FakeProvider::restart`].
    pub async fn stop(&self) {
        let server = self
            .server
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(Server { stop, mut task }) = server {
            stop.send_replace(true);
            if tokio::time::timeout(Duration::from_secs(5), &mut task)
                .await
                .is_err()
            {
                task.abort();
            }
        }
    }

    /// Serves again on the same port, with the same keys and state (stops
    /// first if running).
    pub async fn restart(&self) {
        self.stop().await;
        let mut attempts = 0;
        let listener = loop {
            match tokio::net::TcpListener::bind(("127.0.0.1", self.shared.port)).await {
                Ok(listener) => break listener,
                Err(_) if attempts < 100 => {
                    attempts += 1;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(error) => panic!("rebind port {}: {error}", self.shared.port),
            }
        };
        let server = spawn(self.shared.clone(), listener);
        *self.server.lock().unwrap_or_else(PoisonError::into_inner) = Some(server);
    }
}

impl Drop for FakeProvider {
    fn drop(&mut self) {
        let server = self
            .server
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(server) = server.take() {
            // The run stops on its own once told; the runtime may be gone.
            server.stop.send_replace(true);
        }
    }
}

/// Serves the provider on `listener` until the run's stop signal.
fn spawn(shared: Arc<Shared>, listener: tokio::net::TcpListener) -> Server {
    let (stop, stop_rx) = watch::channel(false);
    let run = Run {
        shared,
        stop: stop_rx.clone(),
    };
    let router = Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/authorize", get(authorize))
        .route("/token", axum::routing::post(token))
        .route("/jwks", get(jwks))
        .route("/userinfo", get(userinfo).post(userinfo))
        .layer(middleware::from_fn_with_state(run.clone(), hang_gate))
        .with_state(run);
    let mut signal = stop_rx;
    let task = tokio::spawn(async move {
        let shutdown = async move {
            let _ = signal.wait_for(|stopped| *stopped).await;
        };
        let _ = axum::serve(listener, router)
            .with_graceful_shutdown(shutdown)
            .await;
    });
    Server { stop, task }
}

/// Holds every request that arrives while [`FakeProvider::hang`] is on
/// until the provider stops.
async fn hang_gate(State(run): State<Run>, request: Request, next: Next) -> Response {
    if *run.shared.hang.borrow() {
        let mut stop = run.stop;
        let _ = stop.wait_for(|stopped| *stopped).await;
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    next.run(request).await
}

async fn discovery(State(run): State<Run>) -> Response {
    let shared = &run.shared;
    shared.discovery_fetches.fetch_add(1, Ordering::SeqCst);
    let issuer = &shared.issuer;
    let mut document = json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "jwks_uri": format!("{issuer}/jwks"),
        "userinfo_endpoint": format!("{issuer}/userinfo"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256", "ES256"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "scopes_supported": SCOPES,
        "grant_types_supported": ["authorization_code"],
        "claims_supported": ["iss", "sub", "aud", "exp", "iat", "nonce", "email", "email_verified", "name"],
    });
    merge(&mut document, &shared.lock().discovery_overrides);
    axum::Json(document).into_response()
}

async fn jwks(State(run): State<Run>) -> Response {
    run.shared.jwks_fetches.fetch_add(1, Ordering::SeqCst);
    let inner = run.shared.lock();
    let keys: Vec<&Value> = inner
        .keys
        .iter()
        .filter(|k| k.published)
        .map(|k| &k.jwk)
        .collect();
    axum::Json(json!({ "keys": keys })).into_response()
}

async fn authorize(State(run): State<Run>, RawQuery(query): RawQuery) -> Response {
    let (params, repeated) = parse_form(query.unwrap_or_default().as_bytes());
    let mut inner = run.shared.lock();
    inner.authorize_log.push(params.clone());
    let param = |name: &str| params.get(name).map(String::as_str);

    // Without a known client and its exact redirect URI there is nowhere
    // safe to send an error: answer it here.
    let bad = |text: &str| (StatusCode::BAD_REQUEST, text.to_owned()).into_response();
    match param("client_id") {
        None => return bad("client_id is missing"),
        Some(id) if id != inner.client_id => return bad("unknown client_id"),
        Some(_) => {}
    }
    let Some(registered) = inner.redirect_uri.clone() else {
        return bad("the client has no registered redirect_uri");
    };
    if param("redirect_uri") != Some(registered.as_str()) {
        return bad("redirect_uri is not the registered one");
    }
    let state = param("state");
    let error = |code: &str, description: &str| {
        let mut answer = vec![("error", code), ("error_description", description)];
        answer.extend(state.map(|state| ("state", state)));
        redirect(&registered, &answer)
    };
    if let Some(name) = repeated {
        return error("invalid_request", &format!("{name} is repeated"));
    }
    if param("response_type") != Some("code") {
        return error("unsupported_response_type", "response_type must be code");
    }
    let scope = param("scope").unwrap_or_default();
    if !scope.split(' ').any(|s| s == "openid") {
        return error("invalid_scope", "scope must contain openid");
    }
    let Some(challenge) = param("code_challenge") else {
        return error("invalid_request", "code_challenge is missing");
    };
    if param("code_challenge_method") != Some("S256") {
        return error("invalid_request", "code_challenge_method must be S256");
    }
    if challenge.len() != 43 || !challenge.bytes().all(is_base64url) {
        return error("invalid_request", "code_challenge is not a SHA-256 digest");
    }
    if state.is_none() {
        return error("invalid_request", "state is missing");
    }
    let Some(nonce) = param("nonce") else {
        return error("invalid_request", "nonce is missing");
    };
    if std::mem::take(&mut inner.deny_next) {
        return error("access_denied", "the user declined the request");
    }
    let code = random(32);
    let grant = Grant {
        client_id: inner.client_id.clone(),
        redirect_uri: registered.clone(),
        challenge: challenge.to_owned(),
        nonce: nonce.to_owned(),
        user: inner.user.clone(),
        issued: Instant::now(),
        spent: None,
    };
    inner.codes.insert(code.clone(), grant);
    let mut answer = vec![("code", code.as_str())];
    answer.extend(state.map(|state| ("state", state)));
    redirect(&registered, &answer)
}

/// `302` to `target` with `params` added to its query.
fn redirect(target: &str, params: &[(&str, &str)]) -> Response {
    let Ok(mut url) = reqwest::Url::parse(target) else {
        let text = "the registered redirect_uri is not a URL";
        return (StatusCode::BAD_REQUEST, text).into_response();
    };
    url.query_pairs_mut().extend_pairs(params);
    match HeaderValue::try_from(url.as_str()) {
        Ok(location) => (
            StatusCode::FOUND,
            [(header::LOCATION, location)],
            [(header::CACHE_CONTROL, "no-store")],
        )
            .into_response(),
        Err(_) => (StatusCode::BAD_REQUEST, "bad redirect_uri").into_response(),
    }
}

/// An OAuth error answer of the token endpoint (RFC 6749 §5.2).
struct OAuthError {
    status: StatusCode,
    code: &'static str,
    description: String,
}

impl OAuthError {
    fn new(status: StatusCode, code: &'static str, description: &str) -> Self {
        let description = description.to_owned();
        Self {
            status,
            code,
            description,
        }
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body = json!({"error": self.code, "error_description": self.description});
        let mut response = (self.status, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if self.status == StatusCode::UNAUTHORIZED {
            let challenge = HeaderValue::from_static("Basic realm=\"fake-provider\"");
            headers.insert(header::WWW_AUTHENTICATE, challenge);
        }
        response
    }
}

async fn token(State(run): State<Run>, headers: HeaderMap, body: Bytes) -> Response {
    run.shared.token_requests.fetch_add(1, Ordering::SeqCst);
    match exchange(&run.shared, &headers, &body) {
        Ok(body) => {
            let no_store = [
                (header::CACHE_CONTROL, "no-store"),
                (header::PRAGMA, "no-cache"),
            ];
            (no_store, axum::Json(body)).into_response()
        }
        Err(error) => error.into_response(),
    }
}

fn invalid_request(description: &str) -> OAuthError {
    OAuthError::new(StatusCode::BAD_REQUEST, "invalid_request", description)
}

fn invalid_grant(description: &str) -> OAuthError {
    OAuthError::new(StatusCode::BAD_REQUEST, "invalid_grant", description)
}

fn invalid_client(description: &str) -> OAuthError {
    OAuthError::new(StatusCode::UNAUTHORIZED, "invalid_client", description)
}

/// The token endpoint's work: the token answer, or the OAuth error.
fn exchange(shared: &Shared, headers: &HeaderMap, body: &[u8]) -> Result<Value, OAuthError> {
    let (form, repeated) = parse_form(body);
    let basic = headers
        .get(header::AUTHORIZATION)
        .map(|value| value.to_str().ok().and_then(basic_credentials));
    let mut inner = shared.lock();
    let field = |name: &str| form.get(name).map(String::as_str);
    let required =
        |name: &str| field(name).ok_or_else(|| invalid_request(&format!("{name} is missing")));
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let media_type = content_type
        .and_then(|v| v.split(';').next())
        .map(str::trim);
    if media_type != Some("application/x-www-form-urlencoded") {
        return Err(invalid_request(
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    if let Some(name) = repeated {
        return Err(invalid_request(&format!("{name} is repeated")));
    }

    // Client authentication: HTTP Basic or the form, not both.
    let (id, secret) = match (basic, field("client_secret")) {
        (Some(None), _) => return Err(invalid_client("malformed HTTP Basic credentials")),
        (Some(Some(_)), Some(_)) => {
            return Err(invalid_request(
                "more than one client authentication method",
            ));
        }
        (Some(Some((id, _))), None) if field("client_id").is_some_and(|form_id| form_id != id) => {
            return Err(invalid_request(
                "client_id differs from the authenticated client",
            ));
        }
        (Some(Some(credentials)), None) => credentials,
        (None, Some(secret)) => (required("client_id")?.to_owned(), secret.to_owned()),
        (None, None) => return Err(invalid_client("client authentication is required")),
    };
    if id != inner.client_id || secret != inner.client_secret {
        return Err(invalid_client("unknown client or wrong secret"));
    }
    if required("grant_type")? != "authorization_code" {
        let text = "only authorization_code is supported";
        return Err(OAuthError::new(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            text,
        ));
    }
    let code = required("code")?;
    let redirect_uri = required("redirect_uri")?;
    let verifier = required("code_verifier")?;
    let Some(grant) = inner.codes.get_mut(code) else {
        return Err(invalid_grant("unknown authorization code"));
    };
    if let Some(bought) = grant.spent.clone() {
        // A replayed code: what it bought is revoked (RFC 6749 §4.1.2).
        if let Some(access_token) = bought {
            inner.access_tokens.remove(&access_token);
        }
        return Err(invalid_grant("the authorization code was already used"));
    }
    // Spent by this attempt, whatever its outcome.
    grant.spent = Some(None);
    if grant.issued.elapsed() > CODE_LIFETIME {
        return Err(invalid_grant("the authorization code expired"));
    }
    if grant.client_id != id {
        return Err(invalid_grant("the code was issued to another client"));
    }
    if grant.redirect_uri != redirect_uri {
        return Err(invalid_grant(
            "redirect_uri differs from the authorization request's",
        ));
    }
    if !(43..=128).contains(&verifier.len()) || !verifier.bytes().all(is_unreserved) {
        return Err(invalid_request(
            "code_verifier is not 43 to 128 unreserved characters",
        ));
    }
    if URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())) != grant.challenge {
        return Err(invalid_grant("code_verifier does not match code_challenge"));
    }
    let access_token = random(32);
    grant.spent = Some(Some(access_token.clone()));
    let (nonce, user) = (grant.nonce.clone(), grant.user.clone());
    inner
        .access_tokens
        .insert(access_token.clone(), user.clone());
    Ok(json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": ACCESS_TOKEN_LIFETIME,
        "scope": SCOPES.join(" "),
        "id_token": id_token(&mut inner, &shared.issuer, &nonce, &user),
    }))
}

/// The ID token for `user`, with the pending tweaks applied (and spent).
fn id_token(inner: &mut Inner, issuer: &str, nonce: &str, user: &User) -> String {
    let tweaks = std::mem::take(&mut inner.tweaks);
    let inner = &*inner;
    let now = now();
    let mut claims = json!({
        "iss": issuer,
        "sub": user.sub,
        "aud": inner.client_id,
        "exp": now + ID_TOKEN_LIFETIME,
        "iat": now,
        "nonce": nonce,
        "email": user.email,
        "email_verified": user.email_verified,
        "name": user.name,
    });

    let mut key = inner.signing_key();
    for tweak in &tweaks {
        if let Tweak::SignWith(kind) = tweak {
            key = inner.key(&(*kind).into()).expect("a key of each kind");
        }
    }
    let fresh = tweaks
        .contains(&Tweak::UnknownKid)
        .then(|| Key::generate(key.kind));
    let key = fresh.as_ref().unwrap_or(key);

    for tweak in &tweaks {
        match tweak {
            Tweak::Audience(aud) => claims["aud"] = aud.as_str().into(),
            Tweak::Issuer(iss) => claims["iss"] = iss.as_str().into(),
            Tweak::Nonce(nonce) => claims["nonce"] = nonce.as_str().into(),
            Tweak::Expired => {
                claims["exp"] = (now - 3600).into();
                claims["iat"] = (now - 7200).into();
            }
            Tweak::IssuedInFuture => {
                claims["iat"] = (now + 86_400).into();
                claims["exp"] = (now + 86_400 + ID_TOKEN_LIFETIME).into();
            }
            Tweak::Claims(overrides) => merge(&mut claims, overrides),
            _ => {}
        }
    }
    let mut header = key.header();
    let mut token = if tweaks.contains(&Tweak::AlgNone) {
        header["alg"] = "none".into();
        format!("{}.{}.", b64(header.to_string()), b64(claims.to_string()))
    } else if tweaks.contains(&Tweak::Hs256WithPublicKey) {
        let rsa = inner.key(&KeyKind::Rs256.into()).expect("an RSA key");
        header["alg"] = "HS256".into();
        header["kid"] = rsa.kid.as_str().into();
        let hmac = EncodingKey::from_secret(rsa.public_pem.as_bytes()).expect("HMAC key");
        forge(&header, &claims, &hmac, Algorithm::HS256)
    } else {
        key.sign(&header, &claims)
    };
    if tweaks.contains(&Tweak::BadSignature) {
        token = flip_signature(&token);
    }
    token
}

/// `token` with one bit of its signature flipped.
fn flip_signature(token: &str) -> String {
    let Some((message, signature)) = token.rsplit_once('.') else {
        return token.to_owned();
    };
    let Ok(mut bytes) = URL_SAFE_NO_PAD.decode(signature) else {
        return token.to_owned();
    };
    let middle = bytes.len() / 2;
    if let Some(byte) = bytes.get_mut(middle) {
        *byte ^= 0x01;
    }
    format!("{message}.{}", URL_SAFE_NO_PAD.encode(bytes))
}

async fn userinfo(State(run): State<Run>, headers: HeaderMap) -> Response {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    let inner = run.shared.lock();
    let Some(user) = token.and_then(|token| inner.access_tokens.get(token)) else {
        let challenge = match token {
            None => "Bearer realm=\"fake-provider\"",
            Some(_) => "Bearer realm=\"fake-provider\", error=\"invalid_token\"",
        };
        let body = json!({"error": "invalid_token", "error_description": "no valid access token"});
        let challenge = [(header::WWW_AUTHENTICATE, challenge)];
        return (StatusCode::UNAUTHORIZED, challenge, axum::Json(body)).into_response();
    };
    axum::Json(json!({
        "sub": user.sub,
        "email": user.email,
        "email_verified": user.email_verified,
        "name": user.name,
    }))
    .into_response()
}

/// Parses an `application/x-www-form-urlencoded` string: the parameters
/// (the first of each name) and the name of one that is repeated, if any.
fn parse_form(bytes: &[u8]) -> (HashMap<String, String>, Option<String>) {
    let mut params = HashMap::new();
    let mut repeated = None;
    for (name, value) in form_urlencoded::parse(bytes).into_owned() {
        match params.entry(name) {
            Entry::Occupied(entry) => drop(repeated.get_or_insert_with(|| entry.key().clone())),
            Entry::Vacant(entry) => drop(entry.insert(value)),
        }
    }
    (params, repeated)
}

/// The (id, secret) of an `Authorization: Basic` value, each form-urldecoded
/// (RFC 6749 §2.3.1); `None` when it is not well-formed Basic credentials.
fn basic_credentials(value: &str) -> Option<(String, String)> {
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = STANDARD.decode(encoded.trim()).ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((form_decode(id)?, form_decode(secret)?))
}

/// Decodes `application/x-www-form-urlencoded` text (`+` is a space);
/// `None` on a bad `%` escape or a result that is not UTF-8.
fn form_decode(text: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(text.len());
    let mut input = text.bytes();
    while let Some(byte) = input.next() {
        bytes.push(match byte {
            b'+' => b' ',
            b'%' => {
                let high = char::from(input.next()?).to_digit(16)?;
                let low = char::from(input.next()?).to_digit(16)?;
                u8::try_from(high * 16 + low).ok()?
            }
            other => other,
        });
    }
    String::from_utf8(bytes).ok()
}

fn is_base64url(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_'
}

/// RFC 7636 §4.1: `[A-Z] / [a-z] / [0-9] / "-" / "." / "_" / "~"`.
fn is_unreserved(byte: u8) -> bool {
    is_base64url(byte) || byte == b'.' || byte == b'~'
}

/// `bytes` random bytes, base64url.
fn random(bytes: usize) -> String {
    let mut buffer = vec![0; bytes];
    getrandom::fill(&mut buffer).expect("getrandom");
    b64(buffer)
}

/// Sets each member of `overrides` (an object) in `target`; a `null`
/// member removes it.
fn merge(target: &mut Value, overrides: &Value) {
    let (Some(target), Some(overrides)) = (target.as_object_mut(), overrides.as_object()) else {
        return;
    };
    for (name, value) in overrides {
        if value.is_null() {
            target.remove(name);
        } else {
            target.insert(name.clone(), value.clone());
        }
    }
}

/// A browser for the login flows: a cookie store, and redirects followed
/// only when asked ([`Browser::follow`]). A new one has no cookies.
pub struct Browser {
    http: reqwest::Client,
    jar: Arc<reqwest::cookie::Jar>,
}

impl Default for Browser {
    fn default() -> Self {
        Self::new()
    }
}

impl Browser {
    /// A browser with no cookies.
    pub fn new() -> Self {
        let jar = Arc::new(reqwest::cookie::Jar::default());
        let http = reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .build()
            .expect("browser client");
        Self { http, jar }
    }

    /// The underlying client, sharing this browser's cookies (for a form
    /// post...).
    pub fn client(&self) -> &reqwest::Client {
        &self.http
    }

    /// `GET url`, one hop: a redirect is returned, not followed.
    pub async fn get(&self, url: &str) -> reqwest::Response {
        let response = self.http.get(url).send().await;
        response.unwrap_or_else(|error| panic!("GET {url}: {error}"))
    }

    /// `GET url` and then every redirect's `Location` (relative ones
    /// resolved), at most 10 redirects: every URL visited, in order, and
    /// the last answer (a redirect itself when there were more).
    pub async fn follow(&self, url: &str) -> (Vec<String>, Answer) {
        let mut visited = vec![url.to_owned()];
        loop {
            let current = visited.last().expect("a visited URL").clone();
            let response = self.get(&current).await;
            let location = response
                .headers()
                .get(header::LOCATION)
                .and_then(|value| value.to_str().ok());
            let next = location
                .filter(|_| response.status().is_redirection() && visited.len() <= 10)
                .and_then(|location| response.url().join(location).ok());
            if let Some(next) = next {
                visited.push(next.into());
                continue;
            }
            let status = response.status();
            let headers = response.headers().clone();
            let bytes = response.bytes().await.expect("response body");
            return (visited, Answer::new(status, headers, &bytes));
        }
    }

    /// The `Cookie` header this browser would send to `url` ("" if none).
    pub fn cookies_for(&self, url: &str) -> String {
        let url = reqwest::Url::parse(url).expect("a URL");
        self.jar
            .cookies(&url)
            .and_then(|value| value.to_str().map(str::to_owned).ok())
            .unwrap_or_default()
    }
}
