use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use smallvec::SmallVec;

use super::gcra;
use super::store::{LimitCheck, Store, Verdict};
use crate::{StoreError, StoreFuture};

/// The default bound on the keys a [`MemoryStore`] holds.
pub const DEFAULT_MAX_KEYS: usize = 1_000_000;

const SHARDS: usize = 64;
/// How often a full shard may be swept for recovered keys.
const SWEEP_EVERY: Duration = Duration::from_secs(1);
/// How many entries are sampled when a full shard must evict a live one.
const EVICTION_SAMPLE: usize = 8;

/// Rate-limit state in process memory, bounded.
///
/// Each (policy, key) pair costs one 64-bit keyed hash, one 64-bit
/// timestamp and its rate's 64-bit tolerance in a sharded map. Measured with one million keys
/// (`cargo bench -p warden-tests --bench limiter_memory`): 55 bytes per
/// key, 52 MiB for the default bound of one million keys, allocator
/// overhead included.
///
/// Keys whose state has fully recovered are dropped, since they restrict
/// nothing. The bound is kept per shard (1/64 of it each), so a shard that
/// fills first starts evicting slightly before the whole store holds
/// `max_keys`. When a shard is full it is swept for recovered keys (at most
/// once a second); if none has recovered, the least restrictive of a few
/// sampled keys is evicted: the one that has spent the smallest share of
/// its burst, whatever its policy, so that a flood of new keys under a
/// generous policy cannot push out a client locked out by a strict one
/// (and so reset its lockout). When even that one is throttled, the whole
/// shard is searched for a cheaper one. An attacker rotating through a million
/// addresses therefore cannot grow memory past the bound; the price is that,
/// past the bound, some states are forgotten early, the least restrictive
/// first. [`MemoryStore::sweep`] drops every recovered key and gives the
/// memory back.
///
/// The keys are hashed with a per-process random key (SipHash), so nobody
/// can aim two clients at one state.
///
/// # Why not governor's keyed limiter
///
/// The arithmetic is governor's GCRA: a [`governor::Quota`] converts into
/// the [`Rate`](super::Rate) that decides every request alike (a test
/// drives both with the same clock), and the time source is the same
/// `quanta` clock. The state is not governor's keyed `RateLimiter`,
/// because that cannot keep three promises of `#[rate_limit]`:
///
/// - **All or nothing across limits.** A request is admitted only if every
///   limit of its handler admits it, and a refused request counts against
///   none. A governor `RateLimiter` holds one quota, so several limits are
///   several limiters, and each `check_key` commits its own cell at once
///   (a compare-and-swap of that key's TAT). There is no way to test the
///   second limiter before the first commits, nor to take the first one's
///   cell back when the second refuses: checked in turn, a client refused
///   by its daily limit would go on spending its per-minute burst. Here
///   the shards of all of a request's keys are locked together (in one
///   order, so that two requests never wait on each other) and the states
///   are written only when every limit admits.
/// - **Refunds.** `skip_successful` and `skip_failed` give a counted
///   request back once the response is known. governor has no operation
///   that returns a cell: its states are written only by its own
///   test-and-update. A `StateStore` of our own could take one back, but
///   then the store would be ours anyway, which is what this is.
/// - **Bounded memory.** governor's keyed stores (`DashMap`, `HashMap`)
///   grow by one entry per key with no bound: `retain_recent` drops the
///   keys that have recovered only when the application calls it, and a
///   flood of fresh keys between two calls (a botnet's addresses, made-up
///   API keys) is all kept. Measured with one million keys
///   (`cargo bench -p warden-tests --bench limiter_memory`): 70 bytes per
///   key, and 2 million keys, 133 MiB, after a million more; this store
///   stays at its bound. Eviction also needs what governor does not keep:
///   each state's tolerance, to rank keys of different policies sharing
///   one bound.
///
/// One more reason, not a promise: the Redis store runs the same steps in
/// a script and reads what clients are told through [`gcra`](super::gcra)
/// from the state the script saw, so both stores answer with the same
/// code; governor's arithmetic cannot run inside Redis.
///
/// The price, on the machine of `BENCHMARKS.md`
/// (`cargo bench -p warden-tests --bench foundations`, pairs timed in
/// alternation): one limit checked for one hot key takes 1.28 to 1.48
/// times governor's time (about 100 ns against 70 to 85 ns: a keyed
/// SipHash of the policy and the key, a mutex and a `Verdict`, where
/// governor hashes the key and swaps one atomic); among 100,000 keys,
/// where a check waits on memory more than it computes, 0.98 to 1.11. A
/// request pays it once for all the limits checked together.
pub struct MemoryStore {
    shards: Box<[Mutex<Shard>]>,
    per_shard: usize,
    hasher: RandomState,
    /// A calibrated TSC clock where the processor has a reliable one (the
    /// system's monotonic clock otherwise): a few nanoseconds a reading.
    clock: quanta::Clock,
    epoch: u64,
}

