//! What a `#[derive(Validate)]` input says, checked and ready to emit.

use proc_macro2::Span;

pub(crate) struct Input {
    pub(crate) ident: syn::Ident,
    pub(crate) generics: syn::Generics,
    pub(crate) fields: Vec<Field>,
    /// `#[validate(custom = f)]` on the struct: `fn(&Self) -> Result<(), Invalid>`.
    pub(crate) custom: Vec<syn::ExprPath>,
    /// `#[serde(deny_unknown_fields)]`.
    pub(crate) strict: bool,
}

pub(crate) struct Field {
    pub(crate) member: syn::Member,
    pub(crate) ty: syn::Type,
    /// The name serde reads the field under; None for `#[serde(flatten)]`.
    pub(crate) wire_name: Option<String>,
    pub(crate) rules: Vec<Rule>,
    /// The rules as written, for the manifest.
    pub(crate) written: Vec<String>,
}

pub(crate) struct Rule {
    /// The rule's name in the shared table.
    pub(crate) name: &'static str,
    pub(crate) kind: RuleKind,
    /// The rule's name token: type errors point here.
    pub(crate) span: Span,
    pub(crate) code: String,
    pub(crate) message: Option<String>,
}

pub(crate) enum RuleKind {
    /// An address as a browser's `<input type=email>` takes it, or with a
    /// UTF-8 local part (RFC 6531) when asked.
    Email {
        unicode_local_part: bool,
    },
    /// The schemes allowed; empty for the runtime's default (http, https).
    Url(Vec<String>),
    Len {
        min: Option<u64>,
        max: Option<u64>,
    },
    Range {
        min: Option<NumberLit>,
        max: Option<NumberLit>,
    },
    /// The pattern as compiled (anchored to the whole value), and as
    /// written.
    Regex {
        anchored: String,
        written: String,
    },
    Password {
        min: u64,
        max: u64,
        special: String,
    },
    OneOfText(Vec<syn::LitStr>),
    OneOfNumber(Vec<NumberLit>),
    NonEmpty,
    Ascii,
    Alphanumeric,
    NoControlChars,
    Prefix(syn::LitStr),
    Suffix(syn::LitStr),
    Contains(syn::LitStr),
    MustMatch(syn::Ident),
    Custom(syn::ExprPath),
}

/// A numeric literal, possibly negative: its tokens for the emitted code
/// and its value for the checks.
pub(crate) struct NumberLit {
    pub(crate) tokens: proc_macro2::TokenStream,
    pub(crate) value: f64,
}
