//! Password hashing: argon2id with OWASP's parameters, run off the async
//! worker threads, with upgrade detection and a dummy verification for
//! unknown users.
//!
//! ```
//! use warden::password::{Passwords, Verification};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), warden::password::PasswordError> {
//! let passwords = Passwords::new();
//! let stored = passwords.hash("correct horse battery staple").await?;
//! assert!(stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
//!
//! let attempt = passwords.check("correct horse battery staple", Some(&stored)).await?;
//! assert_eq!(attempt, Verification::Valid { needs_upgrade: false });
//! // An unknown user costs the same verification, and always fails.
//! assert_eq!(passwords.check("anything", None).await?, Verification::Invalid);
//! # Ok(())
//! # }
//! ```

use std::fmt;
use std::sync::Arc;

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, PasswordHash, Version};
use tokio::sync::Semaphore;
use zeroize::Zeroizing;

/// The outcome of a password check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verification {
    /// The password matches. `needs_upgrade` says the stored hash uses
    /// other parameters than the current ones: hash the password again and
    /// store the new hash.
    Valid {
        /// Whether to re-hash with the current parameters.
        needs_upgrade: bool,
    },
    /// The password does not match (or the user does not exist).
    Invalid,
}

/// Why hashing or verifying failed. Never carries the password.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PasswordError {
    /// The argon2 parameters are out of range.
    Params,
    /// The stored hash is not an argon2 PHC string.
    MalformedHash,
    /// Hashing failed (the system random generator, say).
    Hashing,
    /// The blocking pool is shutting down.
    Unavailable,
}

impl fmt::Display for PasswordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Params => "argon2 parameters out of range",
            Self::MalformedHash => "the stored password hash is not an argon2 PHC string",
            Self::Hashing => "the password could not be hashed",
            Self::Unavailable => "the password hashing pool is unavailable",
        })
    }
}

impl std::error::Error for PasswordError {}

/// Hashes and verifies passwords.
///
/// argon2id with OWASP's recommended parameters by default (19 MiB of
/// memory, 2 iterations, 1 lane), stored as PHC strings. Every hash and
/// verification runs on tokio's blocking pool, at most
/// [`Passwords::max_concurrency`] at once (the number of cores by default),
/// so a burst of logins neither stalls the async worker threads nor grows
/// memory without bound. Cloning is cheap.
#[derive(Clone)]
pub struct Passwords {
    inner: Arc<Inner>,
}

struct Inner {
    params: Params,
    permits: Arc<Semaphore>,
    max_concurrency: usize,
    /// A hash of a random password with the current parameters: what an
    /// unknown user is verified against.
    dummy: String,
}

impl fmt::Debug for Passwords {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Passwords")
            .field("memory_kib", &self.inner.params.m_cost())
            .field("iterations", &self.inner.params.t_cost())
            .field("parallelism", &self.inner.params.p_cost())
            .field("max_concurrency", &self.inner.max_concurrency)
            .finish_non_exhaustive()
    }
}

impl Default for Passwords {
    fn default() -> Self {
        Self::new()
    }
}

fn hasher(params: &Params) -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
}

impl Passwords {
    /// OWASP's parameters: m = 19 MiB, t = 2, p = 1.
    pub fn new() -> Self {
        Self::build(Params::DEFAULT).expect("the default parameters are valid")
    }

    /// Other argon2id parameters: memory in KiB, iterations, lanes.
    pub fn with_params(
        memory_kib: u32,
        iterations: u32,
        parallelism: u32,
    ) -> Result<Self, PasswordError> {
        let params = Params::new(memory_kib, iterations, parallelism, None)
            .map_err(|_| PasswordError::Params)?;
        Self::build(params)
    }

    fn build(params: Params) -> Result<Self, PasswordError> {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let mut random = [0u8; 32];
        getrandom::fill(&mut random).map_err(|_| PasswordError::Hashing)?;
        let dummy = hasher(&params)
            .hash_password(&random)
            .map_err(|_| PasswordError::Hashing)?
            .to_string();
        Ok(Self {
            inner: Arc::new(Inner {
                params,
                permits: Arc::new(Semaphore::new(cores)),
                max_concurrency: cores,
                dummy,
            }),
        })
    }

    /// At most `n` (at least 1) hashes or verifications at once.
    pub fn max_concurrency(self, n: usize) -> Self {
        let n = n.max(1);
        let inner = &self.inner;
        Self {
            inner: Arc::new(Inner {
                params: inner.params.clone(),
                permits: Arc::new(Semaphore::new(n)),
                max_concurrency: n,
                dummy: inner.dummy.clone(),
            }),
        }
    }

