//! The cost of warden's guards, each beside the same check wired by hand,
//! all through a real `Router`, in one run.
//!
//! `cargo bench -p warden-tests --bench guards`

#![allow(missing_docs)]

use std::hint::black_box;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{FromRef, FromRequestParts};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use criterion::{Criterion, criterion_group, criterion_main};
use http::request::Parts;
use http::{HeaderValue, Request, StatusCode, header};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use tower::ServiceExt;
use warden::auth::{AccessToken, Jwt, Key};
use warden::{Auth, Warden, protected};

const SECRET: &[u8] = b"benchmark secret, at least 32 bytes long";

async fn bare() -> &'static str {
    "ok"
}

#[protected]
async fn guarded(user: Auth) -> &'static str {
    black_box(&user.sub);
    "ok"
}

/// The claims the hand-wired extractor decodes: the same fields as warden's.
#[derive(Deserialize)]
#[allow(dead_code)]
struct HandClaims {
    sub: String,
    iss: String,
    aud: serde_json::Value,
    exp: u64,
    iat: Option<u64>,
    nbf: Option<u64>,
    jti: Option<String>,
    #[serde(default)]
    roles: Vec<String>,
    scope: Option<String>,
}

/// What a careful engineer writes by hand for the same policy: bearer
/// parsing, a size bound, the `typ` and `kid` checks, and jsonwebtoken's
/// validation of exp/nbf/iss/aud/sub.
#[derive(Clone)]
struct HandKeys {
    kid: String,
    key: DecodingKey,
    validation: Arc<Validation>,
}

struct HandAuth(HandClaims);

struct Unauthorized;

impl IntoResponse for Unauthorized {
    fn into_response(self) -> Response {
        (StatusCode::UNAUTHORIZED, "unauthorized").into_response()
    }
}

impl<S> FromRequestParts<S> for HandAuth
where
    S: Send + Sync,
    HandKeys: FromRef<S>,
{
    type Rejection = Unauthorized;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let keys = HandKeys::from_ref(state);
        let value = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or(Unauthorized)?;
        let (scheme, token) = value.split_once(' ').ok_or(Unauthorized)?;
        if !scheme.eq_ignore_ascii_case("bearer") || token.len() > 8192 {
            return Err(Unauthorized);
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| Unauthorized)?;
        if !header.typ.is_some_and(|t| t.eq_ignore_ascii_case("at+jwt")) {
            return Err(Unauthorized);
        }
        if header.kid.as_deref() != Some(keys.kid.as_str()) {
            return Err(Unauthorized);
        }
        let data = jsonwebtoken::decode::<HandClaims>(token, &keys.key, &keys.validation)
            .map_err(|_| Unauthorized)?;
        Ok(HandAuth(data.claims))
    }
}

async fn hand_guarded(HandAuth(claims): HandAuth) -> &'static str {
    black_box(&claims.sub);
    "ok"
}

fn hand_validation() -> Validation {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    validation.leeway = 30;
    validation.validate_nbf = true;
    validation.set_issuer(&["bench"]);
    validation.set_audience(&["bench"]);
    validation
}

fn request(path: &str, authorization: &HeaderValue) -> Request<Body> {
    Request::get(path)
        .header(header::AUTHORIZATION, authorization.clone())
        .body(Body::empty())
        .expect("request")
}

fn guards(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let warden = Warden::builder()
        .jwt(
            Jwt::new(Key::hs256(SECRET).expect("key").with_kid("k1"))
                .issuer("bench")
                .audience("bench"),
        )
        .build()
        .expect("warden");
    let token = warden
        .issue_access_token(&AccessToken::new("user-1").role_names(["user"]))
        .expect("token")
        .token;
    let authorization = HeaderValue::from_str(&format!("Bearer {token}")).expect("header");

    let bare_router = Router::new().route("/bare", get(bare));
    let warden_router = Router::new()
        .route("/protected", get(guarded))
        .with_state(warden.clone());
    let hand_keys = HandKeys {
        kid: "k1".into(),
        key: DecodingKey::from_secret(SECRET).expect("key"),
        validation: Arc::new(hand_validation()),
    };
    let hand_router = Router::new()
        .route("/hand", get(hand_guarded))
        .with_state(hand_keys.clone());

    // Every route must answer 200 before it is measured.
    for (router, path) in [
        (&bare_router, "/bare"),
        (&warden_router, "/protected"),
        (&hand_router, "/hand"),
    ] {
        let response = runtime
            .block_on(router.clone().oneshot(request(path, &authorization)))
            .expect("response");
        assert_eq!(response.status(), StatusCode::OK, "{path}");
    }

    let mut group = c.benchmark_group("guards");
    group.bench_function("hmac_verify_floor", |b| {
        b.iter(|| {
            jsonwebtoken::decode::<HandClaims>(
                black_box(&token),
                &hand_keys.key,
                &hand_keys.validation,
            )
            .expect("valid")
        })
    });
    for (name, router, path) in [
        ("bare", &bare_router, "/bare"),
        ("protected_warden", &warden_router, "/protected"),
        ("protected_handwired", &hand_router, "/hand"),
    ] {
        group.bench_function(name, |b| {
            b.to_async(&runtime).iter(|| {
                let router = router.clone();
                let request = request(path, &authorization);
                async move { router.oneshot(request).await.expect("response") }
            })
        });
    }
    group.finish();
}

criterion_group!(benches, guards);
criterion_main!(benches);
