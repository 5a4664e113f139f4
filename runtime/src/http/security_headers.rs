//! The security headers every response carries: [`SecurityHeadersLayer`].

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use http::header::Entry;
use http::{HeaderMap, HeaderName, HeaderValue, Request, Response, header};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

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

    /// Hardens one response: see [`SecurityHeadersLayer`].
    fn apply(&self, headers: &mut HeaderMap, credentialed: bool) {
        // Room for all of them at once: the map grows once, not at every
        // power of two on the way.
        headers.reserve(self.headers.len() + 1);
        if credentialed && let Entry::Vacant(entry) = headers.entry(header::CACHE_CONTROL) {
            entry.insert(HeaderValue::from_static("no-store"));
        }
        for (name, value) in &self.headers {
            if let Entry::Vacant(entry) = headers.entry(name) {
                entry.insert(value.clone());
            }
        }
        headers.remove(header::SERVER);
        headers.remove(HeaderName::from_static("x-powered-by"));
    }
}

/// Whether a request carried credentials: an `Authorization` header or a
/// cookie.
fn carries_credentials(headers: &HeaderMap) -> bool {
    headers.contains_key(header::AUTHORIZATION) || headers.contains_key(header::COOKIE)
}

/// A layer that puts [`SecurityHeaders`] on every response, the part of
/// [`Warden::layer`](crate::Warden::layer) that needs no [`Warden`](crate::Warden).
///
/// On every response: each header of the set the handler did not set
/// itself; `Server` and `X-Powered-By` removed; and, when the request
/// carried credentials (an `Authorization` header or a cookie),
/// `Cache-Control: no-store` unless the handler chose a `Cache-Control`:
/// what it returns was made for that caller, and no cache should keep it.
///
/// ```
/// use axum::{Router, body::Body, routing::get};
/// use http::{HeaderName, HeaderValue, Request};
/// use tower::ServiceExt;
/// use warden::http::{SecurityHeaders, SecurityHeadersLayer};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let headers = SecurityHeaders::default().set(
///     HeaderName::from_static("content-security-policy"),
///     HeaderValue::from_static("default-src 'self'"),
/// );
/// let app = Router::new()
///     .route("/", get(|| async { "hello" }))
///     .layer(SecurityHeadersLayer::new(headers));
///
/// let response = app.oneshot(Request::get("/").body(Body::empty())?).await?;
/// assert_eq!(response.headers()["x-content-type-options"], "nosniff");
/// assert_eq!(response.headers()["content-security-policy"], "default-src 'self'");
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Default)]
pub struct SecurityHeadersLayer {
    headers: Arc<SecurityHeaders>,
}

impl SecurityHeadersLayer {
    /// A layer sending `headers` ([`SecurityHeaders::default`] for the
    /// defaults).
    pub fn new(headers: SecurityHeaders) -> Self {
        Self {
            headers: Arc::new(headers),
        }
    }

    pub(crate) fn shared(headers: Arc<SecurityHeaders>) -> Self {
        Self { headers }
    }
}

impl From<SecurityHeaders> for SecurityHeadersLayer {
    fn from(headers: SecurityHeaders) -> Self {
        Self::new(headers)
    }
}

impl<S> Layer<S> for SecurityHeadersLayer {
    type Service = SecurityHeadersService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        SecurityHeadersService {
            inner,
            headers: Arc::clone(&self.headers),
        }
    }
}

/// The service of [`SecurityHeadersLayer`].
#[derive(Debug, Clone)]
pub struct SecurityHeadersService<S> {
    inner: S,
    headers: Arc<SecurityHeaders>,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for SecurityHeadersService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = SecurityHeadersFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        SecurityHeadersFuture {
            credentialed: carries_credentials(request.headers()),
            headers: Arc::clone(&self.headers),
            inner: self.inner.call(request),
        }
    }
}

pin_project! {
    /// The response future of [`SecurityHeadersService`].
    pub struct SecurityHeadersFuture<F> {
        #[pin]
        inner: F,
        headers: Arc<SecurityHeaders>,
        credentialed: bool,
    }
}

impl<F, B, E> Future for SecurityHeadersFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut response = ready!(this.inner.poll(cx))?;
        this.headers
            .apply(response.headers_mut(), *this.credentialed);
        Poll::Ready(Ok(response))
    }
}
