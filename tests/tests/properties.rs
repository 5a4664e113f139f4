//! Property tests of the rate-limit maths: GCRA's exact burst bound,
//! refusals that leave no trace, an exact `retry_after`, refunds that undo
//! a request, no overflow on huge costs and times, and `MemoryStore`'s
//! all-or-nothing rule against a reference model built on `gcra::check`;
//! and of `Valid<Json<T>>` on arbitrary JSON: it admits exactly what serde
//! and the rules admit, and lists data issues in warden's own words.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use axum::Json;
use axum::body::Body;
use axum::routing::post;
use http::{Request, StatusCode};
use proptest::prelude::*;
use serde::Deserialize;
use serde_json::Value;
use tower::ServiceExt;
use warden::limit::{LimitCheck, MAX_WINDOW, MemoryStore, Outcome, Rate, Store, gcra};
use warden::{Valid, Validate};

/// The longest window, in nanoseconds.
const MAX_WINDOW_NS: u64 = MAX_WINDOW.as_nanos() as u64;

/// Timestamps a store can produce: `MemoryStore` counts nanoseconds from
/// its creation and the Redis store from the Unix epoch, both centuries
/// away from `u64::MAX`. The top `2 * MAX_WINDOW` is left out on purpose:
/// see `huge_timestamps_near_u64_max`.
const LATEST: u64 = u64::MAX - 2 * MAX_WINDOW_NS;

fn config() -> ProptestConfig {
    ProptestConfig::with_cases(256)
}

/// 1 to 1000 requests per 1 ms to 1 day.
fn rates() -> impl Strategy<Value = Rate> {
    (1u32..=1000, 1_000_000u64..=86_400_000_000_000)
        .prop_map(|(count, window)| Rate::new(count, Duration::from_nanos(window)).unwrap())
}

/// Any valid rate at all: up to `u32::MAX` requests, 1 ns to 366 days.
fn any_rate() -> impl Strategy<Value = Rate> {
    (1u32..=u32::MAX, 1u64..=MAX_WINDOW_NS).prop_filter_map("under 1 ns per request", |(c, w)| {
        Rate::new(c, Duration::from_nanos(w)).ok()
    })
}

/// Gaps between consecutive requests, in thousandths of an emission
/// interval (0 to 2 intervals), zero half of the time: bursts and trickles.
fn gaps() -> impl Strategy<Value = Vec<u64>> {
    prop::collection::vec(prop_oneof![Just(0u64), 0u64..=2000], 1..300)
}

/// Request times from a start and gaps.
fn times(start: u64, rate: Rate, gaps: &[u64]) -> Vec<u64> {
    let mut now = start;
    gaps.iter()
        .map(|gap| {
            now += rate.interval_ns() * gap / 1000;
            now
        })
        .collect()
}

/// Runs requests of cost 1 from an empty state; returns the admitted ones'
/// times and the state after the last.
fn run(rate: Rate, times: &[u64]) -> (Vec<u64>, Option<u64>) {
    let mut tat = None;
    let mut admitted = Vec::new();
    for &now in times {
        let (outcome, new) = gcra::check(tat, now, rate, 1);
        if outcome.admitted {
            admitted.push(now);
            tat = new;
        }
    }
    (admitted, tat)
}

/// A state reached by real traffic: requests at the given times.
fn state_after(rate: Rate, start: u64, gaps: &[u64]) -> (Option<u64>, u64) {
    let times = times(start, rate, gaps);
    let (_, tat) = run(rate, &times);
    (tat, *times.last().unwrap_or(&start))
}

