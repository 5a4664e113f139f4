//! The reference API's `GET /openapi.json` (`examples/api/README.md`):
//! a valid OpenAPI 3.1 document, checked by a validator of its own; in
//! agreement with the policy table route by route; and describing every
//! response the API gives, walked over real sockets.

use serde_json::{Value, json};
use warden_tests::Answer;
use warden_tests::oidc_provider::{Browser, FakeProvider};

const PASSWORD: &str = "Str0ng&Secure!";

struct Api {
    base: String,
    http: reqwest::Client,
    doc: Value,
}

impl Api {
    async fn start(config: api::Config, listener: tokio::net::TcpListener) -> Self {
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let router = api::app(&config).await.expect("api");
        tokio::spawn(api::serve(router, listener, std::future::pending()));
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        let answer = http
            .get(format!("{base}/openapi.json"))
            .send()
            .await
            .expect("GET /openapi.json");
        assert_eq!(answer.status(), 200);
        assert_eq!(answer.headers()["content-type"], "application/json");
        assert_eq!(answer.headers()["x-content-type-options"], "nosniff");
        let doc: Value = answer.json().await.expect("JSON");
        Self { base, http, doc }
    }

    async fn new() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        Self::start(api::Config::for_tests(), listener).await
    }

    /// Sends a request and checks that the document describes the answer:
    /// its status for that operation, and its media type for that status.
    async fn call(
        &self,
        method: &str,
        path: &str,
        template: &str,
        headers: &[(&str, &str)],
        body: Option<(&str, Vec<u8>)>,
    ) -> Answer {
        let mut request = self.http.request(
            method.parse().expect("method"),
            format!("{}{path}", self.base),
        );
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some((content_type, bytes)) = body {
            request = request.header("content-type", content_type).body(bytes);
        }
        let response = request.send().await.expect("request");
        let status = response.status();
        let headers = response.headers().clone();
        let answer = Answer::new(status, headers, &response.bytes().await.expect("body"));
        self.assert_described(method, template, &answer);
        answer
    }

    fn assert_described(&self, method: &str, template: &str, answer: &Answer) {
        let operation = &self.doc["paths"][template][method.to_lowercase()];
        assert!(
            operation.is_object(),
            "{method} {template} is not described"
        );
        let status = answer.status.as_u16().to_string();
        let response = &operation["responses"][&status];
        assert!(
            response.is_object(),
            "{method} {template} answered {status}, which the document does not describe: {}",
            answer.body
        );
        let media = answer.header("content-type");
        if media.is_empty() {
            assert!(
                response["content"].is_null(),
                "{method} {template} {status}: no body, but content is described"
            );
        } else {
            assert!(
                response["content"][media].is_object(),
                "{method} {template} {status}: {media} is not described for it"
            );
        }
        for (name, header) in response["headers"].as_object().into_iter().flatten() {
            if header["required"] == true {
                assert!(!answer.header(name).is_empty(), "{name} missing");
            }
        }
    }

    async fn json(
        &self,
        method: &str,
        path: &str,
        body: Value,
        headers: &[(&str, &str)],
    ) -> Answer {
        self.call(
            method,
            path,
            path,
            headers,
            Some(("application/json", body.to_string().into_bytes())),
        )
        .await
    }

    async fn login(&self, email: &str) -> Value {
        let answer = self
            .json(
                "POST",
                "/login",
                json!({"email": email, "password": PASSWORD}),
                &[],
            )
            .await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        answer.body
    }
}

fn register_body(email: &str) -> Value {
    json!({"email": email, "password": PASSWORD, "name": "Ana Núñez"})
}

#[tokio::test]
async fn the_document_is_valid_openapi_3_1() {
    let api = Api::new().await;
    assert_eq!(api.doc["openapi"], "3.1.0");
    warden_tests::openapi::assert_valid(&api.doc);
}

#[tokio::test]
async fn it_describes_every_route_of_the_contract_and_no_other() {
    let api = Api::new().await;
    let mut operations: Vec<String> = api.doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .map(move |method| format!("{} {path}", method.to_uppercase()))
        })
        .collect();
    operations.sort();
    assert_eq!(
        operations,
        [
            "GET /api/admin",
            "GET /api/data",
            "GET /health",
            "GET /openapi.json",
            "POST /login",
            "POST /logout",
            "POST /refresh",
            "POST /register",
        ]
    );
}

