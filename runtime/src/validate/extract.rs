use std::fmt;
use std::ops::{Deref, DerefMut};

use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::response::{IntoResponse, Response};
use axum::{Form, Json};
use bytes::Bytes;
use http::request::Parts;
use http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde::de::{DeserializeOwned, IgnoredAny};

use super::capture::{self, Failure};
use super::report::path_of;
use super::{Issues, Validate};
use crate::http::{Problem, body};

/// An extractor whose value was parsed and then validated.
///
/// `#[validate]` wraps a handler's `Json<T>`, `Query<T>`, `Form<T>` and
/// `Path<T>` parameters in it. Every way a request can be wrong answers an
/// RFC 9457 [`Problem`] instead of axum's plain text:
///
/// | request | status | `code` |
/// |---|---|---|
/// | a body whose `Content-Type` is not `application/json` or `application/<name>+json` (for a form: not `application/x-www-form-urlencoded`), parameters ignored | 415 | `unsupported_media_type` |
/// | a body over the limit | 413 | `body_too_large` |
/// | a body that could not be read | 400 | `unreadable_body` |
/// | malformed JSON, or data after the JSON value | 400 | `malformed_json` |
/// | wrongly typed, unknown or missing fields, broken rules | 400 | `validation_failed`, every one in `issues` with its path |
/// | a path parameter that does not parse | 400 | `invalid_path` |
#[derive(Debug, Clone, Copy, Default)]
pub struct Valid<E>(pub E);

impl<E> Valid<E> {
    /// The inner extractor.
    pub fn into_inner(self) -> E {
        self.0
    }
}

impl<E> Deref for Valid<E> {
    type Target = E;
    fn deref(&self) -> &E {
        &self.0
    }
}

impl<E> DerefMut for Valid<E> {
    fn deref_mut(&mut self) -> &mut E {
        &mut self.0
    }
}

/// Why a [`Valid`] extractor refused a request: a [`Problem`], as every
/// warden rejection is.
#[derive(Debug, Clone)]
pub struct ValidationRejection(Problem);

impl ValidationRejection {
    /// The problem it answers with.
    pub fn problem(&self) -> &Problem {
        &self.0
    }

    fn new(
        status: StatusCode,
        code: &'static str,
        detail: impl Into<std::borrow::Cow<'static, str>>,
    ) -> Self {
        Self(Problem::new(status, code, detail))
    }

    fn issues(issues: &Issues) -> Self {
        Self(issues.to_problem())
    }
}

impl fmt::Display for ValidationRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.detail())
    }
}

impl std::error::Error for ValidationRejection {}

impl IntoResponse for ValidationRejection {
    fn into_response(self) -> Response {
        self.0.into_response()
    }
}

fn validated<T: Validate>(value: T) -> Result<T, ValidationRejection> {
    value
        .validate()
        .map_err(|issues| ValidationRejection::issues(&issues))?;
    Ok(value)
}

/// A kind of body: how a request declares it, and what a 415 says.
struct Media {
    declared: fn(&HeaderMap) -> bool,
    refusal: &'static str,
}

const JSON_BODY: Media = Media {
    declared: body::is_json,
    refusal: "expected a JSON body with Content-Type: application/json",
};

const FORM_BODY: Media = Media {
    declared: body::is_form,
    refusal: "expected a form body with Content-Type: application/x-www-form-urlencoded",
};

/// The body of a request that declares `media`: 415 when it declares
/// another media type (or none), 413 over the body limit.
async fn read_body<S: Send + Sync>(
    request: Request,
    state: &S,
    media: &Media,
) -> Result<Bytes, ValidationRejection> {
    if !(media.declared)(request.headers()) {
        return Err(ValidationRejection::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            media.refusal,
        ));
    }
    Bytes::from_request(request, state)
        .await
        .map_err(|rejection| match rejection {
            BytesRejection::FailedToBufferBody(inner)
                if inner.status() == StatusCode::PAYLOAD_TOO_LARGE =>
            {
                // The limit is the router's `DefaultBodyLimit`, which the
                // rejection does not carry.
                ValidationRejection(body::too_large(None))
            }
            _ => ValidationRejection::new(
                StatusCode::BAD_REQUEST,
                "unreadable_body",
                "the request body could not be read",
            ),
        })
}

/// The answer to a data error when no list of every issue could be made:
/// the first one, from the reader's own failure.
fn first_issue(failure: &Failure) -> ValidationRejection {
    let issue = failure.error.to_issue(path_of(&failure.path));
    ValidationRejection::issues(&Issues(vec![issue]))
}

impl<S, T> FromRequest<S> for Valid<Json<T>>
where
    S: Send + Sync,
    T: DeserializeOwned + Validate,
{
    type Rejection = ValidationRejection;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = read_body(request, state, &JSON_BODY).await?;
        // The common case parses once, untracked; only a body that fails is
        // parsed again with its path tracked, to say where it failed.
        let value: T = serde_json::from_slice(&bytes).map_err(|_| json_rejection::<T>(&bytes))?;
        Ok(Self(Json(validated(value)?)))
    }
}

