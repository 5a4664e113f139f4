//! `warden::openapi`: what warden adds to a utoipa document, route by
//! route, and where the document and the routes disagree.

use axum::Json;
use axum::extract::{Form, Query};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::{OpenApi, ToSchema};
use warden::limit::Rate;
use warden::openapi::{Describe, OpenApiError};
use warden::routing::{Router, get, post};
use warden::{Auth, Warden, auth::Jwt, protected, public, rate_limit, validate};

#[derive(Debug, Clone, Copy, PartialEq, Eq, warden::Role)]
enum Role {
    Admin,
    Editor,
}

/// Every rule, each on its own field.
#[derive(Deserialize, ToSchema, warden::Validate)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Everything {
    #[validate(email)]
    email: String,
    #[validate(email(unicode_local_part))]
    intl: String,
    #[validate(url(schemes = "https,ftp"))]
    site: String,
    #[validate(len(3..=5))]
    tags: Vec<String>,
    #[validate(len(min = 1))]
    labels: std::collections::HashMap<String, String>,
    #[validate(range(1..=10))]
    count: u32,
    #[validate(range(min = -1.5))]
    ratio: f64,
    #[validate(regex = "[a-z]+")]
    slug: String,
    #[validate(password(min = 10, max = 64, special = "#]-"))]
    password: String,
    #[validate(one_of("a", "b"))]
    kind: String,
    #[validate(one_of(1, 2))]
    level: u8,
    #[validate(non_empty, len(max = 9))]
    note: String,
    #[validate(ascii, prefix = "id.")]
    id: String,
    #[validate(alphanumeric)]
    code: String,
    #[validate(no_control_chars)]
    line: String,
    #[validate(suffix = ".txt")]
    file: String,
    #[validate(contains = "(x)")]
    mark: String,
    #[validate(must_match = email)]
    email_again: String,
    #[validate(len(max = 3))]
    nickname: Option<String>,
    #[validate(custom = inner_ok)]
    inner: Inner,
    untouched: String,
}

#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
struct Inner {
    value: String,
}

fn inner_ok(_: &Inner) -> Result<(), warden::validate::Invalid> {
    Ok(())
}

/// Unknown fields allowed: no `additionalProperties: false`.
#[derive(Deserialize, ToSchema, warden::Validate)]
#[validate(allow_unknown_fields)]
#[allow(dead_code)]
struct Lenient {
    #[validate(len(max = 5))]
    name: String,
}

#[derive(Deserialize, ToSchema, warden::Validate, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Search {
    #[validate(len(2..=20))]
    q: String,
}

#[utoipa::path(get, path = "/health", responses((status = 200, description = "up")))]
#[public]
async fn health() -> &'static str {
    "ok"
}

#[utoipa::path(post, path = "/everything", request_body = Everything,
    responses((status = 200, description = "ok")))]
#[public]
#[validate]
#[rate_limit(10, "1h")]
async fn everything(Json(_): Json<Everything>) -> &'static str {
    "ok"
}

#[utoipa::path(post, path = "/lenient",
    request_body(content = Lenient, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "ok")))]
#[public]
#[validate]
async fn lenient(Form(_): Form<Lenient>) -> &'static str {
    "ok"
}

#[utoipa::path(get, path = "/search", params(Search),
    responses((status = 200, description = "ok")))]
#[public]
#[validate]
async fn search(Query(_): Query<Search>) -> &'static str {
    "ok"
}

#[utoipa::path(get, path = "/me", responses((status = 200, description = "me")))]
#[protected]
async fn me(user: Auth) -> String {
    user.sub().to_owned()
}

#[utoipa::path(get, path = "/admin",
    responses((status = 200, description = "admin"),
        (status = 403, description = "Only for admins.")))]
#[protected(role = Role::Admin)]
#[rate_limit(30, "1m", key = user)]
#[rate_limit("daily", key = user)]
async fn admin() -> &'static str {
    "admin"
}

#[utoipa::path(get, path = "/reports/{id}",
    params(("id" = String, Path, description = "the report")),
    responses((status = 200, description = "report")))]
