//! RFC 9457 problem details: the one shape every warden rejection takes.

use std::borrow::Cow;

use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use serde::Serialize;

/// The media type of every error body warden sends.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// An RFC 9457 problem details response.
///
/// Every rejection warden produces is one of these: authentication and
/// authorisation ([`AuthRejection`](crate::auth::AuthRejection)), rate
/// limits, validation ([`ValidationRejection`](crate::validate::ValidationRejection)
/// and [`Issues`](crate::validate::Issues)), and the refusals of
/// [`Warden::layer`](crate::Warden::layer) (a body over the size limit, a
/// write over plain HTTP when HTTPS is required). Behind that layer, any
/// other error response that is not JSON (axum's plain-text rejections, an
/// empty 404 or 405, a 500) is replaced by one too, so a client sees one
/// error format. It answers with `Content-Type: application/problem+json`
/// and this body:
///
/// ```json
/// {
///   "type": "about:blank",
///   "title": "Conflict",
///   "status": 409,
///   "detail": "this email is already registered",
///   "code": "email_taken"
/// }
/// ```
///
/// - `type` is always `about:blank` and `title` is the status's reason
///   phrase (`Error` for a status without one), as RFC 9457 section 4.2.1
///   prescribes for problems that need no more semantics than the status;
/// - `code` is warden's stable, machine-readable name of the problem;
/// - `detail` is for people. In every problem warden makes, it never
///   carries a token, a password, an internal error message or a value
///   the client sent;
/// - extension members ([`with_member`](Self::with_member)) sit beside
///   them, such as the `issues` (and `truncated`) of a validation failure.
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
    /// human-readable `detail`. The `title` is the status's reason phrase
    /// and the `type` is `about:blank`.
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

    /// Adds a response header (for example `WWW-Authenticate` or
    /// `Retry-After`).
    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.0.headers.append(name, value);
        self
    }

    /// Adds an extension member to the body (RFC 9457 section 3.2), beside
    /// the standard ones; a second call with the same name replaces it.
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

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt;
    use serde_json::{Value, json};

    use super::*;

    async fn answer(problem: Problem) -> (StatusCode, HeaderMap, Value) {
        let response = problem.into_response();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (status, headers, serde_json::from_slice(&bytes).unwrap())
    }

    #[tokio::test]
    async fn the_body_and_headers_are_as_documented() {
        let problem = Problem::new(
            StatusCode::CONFLICT,
            "email_taken",
            "this email is already registered",
        )
        .with_member("issues", json!([]))
        .with_member("code", json!("replaced"))
        .with_header(header::RETRY_AFTER, HeaderValue::from_static("1"));
        let (status, headers, body) = answer(problem).await;
        assert_eq!(status, StatusCode::CONFLICT);
        assert_eq!(headers[header::CONTENT_TYPE], PROBLEM_JSON);
        assert_eq!(headers[header::RETRY_AFTER], "1");
        assert_eq!(
            body,
            json!({
                "type": "about:blank",
                "title": "Conflict",
                "status": 409,
                "detail": "this email is already registered",
                "code": "email_taken",
                "issues": [],
            })
        );
        // A status without a reason phrase.
        let status = StatusCode::from_u16(599).unwrap();
        let (_, _, body) = answer(Problem::new(status, "x", "y")).await;
        assert_eq!(body["title"], "Error");
    }

    #[test]
    fn it_is_one_pointer_wide() {
        assert_eq!(size_of::<Problem>(), size_of::<usize>());
        assert_eq!(size_of::<Result<(), Problem>>(), size_of::<usize>());
    }
}
