//! `#[derive(Validate)]` and `#[validate]`: every rule with passing and
//! failing values, nested paths, renames, every issue at once, and every
//! rejection's status and body (snapshots) through a real router.

use std::collections::{BTreeMap, HashMap};

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use http::{Request, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};
use warden::auth::AccessClaims;
use warden::validate::{Invalid, Validate};
use warden::{Auth, Warden, protected, rate_limit, validate};
use warden_tests::{Answer, AppState, Client, Hits, Transport, jwt};

#[derive(Debug, Deserialize, warden::Validate)]
#[serde(deny_unknown_fields)]
struct Register {
    #[validate(email, len(max = 255))]
    email: String,
    #[validate(len(12..=128), password)]
    password: String,
    #[validate(len(2..=100), regex = r"^[\p{L}\s'-]+$")]
    name: String,
}

fn register(email: &str, password: &str, name: &str) -> Register {
    Register {
        email: email.into(),
        password: password.into(),
        name: name.into(),
    }
}

fn codes<T: Validate>(value: &T) -> Vec<(String, String)> {
    match value.validate() {
        Ok(()) => Vec::new(),
        Err(issues) => issues
            .iter()
            .map(|i| (i.path.clone(), i.code.to_string()))
            .collect(),
    }
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect()
}

#[test]
fn the_register_body_of_the_contract() {
    assert_eq!(
        codes(&register("ana@example.com", "Str0ng&Secure!", "José Ñúñez")),
        []
    );
    assert_eq!(
        codes(&register(
            "ana@example.com",
            "Str0ng&Secure!",
            "Zoë O'Brien-Smith"
        )),
        []
    );
    assert_eq!(
        codes(&register("ana@example.com", "Str0ng&Secure!", "Дмитрий")),
        []
    );
    // As a browser's <input type=email>: an internationalised domain is
    // fine, a non-ASCII local part is not.
    assert_eq!(
        codes(&register("ana@bücher.example", "Str0ng&Secure!", "Ana")),
        []
    );
    for email in ["\u{1F600}x@example.com", "josé@example.com"] {
        assert_eq!(
            codes(&register(email, "Str0ng&Secure!", "Ana")),
            pairs(&[("email", "email")]),
            "{email}"
        );
    }
    // Every broken rule at once.
    assert_eq!(
        codes(&register("not-an-email", "weak", "X")),
        pairs(&[
            ("email", "email"),
            ("password", "len"),
            ("password", "password_length"),
            ("password", "password_uppercase"),
            ("password", "password_digit"),
            ("password", "password_special"),
            ("name", "len"),
        ])
    );
    // Every character of the password counts, spaces and unicode included.
    assert_eq!(codes(&register("a@b.co", "Ab1!        ", "Ana")), []);
    assert_eq!(codes(&register("a@b.co", "Äbcdefghij1!", "Ana")), []);
    // 11 characters, 128 and 129.
    assert_eq!(
        codes(&register("a@b.co", "Abcdefgh1!x", "Ana")),
        pairs(&[("password", "len"), ("password", "password_length")])
    );
    let long = format!("Aa1!{}", "x".repeat(124));
    assert_eq!(codes(&register("a@b.co", &long, "Ana")), []);
    let too_long = format!("Aa1!{}", "x".repeat(125));
    assert_eq!(
        codes(&register("a@b.co", &too_long, "Ana")),
        pairs(&[("password", "len"), ("password", "password_length")])
    );
    // Names: digits, NUL bytes and symbols are not letters.
    for name in ["R2D2", "Ana\0", "<script>", "a", ""] {
        assert!(
            !codes(&register("a@b.co", "Str0ng&Secure!", name)).is_empty(),
            "{name:?}"
        );
    }
    // Emails: at most 255 characters, NUL refused.
    let long_email = format!("{}@example.com", "a".repeat(250));
    assert!(!codes(&register(&long_email, "Str0ng&Secure!", "Ana")).is_empty());
    assert!(!codes(&register("a\0@example.com", "Str0ng&Secure!", "Ana")).is_empty());
    // 100,000 characters everywhere: refused, quickly, without a panic.
    let huge = "é".repeat(100_000);
    // email (address, length), password (length and four classes, except lower case), name (length).
    assert_eq!(codes(&register(&huge, &huge, &huge)).len(), 8);
}

fn even(value: &u32) -> Result<(), Invalid> {
    if value.is_multiple_of(2) {
        Ok(())
    } else {
        Err(Invalid::new("even", "must be even"))
    }
}

fn dates_in_order(value: &Everything) -> Result<(), Invalid> {
    if value.starts <= value.ends {
        Ok(())
    } else {
        Err(Invalid::new("order", "must not be before `starts`").at_field("ends"))
    }
}

