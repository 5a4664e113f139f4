//! The authorization code flow: the redirect to the provider and the
//! callback, with PKCE (S256), a browser-bound `state` and a `nonce`
//! always on.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use oauth2::basic::BasicErrorResponseType;
use oauth2::{
    AuthorizationCode, CsrfToken, PkceCodeChallenge, PkceCodeVerifier, RequestTokenError, Scope,
    TokenResponse as _,
};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use url::Url;

use super::constant_time_eq;
use super::cookie::{COOKIE_NAME, Flow, Sealer, flow_cookie};
use super::error::{OidcConfigError, SignInError};
use super::fetch::is_loopback;
use super::id_token::{self, Expected, IdClaims, IdTokenError};
use super::provider::{Provider, ProviderRuntime};
use crate::auth::TokenError;
use crate::auth::jwt::unix_now;

/// How long a started sign-in may take before its callback is refused.
pub const FLOW_LIFETIME: Duration = Duration::from_secs(10 * 60);
/// The default bound on a whole callback (code exchange, keys, userinfo).
pub const DEFAULT_CALLBACK_DEADLINE: Duration = Duration::from_secs(9);
/// The clock skew allowed on ID token times.
const ID_TOKEN_LEEWAY: u64 = 60;
/// How old an ID token's `iat` may be: it was just minted for this code.
const ID_TOKEN_MAX_AGE: u64 = 10 * 60;
/// The most completed flows remembered (to refuse a second callback).
const MAX_SPENT: usize = 100_000;

/// The identity a provider vouched for, after every check passed: the ID
/// token's signature, `iss`, `aud`, `azp`, `exp`, `iat` and `nonce`, with
/// the PKCE verifier and the browser-bound `state` before them.
///
/// The application decides what it means: link it to a user, create one,
/// or refuse. `(issuer, subject)` is the stable identifier of the person;
/// an email may change hands, so trust it only when
/// [`verified_email`](Self::verified_email) returns it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Identity {
    /// The configured name of the provider (`google`).
    pub provider: String,
    /// The issuer (`https://accounts.google.com`).
    pub issuer: String,
    /// The `sub`: the provider's stable, unique id of this person.
    pub subject: String,
    /// The email, if the provider shared one.
    pub email: Option<String>,
    /// Whether the provider says it verified that email.
    pub email_verified: bool,
    /// The display name, if the provider shared one.
    pub name: Option<String>,
    /// Every other claim of the ID token (`picture`, Google's `hd`, ...).
    pub claims: serde_json::Map<String, serde_json::Value>,
}

impl Identity {
    /// The email, when the provider shared one and says it is verified;
    /// [`SignInError::EmailNotVerified`] otherwise.
    pub fn verified_email(&self) -> Result<&str, SignInError> {
        match &self.email {
            Some(email) if self.email_verified && !email.is_empty() => Ok(email),
            _ => Err(SignInError::EmailNotVerified),
        }
    }
}

