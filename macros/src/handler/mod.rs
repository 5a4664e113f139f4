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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::symbol::{PROTECTED, RATE_LIMIT};

    fn errors_in(out: &TokenStream) -> usize {
        out.to_string().matches("compile_error").count()
    }

    #[test]
    fn one_mistake_is_one_error() {
        let out = expand(
            RATE_LIMIT,
            quote!(5, "15x", state = AppState, with = tenant),
            quote!(
                async fn login() {}
            ),
        );
        assert_eq!(errors_in(&out), 1, "{out}");
        let out = out.to_string();
        assert!(out.contains("async fn login"), "the handler is kept: {out}");
        assert!(out.contains("let _ = tenant"), "{out}");
        assert!(out.contains("PhantomData :: < AppState >"), "{out}");
    }

    #[test]
    fn a_body_is_not_read() {
        let out = expand(
            PROTECTED,
            quote!(),
            quote!(async fn handler() -> u32 { let x = ; x }),
        );
        assert_eq!(errors_in(&out), 0, "{out}");
        assert!(out.to_string().contains("let x = ;"), "{out}");
    }

    #[test]
    fn a_named_state_gets_its_own_extractor() {
        let out = expand(
            PROTECTED,
            quote!(state = AppState),
            quote!(
                async fn handler() {}
            ),
        )
        .to_string();
        assert!(out.contains("struct __warden_guard_handler"), "{out}");
        assert!(
            out.contains("FromRequestParts < AppState > for __warden_guard_handler"),
            "{out}"
        );
        let plain = expand(
            PROTECTED,
            quote!(),
            quote!(
                async fn handler() {}
            ),
        )
        .to_string();
        assert!(!plain.contains("__warden_guard_handler"), "{plain}");
    }
}
