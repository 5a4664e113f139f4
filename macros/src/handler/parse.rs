//! Stage 1: attribute arguments -> a raw option tree, with error recovery
//! at every comma.

use proc_macro2::{Delimiter, Ident, Span, TokenStream, TokenTree};

use crate::ctxt::Errors;

/// An item of an attribute's arguments: an option, or a bare literal (the
/// rate of `#[rate_limit(5, "15m")]`).
pub(crate) enum RawItem {
    Option(RawOption),
    Positional(proc_macro2::Literal),
}

/// `key`, `key = value` or `key(...)`.
pub(crate) struct RawOption {
    pub(crate) key: Ident,
    pub(crate) value: RawValue,
}

pub(crate) enum RawValue {
    /// `key` alone.
    Flag,
    /// `key = tokens`.
    Assign(TokenStream),
    /// `key(tokens)`.
    List(TokenStream, Span),
}

/// Splits `tokens` at top-level commas and reads each piece as an option.
/// A piece that is not an option is reported and skipped.
pub(crate) fn options(tokens: TokenStream, errors: &mut Errors) -> Vec<RawOption> {
    items(tokens, false, errors)
        .into_iter()
        .filter_map(|item| match item {
            RawItem::Option(option) => Some(option),
            RawItem::Positional(_) => None,
        })
        .collect()
}

/// Like [`options`], but a lone literal is kept as a positional item when
/// `positional` allows it.
pub(crate) fn items(tokens: TokenStream, positional: bool, errors: &mut Errors) -> Vec<RawItem> {
    let mut out = Vec::new();
    let mut iter = tokens.into_iter().peekable();
    loop {
        let mut piece = Vec::new();
        let mut comma = None;
        for tree in iter.by_ref() {
            match &tree {
                TokenTree::Punct(p) if p.as_char() == ',' => {
                    comma = Some(p.span());
                    break;
                }
                _ => piece.push(tree),
            }
        }
        match (piece.is_empty(), comma) {
            (true, None) => break,
            (true, Some(span)) => {
                errors.at(span, "expected an option before this comma");
                continue;
            }
            (false, _) => {}
        }
        if let (true, [TokenTree::Literal(lit)]) = (positional, piece.as_slice()) {
            out.push(RawItem::Positional(lit.clone()));
            if comma.is_none() {
                break;
            }
            continue;
        }
        if let Some(option) = option(piece, positional, errors) {
            out.push(RawItem::Option(option));
        }
        if comma.is_none() {
            break;
        }
    }
    out
}

fn option(piece: Vec<TokenTree>, rate_limit: bool, errors: &mut Errors) -> Option<RawOption> {
    let mut rest = piece.into_iter();
    let key = match rest.next() {
        Some(TokenTree::Ident(key)) => key,
        Some(other) if rate_limit => {
            errors.spanned(
                other,
                "expected a rate (`5, \"15m\"`), a policy name (`\"login\"`) or an option: `key = ..`, `with = ..`, `skip_successful`, `skip_failed`, `name = \"..\"`",
            );
            return None;
        }
        Some(other) => {
            errors.spanned(
                other,
                "expected an option: `role = ...`, `scope = \"...\"`, `any(..)`, `all(..)`, `not(..)` or `check = ...`",
            );
            return None;
        }
        None => return None,
    };
    let value = match rest.next() {
        None => RawValue::Flag,
        Some(TokenTree::Punct(eq))
            if eq.as_char() == '=' && eq.spacing() == proc_macro2::Spacing::Alone =>
        {
            let value: TokenStream = rest.collect();
            if value.is_empty() {
                errors.at(eq.span(), format!("expected a value after `{key} =`"));
                return None;
            }
            return Some(RawOption {
                key,
                value: RawValue::Assign(value),
            });
        }
        Some(TokenTree::Group(group)) if group.delimiter() == Delimiter::Parenthesis => {
            if let Some(extra) = rest.next() {
                errors.spanned(extra, "expected `,` after the parenthesised list");
                return None;
            }
            RawValue::List(group.stream(), group.span())
        }
        Some(other) => {
            errors.spanned(other, format!("expected `=` or `(..)` after `{key}`"));
            return None;
        }
    };
    Some(RawOption { key, value })
}

#[cfg(test)]
mod tests {
    use quote::quote;

    use super::*;

    fn parse(tokens: TokenStream) -> (Vec<String>, Vec<String>) {
        let mut errors = Errors::new();
        let options = options(tokens, &mut errors);
        let keys = options.iter().map(|o| o.key.to_string()).collect();
        (keys, errors.messages())
    }

    #[test]
    fn reads_flags_assignments_and_lists() {
        let (keys, errors) = parse(quote!(
            role = Role::Admin,
            any(scope = "a", role = R::B),
            check = f,
        ));
        assert_eq!(keys, ["role", "any", "check"]);
        assert!(errors.is_empty());
    }

    #[test]
    fn recovers_at_every_comma() {
        let (keys, errors) = parse(quote!("admin", role = , ,scope = "x", any(a) b, role Role::X));
        assert_eq!(keys, ["scope"]);
        assert_eq!(errors.len(), 5, "{errors:?}");
    }

    #[test]
    fn empty_input_is_no_option() {
        let (keys, errors) = parse(quote!());
        assert!(keys.is_empty() && errors.is_empty());
    }
}