/// Sign-in through OpenID Connect providers: two routes per provider,
/// `GET {prefix}/{provider}` (the redirect to the provider) and
/// `GET {prefix}/{provider}/callback` (the return), with every protection
/// on and nothing to configure:
///
/// - **PKCE** with S256: a fresh verifier per sign-in, sent only with the
///   code exchange;
/// - **`state`** bound to the browser that started the sign-in, through a
///   cookie (`HttpOnly`, `SameSite=Lax`, `Path={prefix}/`, 10 minutes,
///   `Secure` unless the public URL is plain-HTTP loopback) whose value is
///   encrypted and authenticated with a key derived from the secret; each
///   flow's callback works once;
/// - a **`nonce`** the ID token must carry;
/// - the **ID token** checked against the provider's keys (JWKS, fetched
///   again on an unknown `kid` at most once per interval), with an
///   algorithm allow-list (asymmetric only), `iss`, `aud`, `azp`, `exp`,
///   `iat` and the `nonce`;
/// - **timeouts** on every provider call, and a deadline on the whole
///   callback: an unreachable provider is a 503, never a hang.
///
/// Failures are problem+json with a distinct `code` (see [`SignInError`])
/// and are audited on `warden::audit`; no code, token or verifier is ever
/// logged. On success, the application's own async function receives the
/// verified [`Identity`] and the router state, and answers as it likes
/// (typically with [`Warden::sign_in`](crate::Warden::sign_in)); the flow
/// cookie is cleared on its answer.
///
/// ```no_run
/// use axum::{Json, Router};
/// use axum::response::{IntoResponse, Response};
/// use warden::oidc::{Identity, Provider, SignIn, SignInError};
///
/// #[derive(Clone)]
/// struct App { /* database, Warden, ... */ }
///
/// async fn signed_in(app: App, identity: Identity) -> Response {
///     let email = match identity.verified_email() {
///         Ok(email) => email.to_owned(),
///         Err(error) => return error.into_response(),
///     };
///     // Find or create the user of `email`, then issue a session.
///     Json(serde_json::json!({ "email": email })).into_response()
/// }
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let sign_in = SignIn::builder(b"the application secret, 32 bytes or more", "https://api.example.com")
///     .provider("google", Provider::google("1234.apps.googleusercontent.com", "client secret")?)
///     .build()?;
/// tokio::spawn({
///     let sign_in = sign_in.clone();
///     async move { sign_in.warm_up().await }
/// });
/// let app: Router = sign_in.routes(signed_in).with_state(App {});
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct SignIn {
    inner: Arc<Inner>,
}

struct Inner {
    providers: HashMap<String, ProviderRuntime>,
    sealer: Sealer,
    prefix: String,
    cookie_attributes: String,
    deadline: Duration,
    spent: Mutex<Spent>,
    warden: Option<crate::Warden>,
}

impl std::fmt::Debug for SignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<_> = self.inner.providers.keys().collect();
        names.sort();
        f.debug_struct("SignIn")
            .field("providers", &names)
            .field("prefix", &self.inner.prefix)
            .finish_non_exhaustive()
    }
}

/// A [`SignIn`] being configured.
pub struct SignInBuilder {
    secret: Vec<u8>,
    public_url: String,
    prefix: String,
    providers: Vec<(String, Provider)>,
    deadline: Duration,
    warden: Option<crate::Warden>,
}

impl std::fmt::Debug for SignInBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignInBuilder")
            .field("public_url", &self.public_url)
            .field("providers", &self.providers)
            .finish_non_exhaustive()
    }
}

impl Drop for SignInBuilder {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.secret);
    }
}

impl SignIn {
    /// Starts a configuration: `secret` (at least 32 bytes; the
    /// application's JWT secret will do, a key is derived from it) keys the
    /// flow cookie, and `public_url` is the application's external base
    /// URL, from which redirect URIs are made:
    /// `{public_url}{prefix}/{provider}/callback`.
    pub fn builder(secret: impl AsRef<[u8]>, public_url: impl Into<String>) -> SignInBuilder {
        SignInBuilder {
            secret: secret.as_ref().to_vec(),
            public_url: public_url.into(),
            prefix: "/auth".to_owned(),
            providers: Vec::new(),
            deadline: DEFAULT_CALLBACK_DEADLINE,
            warden: None,
        }
    }

    /// The names of the configured providers.
    pub fn providers(&self) -> impl Iterator<Item = &str> {
        self.inner.providers.keys().map(String::as_str)
    }

    /// The redirect URI to register with the provider `name`.
    pub fn redirect_uri(&self, name: &str) -> Option<&str> {
        self.inner
            .providers
            .get(name)
            .map(|p| p.redirect_uri.as_str())
    }

    /// Fetches every provider's discovery document and keys now, with a
    /// few bounded retries (3 attempts, a second apart), instead of on the
    /// first sign-in. A provider that cannot be reached is logged and
    /// fetched again on demand: sign-ins through it answer 503 meanwhile.
    pub async fn warm_up(&self) {
        for (name, provider) in &self.inner.providers {
            let mut ready = false;
            for attempt in 0..3 {
                if attempt > 0 {
                    tokio::time::sleep(Duration::from_millis(1100)).await;
                }
                if let Ok(metadata) = provider.metadata().await
                    && provider.keys(&metadata).await.is_ok()
                {
                    ready = true;
                    break;
                }
            }
            if !ready {
                tracing::warn!(
                    target: crate::audit::TARGET,
                    provider = %name,
                    "the sign-in provider is unreachable; its routes answer 503 until it can be reached"
                );
            }
        }
    }

