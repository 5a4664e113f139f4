//! Procedural macros of [warden](https://docs.rs/warden): `#[protected]`,
//! `#[rate_limit]` and `#[validate]` on request handlers, and
//! `#[derive(Role)]` and `#[derive(Validate)]` on types. Depend on
//! `warden`, which re-exports them and documents each; the generated code
//! names the runtime only through `::warden::__private`.
//!
//! Each entry point hands its input to its module, a pipeline of stages
//! with a plain model between them: `parse` reads the syntax (with the one
//! attribute-syntax layer of `attr`), `check` judges it and builds the
//! model, `emit` writes the code. Every error is collected and reported at
//! once, at the user's token, next to a fallback item (the handler as
//! written, an impl that checks nothing) so that one mistake is one error.
//!
//! - `attr`: the grammar every warden attribute shares.
//! - `symbol`: every name the macros recognise.
//! - `shared`: what the runtime knows too (window grammar, limit names,
//!   rate checks, the `RateLimit-Policy` item, the validation rule table),
//!   compiled from the runtime's `src/shared`.
//! - `handler`: `#[protected]`, `#[rate_limit]`, `#[validate]`.
//! - `derive_validate`, `role`: the derives.

mod attr;
mod ctxt;
mod derive_validate;
mod handler;
mod role;
// The facts the runtime shares (see its module documentation); each crate
// uses its part.
#[path = "../../runtime/src/shared/mod.rs"]
#[allow(dead_code)]
mod shared;
mod suggest;
mod symbol;

use proc_macro::TokenStream;

/// Requires a valid access token, and optionally roles, scopes and an
/// object-level check, before the handler or any of its extractors runs.
///
/// See the `warden` crate's documentation of `protected` for the grammar and
/// the code it expands to.
#[proc_macro_attribute]
pub fn protected(args: TokenStream, item: TokenStream) -> TokenStream {
    handler::expand(symbol::PROTECTED, args.into(), item.into()).into()
}

/// Marks a handler as deliberately open: no authentication. It may still
/// carry `#[rate_limit]` and `#[validate]`.
///
/// See the `warden` crate's documentation of `public`.
#[proc_macro_attribute]
pub fn public(args: TokenStream, item: TokenStream) -> TokenStream {
    handler::expand(symbol::PUBLIC, args.into(), item.into()).into()
}

/// Limits how often a handler may be called, per client address, user,
/// header or custom key.
///
/// See the `warden` crate's documentation of `rate_limit` for the grammar
/// and the code it expands to.
#[proc_macro_attribute]
pub fn rate_limit(args: TokenStream, item: TokenStream) -> TokenStream {
    handler::expand(symbol::RATE_LIMIT, args.into(), item.into()).into()
}

/// Validates a handler's `Json<T>`, `Query<T>`, `Form<T>` and `Path<T>`
/// parameters before its body runs.
///
/// See the `warden` crate's documentation of `validate`.
#[proc_macro_attribute]
pub fn validate(args: TokenStream, item: TokenStream) -> TokenStream {
    handler::expand(symbol::VALIDATE, args.into(), item.into()).into()
}

/// Implements `warden::auth::Role` for a fieldless enum.
///
/// See the `warden` crate's documentation of `Role`.
#[proc_macro_derive(Role, attributes(role))]
pub fn derive_role(input: TokenStream) -> TokenStream {
    role::expand(input.into()).into()
}

/// Implements `warden::validate::Validate` from `#[validate(..)]` rules on
/// the fields of a struct.
///
/// See the `warden` crate's documentation of `Validate`.
#[proc_macro_derive(Validate, attributes(validate))]
pub fn derive_validate(input: TokenStream) -> TokenStream {
    derive_validate::expand(input.into()).into()
}
