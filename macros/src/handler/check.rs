//! Stage 3: the attributes as written -> the policy model, enforcing every
//! rule that can be checked before the program runs. `#[rate_limit]`'s
//! own options are judged in [`super::limit`].

use proc_macro2::TokenStream;

use super::limit;
use super::model::{Handler, LimitKey, Mention, Protected, Requirement};
use super::parse::{HandlerFn, RawAttr};
use crate::attr::{self, Arg, Opt, Value};
use crate::ctxt::Errors;
use crate::suggest;
use crate::symbol::{
    ALL, ANY, CHECK, NESTED_OPTIONS, NOT, PROTECTED, PROTECTED_OPTIONS, PUBLIC, ROLE, SCOPE, STATE,
    VALIDATE, VALIDATED_EXTRACTORS,
};

/// The policy of every warden attribute of `func`.
pub(crate) fn handler(
    attribute: &str,
    attrs: Vec<RawAttr>,
    func: &HandlerFn,
    errors: &mut Errors,
) -> Handler {
    let mut handler = Handler {
        protected: None,
        public: false,
        limits: Vec::new(),
        validated: Vec::new(),
        state: None,
        mentioned: Vec::new(),
    };
    let mut named = Named::default();
    let mut validate_seen = false;
    let mut public_span = None;
    let mut protected_seen = false;
    for attr in attrs {
        match attr.kind {
            PUBLIC => {
                if !attr.tokens.is_empty() {
                    errors.spanned(
                        &attr.tokens,
                        "#[public] takes no arguments: it only marks the handler as deliberately open",
                    );
                }
                if public_span.is_some() {
                    attr.span.error(errors, "duplicate #[public]");
                    continue;
                }
                handler.public = true;
                public_span = Some(attr.span);
            }
            VALIDATE => {
                if !attr.tokens.is_empty() {
                    errors.spanned(
                        &attr.tokens,
                        "#[validate] takes no arguments: the rules live on the types, with #[derive(Validate)]",
                    );
                }
                if validate_seen {
                    attr.span.error(errors, "duplicate #[validate]");
                    continue;
                }
                validate_seen = true;
                handler.validated = validated_parameters(&func.sig);
                if handler.validated.is_empty() {
                    attr.span.error(
                        errors,
                        "#[validate] has nothing to validate: it checks `Json<T>`, `Query<T>`, `Form<T>` and `Path<T>` parameters",
                    );
                }
            }
            PROTECTED => {
                protected_seen = true;
                let protected = protected(attr.args, &mut named, errors);
                if handler.protected.is_some() {
                    attr.span.error(
                        errors,
                        "duplicate #[protected]; write every requirement in one attribute (they all apply, as in `all(..)`)",
                    );
                } else {
                    handler.protected = Some(protected);
                }
            }
            // RATE_LIMIT
            _ => {
                let Some(limit) =
                    limit::rate_limit(attr.args, attr.span.start(), &mut named, errors)
                else {
                    continue;
                };
                if handler.limits.iter().any(|l| l.name == limit.name) {
                    attr.span.error(
                        errors,
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
    (handler.state, handler.mentioned) = named.finish();
    if let (Some(public), true) = (&public_span, protected_seen) {
        public.error(
            errors,
            "a handler is either #[public] or #[protected], not both: remove one",
        );
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
    handler
}

/// What the attributes of one handler name, across all of them: the
/// router state (`state = AppState`, on any one attribute), and every path
/// the user wrote, which the fallback of a handler with mistakes still uses
/// (so that their imports do not look unused).
#[derive(Default)]
pub(crate) struct Named {
    state: Option<syn::Type>,
    mentioned: Vec<Mention>,
}

impl Named {
    /// The state and the paths named.
    pub(crate) fn finish(self) -> (Option<syn::Type>, Vec<Mention>) {
        (self.state, self.mentioned)
    }

    /// Records a path to a value: a role, a function.
    pub(crate) fn value(&mut self, path: &syn::ExprPath) {
        self.mentioned.push(Mention::Value(path.clone()));
    }

    /// Reads `state = Type`.
    pub(crate) fn state(&mut self, option: &Opt, errors: &mut Errors) {
        let Value::Assign(_, tokens) = &option.value else {
            errors.spanned(&option.key, "expected `state = YourStateType`");
            return;
        };
        let Ok(ty) = syn::parse2::<syn::Type>(tokens.clone()) else {
            errors.spanned(
                tokens,
                "expected the type of the router state, like `state = AppState`",
            );
            return;
        };
        self.mentioned.push(Mention::Type(ty.clone()));
        if self.state.is_some() {
            errors.spanned(
                &option.key,
                "duplicate `state`; name the router state once, on one of the handler's attributes",
            );
        } else {
            self.state = Some(ty);
        }
    }
}

/// The positions of the parameters `#[validate]` wraps: `Json<T>`,
/// `Query<T>`, `Form<T>` and `Path<T>`, by the last segment of their type.
fn validated_parameters(sig: &syn::Signature) -> Vec<usize> {
    sig.inputs
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

/// What `#[protected]` expects where it found something else.
const OPTION_HINT: &str = "expected an option: `role = ...`, `scope = \"...\"`, `any(..)`, `all(..)`, `not(..)` or `check = ...`";

/// The policy of `#[protected(..)]`'s arguments.
pub(crate) fn protected(args: Vec<Arg>, named: &mut Named, errors: &mut Errors) -> Protected {
    let mut requirements = Vec::new();
    let mut check = None;
    for option in options(args, errors) {
        if option.key == CHECK {
            if let Some(path) = check_fn(&option, errors) {
                named.value(&path);
                if check.is_some() {
                    errors.spanned(
                        &option.key,
                        "duplicate `check`; combine the checks in one function",
                    );
                } else {
                    check = Some(path);
                }
            }
            continue;
        }
        if option.key == STATE {
            named.state(&option, errors);
            continue;
        }
        if let Some(requirement) = requirement(option, PROTECTED_OPTIONS, named, errors) {
            requirements.push(requirement);
        }
    }
    Protected {
        requirements,
        check,
    }
}

/// The options among `args`; a positional argument is reported.
fn options(args: Vec<Arg>, errors: &mut Errors) -> Vec<Opt> {
    args.into_iter()
        .filter_map(|arg| match arg {
            Arg::Option(option) => Some(option),
            Arg::Positional(tokens) => {
                attr::not_an_option(&tokens, OPTION_HINT, errors);
                None
            }
        })
        .collect()
}

fn requirement(
    option: Opt,
    allowed: &[&str],
    named: &mut Named,
    errors: &mut Errors,
) -> Option<Requirement> {
    let Opt { key, value } = option;
    let name = key.to_string();
    match (name.as_str(), value) {
        (ROLE, Value::Assign(_, tokens)) => {
            let path = role(tokens, errors)?;
            named.value(&path);
            Some(Requirement::Role(path))
        }
        (SCOPE, Value::Assign(_, tokens)) => scope(tokens, errors).map(Requirement::Scope),
        (ANY | ALL, Value::List(group)) => {
            let before = errors.len();
            let inner = nested(group.stream(), named, errors);
            if inner.is_empty() {
                if errors.len() == before {
                    errors.at(
                        group.span(),
                        format!("`{name}()` needs at least one requirement, such as `{name}(role = Role::Admin, scope = \"...\")`"),
                    );
                }
                return None;
            }
            Some(if name == ANY {
                Requirement::Any(inner)
            } else {
                Requirement::All(inner)
            })
        }
        (NOT, Value::List(group)) => {
            let before = errors.len();
            let mut inner = nested(group.stream(), named, errors);
            if inner.len() != 1 {
                if errors.len() == before {
                    errors.at(
                        group.span(),
                        "`not()` takes exactly one requirement; use `not(any(..))` to exclude several",
                    );
                }
                return None;
            }
            inner.pop().map(|r| Requirement::Not(Box::new(r)))
        }
        (ROLE, _) => {
            errors.spanned(&key, "expected `role = Role::Variant`");
            None
        }
        (SCOPE, _) => {
            errors.spanned(&key, "expected `scope = \"name\"`");
            None
        }
        (ANY | ALL | NOT, _) => {
            errors.spanned(
                &key,
                format!("expected `{name}(..)` with requirements inside"),
            );
            None
        }
        (CHECK | STATE, _) => {
            errors.spanned(
                &key,
                format!("`{name}` is allowed only at the top level of #[protected], not inside `any`, `all` or `not`"),
            );
            None
        }
        _ => {
            errors.spanned(&key, suggest::unknown("option", &name, allowed));
            None
        }
    }
}

fn nested(tokens: TokenStream, named: &mut Named, errors: &mut Errors) -> Vec<Requirement> {
    let args = attr::parse(tokens, "an option", errors);
    options(args, errors)
        .into_iter()
        .filter_map(|option| requirement(option, NESTED_OPTIONS, named, errors))
        .collect()
}

fn role(tokens: TokenStream, errors: &mut Errors) -> Option<syn::ExprPath> {
    match syn::parse2::<syn::Expr>(tokens.clone()) {
        Ok(syn::Expr::Path(path)) => Some(path),
        Ok(syn::Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Str(lit),
            ..
        })) => {
            errors.spanned(
                lit,
                "`role` takes a value of your role type, like `role = Role::Admin`, not a string: a misspelt string would not be caught; for scopes write `scope = \"...\"`",
            );
            None
        }
        _ => {
            errors.spanned(tokens, "expected a path to a role, like `Role::Admin`");
            None
        }
    }
}

fn scope(tokens: TokenStream, errors: &mut Errors) -> Option<syn::LitStr> {
    let Ok(lit) = syn::parse2::<syn::LitStr>(tokens.clone()) else {
        errors.spanned(
            tokens,
            "expected a string literal, like `scope = \"reports:read\"`",
        );
        return None;
    };
    let value = lit.value();
    // RFC 6749 section 3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
    let valid = |c: char| matches!(c, '\x21' | '\x23'..='\x5b' | '\x5d'..='\x7e');
    if value.is_empty() {
        errors.spanned(&lit, "a scope cannot be empty");
        return None;
    }
    if let Some(bad) = value.chars().find(|c| !valid(*c)) {
        errors.spanned(
            &lit,
            format!(
                "a scope is one token of printable ASCII without spaces, `\"` or `\\` (RFC 6749 section 3.3); found {bad:?}"
            ),
        );
        return None;
    }
    Some(lit)
}

fn check_fn(option: &Opt, errors: &mut Errors) -> Option<syn::ExprPath> {
    let Value::Assign(_, tokens) = &option.value else {
        errors.spanned(&option.key, "expected `check = path::to::async_fn`");
        return None;
    };
    match syn::parse2::<syn::Expr>(tokens.clone()) {
        Ok(syn::Expr::Path(path)) => Some(path),
        _ => {
            errors.spanned(
                tokens,
                "`check` takes the path of an `async fn(&Claims, &mut Parts) -> bool` (or `-> Decision`)",
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use quote::quote;

    use super::*;

    fn check(tokens: TokenStream) -> (Protected, Option<syn::Type>, Vec<String>) {
        let mut errors = Errors::new();
        let args = attr::parse(tokens, "an option", &mut errors);
        let mut named = Named::default();
        let model = protected(args, &mut named, &mut errors);
        (model, named.finish().0, errors.messages())
    }

    #[test]
    fn a_full_policy_is_read() {
        let (model, state, errors) = check(quote!(
            any(
                role = Role::Admin,
                all(scope = "reports:read", not(role = Role::Guest))
            ),
            check = owns_report,
            state = AppState,
        ));
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(model.requirements.len(), 1);
        assert!(matches!(&model.requirements[0], Requirement::Any(inner) if inner.len() == 2));
        assert!(model.check.is_some());
        assert!(state.is_some());
    }

    #[test]
    fn every_mistake_is_reported_at_once() {
        let (_, _, errors) = check(quote!(
            rol = Role::Admin,
            any(),
            not(role = A::B, role = A::C),
            role = "admin",
            scope = "two words",
            scope = "",
            any(check = f),
            check = f,
            check = g,
            state = A,
            state = B,
            any(state = A),
            state = 5
        ));
        assert_eq!(errors.len(), 11, "{errors:#?}");
        assert!(errors[0].contains("did you mean `role`"));
        assert!(errors[1].contains("`any()` needs at least one"));
        assert!(errors[2].contains("exactly one"));
        assert!(errors[3].contains("not a string"));
        assert!(errors[4].contains("RFC 6749"));
        assert!(errors[5].contains("cannot be empty"));
        assert!(errors[6].contains("`check` is allowed only at the top level"));
        assert!(errors[7].contains("duplicate `check`"));
        assert!(errors[8].contains("duplicate `state`"));
        assert!(errors[9].contains("`state` is allowed only at the top level"));
        assert!(errors[10].contains("the type of the router state"));
    }

    #[test]
    fn recovers_at_every_comma() {
        let mut errors = Errors::new();
        let args = attr::parse(
            quote!("admin", role = , ,scope = "x", any(a) b, role Role::X),
            "an option",
            &mut errors,
        );
        let keys: Vec<String> = options(args, &mut errors)
            .iter()
            .map(|o| o.key.to_string())
            .collect();
        assert_eq!(keys, ["scope"]);
        assert_eq!(errors.len(), 5, "{:?}", errors.messages());
    }

    #[test]
    fn flags_without_values_are_refused() {
        let (_, _, errors) = check(quote!(role, scope, any, check, state));
        assert_eq!(errors.len(), 5, "{errors:?}");
    }

    #[test]
    fn positional_arguments_say_what_was_expected() {
        let (_, _, errors) = check(quote!("admin", role Role::Admin));
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors[0].starts_with("expected an option: `role = ...`"));
        assert_eq!(errors[1], "expected `=` or `(..)` after `role`");
    }

    #[test]
    fn every_path_named_is_recorded() {
        let mut errors = Errors::new();
        let args = attr::parse(
            quote!(
                any(role = R::A, not(role = R::B)),
                check = f,
                state = S,
                role = "x"
            ),
            "an option",
            &mut errors,
        );
        let mut named = Named::default();
        protected(args, &mut named, &mut errors);
        let (_, mentioned) = named.finish();
        let printed: Vec<String> = mentioned
            .iter()
            .map(|m| match m {
                Mention::Value(path) => quote!(#path).to_string(),
                Mention::Type(ty) => format!("type {}", quote!(#ty)),
            })
            .collect();
        assert_eq!(printed, ["R :: A", "R :: B", "f", "type S"]);
        assert_eq!(errors.len(), 1);
    }

    #[test]
    fn plain_protected_has_no_requirement() {
        let (model, state, errors) = check(quote!());
        assert!(errors.is_empty() && model.requirements.is_empty() && model.check.is_none());
        assert!(state.is_none());
    }
}