/// Route by route, the document says what the policy table says: who may
/// call it, how often, with what input.
#[tokio::test]
async fn it_agrees_with_the_policy_table_route_by_route() {
    let api = Api::new().await;
    let table = api::routes().policy_table().to_json();
    let rows = table.as_array().unwrap();
    assert_eq!(rows.len(), 8);
    for row in rows {
        let method = row["method"].as_str().unwrap().to_lowercase();
        let path = row["path"].as_str().unwrap();
        let operation = &api.doc["paths"][path][&method];
        let at = format!("{method} {path}");
        assert_eq!(&operation["x-warden-policy"], row, "{at}");
        let responses = operation["responses"].as_object().unwrap();
        let protected = row["access"] == "protected";
        // Who: public routes ask for nothing, protected ones for a token
        // with the roles of their requirement.
        match row["requirement"].as_str() {
            _ if !protected => {
                assert_eq!(row["access"], "public", "{at}");
                assert_eq!(operation["security"], json!([]), "{at}");
            }
            None => assert_eq!(operation["security"], json!([{"bearerAuth": []}]), "{at}"),
            Some("role = Role::Admin") => {
                assert_eq!(
                    operation["security"],
                    json!([{"bearerAuth": ["admin"]}]),
                    "{at}"
                );
                assert!(responses.contains_key("403"), "{at}");
            }
            Some(other) => panic!("{at}: a requirement this test does not know: {other}"),
        }
        // 401 on every protected route (on the public /login and /refresh
        // it is the application's own: wrong credentials, a spent token).
        if protected {
            assert!(
                responses["401"]["headers"]["WWW-Authenticate"].is_object(),
                "{at}"
            );
        } else if responses.contains_key("401") {
            assert!(["/login", "/refresh"].contains(&path), "{at}");
        }
        // How often: 429 with its fields exactly where there are limits.
        let limited = !row["limits"].as_array().unwrap().is_empty();
        assert_eq!(responses.contains_key("429"), limited, "{at}");
        if limited {
            let headers = &responses["429"]["headers"];
            for name in ["Retry-After", "RateLimit", "RateLimit-Policy"] {
                assert!(headers[name].is_object(), "{at}: {name}");
            }
            for (status, response) in responses.iter().filter(|(s, _)| s.starts_with('2')) {
                assert!(
                    response["headers"]["RateLimit"].is_object(),
                    "{at} {status}"
                );
            }
        }
        // With what input: the body's schema carries every rule.
        let validated = row["validated"].as_array().unwrap();
        assert_eq!(
            responses.contains_key("400"),
            !validated.is_empty() || protected,
            "{at}"
        );
        for status in ["413", "415"] {
            assert_eq!(
                responses.contains_key(status),
                !validated.is_empty(),
                "{at}: {status}"
            );
        }
        for param in validated {
            let reference =
                operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
                    .as_str()
                    .unwrap();
            let name = reference.trim_start_matches("#/components/schemas/");
            let schema = &api.doc["components"]["schemas"][name];
            assert_eq!(param["strict"], true, "{at}");
            assert_eq!(schema["additionalProperties"], false, "{at}");
            for field in param["fields"].as_array().unwrap() {
                let name = field["field"].as_str().unwrap();
                assert_eq!(
                    schema["x-warden-rules"][name], field["rules"],
                    "{at}: {name}"
                );
                assert!(schema["properties"][name].is_object(), "{at}: {name}");
            }
        }
    }
    // The register rules of the contract, as keywords.
    let register = &api.doc["components"]["schemas"]["RegisterBody"]["properties"];
    assert_eq!(
        register["email"],
        json!({"type": "string", "format": "email", "maxLength": 255})
    );
    assert_eq!(register["password"]["minLength"], 12);
    assert_eq!(register["password"]["maxLength"], 128);
    assert_eq!(
        register["password"]["pattern"],
        "^(?=[\\s\\S]*\\p{Lu})(?=[\\s\\S]*\\p{Ll})(?=[\\s\\S]*[0-9])(?=[\\s\\S]*[@$!%*?&])"
    );
    assert_eq!(register["name"]["minLength"], 2);
    assert_eq!(register["name"]["maxLength"], 100);
    assert_eq!(register["name"]["pattern"], "^(?:^[\\p{L} '-]+$)$");
    let refresh = &api.doc["components"]["schemas"]["RefreshBody"];
    assert_eq!(refresh["required"], json!(["refreshToken"]));
    assert_eq!(refresh["properties"]["refreshToken"]["minLength"], 1);
}