proptest! {
    #![proptest_config(config())]

    /// The burst bound. GCRA admits a burst of `count`, then one request
    /// per emission interval, so over any span of requests
    /// `[s_first, s_last]` it admits at most
    /// `count + floor((s_last - s_first) / interval)`; over a span shorter
    /// than one interval, at most `count`. (It does *not* hold that at most
    /// `count` are admitted in any window-length span: 5 per 15 minutes
    /// admits 5 at 0 s and a 6th at 180 s, as gcra.rs's own unit test says.)
    #[test]
    fn never_more_than_the_burst_plus_one_per_interval(
        rate in rates(),
        start in 0u64..=1 << 62,
        gaps in gaps(),
    ) {
        let times = times(start, rate, &gaps);
        let (admitted, _) = run(rate, &times);
        let interval = rate.interval_ns();
        for i in 0..admitted.len() {
            for j in i..admitted.len() {
                let span = admitted[j] - admitted[i];
                let bound = u64::from(rate.count()) + span / interval;
                prop_assert!(
                    (j - i + 1) as u64 <= bound,
                    "{} admitted within {span} ns, bound {bound} ({rate})",
                    j - i + 1
                );
            }
        }
    }

    /// The bound is reached: a whole burst at once, then exactly one more
    /// per emission interval, and never one more than that.
    #[test]
    fn a_whole_burst_then_exactly_one_per_interval(
        rate in rates(),
        start in 0u64..=1 << 62,
        intervals in 1u64..20,
    ) {
        let count = rate.count();
        let mut tat = None;
        for i in 0..count {
            let (outcome, new) = gcra::check(tat, start, rate, 1);
            prop_assert!(outcome.admitted, "request {i} of the burst refused");
            prop_assert_eq!(outcome.remaining, count - i - 1);
            tat = new;
        }
        prop_assert!(!gcra::check(tat, start, rate, 1).0.admitted);
        for k in 1..=intervals {
            let now = start + k * rate.interval_ns();
            let (outcome, new) = gcra::check(tat, now, rate, 1);
            prop_assert!(outcome.admitted, "not admitted after {k} intervals");
            tat = new;
            prop_assert!(!gcra::check(tat, now, rate, 1).0.admitted);
            prop_assert!(!gcra::check(tat, now + rate.interval_ns() - 1, rate, 1).0.admitted);
        }
    }

    /// A refusal writes no state, so a refused request changes nothing:
    /// the same traffic without the refused requests admits exactly the
    /// same ones, and each outcome says what its numbers should.
    #[test]
    fn a_refusal_leaves_the_state_as_it_was(
        rate in rates(),
        start in 0u64..=1 << 62,
        gaps in gaps(),
        costs in prop::collection::vec(1u32..=3, 300),
    ) {
        let times = times(start, rate, &gaps);
        let (interval, tolerance) = (rate.interval_ns(), rate.tolerance_ns());
        let mut tat = None;
        let mut admitted = Vec::new();
        for (&now, &cost) in times.iter().zip(&costs) {
            let (outcome, new) = gcra::check(tat, now, rate, cost);
            let base = tat.unwrap_or(now).max(now);
            prop_assert_eq!(outcome.admitted, new.is_some());
            if let Some(new) = new {
                prop_assert_eq!(new, base + interval * u64::from(cost));
                prop_assert!(new - now <= tolerance);
                prop_assert_eq!(outcome.reset, Duration::from_nanos(new - now));
                prop_assert_eq!(u64::from(outcome.remaining), (tolerance - (new - now)) / interval);
                prop_assert_eq!(outcome.retry_after, Duration::ZERO);
                admitted.push((now, cost));
                tat = Some(new);
            } else {
                prop_assert_eq!(outcome.remaining, 0);
                prop_assert_eq!(outcome.reset, Duration::from_nanos(base - now));
                prop_assert!(outcome.retry_after > Duration::ZERO);
            }
        }
        // Replaying only the admitted requests admits every one of them
        // and ends in the same state.
        let mut replayed = None;
        for &(now, cost) in &admitted {
            let (outcome, new) = gcra::check(replayed, now, rate, cost);
            prop_assert!(outcome.admitted);
            replayed = new;
        }
        prop_assert_eq!(replayed, tat);
    }

    /// `retry_after` is exact: with nothing else happening, the request
    /// fits at `now + retry_after` and not a nanosecond earlier. A cost
    /// over the burst never fits, at any time.
    #[test]
    fn retry_after_is_exact(
        rate in rates(),
        start in 0u64..=LATEST / 2,
        gaps in gaps(),
        extra in 0u64..=2000,
        cost in 1u32..=1000,
    ) {
        let (tat, last) = state_after(rate, start, &gaps);
        let now = last + rate.interval_ns() * extra / 1000;
        let (outcome, _) = gcra::check(tat, now, rate, cost);
        if outcome.admitted {
            return Ok(());
        }
        let wait = u64::try_from(outcome.retry_after.as_nanos()).unwrap();
        if cost <= rate.count() {
            prop_assert!(gcra::check(tat, now + wait, rate, cost).0.admitted);
            prop_assert!(!gcra::check(tat, now + wait - 1, rate, cost).0.admitted);
        } else {
            for later in [now + wait, now + MAX_WINDOW_NS, LATEST] {
                prop_assert!(!gcra::check(tat, later, rate, cost).0.admitted);
                prop_assert!(!gcra::check(None, later, rate, cost).0.admitted);
            }
        }
    }

    /// A refund of an admitted request restores the state before it: every
    /// later request of any cost gets exactly the outcome it would have had.
    #[test]
    fn a_refund_undoes_the_request(
        rate in rates(),
        start in 0u64..=LATEST / 2,
        gaps in gaps(),
        cost in 1u32..=1000,
        probes in prop::collection::vec((0u64..=4000, 1u32..=1000), 1..8),
    ) {
        let (before, now) = state_after(rate, start, &gaps);
        let (outcome, after) = gcra::check(before, now, rate, cost);
        if !outcome.admitted {
            return Ok(());
        }
        let refunded = gcra::refund(after.unwrap(), now, rate, cost);
        if let Some(tat) = refunded {
            prop_assert!(!gcra::recovered(tat, now));
        }
        for (offset, probe_cost) in probes {
            let later = now + rate.interval_ns() * offset / 1000;
            prop_assert_eq!(
                gcra::check(refunded, later, rate, probe_cost).0,
                gcra::check(before, later, rate, probe_cost).0,
                "at {} ns after the refund, cost {}", later - now, probe_cost
            );
        }
    }

    /// No arithmetic overflow, whatever the rate, cost, state and time
    /// (below the top two windows of u64), and a cost beyond what the
    /// window holds is refused.
    #[test]
    fn huge_costs_and_times_never_overflow(
        rate in any_rate(),
        tat in proptest::option::of(0u64..=LATEST),
        now in 0u64..=LATEST,
        cost in 0u32..=u32::MAX,
    ) {
        let (outcome, new) = gcra::check(tat, now, rate, cost);
        prop_assert_eq!(outcome.admitted, new.is_some());
        if u128::from(rate.interval_ns()) * u128::from(cost) > u128::from(rate.tolerance_ns()) {
            prop_assert!(!outcome.admitted);
        }
        if let Some(new) = new {
            let _ = gcra::refund(new, now, rate, cost);
            let _ = gcra::refund(new, now, rate, u32::MAX);
        }
        let _ = gcra::recovered(tat.unwrap_or(0), now);
    }
}

