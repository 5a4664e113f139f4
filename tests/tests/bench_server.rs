//! The benchmark server against its contract, `examples/bench-server/README.md`.

use axum::body::Body;
use http::{Request, StatusCode};
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{Value, json};
use warden_tests::{Client, Transport, forge, now};

const SECRET: &[u8] = b"a bench secret of at least 32 bytes!!";

async fn server() -> Client {
    Client::new(bench_server::app(SECRET).unwrap(), Transport::Socket).await
}

/// A token as any JWT library mints it: `typ: JWT` or no `typ`.
fn token(sub: &str, typ: Option<&str>, iss: &str) -> String {
    let mut header = json!({"alg": "HS256"});
    if let Some(typ) = typ {
        header["typ"] = typ.into();
    }
    let claims =
        json!({"sub": sub, "exp": now() + 600, "iss": iss, "aud": "bench", "roles": ["user"]});
    forge(
        &header,
        &claims,
        &EncodingKey::from_secret(SECRET).unwrap(),
        Algorithm::HS256,
    )
}

#[tokio::test]
async fn plain_and_health() {
    let server = server().await;
    assert_eq!(
        server.get("/health", None).await.body,
        json!({"status": "ok"})
    );
    let answer = server.get("/bench/plain", None).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body, json!({"userId": "anonymous"}));
}

#[tokio::test]
async fn protected_accepts_jwt_and_untyped_tokens_and_always_admits() {
    let server = server().await;
    for typ in [Some("JWT"), None, Some("at+jwt")] {
        let answer = server
            .get("/bench/protected", Some(&token("user-1", typ, "bench")))
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{typ:?}: {answer:?}");
        assert_eq!(answer.body, json!({"userId": "user-1"}));
    }
    let token = token("user-2", Some("JWT"), "bench");
    for _ in 0..300 {
        assert_eq!(
            server.get("/bench/protected", Some(&token)).await.status,
            StatusCode::OK
        );
    }
    server
        .get("/bench/protected", None)
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "missing_token");
    // iss and aud are enforced.
    let wrong = self::token("user-1", Some("JWT"), "someone-else");
    server
        .get("/bench/protected", Some(&wrong))
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "invalid_token");
}

#[tokio::test]
async fn limited_admits_100_then_429() {
    let server = server().await;
    for _ in 0..100 {
        let answer = server.get("/bench/limited", None).await;
        assert_eq!(answer.status, StatusCode::OK);
        assert_eq!(answer.body, json!({"ok": true}));
    }
    let answer = server.get("/bench/limited", None).await;
    answer.assert_problem(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    assert!(!answer.header("retry-after").is_empty());
}

#[tokio::test]
async fn validate_checks_the_register_rules() {
    let server = server().await;
    let post = |body: Value| {
        let server = server.clone();
        async move {
            let request = Request::post("/bench/validate")
                .header("content-type", "application/json")
                .body(Body::from(body.to_string()))
                .unwrap();
            server.send(request).await
        }
    };
    let answer = post(
        json!({"email": "ana@example.com", "password": "Str0ng&Secure!", "name": "José Ñúñez"}),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body, json!({"ok": true}));
    let answer = post(json!({"email": "nope", "password": "weak", "name": "R2D2"})).await;
    answer.assert_problem(StatusCode::BAD_REQUEST, "validation_failed");
    assert!(
        answer.body["issues"]
            .as_array()
            .is_some_and(|i| i.len() >= 3)
    );
}

#[test]
fn a_short_secret_is_refused() {
    assert!(bench_server::app(b"short").is_err());
}
