//! OpenID Connect discovery: the provider metadata document, fetched from
//! `{issuer}/.well-known/openid-configuration` and checked before use.

use serde::Deserialize;
use url::Url;

use super::fetch::{FetchError, Fetcher, check_url};

/// The provider metadata warden uses (OpenID Connect Discovery 1.0,
/// section 3).
#[derive(Debug, Clone)]
pub(crate) struct Metadata {
    pub(crate) authorization_endpoint: Url,
    pub(crate) token_endpoint: Url,
    pub(crate) jwks_uri: Url,
    pub(crate) userinfo_endpoint: Option<Url>,
    /// Whether the provider says it takes client secrets in the form body
    /// only (not HTTP Basic).
    pub(crate) secret_in_body: bool,
}

#[derive(Deserialize)]
struct Document {
    issuer: String,
    #[serde(default)]
    authorization_endpoint: Option<String>,
    #[serde(default)]
    token_endpoint: Option<String>,
    jwks_uri: String,
    #[serde(default)]
    userinfo_endpoint: Option<String>,
    #[serde(default)]
    token_endpoint_auth_methods_supported: Option<Vec<String>>,
}

/// The discovery URL of an issuer: its identifier, without a trailing
/// slash, followed by the well-known path.
pub(crate) fn discovery_url(issuer: &str) -> Result<Url, url::ParseError> {
    Url::parse(&format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    ))
}

/// Fetches and checks an issuer's metadata: its `issuer` must be exactly
/// the configured one (section 4.3, so that one provider cannot speak for
/// another), and every endpoint HTTPS (or loopback HTTP).
pub(crate) async fn discover(
    fetcher: &Fetcher,
    issuer: &str,
    needs_endpoints: bool,
) -> Result<Metadata, FetchError> {
    let url = discovery_url(issuer).map_err(|_| FetchError::Invalid)?;
    let document: Document = fetcher.get_json(&url, None).await?;
    if document.issuer != issuer {
        return Err(FetchError::Invalid);
    }
    let endpoint = |value: Option<&str>, what: &'static str| -> Result<Url, FetchError> {
        let url = Url::parse(value.ok_or(FetchError::Invalid)?).map_err(|_| FetchError::Invalid)?;
        check_url(what, &url).map_err(|_| FetchError::Invalid)?;
        Ok(url)
    };
    let placeholder = || Url::parse("https://invalid.invalid/").map_err(|_| FetchError::Invalid);
    let (authorization_endpoint, token_endpoint) = if needs_endpoints {
        (
            endpoint(
                document.authorization_endpoint.as_deref(),
                "authorization endpoint",
            )?,
            endpoint(document.token_endpoint.as_deref(), "token endpoint")?,
        )
    } else {
        (placeholder()?, placeholder()?)
    };
    let userinfo_endpoint = match document.userinfo_endpoint.as_deref() {
        Some(value) => Some(endpoint(Some(value), "userinfo endpoint")?),
        None => None,
    };
    let secret_in_body = document
        .token_endpoint_auth_methods_supported
        .as_deref()
        .is_some_and(|methods| {
            !methods.iter().any(|m| m == "client_secret_basic")
                && methods.iter().any(|m| m == "client_secret_post")
        });
    Ok(Metadata {
        authorization_endpoint,
        token_endpoint,
        jwks_uri: endpoint(Some(&document.jwks_uri), "jwks_uri")?,
        userinfo_endpoint,
        secret_in_body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_well_known_path_follows_the_issuer_path() {
        assert_eq!(
            discovery_url("https://accounts.google.com")
                .unwrap()
                .as_str(),
            "https://accounts.google.com/.well-known/openid-configuration"
        );
        assert_eq!(
            discovery_url("https://sso.example.com/realms/staff/")
                .unwrap()
                .as_str(),
            "https://sso.example.com/realms/staff/.well-known/openid-configuration"
        );
    }
}