/// `gcra::check` on timestamps within one window of `u64::MAX` (the year
/// 2554): a request within the burst is admitted, with no overflow, and a
/// refusal's `retry_after` is exact.
#[test]
fn huge_timestamps_near_u64_max() {
    let rate = Rate::new(10, Duration::from_nanos(100)).unwrap();
    let near = u64::MAX - 5;
    let (outcome, tat) = gcra::check(Some(near), near, rate, 1);
    assert!(outcome.admitted);
    assert_eq!(outcome.remaining, 9);
    assert_eq!(tat, Some(u64::MAX));
    let (outcome, _) = gcra::check(Some(u64::MAX), near, rate, 11);
    assert!(!outcome.admitted);
    // A lead of 5 + 11 * 10 ns against a tolerance of 100 ns.
    assert_eq!(outcome.retry_after, Duration::from_nanos(15));
}

// ------------------------------------------------------------ MemoryStore

/// Three policies with their rates (a policy's rate is fixed, as in
/// warden), over windows of hours.
const POLICIES: [&str; 3] = ["login", "api", "export"];
const KEYS: [&[u8]; 3] = [b"10.0.0.1", b"user-7", b"user-8"];

/// Windows of 1 to 24 hours and counts of 1 to 20: emission intervals of
/// 3 minutes or more.
fn policy_rates() -> impl Strategy<Value = [Rate; 3]> {
    let rate = (1u32..=20, 1u64..=24)
        .prop_map(|(count, hours)| Rate::new(count, Duration::from_secs(hours * 3600)).unwrap());
    [rate.clone(), rate.clone(), rate]
}

