//! `warden::routing`: the deny-by-default router behaves as axum's, for
//! every handler it accepts (its refusals are compile errors, proven in
//! `tests/ui/routing`).

use axum::http::StatusCode;
use serde_json::json;
use warden::routing::{Router, get, post};
use warden::{Auth, Warden, protected, public, rate_limit};
use warden_tests::{Client, Transport, hs256, jwt, keys, now};

#[public]
async fn health() -> &'static str {
    "ok"
}

#[public]
#[rate_limit(2, "1m")]
async fn limited() -> &'static str {
    "limited"
}

#[protected]
async fn me(user: Auth) -> String {
    user.sub().to_owned()
}

#[protected]
async fn remove(user: Auth) -> String {
    format!("removed by {}", user.sub())
}

#[public]
async fn echo(body: String) -> String {
    body
}

async fn not_found() -> (StatusCode, &'static str) {
    (StatusCode::NOT_FOUND, "nothing here")
}

fn token(sub: &str) -> String {
    hs256(
        &json!({"sub": sub, "iss": "warden-tests", "aud": "warden-tests", "exp": now() + 60}),
        keys::SECRET,
        None,
    )
}

async fn app() -> Client {
    let warden = Warden::builder().jwt(jwt()).build().unwrap();
    let open: axum::Router<Warden> =
        axum::Router::new().route("/open/static", axum::routing::get(|| async { "static" }));
    let router = Router::new()
        .route("/health", get(health))
        .route("/limited", get(limited))
        .nest(
            "/api",
            Router::new().route("/me", get(me).delete(remove).post(echo)),
        )
        .merge(Router::new().route("/echo", post(echo)))
        .merge_open(open)
        .fallback(not_found)
        .layer(warden.layer())
        .with_state(warden);
    Client::new(router, Transport::Socket).await
}

#[tokio::test]
async fn decided_handlers_route_as_in_axum() {
    let client = app().await;
    let answer = client.get("/health", None).await;
    assert_eq!(
        (answer.status, answer.body.clone()),
        (StatusCode::OK, json!("ok"))
    );
    // The layer applies to every route.
    assert_eq!(answer.headers["x-content-type-options"], "nosniff");

    // #[protected] inside a nested router, with chained methods.
    assert_eq!(
        client.get("/api/me", None).await.status,
        StatusCode::UNAUTHORIZED
    );
    let answer = client.get("/api/me", Some(&token("ana"))).await;
    assert_eq!(answer.body, json!("ana"));
    let answer = client
        .call(
            http::Method::DELETE,
            "/api/me",
            &[("authorization", &format!("Bearer {}", token("ana")))],
            "",
        )
        .await;
    assert_eq!(answer.body, json!("removed by ana"));
    let answer = client.post("/api/me", Some("text/plain"), "hello").await;
    assert_eq!(answer.body, json!("hello"));
    assert_eq!(
        client
            .call(http::Method::PUT, "/api/me", &[], "")
            .await
            .status,
        StatusCode::METHOD_NOT_ALLOWED
    );

    // A public handler with a limit keeps it.
    for _ in 0..2 {
        assert_eq!(client.get("/limited", None).await.status, StatusCode::OK);
    }
    assert_eq!(
        client.get("/limited", None).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );

    // Merged routers, the open axum router, and the fallback.
    assert_eq!(
        client.post("/echo", Some("text/plain"), "x").await.body,
        json!("x")
    );
    assert_eq!(client.get("/open/static", None).await.body, json!("static"));
    let answer = client.get("/nowhere", None).await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
}

#[test]
fn the_manifest_says_which_handlers_are_public() {
    let line = |suffix: &str| {
        warden::manifest()
            .iter()
            .map(ToString::to_string)
            .find(|l| l.starts_with(&format!("routing::{suffix}:")))
            .unwrap()
    };
    assert_eq!(line("health"), "routing::health: public");
    assert_eq!(
        line("limited"),
        r#"routing::limited: public; limit "2-per-1m" 2 per 60s by ip"#
    );
    assert_eq!(line("me"), "routing::me: protected");
}
