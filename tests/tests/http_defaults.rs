//! `warden.layer()`: security headers on every response, CORS from an
//! allow-list, the body limit, and problem+json for every error.

use axum::body::Body;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use http::{HeaderName, HeaderValue, Request, StatusCode};
use serde_json::Value;
use warden::http::{Cors, SecurityHeaders};
use warden::{BuildError, Warden, protected, rate_limit};
use warden_tests::{Answer, Client, Transport, jwt, send};

#[protected]
async fn secret() -> &'static str {
    "secret"
}

#[rate_limit(1, "1m")]
async fn once() -> &'static str {
    "once"
}

/// axum's own Json extractor, with its plain-text rejections.
async fn echo(Json(body): Json<Value>) -> Json<Value> {
    Json(body)
}

fn builder() -> warden::WardenBuilder {
    Warden::builder().jwt(jwt())
}

async fn app(builder: warden::WardenBuilder) -> Client {
    app_on(builder, Transport::Socket).await
}

async fn app_on(builder: warden::WardenBuilder, transport: Transport) -> Client {
    let warden = builder.build().unwrap();
    let router = Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/secret", get(secret))
        .route("/once", get(once))
        .route("/echo", post(echo))
        .route(
            "/cached",
            get(|| async {
                (
                    [(http::header::CACHE_CONTROL, "private, max-age=60")],
                    "mine",
                )
            }),
        )
        .layer(warden.layer())
        .with_state(warden);
    Client::new(router, transport).await
}

fn assert_hardened(answer: &Answer) {
    for (name, value) in [
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
    ] {
        assert_eq!(answer.header(name), value, "{name} on {answer:?}");
    }
    assert!(answer.headers.get("server").is_none());
    assert!(answer.headers.get("x-powered-by").is_none());
}

#[tokio::test]
async fn every_response_is_hardened() {
    let app = app(builder()).await;
    let ok = app.get("/health", None).await;
    assert_eq!(ok.status, StatusCode::OK);
    assert_hardened(&ok);
    let unauthorized = app.get("/secret", None).await;
    unauthorized.assert_problem(StatusCode::UNAUTHORIZED, "missing_token");
    assert_hardened(&unauthorized);
    let missing = app.get("/nope", None).await;
    missing.assert_problem(StatusCode::NOT_FOUND, "not_found");
    assert_hardened(&missing);
    assert_eq!(app.get("/once", None).await.status, StatusCode::OK);
    let limited = app.get("/once", None).await;
    limited.assert_problem(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    assert_hardened(&limited);
}

#[tokio::test]
async fn responses_to_credentialed_requests_are_not_stored() {
    let warden = builder().build().unwrap();
    let token = warden
        .issue_access_token(&warden::auth::AccessClaims::new("ana"))
        .unwrap()
        .token;
    let app = app(builder()).await;
    // With a token: the answer (or the refusal) is this caller's.
    for (path, status) in [
        ("/secret", StatusCode::OK),
        ("/health", StatusCode::OK),
        ("/nowhere", StatusCode::NOT_FOUND),
    ] {
        let answer = app.get(path, Some(&token)).await;
        assert_eq!(answer.status, status, "{path}");
        assert_eq!(answer.header("cache-control"), "no-store", "{path}");
    }
    let answer = app.get("/secret", Some("not.a.token")).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer.header("cache-control"), "no-store");
    // A cookie is a credential too.
    let request = Request::get("/health")
        .header("cookie", "session=abc")
        .body(Body::empty())
        .unwrap();
    assert_eq!(app.send(request).await.header("cache-control"), "no-store");
    // The handler's own choice stands.
    let answer = app.get("/cached", Some(&token)).await;
    assert_eq!(answer.header("cache-control"), "private, max-age=60");
    // Without credentials nothing is added.
    assert_eq!(app.get("/health", None).await.header("cache-control"), "");
}

