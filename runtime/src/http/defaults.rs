//! `warden.layer()`: the hardened HTTP defaults every response gets, as a
//! composition of layers that each stand alone.
//!
//! From the outside in: [`SecurityHeadersLayer`], the HTTPS refusal,
//! [`ProblemJsonLayer`], tower-http's [`RequestBodyLimitLayer`], the global
//! limit, tower-http's [`CorsLayer`] from [`Cors`]. The HTTPS refusal and
//! the global limit need the [`Warden`]; the others are public and work on
//! any `Router`.

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::BoxError;
use axum::body::{Body, HttpBody};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderValue, Method, Request, StatusCode, header};
use pin_project_lite::pin_project;
use tower_http::cors::{AllowOrigin, Cors as CorsService, CorsLayer};
use tower_http::limit::{RequestBodyLimit, RequestBodyLimitLayer};
use tower_layer::Layer;
use tower_service::Service;

use super::security_headers::{
    SecurityHeaders, SecurityHeadersFuture, SecurityHeadersLayer, SecurityHeadersService,
};
use super::{Problem, body};
use crate::Warden;
use crate::limit::global;

/// The default request body limit: 64 KiB.
pub const DEFAULT_BODY_LIMIT: usize = 64 * 1024;

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

    /// The tower-http layer of this configuration, to use on its own
    /// (`warden.layer()` includes it). Every configuration tower-http
    /// would panic on is an error here, as is an origin that is not
    /// `scheme://host[:port]`.
    ///
    /// Preflights from an allowed origin may use `GET`, `POST`, `PUT`,
    /// `PATCH` and `DELETE` with the `Authorization` and `Content-Type`
    /// headers, and are cached for ten minutes; responses expose
    /// `Retry-After`, `RateLimit` and `RateLimit-Policy` to the page.
    ///
    /// ```
    /// use axum::{Router, body::Body, routing::get};
    /// use http::Request;
    /// use tower::ServiceExt;
    /// use warden::http::Cors;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let app = Router::new()
    ///     .route("/me", get(|| async { "ana" }))
    ///     .layer(Cors::allow_origins(["https://app.example.com"]).layer()?);
    ///
    /// let request = Request::get("/me")
    ///     .header("origin", "https://app.example.com")
    ///     .body(Body::empty())?;
    /// let response = app.clone().oneshot(request).await?;
    /// assert_eq!(response.headers()["access-control-allow-origin"], "https://app.example.com");
    ///
    /// let request = Request::get("/me").header("origin", "https://evil.example").body(Body::empty())?;
    /// let response = app.oneshot(request).await?;
    /// assert!(!response.headers().contains_key("access-control-allow-origin"));
    ///
    /// assert!(Cors::allow_origins(["*"]).allow_credentials().layer().is_err());
    /// # Ok(())
    /// # }
    /// ```
    pub fn layer(&self) -> Result<CorsLayer, CorsError> {
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
    pub(crate) headers: Arc<SecurityHeaders>,
    pub(crate) cors: CorsLayer,
    pub(crate) body_limit: usize,
}

/// A layer that answers every error response that is not JSON with RFC
/// 9457 problem+json, the part of [`Warden::layer`] that needs no
/// [`Warden`].
///
/// axum's own rejections are plain text (`Json`'s "Failed to parse the
/// request body as JSON: ...", which can quote the request) and an
/// unmatched route or method is an empty 404 or 405; behind this layer
/// each is a problem with a stable `code` (`bad_request`, `not_found`,
/// `method_not_allowed`, `body_too_large`, `unsupported_media_type`,
/// `internal_error`...) and a `detail` of warden's own, never the original
/// text. Responses that are JSON already (`application/json` or any
/// `+json`), and every response under 400, pass as they are; the status
/// and the other headers (`Allow`, `Retry-After`...) are kept.
///
/// ```
/// use axum::{Json, Router, body::Body, routing::post};
/// use http::{Request, StatusCode};
/// use tower::ServiceExt;
/// use warden::http::ProblemJsonLayer;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let app = Router::new()
///     .route("/echo", post(|Json(body): Json<serde_json::Value>| async { Json(body) }))
///     .layer(ProblemJsonLayer::new());
///
/// let request = Request::post("/echo")
///     .header("content-type", "application/json")
///     .body(Body::from("{not json"))?;
/// let response = app.clone().oneshot(request).await?;
/// assert_eq!(response.status(), StatusCode::BAD_REQUEST);
/// assert_eq!(response.headers()["content-type"], "application/problem+json");
///
/// let response = app.oneshot(Request::get("/nowhere").body(Body::empty())?).await?;
/// let body = axum::body::to_bytes(response.into_body(), 1024).await?;
/// let problem: serde_json::Value = serde_json::from_slice(&body)?;
/// assert_eq!(problem["code"], "not_found");
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct ProblemJsonLayer {
    _private: (),
}

