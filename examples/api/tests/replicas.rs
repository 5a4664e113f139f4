//! The `api` binary as replicas run it: several processes on one Redis and
//! one SQLite file, sharing limits and refresh-token families, through a
//! Redis outage and back.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

// The tests crate's `redis-server` starter; this package cannot depend on
// that crate, so the file is compiled in.
#[allow(dead_code, unreachable_pub, reason = "shared with the tests crate")]
#[path = "../../../tests/src/redis_server.rs"]
mod redis_server;

use redis_server::{RedisServer, free_port};

const PASSWORD: &str = "Str0ng&Secure!";

/// One `api` process, stopped when dropped.
struct Instance {
    child: Child,
    base: String,
}

impl Instance {
    /// Starts `api` on a free port and waits for `/health`.
    async fn start(redis: &RedisServer, database: &str, extra: &[(&str, &str)]) -> Self {
        let port = free_port();
        let mut command = Command::new(env!("CARGO_BIN_EXE_api"));
        command
            .env_clear()
            .env("PORT", port.to_string())
            .env("DATABASE_URL", database)
            .env("REDIS_URL", redis.url())
            .env(
                "JWT_SECRET",
                "a replica secret of at least thirty-two bytes",
            )
            .env("RUST_LOG", "error")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        for (name, value) in extra {
            command.env(name, value);
        }
        let instance = Self {
            child: command.spawn().expect("api binary"),
            base: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(response) = reqwest::get(format!("{}/health", instance.base)).await
                && response.status() == StatusCode::OK
            {
                return instance;
            }
            assert!(Instant::now() < deadline, "api did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        let response = reqwest::Client::new()
            .post(format!("{}{path}", self.base))
            .json(&body)
            .send()
            .await
            .expect("request");
        let status = response.status();
        let body = response.json().await.unwrap_or(Value::Null);
        (status, body)
    }

    async fn get(&self, path: &str) -> StatusCode {
        reqwest::get(format!("{}{path}", self.base))
            .await
            .expect("request")
            .status()
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A SQLite file of this test's own.
fn database(name: &str) -> (String, std::path::PathBuf) {
    let path = std::env::temp_dir().join(format!(
        "warden-api-{name}-{}-{}.db",
        std::process::id(),
        free_port()
    ));
    (format!("sqlite://{}?mode=rwc", path.display()), path)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_share_limits_and_refresh_families() {
    let redis = RedisServer::start();
    let (url, path) = database("share");
    let proxy = [("TRUSTED_PROXIES", "127.0.0.1")];
    // Started together on a new file, as a deployment starts replicas.
    let (a, b) = tokio::join!(
        Instance::start(&redis, &url, &proxy),
        Instance::start(&redis, &url, &proxy)
    );

    // 200 concurrent refreshes from one client behind the proxy, split
    // across the two: the limit is 30 per 15 minutes per address, for the
    // pair, not for each.
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..200 {
        let base = if i % 2 == 0 {
            a.base.clone()
        } else {
            b.base.clone()
        };
        tasks.spawn(async move {
            reqwest::Client::new()
                .post(format!("{base}/refresh"))
                .header("x-forwarded-for", "198.51.100.7")
                .json(&json!({"refreshToken": "rt_not-a-token"}))
                .send()
                .await
                .expect("request")
                .status()
        });
    }
    let (mut unauthorized, mut limited) = (0, 0);
    while let Some(status) = tasks.join_next().await {
        match status.unwrap() {
            StatusCode::UNAUTHORIZED => unauthorized += 1,
            StatusCode::TOO_MANY_REQUESTS => limited += 1,
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!((unauthorized, limited), (30, 170));

    // One user, one SQLite file: registered on A, signed in on B.
    let email = "replica@example.com";
    let (status, _) = a
        .post(
            "/register",
            json!({"email": email, "password": PASSWORD, "name": "Ana"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, pair) = b
        .post("/login", json!({"email": email, "password": PASSWORD}))
        .await;
    assert_eq!(status, StatusCode::OK, "{pair}");
    let first = pair["refreshToken"].as_str().unwrap().to_owned();

    // Minted on B, rotated on A.
    let (status, rotated) = a.post("/refresh", json!({"refreshToken": first})).await;
    assert_eq!(status, StatusCode::OK, "{rotated}");
    let second = rotated["refreshToken"].as_str().unwrap().to_owned();
    // The spent token replayed on B: refused, and the family is revoked...
    let (status, problem) = b.post("/refresh", json!({"refreshToken": first})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{problem}");
    assert_eq!(problem["code"], "invalid_refresh_token");
    // ...on both instances.
    for instance in [&a, &b] {
        let (status, _) = instance
            .post("/refresh", json!({"refreshToken": second}))
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    drop((a, b));
    let _ = std::fs::remove_file(path);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_outage_is_503_within_a_second_health_stays_up_and_service_resumes() {
    let mut redis = RedisServer::start();
    let (url, path) = database("outage");
    let global = [("GLOBAL_RATE_LIMIT", "1000/15m")];
    let a = Instance::start(&redis, &url, &global).await;
    let (status, _) = a
        .post(
            "/register",
            json!({"email": "out@example.com", "password": PASSWORD, "name": "Ana"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);

    redis.kill();
    // An instance may even start during the outage.
    let b = Instance::start(&redis, &url, &global).await;
    for instance in [&a, &b] {
        assert_eq!(instance.get("/health").await, StatusCode::OK);
        for (path, body) in [
            (
                "/login",
                json!({"email": "out@example.com", "password": PASSWORD}),
            ),
            ("/refresh", json!({"refreshToken": "rt_x"})),
        ] {
            let started = Instant::now();
            let (status, problem) = instance.post(path, body).await;
            assert!(
                started.elapsed() < Duration::from_secs(1),
                "{path} took too long"
            );
            assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{path}: {problem}");
            assert_eq!(problem["status"], 503);
        }
        // The global limit needs Redis too, unknown routes included.
        assert_eq!(
            instance.get("/no-such-route").await,
            StatusCode::SERVICE_UNAVAILABLE
        );
    }

    redis.restart();
    for instance in [&a, &b] {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let (status, body) = instance
                .post(
                    "/login",
                    json!({"email": "out@example.com", "password": PASSWORD}),
                )
                .await;
            if status == StatusCode::OK {
                assert!(body["refreshToken"].is_string());
                break;
            }
            assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
            assert!(Instant::now() < deadline, "no recovery");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    drop((a, b));
    let _ = std::fs::remove_file(path);
}

#[test]
fn a_malformed_global_rate_limit_stops_the_start_with_a_clear_message() {
    let output = Command::new(env!("CARGO_BIN_EXE_api"))
        .env_clear()
        .env("DATABASE_URL", "sqlite::memory:")
        .env("GLOBAL_RATE_LIMIT", "1000 per 15m")
        .output()
        .expect("api binary");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("GLOBAL_RATE_LIMIT"), "{stderr}");
    assert!(stderr.contains("1000/15m"), "{stderr}");
}

#[test]
fn a_partial_provider_configuration_stops_the_start_without_showing_the_secret() {
    let start = |vars: &[(&str, &str)]| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_api"));
        command.env_clear().env("DATABASE_URL", "sqlite::memory:");
        for (name, value) in vars {
            command.env(name, value);
        }
        let output = command.output().expect("api binary");
        assert!(!output.status.success());
        String::from_utf8_lossy(&output.stderr).into_owned()
    };
    let stderr = start(&[
        ("OIDC_ISSUER", "https://idp.example.com"),
        ("OIDC_CLIENT_SECRET", "the-client-secret-42"),
    ]);
    assert!(stderr.contains("OIDC_CLIENT_ID"), "{stderr}");
    assert!(!stderr.contains("the-client-secret-42"), "{stderr}");
    let stderr = start(&[("GOOGLE_CLIENT_ID", "1234.apps.googleusercontent.com")]);
    assert!(stderr.contains("GOOGLE_CLIENT_SECRET"), "{stderr}");
    // A provider over plain HTTP to another host is refused.
    let stderr = start(&[
        ("OIDC_ISSUER", "http://idp.example.com"),
        ("OIDC_CLIENT_ID", "api"),
        ("OIDC_CLIENT_SECRET", "the-client-secret-42"),
    ]);
    assert!(stderr.contains("HTTPS"), "{stderr}");
    assert!(!stderr.contains("the-client-secret-42"), "{stderr}");
}

#[test]
fn grant_admin_changes_the_role_or_says_no_such_user() {
    let (url, path) = database("grant");
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_api"))
            .env_clear()
            .env("DATABASE_URL", &url)
            .args(args)
            .output()
            .expect("api binary")
    };
    // The database exists (migrated) but has no such user.
    let output = run(&["grant-admin", "nobody@example.com"]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("no user has the email"), "{stderr}");
    assert!(stderr.contains("nobody@example.com"), "{stderr}");

    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let db = api::database(&url).await.unwrap();
        sqlx_insert_user(&db, "ops@example.com").await;
    });
    let output = run(&["grant-admin", "OPS@Example.com"]);
    assert!(output.status.success(), "{output:?}");
    let role = runtime.block_on(async {
        let db = api::database(&url).await.unwrap();
        role_of(&db, "ops@example.com").await
    });
    assert_eq!(role, "admin");

    let output = run(&["grant-admin"]);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("usage: api"));
    let _ = std::fs::remove_file(path);
}

async fn sqlx_insert_user(db: &sqlx::SqlitePool, email: &str) {
    sqlx::query(
        "INSERT INTO users (id, email, name, password_hash, role, created_at) VALUES ('u1', ?, 'Ops', 'x', 'user', 0)",
    )
    .bind(email)
    .execute(db)
    .await
    .unwrap();
}

async fn role_of(db: &sqlx::SqlitePool, email: &str) -> String {
    let (role,): (String,) = sqlx::query_as("SELECT role FROM users WHERE email = ?")
        .bind(email)
        .fetch_one(db)
        .await
        .unwrap();
    role
}