#[protected(any(role = Role::Admin, all(role = Role::Editor, scope = "reports:read")), check = owns)]
async fn report() -> &'static str {
    "report"
}

async fn owns(_: &warden::auth::Claims, _: &mut http::request::Parts) -> bool {
    true
}

#[utoipa::path(get, path = "/not-editor", responses((status = 200, description = "ok")))]
#[protected(not(role = Role::Editor))]
async fn not_editor() -> &'static str {
    "ok"
}

#[utoipa::path(get, path = "/unrouted", responses((status = 200, description = "ok")))]
#[public]
#[allow(dead_code)]
async fn unrouted() -> &'static str {
    "ok"
}

#[derive(OpenApi)]
#[openapi(paths(health, everything, lenient, search, me, admin, report, not_editor))]
struct Doc;

#[derive(OpenApi)]
#[openapi(paths(
    health, everything, lenient, search, me, admin, report, not_editor, unrouted
))]
struct DocWithExtra;

#[derive(OpenApi)]
#[openapi(paths(health, everything, lenient, search, me, admin, report))]
struct DocMissingOne;

#[derive(Clone)]
struct AppState {
    warden: Warden,
}

impl axum::extract::FromRef<AppState> for Warden {
    fn from_ref(state: &AppState) -> Warden {
        state.warden.clone()
    }
}

fn router() -> Router<AppState> {
    Router::new()
        .route("/health", get(health))
        .route("/everything", post(everything))
        .route("/lenient", post(lenient))
        .route("/search", get(search))
        .route("/me", get(me))
        .route("/admin", get(admin))
        .route("/reports/{id}", get(report))
        .route("/not-editor", get(not_editor))
}

fn warden(configure: impl FnOnce(warden::WardenBuilder) -> warden::WardenBuilder) -> Warden {
    configure(
        Warden::builder()
            .jwt(
                Jwt::hs256(b"a secret of at least thirty-two bytes")
                    .unwrap()
                    .issuer("api")
                    .audience("api"),
            )
            .limit_policy(
                "daily",
                Rate::new(1000, std::time::Duration::from_secs(86_400)).unwrap(),
            ),
    )
    .build()
    .unwrap()
}

fn describe(warden: Option<&Warden>) -> Value {
    let table = router().policy_table();
    let mut describe = Describe::new(&table);
    if let Some(warden) = warden {
        describe = describe.warden(warden);
    }
    let doc = describe.apply(Doc::openapi()).expect("the document agrees");
    serde_json::to_value(doc).unwrap()
}

fn operation<'a>(doc: &'a Value, method: &str, path: &str) -> &'a Value {
    let op = &doc["paths"][path][method];
    assert!(op.is_object(), "{method} {path} is not in the document");
    op
}

