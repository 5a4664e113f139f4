//! The one attribute-syntax layer of every warden macro.
//!
//! `#[protected(..)]`, `#[rate_limit(..)]`, `#[validate(..)]` on a field or a
//! struct and `#[role(..)]` share one grammar: arguments separated by
//! top-level commas, each one of
//!
//! - `key`, a flag: `skip_successful`, `email`;
//! - `key = value`: `role = Role::Admin`, `regex = "^[a-z]+$"`;
//! - `key(..)`, a list: `any(..)`, `len(2..=100)`, `header("x-api-key")`;
//! - a positional value: a literal (`5`, `"15m"`), a range (`1..=5`), a
//!   path (`a::b`), a negative number (`-1`).
//!
//! This module reads that grammar and nothing else: what a key means,
//! whether it is known, and whether its value is right is for each macro's
//! `check`. Syntax errors are reported here, each at its token, and reading
//! goes on at the next comma, so every mistake of an attribute is reported
//! in one build.

use proc_macro2::{Delimiter, Group, Ident, Punct, Spacing, TokenStream, TokenTree};
use quote::{ToTokens, TokenStreamExt};

use crate::ctxt::Errors;

/// One comma-separated argument.
pub(crate) enum Arg {
    /// `key`, `key = value` or `key(..)`.
    Option(Opt),
    /// Anything that does not start with a key: a literal, a range, a
    /// path, a negative number. Never empty.
    Positional(TokenStream),
}

/// `key`, `key = value` or `key(..)`.
pub(crate) struct Opt {
    pub(crate) key: Ident,
    pub(crate) value: Value,
}

/// What follows the key of an [`Opt`].
pub(crate) enum Value {
    /// Nothing: `key`.
    Flag,
    /// `key = value`, with the `=`; the value is never empty.
    Assign(Punct, TokenStream),
    /// `key(..)`.
    List(Group),
}

/// Reads `tokens` as arguments. A trailing comma is allowed. An empty
/// argument between commas (reported as "expected `what` before this
/// comma"), `key =` without a value and anything after `key(..)` are
/// reported and skipped.
pub(crate) fn parse(tokens: TokenStream, what: &str, errors: &mut Errors) -> Vec<Arg> {
    read(tokens, what, Some(errors))
}

/// Reads another crate's attribute (serde's) without judging it: what does
/// not parse is skipped in silence, for that crate to report.
pub(crate) fn parse_lenient(tokens: TokenStream) -> Vec<Arg> {
    read(tokens, "", None)
}

fn read(tokens: TokenStream, what: &str, mut errors: Option<&mut Errors>) -> Vec<Arg> {
    let mut out = Vec::new();
    let mut iter = tokens.into_iter();
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
                if let Some(errors) = errors.as_deref_mut() {
                    errors.at(span, format!("expected {what} before this comma"));
                }
                continue;
            }
            (false, _) => {}
        }
        match arg(piece) {
            Ok(arg) => out.push(arg),
            Err(error) => {
                if let Some(errors) = errors.as_deref_mut() {
                    errors.push(error);
                }
            }
        }
        if comma.is_none() {
            break;
        }
    }
    out
}

/// One non-empty piece.
fn arg(piece: Vec<TokenTree>) -> syn::Result<Arg> {
    let mut rest = piece.into_iter().peekable();
    let key = match rest.peek() {
        Some(TokenTree::Ident(key)) => key.clone(),
        _ => return Ok(Arg::Positional(rest.collect())),
    };
    let mut after_key = rest.clone().skip(1);
    let value = match after_key.next() {
        None => Value::Flag,
        Some(TokenTree::Punct(eq)) if eq.as_char() == '=' && eq.spacing() == Spacing::Alone => {
            let value: TokenStream = after_key.collect();
            if value.is_empty() {
                return Err(syn::Error::new(
                    eq.span(),
                    format!("expected a value after `{key} =`"),
                ));
            }
            Value::Assign(eq, value)
        }
        Some(TokenTree::Group(group)) if group.delimiter() == Delimiter::Parenthesis => {
            if let Some(extra) = after_key.next() {
                return Err(syn::Error::new_spanned(
                    extra,
                    "expected `,` after the parenthesised list",
                ));
            }
            Value::List(group)
        }
        // `a::b`, `x..=y`, `key value`: not an option; the macro that
        // expects one says what it expected.
        Some(_) => return Ok(Arg::Positional(rest.collect())),
    };
    Ok(Arg::Option(Opt { key, value }))
}

/// Reports a positional argument where an option was expected: `key value`
/// as a missing `=`, anything else with `hint`, at its first token.
pub(crate) fn not_an_option(tokens: &TokenStream, hint: &str, errors: &mut Errors) {
    let mut trees = tokens.clone().into_iter();
    match (trees.next(), trees.next()) {
        (Some(TokenTree::Ident(key)), Some(next)) => {
            errors.spanned(next, format!("expected `=` or `(..)` after `{key}`"));
        }
        (Some(first), _) => errors.spanned(first, hint),
        (None, _) => {}
    }
}

impl ToTokens for Arg {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        match self {
            Self::Option(opt) => opt.to_tokens(tokens),
            Self::Positional(positional) => positional.to_tokens(tokens),
        }
    }
}

impl ToTokens for Opt {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        self.key.to_tokens(tokens);
        match &self.value {
            Value::Flag => {}
            Value::Assign(eq, value) => {
                tokens.append(eq.clone());
                value.to_tokens(tokens);
            }
            Value::List(group) => tokens.append(group.clone()),
        }
    }
}

