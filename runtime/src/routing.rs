//! Deny by default: a router that routes only handlers whose access is
//! decided, `#[protected]` or `#[public]`.
//!
//! [`Router`] and [`MethodRouter`] are axum's, wrapped: the same `route`,
//! `nest`, `merge`, `layer`, `route_layer`, `fallback` and `with_state`,
//! and the same method routers (`get(a).post(b)`). The one difference is
//! that a handler that carries neither `#[protected]` nor `#[public]` is a
//! compile error where it is routed, which turns the most common API
//! vulnerability, a route someone forgot to protect (OWASP API5), into a
//! build failure. A handler with only `#[rate_limit]` or `#[validate]` is
//! refused too: limiting a route does not say who may call it.
//!
//! ```
//! use axum::http::StatusCode;
//! use warden::routing::{Router, get, post};
//! use warden::{Auth, Warden, auth::Jwt, protected, public, rate_limit};
//!
//! #[public]
//! async fn health() -> &'static str {
//!     "ok"
//! }
//!
//! #[public]
//! #[rate_limit(5, "15m", skip_successful)]
//! async fn login() -> StatusCode {
//!     StatusCode::UNAUTHORIZED
//! }
//!
//! #[protected]
//! async fn me(user: Auth) -> String {
//!     user.sub().to_owned()
//! }
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let warden = Warden::builder()
//!     .jwt(Jwt::hs256(b"a secret of at least thirty-two bytes")?.issuer("api").audience("api"))
//!     .build()?;
//! let app: axum::Router = Router::new()
//!     .route("/health", get(health))
//!     .route("/login", post(login))
//!     .nest("/api", Router::new().route("/me", get(me).delete(me)))
//!     .layer(warden.layer())
//!     .with_state(warden);
//! # Ok(())
//! # }
//! ```
//!
//! A handler without a decision does not compile:
//!
//! ```compile_fail
//! use warden::routing::{Router, get};
//!
//! async fn forgotten() -> &'static str {
//!     "everyone's data"
//! }
//!
//! let app: Router = Router::new().route("/data", get(forgotten));
//! ```

use std::convert::Infallible;
use std::marker::PhantomData;

use axum::extract::{FromRequestParts, Request};
use axum::handler::Handler;
use axum::response::IntoResponse;
use axum::routing::Route;
use http::request::Parts;
use tower_layer::Layer;
use tower_service::Service;

use crate::guard::{Guard, LimitedGuard, Policy};

/// The first extractor of a `#[public]` handler without limits: zero-sized
/// and infallible; it only marks the handler's access as decided.
#[doc(hidden)]
#[derive(Debug)]
pub struct Open<P>(PhantomData<fn() -> P>);

impl<S: Send + Sync, P> FromRequestParts<S> for Open<P> {
    type Rejection = Infallible;

    async fn from_request_parts(_: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(PhantomData))
    }
}

/// A guard whose handler's access is decided. Implemented by the macros'
/// code; not a public API.
#[doc(hidden)]
pub trait DecidedGuard {
    /// The handler's path, for the policy table.
    const HANDLER: &'static str;
}

/// The policy of a `#[protected]` or `#[public]` handler. Implemented by
/// the macros' code; not a public API.
#[doc(hidden)]
pub trait DecidedPolicy {}

impl<P: Policy> DecidedGuard for Open<P> {
    const HANDLER: &'static str = P::HANDLER;
}
impl<P: Policy> DecidedGuard for Guard<P> {
    const HANDLER: &'static str = P::HANDLER;
}
#[diagnostic::do_not_recommend]
impl<P: Policy + DecidedPolicy, const N: usize> DecidedGuard for LimitedGuard<P, N> {
    const HANDLER: &'static str = P::HANDLER;
}

/// The extractors of a handler whose access is decided: its first one is
/// the guard `#[protected]` or `#[public]` put there.
#[diagnostic::on_unimplemented(
    message = "this handler carries neither #[protected] nor #[public]",
    label = "add #[protected] (who may call it) or #[public] (anyone, deliberately) to this handler",
    note = "warden::routing routes only handlers whose access is decided; #[rate_limit] or #[validate] alone do not decide it"
)]
pub trait Decided {
    /// The handler's path, for the policy table.
    #[doc(hidden)]
    const HANDLER: &'static str;
}

/// A handler whose access is decided (see [`Decided`]): what the routing
/// functions take.
#[diagnostic::on_unimplemented(
    message = "this handler carries neither #[protected] nor #[public]",
    label = "add #[protected] (who may call it) or #[public] (anyone, deliberately) to this handler",
    note = "warden::routing routes only handlers whose access is decided; #[rate_limit] or #[validate] alone do not decide it"
)]
pub trait DecidedHandler<T, S>: Handler<T, S> {
    /// The handler's path, for the policy table.
    #[doc(hidden)]
    const HANDLER: &'static str;
}