/// Every kind of answer each route gives, asked for over a real socket:
/// each is described for its operation, with its media type.
#[tokio::test]
async fn every_answer_the_api_gives_is_described() {
    let api = Api::new().await;
    api.call("GET", "/health", "/health", &[], None).await;
    api.call("GET", "/openapi.json", "/openapi.json", &[], None)
        .await;

    // POST /register: 201, 409, 400, 415, 413, then 429.
    let created = api
        .json("POST", "/register", register_body("ana@example.com"), &[])
        .await;
    assert_eq!(created.status, 201);
    let taken = api
        .json("POST", "/register", register_body("ANA@example.com"), &[])
        .await;
    assert_eq!(taken.status, 409);
    let invalid = api
        .json("POST", "/register", json!({"email": "no", "extra": 1}), &[])
        .await;
    assert_eq!(invalid.status, 400);
    let not_json = api
        .call(
            "POST",
            "/register",
            "/register",
            &[],
            Some(("text/plain", b"hi".to_vec())),
        )
        .await;
    assert_eq!(not_json.status, 415);
    let broken = api
        .call(
            "POST",
            "/register",
            "/register",
            &[],
            Some(("application/json", b"{\"email\":".to_vec())),
        )
        .await;
    assert_eq!(broken.status, 400);
    let big = api
        .call(
            "POST",
            "/register",
            "/register",
            &[],
            Some(("application/json", vec![b' '; 70 * 1024])),
        )
        .await;
    assert_eq!(big.status, 413);
    let mut last = big;
    for i in 0..12 {
        last = api
            .json(
                "POST",
                "/register",
                register_body(&format!("u{i}@example.com")),
                &[],
            )
            .await;
    }
    assert_eq!(last.status, 429);

    // POST /login: 200, 401, 400, and 429 (per address) at the end.
    let pair = api.login("ana@example.com").await;
    let access = pair["accessToken"].as_str().unwrap().to_owned();
    let refresh = pair["refreshToken"].as_str().unwrap().to_owned();
    let wrong = api
        .json(
            "POST",
            "/login",
            json!({"email": "ana@example.com", "password": "nope"}),
            &[],
        )
        .await;
    assert_eq!(wrong.status, 401);
    let empty = api.json("POST", "/login", json!({}), &[]).await;
    assert_eq!(empty.status, 400);
    // GET /api/data: 200 with the fields, 401, 400.
    let bearer = format!("Bearer {access}");
    let data = api
        .call(
            "GET",
            "/api/data",
            "/api/data",
            &[("authorization", &bearer)],
            None,
        )
        .await;
    assert_eq!(data.status, 200);
    let no_token = api.call("GET", "/api/data", "/api/data", &[], None).await;
    assert_eq!(no_token.status, 401);
    let bad = api
        .call(
            "GET",
            "/api/data",
            "/api/data",
            &[("authorization", "Bearer ")],
            None,
        )
        .await;
    assert_eq!(bad.status, 400);
    let forged = api
        .call(
            "GET",
            "/api/data",
            "/api/data",
            &[("authorization", "Bearer a.b.c")],
            None,
        )
        .await;
    assert_eq!(forged.status, 401);

    // GET /api/admin: 403 for a user, 401 without a token.
    let forbidden = api
        .call(
            "GET",
            "/api/admin",
            "/api/admin",
            &[("authorization", &bearer)],
            None,
        )
        .await;
    assert_eq!(forbidden.status, 403);
    api.call("GET", "/api/admin", "/api/admin", &[], None).await;

    // POST /refresh: 200, 401 for a spent token, 400.
    let refreshed = api
        .json("POST", "/refresh", json!({"refreshToken": refresh}), &[])
        .await;
    assert_eq!(refreshed.status, 200);
    let spent = api
        .json("POST", "/refresh", json!({"refreshToken": refresh}), &[])
        .await;
    assert_eq!(spent.status, 401);
    let invalid = api
        .json("POST", "/refresh", json!({"refresh": 1}), &[])
        .await;
    assert_eq!(invalid.status, 400);

    // POST /logout: 204, 401.
    let fresh = api.login("ana@example.com").await;
    let bearer = format!("Bearer {}", fresh["accessToken"].as_str().unwrap());
    let out = api
        .call(
            "POST",
            "/logout",
            "/logout",
            &[("authorization", &bearer)],
            None,
        )
        .await;
    assert_eq!(out.status, 204);
    let anonymous = api.call("POST", "/logout", "/logout", &[], None).await;
    assert_eq!(anonymous.status, 401);

    // POST /login again, past its limit.
    let mut last = anonymous;
    for _ in 0..6 {
        last = api
            .json(
                "POST",
                "/login",
                json!({"email": "bo@example.com", "password": "nope"}),
                &[],
            )
            .await;
    }
    assert_eq!(last.status, 429);
}