impl ProblemJsonLayer {
    /// The layer.
    pub fn new() -> Self {
        Self::default()
    }
}

impl<S> Layer<S> for ProblemJsonLayer {
    type Service = ProblemJsonService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ProblemJsonService { inner }
    }
}

/// The service of [`ProblemJsonLayer`].
#[derive(Debug, Clone)]
pub struct ProblemJsonService<S> {
    inner: S,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for ProblemJsonService<S>
where
    S: Service<Request<ReqBody>, Response = http::Response<ResBody>>,
    ResBody: HttpBody<Data = Bytes> + Send + 'static,
    ResBody::Error: Into<BoxError>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = ProblemJsonFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        ProblemJsonFuture {
            inner: self.inner.call(request),
        }
    }
}

pin_project! {
    /// The response future of [`ProblemJsonService`].
    pub struct ProblemJsonFuture<F> {
        #[pin]
        inner: F,
    }
}

impl<F, B, E> Future for ProblemJsonFuture<F>
where
    F: Future<Output = Result<http::Response<B>, E>>,
    B: HttpBody<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let response = ready!(self.project().inner.poll(cx))?;
        Poll::Ready(Ok(problem_json(response.map(Body::new))))
    }
}

/// The layer of [`Warden::layer`]: the hardened HTTP defaults in one.
///
/// It is a composition, from the outside in, of:
///
/// 1. [`SecurityHeadersLayer`] with the builder's
///    [`security_headers`](crate::WardenBuilder::security_headers);
/// 2. the HTTPS refusal of [`require_https`](crate::WardenBuilder::require_https)
///    (needs the `Warden`: it asks the trusted proxies), and the refusal of
///    a declared length over the body limit, with a problem that names it;
/// 3. [`ProblemJsonLayer`];
/// 4. tower-http's [`RequestBodyLimitLayer`] with the builder's
///    [`body_limit`](crate::WardenBuilder::body_limit): a declared length
///    over the limit is refused before the body is read, a longer body
///    fails the extractor that reads it, and either way the 413 answers
///    problem+json (`body_too_large`) through the layer above;
/// 5. the [global limit](crate::WardenBuilder::global_limit) (needs the
///    `Warden`: its store and client addresses);
/// 6. tower-http's [`CorsLayer`], from the builder's [`Cors`].
///
/// An application that wants some of these and not others stacks the
/// public ones itself, without a `Warden`:
///
/// ```
/// use axum::{Router, routing::get};
/// use tower_http::limit::RequestBodyLimitLayer;
/// use warden::http::{Cors, ProblemJsonLayer, SecurityHeaders, SecurityHeadersLayer};
///
/// let app: Router = Router::new()
///     .route("/health", get(|| async { "ok" }))
///     .layer(Cors::allow_origins(["https://app.example.com"]).layer()?)
///     .layer(RequestBodyLimitLayer::new(16 * 1024))
///     .layer(ProblemJsonLayer::new())
///     .layer(SecurityHeadersLayer::new(SecurityHeaders::default()));
/// # Ok::<(), warden::http::CorsError>(())
/// ```
#[derive(Debug, Clone)]
pub struct WardenLayer {
    warden: Warden,
}

impl WardenLayer {
    pub(crate) fn new(warden: Warden) -> Self {
        Self { warden }
    }
}

/// The services of [`WardenLayer`], from the outside in.
type Stack<S> = SecurityHeadersService<
    EarlyRefusal<ProblemJsonService<RequestBodyLimit<GlobalLimitService<CorsService<S>>>>>,
>;

/// The response futures of [`Stack`].
type StackFuture<F> = SecurityHeadersFuture<
    EarlyRefusalFuture<
        ProblemJsonFuture<tower_http::limit::ResponseFuture<GlobalLimitFuture<CorsFuture<F>>>>,
    >,
>;

type CorsFuture<F> = tower_http::cors::ResponseFuture<F>;

