//! The `Authorization: Bearer` parsing (private to warden) through the
//! public path: a `#[protected]` handler in a real `Router`, behind
//! `Warden::layer`, sent arbitrary `Authorization` header bytes. Never
//! panics, and answers only 200, 400, 401, 403 or 431.

#![no_main]

use std::sync::LazyLock;

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use http::{HeaderValue, Request, StatusCode, header};
use libfuzzer_sys::fuzz_target;
use tokio::runtime::Runtime;
use tower::ServiceExt;
use warden::auth::AccessClaims;
use warden::{Auth, Warden, protected};

#[derive(Clone, Copy, warden::Role)]
enum Role {
    Admin,
    User,
}

#[protected]
async fn any_user(user: Auth) -> String {
    user.sub.clone()
}

#[protected(role = Role::Admin)]
async fn admin(user: Auth) -> String {
    user.sub.clone()
}

struct Fixture {
    runtime: Runtime,
    router: Router,
    /// Real tokens: a user's and an admin's.
    tokens: [String; 2],
}

static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| {
    let warden = warden_fuzz::warden();
    let issue = |warden: &Warden, role: Role| {
        warden
            .issue_access_token(&AccessClaims::new("user-1").roles([role]))
            .expect("issue")
            .token
    };
    let tokens = [issue(&warden, Role::User), issue(&warden, Role::Admin)];
    let router = Router::new()
        .route("/any", get(any_user))
        .route("/admin", get(admin))
        .layer(warden.layer())
        .with_state(warden);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    Fixture {
        runtime,
        router,
        tokens,
    }
});

fuzz_target!(|data: &[u8]| {
    let fixture = &*FIXTURE;
    let Some((&control, rest)) = data.split_first() else {
        return;
    };
    let path = if control & 1 == 0 { "/any" } else { "/admin" };
    let token = &fixture.tokens[usize::from(control >> 1 & 1)];
    // The header values to send, built from the input.
    let values: Vec<Vec<u8>> = match control >> 2 & 3 {
        // The bytes as they are.
        0 => vec![rest.to_vec()],
        // A real token, then the bytes (`Bearer <token><bytes>`).
        1 => vec![[b"Bearer ", token.as_bytes(), rest].concat()],
        // The bytes as a scheme and spacing before a real token.
        2 => vec![[rest, token.as_bytes()].concat()],
        // Several headers, split at newlines.
        _ => rest.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect(),
    };
    let mut request = Request::get(path);
    for value in &values {
        // Only what HTTP can carry reaches a server.
        let Ok(value) = HeaderValue::from_bytes(value) else {
            return;
        };
        request = request.header(header::AUTHORIZATION, value);
    }
    let request = request.body(Body::empty()).expect("request");
    let response = fixture
        .runtime
        .block_on(fixture.router.clone().oneshot(request))
        .expect("infallible");
    let status = response.status();
    assert!(
        [
            StatusCode::OK,
            StatusCode::BAD_REQUEST,
            StatusCode::UNAUTHORIZED,
            StatusCode::FORBIDDEN,
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        ]
        .contains(&status),
        "{status} for {values:?}"
    );
    if status == StatusCode::OK {
        // Only exactly one header carrying a real token can succeed.
        assert_eq!(values.len(), 1, "{values:?}");
        let value = String::from_utf8_lossy(&values[0]);
        assert!(
            fixture.tokens.iter().any(|t| value.contains(t.as_str())),
            "200 without a real token: {values:?}"
        );
    }
});
