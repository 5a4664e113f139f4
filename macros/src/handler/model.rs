//! Stage 2: what a handler's policy says, checked and ready to emit.

use proc_macro2::Span;

/// Everything the warden attributes of one handler say.
pub(crate) struct Handler {
    pub(crate) protected: Option<Protected>,
    /// `#[public]`: deliberately open.
    pub(crate) public: bool,
    pub(crate) limits: Vec<Limit>,
    /// `#[validate]`: which parameters (by position) to validate.
    pub(crate) validated: Vec<usize>,
    /// `state = AppState`: the router state the handler is used with.
    pub(crate) state: Option<syn::Type>,
    /// Every path the attributes name, for the fallback of a handler with
    /// mistakes.
    pub(crate) mentioned: Vec<Mention>,
}

/// A path an attribute names.
pub(crate) enum Mention {
    /// A value: a role, a `check` or `with` function.
    Value(syn::ExprPath),
    /// A type: the state.
    Type(syn::Type),
}

/// The policy of one `#[protected]` handler.
pub(crate) struct Protected {
    /// Every requirement must hold (an implicit `all`).
    pub(crate) requirements: Vec<Requirement>,
    /// The object-level check, run after the requirements.
    pub(crate) check: Option<syn::ExprPath>,
}

/// A role/scope expression.
pub(crate) enum Requirement {
    Role(syn::ExprPath),
    Scope(syn::LitStr),
    Any(Vec<Requirement>),
    All(Vec<Requirement>),
    Not(Box<Requirement>),
}

/// One `#[rate_limit]`.
pub(crate) struct Limit {
    pub(crate) rate: LimitRate,
    /// The name shown in headers: `name = ".."`, the policy name, or
    /// `<count>-per-<window>`.
    pub(crate) name: String,
    pub(crate) key: LimitKey,
    pub(crate) skip: SkipMode,
}

pub(crate) enum LimitRate {
    Inline { count: u32, window_ns: u64 },
    Named(String),
}

pub(crate) enum LimitKey {
    Ip,
    /// The span of `user`, for the error when the handler is not protected.
    User(Span),
    /// A lower-case header name.
    Header(String),
    Custom(syn::ExprPath),
}

pub(crate) enum SkipMode {
    Nothing,
    Successful,
    Failed,
}
