//! Resource-server mode: access tokens of an external issuer, verified
//! against the keys it publishes, under the same rules as warden's own.

use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::Algorithm;
use tokio::sync::OnceCell;
use url::Url;

use super::discovery;
use super::error::OidcConfigError;
use super::fetch::{FetchError, Fetcher, check_url};
use super::jwks::{KeySet, Keys, Remote};
use crate::auth::jwt::{Rules, unix_now};
use crate::auth::{Claims, JwtConfigError, TokenError};

/// An external issuer whose access tokens [`Jwt`](crate::auth::Jwt)
/// accepts ([`Jwt::from_issuer`](crate::auth::Jwt::from_issuer),
/// [`Jwt::trust`](crate::auth::Jwt::trust)).
///
/// Its tokens are held to warden's own rules: a signature by one of the
/// keys the issuer publishes (its JWKS, found through discovery unless
/// [given](Self::jwks_uri)) with the algorithm that key is bound to
/// (asymmetric only: RS256/384/512, PS256/384/512, ES256/384, EdDSA;
/// never HMAC or `none`), `iss` exactly this issuer, `aud` containing the
/// [audience](Self::audience), `exp` required and `nbf` honoured within
/// the leeway, a non-empty `sub`. Roles come from a `roles` array claim
/// and scopes from `scope`, as in warden's own tokens.
///
/// **`typ` policy:** only `at+jwt` access tokens (RFC 9068) by default.
/// Auth0, Keycloak and Entra ID label their access tokens `JWT`; accept
/// those with [`accept_foreign_token_types`](Self::accept_foreign_token_types).
/// Then an ID token of the same issuer is told from an access token by
/// its audience alone (the client id, not the API), so never configure
/// an API's audience equal to a client id.
///
/// Keys are fetched on the first token and cached. A token naming a key
/// id the cache lacks (the issuer rotated) causes one fetch, at most once
/// per [interval](Self::jwks_refetch_interval), so made-up key ids cannot
/// make the server hammer the issuer. While the keys cannot be fetched,
/// its tokens are answered 503 (`issuer_unavailable`), not 401.
#[derive(Debug, Clone)]
pub struct TrustedIssuer {
    issuer: String,
    audience: Option<String>,
    jwks_uri: Option<Url>,
    accept_foreign_typ: bool,
    remote: Remote,
}

impl TrustedIssuer {
    /// An issuer, by its identifier: exactly the `iss` its tokens carry
    /// (`https://accounts.google.com`, `https://tenant.eu.auth0.com/`).
    /// HTTPS, or plain HTTP on a loopback address.
    pub fn new(issuer: impl Into<String>) -> Result<Self, OidcConfigError> {
        let issuer = issuer.into();
        let url =
            Url::parse(&issuer).map_err(|_| OidcConfigError::InvalidUrl { what: "issuer" })?;
        check_url("issuer", &url)?;
        Ok(Self {
            issuer,
            audience: None,
            jwks_uri: None,
            accept_foreign_typ: false,
            remote: Remote::default(),
        })
    }

    /// The `aud` this API's tokens carry. Required.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = Some(audience.into());
        self
    }

    /// The issuer's JWKS URL, when it has no discovery document.
    pub fn jwks_uri(mut self, url: &str) -> Result<Self, OidcConfigError> {
        let url = Url::parse(url).map_err(|_| OidcConfigError::InvalidUrl { what: "jwks_uri" })?;
        check_url("jwks_uri", &url)?;
        self.jwks_uri = Some(url);
        Ok(self)
    }

    /// Accepts tokens whose `typ` is `JWT` or absent besides `at+jwt`:
    /// for issuers that do not follow RFC 9068 (see the `typ` policy
    /// above).
    pub fn accept_foreign_token_types(mut self) -> Self {
        self.accept_foreign_typ = true;
        self
    }

    /// Narrows the accepted algorithms (default: every asymmetric one
    /// warden verifies). HMAC algorithms are ignored: a shared secret is
    /// never taken from the network.
    pub fn algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        self.remote.set_algorithms(algorithms);
        self
    }

    /// The shortest interval between two JWKS fetches caused by unknown
    /// key ids (default 30 s).
    pub fn jwks_refetch_interval(mut self, interval: Duration) -> Self {
        self.remote.refetch_interval = interval;
        self
    }

    /// The bounds on connecting to the issuer and on a whole request
    /// (default 3 s and 5 s).
    pub fn timeouts(mut self, connect: Duration, total: Duration) -> Self {
        self.remote.connect_timeout = connect;
        self.remote.request_timeout = total;
        self
    }

    pub(crate) fn compile(
        self,
        max_token_bytes: usize,
        leeway: u64,
    ) -> Result<ExternalIssuer, JwtConfigError> {
        let unusable = |e: OidcConfigError| JwtConfigError::ExternalIssuer(e.to_string());
        let audience = self.audience.filter(|a| !a.is_empty()).ok_or_else(|| {
            JwtConfigError::ExternalIssuer(format!(
                "the trusted issuer {:?} has no audience: call .audience(..)",
                self.issuer
            ))
        })?;
        let (fetcher, keys) = self.remote.build().map_err(unusable)?;
        let jwks_uri = OnceCell::new();
        if let Some(uri) = self.jwks_uri {
            let _ = jwks_uri.set(uri);
        }
        Ok(ExternalIssuer {
            rules: Rules {
                issuer: self.issuer,
                audience,
                leeway,
                accept_foreign_typ: self.accept_foreign_typ,
                max_token_bytes,
            },
            keys: Arc::new(keys),
            jwks_uri,
            fetcher,
        })
    }
}

/// A [`TrustedIssuer`], ready: its rules, its cached keys and its client.
pub(crate) struct ExternalIssuer {
    rules: Rules,
    keys: Arc<KeySet>,
    jwks_uri: OnceCell<Url>,
    fetcher: Fetcher,
}

impl std::fmt::Debug for ExternalIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExternalIssuer")
            .field("issuer", &self.rules.issuer)
            .field("audience", &self.rules.audience)
            .field("keys", &self.keys)
            .finish_non_exhaustive()
    }
}

impl ExternalIssuer {
    pub(crate) fn issuer(&self) -> &str {
        &self.rules.issuer
    }

    /// How many times this issuer's JWKS was fetched.
    pub(crate) fn jwks_fetches(&self) -> u64 {
        self.keys.fetches()
    }

    /// The keys cached now.
    pub(crate) fn keys(&self) -> Arc<Keys> {
        self.keys.snapshot()
    }

    /// Verifies a token with `keys`; an unknown `kid` is
    /// [`TokenError::UnknownKey`], for the caller to [refetch](Self::refetch).
    pub(crate) fn verify(&self, token: &str, keys: &Keys) -> Result<Claims, TokenError> {
        self.rules
            .verify(token, &keys.keys, keys.default, None, unix_now())
    }

    /// Fetches the keys again after a token named an unknown one (see
    /// [`KeySet::refetch`]). `Err` when the issuer cannot be reached.
    pub(crate) async fn refetch(&self, seen: u64) -> Result<bool, FetchError> {
        let uri = self
            .jwks_uri
            .get_or_try_init(|| async {
                discovery::discover(&self.fetcher, &self.rules.issuer, false)
                    .await
                    .map(|metadata| metadata.jwks_uri)
            })
            .await?;
        self.keys.refetch(seen, &self.fetcher, uri).await
    }
}
