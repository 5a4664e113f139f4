//! `"{count}/{window}".parse::<Rate>()` on arbitrary text: never panics,
//! and a rate it returns is one that can be enforced.

#![no_main]

use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use warden::limit::{MAX_WINDOW, Rate};

fuzz_target!(|data: &[u8]| {
    // Mostly text; arbitrary bytes still reach the parser as lossy UTF-8.
    let text = String::from_utf8_lossy(data);
    check(&text);
    // The same text as the window of a plausible count, and as a count.
    if let Some((count, window)) = text.split_once('\u{0}') {
        check(&format!("{count}/{window}"));
    } else {
        check(&format!("10/{text}"));
    }
});

fn check(text: &str) {
    let Ok(rate) = text.parse::<Rate>() else {
        return;
    };
    assert!(rate.count() >= 1, "{text:?}: count {}", rate.count());
    let window = rate.window();
    assert!(
        window > Duration::ZERO && window <= MAX_WINDOW,
        "{text:?}: window {window:?}"
    );
    assert!(
        MAX_WINDOW == Duration::from_secs(366 * 86_400),
        "MAX_WINDOW changed"
    );
    assert!(
        rate.interval_ns() >= 1,
        "{text:?}: interval {}",
        rate.interval_ns()
    );
    assert!(
        rate.tolerance_ns() <= window.as_nanos() as u64,
        "{text:?}: tolerance over the window"
    );
    // What it parsed is what the text says, read independently.
    let (count, _) = text
        .trim()
        .split_once('/')
        .expect("a parsed rate has a slash");
    assert_eq!(
        count.trim().parse::<u32>().ok(),
        Some(rate.count()),
        "{text:?}"
    );
    assert_eq!(Rate::new(rate.count(), window), Ok(rate), "{text:?}");
}
