//! A sign-in provider: its configuration, and at run time its discovered
//! metadata, its cached keys and its HTTP client.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::Algorithm;
use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse,
    BasicTokenType,
};
use oauth2::{
    AuthType, AuthUrl, ClientId, ClientSecret, EndpointNotSet, EndpointSet, ExtraTokenFields,
    RedirectUrl, StandardRevocableToken, StandardTokenResponse, TokenUrl,
};
use serde::{Deserialize, Serialize};
use url::Url;

use super::discovery::{self, Metadata};
use super::error::{OidcConfigError, SignInError};
use super::fetch::{FetchError, Fetcher, check_url};
use super::jwks::{KeySet, Keys, Remote};

/// Google's issuer identifier.
pub const GOOGLE_ISSUER: &str = "https://accounts.google.com";

/// The scopes every sign-in asks for.
pub(crate) const BASE_SCOPES: [&str; 3] = ["openid", "email", "profile"];

/// After a failed discovery, requests answer 503 at once for this long
/// before one of them tries again.
const DISCOVERY_RETRY_AFTER: Duration = Duration::from_secs(1);

/// An OpenID Connect provider users sign in with: its issuer, and this
/// application's client registration with it.
///
/// The provider's endpoints and keys come from its discovery document
/// (`{issuer}/.well-known/openid-configuration`), whose `issuer` must be
/// exactly this one. The issuer and every endpoint must be HTTPS; plain
/// HTTP is accepted on a loopback address only (a provider on the same
/// machine, as in tests).
///
/// ```
/// use std::time::Duration;
/// use warden::oidc::Provider;
///
/// let google = Provider::google("1234.apps.googleusercontent.com", "client secret")?;
/// let keycloak = Provider::new("https://sso.example.com/realms/staff", "api", "client secret")?
///     .scopes(["groups"])
///     .timeouts(Duration::from_secs(2), Duration::from_secs(4));
/// # Ok::<(), warden::oidc::OidcConfigError>(())
/// ```
#[derive(Clone)]
pub struct Provider {
    pub(crate) issuer: String,
    pub(crate) client_id: String,
    client_secret: String,
    pub(crate) scopes: Vec<String>,
    remote: Remote,
}

impl std::fmt::Debug for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Provider")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("client_secret", &"[redacted]")
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

impl Provider {
    /// Any OpenID Connect provider, by its issuer identifier (exactly the
    /// `iss` of its ID tokens), and this application's client id and
    /// secret.
    pub fn new(
        issuer: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
    ) -> Result<Self, OidcConfigError> {
        let issuer = issuer.into();
        let url =
            Url::parse(&issuer).map_err(|_| OidcConfigError::InvalidUrl { what: "issuer" })?;
        check_url("issuer", &url)?;
        let client_id = client_id.into();
        if client_id.is_empty() {
            return Err(OidcConfigError::Missing("client id"));
        }
        let client_secret = client_secret.into();
        if client_secret.is_empty() {
            return Err(OidcConfigError::Missing("client secret"));
        }
        Ok(Self {
            issuer,
            client_id,
            client_secret,
            scopes: BASE_SCOPES.iter().map(|s| (*s).to_owned()).collect(),
            remote: Remote::default(),
        })
    }

    /// Google (issuer `https://accounts.google.com`), with the client id
    /// and secret of an OAuth client of the Google Cloud console.
    pub fn google(
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
    ) -> Result<Self, OidcConfigError> {
        Ok(Self::new(GOOGLE_ISSUER, client_id, client_secret)?.algorithms([Algorithm::RS256]))
    }

    /// Asks for these scopes besides `openid email profile`.
    pub fn scopes(mut self, scopes: impl IntoIterator<Item = impl Into<String>>) -> Self {
        for scope in scopes {
            let scope = scope.into();
            if !scope.is_empty() && !self.scopes.contains(&scope) {
                self.scopes.push(scope);
            }
        }
        self
    }

    /// Narrows the ID token algorithms accepted (default: every asymmetric
    /// one warden verifies; never HMAC or `none`).
    pub fn algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        self.remote.set_algorithms(algorithms);
        self
    }

    /// The shortest interval between two JWKS fetches caused by ID tokens
    /// naming an unknown key (default 30 s).
    pub fn jwks_refetch_interval(mut self, interval: Duration) -> Self {
        self.remote.refetch_interval = interval;
        self
    }

    /// The bounds on connecting to the provider and on each whole request
    /// to it (default 3 s and 5 s).
    pub fn timeouts(mut self, connect: Duration, total: Duration) -> Self {
        self.remote.connect_timeout = connect;
        self.remote.request_timeout = total;
        self
    }

    pub(crate) fn into_runtime(
        self,
        redirect_uri: Url,
    ) -> Result<ProviderRuntime, OidcConfigError> {
        let (fetcher, keys) = self.remote.build()?;
        Ok(ProviderRuntime {
            config: self,
            redirect_uri,
            fetcher,
            keys,
            metadata: RwLock::new(None),
            discovering: tokio::sync::Mutex::new(None),
        })
    }
}

