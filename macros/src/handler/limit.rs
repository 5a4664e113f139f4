//! Stage 3 for `#[rate_limit]`: its arguments as written -> a checked
//! limit. Rates and windows are read here, at compile time, with the
//! grammar and checks the runtime uses.

use proc_macro2::{Span, TokenStream, TokenTree};

use super::check::Named;
use super::model::{Limit, LimitKey, LimitRate, SkipMode};
use crate::attr::{self, Arg, Opt, Value};
use crate::ctxt::Errors;
use crate::shared::limit::{NAME_RULE, RateFault, check_count, check_rate, valid_name};
use crate::shared::window::parse_window;
use crate::suggest;
use crate::symbol::{
    HEADER, IP, KEY, KEY_KINDS, NAME, RATE_LIMIT_OPTIONS, SKIP_FAILED, SKIP_SUCCESSFUL, STATE,
    USER, WITH,
};

/// What `#[rate_limit]` expects where it found something else.
const ARGUMENT_HINT: &str = "expected a rate (`5, \"15m\"`), a policy name (`\"login\"`) or an option: `key = ..`, `with = ..`, `skip_successful`, `skip_failed`, `name = \"..\"`, `state = ..`";

/// The limit of one `#[rate_limit(..)]`, or None when it has errors (all
/// reported). `attr` is where an error about the whole attribute points.
pub(crate) fn rate_limit(
    args: Vec<Arg>,
    attr: Span,
    named: &mut Named,
    errors: &mut Errors,
) -> Option<Limit> {
    let before = errors.len();
    let mut positional = Vec::new();
    let mut options = Vec::new();
    for arg in args {
        match arg {
            Arg::Positional(tokens) => match single_literal(&tokens) {
                Some(lit) if options.is_empty() => positional.push(lit),
                Some(lit) => errors.spanned(
                    lit,
                    "the rate comes first: `#[rate_limit(5, \"15m\", key = user)]`",
                ),
                None => attr::not_an_option(&tokens, ARGUMENT_HINT, errors),
            },
            Arg::Option(option) => options.push(option),
        }
    }

    let rate = rate(&positional, attr, errors);
    let mut key = None;
    let mut skip: Option<(SkipMode, &proc_macro2::Ident)> = None;
    let mut name: Option<syn::LitStr> = None;
    let mut seen: Vec<String> = Vec::new();
    for option in &options {
        let text = option.key.to_string();
        if seen.contains(&text) {
            errors.spanned(&option.key, format!("duplicate option `{text}`"));
            continue;
        }
        seen.push(text.clone());
        match text.as_str() {
            KEY => {
                if let Some(k) = key_option(option, errors) {
                    set_key(&mut key, k, option, errors);
                }
            }
            WITH => {
                if let Some(path) = path_value(
                    option,
                    "`with` takes the path of a `fn(&Parts) -> Option<String>`",
                    errors,
                ) {
                    named.value(&path);
                    set_key(&mut key, LimitKey::Custom(path), option, errors);
                }
            }
            STATE => named.state(option, errors),
            SKIP_SUCCESSFUL | SKIP_FAILED => {
                if !matches!(option.value, Value::Flag) {
                    errors.spanned(&option.key, format!("`{text}` takes no value"));
                    continue;
                }
                let mode = if text == SKIP_SUCCESSFUL {
                    SkipMode::Successful
                } else {
                    SkipMode::Failed
                };
                if let Some((_, first)) = &skip {
                    errors.spanned(
                        &option.key,
                        format!(
                            "`{text}` contradicts `{first}`: with both, no response would count; use two limits instead"
                        ),
                    );
                } else {
                    skip = Some((mode, &option.key));
                }
            }
            NAME => {
                let Value::Assign(_, tokens) = &option.value else {
                    errors.spanned(&option.key, "expected `name = \"...\"`");
                    continue;
                };
                match syn::parse2::<syn::LitStr>(tokens.clone()) {
                    Ok(lit) if valid_name(&lit.value()) => name = Some(lit),
                    Ok(lit) => errors.spanned(lit, NAME_RULE),
                    Err(_) => errors.spanned(tokens, "expected `name = \"...\"`"),
                }
            }
            _ => errors.spanned(
                &option.key,
                suggest::unknown("option", &text, RATE_LIMIT_OPTIONS),
            ),
        }
    }

    let rate = rate?;
    let name = match (&rate, name) {
        (LimitRate::Named(_), Some(lit)) => {
            errors.spanned(
                lit,
                "a named policy is shown under its own name; drop `name = ..`",
            );
            return None;
        }
        (_, Some(lit)) => lit.value(),
        (LimitRate::Named(policy), None) => policy.clone(),
        (LimitRate::Inline { .. }, None) => default_name(&positional),
    };
    if errors.len() != before {
        return None;
    }
    Some(Limit {
        rate,
        name,
        key: key.unwrap_or(LimitKey::Ip),
        skip: skip.map_or(SkipMode::Nothing, |(mode, _)| mode),
    })
}