    /// The prefix of the routes (`/auth`).
    #[cfg_attr(not(feature = "utoipa"), allow(dead_code))]
    pub(crate) fn path_prefix(&self) -> &str {
        &self.inner.prefix
    }

    /// The two routes of every provider, for merging into the
    /// application's router. `on_identity` receives the router state and
    /// the verified [`Identity`], and its answer is the callback's (with
    /// the flow cookie cleared and `Cache-Control: no-store`).
    pub fn routes<S, H, Fut, R>(&self, on_identity: H) -> Router<S>
    where
        S: Clone + Send + Sync + 'static,
        H: Fn(S, Identity) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = R> + Send + 'static,
        R: IntoResponse,
    {
        let start = {
            let sign_in = self.clone();
            move |Path(provider): Path<String>| {
                let sign_in = sign_in.clone();
                async move { sign_in.start(&provider).await }
            }
        };
        let callback = {
            let sign_in = self.clone();
            move |State(state): State<S>,
                  Path(provider): Path<String>,
                  RawQuery(query): RawQuery,
                  headers: HeaderMap| {
                let sign_in = sign_in.clone();
                let on_identity = on_identity.clone();
                async move {
                    match sign_in
                        .finish(&provider, query.as_deref().unwrap_or(""), &headers)
                        .await
                    {
                        Ok(identity) => {
                            let mut response = on_identity(state, identity).await.into_response();
                            sign_in.clear_cookie(response.headers_mut());
                            response
                        }
                        Err(Refused { error, clear }) => {
                            let mut response = error.into_response();
                            if clear {
                                sign_in.clear_cookie(response.headers_mut());
                            }
                            response
                        }
                    }
                }
            }
        };
        let prefix = &self.inner.prefix;
        Router::new()
            .route(&format!("{prefix}/{{provider}}"), get(start))
            .route(&format!("{prefix}/{{provider}}/callback"), get(callback))
    }

    /// The redirect to the provider: a fresh `state`, `nonce` and PKCE
    /// verifier, sealed in the flow cookie.
    async fn start(&self, name: &str) -> Response {
        let Some(provider) = self.inner.providers.get(name) else {
            return SignInError::UnknownProvider.into_response();
        };
        let metadata = match provider.metadata().await {
            Ok(metadata) => metadata,
            Err(error) => return error.into_response(),
        };
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let nonce = CsrfToken::new_random();
        let (url, state) = provider
            .client(&metadata)
            .authorize_url(CsrfToken::new_random)
            .add_scopes(provider.config.scopes.iter().cloned().map(Scope::new))
            .add_extra_param("nonce", nonce.secret().clone())
            .set_pkce_challenge(challenge)
            .url();
        let flow = Flow {
            provider: name.to_owned(),
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            verifier: verifier.secret().clone(),
            expires_at: unix_now() + FLOW_LIFETIME.as_secs(),
        };
        let Some(sealed) = self.inner.sealer.seal(&flow) else {
            return SignInError::ProviderUnavailable.into_response();
        };
        let (Ok(location), Ok(cookie)) = (
            HeaderValue::from_str(url.as_str()),
            HeaderValue::from_str(&format!(
                "{COOKIE_NAME}={sealed}; Max-Age={}{}",
                FLOW_LIFETIME.as_secs(),
                self.inner.cookie_attributes
            )),
        ) else {
            return SignInError::ProviderUnavailable.into_response();
        };
        let mut response = StatusCode::FOUND.into_response();
        let headers = response.headers_mut();
        headers.insert(header::LOCATION, location);
        headers.insert(header::SET_COOKIE, cookie);
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }

    fn clear_cookie(&self, headers: &mut HeaderMap) {
        if let Ok(value) = HeaderValue::from_str(&format!(
            "{COOKIE_NAME}=; Max-Age=0{}",
            self.inner.cookie_attributes
        )) {
            headers.append(header::SET_COOKIE, value);
        }
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }

