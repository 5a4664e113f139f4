//! Stage 1: tokens -> the handler and its warden attributes as written.
//!
//! Syntax only. The function is read as its signature and an unparsed
//! body, as tokio's `#[tokio::main]` reads it: a mistake inside the body is
//! rustc's to report, as that mistake, not as a handler this attribute
//! cannot read.

use proc_macro2::{Delimiter, Group, Span, TokenStream};
use quote::{ToTokens, TokenStreamExt, quote};
use syn::parse::{Parse, ParseStream};

use crate::attr::{self, Arg};
use crate::ctxt::Errors;
use crate::symbol::{HANDLER_ATTRIBUTES, PUBLIC, VALIDATE, WARDEN};

/// A handler: its signature parsed, its body kept as tokens.
#[derive(Clone)]
pub(crate) struct HandlerFn {
    pub(crate) attrs: Vec<syn::Attribute>,
    pub(crate) vis: syn::Visibility,
    pub(crate) sig: syn::Signature,
    /// `{ .. }`, as written.
    pub(crate) body: Group,
}

impl Parse for HandlerFn {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let attrs = input.call(syn::Attribute::parse_outer)?;
        let vis = input.parse()?;
        let sig = input.parse()?;
        let body: Group = input.parse()?;
        if body.delimiter() != Delimiter::Brace {
            return Err(syn::Error::new(body.span(), "expected a function body"));
        }
        Ok(Self {
            attrs,
            vis,
            sig,
            body,
        })
    }
}

impl ToTokens for HandlerFn {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        tokens.append_all(&self.attrs);
        self.vis.to_tokens(tokens);
        self.sig.to_tokens(tokens);
        tokens.append(self.body.clone());
    }
}

/// One warden attribute of a handler, as written.
pub(crate) struct RawAttr {
    /// `protected`, `rate_limit` or `validate`.
    pub(crate) kind: &'static str,
    /// The arguments; empty for `#[validate]`, which has no grammar.
    pub(crate) args: Vec<Arg>,
    /// The argument tokens as written.
    pub(crate) tokens: TokenStream,
    /// Where an error about the whole attribute points: the attribute, or
    /// the call site for the one being expanded.
    pub(crate) span: AttrSpan,
}

/// What an error about a whole attribute points at.
pub(crate) enum AttrSpan {
    /// The attribute being expanded: rustc gives only the call site.
    CallSite,
    /// A sibling attribute, as written.
    Sibling(TokenStream),
}

impl AttrSpan {
    /// An error about the whole attribute.
    pub(crate) fn error(&self, errors: &mut Errors, message: impl std::fmt::Display) {
        match self {
            Self::CallSite => errors.at(Span::call_site(), message),
            Self::Sibling(tokens) => errors.spanned(tokens, message),
        }
    }

    /// The span of the attribute's first token.
    pub(crate) fn start(&self) -> Span {
        match self {
            Self::CallSite => Span::call_site(),
            Self::Sibling(tokens) => tokens
                .clone()
                .into_iter()
                .next()
                .map_or_else(Span::call_site, |t| t.span()),
        }
    }
}

/// A handler with every warden attribute it carries.
pub(crate) struct RawHandler {
    /// The function, without its warden attributes.
    pub(crate) func: HandlerFn,
    /// The attribute being expanded first, then its siblings in source
    /// order.
    pub(crate) attrs: Vec<RawAttr>,
    /// The paths of the siblings, which never expand: their imports are
    /// used by the expansion so that they do not look unused.
    pub(crate) sibling_paths: Vec<syn::Path>,
}

