use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use http::request::Parts;

use crate::auth::refresh::{MemoryTokenStore, RefreshTokens};
use crate::auth::{
    AccessClaims, Authenticator, Claims, IssueError, IssuedAccessToken, Jwt, JwtConfigError,
    TokenError,
};
use crate::http::client::{self, Resolved, has_forwarding_header};
use crate::http::{
    ClientIp, Cors, CorsError, DEFAULT_BODY_LIMIT, ForwardedHeader, HttpDefaults, InvalidProxy,
    SecurityHeaders, TrustedProxies, WardenLayer,
};
use crate::limit::global::GlobalLimit;
use crate::limit::{MemoryStore, Rate, RateSpec, Store};
use crate::manifest::manifest;

/// The default IPv6 prefix clients are grouped by.
pub const DEFAULT_IPV6_PREFIX: u8 = 56;

/// The configured security runtime: what every guard of the application
/// checks requests against.
///
/// Cloning is cheap (one `Arc`). Handlers reach it through the router state:
/// the state is a `Warden`, or implements `FromRef<State> for Warden`
/// (`#[derive(FromRef)]` on a state struct with a `Warden` field).
#[derive(Clone)]
pub struct Warden {
    inner: Arc<Inner>,
}

struct Inner {
    auth: Option<Authenticator>,
    store: Box<dyn Store>,
    proxies: TrustedProxies,
    ipv6_prefix: u8,
    named: HashMap<String, Rate>,
    store_failure: StoreFailure,
    global: Option<GlobalLimit>,
    https: Option<Vec<String>>,
    warned_untrusted_forwarding: AtomicBool,
    warned_no_peer: AtomicBool,
    http: Arc<HttpDefaults>,
    refresh: RefreshTokens,
}

impl fmt::Debug for Warden {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Warden")
            .field("trusted_proxies", &self.inner.proxies)
            .field("ipv6_prefix", &self.inner.ipv6_prefix)
            .field("limit_policies", &self.inner.named)
            .field("store_failure", &self.inner.store_failure)
            .field("global_limit", &self.inner.global.as_ref().map(|g| g.rate))
            .field("refresh_tokens", &self.inner.refresh)
            .finish_non_exhaustive()
    }
}

impl Warden {
    /// Starts a configuration.
    pub fn builder() -> WardenBuilder {
        WardenBuilder {
            jwt: None,
            store: None,
            proxies: Vec::new(),
            forwarded_header: ForwardedHeader::default(),
            ipv6_prefix: DEFAULT_IPV6_PREFIX,
            named: Vec::new(),
            store_failure: StoreFailure::default(),
            global: None,
            global_exempt: Vec::new(),
            require_https: false,
            https_exempt: Vec::new(),
            security_headers: SecurityHeaders::default(),
            cors: Cors::default(),
            body_limit: DEFAULT_BODY_LIMIT,
            refresh: None,
            handlers_in: Vec::new(),
        }
    }

    /// The hardened HTTP defaults, as one layer for the whole router:
    /// security headers on every response, CORS from the allow-list, the
    /// request body limit (413), problem+json for every error response
    /// that is not JSON already (axum's rejections, unmatched routes), the
    /// HTTPS refusal when [HTTPS is required](WardenBuilder::require_https),
    /// and the [global limit](WardenBuilder::global_limit) when there is
    /// one. It is a composition of layers, most of which work alone on any
    /// router: see [`WardenLayer`].
    ///
    /// ```
    /// # use axum::{Router, routing::get};
    /// # use warden::{Warden, auth::Jwt};
    /// # let warden = Warden::builder().jwt(Jwt::hs256([7u8; 32]).unwrap().issuer("i").audience("a")).build().unwrap();
    /// let app: Router = Router::new()
    ///     .route("/health", get(|| async { "ok" }))
    ///     .layer(warden.layer());
    /// ```
    pub fn layer(&self) -> WardenLayer {
        WardenLayer::new(self.clone())
    }

    pub(crate) fn http_defaults(&self) -> Arc<HttpDefaults> {
        Arc::clone(&self.inner.http)
    }