#[derive(Debug, Default, Deserialize, warden::Validate)]
#[serde(deny_unknown_fields)]
#[validate(custom = dates_in_order)]
struct Everything {
    #[validate(url)]
    website: String,
    #[validate(range(18..=130))]
    age: u8,
    #[validate(range(min = -1.5, max = 1.5))]
    ratio: f64,
    #[validate(one_of("red", "green"))]
    colour: String,
    #[validate(one_of(1, 2, 3))]
    tier: i32,
    #[validate(non_empty)]
    tags: Vec<String>,
    #[validate(ascii, alphanumeric)]
    handle: String,
    #[validate(no_control_chars)]
    bio: String,
    #[validate(prefix = "sk_", suffix = "_live", contains = "key")]
    api_key: String,
    #[validate(len(min = 8))]
    secret: String,
    #[validate(must_match = secret)]
    secret_again: String,
    #[validate(custom = even)]
    count: u32,
    #[validate(len(2..=3, message = "pick two or three", code = "picks"))]
    picks: Vec<u8>,
    #[validate(email)]
    backup_email: Option<String>,
    starts: u32,
    ends: u32,
}

fn valid_everything() -> Everything {
    Everything {
        website: "https://example.com/a?b=c".into(),
        age: 30,
        ratio: 0.5,
        colour: "red".into(),
        tier: 2,
        tags: vec!["a".into()],
        handle: "ana42".into(),
        bio: "Tabs\tare fine?".replace('\t', " "),
        api_key: "sk_key_live".into(),
        secret: "12345678".into(),
        secret_again: "12345678".into(),
        count: 4,
        picks: vec![1, 2],
        backup_email: None,
        starts: 1,
        ends: 2,
    }
}

#[test]
fn every_rule_passes_and_fails() {
    assert_eq!(codes(&valid_everything()), []);
    let broken = Everything {
        website: "example.com".into(),
        age: 17,
        ratio: f64::NAN,
        colour: "blue".into(),
        tier: 4,
        tags: vec![],
        handle: "ana_42é".into(),
        bio: "bell\u{7}".into(),
        api_key: "pk_live".into(),
        secret: "short".into(),
        secret_again: "other".into(),
        count: 3,
        picks: vec![1],
        backup_email: Some("nope".into()),
        starts: 5,
        ends: 1,
    };
    assert_eq!(
        codes(&broken),
        pairs(&[
            ("website", "url"),
            ("age", "range"),
            ("ratio", "range"),
            ("colour", "one_of"),
            ("tier", "one_of"),
            ("tags", "non_empty"),
            ("handle", "ascii"),
            ("handle", "alphanumeric"),
            ("bio", "no_control_chars"),
            ("api_key", "prefix"),
            ("api_key", "contains"),
            ("secret", "len"),
            ("secret_again", "must_match"),
            ("count", "even"),
            ("picks", "picks"),
            ("backup_email", "email"),
            ("ends", "order"),
        ])
    );
    let issues = broken.validate().unwrap_err();
    let picks = issues.iter().find(|i| i.path == "picks").unwrap();
    assert_eq!(picks.message, "pick two or three");
    // Messages never echo the value.
    for issue in issues.iter() {
        assert!(
            !issue.message.contains("pk_live") && !issue.message.contains("bell"),
            "{issue:?}"
        );
    }
}

#[derive(Debug, Deserialize, warden::Validate)]
#[serde(deny_unknown_fields)]
struct Links {
    #[validate(url)]
    web: String,
    #[validate(url(schemes = "https, ftp"))]
    mirror: String,
    #[validate(regex = "[a-z]+")]
    slug: String,
    #[validate(regex = "(?m)^[a-z]+$")]
    multiline_flag: String,
}

#[test]
fn urls_default_to_http_and_https_and_patterns_match_the_whole_value() {
    let links = |web: &str, mirror: &str, slug: &str, multi: &str| Links {
        web: web.into(),
        mirror: mirror.into(),
        slug: slug.into(),
        multiline_flag: multi.into(),
    };
    assert_eq!(
        codes(&links(
            "https://example.com/x",
            "ftp://files.example.com/a",
            "abc",
            "abc"
        )),
        []
    );
    assert_eq!(
        codes(&links("http://example.com", "https://e.com", "z", "z")),
        []
    );
    for hostile in [
        "javascript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "file:///etc/passwd",
        "vbscript:msgbox",
        "//example.com",
    ] {
        assert_eq!(
            codes(&links(hostile, "https://e.com", "a", "a")),
            pairs(&[("web", "url")]),
            "{hostile}"
        );
    }
    // Widened to https and ftp: plain http is now out.
    assert_eq!(
        codes(&links("https://e.com", "http://e.com", "a", "a")),
        pairs(&[("mirror", "url")])
    );
    let issues = links("javascript:x", "http://e.com", "a", "a")
        .validate()
        .unwrap_err();
    let messages: Vec<&str> = issues.iter().map(|i| &*i.message).collect();
    assert_eq!(
        messages,
        [
            "must be a valid absolute URL with the scheme http or https",
            "must be a valid absolute URL with the scheme https or ftp"
        ]
    );
    // `[a-z]+` matches a value, not a part of it; a flag inside the pattern
    // cannot move the anchors.
    for hostile in ["a<script>", "<script>a", "abc\n<script>", ""] {
        assert_eq!(
            codes(&links("https://e.com", "https://e.com", hostile, hostile)),
            pairs(&[("slug", "regex"), ("multiline_flag", "regex")]),
            "{hostile:?}"
        );
    }
}

