//! RFC 9457 problem details: the one shape every warden rejection takes.

use std::borrow::Cow;

use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use serde::Serialize;

/// The media type of every error body warden sends.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// An RFC 9457 problem details response.
///
/// Every rejection warden produces turns into one of these, so a client sees
/// one machine-readable error format: `type`, `title`, `status`, `detail`
/// and a stable `code`. The `detail` is written for the client and never
/// carries a token, a password or an internal error message.
///
/// ```
/// use warden::http::Problem;
/// use http::StatusCode;
///
/// let problem = Problem::new(StatusCode::CONFLICT, "email_taken", "this email is already registered");
/// assert_eq!(problem.status(), StatusCode::CONFLICT);
/// assert_eq!(problem.code(), "email_taken");
/// ```
///
/// It is one pointer wide, so `Result<T, Problem>` stays small.
#[derive(Debug, Clone)]
pub struct Problem(Box<Inner>);

#[derive(Debug, Clone)]
struct Inner {
    status: StatusCode,
    code: Cow<'static, str>,
    detail: Cow<'static, str>,
    headers: HeaderMap,
    extensions: serde_json::Map<String, serde_json::Value>,
}

#[derive(Serialize)]
struct Body<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    title: &'a str,
    status: u16,
    detail: &'a str,
    code: &'a str,
    #[serde(flatten)]
    extensions: &'a serde_json::Map<String, serde_json::Value>,
}

impl Problem {
    /// A problem with the given status, machine-readable `code` and
    /// human-readable `detail`. The `title` is the status's reason phrase and
    /// the `type` is `about:blank`, as RFC 9457 section 4.2.1 prescribes for
    /// problems that need no more semantics than the status and the code.
    pub fn new(
        status: StatusCode,
        code: impl Into<Cow<'static, str>>,
        detail: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self(Box::new(Inner {
            status,
            code: code.into(),
            detail: detail.into(),
            headers: HeaderMap::new(),
            extensions: serde_json::Map::new(),
        }))
    }

    /// Adds a response header (for example `WWW-Authenticate`).
    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.0.headers.append(name, value);
        self
    }

    /// Adds an extension member to the body (RFC 9457 section 3.2).
    ///
    /// The standard members (`type`, `title`, `status`, `detail`, `code`)
    /// cannot be replaced this way; such a call is ignored.
    pub fn with_member(mut self, name: &str, value: serde_json::Value) -> Self {
        if !matches!(name, "type" | "title" | "status" | "detail" | "code") {
            self.0.extensions.insert(name.to_owned(), value);
        }
        self
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.0.status
    }

    /// The stable, machine-readable code (`invalid_token`, ...).
    pub fn code(&self) -> &str {
        &self.0.code
    }

    /// The human-readable explanation.
    pub fn detail(&self) -> &str {
        &self.0.detail
    }

    /// The headers the response will carry besides `Content-Type`.
    pub fn headers(&self) -> &HeaderMap {
        &self.0.headers
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let problem = *self.0;
        let body = Body {
            kind: "about:blank",
            title: problem.status.canonical_reason().unwrap_or("Error"),
            status: problem.status.as_u16(),
            detail: &problem.detail,
            code: &problem.code,
            extensions: &problem.extensions,
        };
        // Serialising plain strings and JSON values cannot fail.
        let bytes = serde_json::to_vec(&body).unwrap_or_default();
        let mut response = (problem.status, bytes).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        headers.extend(problem.headers);
        response
    }
}
