//! warden on Redis, against real `redis-server`s the tests start: one
//! count across instances, refresh-token families shared by instances,
//! outages (fail closed, fail open, start-up while down, recovery), and
//! what the keys hold.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use http::StatusCode;
use redis::Commands;
use warden::auth::refresh::{RefreshError, RefreshTokens};
use warden::limit::{LimitCheck, Rate, Store};
use warden::redis::{Redis, RedisStore, RedisTokenStore};
use warden::{Auth, StoreFailure, Warden, protected, rate_limit};
use warden_tests::{AppState, Captured, Client, Hits, RedisServer, Transport, jwt};

#[rate_limit(30, "1m")]
async fn thirty(State(hits): State<Hits>) -> &'static str {
    hits.hit();
    "ok"
}

#[protected]
#[rate_limit(5, "1m", key = user)]
async fn mine(State(hits): State<Hits>, user: Auth) -> String {
    hits.hit();
    user.sub().to_owned()
}

fn router(warden: &Warden, hits: &Hits) -> Router {
    Router::new()
        .route("/thirty", get(thirty))
        .route("/mine", get(mine))
        .route("/health", get(|| async { "ok" }))
        .layer(warden.layer())
        .with_state(AppState {
            warden: warden.clone(),
            hits: hits.clone(),
        })
}

/// One instance of an application: its own `Warden` and its own Redis
/// connection, as another process would have.
async fn instance(
    redis: &Redis,
    configure: fn(warden::WardenBuilder) -> warden::WardenBuilder,
) -> (Client, Hits, Warden) {
    let warden = configure(Warden::builder().jwt(jwt()).store(RedisStore::new(redis)))
        .build()
        .unwrap();
    let hits = Hits::default();
    let client = Client::new(router(&warden, &hits), Transport::Socket).await;
    (client, hits, warden)
}