/// Why `bytes` is not a `T`: the JSON is malformed, or a value is missing,
/// unknown or of the wrong type at a path. Parses again with the path
/// tracked, which costs an allocation per key, so only after a failure.
fn json_rejection<T: DeserializeOwned + Validate>(bytes: &[u8]) -> ValidationRejection {
    // Whether the body is JSON is judged on its own, whatever a `T` wants:
    // serde_json words some data errors as syntax errors (an enum sent as
    // `false` is "expected value").
    let mut syntax = serde_json::Deserializer::from_slice(bytes);
    if let Err(error) = IgnoredAny::deserialize(&mut syntax) {
        return ValidationRejection::new(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            format!(
                "the body is not valid JSON (line {}, column {})",
                error.line(),
                error.column()
            ),
        );
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    match capture::deserialize::<_, T>(&mut deserializer) {
        // A data error: list every one, not only the first.
        Err(failure) => serde_json::from_slice(bytes)
            .ok()
            .and_then(super::collect::every_issue::<T>)
            .map_or_else(
                || first_issue(&failure),
                |issues| ValidationRejection::issues(&issues),
            ),
        // The value parsed: what failed the untracked parse came after it.
        Ok(_) => ValidationRejection::new(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            "the body has data after the JSON value",
        ),
    }
}

fn from_urlencoded<T: DeserializeOwned + Validate>(input: &[u8]) -> Result<T, ValidationRejection> {
    // As for JSON: untracked first, tracked only to explain a failure, and
    // then every data issue at once.
    if let Ok(value) = serde_urlencoded::from_bytes(input) {
        return Ok(value);
    }
    let deserializer = serde_urlencoded::Deserializer::new(form_urlencoded::parse(input));
    capture::deserialize(deserializer).map_err(|failure| {
        super::collect::every_form_issue::<T>(input).map_or_else(
            || first_issue(&failure),
            |issues| ValidationRejection::issues(&issues),
        )
    })
}

impl<S, T> FromRequestParts<S> for Valid<axum::extract::Query<T>>
where
    S: Send + Sync,
    T: DeserializeOwned + Validate,
{
    type Rejection = ValidationRejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        let value: T = from_urlencoded(query.as_bytes())?;
        Ok(Self(axum::extract::Query(validated(value)?)))
    }
}

impl<S, T> FromRequest<S> for Valid<Form<T>>
where
    S: Send + Sync,
    T: DeserializeOwned + Validate,
{
    type Rejection = ValidationRejection;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = read_body(request, state, &FORM_BODY).await?;
        let value: T = from_urlencoded(&bytes)?;
        Ok(Self(Form(validated(value)?)))
    }
}

impl<S, T> FromRequestParts<S> for Valid<Path<T>>
where
    S: Send + Sync,
    T: DeserializeOwned + Validate + Send,
{
    type Rejection = ValidationRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(value) = Path::<T>::from_request_parts(parts, state)
            .await
            .map_err(|_| {
                ValidationRejection::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_path",
                    "a path parameter is not valid",
                )
            })?;
        Ok(Self(Path(validated(value)?)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    enum Kind {
        Plain,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        kind: Option<Kind>,
        count: u32,
    }

    impl Validate for Body {
        fn validate_into(&self, _: &mut super::super::Report) {}
    }

    fn answer(body: &str) -> (String, serde_json::Value) {
        let problem = json_rejection::<Body>(body.as_bytes()).0;
        let issues = serde_json::to_value(
            super::super::collect::every_issue::<Body>(
                serde_json::from_str(body).unwrap_or_default(),
            )
            .map(|issues| issues.0)
            .unwrap_or_default(),
        )
        .unwrap();
        (problem.code().to_owned(), issues)
    }

    #[test]
    fn well_formed_json_is_never_malformed() {
        // serde_json calls this a syntax error; the body is JSON.
        let (code, issues) = answer(r#"{"kind":false,"count":"x"}"#);
        assert_eq!(code, "validation_failed");
        let mut paths: Vec<&str> = issues
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["path"].as_str().unwrap())
            .collect();
        paths.sort_unstable();
        assert_eq!(paths, ["count", "kind"]);
        // Not JSON, wherever the first data error is.
        assert_eq!(answer(r#"{"count":"x","kind":"#).0, "malformed_json");
        assert_eq!(answer(r#"{"count":1"#).0, "malformed_json");
        // JSON, then something else.
        let problem = json_rejection::<Body>(br#"{"count":1} {"#).0;
        assert_eq!(
            (problem.code(), problem.detail()),
            ("malformed_json", "the body has data after the JSON value")
        );
    }
}
