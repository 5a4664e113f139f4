//! A limited `#[protected]` handler's guard hands its `Auth` arguments the
//! claims it verified, and leaves them in the request extensions only when
//! another argument may read them there: an extractor of the user's own
//! that reads `Auth`, or `Auth` of custom claims. Both ways, every
//! argument gets the claims of the token the guard verified, once.

use axum::extract::{FromRequestParts, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use http::header::AUTHORIZATION;
use http::request::Parts;
use serde::Deserialize;
use serde_json::{Value, json};
use warden::__private::Policy;
use warden::{Auth, Warden, protected, rate_limit};
use warden_tests::{Answer, Client, Transport, claims, hs256, keys};

/// Takes the `Authorization` header away: an extractor after it that
/// authenticated again would find no token.
struct StripAuthorization;

impl<S: Send + Sync> FromRequestParts<S> for StripAuthorization {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts.headers.remove(AUTHORIZATION);
        Ok(Self)
    }
}

/// An extractor of the user's own, built on `Auth`.
struct CurrentUser(String);

impl FromRequestParts<Warden> for CurrentUser {
    type Rejection = warden::auth::AuthRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Warden,
    ) -> Result<Self, Self::Rejection> {
        let user: Auth = Auth::from_request_parts(parts, state).await?;
        Ok(Self(user.sub().to_owned()))
    }
}

#[derive(Deserialize)]
struct TenantClaims {
    sub: String,
    tenant: String,
}

#[derive(Deserialize)]
struct Note {
    text: String,
}

#[protected]
#[rate_limit(100, "1m", key = user)]
async fn only_auth(user: Auth) -> String {
    user.sub().to_owned()
}

#[protected]
#[rate_limit(100, "1m", key = user)]
async fn auth_state_and_body(
    State(_): State<Warden>,
    user: Auth,
    Json(note): Json<Note>,
) -> Json<Value> {
    Json(json!({"sub": user.sub(), "text": note.text}))
}

#[protected]
#[rate_limit(100, "1m", key = user)]
async fn own_extractor(
    _: StripAuthorization,
    user: Auth,
    CurrentUser(current): CurrentUser,
) -> Json<Value> {
    Json(json!({"auth": user.sub(), "current": current}))
}

#[protected]
#[rate_limit(100, "1m", key = user)]
async fn custom_claims(_: StripAuthorization, claims: Auth<TenantClaims>) -> String {
    format!("{}@{}", claims.sub, claims.tenant)
}

#[protected]
#[rate_limit(100, "1m", key = user)]
async fn both(user: Auth, claims: Auth<TenantClaims>) -> String {
    format!("{} {}@{}", user.sub(), claims.sub, claims.tenant)
}

/// An object-level check: admission awaits it, so the guard hands the
/// claims over from its waiting path.
async fn not_eve(claims: &warden::auth::Claims, _: &mut Parts) -> bool {
    claims.sub() != "eve"
}

#[protected(check = not_eve)]
#[rate_limit(100, "1m", key = user)]
async fn checked(user: Auth) -> String {
    user.sub().to_owned()
}

