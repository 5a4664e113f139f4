//! `Valid<Json<RegisterBody>>` (the body of the reference API's
//! `POST /register`) on arbitrary JSON bodies: never panics, answers a
//! valid body with the handler and anything else with a 400, 413, 415 or
//! 422 problem+json that echoes none of the string values that were
//! sent (keys are not checked: the path of an unknown field names it).

#![no_main]

use std::cell::RefCell;
use std::fmt;
use std::sync::LazyLock;

use axum::body::{Body, to_bytes};
use axum::routing::post;
use axum::{Json, Router};
use http::{Request, StatusCode, header};
use libfuzzer_sys::fuzz_target;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use tokio::runtime::Runtime;
use tower::ServiceExt;
use warden::{Valid, Validate};

// The register body of the bench server, whose rules are the reference
// API's.
use bench_server::Register as RegisterBody;

const FIELDS: &[&str] = &["email", "password", "name"];

async fn register(Valid(Json(_body)): Valid<Json<RegisterBody>>) -> &'static str {
    "registered"
}

struct Fixture {
    runtime: Runtime,
    router: Router,
    /// Every text warden answers with for bodies that carry nothing to
    /// echo: what an answer may contain whatever the client sent.
    vocabulary: String,
}

/// The problem's strings: every string anywhere in the answer's JSON.
fn strings_of(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|v| strings_of(v, out)),
        Value::Object(map) => map.iter().for_each(|(k, v)| {
            out.push(k.clone());
            strings_of(v, out);
        }),
        _ => {}
    }
}

fn send(
    fixture_runtime: &Runtime,
    router: &Router,
    body: &[u8],
) -> (StatusCode, Option<String>, Vec<u8>) {
    let request = Request::post("/register")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_vec()))
        .expect("request");
    fixture_runtime.block_on(async {
        let response = router.clone().oneshot(request).await.expect("infallible");
        let status = response.status();
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body");
        (status, content_type, body.to_vec())
    })
}

static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let router = Router::new().route("/register", post(register));
    // Bodies that break every rule and every shape, with values too short
    // or too plain to be echoed.
    let references: &[&str] = &[
        "",
        "{",
        "[",
        "nul",
        "1",
        "\"x\"",
        "[]",
        "[1]",
        "[\"a\",\"b\",\"c\"]",
        "{}",
        "null",
        "true",
        "{\"x\":1}",
        "{\"email\":1}",
        "{\"email\":[]}",
        "{\"email\":{}}",
        "{\"email\":null}",
        "{\"email\":true}",
        "{\"email\":1.5}",
        "{\"email\":-1}",
        "{\"email\":\"a\"}",
        "{\"email\":\"a\",\"password\":\"b\"}",
        "{\"email\":\"a\",\"password\":\"b\",\"name\":\"1\"}",
        "{\"email\":\"\",\"password\":\"\",\"name\":\"\"}",
        "{\"email\":\"a@b.c\",\"password\":\"aaaaaaaaaaaaa\",\"name\":\"7\"} x",
        "{\"email\":\"a\",\"email\":\"a\"}",
        "{} {}",
        "\u{feff}{}",
    ];
    let mut vocabulary = FIELDS.join(" ");
    // warden's own words for data issues, whichever body brings them out.
    for words in [
        "invalid_value",
        "this value is not valid here",
        "invalid_type",
        "unknown_field",
        "this field is not allowed",
        "missing_field",
        "this field is required",
        "malformed_json",
        "validation_failed",
    ] {
        vocabulary.push('\n');
        vocabulary.push_str(words);
    }
    for body in references {
        let (_, _, answer) = send(&runtime, &router, body.as_bytes());
        if let Ok(value) = serde_json::from_slice::<Value>(&answer) {
            let mut strings = Vec::new();
            strings_of(&value, &mut strings);
            for s in strings {
                vocabulary.push('\n');
                vocabulary.push_str(&s);
            }
        }
    }
    Fixture {
        runtime,
        router,
        vocabulary,
    }
});

/// Collects the string values (not the keys) of a JSON text as it is
/// parsed, so that a body that breaks off still yields those before.
struct Values<'a> {
    values: &'a RefCell<Vec<String>>,
    keys: &'a RefCell<Vec<String>>,
}

impl<'de> DeserializeSeed<'de> for Values<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Values<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        self.values.borrow_mut().push(v.to_owned());
        Ok(())
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq
            .next_element_seed(Values {
                values: self.values,
                keys: self.keys,
            })?
            .is_some()
        {}
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            self.keys.borrow_mut().push(key);
            map.next_value_seed(Values {
                values: self.values,
                keys: self.keys,
            })?;
        }
        Ok(())
    }
}

/// The string values a body sends, as far as it parses, and its keys.
/// Keys are not checked for echoes (the path of an unknown field names
/// it, as documented).
fn sent(body: &[u8]) -> (Vec<String>, Vec<String>) {
    let (values, keys) = (RefCell::new(Vec::new()), RefCell::new(Vec::new()));
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let _ = Values {
        values: &values,
        keys: &keys,
    }
    .deserialize(&mut deserializer);
    (values.into_inner(), keys.into_inner())
}

/// A name as an issue path writes it when it is not a plain name: in
/// brackets and quotes, `"` and `\` escaped, control characters as
/// `\u00XX`.
fn as_in_a_path(key: &str) -> String {
    let mut out = String::from("[\"");
    for c in key.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push_str("\"]");
    out
}

fuzz_target!(|data: &[u8]| {
    let fixture = &*FIXTURE;
    let (status, content_type, answer) = send(&fixture.runtime, &fixture.router, data);
    if status == StatusCode::OK {
        let body: RegisterBody =
            serde_json::from_slice(data).expect("admitted a body that does not parse");
        assert!(body.validate().is_ok(), "admitted an invalid body");
        return;
    }
    assert!(
        [
            StatusCode::BAD_REQUEST,
            StatusCode::PAYLOAD_TOO_LARGE,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            StatusCode::UNPROCESSABLE_ENTITY,
        ]
        .contains(&status),
        "{status}"
    );
    assert_eq!(content_type.as_deref(), Some("application/problem+json"));
    let problem: Value = serde_json::from_slice(&answer).expect("a problem is JSON");
    // Each string of the answer on its own: a piece that only appears
    // across two of them was not echoed.
    let mut said: Vec<String> = Vec::new();
    strings_of(&problem, &mut said);
    let (values, keys) = sent(data);
    for sent in values {
        let chars: Vec<char> = sent.chars().collect();
        for window in chars.windows(8) {
            let piece: String = window.iter().collect();
            if said.iter().any(|s| s.contains(&piece))
                && !fixture.vocabulary.contains(&piece)
                && !keys
                    .iter()
                    .any(|k| k.contains(&piece) || as_in_a_path(k).contains(&piece))
            {
                panic!(
                    "the answer echoes {piece:?} of the sent string {sent:?}: {}",
                    String::from_utf8_lossy(&answer)
                );
            }
        }
    }
});