struct Shard {
    states: HashMap<u64, State, BuildHasherDefault<PreHashed>>,
    last_sweep: u64,
}

/// One key's state: its TAT, and its rate's tolerance, so that eviction
/// can tell how much of its burst a key has spent whatever its policy.
#[derive(Clone, Copy)]
struct State {
    tat: u64,
    tolerance: u64,
}

impl State {
    /// Whether `self` restricts its key less than `other` restricts its
    /// own at `now`: a smaller share of its burst spent.
    fn cheaper_than(&self, other: &Self, now: u64) -> bool {
        let lead = |s: &Self| u128::from(s.tat.saturating_sub(now));
        lead(self) * u128::from(other.tolerance) < lead(other) * u128::from(self.tolerance)
    }

    /// Whether more than half of its burst is spent: a key that refuses,
    /// or soon will.
    fn throttled(&self, now: u64) -> bool {
        self.tat.saturating_sub(now).saturating_mul(2) > self.tolerance
    }
}

/// The map's keys are already keyed hashes: use them as they are. Also
/// the hasher of the cache of verified tokens.
#[derive(Default)]
pub(crate) struct PreHashed(u64);

impl Hasher for PreHashed {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryStore")
            .field("max_keys", &self.max_keys())
            .field("keys", &self.len())
            .finish()
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryStore {
    /// A store bounded at [`DEFAULT_MAX_KEYS`].
    pub fn new() -> Self {
        Self::with_max_keys(DEFAULT_MAX_KEYS)
    }

    /// A store that holds at most `max_keys` keys (at least 64).
    pub fn with_max_keys(max_keys: usize) -> Self {
        let per_shard = max_keys.div_ceil(SHARDS).max(1);
        let clock = quanta::Clock::new();
        Self {
            shards: (0..SHARDS)
                .map(|_| {
                    Mutex::new(Shard {
                        states: HashMap::default(),
                        last_sweep: 0,
                    })
                })
                .collect(),
            per_shard,
            hasher: RandomState::new(),
            epoch: clock.raw(),
            clock,
        }
    }

    /// The bound on keys.
    pub fn max_keys(&self) -> usize {
        self.per_shard * SHARDS
    }

    /// How many keys are held now.
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| lock(s).states.len()).sum()
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops every key whose state has fully recovered, and gives the
    /// memory back when most of a shard was freed.
    pub fn sweep(&self) {
        let now = self.now();
        for shard in self.shards.iter() {
            lock(shard).sweep(now);
        }
    }

    fn now(&self) -> u64 {
        self.clock.delta_as_nanos(self.epoch, self.clock.raw())
    }

    fn hash(&self, check: &LimitCheck<'_>) -> u64 {
        let mut hasher = self.hasher.build_hasher();
        hasher.write(check.policy.as_bytes());
        hasher.write_u8(0xff);
        hasher.write(check.key);
        hasher.finish()
    }

    fn shard_of(hash: u64) -> usize {
        // Bits the map itself uses neither for its buckets (low bits) nor for
        // its tags (top seven bits).
        ((hash >> 40) as usize) % SHARDS
    }