    /// The callback: the state against the cookie, then the code exchange
    /// and the ID token, within the deadline.
    async fn finish(
        &self,
        name: &str,
        query: &str,
        headers: &HeaderMap,
    ) -> Result<Identity, Refused> {
        let Some(provider) = self.inner.providers.get(name) else {
            return Err(Refused::keep(SignInError::UnknownProvider));
        };
        let refuse = |error: SignInError, clear: bool, reason: &str| {
            tracing::warn!(
                target: crate::audit::TARGET,
                provider = %name,
                code = error.code(),
                reason,
                "sign-in refused"
            );
            Refused { error, clear }
        };
        let callback: Callback = serde_urlencoded::from_str(query)
            .map_err(|_| refuse(SignInError::InvalidRequest, false, "malformed_query"))?;
        let flow = flow_cookie(headers)
            .and_then(|value| self.inner.sealer.open(value))
            .ok_or_else(|| refuse(SignInError::InvalidState, false, "no_valid_cookie"))?;
        if flow.provider != name || flow.expires_at < unix_now() {
            return Err(refuse(
                SignInError::InvalidState,
                false,
                "cookie_of_another_flow",
            ));
        }
        let Some(state) = callback.state.as_deref() else {
            return Err(refuse(SignInError::InvalidState, false, "missing_state"));
        };
        if !constant_time_eq(state.as_bytes(), flow.state.as_bytes()) {
            return Err(refuse(SignInError::InvalidState, false, "state_mismatch"));
        }
        // Spent before anything else happens, so that a second callback
        // of this flow fails even while the first is still running.
        match self.spend(&flow).await {
            Ok(true) => {}
            Ok(false) => return Err(refuse(SignInError::InvalidState, true, "state_replayed")),
            Err(error) => return Err(refuse(error, false, "store_unavailable")),
        }
        // A response naming another issuer is a mix-up (RFC 9207): the
        // code is for another provider and must not be sent to this one.
        if callback
            .iss
            .as_deref()
            .is_some_and(|iss| iss != provider.config.issuer)
        {
            return Err(refuse(SignInError::InvalidRequest, true, "issuer_mismatch"));
        }
        if callback.error.is_some() {
            return Err(refuse(SignInError::AccessDenied, true, "provider_error"));
        }
        let Some(code) = callback.code else {
            return Err(refuse(SignInError::InvalidRequest, true, "missing_code"));
        };
        let verified = tokio::time::timeout(
            self.inner.deadline,
            self.exchange(name, provider, code, &flow),
        )
        .await
        .unwrap_or(Err((SignInError::ProviderUnavailable, "deadline")));
        verified.map_err(|(error, reason)| refuse(error, true, reason))
    }

    /// Exchanges the code with the PKCE verifier, verifies the ID token,
    /// and completes the identity from userinfo when the ID token has no
    /// email.
    async fn exchange(
        &self,
        name: &str,
        provider: &ProviderRuntime,
        code: String,
        flow: &Flow,
    ) -> Result<Identity, (SignInError, &'static str)> {
        let metadata = provider
            .metadata()
            .await
            .map_err(|e| (e, "discovery_failed"))?;
        let response = provider
            .client(&metadata)
            .exchange_code(AuthorizationCode::new(code))
            .set_pkce_verifier(PkceCodeVerifier::new(flow.verifier.clone()))
            .request_async(&provider.fetcher)
            .await
            .map_err(|error| match error {
                RequestTokenError::ServerResponse(response) => {
                    if *response.error() == BasicErrorResponseType::InvalidClient {
                        tracing::error!(
                            target: crate::audit::TARGET,
                            provider = %name,
                            "the provider refused this application's client credentials; check the client id and secret"
                        );
                    }
                    (SignInError::InvalidGrant, "code_exchange_refused")
                }
                RequestTokenError::Request(_) => {
                    (SignInError::ProviderUnavailable, "token_endpoint_unreachable")
                }
                RequestTokenError::Parse(..) | RequestTokenError::Other(_) => {
                    (SignInError::ProviderUnavailable, "token_response_invalid")
                }
            })?;
        let id_token = response
            .extra_fields()
            .id_token
            .as_deref()
            .ok_or((SignInError::InvalidIdToken, "no_id_token"))?;
        let claims = self
            .verify_id_token(provider, &metadata, id_token, flow)
            .await?;
        let mut identity = Identity {
            provider: name.to_owned(),
            issuer: provider.config.issuer.clone(),
            subject: claims.sub.unwrap_or_default(),
            email: claims.email,
            email_verified: claims.email_verified.unwrap_or(false),
            name: claims.name,
            claims: claims.other,
        };
        if identity.email.is_none()
            && let Some(userinfo) = &metadata.userinfo_endpoint
        {
            let info = userinfo_of(provider, userinfo, response.access_token().secret())
                .await
                .map_err(|e| (e, "userinfo_failed"))?;
            // OpenID Connect Core 5.3.2: userinfo of another subject is
            // not this person's.
            if info.sub == identity.subject {
                identity.email = info.email;
                identity.email_verified = info.email_verified.unwrap_or(false);
                identity.name = identity.name.or(info.name);
            }
        }
        tracing::info!(
            target: crate::audit::TARGET,
            provider = %name,
            "sign-in verified"
        );
        Ok(identity)
    }

