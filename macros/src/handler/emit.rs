//! Stage 4: the policy model -> the handler with its hidden guard, the
//! policy type the guard runs, and the policy's entry in the manifest.
//!
//! Whatever the user named in an attribute (a role, a `check` or `with`
//! function, the state) is used through a public trait of the runtime, in
//! code spanned at the user's tokens, so that a mistake is reported there
//! in that trait's words.

use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;

use super::check::extracted_type;
use super::model::{
    Handler, Limit, LimitKey, LimitRate, Mention, Protected, Requirement, SkipMode,
};
use super::parse::HandlerFn;
use crate::attr::source_text;
use crate::shared::limit::push_policy_item;

pub(crate) fn handler(mut func: HandlerFn, handler: &Handler) -> TokenStream {
    let name = func.sig.ident.clone();
    let vis = func.vis.clone();
    let policy = format_ident!("__warden_policy_{}", name);
    let handler_name = name.to_string();
    let line = quote_spanned!(name.span()=> ::core::line!());

    let authenticate = handler.protected.is_some();
    let public = handler.public;
    let authorize = handler.protected.as_ref().map(authorize);
    let check = handler.protected.as_ref().and_then(check);
    let limits = handler
        .limits
        .iter()
        .enumerate()
        .map(|(i, limit)| limit_spec(limit, &handler_name, i));
    let manifest_protected = match &handler.protected {
        Some(protected) => {
            let text = describe_all(&protected.requirements, ", ");
            quote!(::core::option::Option::Some(#text))
        }
        None => quote!(::core::option::Option::None),
    };
    let manifest_requirements = handler
        .protected
        .iter()
        .flat_map(|p| &p.requirements)
        .map(requirement_spec);
    let manifest_check = match handler.protected.as_ref().and_then(|p| p.check.as_ref()) {
        Some(path) => {
            let text = source_text(&quote!(#path));
            quote!(::core::option::Option::Some(#text))
        }
        None => quote!(::core::option::Option::None),
    };

    let validated = wrap_validated(&mut func, &handler.validated);
    let limited = !handler.limits.is_empty();
    // A limited `#[protected]` handler's guard hands `Auth` arguments
    // their claims, and leaves them in the request extensions only when
    // another argument may read them there.
    let handed = limited && authenticate;
    let shares_claims = if handed { shares_claims(&func) } else { None };
    // Whether access is decided (`#[protected]` or `#[public]`): only then
    // may `warden::routing` route the handler.
    let decided = handler.protected.is_some() || handler.public;
    let guard = if handler.protected.is_none() && !limited {
        None
    } else {
        Some(Guard::new(
            &policy,
            &vis,
            &name,
            handler.limits.len(),
            handler.state.as_ref(),
        ))
    };
    let decided_marks = match &guard {
        Some(guard) if decided && guard.local => {
            let ty = &guard.ty;
            quote! {
                impl ::warden::__private::DecidedGuard for #ty {
                    const HANDLER: &'static str =
                        <#policy as ::warden::__private::Policy>::HANDLER;
                }
            }
        }
        _ => TokenStream::new(),
    };
    let decided_policy = if decided {
        quote!(impl ::warden::__private::DecidedPolicy for #policy {})
    } else {
        TokenStream::new()
    };
    let (guard_item, body) = match guard {
        // `#[public]` alone: a zero-sized first extractor that does
        // nothing but say so, for `warden::routing`.
        None if handler.public => {
            func.sig
                .inputs
                .insert(0, syn::parse_quote!(_: ::warden::__private::Open<#policy>));
            (TokenStream::new(), quote!(#func))
        }
        None => (TokenStream::new(), quote!(#func)),
        Some(guard) if limited => (
            guard.item,
            with_response_hook(func, &guard.ty, guard.local, handed),
        ),
        Some(guard) => {
            let ty = &guard.ty;
            func.sig.inputs.insert(0, syn::parse_quote!(_: #ty));
            (guard.item, quote!(#func))
        }
    };

    quote! {
        #[doc(hidden)]
        #[allow(non_camel_case_types)]
        #vis struct #policy;

        impl ::warden::__private::Policy for #policy {
            const HANDLER: &'static str =
                ::core::concat!(::core::module_path!(), "::", #handler_name);
            const AUTHENTICATE: bool = #authenticate;
            const LIMITS: &'static [::warden::__private::LimitSpec] = &[#(#limits),*];

            #authorize
            #check
            #shares_claims
        }

        ::warden::__private::inventory::submit! {
            ::warden::__private::HandlerPolicy {
                handler: <#policy as ::warden::__private::Policy>::HANDLER,
                file: ::core::file!(),
                line: #line,
                protected: #manifest_protected,
                requirements: &[#(#manifest_requirements),*],
                check: #manifest_check,
                public: #public,
                limits: <#policy as ::warden::__private::Policy>::LIMITS,
                validated: &[#(#validated),*],
            }
        }

        #decided_policy

        #guard_item

        #decided_marks

        #body
    }
}

/// What a handler with mistakes still emits besides itself: a use of
/// every path its attributes name, resolved but not called, so that the
/// imports they need do not look unused (one mistake, one error).
pub(crate) fn mentions(handler: &Handler) -> TokenStream {
    if handler.mentioned.is_empty() {
        return TokenStream::new();
    }
    let uses = handler.mentioned.iter().map(|mention| match mention {
        Mention::Value(path) => quote!(let _ = #path;),
        Mention::Type(ty) => quote!(let _ = ::core::marker::PhantomData::<#ty>;),
    });
    quote! {
        const _: fn() = || {
            #(#uses)*
        };
    }
}

/// The hidden first parameter of a guarded handler.
struct Guard {
    /// Its type.
    ty: TokenStream,
    /// With `state = S`, a local extractor for exactly that state, wrapping
    /// the runtime's guard.
    local: bool,
    /// The items that define the local extractor (nothing without a state).
    item: TokenStream,
}

impl Guard {
    fn new(
        policy: &Ident,
        vis: &syn::Visibility,
        name: &Ident,
        limits: usize,
        state: Option<&syn::Type>,
    ) -> Self {
        let runtime = if limits > 0 {
            // Room for exactly the handler's limits, inline.
            let limits = proc_macro2::Literal::usize_unsuffixed(limits);
            quote!(::warden::__private::LimitedGuard<#policy, #limits>)
        } else {
            quote!(::warden::__private::Guard<#policy>)
        };
        let Some(state) = state else {
            return Self {
                ty: runtime,
                local: false,
                item: TokenStream::new(),
            };
        };
        // The runtime's guard works for any state that provides a
        // `Warden`; this one only for the state the user named. So the
        // handler is a handler of that state, whatever it holds, and a
        // state without a `Warden` is one error, at `state = ..`, in the
        // words of `HasWarden`, instead of a mismatch where it is routed.
        let local = format_ident!("__warden_guard_{}", name);
        let warden = quote_spanned! {state.span()=>
            <#state as ::warden::__private::HasWarden<_>>::warden(__warden_state)
        };
        let item = quote! {
            #[doc(hidden)]
            #[allow(non_camel_case_types)]
            #vis struct #local(#runtime);

            impl ::warden::__private::FromRequestParts<#state> for #local {
                type Rejection = <#runtime as ::warden::__private::FromRequestParts<
                    ::warden::__private::Warden,
                >>::Rejection;

                async fn from_request_parts(
                    __warden_parts: &mut ::warden::__private::Parts,
                    __warden_state: &#state,
                ) -> ::core::result::Result<Self, Self::Rejection> {
                    let __warden: ::warden::__private::Warden = #warden;
                    <#runtime as ::warden::__private::FromRequestParts<
                        ::warden::__private::Warden,
                    >>::from_request_parts(__warden_parts, &__warden)
                    .await
                    .map(Self)
                }
            }
        };
        Self {
            ty: quote!(#local),
            local: true,
            item,
        }
    }
}

/// Wraps each validated parameter: `Json(body): Json<T>` becomes
/// `Valid(Json(body)): Valid<Json<T>>`, so the user's pattern still binds.
/// Returns each parameter's manifest entry: its type as written and its
/// rules, read through `Validate` at the type's span, so that a type that
/// does not implement it is reported there, in the words of `Validate`.
fn wrap_validated(func: &mut HandlerFn, positions: &[usize]) -> Vec<TokenStream> {
    let mut names = Vec::new();
    for &i in positions {
        let Some(syn::FnArg::Typed(typed)) = func.sig.inputs.iter_mut().nth(i) else {
            continue;
        };
        // The manifest reads the type's rules through `Validate`: a type
        // that does not implement it is reported there, at the type, in
        // the words of `Validate`.
        let rules = match extracted_type(&typed.ty) {
            Some(inner) => quote_spanned! {inner.span()=>
                <#inner as ::warden::__private::Validate>::RULES
            },
            None => quote!(::core::option::Option::None),
        };
        let ty = &typed.ty;
        let written = source_text(&quote!(#ty));
        let extractor = match &*typed.ty {
            syn::Type::Path(path) => path
                .path
                .segments
                .last()
                .map(|s| s.ident.to_string())
                .unwrap_or_default(),
            _ => String::new(),
        };
        names.push(quote! {
            ::warden::__private::ValidatedParam {
                written: #written,
                extractor: #extractor,
                rules: #rules,
            }
        });
        let pat = &typed.pat;
        *typed.pat = syn::parse_quote!(::warden::__private::Valid(#pat));
        *typed.ty = syn::parse_quote!(::warden::__private::Valid<#ty>);
    }
    names
}

/// `Policy::shares_claims` for a handler whose guard hands over its `Auth`
/// arguments: whether any argument may read the claims from the request
/// extensions, asked of each argument's type through `ClaimsProbe`. `None`
/// (the default, they may) when a type cannot be named outside the
/// function: a generic handler, or `impl Trait`, `Self` or `_` in a type.
fn shares_claims(func: &HandlerFn) -> Option<TokenStream> {
    if !func.sig.generics.params.is_empty() {
        return None;
    }
    let mut probes = Vec::new();
    for input in &func.sig.inputs {
        let syn::FnArg::Typed(typed) = input else {
            return None;
        };
        let ty = &typed.ty;
        if !nameable(quote!(#ty)) {
            return None;
        }
        probes.push(quote! {
            (&::warden::__private::ClaimsProbe::<#ty>(::core::marker::PhantomData))
                .__warden_reads_claims()
        });
    }
    Some(quote! {
        fn shares_claims() -> bool {
            #[allow(unused_imports)]
            use ::warden::__private::{ViaClaims as _, ViaNoClaims as _};
            false #(|| #probes)*
        }
    })
}

/// Whether a type's tokens can be named at the module's level: no
/// `impl`, `Self`, `_` or lifetime.
fn nameable(tokens: TokenStream) -> bool {
    tokens.into_iter().all(|token| match token {
        proc_macro2::TokenTree::Ident(ident) => ident != "impl" && ident != "Self" && ident != "_",
        // `_` is an identifier; a lifetime starts with a `'`.
        proc_macro2::TokenTree::Punct(punct) => punct.as_char() != '\'',
        proc_macro2::TokenTree::Group(group) => nameable(group.stream()),
        proc_macro2::TokenTree::Literal(_) => true,
    })
}

/// Wraps the handler so that the guard sees its response: the user's
/// function becomes an inner function with its own signature (patterns,
/// `?`, `impl IntoResponse` all keep working), and the outer one takes the
/// guard first. `local` says the guard is the local extractor of a named
/// state, which holds the runtime's guard; `handed`, that the guard hands
/// `Auth` arguments their claims.
fn with_response_hook(
    func: HandlerFn,
    guard: &TokenStream,
    local: bool,
    handed: bool,
) -> TokenStream {
    let HandlerFn {
        attrs,
        vis,
        sig,
        body,
    } = func;
    let mut inner_sig = sig.clone();
    inner_sig.ident = format_ident!("__warden_handler");
    let mut outer_sig = sig;
    outer_sig.output = syn::parse_quote!(-> ::warden::__private::Response);
    let mut arguments = Vec::new();
    for (i, input) in outer_sig.inputs.iter_mut().enumerate() {
        if let syn::FnArg::Typed(typed) = input {
            let ident = format_ident!("__warden_arg{}", i);
            *typed.pat = syn::parse_quote!(#ident);
            let ty = &typed.ty;
            *typed.ty = syn::parse_quote!(::warden::__private::Extracted<#ty, #handed>);
            typed.attrs.clear();
            arguments.push(ident);
        }
    }
    let guard_param = if local {
        syn::parse_quote!(#guard(__warden_guard): #guard)
    } else {
        syn::parse_quote!(__warden_guard: #guard)
    };
    outer_sig.inputs.insert(0, guard_param);
    // The response hook, as the function's return: only the rare refund
    // that waits is awaited, and the `Result` is gone by then, so the
    // future keeps no room for a response.
    let finish = |response: TokenStream| {
        quote! {
            let __warden_later = match __warden_guard.finish(#response) {
                ::core::result::Result::Ok(__warden_done) => return __warden_done,
                ::core::result::Result::Err(__warden_later) => __warden_later,
            };
            return __warden_later.await;
        }
    };
    // An extractor's rejection is a response like any other: it goes
    // through the hook too.
    let finish_rejection = finish(quote!(*rejection));
    let unwrap = arguments.iter().map(|ident| {
        quote! {
            let #ident = match #ident.into_argument(&__warden_guard) {
                ::core::result::Result::Ok(value) => value,
                ::core::result::Result::Err(rejection) => {
                    #finish_rejection
                }
            };
        }
    });
    let finish_response = finish(quote!(__warden_response));
    quote! {
        #(#attrs)*
        #vis #outer_sig {
            #[allow(clippy::too_many_arguments)]
            #inner_sig #body
            #(#unwrap)*
            let __warden_response = ::warden::__private::IntoResponse::into_response(
                __warden_handler(#(#arguments),*).await,
            );
            #finish_response
        }
    }
}

fn authorize(protected: &Protected) -> Option<TokenStream> {
    if protected.requirements.is_empty() {
        return None;
    }
    let expression = all(&protected.requirements);
    Some(quote! {
        #[inline]
        fn authorize(__warden_claims: &::warden::__private::Claims) -> bool {
            #expression
        }
    })
}

/// The object-level check, called through `CheckFn` so that a function of
/// the wrong shape is reported at its path in `check = ..`.
fn check(protected: &Protected) -> Option<TokenStream> {
    let path = protected.check.as_ref()?;
    let call = quote_spanned! {path.span()=>
        ::warden::__private::CheckFn::call(#path, __warden_claims, __warden_parts)
    };
    Some(quote! {
        const CHECKS: bool = true;

        fn check<'a>(
            __warden_claims: &'a ::warden::__private::Claims,
            __warden_parts: &'a mut ::warden::__private::Parts,
        ) -> impl ::core::future::Future<Output = ::warden::__private::Decision>
               + ::core::marker::Send + 'a {
            #call
        }
    })
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
        // `Claims::has_role` is bound by `Role`: a value of another type is
        // reported at the path, in the words of `Role`.
        Requirement::Role(path) => quote_spanned! {path.span()=>
            __warden_claims.has_role(&#path)
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

/// The requirement in the manifest's form, for tools (the OpenAPI security
/// requirements). A role's name is read through `Role::as_str`.
fn requirement_spec(requirement: &Requirement) -> TokenStream {
    let r = quote!(::warden::__private::Requirement);
    match requirement {
        // Through autoref: a value that is not a role is reported once, by
        // the role check, not again here.
        Requirement::Role(path) => quote! {
            #r::Role(|| {
                #[allow(unused_imports)]
                use ::warden::__private::{ViaNoRole as _, ViaRole as _};
                (&::warden::__private::RoleName(&#path)).__warden_role_name()
            })
        },
        Requirement::Scope(lit) => quote!(#r::Scope(#lit)),
        Requirement::Any(inner) => {
            let inner = inner.iter().map(requirement_spec);
            quote!(#r::Any(&[#(#inner),*]))
        }
        Requirement::All(inner) => {
            let inner = inner.iter().map(requirement_spec);
            quote!(#r::All(&[#(#inner),*]))
        }
        Requirement::Not(inner) => {
            let inner = requirement_spec(inner);
            quote!(#r::Not(&#inner))
        }
    }
}

/// The requirement as a reader would write it, for the manifest.
fn describe(requirement: &Requirement) -> String {
    match requirement {
        Requirement::Role(path) => {
            format!("role = {}", source_text(&quote!(#path)))
        }
        Requirement::Scope(lit) => format!("scope = {:?}", lit.value()),
        Requirement::Any(inner) => format!("any({})", describe_all(inner, ", ")),
        Requirement::All(inner) => format!("all({})", describe_all(inner, ", ")),
        Requirement::Not(inner) => format!("not({})", describe(inner)),
    }
}

fn describe_all(requirements: &[Requirement], separator: &str) -> String {
    requirements
        .iter()
        .map(describe)
        .collect::<Vec<_>>()
        .join(separator)
}

fn limit_spec(limit: &Limit, handler_name: &str, index: usize) -> TokenStream {
    let name = &limit.name;
    let mut policy_field = String::new();
    if let LimitRate::Inline { count, window_ns } = limit.rate {
        push_policy_item(&mut policy_field, name, count, window_ns);
    }
    // A constant, so that the value's bytes are checked as the program
    // compiles; a function, because a constant `LimitSpec` cannot hold a
    // header value (its bytes are shared through an atomic).
    let policy_header = if policy_field.is_empty() {
        quote!(::core::option::Option::None)
    } else {
        quote! {
            ::core::option::Option::Some({
                fn __warden_policy_header() -> ::warden::__private::HeaderValue {
                    const VALUE: ::warden::__private::HeaderValue =
                        ::warden::__private::HeaderValue::from_static(#policy_field);
                    VALUE
                }
                __warden_policy_header
            })
        }
    };
    let (id, rate) = match &limit.rate {
        LimitRate::Inline { count, window_ns } => (
            quote!(::core::concat!(::core::module_path!(), "::", #handler_name, "#", #index)),
            quote!(::warden::__private::RateSpec::Inline(
                ::warden::__private::Rate::from_checked(#count, #window_ns)
            )),
        ),
        LimitRate::Named(policy) => (
            quote!(#policy),
            quote!(::warden::__private::RateSpec::Named(#policy)),
        ),
    };
    let key = match &limit.key {
        LimitKey::Ip => quote!(::warden::__private::KeySpec::Ip),
        LimitKey::User(_) => quote!(::warden::__private::KeySpec::User),
        LimitKey::Header(header) => quote!(::warden::__private::KeySpec::Header(#header)),
        // Called through `KeyFn`, so that a function of the wrong shape is
        // reported at its path in `with = ..`.
        LimitKey::Custom(path) => {
            let call = quote_spanned! {path.span()=>
                ::warden::__private::KeyFn::key(&#path, __warden_parts)
            };
            quote! {
                ::warden::__private::KeySpec::Custom({
                    fn __warden_key(
                        __warden_parts: &::warden::__private::Parts,
                    ) -> ::core::option::Option<::std::string::String> {
                        #call
                    }
                    __warden_key
                })
            }
        }
    };
    let skip = match limit.skip {
        SkipMode::Nothing => quote!(::warden::__private::Skip::Nothing),
        SkipMode::Successful => quote!(::warden::__private::Skip::Successful),
        SkipMode::Failed => quote!(::warden::__private::Skip::Failed),
    };
    quote! {
        ::warden::__private::LimitSpec {
            id: #id,
            name: #name,
            policy_field: #policy_field,
            policy_header: #policy_header,
            rate: #rate,
            key: #key,
            skip: #skip,
        }
    }
}
