//! `#[protected]` end to end: every way a token can be wrong, every policy
//! form, through a real `Router`, and proof that no rejected request reached
//! a handler.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use http::request::Parts;
use http::{Request, StatusCode};
use jsonwebtoken::{Algorithm, EncodingKey};
use serde::Deserialize;
use serde_json::{Value, json};
use warden::auth::{AccessClaims, Claims, Decision, Jwt, Key};
use warden::{Auth, Warden, protected};
use warden_tests::{
    Answer, AppState, Client, Hits, Transport, b64, claims, forge, hs256, keys, now,
};

#[derive(Clone, Copy, warden::Role)]
enum Role {
    Admin,
    User,
    Guest,
}

#[protected]
async fn any_user(State(hits): State<Hits>, user: Auth) -> Json<Value> {
    hits.hit();
    Json(json!({"sub": user.sub(), "roles": user.roles().collect::<Vec<_>>()}))
}

#[protected(role = Role::Admin)]
async fn admin(State(hits): State<Hits>) -> &'static str {
    hits.hit();
    "admin"
}

#[protected(scope = "reports:read")]
async fn reports(State(hits): State<Hits>) -> &'static str {
    hits.hit();
    "reports"
}

#[protected(any(role = Role::Admin, scope = "reports:read"), not(role = Role::Guest))]
async fn mixed(State(hits): State<Hits>) -> &'static str {
    hits.hit();
    "mixed"
}

#[protected(all(role = Role::User, any(scope = "a", scope = "b")))]
async fn nested(State(hits): State<Hits>) -> &'static str {
    hits.hit();
    "nested"
}

/// `user-N` owns report N; report 404 is hidden from everyone.
async fn owns_report(claims: &Claims, parts: &mut Parts) -> Decision {
    let Ok(Path(id)) = Path::<u64>::from_request_parts(parts, &()).await else {
        return Decision::Deny;
    };
    if id == 404 {
        return Decision::NotFound;
    }
    Decision::from(claims.sub() == format!("user-{id}"))
}

use axum::extract::FromRequestParts as _;

#[protected(role = Role::User, check = owns_report)]
async fn report(State(hits): State<Hits>, Path(id): Path<u64>) -> String {
    hits.hit();
    format!("report {id}")
}

async fn is_even_user(claims: &Claims, _parts: &mut Parts) -> bool {
    claims.sub().ends_with(['0', '2', '4', '6', '8'])
}

#[protected(check = is_even_user)]
async fn even(State(hits): State<Hits>) -> &'static str {
    hits.hit();
    "even"
}

#[derive(Deserialize)]
struct TenantClaims {
    sub: String,
    tenant: String,
}

#[protected]
async fn tenant(State(hits): State<Hits>, claims: Auth<TenantClaims>) -> String {
    hits.hit();
    format!("{}@{}", claims.sub, claims.tenant)
}

#[derive(Deserialize)]
struct Note {
    text: String,
}

#[protected]
async fn create_note(State(hits): State<Hits>, Json(note): Json<Note>) -> String {
    hits.hit();
    note.text
}

/// Not `#[protected]`: `Auth` verifies the token on its own.
async fn standalone(State(hits): State<Hits>, user: Auth) -> String {
    hits.hit();
    user.sub().to_owned()
}

fn jwt() -> Jwt {
    Jwt::new(Key::hs256(keys::SECRET).unwrap().with_kid("k2"))
        .verification_key(Key::hs256(keys::OLD_SECRET).unwrap().with_kid("k1"))
        .issuer("warden-tests")
        .audience("warden-tests")
}

async fn app_with(jwt: Jwt, transport: Transport) -> (Client, Hits, Warden) {
    let warden = Warden::builder().jwt(jwt).build().unwrap();
    let hits = Hits::default();
    let router = Router::new()
        .route("/any", get(any_user))
        .route("/admin", get(admin))
        .route("/reports", get(reports))
        .route("/mixed", get(mixed))
        .route("/nested", get(nested))
        .route("/reports/{id}", get(report))
        .route("/even", get(even))
        .route("/tenant", get(tenant))
        .route("/notes", post(create_note))
        .route("/standalone", get(standalone))
        .with_state(AppState {
            warden: warden.clone(),
            hits: hits.clone(),
        });
    (Client::new(router, transport).await, hits, warden)
}

async fn app(transport: Transport) -> (Client, Hits, Warden) {
    app_with(jwt(), transport).await
}