    async fn verify_id_token(
        &self,
        provider: &ProviderRuntime,
        metadata: &super::discovery::Metadata,
        token: &str,
        flow: &Flow,
    ) -> Result<IdClaims, (SignInError, &'static str)> {
        let expected = Expected {
            issuer: &provider.config.issuer,
            client_id: &provider.config.client_id,
            nonce: &flow.nonce,
            leeway: ID_TOKEN_LEEWAY,
            max_age: ID_TOKEN_MAX_AGE,
        };
        let keys = provider
            .keys(metadata)
            .await
            .map_err(|e| (e, "keys_unavailable"))?;
        let invalid = |error: IdTokenError| (SignInError::InvalidIdToken, error.reason());
        match id_token::verify(token, &keys, &expected) {
            Err(IdTokenError::Token(TokenError::UnknownKey)) => {
                // The provider may have rotated: fetch its keys again
                // (at most once per interval), then try once more.
                let newer = provider
                    .refetch_keys(keys.generation, metadata)
                    .await
                    .map_err(|e| (e, "keys_unavailable"))?;
                if !newer {
                    return Err(invalid(IdTokenError::Token(TokenError::UnknownKey)));
                }
                id_token::verify(token, &provider.keys.snapshot(), &expected).map_err(invalid)
            }
            verified => verified.map_err(invalid),
        }
    }

    /// Records a flow as completed; `false` if it already was. With a
    /// [`Warden`](crate::Warden), in its limit store (shared by every
    /// instance on one Redis), as a limit of one per flow lifetime keyed
    /// by the state's digest; in this instance's memory otherwise.
    async fn spend(&self, flow: &Flow) -> Result<bool, SignInError> {
        let digest: [u8; 32] = Sha256::digest(flow.state.as_bytes()).into();
        if let Some(warden) = &self.inner.warden {
            let key: String = digest.iter().map(|b| format!("{b:02x}")).collect();
            return match warden.check_limit(&FLOW_ONCE, &key).await {
                Ok(attempt) => {
                    // Counted for good: a flow completes once whatever
                    // its outcome.
                    drop(attempt);
                    Ok(true)
                }
                Err(refused) if refused.status() == StatusCode::TOO_MANY_REQUESTS => Ok(false),
                Err(_) => Err(SignInError::StoreUnavailable),
            };
        }
        let now = unix_now();
        let mut spent = match self.inner.spent.lock() {
            Ok(spent) => spent,
            Err(poisoned) => poisoned.into_inner(),
        };
        Ok(spent.insert(digest, flow.expires_at, now))
    }
}

/// One completion per flow: its lifetime is the window.
static FLOW_ONCE: std::sync::LazyLock<crate::limit::KeyedLimit> = std::sync::LazyLock::new(|| {
    crate::limit::KeyedLimit::new(
        "oidc-flow",
        crate::limit::Rate::new(1, FLOW_LIFETIME).unwrap_or_else(|_| unreachable!("a valid rate")),
    )
});

/// A refusal, and whether the flow cookie is spent (cleared in the
/// answer). A cookie is only cleared once its state matched: a forged
/// callback must not end the sign-in the browser is really doing.
struct Refused {
    error: SignInError,
    clear: bool,
}

