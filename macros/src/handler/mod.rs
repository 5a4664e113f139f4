//! `#[protected]`, `#[rate_limit]` and `#[validate]`: parse -> check ->
//! emit.
//!
//! The first warden attribute to expand on a handler reads its warden
//! siblings and strips them, so stacked attributes make one policy whatever
//! their order, and the handler gets one guard.

mod check;
mod emit;
mod limit;
mod model;
mod parse;

use proc_macro2::TokenStream;
use quote::quote;

use crate::ctxt::Errors;

pub(crate) fn expand(attribute: &'static str, args: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::new();
    let raw = match parse::handler(attribute, args, item, &mut errors) {
        Ok(raw) => raw,
        Err(fallback) => return fallback,
    };
    let parse::RawHandler {
        func,
        attrs,
        sibling_paths,
    } = raw;
    let handler = check::handler(attribute, attrs, &func, &mut errors);

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
        // The handler as written, so that one mistake is one error: its
        // callers and routes still find it, and the paths its attributes
        // name are still used.
        let errors = errors.to_compile_errors();
        let mentions = emit::mentions(&handler);
        quote!(#errors #uses #mentions #func)
    }
}