/// The extra member of the token response OpenID Connect adds.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub(crate) struct IdTokenField {
    #[serde(default)]
    pub(crate) id_token: Option<String>,
}

impl ExtraTokenFields for IdTokenField {}

pub(crate) type TokenResponse = StandardTokenResponse<IdTokenField, BasicTokenType>;

pub(crate) type OAuthClient = oauth2::Client<
    BasicErrorResponse,
    TokenResponse,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

/// A provider at run time.
pub(crate) struct ProviderRuntime {
    pub(crate) config: Provider,
    pub(crate) redirect_uri: Url,
    pub(crate) fetcher: Fetcher,
    pub(crate) keys: KeySet,
    metadata: RwLock<Option<Arc<Metadata>>>,
    /// One discovery at a time; the instant of the last failure.
    discovering: tokio::sync::Mutex<Option<Instant>>,
}

impl ProviderRuntime {
    /// The provider's metadata: cached after the first success; fetched
    /// by one request at a time otherwise, and not again within a second
    /// of a failure (those requests get 503 at once).
    pub(crate) async fn metadata(&self) -> Result<Arc<Metadata>, SignInError> {
        if let Some(metadata) = self.cached_metadata() {
            return Ok(metadata);
        }
        let mut failed_at = self.discovering.lock().await;
        if let Some(metadata) = self.cached_metadata() {
            return Ok(metadata);
        }
        if failed_at.is_some_and(|at| at.elapsed() < DISCOVERY_RETRY_AFTER) {
            return Err(SignInError::ProviderUnavailable);
        }
        match discovery::discover(&self.fetcher, &self.config.issuer, true).await {
            Ok(metadata) => {
                let metadata = Arc::new(metadata);
                match self.metadata.write() {
                    Ok(mut slot) => *slot = Some(Arc::clone(&metadata)),
                    Err(poisoned) => *poisoned.into_inner() = Some(Arc::clone(&metadata)),
                }
                *failed_at = None;
                Ok(metadata)
            }
            Err(error) => {
                *failed_at = Some(Instant::now());
                tracing::warn!(
                    target: crate::audit::TARGET,
                    issuer = %self.config.issuer,
                    error = %error,
                    "the sign-in provider's discovery document could not be fetched"
                );
                Err(SignInError::ProviderUnavailable)
            }
        }
    }

    fn cached_metadata(&self) -> Option<Arc<Metadata>> {
        match self.metadata.read() {
            Ok(slot) => slot.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// The OAuth 2.0 client for these endpoints.
    pub(crate) fn client(&self, metadata: &Metadata) -> OAuthClient {
        let client = oauth2::Client::new(ClientId::new(self.config.client_id.clone()))
            .set_client_secret(ClientSecret::new(self.config.client_secret.clone()))
            .set_auth_uri(AuthUrl::from_url(metadata.authorization_endpoint.clone()))
            .set_token_uri(TokenUrl::from_url(metadata.token_endpoint.clone()))
            .set_redirect_uri(RedirectUrl::from_url(self.redirect_uri.clone()));
        if metadata.secret_in_body {
            client.set_auth_type(AuthType::RequestBody)
        } else {
            client
        }
    }

    /// The keys, fetched when none are cached yet.
    pub(crate) async fn keys(&self, metadata: &Metadata) -> Result<Arc<Keys>, SignInError> {
        let keys = self.keys.snapshot();
        if !keys.keys.is_empty() {
            return Ok(keys);
        }
        self.refetch_keys(keys.generation, metadata).await?;
        Ok(self.keys.snapshot())
    }

    /// Fetches the keys again after an ID token named an unknown one;
    /// whether there is a newer set to try.
    pub(crate) async fn refetch_keys(
        &self,
        seen: u64,
        metadata: &Metadata,
    ) -> Result<bool, SignInError> {
        self.keys
            .refetch(seen, &self.fetcher, &metadata.jwks_uri)
            .await
            .map_err(|error: FetchError| {
                tracing::warn!(
                    target: crate::audit::TARGET,
                    issuer = %self.config.issuer,
                    error = %error,
                    "the sign-in provider's keys could not be fetched"
                );
                SignInError::ProviderUnavailable
            })
    }
}
