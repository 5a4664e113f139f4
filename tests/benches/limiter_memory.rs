//! Memory of the rate-limit memory store with one million keys, read from
//! the process's resident set (so allocator overhead counts too); then, in
//! a process of its own, governor's keyed limiter with the same keys.
//!
//! `cargo bench -p warden-tests --bench limiter_memory`

#![allow(missing_docs)]

use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use warden::limit::{LimitCheck, MemoryStore, Rate, Store};

const KEYS: u32 = 1_000_000;

fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("/proc/self/statm");
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .expect("resident pages");
    pages * 4096
}

fn check(store: &MemoryStore, key: &[u8], rate: Rate) -> bool {
    let checks = [LimitCheck {
        policy: "memory::bench#0",
        key,
        rate,
        cost: 1,
    }];
    let mut future = store.check(&checks);
    match Pin::new(&mut future).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(verdict) => verdict.expect("memory store").admitted(),
        Poll::Pending => unreachable!("the memory store answers at once"),
    }
}

fn ipv4(i: u32) -> [u8; 5] {
    let [a, b, c, d] = i.to_be_bytes();
    [4, a, b, c, d]
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// governor's keyed limiter (its default `DashMap` state, keyed by
/// address as tower_governor keys it) with the same keys and rate.
fn governor() {
    use std::net::{IpAddr, Ipv4Addr};

    let quota = governor::Quota::with_period(Duration::from_secs(720))
        .expect("period")
        .allow_burst(std::num::NonZeroU32::new(5).expect("non-zero"));
    assert_eq!(
        Rate::from(quota),
        Rate::new(5, Duration::from_secs(3600)).expect("rate")
    );
    let before = resident_bytes();
    let limiter = governor::RateLimiter::keyed(quota);
    let ip = |i: u32| IpAddr::V4(Ipv4Addr::from(i));
    for i in 0..KEYS {
        assert!(limiter.check_key(&ip(i)).is_ok());
    }
    let full = resident_bytes();
    println!(
        "governor keyed (DashMap): {} keys: {:.1} MiB resident over the empty process, {:.1} bytes per key",
        limiter.len(),
        mib(full - before),
        (full - before) as f64 / f64::from(KEYS)
    );
    for i in KEYS..2 * KEYS {
        assert!(limiter.check_key(&ip(i)).is_ok());
    }
    // Nothing has recovered: retain_recent keeps every key.
    limiter.retain_recent();
    println!(
        "governor keyed, after 1,000,000 more distinct keys and retain_recent(): {} keys held (no bound), {:.1} MiB resident",
        limiter.len(),
        mib(resident_bytes() - before)
    );
}

fn main() {
    if std::env::args().any(|arg| arg == "--governor") {
        governor();
        return;
    }
    // Long enough that no key recovers while the bench runs.
    let slow = Rate::new(5, Duration::from_secs(3600)).expect("rate");

    let before = resident_bytes();
    let store = MemoryStore::with_max_keys(KEYS as usize);
    for i in 0..KEYS {
        assert!(check(&store, &ipv4(i), slow));
    }
    let full = resident_bytes();
    let held = store.len();
    println!(
        "{held} keys held: {:.1} MiB resident over the empty process, {:.1} bytes per key",
        mib(full - before),
        (full - before) as f64 / f64::from(KEYS)
    );

    // An attacker rotating through another million addresses.
    for i in KEYS..2 * KEYS {
        assert!(check(&store, &ipv4(i), slow));
    }
    let rotated = resident_bytes();
    println!(
        "after 1,000,000 more distinct keys: {} keys held (bound {}), {:.1} MiB resident",
        store.len(),
        store.max_keys(),
        mib(rotated - before)
    );
    assert!(store.len() <= store.max_keys());

    // States that recover are dropped and the memory given back.
    let fast = Rate::new(1, Duration::from_millis(200)).expect("rate");
    let recovering = MemoryStore::with_max_keys(KEYS as usize);
    let base = resident_bytes();
    for i in 0..KEYS {
        assert!(check(&recovering, &ipv4(i), fast));
    }
    let peak = resident_bytes();
    std::thread::sleep(Duration::from_millis(300));
    recovering.sweep();
    let swept = resident_bytes();
    println!(
        "recovering keys: {} MiB at {} keys, {} keys and {:.1} MiB after a sweep",
        mib(peak.saturating_sub(base)).round(),
        KEYS,
        recovering.len(),
        mib(swept.saturating_sub(base))
    );
    drop(store);

    // A fresh process, so that the memory freed above cannot be reused.
    let output = std::process::Command::new(std::env::current_exe().expect("this bench"))
        .arg("--governor")
        .output()
        .expect("the governor half");
    assert!(output.status.success(), "{output:?}");
    print!("{}", String::from_utf8_lossy(&output.stdout));
}
