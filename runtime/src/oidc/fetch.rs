//! The HTTP client every provider call goes through: timeouts always set,
//! no redirects followed, bodies read up to a bound, and only HTTPS URLs
//! (plain HTTP on a loopback address alone).

use std::time::Duration;

use serde::de::DeserializeOwned;
use url::Url;

use super::error::OidcConfigError;

/// The default bound on establishing a connection to a provider.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// The default bound on a whole provider call, connection included.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// The largest provider answer read (discovery, JWKS, token response).
pub(crate) const MAX_BODY_BYTES: usize = 256 * 1024;

/// Why a provider call failed. It names the endpoint, never the body
/// (which may carry a token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FetchError {
    /// Could not connect, timed out, or the connection broke.
    Unreachable,
    /// Answered with an error status.
    Status(u16),
    /// Answered something that is not the expected JSON, or too much of it.
    Invalid,
}

/// Whether `url` may be called: HTTPS, or plain HTTP to a loopback
/// address (a provider run on the same machine, as in tests).
pub(crate) fn check_url(what: &'static str, url: &Url) -> Result<(), OidcConfigError> {
    match url.scheme() {
        "https" if url.host().is_some() => Ok(()),
        "http" if is_loopback(url) => Ok(()),
        _ => Err(OidcConfigError::InsecureUrl {
            what,
            url: redacted(url),
        }),
    }
}

/// Whether the URL's host is a loopback address or `localhost`.
pub(crate) fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// The URL without query, fragment or credentials, for messages.
pub(crate) fn redacted(url: &Url) -> String {
    let mut shown = url.clone();
    shown.set_query(None);
    shown.set_fragment(None);
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.to_string()
}

/// The client of one provider.
#[derive(Clone, Debug)]
pub(crate) struct Fetcher {
    client: reqwest::Client,
}

impl Fetcher {
    pub(crate) fn new(connect: Duration, total: Duration) -> Result<Self, OidcConfigError> {
        let client = reqwest::Client::builder()
            .connect_timeout(connect)
            .timeout(total)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("warden/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|_| OidcConfigError::HttpClient)?;
        Ok(Self { client })
    }

    /// `GET url` for JSON, with `bearer` as the access token if given
    /// (userinfo).
    pub(crate) async fn get_json<T: DeserializeOwned>(
        &self,
        url: &Url,
        bearer: Option<&str>,
    ) -> Result<T, FetchError> {
        let mut request = self
            .client
            .get(url.clone())
            .header(http::header::ACCEPT, "application/json");
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.map_err(|_| FetchError::Unreachable)?;
        let status = response.status();
        if !status.is_success() {
            return Err(FetchError::Status(status.as_u16()));
        }
        let body = read_bounded(response).await?;
        serde_json::from_slice(&body).map_err(|_| FetchError::Invalid)
    }

    /// Sends the token request the OAuth 2.0 client builds and returns
    /// the provider's answer, whatever its status.
    pub(crate) async fn send(
        &self,
        request: oauth2::HttpRequest,
    ) -> Result<oauth2::HttpResponse, FetchError> {
        let (parts, body) = request.into_parts();
        let url = Url::parse(&parts.uri.to_string()).map_err(|_| FetchError::Invalid)?;
        if check_url("token endpoint", &url).is_err() {
            return Err(FetchError::Invalid);
        }
        let response = self
            .client
            .request(parts.method, url)
            .headers(parts.headers)
            .body(body)
            .send()
            .await
            .map_err(|_| FetchError::Unreachable)?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = read_bounded(response).await?;
        let mut answer = http::Response::new(body);
        *answer.status_mut() = status;
        *answer.headers_mut() = headers;
        Ok(answer)
    }
}

/// The token request of the `oauth2` client goes through the same
/// client, timeouts and bounds as every other provider call.
impl<'c> oauth2::AsyncHttpClient<'c> for Fetcher {
    type Error = FetchError;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<oauth2::HttpResponse, FetchError>> + Send + 'c>,
    >;

    fn call(&'c self, request: oauth2::HttpRequest) -> Self::Future {
        Box::pin(self.send(request))
    }
}

/// Reads a body up to [`MAX_BODY_BYTES`].
async fn read_bounded(mut response: reqwest::Response) -> Result<Vec<u8>, FetchError> {
    if response
        .content_length()
        .is_some_and(|len| len > MAX_BODY_BYTES as u64)
    {
        return Err(FetchError::Invalid);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|_| FetchError::Unreachable)?
    {
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(FetchError::Invalid);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

impl std::fmt::Display for FetchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unreachable => f.write_str("the provider could not be reached in time"),
            Self::Status(status) => write!(f, "the provider answered HTTP {status}"),
            Self::Invalid => f.write_str("the provider's answer was not what the protocol expects"),
        }
    }
}

impl std::error::Error for FetchError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_or_loopback_http_is_called() {
        let ok = |u: &str| check_url("issuer", &Url::parse(u).unwrap()).is_ok();
        assert!(ok("https://accounts.google.com"));
        assert!(ok("http://127.0.0.1:8080"));
        assert!(ok("http://[::1]:8080/realm"));
        assert!(ok("http://localhost:9000"));
        assert!(!ok("http://accounts.google.com"));
        assert!(!ok("http://10.0.0.1"));
        assert!(!ok("ftp://127.0.0.1"));
        assert!(!ok("http://127.0.0.1.example.com"));
    }

    #[test]
    fn messages_show_no_credentials_or_query() {
        let url = Url::parse("https://user:pw@idp.example/x?code=secret#frag").unwrap();
        let shown = redacted(&url);
        assert!(!shown.contains("pw") && !shown.contains("secret") && !shown.contains("user"));
    }
}
