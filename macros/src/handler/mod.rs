//! `#[protected]`: parse -> check -> emit.
//!
//! The first warden attribute to expand on a handler reads its warden
//! siblings and strips them, so stacked attributes make one policy whatever
//! their order.

mod check;
mod emit;
mod model;
mod parse;

use proc_macro2::TokenStream;
use quote::quote;

use crate::ctxt::Errors;
use crate::symbol::{PROTECTED, WARDEN};

/// Whether `attr` is `#[name(..)]` or `#[warden::name(..)]`.
fn is_warden_attr(attr: &syn::Attribute, name: &str) -> bool {
    let segments: Vec<String> = attr
        .path()
        .segments
        .iter()
        .map(|s| s.ident.to_string())
        .collect();
    match segments.as_slice() {
        [only] => only == name,
        [krate, last] => krate == WARDEN && last == name,
        _ => false,
    }
}

pub(crate) fn expand(attribute: &str, args: TokenStream, item: TokenStream) -> TokenStream {
    let mut func: syn::ItemFn = match syn::parse2(item.clone()) {
        Ok(func) => func,
        Err(_) => {
            let error = syn::Error::new(
                proc_macro2::Span::call_site(),
                format!("#[{attribute}] goes on an `async fn` request handler"),
            )
            .to_compile_error();
            return quote!(#error #item);
        }
    };
    let mut errors = Errors::new();

    let mut siblings = Vec::new();
    func.attrs.retain(|attr| {
        let ours = is_warden_attr(attr, PROTECTED);
        if ours {
            siblings.push(attr.clone());
        }
        !ours
    });
    for duplicate in &siblings {
        errors.spanned(
            duplicate,
            "duplicate #[protected]; write every requirement in one attribute (they all apply, as in `all(..)`)",
        );
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

    let options = parse::options(args, &mut errors);
    let protected = check::protected(options, &mut errors);

    if errors.is_empty() {
        emit::handler(func, &protected)
    } else {
        let errors = errors.to_compile_errors();
        quote!(#errors #func)
    }
}
