//! `warden.layer()`: the hardened HTTP defaults every response gets.

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::{HeaderName, HeaderValue, Method, Request, StatusCode, header};
use tower_http::cors::{AllowOrigin, Cors as CorsService, CorsLayer};
use tower_layer::Layer;
use tower_service::Service;

use super::{Problem, body};
use crate::Warden;
use crate::limit::global;

/// The default request body limit: 64 KiB.
pub const DEFAULT_BODY_LIMIT: usize = 64 * 1024;

/// The security headers set on every response (unless the handler set the
/// same header itself), at least as strict as helmet's defaults that apply
/// to an API. `Server` and `X-Powered-By` are always removed.
#[derive(Debug, Clone)]
pub struct SecurityHeaders {
    headers: Vec<(HeaderName, HeaderValue)>,
}

impl Default for SecurityHeaders {
    fn default() -> Self {
        let headers = [
            (
                "strict-transport-security",
                "max-age=31536000; includeSubDomains",
            ),
            ("x-content-type-options", "nosniff"),
            ("x-frame-options", "DENY"),
            ("referrer-policy", "no-referrer"),
            (
                "content-security-policy",
                "default-src 'none'; frame-ancestors 'none'",
            ),
            ("cross-origin-opener-policy", "same-origin"),
            ("cross-origin-resource-policy", "same-origin"),
            ("origin-agent-cluster", "?1"),
            ("x-dns-prefetch-control", "off"),
            ("x-download-options", "noopen"),
            ("x-permitted-cross-domain-policies", "none"),
        ]
        .into_iter()
        .map(|(n, v)| (HeaderName::from_static(n), HeaderValue::from_static(v)))
        .collect();
        Self { headers }
    }
}

impl SecurityHeaders {
    /// Sets (or replaces) a header.
    pub fn set(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.retain(|(n, _)| *n != name);
        self.headers.push((name, value));
        self
    }

    /// Stops sending a header.
    pub fn remove(mut self, name: &HeaderName) -> Self {
        self.headers.retain(|(n, _)| n != name);
        self
    }

    /// The headers sent.
    pub fn iter(&self) -> impl Iterator<Item = (&HeaderName, &HeaderValue)> {
        self.headers.iter().map(|(n, v)| (n, v))
    }
}

/// Which origins may call the API from a browser. None by default.
#[derive(Debug, Clone, Default)]
pub struct Cors {
    origins: Vec<String>,
    credentials: bool,
    max_age: Option<Duration>,
}

impl Cors {
    /// Allows these origins (`https://app.example.com`); `*` allows any
    /// origin, and is refused together with credentials.
    pub fn allow_origins<I, S>(origins: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            origins: origins.into_iter().map(Into::into).collect(),
            credentials: false,
            max_age: Some(Duration::from_secs(600)),
        }
    }

    /// Lets allowed origins send credentials (cookies, `Authorization`).
    pub fn allow_credentials(mut self) -> Self {
        self.credentials = true;
        self
    }

    /// Builds the tower-http layer; every configuration tower-http would
    /// panic on is an error here.
    pub(crate) fn layer(&self) -> Result<CorsLayer, CorsError> {
        let wildcard = self.origins.iter().any(|o| o.trim() == "*");
        if wildcard && self.credentials {
            return Err(CorsError::WildcardWithCredentials);
        }
        let origin = if wildcard {
            AllowOrigin::any()
        } else {
            let mut values = Vec::with_capacity(self.origins.len());
            for origin in &self.origins {
                let parsed =
                    url::Url::parse(origin).map_err(|_| CorsError::Origin(origin.clone()))?;
                let plain = matches!(parsed.scheme(), "http" | "https")
                    && parsed.host().is_some()
                    && parsed.path() == "/"
                    && !origin.ends_with('/')
                    && parsed.query().is_none()
                    && parsed.username().is_empty();
                if !plain {
                    return Err(CorsError::Origin(origin.clone()));
                }
                values.push(
                    HeaderValue::from_str(origin).map_err(|_| CorsError::Origin(origin.clone()))?,
                );
            }
            AllowOrigin::list(values)
        };
        let mut layer = CorsLayer::new()
            .allow_origin(origin)
            .allow_methods([
                Method::GET,
                Method::POST,
                Method::PUT,
                Method::PATCH,
                Method::DELETE,
            ])
            .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
            .expose_headers([
                header::RETRY_AFTER,
                crate::limit::RATELIMIT,
                crate::limit::RATELIMIT_POLICY,
            ]);
        if self.credentials {
            layer = layer.allow_credentials(true);
        }
        if let Some(max_age) = self.max_age {
            layer = layer.max_age(max_age);
        }
        Ok(layer)
    }
}

