//! What the macros and the runtime both know, written once.
//!
//! The macros check a policy at compile time and the runtime enforces it (or
//! reads the same grammar from configuration), so some facts are needed on
//! both sides: the window grammar and its maximum, the rule for limit
//! names, the checks a rate must pass, how a limit is written in the
//! `RateLimit-Policy` header, and the validation rules with their options
//! and defaults. Each is written here once.
//!
//! # How it is shared
//!
//! This directory is compiled into both crates, as serde shares
//! `serde_derive/src/internals`: the runtime declares `mod shared` in its
//! `lib.rs`, and `warden-macros` declares
//! `#[path = "../../runtime/src/shared/mod.rs"] mod shared` in its own. The
//! same source is type-checked in both, so the two can never disagree, and
//! the unit tests here run in both crates' test suites.
//!
//! A separate crate would do the same at the cost of a third published
//! package whose every item is public API, pinned to the exact version of
//! the other two; including the files keeps them `pub(crate)`, with no
//! version to keep in step. The price is that a packaged `warden-macros`
//! must carry these files: publishing copies this directory into the macro
//! crate (or links it), as serde_derive_internals does with a symlink.
//!
//! # Rules for code here
//!
//! - `std` only: the macro crate has `syn` and no `axum`, the runtime has
//!   `axum` and no `syn`.
//! - Everything `pub(crate)`. Each crate uses a part of this module, so
//!   each declares it with `#[allow(dead_code)]`.
//! - Facts, not policy: values, grammars and checks that return plain
//!   results. The macro turns a failure into a spanned compile error, the
//!   runtime into a typed error.

pub(crate) mod limit;
pub(crate) mod rules;
pub(crate) mod window;