#[derive(Debug, Deserialize, warden::Validate)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Item {
    #[validate(len(min = 1))]
    display_name: String,
    #[serde(rename = "SKU")]
    #[validate(len(min = 3))]
    sku: String,
}

#[derive(Debug, Deserialize, warden::Validate)]
#[serde(deny_unknown_fields)]
struct Order {
    items: Vec<Item>,
    gift: Option<Item>,
    by_shelf: BTreeMap<String, Item>,
    by_code: HashMap<u32, Vec<Item>>,
    #[validate(len(max = 2))]
    notes: Vec<String>,
}

fn item(name: &str, sku: &str) -> Item {
    Item {
        display_name: name.into(),
        sku: sku.into(),
    }
}

#[test]
fn nested_types_validate_without_a_keyword_with_serde_paths() {
    let order = Order {
        items: vec![item("a", "abc"), item("b", "abc"), item("", "x")],
        gift: Some(item("", "abcd")),
        by_shelf: BTreeMap::from([("top".to_owned(), item("c", "no"))]),
        by_code: HashMap::from([(7, vec![item("d", "abc"), item("", "abc")])]),
        notes: vec!["a".into(), "b".into(), "c".into()],
    };
    assert_eq!(
        codes(&order),
        pairs(&[
            ("items[2].displayName", "len"),
            ("items[2].SKU", "len"),
            ("gift.displayName", "len"),
            ("by_shelf.top.SKU", "len"),
            ("by_code.7[1].displayName", "len"),
            ("notes", "len"),
        ])
    );
    let fine = Order {
        items: vec![],
        gift: None,
        by_shelf: BTreeMap::new(),
        by_code: HashMap::new(),
        notes: vec![],
    };
    assert_eq!(codes(&fine), []);
}

#[derive(Debug, Deserialize, warden::Validate)]
#[validate(allow_unknown_fields)]
struct Lenient {
    #[validate(len(min = 1))]
    name: String,
}

#[test]
fn the_opt_out_is_explicit() {
    assert_eq!(codes(&Lenient { name: "x".into() }), []);
}

#[derive(Debug, Deserialize, warden::Validate)]
#[serde(deny_unknown_fields)]
struct Search {
    #[validate(len(2..=50))]
    q: String,
    #[validate(range(1..=100))]
    limit: Option<u32>,
}

#[derive(Debug, Deserialize, warden::Validate)]
#[serde(deny_unknown_fields)]
struct Ids {
    #[validate(range(min = 1))]
    id: u64,
}

/// A code whose own error reads like serde's words for an unknown and a
/// missing field, and quotes what was sent: never taken for either.
#[derive(Debug)]
struct Code;

impl<'de> Deserialize<'de> for Code {
    fn deserialize<D: serde::Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        let sent = String::deserialize(de)?;
        if sent.contains("secret") {
            return Err(serde::de::Error::custom(format!(
                "unknown field `{sent}`, expected missing field `code`"
            )));
        }
        Ok(Code)
    }
}

#[derive(Debug, Deserialize, warden::Validate)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Voucher {
    code: Code,
    #[serde(rename = "odd`name")]
    #[validate(len(min = 2))]
    odd: String,
    count: u32,
}

#[derive(Debug, Deserialize, warden::Validate)]
#[serde(deny_unknown_fields)]
struct Paging {
    #[serde(rename = "page[size]")]
    #[validate(range(1..=100))]
    size: Option<u32>,
    #[validate(len(2..=50))]
    q: String,
}

#[validate]
async fn voucher(State(hits): State<Hits>, Json(_body): Json<Voucher>) -> &'static str {
    hits.hit();
    "ok"
}

#[validate]
async fn paging(State(hits): State<Hits>, Query(query): Query<Paging>) -> String {
    hits.hit();
    format!("{}:{:?}", query.q, query.size)
}

#[validate]
async fn create(State(hits): State<Hits>, Json(body): Json<Register>) -> Json<Value> {
    hits.hit();
    Json(json!({"email": body.email}))
}