/// A CORS configuration that [`WardenBuilder::build`](crate::WardenBuilder::build) refuses.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CorsError {
    /// `*` with credentials: any site could act as the signed-in user.
    WildcardWithCredentials,
    /// Not an origin (`scheme://host[:port]`, no path).
    Origin(String),
}

impl fmt::Display for CorsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::WildcardWithCredentials => f.write_str(
                "CORS cannot allow any origin (`*`) together with credentials; list the origins",
            ),
            Self::Origin(origin) => write!(
                f,
                "{origin:?} is not an origin such as \"https://app.example.com\""
            ),
        }
    }
}

impl std::error::Error for CorsError {}

/// The settings `warden.layer()` applies, built once.
#[derive(Debug, Clone)]
pub(crate) struct HttpDefaults {
    pub(crate) headers: SecurityHeaders,
    pub(crate) cors: CorsLayer,
    pub(crate) body_limit: usize,
}

/// The layer of [`Warden::layer`](crate::Warden::layer).
#[derive(Debug, Clone)]
pub struct WardenLayer {
    warden: Warden,
}

impl WardenLayer {
    pub(crate) fn new(warden: Warden) -> Self {
        Self { warden }
    }
}

impl<S> Layer<S> for WardenLayer {
    type Service = WardenService<CorsService<S>>;

    fn layer(&self, inner: S) -> Self::Service {
        let defaults = self.warden.http_defaults();
        WardenService {
            inner: defaults.cors.clone().layer(inner),
            defaults,
            warden: self.warden.clone(),
        }
    }
}

/// The service of [`WardenLayer`].
#[derive(Debug, Clone)]
pub struct WardenService<S> {
    inner: S,
    defaults: Arc<HttpDefaults>,
    warden: Warden,
}

impl<S> Service<Request<Body>> for WardenService<S>
where
    S: Service<Request<Body>, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let defaults = Arc::clone(&self.defaults);
        let limit = defaults.body_limit;
        let credentialed = carries_credentials(request.headers());
        if let Some(refused) = self.warden.refuse_plain_http(&request) {
            return Box::pin(async move { Ok(finish(refused, &defaults, credentialed)) });
        }
        let declared = request
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        if declared.is_some_and(|n| n > limit as u64) {
            // Refused before a byte of the body is read.
            let response = body::too_large(Some(limit)).into_response();
            return Box::pin(async move { Ok(finish(response, &defaults, credentialed)) });
        }
        let request = request.map(|body| Body::new(http_body_util::Limited::new(body, limit)));
        if self.warden.global_limit().is_none() {
            let future = self.inner.call(request);
            return Box::pin(async move {
                let response = future.await?;
                Ok(finish(response, &defaults, credentialed))
            });
        }
        // The global limit waits on the store before the inner service is
        // called: take the service that was made ready, leave a clone.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let warden = self.warden.clone();
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let counted = match global::count(&warden, &parts).await {
                Ok(counted) => counted,
                Err(refused) => return Ok(finish(refused, &defaults, credentialed)),
            };
            let mut response = inner.call(Request::from_parts(parts, body)).await?;
            if let Some((rate, outcome)) = counted {
                global::show(&mut response, rate, &outcome);
            }
            Ok(finish(response, &defaults, credentialed))
        })
    }
}

