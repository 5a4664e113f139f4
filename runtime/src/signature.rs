//! What the functions and types named in warden's attributes must be:
//! `check = f` ([`CheckFn`]), `with = f` ([`KeyFn`]) and `state = S`
//! ([`HasWarden`]).
//!
//! Each trait is implemented for everything of the right shape, and
//! `#[diagnostic::on_unimplemented]` makes a wrong one a compile error at
//! its name in the attribute that says what to write, rather than an error
//! about the code the attribute expands to.
//!
//! Why each has two impls: rustc reports an unmet bound of a trait with a
//! single blanket impl by that impl's own inner bound (`Fn(&Parts)`,
//! `FromRef`), and never shows the trait's message. With two impls it
//! cannot choose one, and reports the trait. [`CheckFn`] has two real
//! impls (a `bool` and an [`Decision`] answer); [`KeyFn`] and [`HasWarden`]
//! have a second one for the types that implement a trait nothing
//! implements.

use std::future::Future;

use axum::extract::FromRef;
use http::request::Parts;

use crate::Warden;
use crate::auth::{Claims, Decision};

/// An `async fn(&Claims, &mut Parts) -> bool` (or `-> Decision`): what
/// `#[protected(check = f)]` takes.
///
/// The check runs after the token is verified and the role and scope
/// expression holds; `false` (or [`Decision::Deny`]) answers 403,
/// [`Decision::NotFound`] 404.
///
/// ```
/// use http::request::Parts;
/// use warden::auth::Claims;
///
/// async fn owns_report(claims: &Claims, parts: &mut Parts) -> bool {
///     parts.uri.path().ends_with(claims.sub())
/// }
///
/// fn takes<Out>(_: impl warden::CheckFn<Out>) {}
/// takes(owns_report);
/// ```
#[diagnostic::on_unimplemented(
    message = "`check = ..` takes an `async fn(&Claims, &mut Parts) -> bool` (or `-> Decision`)",
    label = "not an `async fn(&Claims, &mut Parts) -> bool` or `-> Decision`",
    note = "write `async fn name(claims: &warden::auth::Claims, parts: &mut http::request::Parts) -> bool`"
)]
pub trait CheckFn<Out>: Copy + Send + Sync + 'static {
    /// Runs the check.
    fn call<'a>(
        self,
        claims: &'a Claims,
        parts: &'a mut Parts,
    ) -> impl Future<Output = Decision> + Send + 'a;
}

/// An `async fn(&'a Claims, &'a mut Parts)` answering `Out`, for one `'a`:
/// the future of an `async fn` borrows its arguments, so [`CheckFn`] asks
/// for this at every lifetime.
#[doc(hidden)]
pub trait CheckFuture<'a, Out>: Send + Sync {
    /// The future the function returns.
    type Future: Future<Output = Out> + Send + 'a;

    /// Calls the function.
    fn start(&self, claims: &'a Claims, parts: &'a mut Parts) -> Self::Future;
}

impl<'a, F, Fut, Out> CheckFuture<'a, Out> for F
where
    F: Fn(&'a Claims, &'a mut Parts) -> Fut + Send + Sync,
    Fut: Future<Output = Out> + Send + 'a,
{
    type Future = Fut;

    fn start(&self, claims: &'a Claims, parts: &'a mut Parts) -> Fut {
        self(claims, parts)
    }
}

impl<F> CheckFn<bool> for F
where
    F: for<'a> CheckFuture<'a, bool> + Copy + 'static,
{
    fn call<'a>(
        self,
        claims: &'a Claims,
        parts: &'a mut Parts,
    ) -> impl Future<Output = Decision> + Send + 'a {
        let allowed = self.start(claims, parts);
        async move { Decision::from(allowed.await) }
    }
}

impl<F> CheckFn<Decision> for F
where
    F: for<'a> CheckFuture<'a, Decision> + Copy + 'static,
{
    fn call<'a>(
        self,
        claims: &'a Claims,
        parts: &'a mut Parts,
    ) -> impl Future<Output = Decision> + Send + 'a {
        self.start(claims, parts)
    }
}