    /// Signs an access token.
    pub fn issue_access_token(
        &self,
        token: &AccessClaims,
    ) -> Result<IssuedAccessToken, IssueError> {
        self.inner
            .auth
            .as_ref()
            .ok_or(IssueError::NoSigningKey)?
            .issue(token)
    }

    /// Whether this runtime can sign access tokens (it has a JWT
    /// configuration whose first key has a private part).
    pub(crate) fn can_sign(&self) -> bool {
        self.inner
            .auth
            .as_ref()
            .is_some_and(Authenticator::can_sign)
    }

    /// Verifies an access token: signature, algorithm, `typ`, `kid`, and the
    /// `exp`, `nbf`, `iss`, `aud` and `sub` claims.
    pub fn verify_access_token(&self, token: &str) -> Result<Claims, TokenError> {
        self.inner
            .auth
            .as_ref()
            .ok_or(TokenError::UnknownKey)?
            .verify(token)
    }

    /// Verifies an access token like
    /// [`verify_access_token`](Self::verify_access_token), through the
    /// cache of verified tokens (see [`Jwt::token_cache`](crate::auth::Jwt::token_cache)).
    /// `credentials` are a bearer header's, whose grammar is checked only
    /// when the cache does not hold them.
    pub(crate) fn verify_shared(&self, credentials: &[u8]) -> Result<Arc<Claims>, TokenError> {
        self.inner
            .auth
            .as_ref()
            .ok_or(TokenError::UnknownKey)?
            .verify_shared(credentials)
    }

    /// How many verified access tokens are cached now (see
    /// [`Jwt::token_cache`](crate::auth::Jwt::token_cache)): for tests and
    /// for operators who size the cache.
    pub fn cached_tokens(&self) -> usize {
        self.inner
            .auth
            .as_ref()
            .map_or(0, Authenticator::cached_tokens)
    }

    /// Verifies an access token like [`verify_access_token`](Self::verify_access_token);
    /// when it names a trusted external issuer's key that is not cached
    /// yet, fetches that issuer's keys first (at most once per interval,
    /// see `warden::oidc::TrustedIssuer`, feature `oidc`). The guards use
    /// this.
    pub async fn verify_access_token_refetching(&self, token: &str) -> Result<Claims, TokenError> {
        let auth = self.inner.auth.as_ref().ok_or(TokenError::UnknownKey)?;
        #[cfg(feature = "oidc")]
        return auth.verify_refetching(token).await;
        #[cfg(not(feature = "oidc"))]
        auth.verify(token)
    }

    /// How many times the JWKS of the trusted external issuer `issuer`
    /// was fetched (`None` if that issuer is not trusted): what an
    /// operator watches to see that unknown key ids do not make warden
    /// hammer an issuer.
    #[cfg(feature = "oidc")]
    pub fn jwks_fetches(&self, issuer: &str) -> Option<u64> {
        self.inner.auth.as_ref()?.jwks_fetches(issuer)
    }