/// The literal a positional argument is, if it is one.
fn single_literal(tokens: &TokenStream) -> Option<proc_macro2::Literal> {
    let mut trees = tokens.clone().into_iter();
    match (trees.next(), trees.next()) {
        (Some(TokenTree::Literal(lit)), None) => Some(lit),
        _ => None,
    }
}

fn set_key(slot: &mut Option<LimitKey>, key: LimitKey, option: &Opt, errors: &mut Errors) {
    if slot.is_some() {
        errors.spanned(
            &option.key,
            "a limit has one key: use either `key = ..` or `with = ..`",
        );
    } else {
        *slot = Some(key);
    }
}

fn default_name(positional: &[proc_macro2::Literal]) -> String {
    let count = positional[0].to_string().replace('_', "");
    let window = syn::parse_str::<syn::LitStr>(&positional[1].to_string())
        .map(|l| l.value())
        .unwrap_or_default();
    format!("{count}-per-{window}")
}

/// `5, "15m"` or `"login"`.
fn rate(positional: &[proc_macro2::Literal], attr: Span, errors: &mut Errors) -> Option<LimitRate> {
    let lits: Vec<syn::Lit> = positional
        .iter()
        .map(|l| syn::Lit::new(l.clone()))
        .collect();
    match lits.as_slice() {
        [syn::Lit::Int(count), syn::Lit::Str(window)] => {
            let count = match count.base10_parse::<u32>() {
                Ok(n) if check_count(n).is_err() => {
                    errors.spanned(
                        count,
                        "a limit of 0 admits nothing; the smallest limit is 1",
                    );
                    None
                }
                Ok(n) => Some(n),
                Err(_) => {
                    errors.spanned(
                        count,
                        format!("the limit must be a whole number from 1 to {}", u32::MAX),
                    );
                    None
                }
            };
            let window_ns = match parse_window(&window.value()) {
                Ok(ns) => Some(ns),
                Err(message) => {
                    errors.spanned(window, message);
                    None
                }
            };
            let (count, window_ns) = (count?, window_ns?);
            // The count and the window passed on their own; what is left
            // is how they go together.
            if let Err(RateFault::TooFast) = check_rate(count, window_ns) {
                errors.spanned(
                    &lits[0],
                    "the limit is higher than the window has nanoseconds; use a longer window",
                );
                return None;
            }
            Some(LimitRate::Inline { count, window_ns })
        }
        [syn::Lit::Str(policy)] => {
            if valid_name(&policy.value()) {
                Some(LimitRate::Named(policy.value()))
            } else {
                errors.spanned(policy, NAME_RULE);
                None
            }
        }
        [syn::Lit::Int(count)] => {
            errors.spanned(
                count,
                "expected a window after the limit: `#[rate_limit(5, \"15m\")]`",
            );
            None
        }
        [] => {
            errors.at(
                attr,
                "expected a rate: `#[rate_limit(5, \"15m\")]`, or a policy named in the Warden builder: `#[rate_limit(\"login\")]`",
            );
            None
        }
        [first, ..] => {
            errors.spanned(
                first,
                "expected a limit and a window, `5, \"15m\"`, or one policy name, `\"login\"`",
            );
            None
        }
    }
}

/// `key = ip | user | header("x-api-key")`.
fn key_option(option: &Opt, errors: &mut Errors) -> Option<LimitKey> {
    let Value::Assign(_, tokens) = &option.value else {
        errors.spanned(
            &option.key,
            "expected `key = ip`, `key = user` or `key = header(\"name\")`",
        );
        return None;
    };
    let trees: Vec<TokenTree> = tokens.clone().into_iter().collect();
    match trees.as_slice() {
        [TokenTree::Ident(kind)] if kind == IP => Some(LimitKey::Ip),
        [TokenTree::Ident(kind)] if kind == USER => Some(LimitKey::User(kind.span())),
        [TokenTree::Ident(kind), TokenTree::Group(group)]
            if kind == HEADER && group.delimiter() == proc_macro2::Delimiter::Parenthesis =>
        {
            header_name(group.stream(), errors).map(LimitKey::Header)
        }
        [TokenTree::Ident(kind), ..] => {
            errors.spanned(kind, suggest::unknown("key", &kind.to_string(), KEY_KINDS));
            None
        }
        _ => {
            errors.spanned(
                tokens,
                "expected `key = ip`, `key = user` or `key = header(\"name\")`",
            );
            None
        }
    }
}

