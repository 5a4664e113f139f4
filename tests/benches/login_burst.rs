//! The latency of `GET /health` while 50 logins (argon2id at OWASP's
//! parameters) run at once: hashing must not stall the async threads.
//!
//! `cargo bench -p warden-tests --bench login_burst`

#![allow(missing_docs)]

use std::time::{Duration, Instant};

use serde_json::json;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

fn show(label: &str, mut samples: Vec<Duration>) {
    samples.sort();
    println!(
        "{label}: n = {}, p50 = {:.2} ms, p99 = {:.2} ms, max = {:.2} ms",
        samples.len(),
        percentile(&samples, 0.50).as_secs_f64() * 1000.0,
        percentile(&samples, 0.99).as_secs_f64() * 1000.0,
        samples.last().copied().unwrap_or_default().as_secs_f64() * 1000.0,
    );
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        // 50 clients behind a trusted proxy, so the per-address login limit
        // (5 at once under skip_successful) does not turn them away.
        let mut config = api::Config::for_tests();
        config.trusted_proxies = vec!["127.0.0.1".into()];
        let router = api::app(&config).await.expect("api");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        tokio::spawn(api::serve(router, listener, std::future::pending()));
        let client = reqwest::Client::new();
        let password = "Str0ng&Secure!";
        let status = client
            .post(format!("{base}/register"))
            .json(&json!({"email": "ana@example.com", "password": password, "name": "Ana"}))
            .send()
            .await
            .expect("register")
            .status();
        assert_eq!(status, 201);

        let health = |client: reqwest::Client, base: String| async move {
            let start = Instant::now();
            let response = client
                .get(format!("{base}/health"))
                .send()
                .await
                .expect("health");
            assert_eq!(response.status(), 200);
            start.elapsed()
        };

        let mut quiet = Vec::new();
        for _ in 0..300 {
            quiet.push(health(client.clone(), base.clone()).await);
        }
        show("GET /health, quiet", quiet);

        let logins_started = Instant::now();
        let logins: Vec<_> = (0..50u8)
            .map(|i| {
                let (client, base) = (client.clone(), base.clone());
                tokio::spawn(async move {
                    let start = Instant::now();
                    let response = client
                        .post(format!("{base}/login"))
                        .header("x-forwarded-for", format!("198.51.100.{i}"))
                        .json(&json!({"email": "ana@example.com", "password": password}))
                        .send()
                        .await
                        .expect("login");
                    assert_eq!(response.status(), 200);
                    start.elapsed()
                })
            })
            .collect();
        let mut during = Vec::new();
        while logins.iter().any(|l| !l.is_finished()) {
            during.push(health(client.clone(), base.clone()).await);
        }
        let burst = logins_started.elapsed();
        let mut login_times = Vec::new();
        for login in logins {
            login_times.push(login.await.expect("login task"));
        }
        show("GET /health during 50 concurrent logins", during);
        show("POST /login (argon2id m=19 MiB, t=2, p=1)", login_times);
        println!("the burst of 50 logins took {:.2} s", burst.as_secs_f64());
    });
}