    /// The client address of a request (see [`ClientIp`]): the one
    /// resolution that per-address limits key on, audit events carry and
    /// the `ClientIp` extractor returns.
    ///
    /// Warns once, on the target `warden::audit`, when a forwarding header
    /// arrives from a peer that is not a trusted proxy (proxies may be
    /// misconfigured), and once when the server records no peer addresses.
    pub fn client_ip(&self, parts: &Parts) -> Option<ClientIp> {
        let resolved = self
            .inner
            .proxies
            .resolve_request(&parts.extensions, &parts.headers);
        match resolved {
            None => {
                if !self.inner.warned_no_peer.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        target: crate::audit::TARGET,
                        "requests carry no peer address, so per-client limits share one count; serve the router with into_make_service_with_connect_info::<SocketAddr>()"
                    );
                }
                None
            }
            Some(Resolved::Peer(peer)) => {
                let warned = &self.inner.warned_untrusted_forwarding;
                if !warned.load(Ordering::Relaxed)
                    && has_forwarding_header(&parts.headers)
                    && !warned.swap(true, Ordering::Relaxed)
                {
                    tracing::warn!(
                        target: crate::audit::TARGET,
                        peer = %peer,
                        "a forwarding header arrived from a peer that is not a trusted proxy and was ignored; if this server is behind a proxy, list it in trusted_proxies"
                    );
                }
                Some(ClientIp(peer))
            }
            Some(Resolved::Forwarded(client)) => Some(ClientIp(client)),
        }
    }

    pub(crate) fn store(&self) -> &dyn Store {
        &*self.inner.store
    }

    /// Whether limits admit requests while their store cannot answer.
    pub(crate) fn fails_open(&self) -> bool {
        self.inner.store_failure == StoreFailure::FailOpen
    }

    pub(crate) fn global_limit(&self) -> Option<&GlobalLimit> {
        self.inner.global.as_ref()
    }

    /// When HTTPS is required: `None` if the request may go on, the
    /// refusal (308 or 403) otherwise.
    pub(crate) fn refuse_plain_http(
        &self,
        request: &http::Request<axum::body::Body>,
    ) -> Option<axum::response::Response> {
        let exempt = self.inner.https.as_ref()?;
        if exempt.iter().any(|path| path == request.uri().path()) {
            return None;
        }
        if request.uri().scheme() == Some(&http::uri::Scheme::HTTPS) {
            return None;
        }
        if client::peer(request.extensions())
            .and_then(|peer| self.inner.proxies.forwarded_https(peer, request.headers()))
            == Some(true)
        {
            return None;
        }
        Some(crate::http::https_refusal(request))
    }

    /// The paths exempt from required HTTPS, when HTTPS is required.
    #[cfg_attr(not(feature = "utoipa"), allow(dead_code))]
    pub(crate) fn https_exempt(&self) -> Option<&[String]> {
        self.inner.https.as_deref()
    }

    /// Whether access tokens of external issuers are accepted, whose keys
    /// may be out of reach (503).
    #[cfg_attr(not(feature = "utoipa"), allow(dead_code))]
    pub(crate) fn trusts_external_issuers(&self) -> bool {
        self.inner
            .auth
            .as_ref()
            .is_some_and(|auth| auth.has_external_issuers())
    }

    pub(crate) fn ipv6_prefix(&self) -> u8 {
        self.inner.ipv6_prefix
    }

    pub(crate) fn named_rate(&self, name: &str) -> Option<Rate> {
        self.inner.named.get(name).copied()
    }

    /// The refresh tokens of this runtime's sessions (see
    /// [`Warden::sign_in`]), for what the session methods do not cover.
    pub fn refresh_tokens(&self) -> &RefreshTokens {
        &self.inner.refresh
    }
}

/// The configuration of a [`Warden`]; [`WardenBuilder::build`] checks it.
#[must_use = "a builder does nothing until .build() is called"]
pub struct WardenBuilder {
    jwt: Option<Jwt>,
    store: Option<Box<dyn Store>>,
    proxies: Vec<String>,
    forwarded_header: ForwardedHeader,
    ipv6_prefix: u8,
    named: Vec<(String, Rate)>,
    store_failure: StoreFailure,
    global: Option<Rate>,
    global_exempt: Vec<String>,
    require_https: bool,
    https_exempt: Vec<String>,
    security_headers: SecurityHeaders,
    cors: Cors,
    body_limit: usize,
    refresh: Option<RefreshTokens>,
    handlers_in: Vec<&'static str>,
}

/// What rate limits do while their [`Store`] cannot answer (Redis is down,
/// say).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum StoreFailure {
    /// Refuse the request with 503 problem+json and `Retry-After` (the
    /// default): an outage of the store never lifts a limit, so a login
    /// cannot be brute-forced while Redis is down.
    #[default]
    FailClosed,
    /// Admit the request uncounted, and emit an audit event
    /// (`limits_bypassed`, at error level) for each one. The limits are
    /// off while the store is down: choose this only where availability
    /// matters more than the protection the limits give.
    FailOpen,
}

impl fmt::Debug for WardenBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WardenBuilder")
            .field("jwt", &self.jwt)
            .field("trusted_proxies", &self.proxies)
            .field("ipv6_prefix", &self.ipv6_prefix)
            .finish_non_exhaustive()
    }
}

impl WardenBuilder {
    /// How access tokens are signed and verified. Required when any handler
    /// of the program is `#[protected]`.
    pub fn jwt(mut self, jwt: Jwt) -> Self {
        self.jwt = Some(jwt);
        self
    }

