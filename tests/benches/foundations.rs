//! warden's own work beside the crate it could have left it to, on this
//! machine: the rate-limit check (warden's `MemoryStore` against
//! governor's keyed `RateLimiter` on its `DashMap` state) and HS256
//! access-token verification (warden's one-pass verifier against
//! jsonwebtoken's `decode`).
//!
//! `cargo bench -p warden-tests --bench foundations`
//!
//! Criterion times each benchmark for some seconds in turn, and on a
//! shared machine whose speed drifts two benchmarks of a pair can read
//! apart for that alone; so each pair is also timed in alternation (41
//! rounds, warden's side then the other, then the other way round) and the
//! median of the per-round ratios printed after the criterion groups.

#![allow(missing_docs)]

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::num::NonZeroU32;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use governor::{Quota, RateLimiter};
use jsonwebtoken::{DecodingKey, Validation};
use warden::limit::{LimitCheck, MemoryStore, Rate, Store};
use warden_tests::HandClaims;

/// Polls a future that is ready at once (the memory store's).
fn ready<F: std::future::Future + Unpin>(mut future: F) -> F::Output {
    match Pin::new(&mut future).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(value) => value,
        Poll::Pending => panic!("the memory store answers at once"),
    }
}

/// One check of one limit, as a guard makes it.
fn warden_check(store: &MemoryStore, key: &[u8], rate: Rate) -> bool {
    let checks = [LimitCheck {
        policy: "bench::limited#0",
        key,
        rate,
        cost: 1,
    }];
    ready(store.check(&checks))
        .expect("memory store")
        .admitted()
}

/// The bytes a guard keys an IPv4 client by.
fn ipv4_key(ip: Ipv4Addr) -> [u8; 5] {
    let [a, b, c, d] = ip.octets();
    [4, a, b, c, d]
}

/// How many distinct clients the many-keys case cycles through.
const MANY: u32 = 100_000;

