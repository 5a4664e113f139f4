//! `#[protected]` over a real TCP socket, and the audit events of its
//! rejections.

use axum::Router;
use axum::routing::get;
use reqwest::StatusCode;
use serde_json::{Value, json};
use warden::auth::AccessClaims;
use warden::{Auth, Warden, protected, rate_limit};
use warden_tests::{Captured, claims, hs256, jwt, keys, now, serve};

#[derive(Clone, Copy, warden::Role)]
enum Role {
    Admin,
    User,
}

#[protected]
async fn me(user: Auth) -> axum::Json<Value> {
    axum::Json(json!({"sub": user.sub()}))
}

#[protected(role = Role::Admin)]
async fn admin() -> &'static str {
    "admin"
}

/// The policy of `admin` with a limit too: its guard is the limited one.
#[protected(role = Role::Admin)]
#[rate_limit(100, "1m")]
async fn limited_admin() -> &'static str {
    "admin"
}

fn warden() -> Warden {
    Warden::builder().jwt(jwt()).build().unwrap()
}

async fn server() -> (String, Warden) {
    let warden = warden();
    let router = Router::new()
        .route("/me", get(me))
        .route("/admin", get(admin))
        .route("/limited-admin", get(limited_admin))
        .with_state(warden.clone());
    let addr = serve(router).await;
    (format!("http://{addr}"), warden)
}

async fn fetch(url: &str, token: Option<&str>) -> (StatusCode, reqwest::header::HeaderMap, String) {
    let client = reqwest::Client::new();
    let mut request = client.get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("request");
    let status = response.status();
    let headers = response.headers().clone();
    (status, headers, response.text().await.expect("body"))
}

#[tokio::test]
async fn tokens_are_checked_over_a_socket() {
    let (base, warden) = server().await;
    let token = warden
        .issue_access_token(&AccessClaims::new("user-1").roles([Role::Admin]))
        .unwrap()
        .token;

    let (status, headers, body) = fetch(&format!("{base}/me"), Some(&token)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({"sub": "user-1"})
    );
    assert_eq!(
        fetch(&format!("{base}/admin"), Some(&token)).await.0,
        StatusCode::OK
    );

    let (status, headers, body) = fetch(&format!("{base}/me"), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(headers["www-authenticate"], "Bearer");
    assert_eq!(headers["content-type"], "application/problem+json");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["status"], 401);
    assert_eq!(body["code"], "missing_token");

    let plain = warden
        .issue_access_token(&AccessClaims::new("user-2"))
        .unwrap()
        .token;
    let (status, headers, body) = fetch(&format!("{base}/admin"), Some(&plain)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        headers["www-authenticate"],
        r#"Bearer error="insufficient_scope""#
    );
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["code"],
        "insufficient_scope"
    );

    let mut expired = claims("user-1", &["admin"]);
    expired["exp"] = (now() - 600).into();
    let expired = hs256(&expired, keys::SECRET, None);
    let (status, headers, body) = fetch(&format!("{base}/me"), Some(&expired)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        headers["www-authenticate"]
            .to_str()
            .unwrap()
            .contains(r#"error="invalid_token""#)
    );
    assert!(!body.contains(&expired));
}

#[tokio::test]
async fn a_huge_token_is_refused_over_a_socket() {
    let (base, _) = server().await;
    let huge = format!("eyJhbGciOiJIUzI1NiJ9.{}.sig", "A".repeat(100 * 1024));
    let (status, _, body) = fetch(&format!("{base}/me"), Some(&huge)).await;
    // An oversized header may be refused by the HTTP layer itself.
    assert!(
        status == StatusCode::UNAUTHORIZED || status == StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        "{status}"
    );
    assert!(!body.contains(&huge[..64]));
}