/// A `fn(&Parts) -> Option<String>`: what `#[rate_limit(.., with = f)]`
/// takes. The string is the key the request is counted under; `None`
/// counts it by client address.
///
/// ```
/// use http::request::Parts;
///
/// fn tenant_of(parts: &Parts) -> Option<String> {
///     parts.headers.get("x-tenant")?.to_str().ok().map(str::to_owned)
/// }
///
/// fn takes<M>(_: impl warden::KeyFn<M>) {}
/// takes(tenant_of);
/// ```
#[diagnostic::on_unimplemented(
    message = "`with = ..` takes a `fn(&Parts) -> Option<String>`",
    label = "not a `fn(&Parts) -> Option<String>`",
    note = "write `fn name(parts: &http::request::Parts) -> Option<String>`; `None` counts the request by client address"
)]
pub trait KeyFn<M>: Send + Sync + 'static {
    /// The key of this request.
    fn key(&self, parts: &Parts) -> Option<String>;
}

impl<F> KeyFn<marker::Function> for F
where
    F: Fn(&Parts) -> Option<String> + Send + Sync + 'static,
{
    fn key(&self, parts: &Parts) -> Option<String> {
        self(parts)
    }
}

impl<F: marker::Unimplemented + Send + Sync + 'static> KeyFn<marker::Never> for F {
    fn key(&self, _: &Parts) -> Option<String> {
        None
    }
}

/// A router state that holds a [`Warden`]: `Warden: FromRef<S>`. Every
/// warden handler needs one; `#[protected(state = S)]` and
/// `#[rate_limit(.., state = S)]` check it where the attribute names `S`.
///
/// With axum's `macros` feature, `#[derive(Clone, FromRef)]` on the state
/// writes the `FromRef` impl:
///
/// ```
/// use axum::extract::FromRef;
/// use warden::{HasWarden, Warden};
///
/// #[derive(Clone)]
/// struct AppState {
///     warden: Warden,
///     name: String,
/// }
///
/// impl FromRef<AppState> for Warden {
///     fn from_ref(state: &AppState) -> Warden {
///         state.warden.clone()
///     }
/// }
///
/// fn takes<S: HasWarden<M>, M>() {}
/// takes::<AppState, _>();
/// takes::<Warden, _>();
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` does not provide a `Warden`",
    label = "the router state of this handler must provide the `Warden`",
    note = "give `{Self}` a `Warden` field and `#[derive(Clone, axum::extract::FromRef)]` it, or implement `FromRef<{Self}> for Warden`"
)]
pub trait HasWarden<M> {
    /// The state's `Warden`.
    fn warden(&self) -> Warden;
}

impl<S> HasWarden<marker::FromRef> for S
where
    Warden: FromRef<S>,
{
    fn warden(&self) -> Warden {
        Warden::from_ref(self)
    }
}

impl<S: marker::Unimplemented> HasWarden<marker::Never> for S {
    fn warden(&self) -> Warden {
        self.never()
    }
}

/// The second type parameter of the traits above: which impl applies.
mod marker {
    /// [`KeyFn`](super::KeyFn) by a function.
    pub enum Function {}
    /// [`HasWarden`](super::HasWarden) by `FromRef`.
    pub enum FromRef {}
    /// The impl for [`Unimplemented`] types, which there are none of.
    pub enum Never {}

    /// Implemented by no type: the second impl of [`KeyFn`](super::KeyFn)
    /// and [`HasWarden`](super::HasWarden) is for its implementors, so
    /// that the trait's own message is reported (see the module).
    pub trait Unimplemented {
        /// A value of an implementor cannot exist.
        fn never(&self) -> !;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn allow(_: &Claims, _: &mut Parts) -> bool {
        true
    }

    async fn not_found(_: &Claims, _: &mut Parts) -> Decision {
        Decision::NotFound
    }

    fn by_tenant(parts: &Parts) -> Option<String> {
        parts
            .headers
            .get("x-tenant")?
            .to_str()
            .ok()
            .map(str::to_owned)
    }

    fn parts() -> Parts {
        http::Request::get("/")
            .header("x-tenant", "acme")
            .body(())
            .unwrap()
            .into_parts()
            .0
    }

    #[tokio::test]
    async fn checks_answer_through_the_trait() {
        let claims: Claims =
            serde_json::from_str(r#"{"sub":"u","iss":"i","aud":"a","exp":0}"#).unwrap();
        let mut parts = parts();
        assert_eq!(
            CheckFn::call(allow, &claims, &mut parts).await,
            Decision::Allow
        );
        assert_eq!(
            CheckFn::call(not_found, &claims, &mut parts).await,
            Decision::NotFound
        );
    }

    #[test]
    fn keys_come_through_the_trait() {
        assert_eq!(KeyFn::key(&by_tenant, &parts()), Some("acme".to_owned()));
    }
}