/// The answer to a plain-HTTP request when HTTPS is required: 308 to the
/// same URL with `https` for `GET` and `HEAD`, 403 problem+json otherwise
/// (and when the request names no usable host).
pub(crate) fn https_refusal(request: &Request<Body>) -> Response {
    let forbidden = || {
        Problem::new(
            StatusCode::FORBIDDEN,
            "https_required",
            "this API is served over HTTPS only; send the request to its https:// URL",
        )
        .into_response()
    };
    if !matches!(*request.method(), Method::GET | Method::HEAD) {
        return forbidden();
    }
    // The host as the request named it: letters, digits, `.-:[]` only, so
    // that the redirect cannot be bent into another URL.
    let host = request
        .headers()
        .get(header::HOST)
        .map(HeaderValue::as_bytes)
        .or_else(|| request.uri().authority().map(|a| a.as_str().as_bytes()))
        .filter(|host| {
            !host.is_empty()
                && host.len() <= 255
                && host
                    .iter()
                    .all(|&b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
        });
    let Some(host) = host else {
        return forbidden();
    };
    let path = request.uri().path_and_query().map_or("/", |p| p.as_str());
    let mut location = Vec::with_capacity(8 + host.len() + path.len());
    location.extend_from_slice(b"https://");
    location.extend_from_slice(host);
    location.extend_from_slice(path.as_bytes());
    match HeaderValue::from_bytes(&location) {
        Ok(location) => {
            let mut response = StatusCode::PERMANENT_REDIRECT.into_response();
            response.headers_mut().insert(header::LOCATION, location);
            response
        }
        Err(_) => forbidden(),
    }
}

/// Whether a request carried credentials: an `Authorization` header or a
/// cookie.
fn carries_credentials(headers: &http::HeaderMap) -> bool {
    headers.contains_key(header::AUTHORIZATION) || headers.contains_key(header::COOKIE)
}

/// Every error answers problem+json, every response carries the security
/// headers, and a response to a request that carried credentials is not
/// stored by any cache (`Cache-Control: no-store`) unless the handler said
/// otherwise: what it returns was made for that caller.
fn finish(response: Response, defaults: &HttpDefaults, credentialed: bool) -> Response {
    let mut response = problem_json(response);
    let headers = response.headers_mut();
    if credentialed && !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    for (name, value) in defaults.headers.iter() {
        if !headers.contains_key(name) {
            headers.insert(name.clone(), value.clone());
        }
    }
    headers.remove(header::SERVER);
    headers.remove(HeaderName::from_static("x-powered-by"));
    response
}

/// Turns an error response that is not JSON (axum's plain-text rejections,
/// an empty 404 or 405) into problem+json. Its text is not reused: axum's
/// messages can quote the request.
fn problem_json(response: Response) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    if body::is_json(response.headers()) {
        return response;
    }
    let plain = |code: &'static str, detail: &'static str| Problem::new(status, code, detail);
    let problem = match status {
        StatusCode::BAD_REQUEST => plain("bad_request", "the request is malformed"),
        StatusCode::UNAUTHORIZED => plain("unauthorized", "this resource requires authentication"),
        StatusCode::FORBIDDEN => plain("forbidden", "access to this resource is denied"),
        StatusCode::NOT_FOUND => plain("not_found", "no such resource"),
        StatusCode::METHOD_NOT_ALLOWED => plain(
            "method_not_allowed",
            "this method is not allowed on this resource",
        ),
        // Which limit it was is not known here (the layer's own limit is
        // refused before the request goes in).
        StatusCode::PAYLOAD_TOO_LARGE => body::too_large(None),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => plain(
            "unsupported_media_type",
            "the request body has an unsupported media type",
        ),
        StatusCode::UNPROCESSABLE_ENTITY => plain(
            "unprocessable",
            "the request body does not fit the expected shape",
        ),
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => {
            plain("headers_too_large", "the request headers are too large")
        }
        s if s.is_server_error() => plain(
            "internal_error",
            "the server could not complete the request",
        ),
        _ => plain("client_error", "the request cannot be served"),
    };
    let (mut parts, _) = response.into_parts();
    let (problem_parts, problem_body) = problem.into_response().into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    for (name, value) in &problem_parts.headers {
        parts.headers.insert(name.clone(), value.clone());
    }
    Response::from_parts(parts, problem_body)
}
