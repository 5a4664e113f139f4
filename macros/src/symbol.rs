//! Every name the macros recognise, in one place.

/// The handler attribute.
pub(crate) const PROTECTED: &str = "protected";
/// The crate that re-exports the macros; `#[warden::protected]` is accepted.
pub(crate) const WARDEN: &str = "warden";

/// `#[protected(role = Role::Admin)]`
pub(crate) const ROLE: &str = "role";
/// `#[protected(scope = "reports:read")]`
pub(crate) const SCOPE: &str = "scope";
/// `#[protected(any(..))]`
pub(crate) const ANY: &str = "any";
/// `#[protected(all(..))]`
pub(crate) const ALL: &str = "all";
/// `#[protected(not(..))]`
pub(crate) const NOT: &str = "not";
/// `#[protected(check = path::to::fn)]`
pub(crate) const CHECK: &str = "check";

/// The options `#[protected]` takes at its top level.
pub(crate) const PROTECTED_OPTIONS: &[&str] = &[ROLE, SCOPE, ANY, ALL, NOT, CHECK];
/// The options allowed inside `any(..)`, `all(..)` and `not(..)`.
pub(crate) const NESTED_OPTIONS: &[&str] = &[ROLE, SCOPE, ANY, ALL, NOT];

/// The helper attribute of `#[derive(Role)]`.
pub(crate) const ROLE_ATTR: &str = "role";
/// `#[role(rename = "...")]`
pub(crate) const RENAME: &str = "rename";