#[validate]
async fn search(State(hits): State<Hits>, Query(query): Query<Search>) -> String {
    hits.hit();
    format!("{}:{:?}", query.q, query.limit)
}

#[validate]
async fn form(State(hits): State<Hits>, Form(body): Form<Search>) -> String {
    hits.hit();
    body.q
}

#[validate]
async fn by_id(State(hits): State<Hits>, Path(ids): Path<Ids>) -> String {
    hits.hit();
    ids.id.to_string()
}

#[validate]
async fn order(State(hits): State<Hits>, Json(order): Json<Order>) -> String {
    hits.hit();
    order.items.len().to_string()
}

#[protected]
#[rate_limit(3, "1m", key = user, skip_failed)]
#[validate]
async fn note(State(hits): State<Hits>, user: Auth, Json(body): Json<Search>) -> String {
    hits.hit();
    format!("{}: {}", user.sub(), body.q)
}

async fn app() -> (Client, Hits) {
    let (client, hits, _) = app_and_warden().await;
    (client, hits)
}

async fn app_and_warden() -> (Client, Hits, Warden) {
    let warden = Warden::builder().jwt(jwt()).build().unwrap();
    let hits = Hits::default();
    let router = Router::new()
        .route("/register", post(create))
        .route("/search", get(search))
        .route("/form", post(form))
        .route("/ids/{id}", get(by_id))
        .route("/orders", post(order))
        .route("/notes", post(note))
        .route("/vouchers", post(voucher))
        .route("/paging", get(paging))
        .layer(DefaultBodyLimit::max(64 * 1024))
        .with_state(AppState {
            warden: warden.clone(),
            hits: hits.clone(),
        });
    (Client::new(router, Transport::Socket).await, hits, warden)
}

/// Checks the status and the problem shape, then snapshots the body.
fn snapshot(name: &str, answer: &Answer, status: StatusCode) {
    assert_eq!(answer.status, status, "{answer:?}");
    assert_eq!(answer.header("content-type"), "application/problem+json");
    insta::assert_json_snapshot!(name, answer.body);
}