    /// Where rate-limit state lives (default: a [`MemoryStore`] bounded at
    /// one million keys).
    pub fn store(mut self, store: impl Store) -> Self {
        self.store = Some(Box::new(store));
        self
    }

    /// Where the refresh tokens of [sessions](Warden::sign_in) live, and
    /// their lifetimes (default: a bounded
    /// [`MemoryTokenStore`](crate::auth::refresh::MemoryTokenStore) with
    /// the default lifetimes; use a shared store, such as Redis, when the
    /// API runs on several instances).
    pub fn refresh_tokens(mut self, tokens: RefreshTokens) -> Self {
        self.refresh = Some(tokens);
        self
    }

    /// Checks at [`build`](Self::build) only the handlers defined under
    /// the module `path` (`module_path!()`, or a crate name), instead of
    /// every handler linked into the program: for a program that serves
    /// some of them, such as a test binary with several applications. Call
    /// it once for each module the application serves handlers from.
    ///
    /// A handler outside these modules that is served all the same and
    /// names a rate-limit policy the builder does not define answers 500
    /// problem+json (`configuration_error`) and emits a `policy_undefined`
    /// audit event at error level.
    pub fn handlers_in(mut self, path: &'static str) -> Self {
        self.handlers_in.push(path);
        self
    }

    /// The proxies whose forwarding header is believed: addresses or CIDR
    /// networks (`"10.0.0.0/8"`). None by default.
    pub fn trusted_proxies<I, S>(mut self, proxies: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.proxies
            .extend(proxies.into_iter().map(|p| p.as_ref().to_owned()));
        self
    }

    /// The header trusted proxies write the client address to
    /// (X-Forwarded-For by default).
    pub fn forwarded_header(mut self, header: ForwardedHeader) -> Self {
        self.forwarded_header = header;
        self
    }

    /// How many leading bits of an IPv6 address identify a client (default
    /// 56; 128 keys each address on its own).
    pub fn ipv6_prefix(mut self, bits: u8) -> Self {
        self.ipv6_prefix = bits;
        self
    }

    /// Defines the rate of the named policy `#[rate_limit("name")]` refers
    /// to, so that operators can tune it without a rebuild.
    pub fn limit_policy(mut self, name: impl Into<String>, rate: Rate) -> Self {
        self.named.push((name.into(), rate));
        self
    }

    /// What limits do while the store cannot answer: fail closed (503, the
    /// default) or, explicitly, [`StoreFailure::FailOpen`].
    pub fn store_failure(mut self, failure: StoreFailure) -> Self {
        self.store_failure = failure;
        self
    }