    /// Runs `work` on the blocking pool, within the concurrency bound. The
    /// permit moves into the blocking task, so it is held exactly as long
    /// as the work runs: a caller that goes away (a client that closed its
    /// socket) cannot free it while the hash still runs.
    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Inner) -> T + Send + 'static,
    ) -> Result<T, PasswordError> {
        let permit = Arc::clone(&self.inner.permits)
            .acquire_owned()
            .await
            .map_err(|_| PasswordError::Unavailable)?;
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || {
            let result = work(&inner);
            drop(permit);
            result
        })
        .await
        .map_err(|_| PasswordError::Unavailable)
    }

    /// A PHC string of `password` with a fresh random salt.
    pub async fn hash(&self, password: &str) -> Result<String, PasswordError> {
        let password = Zeroizing::new(password.as_bytes().to_vec());
        self.blocking(move |inner| {
            hasher(&inner.params)
                .hash_password(&password)
                .map(|hash| hash.to_string())
                .map_err(|_| PasswordError::Hashing)
        })
        .await?
    }

    /// Checks `password` against a stored PHC string.
    pub async fn verify(
        &self,
        password: &str,
        stored: &str,
    ) -> Result<Verification, PasswordError> {
        let password = Zeroizing::new(password.as_bytes().to_vec());
        let stored = stored.to_owned();
        self.blocking(move |inner| verify(inner, &password, &stored))
            .await?
    }

    /// The login check: verifies against the stored hash when the user
    /// exists, and against a dummy hash with the same parameters when it
    /// does not, so that both take the same time. An unknown user is always
    /// [`Verification::Invalid`].
    pub async fn check(
        &self,
        password: &str,
        stored: Option<&str>,
    ) -> Result<Verification, PasswordError> {
        match stored {
            Some(stored) => self.verify(password, stored).await,
            None => {
                let password = Zeroizing::new(password.as_bytes().to_vec());
                self.blocking(move |inner| {
                    let _ = verify(inner, &password, &inner.dummy);
                    Verification::Invalid
                })
                .await
            }
        }
    }
}