    /// The check and count of all `checks` as one atomic step: the shards
    /// involved are locked in ascending order, so two requests never wait on
    /// each other in a cycle.
    fn check_now(&self, checks: &[LimitCheck<'_>]) -> Verdict {
        let now = self.now();
        if let [check] = checks {
            let hash = self.hash(check);
            let mut shard = lock(&self.shards[Self::shard_of(hash)]);
            // One probe for a known key: update the state in place.
            if let Some(state) = shard.states.get_mut(&hash) {
                let (outcome, new_tat) = gcra::check(Some(state.tat), now, check.rate, check.cost);
                if let Some(tat) = new_tat {
                    *state = State {
                        tat,
                        tolerance: check.rate.tolerance_ns(),
                    };
                }
                return Verdict::new([outcome]);
            }
            let (outcome, new_tat) = gcra::check(None, now, check.rate, check.cost);
            if let Some(tat) = new_tat {
                shard.store(
                    hash,
                    State {
                        tat,
                        tolerance: check.rate.tolerance_ns(),
                    },
                    now,
                    self.per_shard,
                );
            }
            return Verdict::new([outcome]);
        }

        let hashes: SmallVec<[u64; 4]> = checks.iter().map(|c| self.hash(c)).collect();
        let mut order: SmallVec<[usize; 4]> = hashes.iter().map(|h| Self::shard_of(*h)).collect();
        order.sort_unstable();
        order.dedup();
        let mut guards: SmallVec<[(usize, MutexGuard<'_, Shard>); 4]> =
            order.iter().map(|&i| (i, lock(&self.shards[i]))).collect();

        let mut outcomes: SmallVec<[gcra::Outcome; 2]> = SmallVec::with_capacity(checks.len());
        let mut tats: SmallVec<[Option<u64>; 2]> = SmallVec::with_capacity(checks.len());
        for (check, &hash) in checks.iter().zip(&hashes) {
            let shard = guard_of(&mut guards, hash);
            let (outcome, new_tat) = gcra::check(
                shard.states.get(&hash).map(|s| s.tat),
                now,
                check.rate,
                check.cost,
            );
            outcomes.push(outcome);
            tats.push(new_tat);
        }
        let admitted = outcomes.iter().all(|o| o.admitted);
        if admitted {
            for ((&hash, tat), check) in hashes.iter().zip(tats).zip(checks) {
                if let Some(tat) = tat {
                    let state = State {
                        tat,
                        tolerance: check.rate.tolerance_ns(),
                    };
                    guard_of(&mut guards, hash).store(hash, state, now, self.per_shard);
                }
            }
        }
        Verdict::new(outcomes)
    }

    fn refund_now(&self, checks: &[LimitCheck<'_>]) {
        let now = self.now();
        for check in checks {
            let hash = self.hash(check);
            let mut shard = lock(&self.shards[Self::shard_of(hash)]);
            if let Some(&state) = shard.states.get(&hash) {
                match gcra::refund(state.tat, now, check.rate, check.cost) {
                    Some(back) => {
                        shard.states.insert(hash, State { tat: back, ..state });
                    }
                    None => {
                        shard.states.remove(&hash);
                    }
                }
            }
        }
    }
}

fn guard_of<'g, 's>(guards: &'g mut [(usize, MutexGuard<'s, Shard>)], hash: u64) -> &'g mut Shard {
    let index = MemoryStore::shard_of(hash);
    let position = guards.iter().position(|(i, _)| *i == index).unwrap_or(0);
    &mut guards[position].1
}

/// A poisoned lock only means another thread panicked while holding it; the
/// map is still a valid map of numbers.
fn lock(shard: &Mutex<Shard>) -> MutexGuard<'_, Shard> {
    shard.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shard {
    fn store(&mut self, hash: u64, state: State, now: u64, capacity: usize) {
        if self.states.len() >= capacity && !self.states.contains_key(&hash) {
            let swept_recently = now.saturating_sub(self.last_sweep)
                < SWEEP_EVERY.as_nanos() as u64
                && self.last_sweep != 0;
            if !swept_recently {
                self.sweep(now);
            }
            if self.states.len() >= capacity {
                self.evict_one(now);
            }
        }
        self.states.insert(hash, state);
    }

    fn sweep(&mut self, now: u64) {
        self.states.retain(|_, s| !gcra::recovered(s.tat, now));
        self.last_sweep = now.max(1);
        if self.states.capacity() > 64 && self.states.len() < self.states.capacity() / 4 {
            self.states.shrink_to_fit();
        }
    }

    /// Evicts the least restrictive of a few entries: the smallest share of
    /// its burst spent, whatever its policy (a state that has recovered
    /// spends none). The map iterates in keyed-hash order, so which entries
    /// are sampled is not something a client can steer. When even the
    /// cheapest sampled is throttled, the whole shard is searched, so that
    /// a throttled key is never forgotten (and its lockout reset) while a
    /// cheaper one is kept.
    fn evict_one(&mut self, now: u64) {
        let cheapest = |a: (u64, State), b: (u64, State)| {
            if b.1.cheaper_than(&a.1, now) { b } else { a }
        };
        let entries = || self.states.iter().map(|(hash, state)| (*hash, *state));
        let victim = match entries().take(EVICTION_SAMPLE).reduce(cheapest) {
            Some((_, state)) if state.throttled(now) => {
                entries().reduce(cheapest).map(|(hash, _)| hash)
            }
            other => other.map(|(hash, _)| hash),
        };
        if let Some(hash) = victim {
            self.states.remove(&hash);
        }
    }
}

impl Store for MemoryStore {
    fn check<'a>(
        &'a self,
        checks: &'a [LimitCheck<'a>],
    ) -> StoreFuture<'a, Result<Verdict, StoreError>> {
        StoreFuture::ready(Ok(self.check_now(checks)))
    }

    fn refund<'a>(
        &'a self,
        checks: &'a [LimitCheck<'a>],
    ) -> StoreFuture<'a, Result<(), StoreError>> {
        self.refund_now(checks);
        StoreFuture::ready(Ok(()))
    }

    fn check_at_once(&self, checks: &[LimitCheck<'_>]) -> Option<Result<Verdict, StoreError>> {
        Some(Ok(self.check_now(checks)))
    }

    fn refund_at_once(&self, checks: &[LimitCheck<'_>]) -> Option<Result<(), StoreError>> {
        self.refund_now(checks);
        Some(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::limit::Rate;

    fn check<'a>(policy: &'a str, key: &'a [u8], count: u32) -> LimitCheck<'a> {
        LimitCheck {
            policy,
            key,
            rate: Rate::new(count, Duration::from_secs(60)).unwrap(),
            cost: 1,
        }
    }

    #[test]
    fn policies_and_keys_are_separate_states() {
        let store = MemoryStore::new();
        for _ in 0..2 {
            assert!(store.check_now(&[check("a", b"k", 2)]).admitted());
        }
        assert!(!store.check_now(&[check("a", b"k", 2)]).admitted());
        assert!(store.check_now(&[check("b", b"k", 2)]).admitted());
        assert!(store.check_now(&[check("a", b"j", 2)]).admitted());
        // "a" + "bk" and "ab" + "k" are not the same state.
        assert!(store.check_now(&[check("ab", b"k", 1)]).admitted());
        assert_eq!(store.len(), 4);
    }

    #[test]
    fn a_refused_batch_counts_against_no_limit() {
        let store = MemoryStore::new();
        let tight = check("tight", b"k", 1);
        let loose = check("loose", b"k", 10);
        assert!(store.check_now(&[tight, loose]).admitted());
        for _ in 0..5 {
            let verdict = store.check_now(&[loose, tight]);
            assert!(!verdict.admitted());
            assert!(verdict.outcomes()[0].admitted && !verdict.outcomes()[1].admitted);
        }
        // Only the first request counted against the loose limit.
        let verdict = store.check_now(&[loose]);
        assert_eq!(verdict.outcomes()[0].remaining, 8);
    }

    #[test]
    fn refunds_give_slots_back() {
        let store = MemoryStore::new();
        let one = check("p", b"k", 1);
        assert!(store.check_now(&[one]).admitted());
        assert!(!store.check_now(&[one]).admitted());
        store.refund_now(&[one]);
        assert!(store.check_now(&[one]).admitted());
        // A refund of a key with no state is harmless.
        store.refund_now(&[check("p", b"other", 1)]);
        assert_eq!(store.len(), 1);
    }

    #[test]
    fn exactly_n_of_many_concurrent_requests_are_admitted() {
        let store = Arc::new(MemoryStore::new());
        let admitted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let store = Arc::clone(&store);
                let admitted = Arc::clone(&admitted);
                std::thread::spawn(move || {
                    for _ in 0..100 {
                        let a = check("p", b"k", 37);
                        let b = check("q", b"k", 1000);
                        if store.check_now(&[a, b]).admitted() {
                            admitted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        }
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        assert_eq!(admitted.load(std::sync::atomic::Ordering::SeqCst), 37);
    }

    #[test]
    fn the_bound_holds_against_key_rotation() {
        let store = MemoryStore::with_max_keys(6400);
        for i in 0u32..100_000 {
            let key = i.to_be_bytes();
            assert!(store.check_now(&[check("p", &key, 5)]).admitted());
        }
        assert!(store.len() <= store.max_keys(), "{}", store.len());
        assert!(store.len() >= store.max_keys() * 9 / 10, "{}", store.len());
    }

    #[test]
    fn a_flood_under_a_generous_policy_never_resets_a_lockout() {
        let store = MemoryStore::with_max_keys(6400);
        let login = LimitCheck {
            policy: "login",
            key: b"attacker",
            rate: Rate::new(5, Duration::from_secs(900)).unwrap(),
            cost: 1,
        };
        for _ in 0..5 {
            assert!(store.check_now(&[login]).admitted());
        }
        assert!(!store.check_now(&[login]).admitted());
        // New keys under a daily policy, each of whose states outlives the
        // lockout's (a TAT 2.4 hours ahead against 15 minutes): by TAT
        // alone, the lockout would be the first to go.
        for i in 0u32..100_000 {
            let key = i.to_be_bytes();
            let daily = LimitCheck {
                policy: "daily",
                key: &key,
                rate: Rate::new(10, Duration::from_secs(86_400)).unwrap(),
                cost: 1,
            };
            assert!(store.check_now(&[daily]).admitted());
        }
        assert!(store.len() <= store.max_keys());
        assert!(
            !store.check_now(&[login]).admitted(),
            "the flood reset the lockout"
        );
    }

    #[test]
    fn eviction_prefers_the_smallest_share_of_a_burst_spent() {
        let now = 1_000_000_000_000;
        let at = |lead: u64, tolerance: u64| State {
            tat: now + lead,
            tolerance,
        };
        // 10% of a day against 100% of 15 minutes.
        assert!(at(8_640, 86_400).cheaper_than(&at(900, 900), now));
        assert!(!at(900, 900).cheaper_than(&at(8_640, 86_400), now));
        // A recovered state spends nothing.
        assert!(at(0, 1).cheaper_than(&at(1, 1_000_000), now));
        assert!(at(900, 900).throttled(now) && !at(8_640, 86_400).throttled(now));
        // A whole shard of throttled keys but one: that one goes.
        let mut shard = Shard {
            states: HashMap::default(),
            last_sweep: 0,
        };
        for hash in 0..100 {
            shard.states.insert(hash, at(900, 900));
        }
        shard.states.insert(1_000, at(10, 86_400));
        shard.evict_one(now);
        assert!(!shard.states.contains_key(&1_000));
        assert_eq!(shard.states.len(), 100);
    }

    #[test]
    fn recovered_keys_are_swept() {
        let store = MemoryStore::new();
        let fast = LimitCheck {
            policy: "p",
            key: b"k",
            rate: Rate::new(1, Duration::from_millis(5)).unwrap(),
            cost: 1,
        };
        assert!(store.check_now(&[fast]).admitted());
        assert_eq!(store.len(), 1);
        std::thread::sleep(Duration::from_millis(10));
        store.sweep();
        assert!(store.is_empty());
    }
}