#[diagnostic::do_not_recommend]
impl<H, T: Decided, S> DecidedHandler<T, S> for H
where
    H: Handler<T, S>,
{
    const HANDLER: &'static str = T::HANDLER;
}

macro_rules! decided_tuples {
    ($($rest:ident),*) => {
        #[diagnostic::do_not_recommend]
        impl<M, G: DecidedGuard, $($rest,)*> Decided for (M, G, $($rest,)*) {
            const HANDLER: &'static str = G::HANDLER;
        }
    };
}
decided_tuples!();
decided_tuples!(T2);
decided_tuples!(T2, T3);
decided_tuples!(T2, T3, T4);
decided_tuples!(T2, T3, T4, T5);
decided_tuples!(T2, T3, T4, T5, T6);
decided_tuples!(T2, T3, T4, T5, T6, T7);
decided_tuples!(T2, T3, T4, T5, T6, T7, T8);
decided_tuples!(T2, T3, T4, T5, T6, T7, T8, T9);
decided_tuples!(T2, T3, T4, T5, T6, T7, T8, T9, T10);
decided_tuples!(T2, T3, T4, T5, T6, T7, T8, T9, T10, T11);
decided_tuples!(T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12);
decided_tuples!(T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, T13);
decided_tuples!(T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, T13, T14);
decided_tuples!(T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, T13, T14, T15);
decided_tuples!(
    T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, T13, T14, T15, T16
);

/// A layer axum's routers take: what [`Router::layer`],
/// [`Router::route_layer`] and [`MethodRouter::layer`] accept.
pub trait RouterLayer:
    Layer<
        Route,
        Service: Service<
            Request,
            Response: IntoResponse + 'static,
            Error: Into<Infallible> + 'static,
            Future: Send + 'static,
        > + Clone
                     + Send
                     + Sync
                     + 'static,
    > + Clone
    + Send
    + Sync
    + 'static
{
}

impl<L> RouterLayer for L where
    L: Layer<
            Route,
            Service: Service<
                Request,
                Response: IntoResponse + 'static,
                Error: Into<Infallible> + 'static,
                Future: Send + 'static,
            > + Clone
                         + Send
                         + Sync
                         + 'static,
        > + Clone
        + Send
        + Sync
        + 'static
{
}

/// axum's [`Router`](axum::Router), routing only handlers whose access is
/// decided (see the [module](self)).
#[derive(Debug)]
#[must_use]
pub struct Router<S = ()> {
    inner: axum::Router<S>,
    routes: Vec<Routed>,
}

/// A handler routed through `warden::routing`: method, path, handler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Routed {
    /// `GET`, `POST`, ...
    pub method: &'static str,
    /// The path, with the prefixes of the routers it was nested in.
    pub path: String,
    /// The handler's path (`my_app::routes::login`).
    pub handler: &'static str,
}

impl<S> Clone for Router<S> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            routes: self.routes.clone(),
        }
    }
}

impl<S: Clone + Send + Sync + 'static> Default for Router<S> {
    fn default() -> Self {
        Self::new()
    }
}

