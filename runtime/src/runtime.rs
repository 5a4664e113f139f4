use std::fmt;
use std::sync::Arc;

use crate::auth::{
    AccessToken, Authenticator, Claims, IssueError, IssuedToken, Jwt, JwtConfigError, TokenError,
};

/// The configured security runtime: what every guard of the application
/// checks requests against.
///
/// Cloning is cheap (one `Arc`). Handlers reach it through the router state:
/// the state is a `Warden`, or implements `FromRef<State> for Warden`
/// (`#[derive(FromRef)]` on a state struct with a `Warden` field).
#[derive(Clone)]
pub struct Warden {
    inner: Arc<Inner>,
}

struct Inner {
    auth: Authenticator,
}

impl fmt::Debug for Warden {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Warden").finish_non_exhaustive()
    }
}

impl Warden {
    /// Starts a configuration.
    pub fn builder() -> WardenBuilder {
        WardenBuilder { jwt: None }
    }

    /// Signs an access token.
    pub fn issue_access_token(&self, token: &AccessToken) -> Result<IssuedToken, IssueError> {
        self.inner.auth.issue(token)
    }

    /// Verifies an access token: signature, algorithm, `typ`, `kid`, and the
    /// `exp`, `nbf`, `iss`, `aud` and `sub` claims.
    pub fn verify_access_token(&self, token: &str) -> Result<Claims, TokenError> {
        self.inner.auth.verify(token)
    }
}

/// The configuration of a [`Warden`]; [`WardenBuilder::build`] checks it.
#[derive(Debug)]
#[must_use = "a builder does nothing until .build() is called"]
pub struct WardenBuilder {
    jwt: Option<Jwt>,
}

impl WardenBuilder {
    /// How access tokens are signed and verified.
    pub fn jwt(mut self, jwt: Jwt) -> Self {
        self.jwt = Some(jwt);
        self
    }

    /// Checks the configuration and builds the runtime. Every mistake that
    /// can be found before the first request is reported here.
    pub fn build(self) -> Result<Warden, BuildError> {
        let jwt = self.jwt.ok_or(BuildError::NoJwt)?;
        let auth = jwt.compile().map_err(BuildError::Jwt)?;
        Ok(Warden {
            inner: Arc::new(Inner { auth }),
        })
    }
}

/// A configuration that [`WardenBuilder::build`] refuses.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BuildError {
    /// No JWT configuration was given.
    NoJwt,
    /// The JWT configuration is unsafe or inconsistent.
    Jwt(JwtConfigError),
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoJwt => f.write_str("no JWT configuration: call .jwt(..) on the builder"),
            Self::Jwt(error) => error.fmt(f),
        }
    }
}

impl std::error::Error for BuildError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::NoJwt => None,
            Self::Jwt(error) => Some(error),
        }
    }
}