/// Tokens as their author writes them, for the manifest: `Role::Admin`,
/// `Json<Register>`, `len(2..=100)`, `max = 255`, `one_of("a", "b")`,
/// `min = -1.5`. Built from the tokens, so literals stay exactly as
/// written (`to_string` puts spaces between tokens, and replacing them in
/// its text would reach into string literals too).
pub(crate) fn source_text(tokens: &TokenStream) -> String {
    let mut out = String::new();
    write_source(tokens.clone(), &mut out, &mut false, &mut false);
    out
}

/// Appends `tokens` to `out`. `word` says the last thing written was an
/// identifier, a literal or a group (a next word needs a space); `joint`
/// that it was a punctuation joined to the next one (`::`, `..=`).
fn write_source(tokens: TokenStream, out: &mut String, word: &mut bool, joint: &mut bool) {
    for tree in tokens {
        match tree {
            TokenTree::Ident(_) | TokenTree::Literal(_) => {
                if *word {
                    out.push(' ');
                }
                out.push_str(&tree.to_string());
                *word = true;
                *joint = false;
            }
            TokenTree::Punct(punct) => {
                match punct.as_char() {
                    ',' => out.push_str(", "),
                    '=' if !*joint && punct.spacing() == Spacing::Alone => out.push_str(" = "),
                    c => out.push(c),
                }
                *word = false;
                *joint = punct.spacing() == Spacing::Joint;
            }
            TokenTree::Group(group) => {
                let (open, close) = match group.delimiter() {
                    Delimiter::Parenthesis => ("(", ")"),
                    Delimiter::Bracket => ("[", "]"),
                    Delimiter::Brace => ("{", "}"),
                    Delimiter::None => ("", ""),
                };
                out.push_str(open);
                write_source(group.stream(), out, &mut false, &mut false);
                out.push_str(close);
                *word = true;
                *joint = false;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use quote::quote;

    use super::*;

    /// Each argument as `flag k`, `assign k`, `list k` or `positional`.
    fn shapes(tokens: TokenStream) -> (Vec<String>, Vec<String>) {
        let mut errors = Errors::new();
        let args = parse(tokens, "an option", &mut errors);
        let shapes = args
            .iter()
            .map(|arg| match arg {
                Arg::Option(Opt { key, value }) => match value {
                    Value::Flag => format!("flag {key}"),
                    Value::Assign(..) => format!("assign {key}"),
                    Value::List(_) => format!("list {key}"),
                },
                Arg::Positional(_) => "positional".to_owned(),
            })
            .collect();
        (shapes, errors.messages())
    }

    #[test]
    fn reads_every_shape() {
        let (shapes, errors) = shapes(quote!(
            5,
            "15m",
            skip_successful,
            role = Role::Admin,
            any(scope = "a", role = R::B),
            1..=5,
            -3,
            path::to::f,
            role Role::X,
        ));
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(
            shapes,
            [
                "positional",
                "positional",
                "flag skip_successful",
                "assign role",
                "list any",
                "positional",
                "positional",
                "positional",
                "positional",
            ]
        );
    }

    #[test]
    fn recovers_at_every_comma() {
        let (shapes, errors) = shapes(quote!(role = , ,scope = "x", any(a) b, c));
        assert_eq!(shapes, ["assign scope", "flag c"]);
        assert_eq!(
            errors,
            [
                "expected a value after `role =`",
                "expected an option before this comma",
                "expected `,` after the parenthesised list",
            ]
        );
    }

    #[test]
    fn empty_input_and_a_trailing_comma_are_fine() {
        assert_eq!(shapes(quote!()), (vec![], vec![]));
        assert_eq!(shapes(quote!(a,)), (vec!["flag a".to_owned()], vec![]));
        assert_eq!(
            shapes(quote!(a,,)).1,
            ["expected an option before this comma"]
        );
    }

    #[test]
    fn lenient_reading_reports_nothing() {
        let args = parse_lenient(quote!(rename = , deny_unknown_fields, ,x(y) z));
        assert_eq!(args.len(), 1);
    }

    #[test]
    fn a_positional_where_an_option_belongs_is_explained() {
        let mut errors = Errors::new();
        not_an_option(&quote!(role Role::Admin), "hint", &mut errors);
        not_an_option(&quote!("admin"), "expected an option", &mut errors);
        assert_eq!(
            errors.messages(),
            ["expected `=` or `(..)` after `role`", "expected an option"]
        );
    }

    #[test]
    fn source_text_is_the_text_an_author_writes() {
        let cases = [
            (quote!(Role::Admin), "Role::Admin"),
            (quote!(axum::Json<Register>), "axum::Json<Register>"),
            (quote!(2..=100), "2..=100"),
            (quote!(max = 255), "max = 255"),
            (quote!(min = -1.5), "min = -1.5"),
            (quote!("a", "b"), "\"a\", \"b\""),
            (quote!(min = 1, max = 2), "min = 1, max = 2"),
            (quote!(&'a str), "&'a str"),
            // Literals stay exactly as written.
            (quote!("a - b , c > d :: e"), "\"a - b , c > d :: e\""),
            (quote!(r"^[\p{L} '-]+$"), "r\"^[\\p{L} '-]+$\""),
        ];
        for (tokens, text) in cases {
            assert_eq!(source_text(&tokens), text);
        }
    }

    #[test]
    fn arguments_print_as_written() {
        let mut errors = Errors::new();
        let args = parse(quote!(a = b::c, d(e), f, 1..=2), "x", &mut errors);
        let printed: Vec<String> = args.iter().map(|a| quote!(#a).to_string()).collect();
        assert_eq!(printed, ["a = b :: c", "d (e)", "f", "1 ..= 2"]);
    }
}
