//! `RedisStore::check` against its floor: a bare `EVALSHA` of the same
//! script with arguments prepared in advance, from the same client crate
//! and connection kind, on the same server, in the same run. 64 tasks at
//! once on loopback; rounds alternate floor and store (A B, then B A) so
//! that drift on a shared machine cancels out in the per-round ratios.
//!
//! `cargo bench -p warden-tests --bench redis_store [-- rounds ops-per-task]`

#![allow(missing_docs)]

use std::time::{Duration, Instant};

use warden::limit::{LimitCheck, Rate, Store};
use warden::redis::{Redis, RedisStore};
use warden_tests::RedisServer;

const TASKS: usize = 64;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Runs `ops` calls of `call` in each of 64 tasks; returns the throughput
/// (calls per second) and every call's latency.
async fn round<F, Fut>(ops: usize, call: F) -> (f64, Vec<Duration>)
where
    F: Fn(usize) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for task in 0..TASKS {
        let call = call.clone();
        tasks.spawn(async move {
            let mut latencies = Vec::with_capacity(ops);
            for _ in 0..ops {
                let begun = Instant::now();
                call(task).await;
                latencies.push(begun.elapsed());
            }
            latencies
        });
    }
    let mut all = Vec::with_capacity(ops * TASKS);
    while let Some(latencies) = tasks.join_next().await {
        all.extend(latencies.expect("task"));
    }
    let throughput = all.len() as f64 / started.elapsed().as_secs_f64();
    (throughput, all)
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let rounds = args.first().copied().unwrap_or(21);
    let ops = args.get(1).copied().unwrap_or(300);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let server = RedisServer::start();
    runtime.block_on(async {
        let redis = Redis::config(server.url())
            .timeout(Duration::from_secs(1))
            .connect()
            .await
            .expect("redis");
        let store = RedisStore::new(&redis);
        let floor = redis::Client::open(server.url())
            .expect("client")
            .get_connection_manager()
            .await
            .expect("connection");
        let sha: String = redis::cmd("SCRIPT")
            .arg("LOAD")
            .arg(RedisStore::CHECK_SCRIPT)
            .query_async(&mut floor.clone())
            .await
            .expect("script");

        // Always admits: the cost of a check, not of a refusal.
        let rate = Rate::new(1_000_000_000, Duration::from_secs(1)).expect("rate");
        let keys: Vec<Vec<u8>> = (0..TASKS).map(|t| format!("client-{t}").into_bytes()).collect();
        let keys: &'static [Vec<u8>] = Box::leak(keys.into_boxed_slice());
        let commands: Vec<redis::Cmd> = keys
            .iter()
            .map(|key| {
                let check = LimitCheck { policy: "bench", key, rate, cost: 1 };
                let mut command = redis::cmd("EVALSHA");
                command
                    .arg(&sha)
                    .arg(1)
                    .arg(store.key_of(&check))
                    .arg(0)
                    .arg(rate.interval_ns())
                    .arg(rate.tolerance_ns() / 1_000_000_000)
                    .arg(rate.tolerance_ns() % 1_000_000_000);
                command
            })
            .collect();
        let commands: &'static [redis::Cmd] = Box::leak(commands.into_boxed_slice());

        let run_floor = |ops| {
            let floor = floor.clone();
            round(ops, move |task| {
                let mut connection = floor.clone();
                async move {
                    let reply = connection
                        .send_packed_command(&commands[task])
                        .await
                        .and_then(redis::Value::extract_error)
                        .expect("EVALSHA");
                    std::hint::black_box(reply);
                }
            })
        };
        let run_store = |ops| {
            let store = store.clone();
            round(ops, move |task| {
                let store = store.clone();
                async move {
                    let check = LimitCheck { policy: "bench", key: &keys[task], rate, cost: 1 };
                    let verdict = store.check(&[check]).await.expect("check");
                    assert!(verdict.admitted());
                }
            })
        };

        // Warm-up: connections, script cache, allocator.
        run_floor(ops / 3).await;
        run_store(ops / 3).await;

        let (mut floor_rates, mut store_rates, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
        let (mut floor_latencies, mut store_latencies) = (Vec::new(), Vec::new());
        for round in 0..rounds {
            // A, B then B, A: neither side always runs second.
            let ((f, fl), (s, sl)) = if round % 2 == 0 {
                let floor = run_floor(ops).await;
                (floor, run_store(ops).await)
            } else {
                let store = run_store(ops).await;
                (run_floor(ops).await, store)
            };
            floor_rates.push(f);
            store_rates.push(s);
            ratios.push(s / f);
            floor_latencies.extend(fl);
            store_latencies.extend(sl);
        }
        floor_latencies.sort();
        store_latencies.sort();
        println!(
            "{rounds} rounds of {TASKS} tasks x {ops} calls each, alternating; loopback redis-server"
        );
        println!("what                      calls/s    p50 us    p99 us");
        for (label, rates, latencies) in [
            ("bare EVALSHA (floor)", &mut floor_rates, &floor_latencies),
            ("RedisStore::check", &mut store_rates, &store_latencies),
        ] {
            println!(
                "{label:<22} {:>10.0} {:>9.1} {:>9.1}",
                median(rates),
                percentile(latencies, 0.50).as_secs_f64() * 1e6,
                percentile(latencies, 0.99).as_secs_f64() * 1e6,
            );
        }
        println!(
            "RedisStore::check / floor throughput, median of per-round ratios: {:.3}",
            median(&mut ratios)
        );
    });
}