/// With `$GLOBAL_RATE_LIMIT`, every route but `/health` may answer 429,
/// and the document says so; the answer itself is described.
#[tokio::test]
async fn the_global_limit_is_described_on_every_route_it_counts() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let mut config = api::Config::for_tests();
    config.global_rate_limit = Some("3/1m".parse().unwrap());
    let api = Api::start(config, listener).await;
    for (path, item) in api.doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let limited = operation["responses"]["429"].is_object();
            assert_eq!(limited, path != "/health", "{method} {path}");
        }
    }
    let mut last = None;
    for _ in 0..4 {
        last = Some(api.call("GET", "/api/admin", "/api/admin", &[], None).await);
    }
    let last = last.unwrap();
    assert_eq!(last.status, 429);
    assert_eq!(last.body["limit"], "global");
    warden_tests::openapi::assert_valid(&api.doc);
}

/// With a provider configured, the sign-in routes are in the document,
/// open, with every answer they give; and a whole sign-in is described.
#[tokio::test]
async fn the_sign_in_routes_are_described_when_configured() {
    let provider = FakeProvider::start().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    provider.set_redirect_uri(&format!("{base}/auth/oidc/callback"));
    let mut config = api::Config::for_tests();
    config.public_url = Some(base.clone());
    config.providers = vec![api::ProviderConfig {
        name: "oidc".into(),
        issuer: provider.issuer(),
        client_id: provider.client_id(),
        client_secret: provider.client_secret(),
    }];
    let api = Api::start(config, listener).await;
    warden_tests::openapi::assert_valid(&api.doc);
    let start = &api.doc["paths"]["/auth/{provider}"]["get"];
    assert_eq!(start["security"], json!([]));
    assert_eq!(start["parameters"][0]["schema"]["enum"], json!(["oidc"]));
    let mut statuses: Vec<&String> = start["responses"].as_object().unwrap().keys().collect();
    statuses.sort();
    assert_eq!(statuses, ["302", "404", "503"]);
    let callback = &api.doc["paths"]["/auth/{provider}/callback"]["get"];
    assert_eq!(callback["security"], json!([]));
    assert_eq!(
        callback["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/TokenPair"
    );
    let mut statuses: Vec<&String> = callback["responses"].as_object().unwrap().keys().collect();
    statuses.sort();
    assert_eq!(statuses, ["200", "400", "401", "404", "503"]);

    // The answers, described.
    let redirect = api
        .call("GET", "/auth/oidc", "/auth/{provider}", &[], None)
        .await;
    assert_eq!(redirect.status, 302);
    let unknown = api
        .call("GET", "/auth/other", "/auth/{provider}", &[], None)
        .await;
    assert_eq!(unknown.status, 404);
    let no_state = api
        .call(
            "GET",
            "/auth/oidc/callback?code=x",
            "/auth/{provider}/callback",
            &[],
            None,
        )
        .await;
    assert_eq!(no_state.status, 400);
    let (_, signed_in) = Browser::new().follow(&format!("{base}/auth/oidc")).await;
    assert_eq!(signed_in.status, 200, "{}", signed_in.body);
    api.assert_described("GET", "/auth/{provider}/callback", &signed_in);
}

/// What an outside fuzzer does, done here: schemathesis, from the served
/// document, with an admin's token, every one of its checks on every
/// answer (each status and media type described, each body valid against
/// its schema, no 5xx, authentication enforced, 405 with `Allow` for
/// undescribed methods, invalid input refused and valid input accepted).
/// Only its warning that the login and registration limits answered
/// mostly 429 is tolerated: those limits are the contract.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fuzzer_from_the_document_finds_every_answer_described() {
    let dir = std::env::temp_dir().join(format!(
        "warden-api-fuzz-{}-{}",
        std::process::id(),
        warden_tests::free_port()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let mut config = api::Config::for_tests();
    config.database_url = format!("sqlite://{}/api.db?mode=rwc", dir.display());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let api = Api::start(config.clone(), listener).await;
    let created = api
        .json("POST", "/register", register_body("fuzz@example.com"), &[])
        .await;
    assert_eq!(created.status, 201);
    let db = api::database(&config.database_url).await.unwrap();
    assert!(api::grant_admin(&db, "fuzz@example.com").await.unwrap());
    let token = api.login("fuzz@example.com").await["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let base = api.base.clone();
    let report = tokio::task::spawn_blocking(move || {
        warden_tests::openapi::fuzz(
            &base,
            &[&format!("Authorization: Bearer {token}")],
            "all",
            "missing_auth,base_url_mismatch,unsupported_regex,unresolvable_reference",
        )
    })
    .await
    .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let report = report.unwrap_or_else(|report| panic!("the fuzzer found a failure:\n{report}"));
    // Every operation but the one serving the document, which schemathesis
    // leaves out.
    assert!(
        report.contains("Operations:       7 selected / 7 total"),
        "{report}"
    );
    assert!(!report.contains(" failed"), "{report}");
}