/// One multi-limit check: 1 to 3 distinct (policy, key) limits, each with
/// a cost of 1 to 3 (sometimes over the burst).
fn store_checks() -> impl Strategy<Value = Vec<Vec<(usize, usize, u32)>>> {
    let limit = (
        0..3usize,
        0..3usize,
        prop_oneof![3 => 1u32..=3, 1 => 1u32..=25],
    );
    let check = prop::collection::vec(limit, 1..=3).prop_map(|mut limits| {
        let mut seen = Vec::new();
        limits.retain(|&(p, k, _)| {
            let fresh = !seen.contains(&(p, k));
            seen.push((p, k));
            fresh
        });
        limits
    });
    prop::collection::vec(check, 1..40)
}

thread_local! {
    static RUNTIME: tokio::runtime::Runtime =
        tokio::runtime::Builder::new_current_thread().build().unwrap();
}

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    RUNTIME.with(|runtime| runtime.block_on(future))
}

/// Asserts that the store's outcome is the model's, where the store's
/// clock may have moved on by at most `elapsed` since each state it holds
/// was written (the model's clock stands still at 0).
fn assert_close(store: &Outcome, model: &Outcome, elapsed: Duration) -> Result<(), TestCaseError> {
    prop_assert_eq!(store.admitted, model.admitted);
    prop_assert_eq!(store.remaining, model.remaining);
    for (what, ours, theirs) in [
        ("reset", store.reset, model.reset),
        ("retry_after", store.retry_after, model.retry_after),
    ] {
        prop_assert!(
            ours <= theirs && theirs - ours <= elapsed,
            "{what}: store {ours:?}, model {theirs:?}, clock moved {elapsed:?}"
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    /// `MemoryStore` against a model: one TAT per (policy, key), every
    /// check computed with `gcra::check`, a verdict admitted only when
    /// every limit admits, and then counted against every limit.
    ///
    /// `MemoryStore` reads its own clock, which a test cannot stop. With
    /// emission intervals of minutes and a test case that takes well under
    /// a second, time effectively stands still: the model keeps `now = 0`,
    /// and every admission and `remaining` must then be exactly the
    /// model's (both are whole multiples of an interval, and the clock
    /// moves less than one), while `reset` and `retry_after` may be short
    /// of the model's by at most the time the case took. That assumption
    /// is checked, not just made.
    ///
    /// After every check, each of its limits is probed alone with a cost
    /// over its burst: such a probe is always refused, so it changes
    /// nothing, and its `reset` reveals the limit's state. A refused
    /// verdict must have changed no limit's state; an admitted one must
    /// have counted against every limit.
    #[test]
    fn memory_store_is_all_or_nothing_and_agrees_with_the_model(
        rates in policy_rates(),
        checks in store_checks(),
    ) {
        let began = Instant::now();
        let store = MemoryStore::new();
        let mut model: HashMap<(usize, usize), u64> = HashMap::new();
        let limit = |p: usize, k: usize, cost: u32| LimitCheck {
            policy: POLICIES[p],
            key: KEYS[k],
            rate: rates[p],
            cost,
        };
        for request in &checks {
            let limits: Vec<LimitCheck<'_>> =
                request.iter().map(|&(p, k, cost)| limit(p, k, cost)).collect();
            let verdict = block_on(store.check(&limits)).unwrap();

            let expected: Vec<(Outcome, Option<u64>)> = request
                .iter()
                .map(|&(p, k, cost)| gcra::check(model.get(&(p, k)).copied(), 0, rates[p], cost))
                .collect();
            let admitted = expected.iter().all(|(o, _)| o.admitted);
            prop_assert_eq!(verdict.admitted(), admitted);
            prop_assert_eq!(verdict.outcomes().len(), request.len());
            let elapsed = began.elapsed();
            for (ours, (theirs, _)) in verdict.outcomes().iter().zip(&expected) {
                assert_close(ours, theirs, elapsed)?;
            }
            if admitted {
                for (&(p, k, _), (_, tat)) in request.iter().zip(&expected) {
                    model.insert((p, k), tat.unwrap());
                }
            }

            // Every limit of the request, alone, with a cost that never fits.
            for &(p, k, _) in request {
                let probe = limit(p, k, rates[p].count() + 1);
                let answer = block_on(store.check(&[probe])).unwrap();
                let (theirs, _) = gcra::check(model.get(&(p, k)).copied(), 0, rates[p], probe.cost);
                prop_assert!(!answer.admitted());
                assert_close(&answer.outcomes()[0], &theirs, began.elapsed())?;
            }
        }
        // The assumption the exact comparisons rest on: the shortest
        // emission interval is 3 minutes.
        prop_assert!(began.elapsed() < Duration::from_secs(60), "the case took {:?}", began.elapsed());
    }

    /// The stores' seam: a refund of an admitted multi-limit check gives
    /// every limit its request back.
    #[test]
    fn memory_store_refunds_every_limit(
        rates in policy_rates(),
        checks in store_checks(),
    ) {
        let store = MemoryStore::new();
        let began = Instant::now();
        for request in &checks {
            let limits: Vec<LimitCheck<'_>> = request
                .iter()
                .map(|&(p, k, cost)| LimitCheck { policy: POLICIES[p], key: KEYS[k], rate: rates[p], cost })
                .collect();
            let probes = |store: &MemoryStore| -> Vec<Outcome> {
                limits
                    .iter()
                    .map(|l| {
                        let probe = LimitCheck { cost: l.rate.count() + 1, ..*l };
                        block_on(store.check(&[probe])).unwrap().outcomes()[0]
                    })
                    .collect()
            };
            let before = probes(&store);
            let verdict = block_on(store.check(&limits)).unwrap();
            if verdict.admitted() {
                block_on(store.refund(&limits)).unwrap();
            }
            let after = probes(&store);
            for (a, b) in after.iter().zip(&before) {
                assert_close(a, b, began.elapsed())?;
            }
            // Then count it for real, so that the states build up.
            let _ = block_on(store.check(&limits)).unwrap();
        }
    }
}

#[derive(Debug, Deserialize, Validate)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Signup {
    #[validate(len(min = 2))]
    name: String,
    count: Option<u8>,
    #[serde(rename = "odd`name", default)]
    odd: Vec<Tag>,
    kind: Option<Kind>,
}

#[derive(Debug, Deserialize, Validate)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Tag {
    #[validate(len(min = 2))]
    label: String,
}

