//! The reference API's sign-in through an OpenID Connect provider
//! (`examples/api/README.md`, the section on providers), against the
//! loopback provider of `warden_tests::oidc_provider`, over real sockets.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use warden_tests::Answer;
use warden_tests::oidc_provider::{Browser, FakeProvider, User};

const PASSWORD: &str = "Str0ng&Secure!";

struct Api {
    base: String,
    http: reqwest::Client,
}

impl Api {
    /// The API with the provider `oidc` configured, and `admins` as
    /// `$ADMIN_EMAILS`.
    async fn start(provider: &FakeProvider, admins: &[&str]) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        provider.set_redirect_uri(&format!("{base}/auth/oidc/callback"));
        let mut config = api::Config::for_tests();
        config.public_url = Some(base.clone());
        config.admin_emails = admins.iter().map(|s| (*s).to_owned()).collect();
        config.providers = vec![api::ProviderConfig {
            name: "oidc".into(),
            issuer: provider.issuer(),
            client_id: provider.client_id(),
            client_secret: provider.client_secret(),
        }];
        Self::serve(config, listener, base).await
    }

    async fn serve(config: api::Config, listener: tokio::net::TcpListener, base: String) -> Self {
        let router = api::app(&config).await.expect("api");
        tokio::spawn(api::serve(router, listener, std::future::pending()));
        Self {
            base,
            http: reqwest::Client::new(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn sign_in(&self) -> Answer {
        Browser::new().follow(&self.url("/auth/oidc")).await.1
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        let mut request = self.http.request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request");
        let status = response.status();
        let headers = response.headers().clone();
        Answer::new(status, headers, &response.bytes().await.expect("body"))
    }

    async fn data(&self, token: &str) -> Answer {
        self.call(reqwest::Method::GET, "/api/data", Some(token), None)
            .await
    }

    async fn login(&self, email: &str, password: &str) -> Answer {
        self.call(
            reqwest::Method::POST,
            "/login",
            None,
            Some(json!({"email": email, "password": password})),
        )
        .await
    }

    async fn register(&self, email: &str) -> Answer {
        self.call(
            reqwest::Method::POST,
            "/register",
            None,
            Some(json!({"email": email, "password": PASSWORD, "name": "Ana Núñez"})),
        )
        .await
    }
}

fn access(answer: &Answer) -> String {
    answer.body["accessToken"]
        .as_str()
        .expect("an access token")
        .to_owned()
}

#[tokio::test]
async fn a_provider_sign_in_answers_a_token_pair_like_login() {
    let provider = FakeProvider::start().await;
    let api = Api::start(&provider, &[]).await;
    let answer = api.sign_in().await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert_eq!(answer.body["tokenType"], "Bearer");
    assert_eq!(answer.body["expiresIn"], 900);
    assert!(answer.body["refreshToken"].is_string());
    assert_eq!(answer.headers["cache-control"], "no-store");
    assert_eq!(answer.headers["x-content-type-options"], "nosniff");
    let data = api.data(&access(&answer)).await;
    assert_eq!(data.status, 200);
    assert_eq!(data.body["email"], "alice@example.com");
    assert_eq!(data.body["roles"], json!(["user"]));

    // The same person again is the same user; the refresh token rotates.
    let again = api.sign_in().await;
    assert_eq!(
        api.data(&access(&again)).await.body["userId"],
        data.body["userId"]
    );
    let refreshed = api
        .call(
            reqwest::Method::POST,
            "/refresh",
            None,
            Some(json!({"refreshToken": again.body["refreshToken"]})),
        )
        .await;
    assert_eq!(refreshed.status, 200);
}

#[tokio::test]
async fn admin_emails_grant_admin_only_to_a_verified_provider_email() {
    let provider = FakeProvider::start().await;
    let api = Api::start(&provider, &["Alice@Example.com"]).await;

    // A password registration of the listed address gets `user`.
    assert_eq!(api.register("alice@example.com").await.status, 201);
    let login = api.login("alice@example.com", PASSWORD).await;
    let by_password = api.data(&access(&login)).await;
    assert_eq!(by_password.body["roles"], json!(["user"]));
    let admin = api
        .call(
            reqwest::Method::GET,
            "/api/admin",
            Some(&access(&login)),
            None,
        )
        .await;
    assert_eq!(admin.status, 403);

    // Signed in through the provider, which verified it: `admin`, on the
    // same (linked) user, and the password login now carries it too.
    let signed_in = api.sign_in().await;
    let data = api.data(&access(&signed_in)).await;
    assert_eq!(data.body["userId"], by_password.body["userId"]);
    assert_eq!(data.body["roles"], json!(["admin"]));
    let admin = api
        .call(
            reqwest::Method::GET,
            "/api/admin",
            Some(&access(&signed_in)),
            None,
        )
        .await;
    assert_eq!(admin.status, 200);
    let login = api.login("alice@example.com", PASSWORD).await;
    assert_eq!(
        api.data(&access(&login)).await.body["roles"],
        json!(["admin"])
    );

    // The same listed address, unverified by the provider: refused, and
    // no user is made.
    provider.set_user(User {
        sub: "mallory".into(),
        email: "carol@example.com".into(),
        email_verified: false,
        name: "Carol".into(),
    });
    let refused = api.sign_in().await;
    assert_eq!(refused.status, 401, "{:?}", refused.body);
    assert_eq!(refused.body["code"], "email_not_verified");
    assert_eq!(refused.headers["content-type"], "application/problem+json");
    assert_eq!(api.register("carol@example.com").await.status, 201);
}

#[tokio::test]
async fn an_unlisted_verified_email_gets_user() {
    let provider = FakeProvider::start().await;
    let api = Api::start(&provider, &["someone-else@example.com"]).await;
    let answer = api.sign_in().await;
    assert_eq!(
        api.data(&access(&answer)).await.body["roles"],
        json!(["user"])
    );
}

#[tokio::test]
async fn a_user_made_by_a_provider_has_no_password() {
    let provider = FakeProvider::start().await;
    provider.set_user(User {
        sub: "dave-1".into(),
        email: "dave@example.com".into(),
        email_verified: true,
        name: "Dave".into(),
    });
    let api = Api::start(&provider, &[]).await;
    assert_eq!(api.sign_in().await.status, 200);
    // Any password, the empty one included, is refused exactly like a
    // wrong password for an unknown address.
    let passwordless = api.login("dave@example.com", PASSWORD).await;
    let unknown = api.login("nobody@example.com", PASSWORD).await;
    assert_eq!(passwordless.status, 401);
    assert_eq!(passwordless.body, unknown.body);
    assert_eq!(api.login("dave@example.com", "x").await.body, unknown.body);
    // And the address is taken for a password registration.
    assert_eq!(api.register("dave@example.com").await.status, 409);
}

#[tokio::test]
async fn every_failure_of_the_contract_has_its_code() {
    let provider = FakeProvider::start().await;
    let api = Api::start(&provider, &[]).await;
    let missing = Browser::new()
        .follow(&api.url("/auth/oidc/callback?code=abc&state=def"))
        .await
        .1;
    assert_eq!(
        (missing.status.as_u16(), missing.body["code"].clone()),
        (400, json!("invalid_state"))
    );
    provider.deny_next();
    let denied = api.sign_in().await;
    assert_eq!(
        (denied.status.as_u16(), denied.body["code"].clone()),
        (401, json!("access_denied"))
    );
    provider.tweak_next_id_token(warden_tests::oidc_provider::Tweak::Audience("other".into()));
    let bad = api.sign_in().await;
    assert_eq!(
        (bad.status.as_u16(), bad.body["code"].clone()),
        (401, json!("invalid_id_token"))
    );
    let unknown = Browser::new().follow(&api.url("/auth/google")).await.1;
    assert_eq!(unknown.status, 404);
    for answer in [&missing, &denied, &bad, &unknown] {
        assert_eq!(answer.headers["content-type"], "application/problem+json");
        assert_eq!(answer.headers["x-frame-options"], "DENY");
    }
}

#[tokio::test]
async fn without_configuration_the_routes_are_absent() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let api = Api::serve(api::Config::for_tests(), listener, base).await;
    for path in [
        "/auth/oidc",
        "/auth/google",
        "/auth/oidc/callback?code=a&state=b",
    ] {
        let answer = api.call(reqwest::Method::GET, path, None, None).await;
        assert_eq!(answer.status, 404, "{path}");
        assert_eq!(
            answer.body["code"], "not_found",
            "{path}: {:?}",
            answer.body
        );
    }
}

#[tokio::test]
async fn an_unreachable_provider_does_not_stop_the_api() {
    let provider = FakeProvider::start().await;
    provider.stop().await;
    let api = Api::start(&provider, &[]).await;
    assert_eq!(
        api.call(reqwest::Method::GET, "/health", None, None)
            .await
            .status,
        200
    );
    let started = Instant::now();
    let answer = Browser::new().follow(&api.url("/auth/oidc")).await.1;
    assert_eq!(answer.status, 503, "{:?}", answer.body);
    assert_eq!(answer.body["code"], "provider_unavailable");
    assert!(started.elapsed() < Duration::from_secs(10));

    provider.restart().await;
    // Discovery is retried at most once a second.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let answer = api.sign_in().await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
}
