//! Request and response bodies at the HTTP edge: which media types are JSON
//! or a form, read one way everywhere, and the one problem for a body over
//! the size limit.
//!
//! The media type is read by hand rather than with the `mime` crate: only
//! its essence (`type/subtype`) matters here, and `mime` refuses what this
//! reader ignores on purpose (malformed parameters, whitespace before `;`,
//! which RFC 9110 allows).

use std::borrow::Cow;

use http::{HeaderMap, StatusCode, header};

use super::Problem;

/// A media type's essence, as the header spells it (case is kept; the
/// comparisons ignore it).
struct Essence<'a> {
    kind: &'a str,
    subtype: &'a str,
}

/// The essence of the one `Content-Type` of `headers`: parameters
/// ignored, whitespace around it trimmed. `None` when there is no such
/// header, more than one, one that is not visible ASCII, or one whose
/// type or subtype is not an RFC 9110 token.
fn essence(headers: &HeaderMap) -> Option<Essence<'_>> {
    let mut values = headers.get_all(header::CONTENT_TYPE).iter();
    let value = values.next()?;
    if values.next().is_some() {
        return None;
    }
    let value = value.to_str().ok()?;
    let essence = value
        .split(';')
        .next()?
        .trim_matches(|c| c == ' ' || c == '\t');
    let (kind, subtype) = essence.split_once('/')?;
    (is_token(kind) && is_token(subtype)).then_some(Essence { kind, subtype })
}

/// An RFC 9110 token: one or more `tchar`.
fn is_token(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Whether `headers` declare JSON: `application/json`, or an
/// `application/<name>+json` type with a name before the suffix
/// (`application/problem+json`), in any case, whatever the parameters.
pub(crate) fn is_json(headers: &HeaderMap) -> bool {
    const SUFFIX: &str = "+json";
    essence(headers).is_some_and(|Essence { kind, subtype }| {
        // A token is ASCII: any byte is a character boundary.
        let suffixed = subtype.len() > SUFFIX.len()
            && subtype[subtype.len() - SUFFIX.len()..].eq_ignore_ascii_case(SUFFIX);
        kind.eq_ignore_ascii_case("application")
            && (subtype.eq_ignore_ascii_case("json") || suffixed)
    })
}

/// Whether `headers` declare a form: `application/x-www-form-urlencoded`,
/// in any case, whatever the parameters.
pub(crate) fn is_form(headers: &HeaderMap) -> bool {
    essence(headers).is_some_and(|Essence { kind, subtype }| {
        kind.eq_ignore_ascii_case("application")
            && subtype.eq_ignore_ascii_case("x-www-form-urlencoded")
    })
}

/// The answer to a body over the size limit, wherever it is found: 413
/// `body_too_large`, naming the limit when it is known.
pub(crate) fn too_large(limit: Option<usize>) -> Problem {
    let detail: Cow<'static, str> = match limit {
        Some(limit) => format!("the request body is over the limit of {limit} bytes").into(),
        None => "the request body is over the size limit".into(),
    };
    Problem::new(StatusCode::PAYLOAD_TOO_LARGE, "body_too_large", detail)
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    fn headers(values: &[&[u8]]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(
                header::CONTENT_TYPE,
                HeaderValue::from_bytes(value).unwrap(),
            );
        }
        headers
    }

    #[test]
    fn json_and_form_media_types() {
        // (Content-Type, read as JSON, read as a form)
        for (value, json, form) in [
            ("application/json", true, false),
            ("Application/JSON; charset=utf-8", true, false),
            ("application/json ; charset=utf-8", true, false),
            ("application/json;charset", true, false),
            (" application/json ", true, false),
            ("application/problem+json", true, false),
            ("application/vnd.api+JSON", true, false),
            ("application/x-www-form-urlencoded+json", true, false),
            ("application/+json", false, false),
            ("application/json+xml", false, false),
            ("text/json+json", false, false),
            ("text/json", false, false),
            ("text/plain", false, false),
            ("application/", false, false),
            ("/json", false, false),
            ("application", false, false),
            ("application/js on", false, false),
            ("application/json/x", false, false),
            ("", false, false),
            ("application/x-www-form-urlencoded", false, true),
            (
                "Application/X-WWW-Form-Urlencoded; charset=UTF-8",
                false,
                true,
            ),
            ("multipart/form-data", false, false),
        ] {
            let headers = headers(&[value.as_bytes()]);
            assert_eq!(
                (is_json(&headers), is_form(&headers)),
                (json, form),
                "{value:?}"
            );
        }
        // Missing, twice, or not visible ASCII.
        for headers in [
            HeaderMap::new(),
            headers(&[b"application/json", b"application/json"]),
            headers(&[b"application/json; x=\xff"]),
            headers(&[b"application/\xc3\xa9+json"]),
        ] {
            assert!(!is_json(&headers), "{headers:?}");
        }
        assert!(!is_form(&headers(&[
            b"application/x-www-form-urlencoded",
            b"application/json"
        ])));
    }

    #[test]
    fn one_problem_for_a_body_too_large() {
        let known = too_large(Some(16));
        assert_eq!(known.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(known.code(), "body_too_large");
        assert_eq!(
            known.detail(),
            "the request body is over the limit of 16 bytes"
        );
        let unknown = too_large(None);
        assert_eq!(unknown.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(unknown.code(), "body_too_large");
        assert_eq!(unknown.detail(), "the request body is over the size limit");
    }
}
