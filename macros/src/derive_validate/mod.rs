//! `#[derive(Validate)]`: parse -> check -> emit.

mod check;
mod emit;
mod model;
mod parse;

use proc_macro2::TokenStream;

use crate::ctxt::Errors;

pub(crate) fn expand(input: TokenStream) -> TokenStream {
    let input: syn::DeriveInput = match syn::parse2(input) {
        Ok(input) => input,
        Err(error) => return error.to_compile_error(),
    };
    let mut errors = Errors::new();
    let Some(raw) = parse::input(&input, &mut errors) else {
        return errors.to_compile_errors();
    };
    let model = check::input(raw, &mut errors);
    if errors.is_empty() {
        emit::input(&model)
    } else {
        // An impl that checks nothing next to the errors, so that one
        // mistake is one error: the uses of the type as `Validate` compile.
        let errors = errors.to_compile_errors();
        let fallback = emit::fallback(&model);
        quote::quote!(#errors #fallback)
    }
}

#[cfg(test)]
mod tests {
    use quote::quote;

    use super::*;

    fn errors_of(input: TokenStream) -> String {
        expand(input).to_string()
    }

    #[test]
    fn every_mistake_is_reported() {
        let out = errors_of(quote! {
            struct S {
                #[validate(emial, len(10..=2), regex = "(unclosed", must_match = nope, range(5..3))]
                a: String,
                #[validate(email, email)]
                b: String,
            }
        });
        for expected in [
            "did you mean `email`",
            "min 10 greater than max 2",
            "invalid regex",
            "unknown field `nope`",
            "inclusive range",
            "duplicate rule `email`",
            "deny_unknown_fields",
        ] {
            assert!(out.contains(expected), "{expected} not in {out}");
        }
    }

    #[test]
    fn a_mistake_still_implements_validate() {
        let out = errors_of(quote! {
            #[serde(deny_unknown_fields)]
            struct S<T> {
                #[validate(emial)]
                a: T,
            }
        });
        assert!(out.contains("compile_error"), "{out}");
        assert!(out.contains("Validate for S < T >"), "{out}");
    }
}