#[derive(Debug, Deserialize)]
#[allow(dead_code)]
enum Kind {
    Plain,
    Sized(u32),
}

/// Keys of `Signup` and `Tag`, and others, some spelt like serde's words.
fn keys() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("name"),
        Just("count"),
        Just("odd`name"),
        Just("kind"),
        Just("label"),
        Just("Plain"),
        Just("Sized"),
        Just("missing field `name`"),
        Just("a.b[0]"),
    ]
    .prop_map(String::from)
}

/// JSON of every shape, three levels deep.
fn json_values() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        (-300i64..300).prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (-1e3f64..1e3).prop_map(Value::from),
        "[a-zA-Z`., ]{0,12}".prop_map(Value::from),
        Just(Value::from("Plain")),
    ];
    leaf.prop_recursive(3, 32, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((keys(), inner), 0..5)
                .prop_map(|entries| Value::Object(entries.into_iter().collect())),
        ]
    })
}

/// Bodies that are `Signup`-shaped more often than not.
fn signups() -> impl Strategy<Value = Value> {
    let fields = prop::collection::vec((keys(), json_values()), 0..5);
    prop_oneof![
        json_values(),
        fields.prop_map(|mut entries| {
            entries.push(("name".to_owned(), Value::from("Ana")));
            entries.rotate_right(1);
            Value::Object(entries.into_iter().collect())
        }),
    ]
}