/// Two handles on one server and one prefix, each with its own connection.
async fn two_handles(server: &RedisServer, prefix: &str) -> (Redis, Redis) {
    let config = || {
        Redis::config(server.url())
            .prefix(prefix)
            .key_secret(b"shared by the instances")
    };
    (
        server.connect_with(config()).await,
        server.connect_with(config()).await,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_one_redis_admit_exactly_n_of_200_concurrent_requests() {
    let server = RedisServer::start();
    let (a, b) = two_handles(&server, "two:").await;
    let (app_a, hits_a, _) = instance(&a, |b| b).await;
    let (app_b, hits_b, _) = instance(&b, |b| b).await;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..200 {
        let app = if i % 2 == 0 {
            app_a.clone()
        } else {
            app_b.clone()
        };
        tasks.spawn(async move { app.get("/thirty", None).await.status });
    }
    let (mut admitted, mut refused) = (0, 0);
    while let Some(status) = tasks.join_next().await {
        match status.unwrap() {
            StatusCode::OK => admitted += 1,
            StatusCode::TOO_MANY_REQUESTS => refused += 1,
            other => panic!("unexpected {other}"),
        }
    }
    // Each instance got 100 requests and alone would have admitted 30 of
    // them: together they admitted 30.
    assert_eq!((admitted, refused), (30, 170));
    assert_eq!(hits_a.count() + hits_b.count(), 30);
}

#[tokio::test]
async fn a_per_user_limit_follows_the_user_across_instances() {
    let server = RedisServer::start();
    let (a, b) = two_handles(&server, "user:").await;
    let (app_a, _, warden) = instance(&a, |b| b).await;
    let (app_b, _, _) = instance(&b, |b| b).await;
    let token = warden
        .issue_access_token(&warden::auth::AccessClaims::new("dana"))
        .unwrap()
        .token;
    for i in 0..5 {
        let app = if i % 2 == 0 { &app_a } else { &app_b };
        assert_eq!(app.get("/mine", Some(&token)).await.status, StatusCode::OK);
    }
    let answer = app_b.get("/mine", Some(&token)).await;
    answer.assert_problem(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    assert_eq!(answer.header("ratelimit"), r#""5-per-1m";r=0;t=60"#);
}

#[tokio::test]
async fn instances_with_different_secrets_or_prefixes_do_not_share_counts() {
    let server = RedisServer::start();
    let rate = Rate::new(1, Duration::from_secs(60)).unwrap();
    let check = LimitCheck {
        policy: "p",
        key: b"client",
        rate,
        cost: 1,
    };
    let store = |config: warden::redis::RedisConfig| async {
        RedisStore::new(&server.connect_with(config).await)
    };
    let one = store(Redis::config(server.url()).prefix("s:").key_secret(b"one")).await;
    let same = store(Redis::config(server.url()).prefix("s:").key_secret(b"one")).await;
    let other_secret = store(Redis::config(server.url()).prefix("s:").key_secret(b"two")).await;
    let other_prefix = store(Redis::config(server.url()).prefix("o:").key_secret(b"one")).await;
    assert!(one.check(&[check]).await.unwrap().admitted());
    assert!(!same.check(&[check]).await.unwrap().admitted());
    assert!(other_secret.check(&[check]).await.unwrap().admitted());
    assert!(other_prefix.check(&[check]).await.unwrap().admitted());
    assert_eq!(one.key_of(&check), same.key_of(&check));
    assert_ne!(one.key_of(&check), other_secret.key_of(&check));
}

#[tokio::test]
async fn scripts_are_loaded_again_after_redis_forgets_them() {
    let server = RedisServer::start();
    let store = RedisStore::new(&server.connect().await);
    let check = LimitCheck {
        policy: "p",
        key: b"k",
        rate: Rate::new(2, Duration::from_secs(60)).unwrap(),
        cost: 1,
    };
    assert!(store.check(&[check]).await.unwrap().admitted());
    let _: () = redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query(&mut server.client())
        .unwrap();
    let verdict = store.check(&[check]).await.unwrap();
    assert!(verdict.admitted());
    assert_eq!(verdict.outcomes()[0].remaining, 0);
    store.refund(&[check]).await.unwrap();
    let _: () = redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query(&mut server.client())
        .unwrap();
    store.refund(&[check]).await.unwrap();
    assert_eq!(
        store.check(&[check]).await.unwrap().outcomes()[0].remaining,
        1
    );
}

/// Two instances of the refresh-token service on one Redis.
async fn two_token_services(server: &RedisServer) -> (RefreshTokens, RefreshTokens) {
    let (a, b) = two_handles(server, "rt:").await;
    (
        RefreshTokens::new(RedisTokenStore::new(&a)),
        RefreshTokens::new(RedisTokenStore::new(&b)),
    )
}

#[tokio::test]
async fn a_family_is_shared_minted_on_one_instance_rotated_on_another_revoked_everywhere() {
    let server = RedisServer::start();
    let (a, b) = two_token_services(&server).await;
    let login = a.issue("user-7").await.unwrap();
    let rotated = b.rotate(login.token.expose()).await.unwrap();
    assert_eq!(rotated.subject, "user-7");
    assert_eq!(rotated.issued.family, login.family);
    let again = a.rotate(rotated.issued.token.expose()).await.unwrap();
    assert_eq!(again.subject, "user-7");
    // The replay of the first, spent token on A revokes the family...
    assert_eq!(
        a.rotate(login.token.expose()).await.err(),
        Some(RefreshError::Reused)
    );
    // ...so the newest token is dead on both instances.
    for service in [&a, &b] {
        assert_eq!(
            service.rotate(again.issued.token.expose()).await.err(),
            Some(RefreshError::Revoked)
        );
    }
    // Another login of the same user is untouched.
    let other = b.issue("user-7").await.unwrap();
    assert_eq!(
        a.rotate(other.token.expose()).await.unwrap().subject,
        "user-7"
    );
    // Logout on one instance, by family or by token, holds on the other.
    let login = a.issue("user-8").await.unwrap();
    b.revoke_family(&login.family).await.unwrap();
    assert_eq!(
        a.rotate(login.token.expose()).await.err(),
        Some(RefreshError::Revoked)
    );
    let login = a.issue("user-9").await.unwrap();
    b.revoke(login.token.expose()).await.unwrap();
    assert_eq!(
        a.rotate(login.token.expose()).await.err(),
        Some(RefreshError::Revoked)
    );
    // Unknown tokens and families are refused or ignored, never an error.
    let unknown = "rt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    assert_eq!(a.rotate(unknown).await.err(), Some(RefreshError::Unknown));
    b.revoke(unknown).await.unwrap();
    b.revoke_family(&warden::auth::refresh::SessionId("no such family".into()))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_subject_logging_in_in_a_loop_keeps_ten_families_in_redis() {
    let server = RedisServer::start();
    let redis = server.connect().await;
    let tokens = RefreshTokens::new(RedisTokenStore::new(&redis));
    let victim = tokens.issue("victim").await.unwrap();
    let mut logins = Vec::new();
    for _ in 0..40 {
        logins.push(tokens.issue("flooder").await.unwrap());
    }
    let mut client = server.client();
    let families: Vec<String> = client.keys(format!("{}rt:f:*", redis.prefix())).unwrap();
    assert_eq!(families.len(), 11, "ten of the flooder's and the victim's");
    // The oldest logins ended; the newest ten live.
    assert_eq!(
        tokens.rotate(logins[0].token.expose()).await.err(),
        Some(RefreshError::Unknown)
    );
    assert!(tokens.rotate(logins[39].token.expose()).await.is_ok());
    assert!(tokens.rotate(logins[30].token.expose()).await.is_ok());
    // The victim's login is untouched.
    let next = tokens.rotate(victim.token.expose()).await.unwrap();
    assert_eq!(next.subject, "victim");
    // Configurable.
    let strict = RefreshTokens::new(RedisTokenStore::new(&redis).max_families_per_subject(2));
    let first = strict.issue("solo").await.unwrap();
    for _ in 0..2 {
        strict.issue("solo").await.unwrap();
    }
    assert_eq!(
        strict.rotate(first.token.expose()).await.err(),
        Some(RefreshError::Unknown)
    );
}

#[tokio::test]
async fn a_spent_token_replayed_after_its_own_expiry_still_revokes_in_redis() {
    let server = RedisServer::start();
    let tokens = RefreshTokens::new(RedisTokenStore::new(&server.connect().await))
        .ttl(Duration::from_secs(1));
    let login = tokens.issue("u").await.unwrap();
    let next = tokens.rotate(login.token.expose()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(2100)).await;
    // Both tokens are past their own lifetime now; the family is not.
    assert_eq!(
        tokens.rotate(login.token.expose()).await.err(),
        Some(RefreshError::Reused)
    );
    assert_eq!(
        tokens.rotate(next.issued.token.expose()).await.err(),
        Some(RefreshError::Revoked)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_two_instances_racing_on_one_token_exactly_one_wins_in_50_trials() {
    let server = RedisServer::start();
    let (a, b) = two_token_services(&server).await;
    for trial in 0..50 {
        let login = a.issue(&format!("racer-{trial}")).await.unwrap();
        let token = login.token.expose().to_owned();
        let (first, second) = tokio::join!(
            tokio::spawn({
                let (a, token) = (a.clone(), token.clone());
                async move { a.rotate(&token).await }
            }),
            tokio::spawn({
                let (b, token) = (b.clone(), token.clone());
                async move { b.rotate(&token).await }
            }),
        );
        let results = [first.unwrap(), second.unwrap()];
        let winners: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
        assert_eq!(winners.len(), 1, "trial {trial}: {results:?}");
        assert!(
            results
                .iter()
                .any(|r| r.as_ref().err() == Some(&RefreshError::Reused)),
            "trial {trial}: {results:?}"
        );
        // The loser's replay revoked the winner's new token too.
        let winner = winners[0].issued.token.expose();
        for service in [&a, &b] {
            assert_eq!(
                service.rotate(winner).await.err(),
                Some(RefreshError::Revoked),
                "trial {trial}"
            );
        }
    }
}

#[tokio::test]
async fn every_key_has_the_prefix_and_a_ttl_and_holds_no_address_user_or_token() {
    let server = RedisServer::start();
    let redis = server
        .connect_with(
            Redis::config(server.url())
                .prefix("audit:")
                .key_secret(b"s"),
        )
        .await;
    let (app, _, warden) = instance(&redis, |b| {
        b.global_limit(Rate::new(100, Duration::from_secs(60)).unwrap())
    })
    .await;
    let tokens = RefreshTokens::new(RedisTokenStore::new(&redis));
    let subject = "user-0b5e7a1d";
    let access = warden
        .issue_access_token(&warden::auth::AccessClaims::new(subject))
        .unwrap()
        .token;
    for _ in 0..3 {
        assert_eq!(app.get("/thirty", None).await.status, StatusCode::OK);
        assert_eq!(app.get("/mine", Some(&access)).await.status, StatusCode::OK);
    }
    let login = tokens.issue(subject).await.unwrap();
    let next = tokens.rotate(login.token.expose()).await.unwrap();
    let other = tokens.issue(subject).await.unwrap();
    tokens.revoke_family(&other.family).await.unwrap();

    let mut client = server.client();
    let keys: Vec<String> = client.keys("*").unwrap();
    // Global + /thirty + /mine, two families and the subject's index.
    assert_eq!(keys.len(), 6, "{keys:?}");
    let secrets = [
        "127.0.0.1".as_bytes(),
        &[127, 0, 0, 1],
        subject.as_bytes(),
        login.token.expose().as_bytes(),
        next.issued.token.expose().as_bytes(),
        other.token.expose().as_bytes(),
        access.as_bytes(),
    ];
    for key in &keys {
        assert!(key.starts_with("audit:"), "{key}");
        let ttl: i64 = redis::cmd("PTTL").arg(key).query(&mut client).unwrap();
        assert!(ttl > 0, "{key} has no TTL ({ttl})");
        let kind: String = redis::cmd("TYPE").arg(key).query(&mut client).unwrap();
        let mut stored: Vec<Vec<u8>> = vec![key.as_bytes().to_vec()];
        match kind.as_str() {
            "string" => stored.push(client.get(key).unwrap()),
            "hash" => {
                let fields: Vec<Vec<u8>> =
                    redis::cmd("HGETALL").arg(key).query(&mut client).unwrap();
                stored.extend(fields);
            }
            "zset" => {
                let members: Vec<Vec<u8>> = redis::cmd("ZRANGE")
                    .arg(key)
                    .arg(0)
                    .arg(-1)
                    .query(&mut client)
                    .unwrap();
                stored.extend(members);
            }
            other => panic!("{key} is a {other}"),
        }
        for value in &stored {
            for secret in secrets {
                assert!(
                    !value.windows(secret.len()).any(|w| w == secret),
                    "{key} holds a raw address, user id or token"
                );
            }
        }
    }
    let kinds: HashSet<&str> = keys
        .iter()
        .map(|k| {
            let rest = &k["audit:".len()..];
            if rest.starts_with("l:") {
                "limit"
            } else if rest.starts_with("rt:s:") {
                "subject index"
            } else if rest.starts_with("rt:f:") {
                "family"
            } else {
                "other"
            }
        })
        .collect();
    assert_eq!(kinds, HashSet::from(["limit", "family", "subject index"]));
}

#[tokio::test]
async fn a_limit_state_expires_when_it_equals_never_seen() {
    let server = RedisServer::start();
    let store = RedisStore::new(&server.connect().await);
    let check = LimitCheck {
        policy: "p",
        key: b"k",
        rate: Rate::new(3, Duration::from_secs(30)).unwrap(),
        cost: 1,
    };
    assert!(store.check(&[check]).await.unwrap().admitted());
    let key = store.key_of(&check);
    let ttl: i64 = redis::cmd("PTTL")
        .arg(&key)
        .query(&mut server.client())
        .unwrap();
    // One request of 3 per 30 s leads by one interval: 10 s.
    assert!((9_900..=10_000).contains(&ttl), "{ttl}");
    assert!(store.check(&[check]).await.unwrap().admitted());
    let ttl: i64 = redis::cmd("PTTL")
        .arg(&key)
        .query(&mut server.client())
        .unwrap();
    assert!((19_900..=20_000).contains(&ttl), "{ttl}");
    // Refunding everything leaves nothing behind.
    store.refund(&[check, check]).await.unwrap();
    let exists: bool = server.client().exists(&key).unwrap();
    assert!(!exists);
}

/// Sends requests to `path` from `tasks` tasks until `stop`, recording
/// every status and the slowest answer.
async fn load(app: &Client, path: &'static str, until: Instant) -> (Vec<StatusCode>, Duration) {
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let app = app.clone();
        tasks.spawn(async move {
            let mut statuses = Vec::new();
            let mut slowest = Duration::ZERO;
            while Instant::now() < until {
                let started = Instant::now();
                statuses.push(app.get(path, None).await.status);
                slowest = slowest.max(started.elapsed());
            }
            (statuses, slowest)
        });
    }
    let mut all = Vec::new();
    let mut slowest = Duration::ZERO;
    while let Some(result) = tasks.join_next().await {
        let (statuses, slow) = result.unwrap();
        all.extend(statuses);
        slowest = slowest.max(slow);
    }
    (all, slowest)
}

// One thread, so that the audit capture (per thread) sees every event.
#[tokio::test]
async fn redis_killed_mid_load_fails_closed_within_the_deadline_and_recovers() {
    let mut server = RedisServer::start();
    // The default deadline, 50 ms a call.
    let redis = Redis::config(server.url())
        .prefix("kill:")
        .connect()
        .await
        .unwrap();
    let (app, _, _) = instance(&redis, |b| {
        b.global_limit(Rate::new(1_000_000, Duration::from_secs(1)).unwrap())
            .global_limit_exempt("/health")
    })
    .await;
    let captured = Captured::default();
    let _guard = captured.install();

    let start = Instant::now();
    let loader = {
        let app = app.clone();
        tokio::spawn(
            async move { load(&app, "/thirty", start + Duration::from_millis(1500)).await },
        )
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    server.kill();
    let (statuses, slowest) = loader.await.unwrap();
    assert!(
        statuses.contains(&StatusCode::SERVICE_UNAVAILABLE),
        "{statuses:?}"
    );
    for status in &statuses {
        assert!(
            [
                StatusCode::OK,
                StatusCode::TOO_MANY_REQUESTS,
                StatusCode::SERVICE_UNAVAILABLE
            ]
            .contains(status),
            "{status}"
        );
    }
    // Well within a second: the deadline is 50 ms a call.
    assert!(slowest < Duration::from_millis(500), "{slowest:?}");

    let answer = app.get("/thirty", None).await;
    answer.assert_problem(StatusCode::SERVICE_UNAVAILABLE, "limits_unavailable");
    assert_eq!(answer.header("retry-after"), "1");
    // An exempt route does not need Redis.
    assert_eq!(app.get("/health", None).await.status, StatusCode::OK);

    server.restart();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let status = app.get("/thirty", None).await.status;
        if status == StatusCode::OK {
            break;
        }
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(
            Instant::now() < deadline,
            "no recovery after Redis came back"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let text = captured.text();
    assert_eq!(
        text.matches("event=\"redis_unavailable\"").count(),
        1,
        "{text}"
    );
    assert_eq!(
        text.matches("event=\"redis_available\"").count(),
        1,
        "{text}"
    );
}

#[tokio::test]
async fn an_instance_starts_while_redis_is_down_and_serves_once_it_is_up() {
    let mut server = RedisServer::start();
    server.kill();
    let redis = Redis::config(server.url())
        .prefix("late:")
        .connect()
        .await
        .unwrap();
    let tokens = RefreshTokens::new(RedisTokenStore::new(&redis));
    let (app, hits, _) = instance(&redis, |b| b).await;
    let started = Instant::now();
    let answer = app.get("/thirty", None).await;
    answer.assert_problem(StatusCode::SERVICE_UNAVAILABLE, "limits_unavailable");
    assert!(started.elapsed() < Duration::from_millis(500));
    assert!(matches!(
        tokens.issue("u").await,
        Err(RefreshError::Store(_))
    ));
    assert_eq!(hits.count(), 0);

    server.restart();
    let deadline = Instant::now() + Duration::from_secs(10);
    while app.get("/thirty", None).await.status != StatusCode::OK {
        assert!(Instant::now() < deadline, "no recovery");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let login = tokens.issue("u").await.unwrap();
    assert_eq!(
        tokens.rotate(login.token.expose()).await.unwrap().subject,
        "u"
    );
}

#[tokio::test]
async fn fail_open_admits_uncounted_and_says_so_in_the_audit() {
    let mut server = RedisServer::start();
    let redis = server.connect().await;
    let (app, hits, _) = instance(&redis, |b| b.store_failure(StoreFailure::FailOpen)).await;
    let captured = Captured::default();
    let _guard = captured.install();
    server.kill();
    for _ in 0..40 {
        let answer = app.get("/thirty", None).await;
        assert_eq!(answer.status, StatusCode::OK);
        assert_eq!(answer.header("ratelimit"), "", "nothing was counted");
    }
    assert_eq!(hits.count(), 40);
    let text = captured.text();
    assert_eq!(
        text.matches("event=\"limits_bypassed\"").count(),
        40,
        "{text}"
    );
}

#[tokio::test]
async fn bad_settings_are_refused_and_no_password_is_ever_shown() {
    use warden::redis::RedisConfigError;
    let url = "redis://:hunter2-password@127.0.0.1:1";
    for (config, expected) in [
        (Redis::config("http://example.com"), RedisConfigError::Url),
        (Redis::config("not a url :hunter2"), RedisConfigError::Url),
        (
            Redis::config(url).prefix("has space:"),
            RedisConfigError::Prefix,
        ),
        (
            Redis::config(url).prefix("x".repeat(65)),
            RedisConfigError::Prefix,
        ),
        (
            Redis::config(url).timeout(Duration::ZERO),
            RedisConfigError::Timeout,
        ),
        (
            Redis::config(url).timeout(Duration::from_secs(11)),
            RedisConfigError::Timeout,
        ),
    ] {
        let shown = format!("{config:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        let error = config.connect().await.unwrap_err();
        assert_eq!(error, expected);
        assert!(!error.to_string().contains("hunter2"), "{error}");
    }
    // Nothing listens on port 1: the handle is made all the same, and what
    // it reports carries no password either (the audit event of an outage
    // logs this same message).
    let redis = Redis::config(url).key_secret(b"k").connect().await.unwrap();
    assert!(!format!("{redis:?}").contains("hunter2"));
    let error = redis.ping().await.unwrap_err();
    assert!(!error.to_string().contains("hunter2"), "{error}");
    assert!(!format!("{error:?}").contains("hunter2"), "{error:?}");
}
