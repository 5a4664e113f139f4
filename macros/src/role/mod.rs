//! `#[derive(Role)]`: parse -> check -> emit, small enough for one file;
//! its attribute is read with the shared syntax of [`crate::attr`].

use proc_macro2::TokenStream;
use quote::quote;

use crate::attr::{self, Arg, Opt, Value};
use crate::ctxt::Errors;
use crate::suggest;
use crate::symbol::{RENAME, ROLE_ATTR, ROLE_OPTIONS};

/// One variant and its name in tokens.
struct Variant {
    ident: syn::Ident,
    name: String,
}

pub(crate) fn expand(input: TokenStream) -> TokenStream {
    let input: syn::DeriveInput = match syn::parse2(input) {
        Ok(input) => input,
        Err(error) => return error.to_compile_error(),
    };
    let mut errors = Errors::new();
    let syn::Data::Enum(data) = &input.data else {
        errors.spanned(
            &input.ident,
            "#[derive(Role)] goes on an enum whose variants are the roles",
        );
        return with_fallback(&input, &errors);
    };

    let mut variants: Vec<Variant> = Vec::new();
    for variant in &data.variants {
        if !matches!(variant.fields, syn::Fields::Unit) {
            errors.spanned(&variant.fields, "a role variant cannot have fields");
            continue;
        }
        let name = rename(&variant.attrs, &mut errors)
            .unwrap_or_else(|| snake_case(&variant.ident.to_string()));
        if let Some(first) = variants.iter().find(|v| v.name == name) {
            errors.spanned(
                &variant.ident,
                format!(
                    "the role name {name:?} is already used by `{}`",
                    first.ident
                ),
            );
            continue;
        }
        variants.push(Variant {
            ident: variant.ident.clone(),
            name,
        });
    }
    if !errors.is_empty() {
        return with_fallback(&input, &errors);
    }

    let ident = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let arms = variants
        .iter()
        .map(|Variant { ident: v, name }| quote!(Self::#v => #name,));
    let from_arms = variants
        .iter()
        .map(|Variant { ident: v, name }| quote!(#name => ::core::option::Option::Some(Self::#v),));
    quote! {
        impl #impl_generics ::warden::__private::Role for #ident #ty_generics #where_clause {
            fn as_str(&self) -> &'static str {
                match *self {
                    #(#arms)*
                }
            }

            fn from_name(name: &str) -> ::core::option::Option<Self> {
                match name {
                    #(#from_arms)*
                    _ => ::core::option::Option::None,
                }
            }
        }
    }
}

/// The errors, and an impl that names no role, so that one mistake is one
/// error: the uses of the type as a role compile.
fn with_fallback(input: &syn::DeriveInput, errors: &Errors) -> TokenStream {
    let errors = errors.to_compile_errors();
    let ident = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    quote! {
        #errors
        impl #impl_generics ::warden::__private::Role for #ident #ty_generics #where_clause {
            fn as_str(&self) -> &'static str {
                ""
            }

            fn from_name(_: &str) -> ::core::option::Option<Self> {
                ::core::option::Option::None
            }
        }
    }
}

/// What `#[role(..)]` expects.
const RENAME_HINT: &str = "expected `rename = \"...\"`";

/// The `#[role(rename = "...")]` of a variant, if any.
fn rename(attrs: &[syn::Attribute], errors: &mut Errors) -> Option<String> {
    let mut found = None;
    for attr in attrs.iter().filter(|a| a.path().is_ident(ROLE_ATTR)) {
        let syn::Meta::List(list) = &attr.meta else {
            errors.spanned(attr, "expected `#[role(rename = \"...\")]`");
            continue;
        };
        for arg in attr::parse(list.tokens.clone(), "an option", errors) {
            let Opt { key, value } = match arg {
                Arg::Option(option) => option,
                Arg::Positional(tokens) => {
                    attr::not_an_option(&tokens, RENAME_HINT, errors);
                    continue;
                }
            };
            if key != RENAME {
                errors.spanned(
                    &key,
                    suggest::unknown("role option", &key.to_string(), ROLE_OPTIONS),
                );
                continue;
            }
            let Value::Assign(_, tokens) = value else {
                errors.spanned(&key, RENAME_HINT);
                continue;
            };
            let Ok(lit) = syn::parse2::<syn::LitStr>(tokens.clone()) else {
                errors.spanned(
                    tokens,
                    "expected a string literal, like `rename = \"support-agent\"`",
                );
                continue;
            };
            let value = lit.value();
            if value.is_empty() || value.chars().any(|c| c.is_whitespace() || c.is_control()) {
                errors.spanned(
                    &lit,
                    "a role name must be non-empty, without spaces or control characters",
                );
                continue;
            }
            if found.replace(value).is_some() {
                errors.spanned(&key, "duplicate `rename`");
            }
        }
    }
    found
}

/// `SuperUser` -> `super_user`, `HTTPAdmin` -> `http_admin`.
fn snake_case(ident: &str) -> String {
    let chars: Vec<char> = ident.chars().collect();
    let mut out = String::with_capacity(ident.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if c.is_uppercase() && i > 0 {
            let prev = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            if prev.is_lowercase() || prev.is_ascii_digit() || (prev.is_uppercase() && next_lower) {
                out.push('_');
            }
        }
        out.extend(c.to_lowercase());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variants_are_snake_cased() {
        assert_eq!(snake_case("Admin"), "admin");
        assert_eq!(snake_case("SuperUser"), "super_user");
        assert_eq!(snake_case("HTTPAdmin"), "http_admin");
        assert_eq!(snake_case("Level2Support"), "level2_support");
    }

    #[test]
    fn duplicate_names_and_fields_are_errors() {
        let out = expand(quote! {
            enum Role { Admin, #[role(rename = "admin")] Other, Data(u8), #[role(renam = "x")] X }
        })
        .to_string();
        assert!(out.contains("already used by `Admin`"), "{out}");
        assert!(out.contains("cannot have fields"), "{out}");
        assert!(out.contains("did you mean `rename`"), "{out}");
        assert!(
            out.contains("impl :: warden :: __private :: Role for Role"),
            "{out}"
        );
    }

    #[test]
    fn rename_is_read_with_the_shared_syntax() {
        let mut errors = Errors::new();
        let attrs: Vec<syn::Attribute> = vec![
            syn::parse_quote!(#[role(rename = "agent")]),
            syn::parse_quote!(#[role(rename = "again", rename)]),
            syn::parse_quote!(#[role("x", rename = 3)]),
            syn::parse_quote!(#[role]),
        ];
        assert_eq!(rename(&attrs, &mut errors).as_deref(), Some("again"));
        assert_eq!(
            errors.messages(),
            [
                "duplicate `rename`",
                "expected `rename = \"...\"`",
                "expected `rename = \"...\"`",
                "expected a string literal, like `rename = \"support-agent\"`",
                "expected `#[role(rename = \"...\")]`",
            ]
        );
    }
}