impl Refused {
    fn keep(error: SignInError) -> Self {
        Self {
            error,
            clear: false,
        }
    }
}

/// The callback's query.
#[derive(Deserialize)]
struct Callback {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    error: Option<String>,
    /// RFC 9207: the issuer of this authorization response, which a
    /// provider that sends it must send as its own.
    #[serde(default)]
    iss: Option<String>,
}

/// The states of completed flows, until their cookies would have expired
/// anyway. Bounded: past [`MAX_SPENT`] the soonest to expire is dropped
/// (its code was spent at the provider, which refuses it again).
#[derive(Default)]
struct Spent {
    until: HashMap<[u8; 32], u64>,
}

impl Spent {
    fn insert(&mut self, digest: [u8; 32], expires_at: u64, now: u64) -> bool {
        if self.until.get(&digest).is_some_and(|&until| until >= now) {
            return false;
        }
        if self.until.len() >= MAX_SPENT {
            self.until.retain(|_, until| *until >= now);
            if self.until.len() >= MAX_SPENT
                && let Some(oldest) = self
                    .until
                    .iter()
                    .min_by_key(|(_, until)| **until)
                    .map(|(k, _)| *k)
            {
                self.until.remove(&oldest);
            }
        }
        self.until.insert(digest, expires_at);
        true
    }
}

#[derive(Deserialize)]
struct UserInfo {
    sub: String,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    email_verified: Option<bool>,
    #[serde(default)]
    name: Option<String>,
}

async fn userinfo_of(
    provider: &ProviderRuntime,
    endpoint: &Url,
    access_token: &str,
) -> Result<UserInfo, SignInError> {
    provider
        .fetcher
        .get_json(endpoint, Some(access_token))
        .await
        .map_err(|_| SignInError::ProviderUnavailable)
}

impl SignInBuilder {
    /// Adds a provider under `name`, the path segment of its routes
    /// (`google` serves `/auth/google` and `/auth/google/callback`).
    pub fn provider(mut self, name: impl Into<String>, provider: Provider) -> Self {
        self.providers.push((name.into(), provider));
        self
    }

    /// The path the routes live under (default `/auth`).
    pub fn path_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into().trim_end_matches('/').to_owned();
        self
    }

    /// Records completed flows in this [`Warden`](crate::Warden)'s limit
    /// store instead of this instance's memory: with a Redis store,
    /// every instance behind one balancer then refuses a flow completed
    /// on another. Without it, a replay on another instance gets past the
    /// state check and is refused by the provider, which never exchanges
    /// a code twice.
    pub fn warden(mut self, warden: &crate::Warden) -> Self {
        self.warden = Some(warden.clone());
        self
    }

    /// The bound on a whole callback: code exchange, keys and userinfo
    /// (default 9 s). Past it, the callback answers 503.
    pub fn callback_deadline(mut self, deadline: Duration) -> Self {
        self.deadline = deadline;
        self
    }

    /// Checks the configuration.
    pub fn build(mut self) -> Result<SignIn, OidcConfigError> {
        if self.secret.len() < 32 {
            return Err(OidcConfigError::SecretTooShort {
                got_bytes: self.secret.len(),
            });
        }
        if self.providers.is_empty() {
            return Err(OidcConfigError::NoProvider);
        }
        if self.deadline.is_zero() || self.deadline > Duration::from_secs(60) {
            return Err(OidcConfigError::InvalidTimeout);
        }
        if !self.prefix.starts_with('/') || self.prefix.contains(['{', '}', '*', '?', '#']) {
            return Err(OidcConfigError::InvalidUrl {
                what: "path prefix",
            });
        }
        let public = Url::parse(self.public_url.trim_end_matches('/'))
            .map_err(|_| OidcConfigError::InvalidUrl { what: "public URL" })?;
        let secure = match public.scheme() {
            "https" => true,
            "http" if is_loopback(&public) => false,
            _ => {
                return Err(OidcConfigError::InsecureUrl {
                    what: "public URL",
                    url: super::fetch::redacted(&public),
                });
            }
        };
        let base = public.as_str().trim_end_matches('/').to_owned();
        let mut providers = HashMap::new();
        for (name, provider) in std::mem::take(&mut self.providers) {
            let valid = !name.is_empty()
                && name.len() <= 32
                && name.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_'
                });
            if !valid {
                return Err(OidcConfigError::InvalidProviderName(name));
            }
            if providers.contains_key(&name) {
                return Err(OidcConfigError::DuplicateProvider(name));
            }
            let redirect = Url::parse(&format!("{base}{}/{name}/callback", self.prefix))
                .map_err(|_| OidcConfigError::InvalidUrl { what: "public URL" })?;
            providers.insert(name, provider.into_runtime(redirect)?);
        }
        let cookie_attributes = format!(
            "; Path={}/; HttpOnly; SameSite=Lax{}",
            self.prefix,
            if secure { "; Secure" } else { "" }
        );
        Ok(SignIn {
            inner: Arc::new(Inner {
                providers,
                sealer: Sealer::new(&self.secret),
                prefix: std::mem::take(&mut self.prefix),
                cookie_attributes,
                deadline: self.deadline,
                spent: Mutex::default(),
                warden: self.warden.take(),
            }),
        })
    }
}