/// Reads the handler under `#[attribute(args)]` and its warden siblings.
/// `Err` holds what to emit when the item is not a function at all.
pub(crate) fn handler(
    attribute: &'static str,
    args: TokenStream,
    item: TokenStream,
    errors: &mut Errors,
) -> Result<RawHandler, TokenStream> {
    let mut func: HandlerFn = match syn::parse2(item.clone()) {
        Ok(func) => func,
        Err(_) => {
            let error = syn::Error::new(
                Span::call_site(),
                format!("#[{attribute}] goes on an `async fn` request handler"),
            )
            .to_compile_error();
            return Err(quote!(#error #item));
        }
    };
    let mut attrs = vec![raw_attr(attribute, args, AttrSpan::CallSite, errors)];
    let mut kept = Vec::with_capacity(func.attrs.len());
    let mut sibling_paths = Vec::new();
    for attr in std::mem::take(&mut func.attrs) {
        let Some(kind) = warden_attr(&attr) else {
            kept.push(attr);
            continue;
        };
        sibling_paths.push(attr.path().clone());
        let tokens = match &attr.meta {
            syn::Meta::Path(_) => TokenStream::new(),
            syn::Meta::List(list) => list.tokens.clone(),
            syn::Meta::NameValue(nv) => {
                errors.spanned(nv, "expected `#[attribute(..)]`");
                TokenStream::new()
            }
        };
        attrs.push(raw_attr(
            kind,
            tokens,
            AttrSpan::Sibling(attr.to_token_stream()),
            errors,
        ));
    }
    func.attrs = kept;
    Ok(RawHandler {
        func,
        attrs,
        sibling_paths,
    })
}

fn raw_attr(
    kind: &'static str,
    tokens: TokenStream,
    span: AttrSpan,
    errors: &mut Errors,
) -> RawAttr {
    let args = if kind == VALIDATE || kind == PUBLIC {
        Vec::new()
    } else {
        attr::parse(tokens.clone(), "an option", errors)
    };
    RawAttr {
        kind,
        args,
        tokens,
        span,
    }
}

/// `protected`, `rate_limit` or `validate` when `attr` is `#[name(..)]` or
/// `#[warden::name(..)]`.
fn warden_attr(attr: &syn::Attribute) -> Option<&'static str> {
    let segments: Vec<String> = attr
        .path()
        .segments
        .iter()
        .map(|s| s.ident.to_string())
        .collect();
    let name = match segments.as_slice() {
        [only] => only.as_str(),
        [krate, last] if krate == WARDEN => last.as_str(),
        _ => return None,
    };
    HANDLER_ATTRIBUTES.iter().copied().find(|n| *n == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_is_not_parsed() {
        let func: HandlerFn = syn::parse_quote! {
            /// Docs.
            pub async fn handler(x: u8) -> u8 { let y = ; x }
        };
        assert_eq!(func.sig.ident, "handler");
        assert_eq!(func.attrs.len(), 1);
        assert!(func.body.to_string().contains("let y ="));
    }

    #[test]
    fn siblings_are_read_and_taken_off() {
        let mut errors = Errors::new();
        let raw = handler(
            "protected",
            quote!(role = Role::Admin),
            quote! {
                #[inline]
                #[warden::rate_limit(5, "15m")]
                #[validate]
                #[other::protected]
                async fn h() {}
            },
            &mut errors,
        )
        .ok()
        .unwrap();
        assert!(errors.is_empty());
        let kinds: Vec<_> = raw.attrs.iter().map(|a| a.kind).collect();
        assert_eq!(kinds, ["protected", "rate_limit", "validate"]);
        assert_eq!(raw.attrs[1].args.len(), 2);
        assert_eq!(
            raw.func.attrs.len(),
            2,
            "#[inline] and #[other::protected] stay"
        );
        assert_eq!(raw.sibling_paths.len(), 2);
    }

    #[test]
    fn what_is_not_a_function_is_given_back() {
        let mut errors = Errors::new();
        let out = handler(
            "protected",
            quote!(),
            quote!(
                struct S;
            ),
            &mut errors,
        )
        .err()
        .unwrap()
        .to_string();
        assert!(out.contains("goes on an `async fn`") && out.contains("struct S"));
    }
}