#[tokio::test]
async fn axum_rejections_and_unmatched_routes_answer_problem_json() {
    let app = app(builder()).await;
    let send = |content_type: Option<&'static str>, body: &'static str| {
        let app = app.clone();
        async move {
            let mut request = Request::post("/echo");
            if let Some(content_type) = content_type {
                request = request.header("content-type", content_type);
            }
            app.send(request.body(Body::from(body)).unwrap()).await
        }
    };
    send(None, "{}")
        .await
        .assert_problem(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
    let answer = send(Some("application/json"), r#"{"password": "hunter2-secret""#).await;
    answer.assert_problem(StatusCode::BAD_REQUEST, "bad_request");
    assert!(!answer.body.to_string().contains("hunter2"), "{answer:?}");
    assert_eq!(
        send(Some("application/json"), r#"{"a":1}"#).await.status,
        StatusCode::OK
    );
    let answer = app.get("/echo", None).await;
    answer.assert_problem(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
    assert!(answer.header("allow").contains("POST"), "{answer:?}");
}

#[tokio::test]
async fn bodies_over_the_limit_are_refused() {
    let app = app(builder()).await;
    // Declared too large: refused before reading.
    let big = vec![b' '; 64 * 1024 + 1];
    let request = Request::post("/echo")
        .header("content-type", "application/json")
        .body(Body::from(big))
        .unwrap();
    let answer = app.send(request).await;
    answer.assert_problem(StatusCode::PAYLOAD_TOO_LARGE, "body_too_large");
    assert_hardened(&answer);
    // Streamed without a length: refused while reading.
    let chunks = futures_chunks(70 * 1024);
    let request = Request::post("/echo")
        .header("content-type", "application/json")
        .body(chunks)
        .unwrap();
    let answer = app.send(request).await;
    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE, "{answer:?}");
    assert_eq!(answer.header("content-type"), "application/problem+json");
    // A configured limit applies.
    let small = self::app(builder().body_limit(16)).await;
    let request = Request::post("/echo")
        .header("content-type", "application/json")
        .body(Body::from(r#"{"a":"0123456789"}"#))
        .unwrap();
    assert_eq!(
        small.send(request).await.status,
        StatusCode::PAYLOAD_TOO_LARGE
    );
}

#[tokio::test]
async fn every_body_too_large_is_the_same_problem() {
    // In process: a socket client would declare the length of the stream.
    let app = app_on(builder(), Transport::InProcess).await;
    // The layer's own limit, refused before reading: the limit is named.
    let request = Request::post("/echo")
        .header("content-type", "application/json")
        .header("content-length", 64 * 1024 + 1)
        .body(Body::from(vec![b' '; 64 * 1024 + 1]))
        .unwrap();
    let answer = app.send(request).await;
    answer.assert_problem(StatusCode::PAYLOAD_TOO_LARGE, "body_too_large");
    assert_eq!(
        answer.body["detail"],
        "the request body is over the limit of 65536 bytes"
    );
    // Found while reading, by axum's extractor: its plain text becomes the
    // same problem, without a limit it cannot know.
    let request = Request::post("/echo")
        .header("content-type", "application/json")
        .body(futures_chunks(70 * 1024))
        .unwrap();
    let answer = app.send(request).await;
    answer.assert_problem(StatusCode::PAYLOAD_TOO_LARGE, "body_too_large");
    assert_eq!(
        answer.body["detail"],
        "the request body is over the size limit"
    );
    assert_hardened(&answer);
}

/// The media types an error response of `/error/{i}` declares, and
/// whether warden reads each as JSON (and so leaves the body alone).
const ERROR_TYPES: [(&str, bool); 7] = [
    ("application/json", true),
    ("Application/JSON; charset=utf-8", true),
    ("application/vnd.error+json", true),
    ("text/x+json", false),
    ("application/+json", false),
    ("application/json-seq", false),
    ("text/plain", false),
];

async fn error_as(axum::extract::Path(i): axum::extract::Path<usize>) -> impl IntoResponse {
    (
        StatusCode::CONFLICT,
        [(http::header::CONTENT_TYPE, ERROR_TYPES[i].0)],
        r#"{"mine":true}"#,
    )
}

#[tokio::test]
async fn only_json_error_bodies_are_left_alone() {
    let warden = builder().build().unwrap();
    let router = Router::new()
        .route("/error/{i}", get(error_as))
        .layer(warden.layer());
    let app = Client::new(router, Transport::Socket).await;
    for (i, (content_type, json)) in ERROR_TYPES.iter().enumerate() {
        let answer = app.get(&format!("/error/{i}"), None).await;
        if *json {
            assert_eq!(answer.status, StatusCode::CONFLICT, "{content_type}");
            assert_eq!(answer.header("content-type"), *content_type);
            assert_eq!(answer.body, serde_json::json!({"mine": true}));
        } else {
            answer.assert_problem(StatusCode::CONFLICT, "client_error");
            assert!(answer.body.get("mine").is_none(), "{content_type}");
        }
    }
}

/// A body of `size` bytes of JSON whitespace with no declared length.
fn futures_chunks(size: usize) -> Body {
    let chunks = (0..size / 1024).map(|_| Ok::<_, std::io::Error>(vec![b' '; 1024]));
    Body::from_stream(futures_util::stream::iter(chunks))
}

#[tokio::test]
async fn headers_can_be_overridden() {
    let headers = SecurityHeaders::default()
        .set(
            HeaderName::from_static("content-security-policy"),
            HeaderValue::from_static("default-src 'self'"),
        )
        .remove(&HeaderName::from_static("strict-transport-security"));
    let app = app(builder().security_headers(headers)).await;
    let answer = app.get("/health", None).await;
    assert_eq!(
        answer.header("content-security-policy"),
        "default-src 'self'"
    );
    assert!(answer.headers.get("strict-transport-security").is_none());
    assert_eq!(answer.header("x-frame-options"), "DENY");
}

async fn preflight(app: &Client, origin: &str) -> Answer {
    let request = Request::builder()
        .method("OPTIONS")
        .uri("/secret")
        .header("origin", origin)
        .header("access-control-request-method", "GET")
        .header("access-control-request-headers", "authorization")
        .body(Body::empty())
        .unwrap();
    app.send(request).await
}

#[tokio::test]
async fn cors_answers_only_allowed_origins() {
    let app =
        app(builder().cors(Cors::allow_origins(["https://app.example.com"]).allow_credentials()))
            .await;
    let allowed = preflight(&app, "https://app.example.com").await;
    assert_eq!(
        allowed.header("access-control-allow-origin"),
        "https://app.example.com"
    );
    assert_eq!(allowed.header("access-control-allow-credentials"), "true");
    assert!(
        allowed
            .header("access-control-allow-headers")
            .contains("authorization")
    );
    let refused = preflight(&app, "https://evil.example").await;
    assert!(
        refused.headers.get("access-control-allow-origin").is_none(),
        "{refused:?}"
    );
    // No origin is ever reflected blindly, and `*` never goes with credentials.
    let answer = app.get("/health", None).await;
    assert_ne!(answer.header("access-control-allow-origin"), "*");

    // The default: no cross-origin access at all.
    let closed = self::app(builder()).await;
    let refused = preflight(&closed, "https://app.example.com").await;
    assert!(
        refused.headers.get("access-control-allow-origin").is_none(),
        "{refused:?}"
    );
}

#[test]
fn unsafe_cors_is_a_build_error_not_a_panic() {
    let error = builder()
        .cors(Cors::allow_origins(["*"]).allow_credentials())
        .build()
        .unwrap_err();
    assert_eq!(
        error,
        BuildError::Cors(warden::http::CorsError::WildcardWithCredentials)
    );
    for bad in [
        "app.example.com",
        "https://app.example.com/path",
        "https://app.example.com/",
        "ftp://x.example",
        "",
    ] {
        assert!(
            matches!(
                builder().cors(Cors::allow_origins([bad])).build(),
                Err(BuildError::Cors(_))
            ),
            "{bad:?}"
        );
    }
    assert!(builder().cors(Cors::allow_origins(["*"])).build().is_ok());
}

async fn https_app(builder: warden::WardenBuilder) -> Client {
    app(builder.require_https().https_exempt("/health")).await
}

#[tokio::test]
async fn plain_http_is_redirected_or_refused_when_https_is_required() {
    use http::Method;
    // Behind a proxy on loopback that terminates TLS.
    let app = https_app(builder().trusted_proxies(["127.0.0.1"])).await;
    let answer = app
        .call(
            Method::GET,
            "/once?page=2",
            &[("host", "api.example.com")],
            Body::empty(),
        )
        .await;
    assert_eq!(answer.status, StatusCode::PERMANENT_REDIRECT);
    assert_eq!(
        answer.header("location"),
        "https://api.example.com/once?page=2"
    );
    assert_hardened(&answer);
    let answer = app
        .call(
            Method::HEAD,
            "/once",
            &[("host", "api.example.com:8443")],
            Body::empty(),
        )
        .await;
    assert_eq!(answer.status, StatusCode::PERMANENT_REDIRECT);
    assert_eq!(
        answer.header("location"),
        "https://api.example.com:8443/once"
    );
    // A body would be lost or replayed by a redirect: refused.
    let answer = app
        .call(
            Method::POST,
            "/echo",
            &[("host", "api.example.com")],
            Body::empty(),
        )
        .await;
    answer.assert_problem(StatusCode::FORBIDDEN, "https_required");
    // A host that is not a host name is not redirected to.
    let answer = app
        .call(
            Method::GET,
            "/once",
            &[("host", "evil.com/@x")],
            Body::empty(),
        )
        .await;
    answer.assert_problem(StatusCode::FORBIDDEN, "https_required");
    // The proxy says the client came over HTTPS: served.
    for proto in ["https", "HTTPS", "http, https"] {
        let answer = app
            .call(
                Method::GET,
                "/health",
                &[("x-forwarded-proto", proto)],
                Body::empty(),
            )
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{proto}");
    }
    let answer = app
        .call(
            Method::POST,
            "/echo",
            &[
                ("x-forwarded-proto", "https"),
                ("content-type", "application/json"),
            ],
            Body::empty(),
        )
        .await;
    assert_eq!(
        answer.status,
        StatusCode::BAD_REQUEST,
        "served, and refused for its empty body"
    );
    // The nearest proxy's word is the last one.
    let answer = app
        .call(
            Method::GET,
            "/once",
            &[("x-forwarded-proto", "https, http"), ("host", "a.example")],
            Body::empty(),
        )
        .await;
    assert_eq!(answer.status, StatusCode::PERMANENT_REDIRECT);
    // The exempt path is served over plain HTTP.
    assert_eq!(app.get("/health", None).await.status, StatusCode::OK);

    // Without a trusted proxy, a client's own claim is not believed.
    let direct = https_app(builder()).await;
    let answer = direct
        .call(
            Method::GET,
            "/once",
            &[("x-forwarded-proto", "https"), ("host", "a.example")],
            Body::empty(),
        )
        .await;
    assert_eq!(answer.status, StatusCode::PERMANENT_REDIRECT);
    let answer = direct
        .call(
            Method::GET,
            "/once",
            &[("forwarded", "proto=https"), ("host", "a.example")],
            Body::empty(),
        )
        .await;
    assert_eq!(answer.status, StatusCode::PERMANENT_REDIRECT);

    // RFC 7239, when the proxy writes Forwarded.
    let rfc = https_app(
        builder()
            .trusted_proxies(["127.0.0.1"])
            .forwarded_header(warden::http::ForwardedHeader::Forwarded),
    )
    .await;
    let answer = rfc
        .call(
            Method::GET,
            "/once",
            &[("forwarded", "for=198.51.100.1;proto=https")],
            Body::empty(),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    let answer = rfc
        .call(
            Method::GET,
            "/once",
            &[
                ("forwarded", "for=198.51.100.1;proto=http"),
                ("host", "a.example"),
            ],
            Body::empty(),
        )
        .await;
    assert_eq!(answer.status, StatusCode::PERMANENT_REDIRECT);
}

#[test]
fn https_settings_are_checked_at_build() {
    assert_eq!(
        Warden::builder()
            .https_exempt("/health")
            .build()
            .unwrap_err(),
        BuildError::ExemptWithoutRequireHttps
    );
    assert_eq!(
        Warden::builder()
            .require_https()
            .https_exempt("health")
            .build()
            .unwrap_err(),
        BuildError::ExemptPath("health".into())
    );
}

// Each layer of `warden.layer()` on its own, on a router with no `Warden`.

/// A router with no `Warden` at all.
fn plain_router() -> Router {
    Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/echo", post(echo))
        .route(
            "/leaky",
            get(|| async { ([("server", "hyper/1.0"), ("x-powered-by", "axum")], "leaky") }),
        )
        .route(
            "/framed",
            get(|| async { ([("x-frame-options", "SAMEORIGIN")], "framed") }),
        )
        .route(
            "/own-error",
            get(|| async {
                (
                    StatusCode::CONFLICT,
                    [("content-type", "application/json")],
                    r#"{"mine":true}"#,
                )
            }),
        )
        .route(
            "/crash",
            get(|| async {
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "database password is hunter2",
                )
            }),
        )
        .route(
            "/cached",
            get(|| async { ([(http::header::CACHE_CONTROL, "max-age=60")], "mine") }),
        )
}

#[tokio::test]
async fn the_security_headers_layer_stands_alone() {
    use warden::http::SecurityHeadersLayer;

    let app = plain_router().layer(SecurityHeadersLayer::new(SecurityHeaders::default()));
    let answer = send(&app, Request::get("/health").body(Body::empty()).unwrap()).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_hardened(&answer);
    assert_eq!(answer.header("cache-control"), "");
    // What identifies the server goes; the handler's own choice stands.
    let answer = send(&app, Request::get("/leaky").body(Body::empty()).unwrap()).await;
    assert_hardened(&answer);
    let answer = send(&app, Request::get("/framed").body(Body::empty()).unwrap()).await;
    assert_eq!(answer.header("x-frame-options"), "SAMEORIGIN");
    // Errors get them too, and it does not touch bodies.
    let answer = send(&app, Request::get("/nope").body(Body::empty()).unwrap()).await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    assert_eq!(answer.header("x-content-type-options"), "nosniff");
    assert_eq!(answer.body, "");
    // A credentialed request's answer is not stored, unless the handler
    // said otherwise.
    for (name, value) in [("authorization", "Bearer x"), ("cookie", "session=1")] {
        let request = Request::get("/health")
            .header(name, value)
            .body(Body::empty())
            .unwrap();
        assert_eq!(
            send(&app, request).await.header("cache-control"),
            "no-store"
        );
        let request = Request::get("/cached")
            .header(name, value)
            .body(Body::empty())
            .unwrap();
        assert_eq!(
            send(&app, request).await.header("cache-control"),
            "max-age=60"
        );
    }
    // A custom set, through `From`.
    let headers = SecurityHeaders::default().remove(&HeaderName::from_static("x-frame-options"));
    let app = plain_router().layer(SecurityHeadersLayer::from(headers));
    let answer = send(&app, Request::get("/health").body(Body::empty()).unwrap()).await;
    assert!(answer.headers.get("x-frame-options").is_none());
    assert_eq!(answer.header("x-content-type-options"), "nosniff");
}

#[tokio::test]
async fn the_problem_json_layer_stands_alone() {
    use warden::http::ProblemJsonLayer;

    let app = plain_router().layer(ProblemJsonLayer::new());
    let post = |content_type: &'static str, body: &'static str| {
        Request::post("/echo")
            .header("content-type", content_type)
            .body(Body::from(body))
            .unwrap()
    };
    let answer = send(&app, post("application/json", r#"{"password": "hunter2"#)).await;
    answer.assert_problem(StatusCode::BAD_REQUEST, "bad_request");
    assert!(!answer.body.to_string().contains("hunter2"), "{answer:?}");
    send(&app, post("text/plain", "{}"))
        .await
        .assert_problem(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
    send(&app, Request::get("/nope").body(Body::empty()).unwrap())
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not_found");
    let answer = send(&app, Request::get("/echo").body(Body::empty()).unwrap()).await;
    answer.assert_problem(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
    assert!(answer.header("allow").contains("POST"), "{answer:?}");
    // A server error's own text never reaches the client.
    let answer = send(&app, Request::get("/crash").body(Body::empty()).unwrap()).await;
    answer.assert_problem(StatusCode::INTERNAL_SERVER_ERROR, "internal_error");
    assert!(!answer.body.to_string().contains("hunter2"), "{answer:?}");
    // JSON errors and successes pass as they are.
    let answer = send(
        &app,
        Request::get("/own-error").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(answer.status, StatusCode::CONFLICT);
    assert_eq!(answer.body, serde_json::json!({"mine": true}));
    let answer = send(&app, post("application/json", r#"{"a":1}"#)).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body, serde_json::json!({"a": 1}));
    let answer = send(&app, Request::get("/health").body(Body::empty()).unwrap()).await;
    assert_eq!(answer.body, "ok");
    assert_eq!(answer.header("content-type"), "text/plain; charset=utf-8");
}

#[tokio::test]
async fn the_body_limit_is_tower_https_with_problem_json() {
    use tower_http::limit::RequestBodyLimitLayer;
    use warden::http::ProblemJsonLayer;

    let app = plain_router()
        .layer(RequestBodyLimitLayer::new(16))
        .layer(ProblemJsonLayer::new());
    let request = |body: Body| {
        Request::post("/echo")
            .header("content-type", "application/json")
            .body(body)
            .unwrap()
    };
    // Declared too large: refused before the body is read.
    let answer = send(&app, request(Body::from(r#"{"a":"0123456789"}"#))).await;
    answer.assert_problem(StatusCode::PAYLOAD_TOO_LARGE, "body_too_large");
    // Streamed without a length: refused while reading.
    let answer = send(&app, request(futures_chunks(2 * 1024))).await;
    answer.assert_problem(StatusCode::PAYLOAD_TOO_LARGE, "body_too_large");
    let answer = send(&app, request(Body::from(r#"{"a":1}"#))).await;
    assert_eq!(answer.status, StatusCode::OK);
}

#[tokio::test]
async fn the_cors_layer_stands_alone() {
    let layer = Cors::allow_origins(["https://app.example.com"])
        .allow_credentials()
        .layer()
        .unwrap();
    let app = Client::new(plain_router().layer(layer), Transport::InProcess).await;
    let allowed = preflight(&app, "https://app.example.com").await;
    assert_eq!(
        allowed.header("access-control-allow-origin"),
        "https://app.example.com"
    );
    assert_eq!(allowed.header("access-control-allow-credentials"), "true");
    let refused = preflight(&app, "https://evil.example").await;
    assert!(refused.headers.get("access-control-allow-origin").is_none());
    // A simple request from an allowed origin can read the limit fields.
    let request = Request::get("/health")
        .header("origin", "https://app.example.com")
        .body(Body::empty())
        .unwrap();
    let answer = app.send(request).await;
    assert_eq!(
        answer.header("access-control-expose-headers"),
        "retry-after,ratelimit,ratelimit-policy"
    );
    // What tower-http would panic on is an error.
    assert_eq!(
        Cors::allow_origins(["*"])
            .allow_credentials()
            .layer()
            .unwrap_err(),
        warden::http::CorsError::WildcardWithCredentials
    );
}
