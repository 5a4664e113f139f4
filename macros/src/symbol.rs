//! Every name the macros recognise, in one place.

/// The handler attribute.
pub(crate) const PROTECTED: &str = "protected";
/// The validation attribute.
pub(crate) const VALIDATE: &str = "validate";
/// The extractors `#[validate]` wraps.
pub(crate) const VALIDATED_EXTRACTORS: &[&str] = &["Json", "Query", "Form", "Path"];
/// The rate-limit attribute.
pub(crate) const RATE_LIMIT: &str = "rate_limit";
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

/// `#[rate_limit(.., key = ip | user | header("x-api-key"))]`
pub(crate) const KEY: &str = "key";
/// `key = ip`
pub(crate) const IP: &str = "ip";
/// `key = user`
pub(crate) const USER: &str = "user";
/// `key = header("..")`
pub(crate) const HEADER: &str = "header";
/// `#[rate_limit(.., with = path::to::fn)]`
pub(crate) const WITH: &str = "with";
/// `#[rate_limit(.., skip_successful)]`
pub(crate) const SKIP_SUCCESSFUL: &str = "skip_successful";
/// `#[rate_limit(.., skip_failed)]`
pub(crate) const SKIP_FAILED: &str = "skip_failed";
/// `#[rate_limit(.., name = "..")]`
pub(crate) const NAME: &str = "name";

/// The options `#[rate_limit]` takes after its rate.
pub(crate) const RATE_LIMIT_OPTIONS: &[&str] = &[KEY, WITH, SKIP_SUCCESSFUL, SKIP_FAILED, NAME];
/// The values of `key = ..`.
pub(crate) const KEY_KINDS: &[&str] = &[IP, USER, HEADER];
