//! Stage 4: the policy model -> the handler with its hidden guard.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;

use super::model::{Protected, Requirement};

/// The handler with a hidden `Guard<policy>` as its first extractor, and the
/// policy type the guard runs.
pub(crate) fn handler(mut func: syn::ItemFn, protected: &Protected) -> TokenStream {
    let name = &func.sig.ident;
    let vis = &func.vis;
    let policy = format_ident!("__warden_policy_{}", name);
    let handler_name = name.to_string();

    let authorize = if protected.requirements.is_empty() {
        quote!({
            let _ = __warden_claims;
            true
        })
    } else {
        all(&protected.requirements)
    };
    let check = protected.check.as_ref().map(|path| {
        let call = quote_spanned! {path.span()=>
            ::core::convert::Into::<::warden::__private::Access>::into(
                #path(__warden_claims, __warden_parts).await
            )
        };
        quote! {
            fn check<'__warden>(
                __warden_claims: &'__warden ::warden::__private::Claims,
                __warden_parts: &'__warden mut ::warden::__private::Parts,
            ) -> impl ::core::future::Future<Output = ::warden::__private::Access>
                   + ::core::marker::Send + '__warden {
                async move { #call }
            }
        }
    });

    func.sig
        .inputs
        .insert(0, syn::parse_quote!(_: ::warden::__private::Guard<#policy>));

    quote! {
        #[doc(hidden)]
        #[allow(non_camel_case_types)]
        #vis struct #policy;

        impl ::warden::__private::Policy for #policy {
            const HANDLER: &'static str =
                ::core::concat!(::core::module_path!(), "::", #handler_name);

            #[inline]
            fn authorize(__warden_claims: &::warden::__private::Claims) -> bool {
                #authorize
            }

            #check
        }

        #func
    }
}

fn all(requirements: &[Requirement]) -> TokenStream {
    let parts = requirements.iter().map(requirement);
    quote!((#(#parts)&&*))
}

fn any(requirements: &[Requirement]) -> TokenStream {
    let parts = requirements.iter().map(requirement);
    quote!((#(#parts)||*))
}

fn requirement(requirement: &Requirement) -> TokenStream {
    match requirement {
        Requirement::Role(path) => quote_spanned! {path.span()=>
            ::warden::__private::has_role(__warden_claims, &#path)
        },
        Requirement::Scope(lit) => quote! {
            __warden_claims.has_scope(#lit)
        },
        Requirement::Any(inner) => any(inner),
        Requirement::All(inner) => all(inner),
        Requirement::Not(inner) => {
            let inner = self::requirement(inner);
            quote!((!#inner))
        }
    }
}