fn header_name(tokens: TokenStream, errors: &mut Errors) -> Option<String> {
    let Ok(lit) = syn::parse2::<syn::LitStr>(tokens.clone()) else {
        errors.spanned(tokens, "expected a header name: `header(\"x-api-key\")`");
        return None;
    };
    let name = lit.value().to_ascii_lowercase();
    let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if name.is_empty() || !name.chars().all(token) {
        errors.spanned(
            &lit,
            format!("{:?} is not a valid header name", lit.value()),
        );
        return None;
    }
    Some(name)
}

fn path_value(option: &Opt, message: &str, errors: &mut Errors) -> Option<syn::ExprPath> {
    let Value::Assign(_, tokens) = &option.value else {
        errors.spanned(&option.key, message);
        return None;
    };
    match syn::parse2::<syn::Expr>(tokens.clone()) {
        Ok(syn::Expr::Path(path)) => Some(path),
        _ => {
            errors.spanned(tokens, message);
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use quote::quote;

    use super::*;

    const S: u64 = 1_000_000_000;

    fn limit(tokens: TokenStream) -> (Option<Limit>, Vec<String>) {
        let mut errors = Errors::new();
        let args = attr::parse(tokens, "an option", &mut errors);
        let mut named = Named::default();
        let limit = rate_limit(args, Span::call_site(), &mut named, &mut errors);
        (limit, errors.messages())
    }

    #[test]
    fn a_full_limit_is_read() {
        let (first, errors) = limit(quote!(
            5,
            "15m",
            key = header("X-Api-Key"),
            skip_successful,
            name = "login"
        ));
        assert!(errors.is_empty(), "{errors:?}");
        let full = first.unwrap();
        assert!(
            matches!(full.rate, LimitRate::Inline { count: 5, window_ns } if window_ns == 900 * S)
        );
        assert!(matches!(&full.key, LimitKey::Header(h) if h == "x-api-key"));
        assert!(matches!(full.skip, SkipMode::Successful));
        assert_eq!(full.name, "login");
        let (plain, _) = limit(quote!(10, "1h"));
        assert_eq!(plain.unwrap().name, "10-per-1h");
        let (named, _) = limit(quote!("login", key = user));
        assert!(matches!(named.unwrap().rate, LimitRate::Named(n) if n == "login"));
    }

    #[test]
    fn every_mistake_is_reported() {
        let (parsed, errors) = limit(quote!(
            0,
            "15x",
            key = usr,
            skip_successful,
            skip_failed,
            skip_successful,
            nme = "x",
            with = 3
        ));
        assert!(parsed.is_none());
        assert_eq!(errors.len(), 7, "{errors:#?}");
        assert!(errors[0].contains("limit of 0"));
        assert!(errors[1].contains("malformed window"));
        assert!(errors[2].contains("did you mean `user`"));
        assert!(errors[3].contains("contradicts"));
        assert!(errors[4].contains("duplicate option"));
        assert!(errors[5].contains("did you mean `name`"));
        assert!(errors[6].contains("`with` takes"));
    }

    #[test]
    fn positional_arguments_and_the_state_are_read() {
        let mut errors = Errors::new();
        let args = attr::parse(
            quote!(5, "1m", state = AppState, skip_failed, 6, -1, key user),
            "an option",
            &mut errors,
        );
        let mut named = Named::default();
        let limit = rate_limit(args, Span::call_site(), &mut named, &mut errors);
        assert!(limit.is_none());
        assert!(named.finish().0.is_some());
        let errors = errors.messages();
        assert_eq!(errors.len(), 3, "{errors:#?}");
        assert!(errors[0].starts_with("the rate comes first"));
        assert!(errors[1].starts_with("expected a rate (`5, \"15m\"`)"));
        assert_eq!(errors[2], "expected `=` or `(..)` after `key`");
    }

    #[test]
    fn overflowing_and_missing_rates_are_errors() {
        assert!(limit(quote!(4294967296, "1m")).1[0].contains("from 1 to"));
        assert!(limit(quote!(5)).1[0].contains("expected a window"));
        assert!(limit(quote!()).1[0].contains("expected a rate"));
        assert!(limit(quote!(2000000000, "1s")).1[0].contains("nanoseconds"));
        assert!(limit(quote!("bad\"name")).1[0].contains("printable ASCII"));
        assert!(limit(quote!(5, "1m", key = ip, with = f)).1[0].contains("one key"));
    }
}
