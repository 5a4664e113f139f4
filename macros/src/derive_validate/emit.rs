//! Stage 3: the model -> `impl Validate`.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};

use super::model::{Field, Input, Rule, RuleKind};

pub(crate) fn input(input: &Input) -> TokenStream {
    let ident = &input.ident;
    let type_params: Vec<&syn::Ident> = input.generics.type_params().map(|p| &p.ident).collect();
    // A field whose type names a type parameter is validated through
    // `Validate`, never skipped: the impl requires it (`Wrapper<T>` is
    // `Validate` when its fields are), and a type that is not is a compile
    // error where it is used.
    let generic = |field: &Field| mentions(&field.ty, &type_params);
    let mut generics = input.generics.clone();
    if input.fields.iter().any(generic) {
        let where_clause = generics.make_where_clause();
        for field in input.fields.iter().filter(|f| generic(f)) {
            let ty = &field.ty;
            where_clause
                .predicates
                .push(syn::parse_quote!(#ty: ::warden::__private::Validate));
        }
    }
    let (impl_generics, ty_generics, where_clause) = generics.split_for_impl();
    let fields = input.fields.iter().map(|f| field(f, generic(f)));
    let customs = input.custom.iter().map(|path| {
        quote_spanned! {syn::spanned::Spanned::span(path)=>
            if let ::core::result::Result::Err(invalid) = #path(self) {
                __warden_report.invalid(invalid);
            }
        }
    });
    let strict = input.strict;
    let described = input
        .fields
        .iter()
        .filter(|f| !f.written.is_empty())
        .map(|f| {
            let name = f.wire_name.clone().unwrap_or_default();
            let written = &f.written;
            let specs = f.rules.iter().map(spec);
            quote!(::warden::__private::FieldRules {
                field: #name,
                rules: &[#(#written),*],
                specs: &[#(#specs),*],
            })
        });
    let type_name = ident.to_string();
    quote! {
        impl #impl_generics ::warden::__private::Validate for #ident #ty_generics #where_clause {
            fn validate_into(&self, __warden_report: &mut ::warden::__private::Report) {
                #[allow(unused_imports)]
                use ::warden::__private::{ViaNothing as _, ViaValidate as _};
                #(#fields)*
                #(#customs)*
            }

            const RULES: ::core::option::Option<::warden::__private::TypeRules> =
                ::core::option::Option::Some(::warden::__private::TypeRules {
                    name: #type_name,
                    strict: #strict,
                    fields: &[#(#described),*],
                });
        }
    }
}

/// A rule in the manifest's form, for tools (the OpenAPI keywords).
fn spec(rule: &Rule) -> TokenStream {
    let s = quote!(::warden::__private::RuleSpec);
    let opt_u64 = |n: &Option<u64>| option(n.as_ref());
    let opt_f64 = |n: &Option<super::model::NumberLit>| option(n.as_ref().map(|n| n.value));
    match &rule.kind {
        RuleKind::Email { unicode_local_part } => {
            quote!(#s::Email { unicode_local_part: #unicode_local_part })
        }
        RuleKind::Url(schemes) => {
            let schemes: Vec<&str> = if schemes.is_empty() {
                vec!["http", "https"]
            } else {
                schemes.iter().map(String::as_str).collect()
            };
            quote!(#s::Url { schemes: &[#(#schemes),*] })
        }
        RuleKind::Len { min, max } => {
            let (min, max) = (opt_u64(min), opt_u64(max));
            quote!(#s::Len { min: #min, max: #max })
        }
        RuleKind::Range { min, max } => {
            let (min, max) = (opt_f64(min), opt_f64(max));
            quote!(#s::Range { min: #min, max: #max })
        }
        RuleKind::Regex { written, .. } => quote!(#s::Regex(#written)),
        RuleKind::Password { min, max, special } => {
            quote!(#s::Password { min: #min, max: #max, special: #special })
        }
        RuleKind::OneOfText(values) => quote!(#s::OneOfText(&[#(#values),*])),
        RuleKind::OneOfNumber(values) => {
            let values = values.iter().map(|v| v.value);
            quote!(#s::OneOfNumber(&[#(#values),*]))
        }
        RuleKind::NonEmpty => quote!(#s::NonEmpty),
        RuleKind::Ascii => quote!(#s::Ascii),
        RuleKind::Alphanumeric => quote!(#s::Alphanumeric),
        RuleKind::NoControlChars => quote!(#s::NoControlChars),
        RuleKind::Prefix(lit) => quote!(#s::Prefix(#lit)),
        RuleKind::Suffix(lit) => quote!(#s::Suffix(#lit)),
        RuleKind::Contains(lit) => quote!(#s::Contains(#lit)),
        RuleKind::MustMatch(other) => {
            let other = other.to_string();
            quote!(#s::MustMatch(#other))
        }
        RuleKind::Custom(path) => {
            let path = crate::attr::source_text(&quote!(#path));
            quote!(#s::Custom(#path))
        }
    }
}

/// What is emitted next to the errors of a struct with mistakes: an impl
/// that checks nothing, so that the uses of the type as `Validate` do not
/// add errors of their own.
pub(crate) fn fallback(input: &Input) -> TokenStream {
    let ident = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    quote! {
        impl #impl_generics ::warden::__private::Validate for #ident #ty_generics #where_clause {
            fn validate_into(&self, _: &mut ::warden::__private::Report) {}
        }
    }
}

/// Whether `ty` names one of `params`.
fn mentions(ty: &syn::Type, params: &[&syn::Ident]) -> bool {
    fn walk(tokens: TokenStream, params: &[&syn::Ident]) -> bool {
        tokens.into_iter().any(|tree| match tree {
            proc_macro2::TokenTree::Ident(ident) => params.contains(&&ident),
            proc_macro2::TokenTree::Group(group) => walk(group.stream(), params),
            _ => false,
        })
    }
    !params.is_empty() && walk(quote!(#ty), params)
}

fn field(field: &Field, generic: bool) -> TokenStream {
    let member = &field.member;
    let name = field.wire_name.clone().unwrap_or_default();
    let rules = field
        .rules
        .iter()
        .map(|rule| self::rule(member, &name, rule));
    let nested = if generic {
        quote!(::warden::__private::ViaValidate::__warden_nested(&::warden::__private::Nested(&self.#member), __warden_report, #name);)
    } else {
        quote!((&::warden::__private::Nested(&self.#member)).__warden_nested(__warden_report, #name);)
    };
    quote! {
        #(#rules)*
        #nested
    }
}

fn option<T: quote::ToTokens>(value: Option<T>) -> TokenStream {
    match value {
        Some(v) => quote!(::core::option::Option::Some(#v)),
        None => quote!(::core::option::Option::None),
    }
}

fn rule(member: &syn::Member, field: &str, rule: &Rule) -> TokenStream {
    let code = &rule.code;
    let message = option(rule.message.as_ref());
    let meta = quote!(&::warden::__private::Rule { field: #field, code: #code, message: #message });
    let span = rule.span;
    // The argument carries the rule's span: a rule that does not fit the
    // field's type is reported at the rule.
    let value = quote_spanned!(span=> &self.#member);
    let report = quote!(__warden_report);
    let r = quote!(::warden::__private::rules);
    match &rule.kind {
        RuleKind::Email { unicode_local_part } => {
            quote_spanned!(span=> #r::email(#value, #unicode_local_part, #report, #meta);)
        }
        RuleKind::Url(schemes) => {
            quote_spanned!(span=> #r::url(#value, &[#(#schemes),*], #report, #meta);)
        }
        RuleKind::NonEmpty => quote_spanned!(span=> #r::non_empty(#value, #report, #meta);),
        RuleKind::Ascii => quote_spanned!(span=> #r::ascii(#value, #report, #meta);),
        RuleKind::Alphanumeric => quote_spanned!(span=> #r::alphanumeric(#value, #report, #meta);),
        RuleKind::NoControlChars => {
            quote_spanned!(span=> #r::no_control_chars(#value, #report, #meta);)
        }
        RuleKind::Len { min, max } => {
            let (min, max) = (
                option(min.map(|n| n as usize)),
                option(max.map(|n| n as usize)),
            );
            quote_spanned!(span=> #r::len(#value, #min, #max, #report, #meta);)
        }
        RuleKind::Range { min, max } => {
            let bound = |n: &Option<super::model::NumberLit>| match n {
                Some(n) => {
                    let tokens = &n.tokens;
                    quote_spanned!(span=> ::core::option::Option::Some(#tokens))
                }
                None => quote_spanned!(span=> ::core::option::Option::None),
            };
            let (min, max) = (bound(min), bound(max));
            quote_spanned!(span=> #r::range(#value, #min, #max, #report, #meta);)
        }
        RuleKind::Regex {
            anchored: pattern, ..
        } => quote_spanned! {span=>
            {
                static __WARDEN_PATTERN: ::std::sync::LazyLock<::core::option::Option<::warden::__private::Regex>> =
                    ::std::sync::LazyLock::new(|| ::warden::__private::Regex::new(#pattern).ok());
                #r::regex(#value, &__WARDEN_PATTERN, #report, #meta);
            }
        },
        RuleKind::Password { min, max, special } => {
            let (min, max) = (*min as usize, *max as usize);
            quote_spanned! {span=>
                #r::password(
                    #value,
                    &::warden::__private::PasswordPolicy { min: #min, max: #max, special: #special },
                    #report,
                    #meta,
                );
            }
        }
        RuleKind::OneOfText(values) => {
            quote_spanned!(span=> #r::one_of_text(#value, &[#(#values),*], #report, #meta);)
        }
        RuleKind::OneOfNumber(values) => {
            let values = values.iter().map(|v| &v.tokens);
            quote_spanned!(span=> #r::one_of_number(#value, &[#(#values),*], #report, #meta);)
        }
        RuleKind::Prefix(lit) => quote_spanned!(span=> #r::prefix(#value, #lit, #report, #meta);),
        RuleKind::Suffix(lit) => quote_spanned!(span=> #r::suffix(#value, #lit, #report, #meta);),
        RuleKind::Contains(lit) => {
            quote_spanned!(span=> #r::contains(#value, #lit, #report, #meta);)
        }
        RuleKind::MustMatch(other) => {
            let name = other.to_string();
            quote_spanned!(span=> #r::must_match(#value, &self.#other, #name, #report, #meta);)
        }
        RuleKind::Custom(path) => quote_spanned! {span=>
            #r::custom(#path(#value), #report, #meta);
        },
    }
}