fn valid(sub: &str, roles: &[&str]) -> String {
    hs256(&claims(sub, roles), keys::SECRET, Some("k2"))
}

fn with(mut claims: Value, edit: impl FnOnce(&mut serde_json::Map<String, Value>)) -> Value {
    edit(claims.as_object_mut().unwrap());
    claims
}

/// Asserts a 401 `invalid_token` with its challenge, and that the body does
/// not echo the token.
fn assert_invalid(answer: &Answer, token: &str) {
    answer.assert_problem(StatusCode::UNAUTHORIZED, "invalid_token");
    assert!(
        answer
            .header("www-authenticate")
            .starts_with(r#"Bearer error="invalid_token""#),
        "{answer:?}"
    );
    let body = answer.body.to_string();
    if token.len() > 8 {
        assert!(!body.contains(token), "the token was echoed: {body}");
        let signature = token.rsplit('.').next().unwrap_or("");
        if signature.len() > 8 {
            assert!(
                !body.contains(signature),
                "the signature was echoed: {body}"
            );
        }
    }
}

fn assert_invalid_request(answer: &Answer) {
    answer.assert_problem(StatusCode::BAD_REQUEST, "invalid_request");
    assert_eq!(
        answer.header("www-authenticate"),
        r#"Bearer error="invalid_request""#
    );
}

async fn a_valid_token_reaches_the_handler_with_its_claims(transport: Transport) {
    let (app, hits, _) = app(transport).await;
    let answer = app.get("/any", Some(&valid("user-1", &["user"]))).await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    assert_eq!(answer.body, json!({"sub": "user-1", "roles": ["user"]}));
    assert_eq!(hits.count(), 1);
}

async fn no_token_is_a_bare_bearer_challenge(transport: Transport) {
    let (app, hits, _) = app(transport).await;
    let answer = app.get("/any", None).await;
    answer.assert_problem(StatusCode::UNAUTHORIZED, "missing_token");
    assert_eq!(answer.header("www-authenticate"), "Bearer");

    // Another scheme is no bearer token either (RFC 6750 section 3.1).
    let request = Request::get("/any")
        .header("authorization", "Basic dXNlcjpwYXNzd29yZA==")
        .body(Body::empty())
        .unwrap();
    let answer = app.send(request).await;
    answer.assert_problem(StatusCode::UNAUTHORIZED, "missing_token");
    assert_eq!(answer.header("www-authenticate"), "Bearer");
    assert_eq!(hits.count(), 0);
}

async fn the_bearer_scheme_is_case_insensitive(transport: Transport) {
    let (app, _, _) = app(transport).await;
    let token = valid("user-1", &[]);
    for scheme in ["bearer", "BEARER", "BeArEr"] {
        let request = Request::get("/any")
            .header("authorization", format!("{scheme} {token}"))
            .body(Body::empty())
            .unwrap();
        assert_eq!(app.send(request).await.status, StatusCode::OK, "{scheme}");
    }
}

async fn empty_garbage_and_oversized_tokens_are_refused(transport: Transport) {
    let (app, hits, _) = app(transport).await;
    let huge = format!("{}.{}.{}", b64("{}"), "A".repeat(100 * 1024), "sig");
    // The scheme without a token is a malformed request (RFC 6750 3.1).
    for token in ["", " "] {
        let answer = app.get("/any", Some(token)).await;
        assert_invalid_request(&answer);
    }
    for token in ["garbage", "a.b.c", "....", "eyJ.eyJ.x", "x.y", &huge] {
        let answer = app.get("/any", Some(token)).await;
        assert_invalid(&answer, token);
    }
    // Two Authorization headers: more than one way of sending a token, a
    // malformed request, even when one of them is valid.
    let request = Request::get("/any")
        .header("authorization", format!("Bearer {}", valid("user-1", &[])))
        .header("authorization", "Bearer other")
        .body(Body::empty())
        .unwrap();
    assert_invalid_request(&app.send(request).await);
    // Bytes that are not visible ASCII.
    let request = Request::get("/any")
        .header(
            "authorization",
            http::HeaderValue::from_bytes(b"Bearer \xff\xfe").unwrap(),
        )
        .body(Body::empty())
        .unwrap();
    assert_invalid(&app.send(request).await, "");
    assert_eq!(hits.count(), 0);
}

async fn alg_none_is_refused(transport: Transport) {
    let (app, hits, _) = app(transport).await;
    let payload = b64(claims("user-1", &["admin"]).to_string());
    for alg in ["none", "None", "NONE"] {
        let header = b64(json!({"alg": alg, "typ": "at+jwt", "kid": "k2"}).to_string());
        for token in [
            format!("{header}.{payload}."),
            format!("{header}.{payload}"),
        ] {
            assert_invalid(&app.get("/admin", Some(&token)).await, &token);
        }
    }
    assert_eq!(hits.count(), 0);
}

async fn a_token_signed_with_another_key_is_refused(transport: Transport) {
    let (app, hits, _) = app(transport).await;
    let claims = claims("user-1", &["admin"]);
    for kid in [Some("k2"), Some("k1"), None] {
        let token = hs256(&claims, keys::FOREIGN_SECRET, kid);
        assert_invalid(&app.get("/admin", Some(&token)).await, &token);
    }
    // The old key's token presented under the new key's kid.
    let token = hs256(&claims, keys::OLD_SECRET, Some("k2"));
    assert_invalid(&app.get("/admin", Some(&token)).await, &token);
    assert_eq!(hits.count(), 0);
}

async fn a_token_of_another_algorithm_is_refused(transport: Transport) {
    let (app, hits, _) = app(transport).await;
    let claims = claims("user-1", &["admin"]);
    let hs512 = forge(
        &json!({"alg": "HS512", "typ": "at+jwt", "kid": "k2"}),
        &claims,
        &EncodingKey::from_secret(keys::SECRET).unwrap(),
        Algorithm::HS512,
    );
    let rs256 = forge(
        &json!({"alg": "RS256", "typ": "at+jwt", "kid": "k2"}),
        &claims,
        &EncodingKey::from_rsa_pem(keys::RSA_PRIVATE).unwrap(),
        Algorithm::RS256,
    );
    // The header claims HS384 but the signature is HS256.
    let mislabelled = {
        let good = hs256(&claims, keys::SECRET, Some("k2"));
        let header = b64(json!({"alg": "HS384", "typ": "at+jwt", "kid": "k2"}).to_string());
        let mut parts = good.splitn(2, '.');
        parts.next();
        format!("{header}.{}", parts.next().unwrap())
    };
    for token in [hs512, rs256, mislabelled] {
        assert_invalid(&app.get("/admin", Some(&token)).await, &token);
    }
    assert_eq!(hits.count(), 0);
}

async fn an_rsa_public_key_cannot_be_used_as_an_hmac_secret(transport: Transport) {
    // Algorithm confusion: the attacker signs HS256 with the server's
    // public RSA key as the secret.
    let jwt = Jwt::new(Key::rs256(keys::RSA_PUBLIC).unwrap())
        .issuer("warden-tests")
        .audience("warden-tests");
    let (app, hits, _) = app_with(jwt, transport).await;
    let token = forge(
        &json!({"alg": "HS256", "typ": "at+jwt"}),
        &claims("user-1", &["admin"]),
        &EncodingKey::from_secret(keys::RSA_PUBLIC).unwrap(),
        Algorithm::HS256,
    );
    assert_invalid(&app.get("/admin", Some(&token)).await, &token);
    assert_eq!(hits.count(), 0);
}

async fn expired_and_not_yet_valid_tokens_are_refused(transport: Transport) {
    let (app, hits, _) = app(transport).await;
    let expired = with(claims("user-1", &[]), |c| {
        c.insert("exp".into(), (now() - 120).into());
    });
    let token = hs256(&expired, keys::SECRET, Some("k2"));
    let answer = app.get("/any", Some(&token)).await;
    assert_invalid(&answer, &token);
    assert_eq!(answer.body["detail"], "the access token has expired");

    let future = with(claims("user-1", &[]), |c| {
        c.insert("nbf".into(), (now() + 600).into());
    });
    let token = hs256(&future, keys::SECRET, Some("k2"));
    let answer = app.get("/any", Some(&token)).await;
    assert_invalid(&answer, &token);
    assert_eq!(answer.body["detail"], "the access token is invalid");
    assert_eq!(hits.count(), 0);
}

async fn expiry_within_the_leeway_is_tolerated(transport: Transport) {
    let (app, _, _) = app(transport).await;
    let just_expired = with(claims("user-1", &[]), |c| {
        c.insert("exp".into(), (now() - 5).into());
    });
    let token = hs256(&just_expired, keys::SECRET, Some("k2"));
    assert_eq!(app.get("/any", Some(&token)).await.status, StatusCode::OK);
}

async fn wrong_issuer_and_audience_are_refused(transport: Transport) {
    let (app, hits, _) = app(transport).await;
    let edits: [(&str, Value); 4] = [
        ("iss", "someone-else".into()),
        ("aud", "another-api".into()),
        ("aud", json!(["another-api", "a-third"])),
        ("iss", json!(42)),
    ];
    for (claim, value) in edits {
        let wrong = with(claims("user-1", &[]), |c| {
            c.insert(claim.into(), value);
        });
        let token = hs256(&wrong, keys::SECRET, Some("k2"));
        assert_invalid(&app.get("/any", Some(&token)).await, &token);
    }
    // An audience list that contains ours is fine.
    let listed = with(claims("user-1", &[]), |c| {
        c.insert("aud".into(), json!(["another-api", "warden-tests"]));
    });
    let token = hs256(&listed, keys::SECRET, Some("k2"));
    assert_eq!(app.get("/any", Some(&token)).await.status, StatusCode::OK);
    assert_eq!(hits.count(), 1);
}

async fn every_required_claim_must_be_present(transport: Transport) {
    let (app, hits, _) = app(transport).await;
    for claim in ["sub", "exp", "iss", "aud"] {
        let missing = with(claims("user-1", &[]), |c| {
            c.remove(claim);
        });
        let token = hs256(&missing, keys::SECRET, Some("k2"));
        assert_invalid(&app.get("/any", Some(&token)).await, &token);
    }
    let empty_sub = with(claims("user-1", &[]), |c| {
        c.insert("sub".into(), "".into());
    });
    let token = hs256(&empty_sub, keys::SECRET, Some("k2"));
    assert_invalid(&app.get("/any", Some(&token)).await, &token);
    assert_eq!(hits.count(), 0);
}

async fn a_tampered_payload_is_refused(transport: Transport) {
    let (app, hits, _) = app(transport).await;
    let token = valid("user-1", &["user"]);
    let mut parts: Vec<&str> = token.split('.').collect();
    let elevated = b64(claims("user-1", &["admin"]).to_string());
    parts[1] = &elevated;
    let tampered = parts.join(".");
    assert_invalid(&app.get("/admin", Some(&tampered)).await, &tampered);
    assert_eq!(hits.count(), 0);
}

async fn only_access_tokens_are_accepted(transport: Transport) {
    let (app, hits, _) = app(transport).await;
    let key = EncodingKey::from_secret(keys::SECRET).unwrap();
    let claims = claims("user-1", &[]);
    let headers = [
        json!({"alg": "HS256", "typ": "JWT", "kid": "k2"}),
        json!({"alg": "HS256", "kid": "k2"}),
        json!({"alg": "HS256", "typ": "refresh+jwt", "kid": "k2"}),
        json!({"alg": "HS256", "typ": "secevent+jwt", "kid": "k2"}),
    ];
    for header in &headers {
        let token = forge(header, &claims, &key, Algorithm::HS256);
        assert_invalid(&app.get("/any", Some(&token)).await, &token);
    }
    assert_eq!(hits.count(), 0);

    // The explicitly named option lets `JWT` and untyped tokens in, and
    // still nothing else.
    let (lenient, hits, _) = app_with(jwt().accept_foreign_token_types(), transport).await;
    for header in &headers[..2] {
        let token = forge(header, &claims, &key, Algorithm::HS256);
        assert_eq!(
            lenient.get("/any", Some(&token)).await.status,
            StatusCode::OK
        );
    }
    for header in &headers[2..] {
        let token = forge(header, &claims, &key, Algorithm::HS256);
        assert_invalid(&lenient.get("/any", Some(&token)).await, &token);
    }
    assert_eq!(hits.count(), 2);
}

async fn keys_rotate_by_kid(transport: Transport) {
    let (app, hits, _) = app(transport).await;
    let claims = claims("user-1", &[]);
    // The previous key still verifies its own tokens.
    let old = hs256(&claims, keys::OLD_SECRET, Some("k1"));
    assert_eq!(app.get("/any", Some(&old)).await.status, StatusCode::OK);
    // A kid that was rotated out, or never existed, is refused.
    for kid in [Some("k0"), Some("unknown"), None] {
        let token = hs256(&claims, keys::SECRET, kid);
        assert_invalid(&app.get("/any", Some(&token)).await, &token);
    }
    assert_eq!(hits.count(), 1);
}

async fn roles_are_checked(transport: Transport) {
    let (app, hits, _) = app(transport).await;
    let answer = app.get("/admin", Some(&valid("user-1", &["user"]))).await;
    answer.assert_problem(StatusCode::FORBIDDEN, "insufficient_scope");
    assert_eq!(
        answer.header("www-authenticate"),
        r#"Bearer error="insufficient_scope""#
    );
    assert_eq!(hits.count(), 0);
    let answer = app
        .get("/admin", Some(&valid("user-1", &["user", "admin"])))
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(hits.count(), 1);
    // The role is matched exactly, not as a substring or case-insensitively.
    for roles in [&["Admin"][..], &["administrator"], &["admin "], &[]] {
        let answer = app.get("/admin", Some(&valid("user-1", roles))).await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{roles:?}");
    }
    assert_eq!(hits.count(), 1);
}

fn scoped(scope: &str, roles: &[&str]) -> String {
    let claims = with(claims("user-1", roles), |c| {
        c.insert("scope".into(), scope.into());
    });
    hs256(&claims, keys::SECRET, Some("k2"))
}

async fn scopes_are_checked(transport: Transport) {
    let (app, hits, _) = app(transport).await;
    for scope in ["reports:read", "users:write reports:read"] {
        assert_eq!(
            app.get("/reports", Some(&scoped(scope, &[]))).await.status,
            StatusCode::OK
        );
    }
    for scope in ["reports:write", "reports", "reports:readx", ""] {
        let answer = app.get("/reports", Some(&scoped(scope, &[]))).await;
        answer.assert_problem(StatusCode::FORBIDDEN, "insufficient_scope");
    }
    assert_eq!(hits.count(), 2);
}

async fn any_all_and_not_combine(transport: Transport) {
    let (app, hits, _) = app(transport).await;
    let cases = [
        ("/mixed", scoped("", &["admin"]), StatusCode::OK),
        ("/mixed", scoped("reports:read", &[]), StatusCode::OK),
        (
            "/mixed",
            scoped("reports:read", &["guest"]),
            StatusCode::FORBIDDEN,
        ),
        (
            "/mixed",
            scoped("", &["admin", "guest"]),
            StatusCode::FORBIDDEN,
        ),
        ("/mixed", scoped("", &["user"]), StatusCode::FORBIDDEN),
        ("/nested", scoped("a", &["user"]), StatusCode::OK),
        ("/nested", scoped("b", &["user"]), StatusCode::OK),
        ("/nested", scoped("c", &["user"]), StatusCode::FORBIDDEN),
        ("/nested", scoped("a b", &["admin"]), StatusCode::FORBIDDEN),
    ];
    let mut admitted = 0;
    for (path, token, status) in &cases {
        let answer = app.get(path, Some(token)).await;
        assert_eq!(answer.status, *status, "{path} {answer:?}");
        admitted += usize::from(*status == StatusCode::OK);
    }
    assert_eq!(hits.count(), admitted);
    let _ = Role::Guest;
}

async fn object_level_checks_allow_deny_and_hide(transport: Transport) {
    let (app, hits, _) = app(transport).await;
    let owner = valid("user-7", &["user"]);
    let answer = app.get("/reports/7", Some(&owner)).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body, "report 7");

    let answer = app.get("/reports/8", Some(&owner)).await;
    answer.assert_problem(StatusCode::FORBIDDEN, "forbidden");

    let answer = app.get("/reports/404", Some(&owner)).await;
    answer.assert_problem(StatusCode::NOT_FOUND, "not_found");

    // The role requirement is checked before the object-level check.
    let answer = app
        .get("/reports/7", Some(&valid("user-7", &["guest"])))
        .await;
    answer.assert_problem(StatusCode::FORBIDDEN, "insufficient_scope");

    // A check returning bool.
    assert_eq!(
        app.get("/even", Some(&valid("user-2", &[]))).await.status,
        StatusCode::OK
    );
    app.get("/even", Some(&valid("user-3", &[])))
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    assert_eq!(hits.count(), 2);
}