#[tokio::test]
async fn every_rejection_is_audited_without_the_token() {
    let captured = Captured::default();
    let _guard = captured.install();
    let (base, warden) = server().await;

    let mut expired = claims("user-1", &[]);
    expired["exp"] = (now() - 600).into();
    let expired = hs256(&expired, keys::SECRET, None);
    let plain = warden
        .issue_access_token(&AccessClaims::new("user-2"))
        .unwrap()
        .token;

    assert_eq!(
        fetch(&format!("{base}/me"), Some(&expired)).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        fetch(&format!("{base}/admin"), Some(&plain)).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        fetch(&format!("{base}/me"), None).await.0,
        StatusCode::UNAUTHORIZED
    );

    let text = captured.text();
    let events: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("warden::audit"))
        .collect();
    assert_eq!(events.len(), 3, "{text}");
    assert!(
        events[0].contains("reason=\"expired\"") || events[0].contains("reason=expired"),
        "{}",
        events[0]
    );
    for (event, route, status) in [
        (events[0], "/me", 401),
        (events[1], "/admin", 403),
        (events[2], "/me", 401),
    ] {
        assert!(event.contains("WARN"), "{event}");
        assert!(
            event.contains(&format!("route=\"{route}\""))
                || event.contains(&format!("route={route}")),
            "{event}"
        );
        assert!(event.contains("client_ip=127.0.0.1"), "{event}");
        assert!(event.contains(&format!("status={status}")), "{event}");
        assert!(event.contains("handler="), "{event}");
    }
    assert!(events[1].contains("insufficient_scope"), "{}", events[1]);
    assert!(events[2].contains("missing_token"), "{}", events[2]);
    for secret in [&expired, &plain] {
        let signature = secret.rsplit('.').next().unwrap();
        assert!(
            !text.contains(signature),
            "a token leaked into the logs: {text}"
        );
    }
}

/// The guard of a limited handler refuses and audits exactly as the guard
/// of a handler without limits: same status, body and challenge, and one
/// audit event each, with the same reason and client address.
#[tokio::test]
async fn both_guards_refuse_and_audit_alike() {
    let captured = Captured::default();
    let _guard = captured.install();
    let (base, warden) = server().await;
    let user = warden
        .issue_access_token(&AccessClaims::new("user-1").roles([Role::User]))
        .unwrap()
        .token;
    let foreign = hs256(&claims("user-1", &["admin"]), keys::FOREIGN_SECRET, None);
    let refusals = [
        (None, StatusCode::UNAUTHORIZED, "missing_token"),
        (
            Some(foreign.as_str()),
            StatusCode::UNAUTHORIZED,
            "bad_signature",
        ),
        (
            Some(user.as_str()),
            StatusCode::FORBIDDEN,
            "insufficient_scope",
        ),
    ];
    for (token, status, reason) in refusals {
        let plain = fetch(&format!("{base}/admin"), token).await;
        let limited = fetch(&format!("{base}/limited-admin"), token).await;
        assert_eq!((plain.0, limited.0), (status, status), "{reason}");
        assert_eq!(plain.2, limited.2, "{reason}: the same problem body");
        assert_eq!(
            plain.1.get("www-authenticate"),
            limited.1.get("www-authenticate"),
            "{reason}"
        );
        // The limited guard also shows its limit.
        let shown = limited
            .1
            .get("ratelimit")
            .expect("ratelimit")
            .to_str()
            .unwrap();
        assert!(shown.starts_with(r#""100-per-1m";r="#), "{shown}");

        let text = captured.text();
        let events: Vec<&str> = text
            .lines()
            .filter(|l| l.contains("auth_rejected") && l.contains(&format!("reason=\"{reason}\"")))
            .collect();
        assert_eq!(events.len(), 2, "{reason}: {text}");
        for (event, handler) in events.iter().zip(["admin", "limited_admin"]) {
            assert!(
                event.contains(&format!("handler=\"protected_socket::{handler}\"")),
                "{event}"
            );
            assert!(event.contains("client_ip=127.0.0.1"), "{event}");
            assert!(
                event.contains(&format!("status={}", status.as_u16())),
                "{event}"
            );
        }
    }
    let admin = warden
        .issue_access_token(&AccessClaims::new("root").roles([Role::Admin]))
        .unwrap()
        .token;
    let answer = fetch(&format!("{base}/limited-admin"), Some(&admin)).await;
    assert_eq!(answer.0, StatusCode::OK);
}