fn statuses(op: &Value) -> Vec<String> {
    let mut statuses: Vec<String> = op["responses"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    statuses.sort();
    statuses
}

fn is_problem(response: &Value) -> bool {
    response["content"]["application/problem+json"]["schema"]["$ref"]
        == "#/components/schemas/Problem"
}

#[test]
fn public_routes_ask_for_no_security_and_protected_ones_for_the_bearer_scheme() {
    let doc = describe(None);
    assert_eq!(
        doc["components"]["securitySchemes"]["bearerAuth"],
        json!({
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": doc["components"]["securitySchemes"]["bearerAuth"]["description"],
        })
    );
    assert_eq!(operation(&doc, "get", "/health")["security"], json!([]));
    assert_eq!(
        operation(&doc, "post", "/everything")["security"],
        json!([])
    );
    assert_eq!(
        operation(&doc, "get", "/me")["security"],
        json!([{"bearerAuth": []}])
    );
    assert_eq!(
        operation(&doc, "get", "/admin")["security"],
        json!([{"bearerAuth": ["admin"]}])
    );
    // any(admin, all(editor, scope)): two alternatives.
    assert_eq!(
        operation(&doc, "get", "/reports/{id}")["security"],
        json!([{"bearerAuth": ["admin"]}, {"bearerAuth": ["editor", "reports:read"]}])
    );
    // `not` cannot be written as OpenAPI requirements: the bearer scheme
    // alone, and the requirement as written in x-warden-policy.
    let not_editor = operation(&doc, "get", "/not-editor");
    assert_eq!(not_editor["security"], json!([{"bearerAuth": []}]));
    assert_eq!(
        not_editor["x-warden-policy"]["requirement"],
        "not(role = Role::Editor)"
    );
}

#[test]
fn each_operation_lists_the_responses_warden_gives() {
    let doc = describe(None);
    assert_eq!(statuses(operation(&doc, "get", "/health")), ["200"]);
    assert_eq!(
        statuses(operation(&doc, "get", "/me")),
        ["200", "400", "401"]
    );
    let me = operation(&doc, "get", "/me");
    assert!(me["responses"]["401"]["headers"]["WWW-Authenticate"].is_object());
    assert!(is_problem(&me["responses"]["401"]));
    assert!(is_problem(&me["responses"]["400"]));
    assert_eq!(
        statuses(operation(&doc, "get", "/reports/{id}")),
        ["200", "400", "401", "403", "404"]
    );
    let everything = operation(&doc, "post", "/everything");
    assert_eq!(
        statuses(everything),
        ["200", "400", "413", "415", "429", "503"]
    );
    for status in ["400", "413", "415", "429", "503"] {
        assert!(is_problem(&everything["responses"][status]), "{status}");
    }
    let too_many = &everything["responses"]["429"];
    for header in ["Retry-After", "RateLimit-Policy", "RateLimit"] {
        assert!(too_many["headers"][header].is_object(), "{header}");
    }
    assert_eq!(
        too_many["headers"]["Retry-After"]["schema"],
        json!({"type": "integer", "minimum": 1})
    );
    // The successful answer of a limited route carries the fields too.
    let ok = &everything["responses"]["200"];
    assert!(ok["headers"]["RateLimit"].is_object());
    assert!(ok["headers"]["RateLimit-Policy"].is_object());
    assert!(operation(&doc, "get", "/me")["responses"]["200"]["headers"].is_null());
    // A query is validated (400) but has no body (no 413, 415).
    assert_eq!(statuses(operation(&doc, "get", "/search")), ["200", "400"]);
    assert_eq!(
        statuses(operation(&doc, "post", "/lenient")),
        ["200", "400", "413", "415"]
    );
}

#[test]
fn a_status_the_application_documents_keeps_its_words_and_gains_warden_s() {
    let doc = describe(None);
    let forbidden = &operation(&doc, "get", "/admin")["responses"]["403"];
    let description = forbidden["description"].as_str().unwrap();
    assert!(description.starts_with("Only for admins."), "{description}");
    assert!(
        description.contains("`role = Role::Admin`"),
        "{description}"
    );
    assert!(forbidden["headers"]["WWW-Authenticate"].is_object());
    assert!(is_problem(forbidden));
}

#[test]
fn the_policy_of_each_operation_is_the_policy_table_s() {
    let doc = describe(None);
    let table = router().policy_table().to_json();
    for row in table.as_array().unwrap() {
        let method = row["method"].as_str().unwrap().to_lowercase();
        let path = row["path"].as_str().unwrap();
        let policy = &operation(&doc, &method, path)["x-warden-policy"];
        assert_eq!(policy, row, "{method} {path}");
    }
}

#[test]
fn validation_rules_become_schema_keywords() {
    let doc = describe(None);
    let schema = &doc["components"]["schemas"]["Everything"];
    assert_eq!(schema["additionalProperties"], false);
    let p = &schema["properties"];
    assert_eq!(p["email"]["format"], "email");
    assert_eq!(p["intl"]["format"], "idn-email");
    assert_eq!(p["site"]["format"], "uri");
    assert_eq!(p["site"]["pattern"], "^(?:https|ftp):");
    assert_eq!(p["tags"]["minItems"], 3);
    assert_eq!(p["tags"]["maxItems"], 5);
    assert_eq!(p["labels"]["minProperties"], 1);
    assert_eq!(p["count"]["minimum"], 1);
    assert_eq!(p["count"]["maximum"], 10);
    assert_eq!(p["ratio"]["minimum"], -1.5);
    assert!(p["ratio"]["maximum"].is_null());
    assert_eq!(p["slug"]["pattern"], "^(?:[a-z]+)$");
    assert_eq!(p["password"]["minLength"], 10);
    assert_eq!(p["password"]["maxLength"], 64);
    assert_eq!(
        p["password"]["pattern"],
        "^(?=[\\s\\S]*\\p{Lu})(?=[\\s\\S]*\\p{Ll})(?=[\\s\\S]*[0-9])(?=[\\s\\S]*[#\\]\\-])"
    );
    assert_eq!(p["kind"]["enum"], json!(["a", "b"]));
    assert_eq!(p["level"]["enum"], json!([1, 2]));
    assert_eq!(p["note"]["minLength"], 1);
    assert_eq!(p["note"]["maxLength"], 9);
    // Two patterns on one field: one that holds when both do.
    assert_eq!(
        p["id"]["pattern"],
        "^(?=[\\s\\S]*?(?:^[\\x00-\\x7F]*$))(?=[\\s\\S]*?(?:^id\\.))"
    );
    assert_eq!(p["code"]["pattern"], "^[\\p{L}\\p{N}]*$");
    assert_eq!(p["line"]["pattern"], "^\\P{Cc}*$");
    assert_eq!(p["file"]["pattern"], "\\.txt$");
    assert_eq!(p["mark"]["pattern"], "\\(x\\)");
    assert!(
        p["email_again"]["description"]
            .as_str()
            .unwrap()
            .contains("Must equal `email`.")
    );
    // An optional field keeps its null; the length is about the text.
    assert_eq!(p["nickname"]["maxLength"], 3);
    assert_eq!(p["nickname"]["type"], json!(["string", "null"]));
    // A referenced type gets the rule beside the reference.
    assert_eq!(
        p["inner"]["allOf"][0],
        json!({"$ref": "#/components/schemas/Inner"})
    );
    assert!(
        p["inner"]["allOf"][1]["description"]
            .as_str()
            .unwrap()
            .contains("inner_ok")
    );
    assert_eq!(p["untouched"], json!({"type": "string"}));
    assert_eq!(
        schema["x-warden-rules"]["password"],
        json!(["password(min = 10, max = 64, special = \"#]-\")"])
    );
    // Unknown fields allowed: no additionalProperties: false.
    let lenient = &doc["components"]["schemas"]["Lenient"];
    assert!(lenient["additionalProperties"].is_null(), "{lenient}");
    assert_eq!(lenient["properties"]["name"]["maxLength"], 5);
    // A validated query: the rules on the parameter.
    let q = &operation(&doc, "get", "/search")["parameters"][0];
    assert_eq!(q["name"], "q");
    assert_eq!(q["schema"]["minLength"], 2);
    assert_eq!(q["schema"]["maxLength"], 20);
}

#[test]
fn the_runtime_s_configuration_is_described_too() {
    let plain = describe(Some(&warden(|b| b)));
    // The body limit, and the rate of a named policy.
    let everything = operation(&plain, "post", "/everything");
    assert!(
        everything["responses"]["413"]["description"]
            .as_str()
            .unwrap()
            .contains("65536 bytes")
    );
    let admin_429 = operation(&plain, "get", "/admin")["responses"]["429"]["description"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(admin_429.contains("1000 per 86400 s"), "{admin_429}");
    // Nothing global: /health answers 200 only.
    assert_eq!(statuses(operation(&plain, "get", "/health")), ["200"]);

    let strict = describe(Some(&warden(|b| {
        b.global_limit(Rate::new(100, std::time::Duration::from_secs(60)).unwrap())
            .global_limit_exempt("/health")
            .require_https()
            .https_exempt("/health")
    })));
    assert_eq!(statuses(operation(&strict, "get", "/health")), ["200"]);
    let me = operation(&strict, "get", "/me");
    assert_eq!(statuses(me), ["200", "308", "400", "401", "429", "503"]);
    assert!(me["responses"]["308"]["headers"]["Location"].is_object());
    assert!(me["responses"]["200"]["headers"]["RateLimit"].is_object());
    // A write over plain HTTP is 403.
    let everything = operation(&strict, "post", "/everything");
    assert!(
        everything["responses"]["403"]["description"]
            .as_str()
            .unwrap()
            .contains("https_required")
    );
    let lenient = operation(&strict, "post", "/lenient");
    assert!(statuses(lenient).contains(&"429".to_owned()));
}

#[test]
fn a_route_the_document_leaves_out_is_an_error() {
    let table = router().policy_table();
    let error = Describe::new(&table)
        .apply(DocMissingOne::openapi())
        .err()
        .expect("an error");
    assert_eq!(
        error,
        OpenApiError::Undocumented {
            method: "GET",
            path: "/not-editor".into()
        }
    );
    assert_eq!(
        error.to_string(),
        "the route GET /not-editor is not in the OpenAPI document"
    );
}

#[test]
fn an_operation_no_route_serves_is_an_error() {
    let table = router().policy_table();
    let error = Describe::new(&table)
        .apply(DocWithExtra::openapi())
        .err()
        .expect("an error");
    assert_eq!(
        error,
        OpenApiError::Unrouted {
            method: "GET",
            path: "/unrouted".into()
        }
    );
}

#[test]
fn a_validated_body_the_document_does_not_describe_is_an_error() {
    #[utoipa::path(post, path = "/everything", responses((status = 200, description = "ok")))]
    #[allow(dead_code)]
    async fn no_body() {}
    #[derive(OpenApi)]
    #[openapi(paths(health, no_body, lenient, search, me, admin, report, not_editor))]
    struct NoBody;
    let table = router().policy_table();
    let error = Describe::new(&table)
        .apply(NoBody::openapi())
        .err()
        .expect("an error");
    assert_eq!(
        error,
        OpenApiError::UndescribedInput {
            method: "POST",
            path: "/everything".into(),
            parameter: "Json<Everything>",
        }
    );
}

#[test]
fn a_field_with_rules_missing_from_its_schema_is_an_error() {
    /// The same name, without the `q` field.
    #[derive(utoipa::IntoParams)]
    #[into_params(parameter_in = Query)]
    #[allow(dead_code)]
    struct Other {
        r: String,
    }
    #[utoipa::path(get, path = "/search", params(Other),
        responses((status = 200, description = "ok")))]
    #[allow(dead_code)]
    async fn other_search() {}
    #[derive(OpenApi)]
    #[openapi(paths(
        health,
        everything,
        lenient,
        other_search,
        me,
        admin,
        report,
        not_editor
    ))]
    struct WrongQuery;
    let table = router().policy_table();
    let error = Describe::new(&table)
        .apply(WrongQuery::openapi())
        .err()
        .expect("an error");
    assert_eq!(
        error,
        OpenApiError::MissingField {
            schema: "Search",
            field: "q"
        }
    );
}

#[test]
fn the_document_is_valid_openapi_3_1() {
    let doc = describe(Some(&warden(|b| {
        b.global_limit(Rate::new(100, std::time::Duration::from_secs(60)).unwrap())
            .require_https()
    })));
    warden_tests::openapi::assert_valid(&doc);
}

#[test]
fn an_invalid_document_is_refused_by_the_validator() {
    // The validator can fail: a response whose description is not text,
    // and a pattern that is not an ECMA-262 regular expression.
    let mut doc = describe(None);
    doc["paths"]["/health"]["get"]["responses"]["200"]["description"] = json!(5);
    let report = warden_tests::openapi::validate(&doc).unwrap_err();
    assert!(report.contains("5 is not of type \"string\""), "{report}");
    let mut doc = describe(None);
    doc["components"]["schemas"]["Everything"]["properties"]["slug"]["pattern"] =
        json!("(?i)[a-z]");
    let report = warden_tests::openapi::validate(&doc).unwrap_err();
    assert!(report.contains("(?i)[a-z]"), "{report}");
}