/// An object-level check that puts another token in the request: a
/// payload of its choosing, under the verified token's signature. Custom
/// claims must still come from the token the guard verified.
async fn swaps_the_token(_: &warden::auth::Claims, parts: &mut Parts) -> bool {
    let token = parts.headers[AUTHORIZATION].to_str().unwrap().to_owned();
    let mut segments = token.split('.');
    let (header, _, signature) = (
        segments.next().unwrap(),
        segments.next(),
        segments.next().unwrap(),
    );
    let evil = warden_tests::b64(r#"{"sub":"ana","tenant":"evil"}"#);
    let swapped = format!("{header}.{evil}.{signature}");
    parts
        .headers
        .insert(AUTHORIZATION, swapped.parse().unwrap());
    true
}

#[protected(check = swaps_the_token)]
async fn checked_tenant(claims: Auth<TenantClaims>) -> String {
    format!("{}@{}", claims.sub, claims.tenant)
}

#[protected(check = swaps_the_token)]
#[rate_limit(100, "1m", key = user)]
async fn checked_limited_tenant(claims: Auth<TenantClaims>) -> String {
    format!("{}@{}", claims.sub, claims.tenant)
}

#[tokio::test]
async fn custom_claims_come_from_the_verified_token_whatever_a_check_does_to_the_request() {
    let warden = warden();
    let router = Router::new()
        .route("/plain", get(checked_tenant))
        .route("/limited", get(checked_limited_tenant))
        .with_state(warden);
    let client = Client::new(router, Transport::Socket).await;
    let token = tenant_token("ana", "acme");
    for path in ["/plain", "/limited"] {
        let answer = client.get(path, Some(&token)).await;
        assert_eq!(answer.status, 200, "{path}");
        assert_eq!(answer.body, json!("ana@acme"), "{path}");
    }
}

/// A router state of its own: the handler's guard is then a local
/// extractor for exactly that state, wrapping the runtime's.
#[derive(Clone)]
struct Shop {
    warden: Warden,
    name: &'static str,
}

impl axum::extract::FromRef<Shop> for Warden {
    fn from_ref(shop: &Shop) -> Warden {
        shop.warden.clone()
    }
}

#[protected(state = Shop)]
#[rate_limit(100, "1m", key = user)]
async fn in_shop(State(shop): State<Shop>, user: Auth) -> String {
    format!("{} at {}", user.sub(), shop.name)
}

#[test]
fn the_claims_stay_out_of_the_extensions_only_when_no_argument_may_read_them() {
    assert!(!__warden_policy_only_auth::shares_claims());
    assert!(!__warden_policy_checked::shares_claims());
    assert!(!__warden_policy_in_shop::shares_claims());
    assert!(!__warden_policy_auth_state_and_body::shares_claims());
    assert!(__warden_policy_own_extractor::shares_claims());
    assert!(__warden_policy_custom_claims::shares_claims());
    assert!(__warden_policy_both::shares_claims());
}

async fn server() -> Client {
    let warden = warden();
    let router = Router::new()
        .route("/only", get(only_auth))
        .route("/notes", post(auth_state_and_body))
        .route("/own", get(own_extractor))
        .route("/tenant", get(custom_claims))
        .route("/both", get(both))
        .route("/checked", get(checked))
        .with_state(warden);
    Client::new(router, Transport::Socket).await
}

/// Asserts a 200 with this JSON body.
fn assert_answers(answer: &Answer, body: Value) {
    assert_eq!((answer.status.as_u16(), answer.body.clone()), (200, body));
}

/// Asserts that the answer's `RateLimit` field shows `remaining`.
fn assert_remaining(answer: &Answer, remaining: u32) {
    let field = answer.header("ratelimit");
    assert!(field.contains(&format!(";r={remaining};")), "{field}");
}

fn warden() -> Warden {
    Warden::builder()
        .jwt(warden_tests::jwt())
        .build()
        .expect("warden")
}

fn tenant_token(sub: &str, tenant: &str) -> String {
    let mut claims = claims(sub, &["user"]);
    claims["tenant"] = json!(tenant);
    hs256(&claims, keys::SECRET, None)
}

#[tokio::test]
async fn handed_auth_arguments_get_the_claims_of_their_own_token() {
    let client = server().await;
    let ana = hs256(&claims("ana", &["user"]), keys::SECRET, None);
    let bo = hs256(&claims("bo", &["user"]), keys::SECRET, None);
    for (token, sub, remaining) in [(&ana, "ana", 99), (&bo, "bo", 99), (&ana, "ana", 98)] {
        let answer = client.get("/only", Some(token)).await;
        assert_answers(&answer, json!(sub));
        // The limit keyed by user counts each user on their own.
        assert_remaining(&answer, remaining);
    }
    let authorization = format!("Bearer {bo}");
    let answer = client
        .call(
            http::Method::POST,
            "/notes",
            &[
                ("authorization", &authorization),
                ("content-type", "application/json"),
            ],
            axum::body::Body::from(r#"{"text":"hello"}"#),
        )
        .await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body, json!({"sub": "bo", "text": "hello"}));
    // Admitted after an object-level check, which admission awaits.
    let answer = client.get("/checked", Some(&ana)).await;
    assert_answers(&answer, json!("ana"));
    let eve = hs256(&claims("eve", &["user"]), keys::SECRET, None);
    let answer = client.get("/checked", Some(&eve)).await;
    assert_eq!(answer.status, 403);
    // Without a token, nothing is handed over: 401, and the handler does
    // not run.
    let answer = client.get("/only", None).await;
    assert_eq!(answer.status, 401);
    assert_eq!(answer.header("www-authenticate"), "Bearer");
}

#[tokio::test]
async fn a_guard_of_a_named_state_hands_auth_over_too() {
    let warden = warden();
    let router = Router::new().route("/shop", get(in_shop)).with_state(Shop {
        warden,
        name: "the corner shop",
    });
    let client = Client::new(router, Transport::Socket).await;
    let ana = hs256(&claims("ana", &["user"]), keys::SECRET, None);
    let answer = client.get("/shop", Some(&ana)).await;
    assert_answers(&answer, json!("ana at the corner shop"));
    assert_remaining(&answer, 99);
    assert_eq!(client.get("/shop", None).await.status, 401);
}

#[tokio::test]
async fn an_extractor_of_the_users_own_reads_the_claims_the_guard_verified() {
    let client = server().await;
    let ana = hs256(&claims("ana", &["user"]), keys::SECRET, None);
    // The header is gone before `CurrentUser` runs: it answers from the
    // claims the guard left, or it would find no token.
    let answer = client.get("/own", Some(&ana)).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert_eq!(answer.body, json!({"auth": "ana", "current": "ana"}));
}

#[tokio::test]
async fn custom_claims_are_read_from_the_token_the_guard_verified() {
    let client = server().await;
    let token = tenant_token("ana", "acme");
    let answer = client.get("/tenant", Some(&token)).await;
    assert_answers(&answer, json!("ana@acme"));
    let answer = client
        .get("/both", Some(&tenant_token("bo", "globex")))
        .await;
    assert_answers(&answer, json!("bo bo@globex"));
    // A token whose payload lacks the custom claim is refused by the
    // extractor, with the limit's fields still on the answer.
    let plain = hs256(&claims("cy", &["user"]), keys::SECRET, None);
    let answer = client.get("/tenant", Some(&plain)).await;
    assert_eq!(answer.status, 401);
    assert_remaining(&answer, 99);
}
