//! What every store of warden shares: the error of a store that cannot
//! answer, and the future a store call returns.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// A store that cannot answer: a rate-limit [`Store`](crate::limit::Store)
/// or a refresh-token [`TokenStore`](crate::auth::refresh::TokenStore).
/// Limits fail closed: the request is refused with 503 while the store is
/// unavailable (unless [`StoreFailure::FailOpen`](crate::StoreFailure) says
/// otherwise); token operations fail with
/// [`RefreshError::Store`](crate::auth::refresh::RefreshError::Store).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreError {
    message: String,
}

impl StoreError {
    /// An error with a message for logs (never shown to clients).
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "store unavailable: {}", self.message)
    }
}

impl std::error::Error for StoreError {}

/// The future a [`Store`](crate::limit::Store) or a
/// [`TokenStore`](crate::auth::refresh::TokenStore) returns: ready at once for an in-process store
/// (no allocation), boxed for a networked one.
pub struct StoreFuture<'a, T>(Repr<'a, T>);

enum Repr<'a, T> {
    Ready(Option<T>),
    Boxed(Pin<Box<dyn Future<Output = T> + Send + 'a>>),
}

impl<'a, T> StoreFuture<'a, T> {
    /// A value that is already known.
    pub fn ready(value: T) -> Self {
        Self(Repr::Ready(Some(value)))
    }

    /// A future that has to wait (for a network round trip, say).
    pub fn boxed(future: impl Future<Output = T> + Send + 'a) -> Self {
        Self(Repr::Boxed(Box::pin(future)))
    }
}

impl<T: Unpin> Future for StoreFuture<'_, T> {
    type Output = T;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        match &mut self.get_mut().0 {
            // A completed future polled again stays pending, as futures may.
            Repr::Ready(value) => value.take().map_or(Poll::Pending, Poll::Ready),
            Repr::Boxed(future) => future.as_mut().poll(cx),
        }
    }
}