/// Nanoseconds per call of `f`, over `n` calls.
fn per_call(n: u32, f: &mut dyn FnMut()) -> f64 {
    let start = Instant::now();
    for _ in 0..n {
        f();
    }
    start.elapsed().as_nanos() as f64 / f64::from(n)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Times `ours` and `theirs` in alternation and prints the medians and
/// the median of the per-round ratios.
fn paired(name: &str, n: u32, ours: &mut dyn FnMut(), theirs: &mut dyn FnMut()) {
    const ROUNDS: usize = 41;
    let (mut xs, mut ys, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        // Alternate which side runs first: the second of a round pays
        // for whatever the first left in the caches.
        let (x, y) = if round % 2 == 0 {
            let x = per_call(n, ours);
            (x, per_call(n, theirs))
        } else {
            let y = per_call(n, theirs);
            (per_call(n, ours), y)
        };
        xs.push(x);
        ys.push(y);
        ratios.push(x / y);
    }
    println!(
        "{name:<48} {:>10.1} {:>10.1} {:>8.3}",
        median(xs),
        median(ys),
        median(ratios)
    );
}

fn limiter(c: &mut Criterion) {
    let mut group = c.benchmark_group("limiter");

    // One client, a rate that always admits: the cost of the check alone.
    let fast = Quota::per_second(NonZeroU32::new(1_000_000_000).expect("non-zero"));
    let store = MemoryStore::new();
    let rate = Rate::from(fast);
    let key = ipv4_key(Ipv4Addr::new(203, 0, 113, 7));
    group.bench_function("single_key/warden_memory_store", |b| {
        b.iter(|| assert!(warden_check(&store, black_box(&key), rate)))
    });
    let keyed = RateLimiter::keyed(fast);
    let ip = IpAddr::from([203, 0, 113, 7]);
    group.bench_function("single_key/governor_keyed_dashmap", |b| {
        b.iter(|| assert!(keyed.check_key(black_box(&ip)).is_ok()))
    });
    println!(
        "\npaired, warden / the crate (41 alternating rounds):\n{:<48} {:>10} {:>10} {:>8}",
        "", "warden ns", "crate ns", "ratio"
    );
    paired(
        "limiter, one key: MemoryStore / governor keyed",
        20_000,
        &mut || assert!(warden_check(&store, black_box(&key), rate)),
        &mut || assert!(keyed.check_key(black_box(&ip)).is_ok()),
    );

    // 100,000 clients in turn, each well inside 1000 per second: every
    // check finds its key among many, as on a busy public endpoint.
    let quota = Quota::per_second(NonZeroU32::new(1000).expect("non-zero"));
    let rate = Rate::from(quota);
    let clients: Vec<Ipv4Addr> = (0..MANY).map(|i| Ipv4Addr::from(0x0a00_0000 + i)).collect();
    let store = MemoryStore::new();
    let keys: Vec<[u8; 5]> = clients.iter().map(|ip| ipv4_key(*ip)).collect();
    for key in &keys {
        assert!(warden_check(&store, key, rate));
    }
    let mut next = 0;
    group.bench_function("many_keys/warden_memory_store", |b| {
        b.iter(|| {
            next = (next + 1) % keys.len();
            warden_check(&store, black_box(&keys[next]), rate)
        })
    });
    let keyed = RateLimiter::keyed(quota);
    let addresses: Vec<IpAddr> = clients.iter().map(|ip| IpAddr::V4(*ip)).collect();
    for address in &addresses {
        assert!(keyed.check_key(address).is_ok());
    }
    let mut next = 0;
    group.bench_function("many_keys/governor_keyed_dashmap", |b| {
        b.iter(|| {
            next = (next + 1) % addresses.len();
            keyed.check_key(black_box(&addresses[next])).is_ok()
        })
    });
    group.finish();
    let (mut ours, mut theirs) = (0, 0);
    paired(
        "limiter, 100,000 keys: MemoryStore / governor keyed",
        20_000,
        &mut || {
            ours = (ours + 1) % keys.len();
            black_box(warden_check(&store, black_box(&keys[ours]), rate));
        },
        &mut || {
            theirs = (theirs + 1) % addresses.len();
            black_box(keyed.check_key(black_box(&addresses[theirs])).is_ok());
        },
    );
}

const SECRET: &[u8] = b"benchmark secret, at least 32 bytes long";

fn hs256(c: &mut Criterion) {
    let (warden, token) = warden_tests::bench_warden(SECRET);
    let key = DecodingKey::from_secret(SECRET).expect("key");
    let mut validation = Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.set_issuer(&["bench"]);
    validation.set_audience(&["bench"]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    validation.leeway = 30;
    // Both accept the token before they are timed.
    assert_eq!(
        warden.verify_access_token(&token).expect("warden").sub(),
        "user-1"
    );
    assert_eq!(
        jsonwebtoken::decode::<HandClaims>(&token, &key, &validation)
            .expect("jsonwebtoken")
            .claims
            .sub,
        "user-1"
    );

    let mut group = c.benchmark_group("hs256_verify");
    group.bench_function("warden_verify_access_token", |b| {
        b.iter(|| {
            warden
                .verify_access_token(black_box(&token))
                .expect("valid")
        })
    });
    group.bench_function("jsonwebtoken_decode", |b| {
        b.iter(|| {
            jsonwebtoken::decode::<HandClaims>(black_box(&token), &key, &validation).expect("valid")
        })
    });
    // With the header checks warden makes too (`typ` and `kid`), as a
    // careful hand-wired extractor does.
    group.bench_function("jsonwebtoken_decode_header_and_decode", |b| {
        b.iter(|| {
            let token = black_box(&token);
            let header = jsonwebtoken::decode_header(token).expect("header");
            assert!(header.typ.is_some_and(|t| t.eq_ignore_ascii_case("at+jwt")));
            assert_eq!(header.kid.as_deref(), Some("k1"));
            jsonwebtoken::decode::<HandClaims>(token, &key, &validation).expect("valid")
        })
    });
    group.finish();
    let mut ours = || {
        black_box(
            warden
                .verify_access_token(black_box(&token))
                .expect("valid"),
        );
    };
    paired(
        "HS256: verify_access_token / jsonwebtoken decode",
        2_000,
        &mut ours,
        &mut || {
            black_box(
                jsonwebtoken::decode::<HandClaims>(black_box(&token), &key, &validation)
                    .expect("valid"),
            );
        },
    );
    paired(
        "HS256: verify_access_token / decode_header + decode",
        2_000,
        &mut ours,
        &mut || {
            let token = black_box(&token);
            let header = jsonwebtoken::decode_header(token).expect("header");
            assert!(header.typ.is_some_and(|t| t.eq_ignore_ascii_case("at+jwt")));
            assert_eq!(header.kid.as_deref(), Some("k1"));
            black_box(jsonwebtoken::decode::<HandClaims>(token, &key, &validation).expect("valid"));
        },
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3));
    targets = limiter, hs256
}
criterion_main!(benches);
