//! Stage 3: raw options -> the policy model, enforcing every rule that can
//! be checked before the program runs.

use proc_macro2::TokenStream;

use super::model::{Protected, Requirement};
use super::parse::{self, RawOption, RawValue};
use crate::ctxt::Errors;
use crate::suggest;
use crate::symbol::{ALL, ANY, CHECK, NESTED_OPTIONS, NOT, PROTECTED_OPTIONS, ROLE, SCOPE};

/// The policy of `#[protected(..)]`'s options.
pub(crate) fn protected(options: Vec<RawOption>, errors: &mut Errors) -> Protected {
    let mut requirements = Vec::new();
    let mut check = None;
    for option in options {
        if option.key == CHECK {
            if let Some(path) = check_fn(&option, errors) {
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
        if let Some(requirement) = requirement(option, PROTECTED_OPTIONS, errors) {
            requirements.push(requirement);
        }
    }
    Protected {
        requirements,
        check,
    }
}

fn requirement(option: RawOption, allowed: &[&str], errors: &mut Errors) -> Option<Requirement> {
    let RawOption { key, value } = option;
    let name = key.to_string();
    match (name.as_str(), value) {
        (ROLE, RawValue::Assign(tokens)) => role(tokens, errors).map(Requirement::Role),
        (SCOPE, RawValue::Assign(tokens)) => scope(tokens, errors).map(Requirement::Scope),
        (ANY | ALL, RawValue::List(tokens, span)) => {
            let before = errors.len();
            let inner = nested(tokens, errors);
            if inner.is_empty() {
                if errors.len() == before {
                    errors.at(
                        span,
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
        (NOT, RawValue::List(tokens, span)) => {
            let before = errors.len();
            let mut inner = nested(tokens, errors);
            if inner.len() != 1 {
                if errors.len() == before {
                    errors.at(
                        span,
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
        (CHECK, _) => {
            errors.spanned(
                &key,
                "`check` is allowed only at the top level of #[protected], not inside `any`, `all` or `not`",
            );
            None
        }
        _ => {
            errors.spanned(&key, suggest::unknown("option", &name, allowed));
            None
        }
    }
}

fn nested(tokens: TokenStream, errors: &mut Errors) -> Vec<Requirement> {
    parse::options(tokens, errors)
        .into_iter()
        .filter_map(|option| requirement(option, NESTED_OPTIONS, errors))
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

fn check_fn(option: &RawOption, errors: &mut Errors) -> Option<syn::ExprPath> {
    let RawValue::Assign(tokens) = &option.value else {
        errors.spanned(&option.key, "expected `check = path::to::async_fn`");
        return None;
    };
    match syn::parse2::<syn::Expr>(tokens.clone()) {
        Ok(syn::Expr::Path(path)) => Some(path),
        _ => {
            errors.spanned(
                tokens,
                "`check` takes the path of an `async fn(&Claims, &mut Parts) -> bool` (or `-> Access`)",
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use quote::quote;

    use super::*;

    fn check(tokens: TokenStream) -> (Protected, Vec<String>) {
        let mut errors = Errors::new();
        let options = parse::options(tokens, &mut errors);
        let model = protected(options, &mut errors);
        (model, errors.messages())
    }

    #[test]
    fn a_full_policy_is_read() {
        let (model, errors) = check(quote!(
            any(
                role = Role::Admin,
                all(scope = "reports:read", not(role = Role::Guest))
            ),
            check = owns_report
        ));
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(model.requirements.len(), 1);
        assert!(matches!(&model.requirements[0], Requirement::Any(inner) if inner.len() == 2));
        assert!(model.check.is_some());
    }

    #[test]
    fn every_mistake_is_reported_at_once() {
        let (_, errors) = check(quote!(
            rol = Role::Admin,
            any(),
            not(role = A::B, role = A::C),
            role = "admin",
            scope = "two words",
            scope = "",
            any(check = f),
            check = f,
            check = g
        ));
        assert_eq!(errors.len(), 8, "{errors:#?}");
        assert!(errors[0].contains("did you mean `role`"));
        assert!(errors[1].contains("`any()` needs at least one"));
        assert!(errors[2].contains("exactly one"));
        assert!(errors[3].contains("not a string"));
        assert!(errors[4].contains("RFC 6749"));
        assert!(errors[5].contains("cannot be empty"));
        assert!(errors[6].contains("only at the top level"));
        assert!(errors[7].contains("duplicate `check`"));
    }

    #[test]
    fn flags_without_values_are_refused() {
        let (_, errors) = check(quote!(role, scope, any, check));
        assert_eq!(errors.len(), 4, "{errors:?}");
    }

    #[test]
    fn plain_protected_has_no_requirement() {
        let (model, errors) = check(quote!());
        assert!(errors.is_empty() && model.requirements.is_empty() && model.check.is_none());
    }
}
