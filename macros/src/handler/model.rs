//! Stage 2: what a handler's policy says, checked and ready to emit.

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