    /// One limit per client address over every request that passes
    /// through [`Warden::layer`], unknown routes included, on the same
    /// store and with the same headers and 429 body as `#[rate_limit]`
    /// (named `"global"` in them). Counted before anything else, and on
    /// top of the routes' own limits.
    ///
    /// ```
    /// # use warden::{Warden, auth::Jwt, limit::Rate};
    /// let warden = Warden::builder()
    /// #   .jwt(Jwt::hs256([7u8; 32])?.issuer("i").audience("a"))
    ///     .global_limit("1000/15m".parse::<Rate>()?)
    ///     .global_limit_exempt("/health")          // for load balancers
    ///     .build()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn global_limit(mut self, rate: Rate) -> Self {
        self.global = Some(rate);
        self
    }

    /// A path the global limit does not count (compared exactly, such as
    /// `"/health"`).
    pub fn global_limit_exempt(mut self, path: impl Into<String>) -> Self {
        self.global_exempt.push(path.into());
        self
    }

    /// Refuses requests that did not arrive over HTTPS, in
    /// [`Warden::layer`]: `GET` and `HEAD` get `308 Permanent Redirect` to
    /// the same URL with `https`, every other method `403` problem+json
    /// (a redirect would lose or replay its body). A request arrived over
    /// HTTPS when its URI says `https` (a server that terminates TLS
    /// itself) or when a [trusted proxy](Self::trusted_proxies) says so
    /// (`X-Forwarded-Proto`, or `proto=` in `Forwarded` with
    /// [`ForwardedHeader::Forwarded`]); what the client says about itself
    /// is never believed. Off by default, for local development.
    pub fn require_https(mut self) -> Self {
        self.require_https = true;
        self
    }

    /// A path served over plain HTTP all the same (compared exactly, such
    /// as `"/health"` for a load balancer's probe).
    pub fn https_exempt(mut self, path: impl Into<String>) -> Self {
        self.https_exempt.push(path.into());
        self
    }

    /// Replaces the security headers of [`Warden::layer`].
    pub fn security_headers(mut self, headers: SecurityHeaders) -> Self {
        self.security_headers = headers;
        self
    }

    /// Which origins browsers may call the API from (none by default).
    pub fn cors(mut self, cors: Cors) -> Self {
        self.cors = cors;
        self
    }

    /// The request body limit of [`Warden::layer`] (64 KiB by default).
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }

    /// Checks the configuration and builds the runtime. Every mistake that
    /// can be found before the first request is reported here: an unsafe JWT
    /// configuration, a proxy that is not an address, a named limit no
    /// policy defines, a protected handler with no JWT configuration.
    pub fn build(self) -> Result<Warden, BuildError> {
        let auth = self
            .jwt
            .map(Jwt::compile)
            .transpose()
            .map_err(BuildError::Jwt)?;
        let proxies = TrustedProxies::new(&self.proxies)
            .map_err(BuildError::TrustedProxy)?
            .header(self.forwarded_header);
        if self.ipv6_prefix > 128 {
            return Err(BuildError::Ipv6Prefix(self.ipv6_prefix));
        }
        let cors = self.cors.layer().map_err(BuildError::Cors)?;
        let mut named = HashMap::new();
        for (name, rate) in self.named {
            if !crate::shared::limit::valid_name(&name) {
                return Err(BuildError::PolicyName(name));
            }
            if named.insert(name.clone(), rate).is_some() {
                return Err(BuildError::DuplicatePolicy(name));
            }
        }
        if !self.global_exempt.is_empty() && self.global.is_none() {
            return Err(BuildError::ExemptWithoutGlobalLimit);
        }
        if !self.https_exempt.is_empty() && !self.require_https {
            return Err(BuildError::ExemptWithoutRequireHttps);
        }
        if let Some(path) = self
            .global_exempt
            .iter()
            .chain(&self.https_exempt)
            .find(|p| !p.starts_with('/'))
        {
            return Err(BuildError::ExemptPath(path.clone()));
        }
        let served = |handler: &str| {
            self.handlers_in.is_empty()
                || self.handlers_in.iter().any(|prefix| {
                    handler
                        .strip_prefix(prefix.trim_end_matches(':'))
                        .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
                })
        };
        for handler in manifest().into_iter().filter(|h| served(h.handler)) {
            if handler.protected.is_some() && auth.is_none() {
                return Err(BuildError::NoJwt {
                    handler: handler.handler,
                });
            }
            for limit in handler.limits {
                if let RateSpec::Named(name) = limit.rate
                    && !named.contains_key(name)
                {
                    return Err(BuildError::UnknownPolicy {
                        name,
                        handler: handler.handler,
                    });
                }
            }
        }
        Ok(Warden {
            inner: Arc::new(Inner {
                auth,
                store: self.store.unwrap_or_else(|| Box::new(MemoryStore::new())),
                proxies,
                ipv6_prefix: self.ipv6_prefix,
                named,
                store_failure: self.store_failure,
                global: self.global.map(|rate| GlobalLimit {
                    rate,
                    exempt: self.global_exempt,
                }),
                https: self.require_https.then_some(self.https_exempt),
                warned_untrusted_forwarding: AtomicBool::new(false),
                warned_no_peer: AtomicBool::new(false),
                http: Arc::new(HttpDefaults {
                    headers: Arc::new(self.security_headers),
                    cors,
                    body_limit: self.body_limit,
                }),
                refresh: self
                    .refresh
                    .unwrap_or_else(|| RefreshTokens::new(MemoryTokenStore::new())),
            }),
        })
    }
}

