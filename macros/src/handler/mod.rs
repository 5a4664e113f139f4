//! `#[protected]` and `#[rate_limit]`: parse -> check -> emit.
//!
//! The first warden attribute to expand on a handler reads its warden
//! siblings and strips them, so stacked attributes make one policy whatever
//! their order, and the handler gets one guard.

mod check;
mod emit;
mod limit;
mod model;
pub(crate) mod parse;

use proc_macro2::{Span, TokenStream};
use quote::quote;

use crate::ctxt::Errors;
use crate::symbol::{PROTECTED, RATE_LIMIT, VALIDATE, VALIDATED_EXTRACTORS, WARDEN};
use model::{Handler, LimitKey};

/// `protected` or `rate_limit` when `attr` is `#[name(..)]` or
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
    [PROTECTED, RATE_LIMIT, VALIDATE]
        .into_iter()
        .find(|n| *n == name)
}

/// The arguments of a sibling attribute (`#[protected]` has none).
fn arguments(attr: &syn::Attribute, errors: &mut Errors) -> TokenStream {
    match &attr.meta {
        syn::Meta::Path(_) => TokenStream::new(),
        syn::Meta::List(list) => list.tokens.clone(),
        syn::Meta::NameValue(nv) => {
            errors.spanned(nv, "expected `#[attribute(..)]`");
            TokenStream::new()
        }
    }
}

/// The positions of the parameters `#[validate]` wraps: `Json<T>`,
/// `Query<T>`, `Form<T>` and `Path<T>`, by the last segment of their type.
fn validated_parameters(func: &syn::ItemFn) -> Vec<usize> {
    func.sig
        .inputs
        .iter()
        .enumerate()
        .filter_map(|(i, input)| match input {
            syn::FnArg::Typed(typed) => extracted_type(&typed.ty).map(|_| i),
            syn::FnArg::Receiver(_) => None,
        })
        .collect()
}

/// `T` of `Json<T>` (or `Query`, `Form`, `Path`).
pub(crate) fn extracted_type(ty: &syn::Type) -> Option<&syn::Type> {
    let syn::Type::Path(path) = ty else {
        return None;
    };
    let last = path.path.segments.last()?;
    if !VALIDATED_EXTRACTORS.contains(&last.ident.to_string().as_str()) {
        return None;
    }
    let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    match args.args.first()? {
        syn::GenericArgument::Type(inner) if args.args.len() == 1 => Some(inner),
        _ => None,
    }
}

pub(crate) fn expand(attribute: &'static str, args: TokenStream, item: TokenStream) -> TokenStream {
    let mut func: syn::ItemFn = match syn::parse2(item.clone()) {
        Ok(func) => func,
        Err(_) => {
            let error = syn::Error::new(
                Span::call_site(),
                format!("#[{attribute}] goes on an `async fn` request handler"),
            )
            .to_compile_error();
            return quote!(#error #item);
        }
    };
    let mut errors = Errors::new();

    // This attribute first, then its siblings in source order; each with
    // what an error about the whole attribute points at.
    let mut attributes = vec![(attribute, args, None)];
    let mut kept = Vec::with_capacity(func.attrs.len());
    let mut sibling_paths = Vec::new();
    for attr in std::mem::take(&mut func.attrs) {
        match warden_attr(&attr) {
            Some(kind) => {
                sibling_paths.push(attr.path().clone());
                let tokens = arguments(&attr, &mut errors);
                attributes.push((kind, tokens, Some(quote!(#attr))));
            }
            None => kept.push(attr),
        }
    }
    func.attrs = kept;

    let mut handler = Handler {
        protected: None,
        limits: Vec::new(),
        validated: Vec::new(),
    };
    let mut validate_seen = false;
    for (kind, tokens, whole) in attributes {
        let span = whole
            .as_ref()
            .and_then(|w| w.clone().into_iter().next())
            .map_or_else(Span::call_site, |t| t.span());
        let at_attribute = |errors: &mut Errors, message: String| match &whole {
            Some(whole) => errors.spanned(whole, message),
            None => errors.at(Span::call_site(), message),
        };
        if kind == VALIDATE {
            if !tokens.is_empty() {
                errors.spanned(
                    &tokens,
                    "#[validate] takes no arguments: the rules live on the types, with #[derive(Validate)]",
                );
            }
            if validate_seen {
                at_attribute(&mut errors, "duplicate #[validate]".into());
                continue;
            }
            validate_seen = true;
            handler.validated = validated_parameters(&func);
            if handler.validated.is_empty() {
                at_attribute(
                    &mut errors,
                    "#[validate] has nothing to validate: it checks `Json<T>`, `Query<T>`, `Form<T>` and `Path<T>` parameters".into(),
                );
            }
        } else if kind == PROTECTED {
            let options = parse::options(tokens, &mut errors);
            let protected = check::protected(options, &mut errors);
            if handler.protected.is_some() {
                at_attribute(
                    &mut errors,
                    "duplicate #[protected]; write every requirement in one attribute (they all apply, as in `all(..)`)".into(),
                );
            } else {
                handler.protected = Some(protected);
            }
        } else {
            let items = parse::items(tokens, true, &mut errors);
            if let Some(limit) = limit::rate_limit(items, span, &mut errors) {
                if handler.limits.iter().any(|l| l.name == limit.name) {
                    at_attribute(
                        &mut errors,
                        format!(
                            "two limits of this handler are named {:?}; tell them apart with `name = \"...\"`",
                            limit.name
                        ),
                    );
                }
                handler.limits.push(limit);
            }
        }
    }
    if handler.protected.is_none() {
        for limit in &handler.limits {
            if let LimitKey::User(span) = limit.key {
                errors.at(
                    span,
                    "`key = user` needs an authenticated user: add #[protected] to this handler",
                );
            }
        }
    }

    if func.sig.asyncness.is_none() {
        errors.spanned(
            func.sig.fn_token,
            format!("#[{attribute}] handlers must be `async fn`"),
        );
    }
    if let Some(syn::FnArg::Receiver(receiver)) = func.sig.inputs.first() {
        errors.spanned(
            receiver,
            format!("#[{attribute}] goes on a free handler function, not a method"),
        );
    }

    // A sibling attribute never expands, so its import would look unused:
    // use it.
    let uses = quote! {
        #(
            const _: () = {
                #[allow(unused_imports)]
                use #sibling_paths as _;
            };
        )*
    };
    if errors.is_empty() {
        let handler = emit::handler(func, &handler);
        quote!(#uses #handler)
    } else {
        let errors = errors.to_compile_errors();
        quote!(#errors #uses #func)
    }
}
