//! Sessions: one sign-in, as an access token and a refresh-token family
//! that [`Warden`] issues together and links by the access token's `sid`
//! claim.

use std::fmt;

use super::claims::{AccessClaims, Claims, IssuedAccessToken};
use super::error::IssueError;
use super::refresh::{IssuedRefreshToken, RefreshError, Rotated, SessionId};
use crate::Warden;

/// The tokens of a session: a signed access token whose `sid` names the
/// refresh-token family, and that family's current refresh token.
///
/// Its `Debug` output shows neither token.
#[derive(Debug, Clone)]
pub struct Session {
    /// The access token.
    pub access: IssuedAccessToken,
    /// The refresh token that renews it.
    pub refresh: IssuedRefreshToken,
}

impl Session {
    /// The session's id: the `sid` claim of its access tokens.
    pub fn id(&self) -> &SessionId {
        &self.refresh.family
    }
}

/// Why a session could not be started or continued.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SessionError {
    /// The refresh token was refused, or the token store could not answer.
    Refresh(RefreshError),
    /// The access token could not be signed.
    Issue(IssueError),
    /// [`Warden::resume`] was given claims for another subject than the
    /// refresh token's.
    SubjectMismatch,
}

impl fmt::Display for SessionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Refresh(error) => error.fmt(f),
            Self::Issue(error) => error.fmt(f),
            Self::SubjectMismatch => {
                f.write_str("the access token's subject is not the refresh token's")
            }
        }
    }
}

impl std::error::Error for SessionError {}

impl From<RefreshError> for SessionError {
    fn from(error: RefreshError) -> Self {
        Self::Refresh(error)
    }
}

impl From<IssueError> for SessionError {
    fn from(error: IssueError) -> Self {
        Self::Issue(error)
    }
}

impl Warden {
    /// Starts a session for the subject of `claims` (a sign-in): a new
    /// refresh-token family in the configured
    /// [token store](crate::WardenBuilder::refresh_tokens), and an access
    /// token whose `sid` claim names it.
    ///
    /// ```
    /// use warden::auth::{AccessClaims, Jwt};
    /// use warden::Warden;
    ///
    /// #[derive(Clone, Copy, warden::Role)]
    /// enum Role { User }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let warden = Warden::builder()
    ///     .jwt(Jwt::hs256(b"a secret of at least thirty-two bytes")?.issuer("api").audience("api"))
    ///     .build()?;
    /// let session = warden.sign_in(AccessClaims::new("user-7").roles([Role::User])).await?;
    /// let claims = warden.verify_access_token(&session.access.token)?;
    /// assert_eq!(claims.session().as_ref(), Some(session.id()));
    ///
    /// // Later: the client presents its refresh token.
    /// let rotated = warden.refresh(session.refresh.token.expose()).await?;
    /// // Read the subject's current roles, then issue the next pair.
    /// let next = warden.resume(rotated, AccessClaims::new("user-7").roles([Role::User]))?;
    /// assert_eq!(next.id(), session.id());
    ///
    /// // Sign-out ends the family: its refresh token no longer works.
    /// warden.sign_out(&warden.verify_access_token(&next.access.token)?).await?;
    /// assert!(warden.refresh(next.refresh.token.expose()).await.is_err());
    /// # Ok(())
    /// # }
    /// ```
    pub async fn sign_in(&self, claims: AccessClaims) -> Result<Session, SessionError> {
        if claims.subject().is_empty() {
            return Err(SessionError::Issue(IssueError::EmptySubject));
        }
        if !self.can_sign() {
            return Err(SessionError::Issue(IssueError::NoSigningKey));
        }
        let refresh = self.refresh_tokens().issue(claims.subject()).await?;
        match self.session_token(claims, &refresh) {
            Ok(access) => Ok(Session { access, refresh }),
            Err(error) => {
                // No token of the family reaches the client: end it now
                // rather than leave it to expire.
                let _ = self.refresh_tokens().revoke_family(&refresh.family).await;
                Err(error.into())
            }
        }
    }

    /// Spends a refresh token and returns its replacement, with the subject
    /// it belongs to: read that subject's current roles, then call
    /// [`Warden::resume`] for the access token. A reused token revokes its
    /// whole family ([`RefreshError::Reused`]).
    pub async fn refresh(&self, refresh_token: &str) -> Result<Rotated, RefreshError> {
        self.refresh_tokens().rotate(refresh_token).await
    }

    /// Continues the session `rotated` came from: signs an access token for
    /// `claims`, whose subject must be the refresh token's, with the
    /// session's `sid`.
    pub fn resume(&self, rotated: Rotated, claims: AccessClaims) -> Result<Session, SessionError> {
        if claims.subject() != rotated.subject {
            return Err(SessionError::SubjectMismatch);
        }
        let access = self.session_token(claims, &rotated.issued)?;
        Ok(Session {
            access,
            refresh: rotated.issued,
        })
    }

    /// Ends the session the access token belongs to (its `sid`): the
    /// refresh tokens of that sign-in stop working. A token without a
    /// session ends nothing.
    pub async fn sign_out(&self, claims: &Claims) -> Result<(), RefreshError> {
        match claims.session() {
            Some(session) => self.refresh_tokens().revoke_family(&session).await,
            None => Ok(()),
        }
    }

    fn session_token(
        &self,
        mut claims: AccessClaims,
        refresh: &IssuedRefreshToken,
    ) -> Result<IssuedAccessToken, IssueError> {
        claims.session = Some(refresh.family.clone());
        self.issue_access_token(&claims)
    }
}