/// A configuration that [`WardenBuilder::build`] refuses.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BuildError {
    /// A `#[protected]` handler exists but no JWT configuration was given.
    NoJwt {
        /// The first protected handler found.
        handler: &'static str,
    },
    /// The JWT configuration is unsafe or inconsistent.
    Jwt(JwtConfigError),
    /// A trusted proxy is not an address or network.
    TrustedProxy(InvalidProxy),
    /// An IPv6 prefix over 128 bits.
    Ipv6Prefix(u8),
    /// `#[rate_limit("name")]` names a policy the builder does not define.
    UnknownPolicy {
        /// The policy name.
        name: &'static str,
        /// The handler that uses it.
        handler: &'static str,
    },
    /// Two policies with one name.
    DuplicatePolicy(String),
    /// A policy name that is empty, over 64 bytes, or not printable ASCII
    /// without `"` and `\`.
    PolicyName(String),
    /// An unsafe or malformed CORS configuration.
    Cors(CorsError),
    /// `global_limit_exempt` without a `global_limit`.
    ExemptWithoutGlobalLimit,
    /// An exempt path that does not start with `/`.
    ExemptPath(String),
    /// `https_exempt` without `require_https`.
    ExemptWithoutRequireHttps,
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoJwt { handler } => write!(
                f,
                "{handler} is #[protected] but the builder has no JWT configuration: call .jwt(..)"
            ),
            Self::Jwt(error) => error.fmt(f),
            Self::TrustedProxy(error) => error.fmt(f),
            Self::Ipv6Prefix(bits) => write!(f, "an IPv6 prefix of {bits} bits is over 128"),
            Self::UnknownPolicy { name, handler } => write!(
                f,
                "{handler} uses the rate-limit policy {name:?}, which the builder does not define: call .limit_policy({name:?}, ..), or, if the application does not serve this handler, name the modules it does serve with .handlers_in(module_path!())"
            ),
            Self::DuplicatePolicy(name) => {
                write!(f, "the rate-limit policy {name:?} is defined twice")
            }
            Self::Cors(error) => error.fmt(f),
            Self::ExemptWithoutGlobalLimit => f.write_str(
                "global_limit_exempt(..) was called but there is no global limit: call .global_limit(..)",
            ),
            Self::ExemptPath(path) => write!(
                f,
                "{path:?} cannot be exempted: a path starts with '/'"
            ),
            Self::ExemptWithoutRequireHttps => f.write_str(
                "https_exempt(..) was called but HTTPS is not required: call .require_https()",
            ),
            Self::PolicyName(name) => write!(
                f,
                "{name:?} is not a valid policy name: 1 to 64 printable ASCII characters without '\"' or '\\'"
            ),
        }
    }
}

impl std::error::Error for BuildError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Jwt(error) => Some(error),
            Self::TrustedProxy(error) => Some(error),
            Self::Cors(error) => Some(error),
            _ => None,
        }
    }
}

/// Whether `ip` would be keyed as the same client as `other` under `prefix`.
#[cfg(test)]
fn same_client(ip: std::net::IpAddr, other: std::net::IpAddr, prefix: u8) -> bool {
    crate::http::client::ip_key(ip, prefix) == crate::http::client::ip_key(other, prefix)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_settings_are_refused_at_build() {
        assert!(matches!(
            Warden::builder()
                .trusted_proxies(["10.0.0.0/8", "nope"])
                .build(),
            Err(BuildError::TrustedProxy(_))
        ));
        assert_eq!(
            Warden::builder().ipv6_prefix(129).build().err(),
            Some(BuildError::Ipv6Prefix(129))
        );
        let rate = Rate::new(1, std::time::Duration::from_secs(1)).unwrap();
        assert_eq!(
            Warden::builder()
                .limit_policy("a", rate)
                .limit_policy("a", rate)
                .build()
                .err(),
            Some(BuildError::DuplicatePolicy("a".into()))
        );
        for bad in ["", "with \"quote\"", "back\\slash", "tab\t"] {
            assert_eq!(
                Warden::builder().limit_policy(bad, rate).build().err(),
                Some(BuildError::PolicyName(bad.into()))
            );
        }
    }

    #[test]
    fn prefixes_group_ipv6_clients() {
        let a = "2001:db8::1".parse().unwrap();
        let b = "2001:db8:0:ff::1".parse().unwrap();
        assert!(same_client(a, b, 56));
        assert!(!same_client(a, b, 64));
    }
}
