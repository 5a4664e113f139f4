//! Sessions: the access token and refresh-token family a `Warden` issues
//! together, linked by the standard `sid` claim; typed roles; and the
//! build-time check narrowed to the handlers an application serves.

use axum::Router;
use axum::routing::get;
use http::StatusCode;
use warden::auth::refresh::{RefreshError, RefreshTokens};
use warden::auth::{AccessClaims, IssueError, Role as _, Session, SessionError};
use warden::{BuildError, Warden};
use warden_tests::{Backend, Captured, Client, Transport, jwt, on_both_stores};

#[derive(Debug, Clone, Copy, PartialEq, Eq, warden::Role)]
enum Role {
    Admin,
    #[role(rename = "support-agent")]
    Support,
}

/// Handlers of an application that names a policy no builder below
/// defines, so that only a builder that checks every handler refuses it.
mod elsewhere {
    use warden::rate_limit;

    #[rate_limit("defined-by-another-application")]
    pub async fn other() -> &'static str {
        "other"
    }
}

/// The handlers the application under test serves.
mod served {
    use warden::{Auth, protected};

    /// This module's path, for `handlers_in`.
    pub(crate) const PATH: &str = module_path!();

    #[protected]
    pub(crate) async fn whoami(user: Auth) -> String {
        format!(
            "{} {}",
            user.sub(),
            user.session().map(|s| s.0).unwrap_or_default()
        )
    }
}

fn builder() -> warden::WardenBuilder {
    Warden::builder().jwt(jwt()).handlers_in(served::PATH)
}

async fn warden_on(backend: &Backend) -> Warden {
    backend.store(builder()).await.build().unwrap()
}

async fn a_session_links_its_access_token_to_its_refresh_family(backend: Backend) {
    let warden = warden_on(&backend).await;
    let session = warden
        .sign_in(AccessClaims::new("user-7").roles([Role::Support]))
        .await
        .unwrap();
    let claims = warden.verify_access_token(&session.access.token).unwrap();
    assert_eq!(claims.sid(), Some(session.id().0.as_str()));
    assert_eq!(claims.session().as_ref(), Some(session.id()));
    assert!(claims.roles().eq(["support-agent"]));
    assert_eq!(
        claims.roles_of::<Role>().collect::<Vec<_>>(),
        [Role::Support]
    );

    // The extractor reads the same session.
    let app = Client::new(
        Router::new()
            .route("/whoami", get(served::whoami))
            .with_state(warden.clone()),
        Transport::InProcess,
    )
    .await;
    let answer = app.get("/whoami", Some(&session.access.token)).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body, format!("user-7 {}", session.id().0));

    // Refresh: the same family, a new token pair, the roles read anew.
    let rotated = warden
        .refresh(session.refresh.token.expose())
        .await
        .unwrap();
    assert_eq!(rotated.subject, "user-7");
    let next = warden
        .resume(rotated, AccessClaims::new("user-7").roles([Role::Admin]))
        .unwrap();
    assert_eq!(next.id(), session.id());
    assert_ne!(next.refresh.token, session.refresh.token);
    let claims = warden.verify_access_token(&next.access.token).unwrap();
    assert_eq!(claims.session().as_ref(), Some(session.id()));
    assert_eq!(claims.roles_of::<Role>().collect::<Vec<_>>(), [Role::Admin]);

    // The spent token again: reuse, and the family is gone.
    assert_eq!(
        warden
            .refresh(session.refresh.token.expose())
            .await
            .unwrap_err(),
        RefreshError::Reused
    );
    assert_eq!(
        warden
            .refresh(next.refresh.token.expose())
            .await
            .unwrap_err(),
        RefreshError::Revoked
    );
}

async fn sign_out_ends_the_family_of_the_token_and_no_other(backend: Backend) {
    let warden = warden_on(&backend).await;
    let phone = warden.sign_in(AccessClaims::new("user-7")).await.unwrap();
    let laptop = warden.sign_in(AccessClaims::new("user-7")).await.unwrap();
    assert_ne!(phone.id(), laptop.id());
    let claims = warden.verify_access_token(&phone.access.token).unwrap();
    warden.sign_out(&claims).await.unwrap();
    assert_eq!(
        warden
            .refresh(phone.refresh.token.expose())
            .await
            .unwrap_err(),
        RefreshError::Revoked
    );
    let rotated = warden.refresh(laptop.refresh.token.expose()).await.unwrap();
    assert_eq!(rotated.subject, "user-7");
}