/// A random URL-safe value (used by tests of the cookie).
#[cfg(test)]
fn random() -> String {
    use base64::Engine as _;
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).unwrap();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flow_is_spent_once() {
        let mut spent = Spent::default();
        let digest: [u8; 32] = Sha256::digest(random().as_bytes()).into();
        assert!(spent.insert(digest, 100, 50));
        assert!(!spent.insert(digest, 100, 60));
        // Past its expiry the cookie is refused anyway; the slot is free.
        assert!(spent.insert(digest, 300, 200));
    }

    #[test]
    fn the_spent_set_is_bounded() {
        let mut spent = Spent::default();
        for i in 0..(MAX_SPENT + 10) {
            let digest: [u8; 32] = Sha256::digest(i.to_le_bytes()).into();
            assert!(spent.insert(digest, 1000 + i as u64, 10));
        }
        assert!(spent.until.len() <= MAX_SPENT);
    }

    #[test]
    fn configurations_are_checked() {
        let provider = || Provider::new("https://idp.example.com", "id", "secret").unwrap();
        let secret = [7u8; 32];
        let build = |url: &str, name: &str| {
            SignIn::builder(secret, url)
                .provider(name, provider())
                .build()
                .map(|_| ())
        };
        assert!(build("https://api.example.com", "google").is_ok());
        assert!(build("http://127.0.0.1:3000", "oidc").is_ok());
        assert!(matches!(
            build("http://api.example.com", "google"),
            Err(OidcConfigError::InsecureUrl { .. })
        ));
        assert!(matches!(
            build("https://api.example.com", "Google"),
            Err(OidcConfigError::InvalidProviderName(_))
        ));
        assert!(matches!(
            SignIn::builder([1u8; 31], "https://a.example")
                .provider("g", provider())
                .build(),
            Err(OidcConfigError::SecretTooShort { got_bytes: 31 })
        ));
        assert!(matches!(
            SignIn::builder(secret, "https://a.example").build(),
            Err(OidcConfigError::NoProvider)
        ));
        assert!(matches!(
            SignIn::builder(secret, "https://a.example")
                .provider("g", provider())
                .provider("g", provider())
                .build(),
            Err(OidcConfigError::DuplicateProvider(_))
        ));
        assert!(matches!(
            Provider::new("http://idp.example.com", "id", "secret"),
            Err(OidcConfigError::InsecureUrl { .. })
        ));
        let shown = format!(
            "{:?}",
            Provider::new("https://i.example", "id", "hunter2-secret").unwrap()
        );
        assert!(!shown.contains("hunter2"), "{shown}");
    }

    #[test]
    fn redirect_uris_follow_the_public_url() {
        let sign_in = SignIn::builder([7u8; 32], "https://api.example.com/")
            .provider("google", Provider::google("id", "secret").unwrap())
            .build()
            .unwrap();
        assert_eq!(
            sign_in.redirect_uri("google"),
            Some("https://api.example.com/auth/google/callback")
        );
    }
}