async fn custom_claims_are_read_from_the_verified_token(transport: Transport) {
    let (app, hits, warden) = app(transport).await;
    let issued = warden
        .issue_access_token(&AccessClaims::new("user-5").claim("tenant", "acme").unwrap())
        .unwrap();
    let answer = app.get("/tenant", Some(&issued.token)).await;
    assert_eq!(answer.body, "user-5@acme");
    // A valid token without the claim the type needs.
    let answer = app.get("/tenant", Some(&valid("user-5", &[]))).await;
    assert_invalid(&answer, "");
    assert_eq!(hits.count(), 1);
}

async fn a_rejected_request_never_reads_the_body(transport: Transport) {
    let (app, hits, _) = app(transport).await;
    // Not JSON, no content type: a handler that ran its extractors would
    // answer 415. The guard answers first.
    let request = Request::post("/notes")
        .header("authorization", "Bearer nope")
        .body(Body::from("this is not json"))
        .unwrap();
    assert_invalid(&app.send(request).await, "");
    let request = Request::post("/notes")
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {}", valid("user-1", &[])))
        .body(Body::from(r#"{"text":"hello"}"#))
        .unwrap();
    let answer = app.send(request).await;
    assert_eq!(answer.body, "hello");
    assert_eq!(hits.count(), 1);
}

async fn auth_alone_verifies_the_token(transport: Transport) {
    let (app, hits, _) = app(transport).await;
    app.get("/standalone", None)
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "missing_token");
    let expired = with(claims("user-1", &[]), |c| {
        c.insert("exp".into(), (now() - 3600).into());
    });
    let token = hs256(&expired, keys::SECRET, Some("k2"));
    assert_invalid(&app.get("/standalone", Some(&token)).await, &token);
    assert_eq!(hits.count(), 0);
    let answer = app.get("/standalone", Some(&valid("user-9", &[]))).await;
    assert_eq!(answer.body, "user-9");
    assert_eq!(hits.count(), 1);
}

async fn issued_tokens_carry_roles_and_scopes(transport: Transport) {
    let (app, _, warden) = app(transport).await;
    let token = warden
        .issue_access_token(
            &AccessClaims::new("user-3")
                .roles([Role::Admin, Role::User])
                .scopes(["reports:read"]),
        )
        .unwrap();
    for path in ["/admin", "/reports", "/mixed"] {
        assert_eq!(
            app.get(path, Some(&token.token)).await.status,
            StatusCode::OK,
            "{path}"
        );
    }
}

/// A small deterministic generator, so that a failure can be replayed.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

async fn no_mutation_of_a_valid_token_is_accepted_or_panics(transport: Transport) {
    let (app, hits, _) = app(transport).await;
    let original = valid("user-1", &["user"]);
    let alphabet: Vec<u8> = (0x21u8..0x7f).collect();
    let mut rng = XorShift(0x5eed_1234_abcd_9876);
    let mut tried = 0;
    // Every single-character substitution at every position, then random
    // truncations and splices.
    let mut candidates: Vec<String> = Vec::new();
    for i in 0..original.len() {
        let mut bytes = original.clone().into_bytes();
        let replacement = alphabet[rng.below(alphabet.len())];
        if bytes[i] == replacement {
            continue;
        }
        bytes[i] = replacement;
        candidates.push(String::from_utf8(bytes).unwrap());
    }
    for _ in 0..300 {
        let cut = rng.below(original.len());
        candidates.push(original[..cut].to_owned());
        let at = rng.below(original.len());
        let junk: String = (0..rng.below(40) + 1)
            .map(|_| alphabet[rng.below(alphabet.len())] as char)
            .collect();
        candidates.push(format!("{}{}{}", &original[..at], junk, &original[at..]));
    }
    for candidate in candidates {
        let Ok(value) = http::HeaderValue::from_str(&format!("Bearer {candidate}")) else {
            continue;
        };
        let request = Request::get("/any")
            .header("authorization", value)
            .body(Body::empty())
            .unwrap();
        let answer = app.send(request).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{candidate}");
        tried += 1;
    }
    assert!(tried > 500, "{tried}");
    assert_eq!(hits.count(), 0);
}

async fn asymmetric_algorithms_sign_and_verify(transport: Transport) {
    let configs = [
        (
            Key::rs256(keys::RSA_PUBLIC)
                .unwrap()
                .with_private_pem(keys::RSA_PRIVATE)
                .unwrap(),
            "RS256",
        ),
        (
            Key::es256(keys::EC_PUBLIC)
                .unwrap()
                .with_private_pem(keys::EC_PRIVATE)
                .unwrap(),
            "ES256",
        ),
        (
            Key::eddsa(keys::ED_PUBLIC)
                .unwrap()
                .with_private_pem(keys::ED_PRIVATE)
                .unwrap(),
            "EdDSA",
        ),
    ];
    for (key, name) in configs {
        let jwt = Jwt::new(key)
            .issuer("warden-tests")
            .audience("warden-tests");
        let (app, _, warden) = app_with(jwt, transport).await;
        let token = warden
            .issue_access_token(&AccessClaims::new("user-1").roles([Role::Admin]))
            .unwrap();
        let header = jsonwebtoken::decode_header(&token.token).unwrap();
        assert_eq!(format!("{:?}", header.alg), name);
        assert_eq!(
            app.get("/admin", Some(&token.token)).await.status,
            StatusCode::OK,
            "{name}"
        );
        // An HS256 token is not accepted by an asymmetric configuration.
        let hs = hs256(&claims("user-1", &["admin"]), keys::SECRET, None);
        assert_invalid(&app.get("/admin", Some(&hs)).await, &hs);
    }
    // ES256 signed by another P-256 key.
    let jwt = Jwt::new(Key::es256(keys::EC_PUBLIC).unwrap())
        .issuer("warden-tests")
        .audience("warden-tests");
    let (app, hits, _) = app_with(jwt, transport).await;
    let token = forge(
        &json!({"alg": "ES256", "typ": "at+jwt"}),
        &claims("user-1", &["admin"]),
        &EncodingKey::from_ec_pem(keys::EC_OTHER_PRIVATE).unwrap(),
        Algorithm::ES256,
    );
    assert_invalid(&app.get("/admin", Some(&token)).await, &token);
    assert_eq!(hits.count(), 0);
}

#[test]
fn unsafe_key_configurations_are_refused() {
    use warden::auth::KeyError;
    assert!(matches!(
        Key::rs256(keys::RSA_1024_PUBLIC),
        Err(KeyError::RsaTooSmall { got_bits: 1024, .. })
    ));
    assert!(Key::rs256(keys::RSA_PUBLIC).is_ok());
    // A private key that does not belong to the public key.
    assert!(matches!(
        Key::es256(keys::EC_PUBLIC)
            .unwrap()
            .with_private_pem(keys::EC_OTHER_PRIVATE),
        Err(KeyError::Mismatch { .. })
    ));
    // A verify-only configuration cannot issue.
    let warden = Warden::builder()
        .jwt(
            Jwt::new(Key::rs256(keys::RSA_PUBLIC).unwrap())
                .issuer("i")
                .audience("a"),
        )
        .build()
        .unwrap();
    assert_eq!(
        warden.issue_access_token(&AccessClaims::new("u")).err(),
        Some(warden::auth::IssueError::NoSigningKey)
    );
    // This program has #[protected] handlers: a Warden without JWT is refused.
    assert!(matches!(
        Warden::builder().build().err(),
        Some(warden::BuildError::NoJwt { .. })
    ));
}

warden_tests::on_both_transports!(
    a_valid_token_reaches_the_handler_with_its_claims,
    no_token_is_a_bare_bearer_challenge,
    the_bearer_scheme_is_case_insensitive,
    empty_garbage_and_oversized_tokens_are_refused,
    alg_none_is_refused,
    a_token_signed_with_another_key_is_refused,
    a_token_of_another_algorithm_is_refused,
    an_rsa_public_key_cannot_be_used_as_an_hmac_secret,
    expired_and_not_yet_valid_tokens_are_refused,
    expiry_within_the_leeway_is_tolerated,
    wrong_issuer_and_audience_are_refused,
    every_required_claim_must_be_present,
    a_tampered_payload_is_refused,
    only_access_tokens_are_accepted,
    keys_rotate_by_kid,
    roles_are_checked,
    scopes_are_checked,
    any_all_and_not_combine,
    object_level_checks_allow_deny_and_hide,
    custom_claims_are_read_from_the_verified_token,
    a_rejected_request_never_reads_the_body,
    auth_alone_verifies_the_token,
    issued_tokens_carry_roles_and_scopes,
    no_mutation_of_a_valid_token_is_accepted_or_panics,
    asymmetric_algorithms_sign_and_verify,
);