fn verify(inner: &Inner, password: &[u8], stored: &str) -> Result<Verification, PasswordError> {
    let parsed = PasswordHash::new(stored).map_err(|_| PasswordError::MalformedHash)?;
    let stored_params = Params::try_from(&parsed).map_err(|_| PasswordError::MalformedHash)?;
    let algorithm =
        Algorithm::try_from(parsed.algorithm.as_str()).map_err(|_| PasswordError::MalformedHash)?;
    // Verify with the stored hash's own algorithm and parameters.
    let verifier = Argon2::new(algorithm, Version::V0x13, stored_params.clone());
    match verifier.verify_password(password, stored) {
        Ok(()) => {
            let current = &inner.params;
            let needs_upgrade = algorithm != Algorithm::Argon2id
                || parsed.version != Some(Version::V0x13.into())
                || stored_params.m_cost() != current.m_cost()
                || stored_params.t_cost() != current.t_cost()
                || stored_params.p_cost() != current.p_cost();
            Ok(Verification::Valid { needs_upgrade })
        }
        Err(argon2::password_hash::Error::PasswordInvalid) => Ok(Verification::Invalid),
        Err(_) => Err(PasswordError::MalformedHash),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// Small parameters keep the tests fast; the default ones are checked
    /// by the format test and the doc test.
    fn fast() -> Passwords {
        Passwords::with_params(1024, 1, 1).unwrap()
    }

    #[tokio::test]
    async fn the_default_is_owasp_argon2id() {
        let hash = Passwords::new().hash("pw").await.unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
    }

    #[tokio::test]
    async fn right_and_wrong_passwords() {
        let passwords = fast();
        let hash = passwords.hash("Str0ng&Secure!").await.unwrap();
        assert_eq!(
            passwords.verify("Str0ng&Secure!", &hash).await,
            Ok(Verification::Valid {
                needs_upgrade: false
            })
        );
        for wrong in ["Str0ng&Secure", "str0ng&secure!", "", "Str0ng&Secure!\0"] {
            assert_eq!(
                passwords.verify(wrong, &hash).await,
                Ok(Verification::Invalid),
                "{wrong:?}"
            );
        }
        // Salts differ: two hashes of one password are not equal.
        assert_ne!(hash, passwords.hash("Str0ng&Secure!").await.unwrap());
        // Long and unicode passwords are fine.
        let long = "ü".repeat(10_000);
        let hash = passwords.hash(&long).await.unwrap();
        assert_eq!(
            passwords.verify(&long, &hash).await,
            Ok(Verification::Valid {
                needs_upgrade: false
            })
        );
    }

    #[tokio::test]
    async fn old_parameters_ask_for_an_upgrade() {
        let old = Passwords::with_params(512, 1, 1).unwrap();
        let hash = old.hash("pw").await.unwrap();
        assert_eq!(
            fast().verify("pw", &hash).await,
            Ok(Verification::Valid {
                needs_upgrade: true
            })
        );
        assert_eq!(
            fast().verify("nope", &hash).await,
            Ok(Verification::Invalid)
        );
    }

    #[tokio::test]
    async fn unknown_users_are_verified_against_a_dummy_with_the_same_parameters() {
        let passwords = fast();
        assert_eq!(
            passwords.check("anything", None).await,
            Ok(Verification::Invalid)
        );
        let dummy = PasswordHash::new(&passwords.inner.dummy).unwrap();
        let params = Params::try_from(&dummy).unwrap();
        assert_eq!(
            (params.m_cost(), params.t_cost(), params.p_cost()),
            (1024, 1, 1)
        );
        assert_eq!(dummy.algorithm, argon2::ARGON2ID_IDENT);
    }

    #[tokio::test]
    async fn malformed_hashes_are_typed_errors() {
        for stored in [
            "",
            "plain",
            "$2b$12$abcdefghijklmnopqrstuv",
            "$argon2id$v=19$m=1,t=1,p=1$",
            "$argon2id$v=19$m=x",
        ] {
            assert_eq!(
                fast().verify("pw", stored).await,
                Err(PasswordError::MalformedHash),
                "{stored:?}"
            );
        }
        assert_eq!(
            Passwords::with_params(0, 0, 0).err(),
            Some(PasswordError::Params)
        );
    }

    #[test]
    fn hashing_runs_off_the_async_thread() {
        // One async thread: if hashing ran on it, the ticker could not tick.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let ticks = Arc::new(AtomicUsize::new(0));
        runtime.block_on(async {
            let counter = Arc::clone(&ticks);
            let ticker = tokio::spawn(async move {
                loop {
                    counter.fetch_add(1, Ordering::SeqCst);
                    tokio::task::yield_now().await;
                }
            });
            let passwords = Passwords::new();
            for _ in 0..3 {
                passwords.hash("pw").await.unwrap();
            }
            ticker.abort();
        });
        assert!(
            ticks.load(Ordering::SeqCst) > 10,
            "the async thread was blocked"
        );
    }

    #[tokio::test]
    async fn the_pool_is_bounded_and_still_serves_everyone() {
        let passwords = fast().max_concurrency(1);
        let jobs: Vec<_> = (0..8)
            .map(|i| {
                let passwords = passwords.clone();
                tokio::spawn(async move { passwords.hash(&format!("pw{i}")).await })
            })
            .collect();
        for job in jobs {
            assert!(job.await.unwrap().is_ok());
        }
        assert_eq!(passwords.inner.permits.available_permits(), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_caller_that_goes_away_does_not_free_the_permit_of_running_work() {
        // Slow enough to still be running when the caller gives up.
        let passwords = Passwords::with_params(64 * 1024, 3, 1)
            .unwrap()
            .max_concurrency(1);
        let permits = Arc::clone(&passwords.inner.permits);
        let abandoned =
            tokio::time::timeout(std::time::Duration::from_millis(5), passwords.hash("pw")).await;
        assert!(
            abandoned.is_err(),
            "the hash finished before the caller left"
        );
        // The caller is gone; the hash is not, and neither is its permit.
        assert_eq!(permits.available_permits(), 0);
        let started = std::time::Instant::now();
        while permits.available_permits() == 0 {
            assert!(started.elapsed() < std::time::Duration::from_secs(30));
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        assert_eq!(permits.available_permits(), 1);
    }

    #[test]
    fn nothing_secret_in_debug_or_errors() {
        let shown = format!("{:?}", fast());
        assert!(!shown.contains("argon2id$"), "{shown}");
        assert!(shown.contains("memory_kib"));
        assert_eq!(
            PasswordError::MalformedHash.to_string(),
            "the stored password hash is not an argon2 PHC string"
        );
    }
}