impl<S> Layer<S> for WardenLayer {
    type Service = WardenService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        let defaults = self.warden.http_defaults();
        let warden = &self.warden;
        let inner = GlobalLimitService {
            inner: defaults.cors.clone().layer(inner),
            warden: warden.clone(),
        };
        let inner = RequestBodyLimitLayer::new(defaults.body_limit).layer(inner);
        let inner = EarlyRefusal {
            inner: ProblemJsonLayer::new().layer(inner),
            warden: warden.clone(),
            body_limit: defaults.body_limit,
        };
        WardenService {
            inner: SecurityHeadersLayer::shared(Arc::clone(&defaults.headers)).layer(inner),
        }
    }
}

/// The service of [`WardenLayer`].
#[derive(Debug, Clone)]
pub struct WardenService<S> {
    inner: Stack<S>,
}

impl<S> Service<Request<Body>> for WardenService<S>
where
    S: Service<Request<Body>, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = WardenFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        WardenFuture {
            inner: self.inner.call(request),
        }
    }
}

pin_project! {
    /// The response future of [`WardenService`].
    pub struct WardenFuture<F> {
        #[pin]
        inner: StackFuture<F>,
    }
}

impl<F> Future for WardenFuture<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.project().inner.poll(cx)
    }
}

/// Refuses, before anything else runs: plain HTTP when the `Warden`
/// requires HTTPS (see [`https_refusal`]), and a declared `Content-Length`
/// over the body limit, naming the limit (tower-http's layer beneath would
/// refuse it too, but without saying which limit).
#[derive(Debug, Clone)]
struct EarlyRefusal<S> {
    inner: S,
    warden: Warden,
    body_limit: usize,
}

impl<S> Service<Request<Body>> for EarlyRefusal<S>
where
    S: Service<Request<Body>, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = EarlyRefusalFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        if let Some(refusal) = self.warden.refuse_plain_http(&request) {
            return EarlyRefusalFuture::Refused {
                refusal: Some(refusal),
            };
        }
        let declared = request
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        if declared.is_some_and(|n| n > self.body_limit as u64) {
            return EarlyRefusalFuture::Refused {
                refusal: Some(body::too_large(Some(self.body_limit)).into_response()),
            };
        }
        EarlyRefusalFuture::Served {
            inner: self.inner.call(request),
        }
    }
}

pin_project! {
    #[project = EarlyRefusalProjection]
    enum EarlyRefusalFuture<F> {
        Refused { refusal: Option<Response> },
        Served { #[pin] inner: F },
    }
}

impl<F, E> Future for EarlyRefusalFuture<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            EarlyRefusalProjection::Refused { refusal } => {
                Poll::Ready(Ok(refusal.take().unwrap_or_default()))
            }
            EarlyRefusalProjection::Served { inner } => inner.poll(cx),
        }
    }
}

/// Counts every request against the `Warden`'s global limit, when it has
/// one; turns the body tower-http's limit wrapped back into an axum `Body`.
#[derive(Debug, Clone)]
struct GlobalLimitService<S> {
    inner: S,
    warden: Warden,
}

impl<S> Service<Request<tower_http::body::Limited<Body>>> for GlobalLimitService<S>
where
    S: Service<Request<Body>, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = GlobalLimitFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<tower_http::body::Limited<Body>>) -> Self::Future {
        let request = request.map(Body::new);
        if self.warden.global_limit().is_none() {
            return GlobalLimitFuture::Uncounted {
                inner: self.inner.call(request),
            };
        }
        // The global limit waits on the store before the inner service is
        // called: take the service that was made ready, leave a clone.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let warden = self.warden.clone();
        GlobalLimitFuture::Counted {
            inner: Box::pin(async move {
                let (parts, body) = request.into_parts();
                let counted = match global::count(&warden, &parts).await {
                    Ok(counted) => counted,
                    Err(refused) => return Ok(refused),
                };
                let mut response = inner.call(Request::from_parts(parts, body)).await?;
                if let Some((rate, outcome)) = counted {
                    global::show(&mut response, rate, &outcome);
                }
                Ok(response)
            }),
        }
    }
}

type BoxedResponseFuture = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

pin_project! {
    #[project = GlobalLimitProjection]
    enum GlobalLimitFuture<F> {
        Uncounted { #[pin] inner: F },
        Counted { inner: BoxedResponseFuture },
    }
}

impl<F> Future for GlobalLimitFuture<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            GlobalLimitProjection::Uncounted { inner } => inner.poll(cx),
            GlobalLimitProjection::Counted { inner } => inner.as_mut().poll(cx),
        }
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