#[tokio::test]
async fn every_rejection_is_problem_json_and_the_handler_never_runs() {
    let (app, hits) = app().await;
    let json = Some("application/json");

    let answer = app
        .post(
            "/register",
            json,
            r#"{"email":"ana@example.com","password":"Str0ng&Secure!","name":"José Ñúñez"}"#,
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body, json!({"email": "ana@example.com"}));

    let answer = app
        .post(
            "/register",
            json,
            r#"{"email":"nope","password":"hunter2","name":"R2D2"}"#,
        )
        .await;
    snapshot("register_invalid", &answer, StatusCode::BAD_REQUEST);
    assert!(!answer.body.to_string().contains("hunter2"));

    let answer = app
        .post("/register", json, r#"{"email": "a@b.co", "password": "#)
        .await;
    snapshot("malformed_json", &answer, StatusCode::BAD_REQUEST);

    let answer = app.post("/register", None, r#"{"email":"a@b.co"}"#).await;
    snapshot(
        "no_content_type",
        &answer,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
    );
    let answer = app
        .post("/register", Some("text/plain"), r#"{"email":"a@b.co"}"#)
        .await;
    assert_eq!(answer.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);

    let big = format!(r#"{{"email":"{}"}}"#, "a".repeat(70 * 1024));
    let answer = app.post("/register", json, big).await;
    snapshot("too_large", &answer, StatusCode::PAYLOAD_TOO_LARGE);

    let answer = app
        .post(
            "/register",
            json,
            r#"{"email":"a@b.co","password":"Str0ng&Secure!","name":"Ana","role":"admin"}"#,
        )
        .await;
    snapshot("unknown_field", &answer, StatusCode::BAD_REQUEST);

    let answer = app
        .post(
            "/register",
            json,
            r#"{"email":"a@b.co","password":12345678901234,"name":"Ana"}"#,
        )
        .await;
    snapshot("wrong_type", &answer, StatusCode::BAD_REQUEST);
    assert!(
        !answer.body.to_string().contains("12345678901234"),
        "the value was echoed"
    );

    let answer = app
        .post("/register", json, r#"{"email":"a@b.co","name":"Ana"}"#)
        .await;
    snapshot("missing_field", &answer, StatusCode::BAD_REQUEST);

    let answer = app
        .post(
            "/register",
            json,
            r#"{"email":"a@b.co","password":"Str0ng&Secure!","name":"Ana"} trailing"#,
        )
        .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.body["code"], "malformed_json");
    assert_eq!(
        answer.body["detail"],
        "the body has data after the JSON value"
    );

    let answer = app.post("/orders",
        json,
        r#"{"items":[{"displayName":"a","SKU":"abc"},{"displayName":"b","SKU":"abc"},{"displayName":"c","SKU":7}],"gift":null,"by_shelf":{},"by_code":{},"notes":[]}"#,
    )
    .await;
    snapshot("nested_wrong_type", &answer, StatusCode::BAD_REQUEST);
    assert_eq!(answer.body["issues"][0]["path"], "items[2].SKU");

    let answer = app.post("/orders",
        json,
        r#"{"items":[{"displayName":"","SKU":"x"}],"gift":{"displayName":"","SKU":"abcd"},"by_shelf":{},"by_code":{},"notes":[]}"#,
    )
    .await;
    snapshot("nested_invalid", &answer, StatusCode::BAD_REQUEST);

    let answer = app.get("/search?q=x&limit=500", None).await;
    snapshot("query_invalid", &answer, StatusCode::BAD_REQUEST);
    let answer = app.get("/search?q=rust&limit=abc", None).await;
    snapshot("query_wrong_type", &answer, StatusCode::BAD_REQUEST);
    let answer = app.get("/search?limit=5", None).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);

    let answer = app
        .post("/form", Some("application/x-www-form-urlencoded"), "q=a")
        .await;
    snapshot("form_invalid", &answer, StatusCode::BAD_REQUEST);
    let answer = app.post("/form", json, r#"{"q":"rust"}"#).await;
    assert_eq!(answer.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);

    let answer = app.get("/ids/0", None).await;
    snapshot("path_invalid", &answer, StatusCode::BAD_REQUEST);
    let answer = app.get("/ids/abc", None).await;
    snapshot("path_wrong_type", &answer, StatusCode::BAD_REQUEST);

    assert_eq!(hits.count(), 1, "no invalid request reached a handler");

    assert_eq!(
        app.get("/search?q=rust&limit=5", None).await.body,
        "rust:Some(5)"
    );
    assert_eq!(
        app.post("/form", Some("application/x-www-form-urlencoded"), "q=rust")
            .await
            .body,
        "rust"
    );
    assert_eq!(app.get("/ids/42", None).await.body, json!(42));
    assert_eq!(hits.count(), 4);
}

#[tokio::test]
async fn json_and_forms_are_known_by_their_media_type_essence() {
    let (app, hits) = app().await;
    let body = r#"{"email":"ana@example.com","password":"Str0ng&Secure!","name":"Ana"}"#;
    for (content_type, admitted) in [
        ("application/json", true),
        ("Application/JSON; charset=utf-8", true),
        ("application/json ; charset=utf-8", true),
        ("application/vnd.api+json", true),
        ("application/problem+json", true),
        ("text/json+json", false),
        ("application/+json", false),
        ("text/json", false),
        ("application/x-www-form-urlencoded", false),
    ] {
        let answer = app.post("/register", Some(content_type), body).await;
        if admitted {
            assert_eq!(answer.status, StatusCode::OK, "{content_type}: {answer:?}");
        } else {
            answer.assert_problem(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
        }
    }
    // Two media types, or one that is not visible ASCII: which is meant is
    // not clear, so neither is read.
    let request = Request::post("/register")
        .header("content-type", "application/json")
        .header("content-type", "application/json")
        .body(Body::from(body))
        .unwrap();
    let answer = app.send(request).await;
    answer.assert_problem(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
    let request = Request::post("/register")
        .header(
            "content-type",
            http::HeaderValue::from_bytes(b"application/json; charset=\xff").unwrap(),
        )
        .body(Body::from(body))
        .unwrap();
    let answer = app.send(request).await;
    answer.assert_problem(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
    for (content_type, admitted) in [
        ("application/x-www-form-urlencoded", true),
        ("Application/X-WWW-Form-Urlencoded; charset=UTF-8", true),
        ("application/json", false),
        ("multipart/form-data", false),
    ] {
        let answer = app.post("/form", Some(content_type), "q=rust").await;
        if admitted {
            assert_eq!(answer.body, "rust", "{content_type}");
        } else {
            answer.assert_problem(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
        }
    }
    assert_eq!(hits.count(), 7);
}

#[test]
fn the_manifest_lists_validated_parameters() {
    let line = warden::manifest()
        .iter()
        .map(ToString::to_string)
        .find(|l| l.starts_with("validate::create:"))
        .unwrap();
    assert_eq!(line, "validate::create: unmarked; validates Json<Register>");
}

#[derive(Debug, Deserialize, warden::Validate)]
#[serde(deny_unknown_fields)]
struct TextRules {
    #[validate(email)]
    email: String,
    #[validate(url)]
    url: String,
    #[validate(regex = r"^[a-z]+$")]
    word: String,
    #[validate(ascii)]
    ascii: String,
    #[validate(alphanumeric)]
    alnum: String,
    #[validate(no_control_chars)]
    clean: String,
    #[validate(non_empty)]
    present: String,
    #[validate(len(1..=10))]
    short: String,
}

fn all_text(value: &str) -> TextRules {
    TextRules {
        email: value.into(),
        url: value.into(),
        word: value.into(),
        ascii: value.into(),
        alnum: value.into(),
        clean: value.into(),
        present: value.into(),
        short: value.into(),
    }
}

fn failing_fields(value: &str) -> Vec<String> {
    codes(&all_text(value))
        .into_iter()
        .map(|(path, _)| path)
        .collect()
}

#[test]
fn empty_nul_and_huge_strings_through_every_text_rule() {
    // Empty: only the rules that need content fail (and the format rules).
    assert_eq!(
        failing_fields(""),
        ["email", "url", "word", "present", "short"]
    );
    // A NUL byte is a control character, not a letter, not part of an
    // address or a word.
    assert_eq!(
        failing_fields("a\0b"),
        ["email", "url", "word", "alnum", "clean"]
    );
    // 100,000 characters of the friendliest kind: only length fails...
    let huge = "a".repeat(100_000);
    assert_eq!(failing_fields(&huge), ["email", "url", "short"]);
    // ...and of an unfriendly kind, everything that should, without a panic.
    let hostile = "\u{202e}\0é<".repeat(25_000);
    assert_eq!(
        failing_fields(&hostile),
        ["email", "url", "word", "ascii", "alnum", "clean", "short"]
    );
    // Unicode letters are letters.
    assert_eq!(failing_fields("Ñandú"), ["email", "url", "word", "ascii"]);
}

#[tokio::test]
async fn validation_stacks_with_the_guards() {
    let (app, hits, warden) = app_and_warden().await;
    let token = warden
        .issue_access_token(&AccessClaims::new("ana"))
        .unwrap()
        .token;
    let send = |token: Option<String>, body: &'static str| {
        let app = app.clone();
        async move {
            let mut request = Request::post("/notes").header("content-type", "application/json");
            if let Some(token) = token {
                request = request.header("authorization", format!("Bearer {token}"));
            }
            app.send(request.body(Body::from(body)).unwrap()).await
        }
    };
    // The guard answers before the body is parsed.
    let answer = send(None, "not json").await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    // Invalid bodies are refused, and with skip_failed they do not count.
    for _ in 0..5 {
        let answer = send(Some(token.clone()), r#"{"q":"x"}"#).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST);
        assert_eq!(answer.body["issues"][0]["path"], "q");
        // skip_failed gave the slot back: all three remain.
        assert!(answer.header("ratelimit").contains("r=3"), "{answer:?}");
    }
    for remaining in [2, 1, 0] {
        let answer = send(Some(token.clone()), r#"{"q":"rust"}"#).await;
        assert_eq!(answer.status, StatusCode::OK);
        assert_eq!(answer.body, "ana: rust");
        assert!(
            answer
                .header("ratelimit")
                .contains(&format!("r={remaining}")),
            "{answer:?}"
        );
    }
    assert_eq!(
        send(Some(token), r#"{"q":"rust"}"#).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(hits.count(), 3);
}

#[tokio::test]
async fn an_adversarial_body_gets_a_bounded_answer() {
    let (app, hits) = app().await;
    // Under 64 KiB: hundreds of map entries, each with a long key the
    // client chose and two broken rules.
    let mut shelves = serde_json::Map::new();
    let mut i = 0;
    loop {
        let key = format!("{i:04}{}", "k".repeat(120));
        shelves.insert(key, json!({"displayName": "", "SKU": "x"}));
        let body =
            json!({"items": [], "by_shelf": shelves, "by_code": {}, "notes": []}).to_string();
        if body.len() > 60 * 1024 {
            break;
        }
        i += 1;
    }
    let body = json!({"items": [], "by_shelf": shelves, "by_code": {}, "notes": []}).to_string();
    assert!(body.len() > 60 * 1024 && body.len() < 64 * 1024);
    let request = Request::post("/orders")
        .header("content-type", "application/json")
        .body(Body::from(body.clone()))
        .unwrap();
    let answer = app.send(request).await;
    answer.assert_problem(StatusCode::BAD_REQUEST, "validation_failed");
    let issues = answer.body["issues"].as_array().unwrap();
    assert_eq!(issues.len(), warden::validate::MAX_ISSUES + 1);
    assert_eq!(issues.last().unwrap()["code"], warden::validate::TRUNCATED);
    assert_eq!(answer.body["truncated"], true);
    for issue in &issues[..warden::validate::MAX_ISSUES] {
        let path = issue["path"].as_str().unwrap();
        assert!(path.len() <= warden::validate::MAX_PATH, "{path}");
        // A key is cut to 64 bytes: the client cannot make every path long.
        assert!(path.len() < 100, "{path}");
    }
    // The answer is a fraction of the request, not a multiple.
    let answer_size = answer.body.to_string().len();
    assert!(
        answer_size < body.len() / 3,
        "{answer_size} bytes for {} bytes",
        body.len()
    );
    assert_eq!(hits.count(), 0);
}

#[test]
fn long_paths_are_cut_at_a_character_boundary() {
    let mut report = warden::validate::Report::new();
    for _ in 0..40 {
        report.enter_key(&"ééééé");
    }
    report.fail("r", "m");
    let issues = report.finish().unwrap_err();
    let path = &issues.iter().next().unwrap().path;
    assert!(path.len() <= warden::validate::MAX_PATH, "{}", path.len());
    assert!(path.ends_with("..."), "{path}");
    assert!(!issues.truncated());
}

/// The (path, code) pairs of a 400's issues, sorted.
fn issue_codes(answer: &Answer) -> Vec<(String, String)> {
    let mut found: Vec<(String, String)> = answer.body["issues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["path"].as_str().unwrap().to_owned(),
                i["code"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    found.sort();
    found
}

#[tokio::test]
async fn every_type_missing_and_unknown_field_is_listed_at_once() {
    let (app, hits) = app().await;
    let json = Some("application/json");
    // Three fields, three wrong types: three issues, not one.
    let answer = app
        .post(
            "/register",
            json,
            r#"{"email":1,"password":[],"name":{"x":1}}"#,
        )
        .await;
    answer.assert_problem(StatusCode::BAD_REQUEST, "validation_failed");
    let found = issue_codes(&answer);
    assert_eq!(
        found,
        pairs(&[
            ("email", "invalid_type"),
            ("name", "invalid_type"),
            ("password", "invalid_type"),
        ])
    );
    // Wrong types, a missing field, an unknown field and the rules the
    // well-typed fields break, all in one answer.
    let answer = app
        .post(
            "/register",
            json,
            r#"{"email":"not-an-email","password":12,"role":"admin"}"#,
        )
        .await;
    answer.assert_problem(StatusCode::BAD_REQUEST, "validation_failed");
    let found = issue_codes(&answer);
    let mut expected = pairs(&[
        ("password", "invalid_type"),
        ("role", "unknown_field"),
        ("name", "missing_field"),
        ("email", "email"),
    ]);
    expected.sort();
    assert_eq!(found, expected);
    // Nothing sent is echoed.
    assert!(!answer.body.to_string().contains("not-an-email"));
    // Nested paths as serde spells them.
    let answer = app.post("/orders",
        json,
        r#"{"items":[{"displayName":"a","SKU":"abc"},{"displayName":7,"SKU":"abc","x":1}],"by_shelf":{},"by_code":{"1":[{"SKU":"abc"}]},"notes":"n"}"#,
    )
    .await;
    let found = issue_codes(&answer);
    let mut expected = pairs(&[
        ("items[1].displayName", "invalid_type"),
        ("items[1].x", "unknown_field"),
        ("by_code.1[0].displayName", "missing_field"),
        ("notes", "invalid_type"),
    ]);
    expected.sort();
    assert_eq!(found, expected, "{answer:?}");
    assert_eq!(hits.count(), 0);
}

#[derive(Debug, Clone, Deserialize, warden::Validate)]
#[serde(deny_unknown_fields)]
struct Tag {
    #[validate(len(min = 2))]
    label: String,
}

impl PartialEq for Tag {
    fn eq(&self, other: &Self) -> bool {
        self.label == other.label
    }
}
impl Eq for Tag {}
impl std::hash::Hash for Tag {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.label.hash(state);
    }
}
impl PartialOrd for Tag {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Tag {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.label.cmp(&other.label)
    }
}

#[derive(Debug, Deserialize, warden::Validate)]
#[serde(deny_unknown_fields)]
struct Wrapped {
    shared: std::sync::Arc<Tag>,
    borrowed: std::borrow::Cow<'static, Tag>,
    unique: std::collections::HashSet<Tag>,
    ordered: std::collections::BTreeSet<Tag>,
}

#[derive(Debug, Deserialize, warden::Validate)]
#[serde(deny_unknown_fields)]
struct Page<T> {
    items: Vec<T>,
    first: Option<T>,
    #[validate(range(max = 100))]
    size: u32,
}

#[test]
fn nested_types_are_validated_through_arc_cow_sets_and_type_parameters() {
    let tag = |label: &str| Tag {
        label: label.into(),
    };
    let wrapped = Wrapped {
        shared: std::sync::Arc::new(tag("x")),
        borrowed: std::borrow::Cow::Owned(tag("y")),
        unique: std::collections::HashSet::from([tag("z")]),
        ordered: std::collections::BTreeSet::from([tag("ok"), tag("w")]),
    };
    assert_eq!(
        codes(&wrapped),
        pairs(&[
            ("shared.label", "len"),
            ("borrowed.label", "len"),
            ("unique.label", "len"),
            ("ordered.label", "len"),
        ])
    );
    // Rc, in a value never sent across threads.
    let rc = std::rc::Rc::new(tag("r"));
    assert_eq!(codes(&rc), pairs(&[("label", "len")]));
    // A type parameter is validated as whatever it is given.
    let page = Page {
        items: vec![tag("ok"), tag("n")],
        first: Some(tag("f")),
        size: 101,
    };
    assert_eq!(
        codes(&page),
        pairs(&[
            ("items[1].label", "len"),
            ("first.label", "len"),
            ("size", "range"),
        ])
    );
    let numbers = Page::<u32> {
        items: vec![1, 2],
        first: None,
        size: 2,
    };
    assert_eq!(codes(&numbers), []);
}

#[tokio::test]
async fn every_query_and_form_issue_is_listed_at_once() {
    let (app, hits) = app().await;
    let answer = app.get("/search?limit=lots&extra=1", None).await;
    answer.assert_problem(StatusCode::BAD_REQUEST, "validation_failed");
    assert_eq!(
        issue_codes(&answer),
        pairs(&[
            ("extra", "unknown_field"),
            ("limit", "invalid_value"),
            ("q", "missing_field"),
        ])
    );
    assert!(!answer.body.to_string().contains("lots"));
    // A data issue and a broken rule of a well-formed field, together.
    let request = Request::post("/form")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from("q=x&limit=many"))
        .unwrap();
    let answer = app.send(request).await;
    assert_eq!(
        issue_codes(&answer),
        pairs(&[("limit", "invalid_value"), ("q", "len")])
    );
    assert_eq!(hits.count(), 0);
}

#[tokio::test]
async fn issues_are_classified_by_what_serde_made_not_by_its_words() {
    let (app, hits) = app().await;
    let json = Some("application/json");
    // A custom error that reads "unknown field `...`, expected missing
    // field `code`" is the value's own error: not an unknown field, not a
    // missing one, and what it quotes is not repeated. A field renamed
    // with a backtick is missing under its whole name.
    let answer = app
        .post(
            "/vouchers",
            json,
            r#"{"code":"hunter2-secret","count":"7"}"#,
        )
        .await;
    answer.assert_problem(StatusCode::BAD_REQUEST, "validation_failed");
    assert_eq!(
        answer.body["issues"],
        json!([
            {"path": "code", "code": "invalid_value", "message": "this value is not valid here"},
            {"path": "count", "code": "invalid_type", "message": "expected u32"},
            {"path": "[\"odd`name\"]", "code": "missing_field", "message": "this field is required"},
        ])
    );
    assert!(!answer.body.to_string().contains("hunter2"), "{answer:?}");
    // The same names, sent: an unknown key with backticks is unknown.
    let answer = app
        .post(
            "/vouchers",
            json,
            r#"{"code":"fine","odd`name":"x","count":1,"`code`":1}"#,
        )
        .await;
    assert_eq!(
        issue_codes(&answer),
        pairs(&[("[\"`code`\"]", "unknown_field"), ("[\"odd`name\"]", "len")])
    );
    // A query field named with brackets is repaired by its own name, so
    // every issue after it is found too.
    let answer = app.get("/paging?page[size]=lots&extra=1", None).await;
    answer.assert_problem(StatusCode::BAD_REQUEST, "validation_failed");
    assert_eq!(
        issue_codes(&answer),
        pairs(&[
            ("[\"page[size]\"]", "invalid_value"),
            ("extra", "unknown_field"),
            ("q", "missing_field"),
        ])
    );
    let answer = app.get("/paging?page[size]=500&q=rust", None).await;
    // A rule's issue spells the field as its data issues do.
    assert_eq!(
        issue_codes(&answer),
        pairs(&[("[\"page[size]\"]", "range")])
    );
    assert_eq!(hits.count(), 0);
    assert_eq!(
        app.get("/paging?page[size]=5&q=rust", None).await.body,
        "rust:Some(5)"
    );
}

#[test]
fn map_keys_cannot_forge_a_path() {
    let order = Order {
        items: vec![],
        gift: None,
        by_shelf: BTreeMap::from([
            ("a.b[0]".to_owned(), item("x", "no")),
            ("\u{11}".to_owned(), item("x", "no")),
            ("plain-key_1".to_owned(), item("x", "no")),
        ]),
        by_code: HashMap::new(),
        notes: vec![],
    };
    assert_eq!(
        codes(&order),
        pairs(&[
            ("by_shelf[\"\\u0011\"].SKU", "len"),
            ("by_shelf[\"a.b[0]\"].SKU", "len"),
            ("by_shelf.plain-key_1.SKU", "len"),
        ])
    );
}