impl<S: Clone + Send + Sync + 'static> Router<S> {
    /// An empty router.
    pub fn new() -> Self {
        Self {
            inner: axum::Router::new(),
            routes: Vec::new(),
        }
    }

    /// Routes `path` to a method router of decided handlers.
    pub fn route(mut self, path: &str, method_router: MethodRouter<S>) -> Self {
        self.routes.extend(
            method_router
                .handlers
                .iter()
                .map(|&(method, handler)| Routed {
                    method,
                    path: path.to_owned(),
                    handler,
                }),
        );
        Self {
            inner: self.inner.route(path, method_router.inner),
            routes: self.routes,
        }
    }

    /// Nests a router of decided handlers under `path`.
    pub fn nest(mut self, path: &str, router: Router<S>) -> Self {
        let prefix = path.trim_end_matches('/');
        self.routes
            .extend(router.routes.into_iter().map(|routed| Routed {
                path: match routed.path.as_str() {
                    "/" => prefix.to_owned(),
                    inner => format!("{prefix}{inner}"),
                },
                ..routed
            }));
        Self {
            inner: self.inner.nest(path, router.inner),
            routes: self.routes,
        }
    }

    /// Merges a router of decided handlers.
    pub fn merge(mut self, other: Router<S>) -> Self {
        self.routes.extend(other.routes);
        Self {
            inner: self.inner.merge(other.inner),
            routes: self.routes,
        }
    }

    /// Every handler routed so far, in the order routed.
    pub fn routes(&self) -> &[Routed] {
        &self.routes
    }

    /// The policy of every route: a table to review, print
    /// (`cargo run -- policy`, say) or snapshot-test.
    pub fn policy_table(&self) -> crate::manifest::PolicyTable {
        let manifest = crate::manifest::manifest();
        let rows = self
            .routes
            .iter()
            .filter_map(|routed| {
                let policy = manifest.iter().find(|p| p.handler == routed.handler)?;
                Some(crate::manifest::PolicyRow {
                    method: Some(routed.method),
                    path: Some(routed.path.clone()),
                    policy,
                })
            })
            .collect();
        crate::manifest::PolicyTable::of_rows(rows)
    }

    /// Merges a plain axum router whose routes are all deliberately open,
    /// as a whole: routes warden or another library builds (the sign-in
    /// routes of `warden::oidc`), static files. Nothing in it is checked;
    /// the name is there to be found in review.
    pub fn merge_open(self, other: axum::Router<S>) -> Self {
        Self {
            inner: self.inner.merge(other),
            routes: self.routes,
        }
    }

    /// Applies a layer to every route (see [`axum::Router::layer`]).
    pub fn layer<L: RouterLayer>(self, layer: L) -> Self {
        Self {
            inner: self.inner.layer(layer),
            routes: self.routes,
        }
    }

    /// Applies a layer to the routes only, not the fallback (see
    /// [`axum::Router::route_layer`]).
    pub fn route_layer<L: RouterLayer>(self, layer: L) -> Self {
        Self {
            inner: self.inner.route_layer(layer),
            routes: self.routes,
        }
    }

    /// The handler of requests no route matches. It is not checked: it
    /// answers for paths that have no handler (a 404, say).
    pub fn fallback<H, T>(self, handler: H) -> Self
    where
        H: Handler<T, S>,
        T: 'static,
    {
        Self {
            inner: self.inner.fallback(handler),
            routes: self.routes,
        }
    }

    /// Provides the state, and returns the axum router to serve.
    pub fn with_state<S2>(self, state: S) -> axum::Router<S2> {
        self.inner.with_state(state)
    }

    /// The axum router, before the state is provided.
    pub fn into_inner(self) -> axum::Router<S> {
        self.inner
    }
}

/// axum's [`MethodRouter`](axum::routing::MethodRouter), taking only
/// decided handlers: `get(a).post(b)` as in axum.
#[derive(Debug)]
#[must_use]
pub struct MethodRouter<S = ()> {
    inner: axum::routing::MethodRouter<S>,
    /// Each method and the handler it routes to.
    handlers: Vec<(&'static str, &'static str)>,
}

impl<S> Clone for MethodRouter<S> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            handlers: self.handlers.clone(),
        }
    }
}

macro_rules! methods {
    ($($method:ident),*) => {
        $(
            #[doc = concat!("Routes `", stringify!($method), "` requests to a decided handler.")]
            pub fn $method<H, T, S>(handler: H) -> MethodRouter<S>
            where
                H: DecidedHandler<T, S>,
                T: 'static,
                S: Clone + Send + Sync + 'static,
            {
                MethodRouter {
                    inner: axum::routing::$method(handler),
                    handlers: vec![(method_name(stringify!($method)), <H as DecidedHandler<T, S>>::HANDLER)],
                }
            }
        )*

        impl<S: Clone + Send + Sync + 'static> MethodRouter<S> {
            $(
                #[doc = concat!("Also routes `", stringify!($method), "` requests, to a decided handler.")]
                pub fn $method<H, T>(mut self, handler: H) -> Self
                where
                    H: DecidedHandler<T, S>,
                    T: 'static,
                {
                    self.handlers
                        .push((method_name(stringify!($method)), <H as DecidedHandler<T, S>>::HANDLER));
                    Self {
                        inner: self.inner.$method(handler),
                        handlers: self.handlers,
                    }
                }
            )*

            /// Applies a layer to these methods' handlers (see
            /// [`axum::routing::MethodRouter::layer`]).
            pub fn layer<L: RouterLayer>(self, layer: L) -> Self {
                Self {
                    inner: self.inner.layer(layer),
                    handlers: self.handlers,
                }
            }

            /// The axum method router.
            pub fn into_inner(self) -> axum::routing::MethodRouter<S> {
                self.inner
            }
        }
    };
}

methods!(get, post, put, patch, delete, head, options, trace);

/// `GET` for `get`.
fn method_name(method: &'static str) -> &'static str {
    match method {
        "get" => "GET",
        "post" => "POST",
        "put" => "PUT",
        "patch" => "PATCH",
        "delete" => "DELETE",
        "head" => "HEAD",
        "options" => "OPTIONS",
        _ => "TRACE",
    }
}