async fn signup(Valid(Json(_)): Valid<Json<Signup>>) -> &'static str {
    "ok"
}

/// What warden says about data that did not parse.
const DATA_CODES: [&str; 4] = [
    "unknown_field",
    "missing_field",
    "invalid_type",
    "invalid_value",
];

proptest! {
    #![proptest_config(config())]

    /// `Valid<Json<T>>` admits exactly what serde and the rules admit; any
    /// other body gets a 400 whose issues are in warden's words (a data
    /// issue when serde refused it), and never repeat a string value of the
    /// body.
    #[test]
    fn valid_json_admits_what_serde_and_the_rules_admit(body in signups()) {
        let router = axum::Router::new().route("/", post(signup));
        let text = body.to_string();
        let request = Request::post("/")
            .header("content-type", "application/json")
            .body(Body::from(text.clone()))
            .unwrap();
        let response = block_on(router.oneshot(request)).unwrap();
        let status = response.status();
        let bytes = block_on(axum::body::to_bytes(response.into_body(), usize::MAX)).unwrap();
        let parsed = serde_json::from_str::<Signup>(&text);
        let admitted = parsed.as_ref().is_ok_and(|signup| signup.validate().is_ok());
        prop_assert_eq!(status == StatusCode::OK, admitted, "{}", text);
        if admitted {
            return Ok(());
        }
        prop_assert_eq!(status, StatusCode::BAD_REQUEST);
        let answer: Value = serde_json::from_slice(&bytes).unwrap();
        prop_assert_eq!(&answer["code"], "validation_failed");
        let issues = answer["issues"].as_array().unwrap();
        prop_assert!(!issues.is_empty());
        if parsed.is_err() {
            prop_assert!(
                issues.iter().any(|i| DATA_CODES.contains(&i["code"].as_str().unwrap())),
                "{} -> {}", text, answer
            );
        }
        for issue in issues {
            let message = issue["message"].as_str().unwrap();
            if DATA_CODES.contains(&issue["code"].as_str().unwrap()) {
                prop_assert!(
                    message.starts_with("expected ")
                        || ["this field is not allowed", "this field is required", "this value is not valid here"]
                            .contains(&message),
                    "{}", message
                );
            }
        }
        let mut sent = Vec::new();
        strings(&body, &mut sent);
        // Eight characters or more: shorter ones can be warden's own words.
        for value in sent.iter().filter(|v| v.len() >= 8) {
            for issue in issues {
                prop_assert!(!issue["message"].as_str().unwrap().contains(value.as_str()), "{} in {}", value, answer);
            }
        }
    }
}

/// The string values of a JSON value (not its keys).
fn strings(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|v| strings(v, out)),
        Value::Object(map) => map.values().for_each(|v| strings(v, out)),
        _ => {}
    }
}
