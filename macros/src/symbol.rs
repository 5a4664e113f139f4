//! Every name the macros recognise, in one place. The names the runtime
//! knows too (validation rules and their options, limit key kinds) are
//! written in the shared module and re-exported here.

pub(crate) use crate::shared::limit::{
    KEY_HEADER as HEADER, KEY_IP as IP, KEY_USER as USER, KEY_WITH as WITH,
};
pub(crate) use crate::shared::rules::{
    ALPHANUMERIC, ASCII, CODE, CONTAINS, CUSTOM, EMAIL, LEN, MAX, MESSAGE, MIN, MUST_MATCH,
    NO_CONTROL_CHARS, NON_EMPTY, ONE_OF, PASSWORD, PREFIX, RANGE, REGEX, SCHEMES, SPECIAL, SUFFIX,
    UNICODE_LOCAL_PART, URL,
};

/// The handler attribute.
pub(crate) const PROTECTED: &str = "protected";
/// The attribute of a deliberately open handler.
pub(crate) const PUBLIC: &str = "public";
/// The validation attribute, on handlers, and the helper attribute of
/// `#[derive(Validate)]`.
pub(crate) const VALIDATE: &str = "validate";
/// The extractors `#[validate]` wraps.
pub(crate) const VALIDATED_EXTRACTORS: &[&str] = &["Json", "Query", "Form", "Path"];
/// The rate-limit attribute.
pub(crate) const RATE_LIMIT: &str = "rate_limit";
/// The crate that re-exports the macros; `#[warden::protected]` is accepted.
pub(crate) const WARDEN: &str = "warden";
/// The warden attributes a handler can carry.
pub(crate) const HANDLER_ATTRIBUTES: &[&str] = &[PROTECTED, PUBLIC, RATE_LIMIT, VALIDATE];

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
/// `#[protected(state = AppState)]`, `#[rate_limit(.., state = AppState)]`
pub(crate) const STATE: &str = "state";

/// The options `#[protected]` takes at its top level.
pub(crate) const PROTECTED_OPTIONS: &[&str] = &[ROLE, SCOPE, ANY, ALL, NOT, CHECK, STATE];
/// The options allowed inside `any(..)`, `all(..)` and `not(..)`.
pub(crate) const NESTED_OPTIONS: &[&str] = &[ROLE, SCOPE, ANY, ALL, NOT];

/// `#[rate_limit(.., key = ip | user | header("x-api-key"))]`
pub(crate) const KEY: &str = "key";
/// `#[rate_limit(.., skip_successful)]`
pub(crate) const SKIP_SUCCESSFUL: &str = "skip_successful";
/// `#[rate_limit(.., skip_failed)]`
pub(crate) const SKIP_FAILED: &str = "skip_failed";
/// `#[rate_limit(.., name = "..")]`
pub(crate) const NAME: &str = "name";

/// The options `#[rate_limit]` takes after its rate.
pub(crate) const RATE_LIMIT_OPTIONS: &[&str] =
    &[KEY, WITH, SKIP_SUCCESSFUL, SKIP_FAILED, NAME, STATE];
/// The values of `key = ..`.
pub(crate) const KEY_KINDS: &[&str] = &[IP, USER, HEADER];

/// The helper attribute of `#[derive(Role)]`.
pub(crate) const ROLE_ATTR: &str = "role";
/// `#[role(rename = "...")]`, and serde's `#[serde(rename = "..")]`.
pub(crate) const RENAME: &str = "rename";
/// The options of `#[role(..)]`.
pub(crate) const ROLE_OPTIONS: &[&str] = &[RENAME];

/// `#[validate(allow_unknown_fields)]` on a struct.
pub(crate) const ALLOW_UNKNOWN_FIELDS: &str = "allow_unknown_fields";
/// The options of `#[validate(..)]` on a struct.
pub(crate) const STRUCT_OPTIONS: &[&str] = &[CUSTOM, ALLOW_UNKNOWN_FIELDS];

/// serde's attribute, read for the names a field has on the wire.
pub(crate) const SERDE: &str = "serde";
/// `#[serde(deny_unknown_fields)]`
pub(crate) const DENY_UNKNOWN_FIELDS: &str = "deny_unknown_fields";
/// `#[serde(rename_all = "..")]`
pub(crate) const RENAME_ALL: &str = "rename_all";
/// `#[serde(flatten)]`
pub(crate) const FLATTEN: &str = "flatten";
/// `#[serde(rename(deserialize = ".."))]`
pub(crate) const DESERIALIZE: &str = "deserialize";