on_both_stores!(
    a_session_links_its_access_token_to_its_refresh_family,
    sign_out_ends_the_family_of_the_token_and_no_other,
);

#[tokio::test]
async fn resume_refuses_claims_for_another_subject() {
    let warden = builder().build().unwrap();
    let session: Session = warden.sign_in(AccessClaims::new("alice")).await.unwrap();
    let rotated = warden
        .refresh(session.refresh.token.expose())
        .await
        .unwrap();
    let error = warden
        .resume(rotated, AccessClaims::new("mallory"))
        .unwrap_err();
    assert_eq!(error, SessionError::SubjectMismatch);
}

#[tokio::test]
async fn the_session_claim_is_warden_s_own() {
    let warden = builder().build().unwrap();
    assert_eq!(
        AccessClaims::new("u").claim("sid", "forged").unwrap_err(),
        IssueError::ReservedClaim("sid".into())
    );
    // A token issued outside a session has none, and signing it out ends
    // nothing.
    let issued = warden
        .issue_access_token(&AccessClaims::new("user-7"))
        .unwrap();
    let claims = warden.verify_access_token(&issued.token).unwrap();
    assert_eq!((claims.sid(), claims.session()), (None, None));
    warden
        .sign_out(&warden.verify_access_token(&issued.token).unwrap())
        .await
        .unwrap();
    assert_eq!(
        warden.sign_in(AccessClaims::new("")).await.unwrap_err(),
        SessionError::Issue(IssueError::EmptySubject)
    );
}

#[tokio::test]
async fn a_session_without_a_signing_key_leaves_no_family_behind() {
    let public = warden::auth::Key::rs256(warden_tests::keys::RSA_PUBLIC).unwrap();
    let store = std::sync::Arc::new(warden::auth::refresh::MemoryTokenStore::new());
    let warden = Warden::builder()
        .jwt(warden::auth::Jwt::new(public).issuer("i").audience("a"))
        .refresh_tokens(RefreshTokens::new(store.clone()))
        .handlers_in(served::PATH)
        .build()
        .unwrap();
    assert_eq!(
        warden
            .sign_in(AccessClaims::new("user-7"))
            .await
            .unwrap_err(),
        SessionError::Issue(IssueError::NoSigningKey)
    );
    assert_eq!(store.families_of("user-7"), 0);
    assert!(store.is_empty());
}

#[test]
fn roles_are_read_back_typed_and_unknown_names_are_none() {
    assert_eq!(Role::from_name("admin"), Some(Role::Admin));
    assert_eq!(Role::from_name("support-agent"), Some(Role::Support));
    assert_eq!(Role::from_name("Admin"), None);
    assert_eq!(Role::from_name("support"), None);
    assert_eq!(Role::from_name(""), None);
}

#[test]
fn build_checks_every_handler_unless_told_which_the_application_serves() {
    let error = Warden::builder().jwt(jwt()).build().unwrap_err();
    assert!(
        matches!(
            error,
            BuildError::UnknownPolicy {
                name: "defined-by-another-application",
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.to_string().contains(".handlers_in("), "{error}");
    // The application serves the handlers of `served` only.
    assert_eq!(served::PATH, "sessions::served");
    assert!(builder().build().is_ok());
    // A prefix is a whole module path, not a part of a name.
    let error = Warden::builder()
        .jwt(jwt())
        .handlers_in(concat!(module_path!(), "::else"))
        .handlers_in(concat!(module_path!(), "::elsewhere"))
        .build()
        .unwrap_err();
    assert!(
        matches!(error, BuildError::UnknownPolicy { .. }),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_served_handler_whose_policy_is_undefined_is_a_configuration_error() {
    let captured = Captured::default();
    let _guard = captured.install();
    let warden = builder().build().unwrap();
    let app = Client::new(
        Router::new()
            .route("/other", get(elsewhere::other))
            .with_state(warden),
        Transport::InProcess,
    )
    .await;
    let answer = app.get("/other", None).await;
    answer.assert_problem(StatusCode::INTERNAL_SERVER_ERROR, "configuration_error");
    assert!(answer.headers.get("retry-after").is_none());
    let logged = captured.text();
    assert!(logged.contains("policy_undefined"), "{logged}");
    assert!(
        logged.contains("defined-by-another-application"),
        "{logged}"
    );
}
