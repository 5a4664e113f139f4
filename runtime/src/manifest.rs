//! Every warden handler linked into the program, with its policy: one list
//! a team can review or snapshot-test.

use std::fmt;

use crate::limit::{LimitSpec, RateSpec, Skip};

/// The policy of one handler, registered by its attributes at compile time.
#[derive(Debug)]
pub struct HandlerPolicy {
    /// The handler's path (`my_app::routes::login`).
    pub handler: &'static str,
    /// The `#[protected(..)]` requirement as written, if the handler is
    /// protected (`""` for a bare `#[protected]`).
    pub protected: Option<&'static str>,
    /// Whether the handler is marked `#[public]`: deliberately open.
    pub public: bool,
    /// The handler's rate limits, in source order.
    pub limits: &'static [LimitSpec],
    /// The parameters `#[validate]` checks, as written (`Json<Register>`).
    pub validated: &'static [&'static str],
}

inventory::collect!(HandlerPolicy);

/// Every registered handler policy, sorted by handler path.
pub fn manifest() -> Vec<&'static HandlerPolicy> {
    let mut all: Vec<_> = inventory::iter::<HandlerPolicy>.into_iter().collect();
    all.sort_by_key(|p| p.handler);
    all
}

impl fmt::Display for HandlerPolicy {
    /// One line: `path: protected(role = Role::Admin); limit 5 per 900s by ip`.
    /// A handler is `protected`, `public` (marked `#[public]`), or
    /// `unmarked` (neither: open, without saying so).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:", self.handler)?;
        match self.protected {
            Some("") => write!(f, " protected")?,
            Some(requirement) => write!(f, " protected({requirement})")?,
            None if self.public => write!(f, " public")?,
            None => write!(f, " unmarked")?,
        }
        for limit in self.limits {
            match limit.rate {
                RateSpec::Inline(rate) => write!(
                    f,
                    "; limit \"{}\" {} per {}s by {}",
                    limit.name,
                    rate.count(),
                    rate.window().as_secs(),
                    limit.key.kind()
                )?,
                RateSpec::Named(name) => {
                    write!(f, "; limit policy \"{name}\" by {}", limit.key.kind())?
                }
            }
            match limit.skip {
                Skip::Nothing => {}
                Skip::Successful => write!(f, " skip_successful")?,
                Skip::Failed => write!(f, " skip_failed")?,
            }
        }
        if !self.validated.is_empty() {
            write!(f, "; validates {}", self.validated.join(", "))?;
        }
        Ok(())
    }
}
