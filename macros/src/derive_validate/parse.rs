//! Stage 1: the derive input -> the model, reporting every syntax error and
//! every rule whose arguments are wrong (invalid regex, `min > max`, unknown
//! or duplicate rule).

use proc_macro2::{TokenStream, TokenTree};
use quote::ToTokens;

use super::model::{Field, Input, NumberLit, Rule, RuleKind};
use crate::ctxt::Errors;
use crate::handler::parse::pieces;
use crate::shared::rules;
use crate::suggest;

/// What the struct-level attributes say.
pub(crate) struct StructAttrs {
    pub(crate) deny_unknown_fields: bool,
    pub(crate) allow_unknown_fields: bool,
    pub(crate) rename_all: Option<String>,
    pub(crate) custom: Vec<syn::ExprPath>,
}

pub(crate) fn input(input: &syn::DeriveInput, errors: &mut Errors) -> Option<(Input, StructAttrs)> {
    let syn::Data::Struct(data) = &input.data else {
        errors.spanned(
            &input.ident,
            "#[derive(Validate)] goes on a struct with named fields",
        );
        return None;
    };
    let syn::Fields::Named(named) = &data.fields else {
        errors.spanned(
            &input.ident,
            "#[derive(Validate)] goes on a struct with named fields",
        );
        return None;
    };
    let attrs = struct_attrs(&input.attrs, errors);
    let fields = named
        .named
        .iter()
        .map(|field| {
            let ident = field.ident.clone().expect("named field");
            let (rename, flatten) = serde_field(&field.attrs);
            let wire_name = if flatten {
                None
            } else {
                Some(rename.unwrap_or_else(|| {
                    let raw = ident.to_string();
                    let raw = raw.strip_prefix("r#").unwrap_or(&raw).to_owned();
                    attrs
                        .rename_all
                        .as_deref()
                        .map_or(raw.clone(), |rule| rename_all(&raw, rule))
                }))
            };
            Field {
                member: syn::Member::Named(ident),
                ty: field.ty.clone(),
                wire_name,
                rules: field_rules(&field.attrs, errors),
            }
        })
        .collect();
    let model = Input {
        ident: input.ident.clone(),
        generics: input.generics.clone(),
        fields,
        custom: attrs.custom.clone(),
    };
    Some((model, attrs))
}

fn attr_tokens(attr: &syn::Attribute) -> Option<TokenStream> {
    match &attr.meta {
        syn::Meta::List(list) => Some(list.tokens.clone()),
        _ => None,
    }
}

/// `key`, `key = value` or `key(..)` of one piece.
enum Piece {
    Flag(syn::Ident),
    Assign(syn::Ident, TokenStream),
    Call(syn::Ident, TokenStream),
    Other(TokenStream),
}

fn piece(trees: Vec<TokenTree>) -> Piece {
    match trees.as_slice() {
        [TokenTree::Ident(key)] => Piece::Flag(syn::Ident::new(&key.to_string(), key.span())),
        [TokenTree::Ident(key), TokenTree::Punct(eq), rest @ ..]
            if eq.as_char() == '=' && eq.spacing() == proc_macro2::Spacing::Alone =>
        {
            Piece::Assign(
                syn::Ident::new(&key.to_string(), key.span()),
                rest.iter().cloned().collect(),
            )
        }
        [TokenTree::Ident(key), TokenTree::Group(group)]
            if group.delimiter() == proc_macro2::Delimiter::Parenthesis =>
        {
            Piece::Call(
                syn::Ident::new(&key.to_string(), key.span()),
                group.stream(),
            )
        }
        _ => Piece::Other(trees.into_iter().collect()),
    }
}

fn struct_attrs(attrs: &[syn::Attribute], errors: &mut Errors) -> StructAttrs {
    let mut out = StructAttrs {
        deny_unknown_fields: false,
        allow_unknown_fields: false,
        rename_all: None,
        custom: Vec::new(),
    };
    for attr in attrs {
        let Some(tokens) = attr_tokens(attr) else {
            continue;
        };
        if attr.path().is_ident("serde") {
            for p in pieces(tokens) {
                match piece(p) {
                    Piece::Flag(k) if k == "deny_unknown_fields" => out.deny_unknown_fields = true,
                    Piece::Assign(k, v) if k == "rename_all" => {
                        out.rename_all = syn::parse2::<syn::LitStr>(v).ok().map(|l| l.value());
                    }
                    Piece::Call(k, v) if k == "rename_all" => out.rename_all = deserialize_name(v),
                    _ => {}
                }
            }
        } else if attr.path().is_ident("validate") {
            for p in pieces(tokens) {
                match piece(p) {
                    Piece::Flag(k) if k == "allow_unknown_fields" => {
                        out.allow_unknown_fields = true
                    }
                    Piece::Assign(k, v) if k == "custom" => match syn::parse2::<syn::ExprPath>(
                        v.clone(),
                    ) {
                        Ok(path) => out.custom.push(path),
                        Err(_) => errors.spanned(
                            v,
                            "expected `custom = path::to::fn` (`fn(&Self) -> Result<(), Invalid>`)",
                        ),
                    },
                    Piece::Flag(k) | Piece::Assign(k, _) | Piece::Call(k, _) => errors.spanned(
                        &k,
                        suggest::unknown(
                            "struct option",
                            &k.to_string(),
                            &["custom", "allow_unknown_fields"],
                        ),
                    ),
                    Piece::Other(t) => {
                        errors.spanned(t, "expected `custom = ..` or `allow_unknown_fields`")
                    }
                }
            }
        }
    }
    out
}

/// `rename(deserialize = "x")` or `rename_all(deserialize = "x")`.
fn deserialize_name(tokens: TokenStream) -> Option<String> {
    pieces(tokens).into_iter().find_map(|p| match piece(p) {
        Piece::Assign(k, v) if k == "deserialize" => {
            syn::parse2::<syn::LitStr>(v).ok().map(|l| l.value())
        }
        _ => None,
    })
}

/// The field's `#[serde(rename = ..)]` and whether it is `flatten`.
fn serde_field(attrs: &[syn::Attribute]) -> (Option<String>, bool) {
    let mut rename = None;
    let mut flatten = false;
    for attr in attrs.iter().filter(|a| a.path().is_ident("serde")) {
        let Some(tokens) = attr_tokens(attr) else {
            continue;
        };
        for p in pieces(tokens) {
            match piece(p) {
                Piece::Assign(k, v) if k == "rename" => {
                    rename = syn::parse2::<syn::LitStr>(v).ok().map(|l| l.value())
                }
                Piece::Call(k, v) if k == "rename" => rename = deserialize_name(v),
                Piece::Flag(k) if k == "flatten" => flatten = true,
                _ => {}
            }
        }
    }
    (rename, flatten)
}

/// serde's `rename_all` conventions.
pub(crate) fn rename_all(field: &str, rule: &str) -> String {
    let words: Vec<&str> = field.split('_').filter(|w| !w.is_empty()).collect();
    let capitalised = |w: &str| {
        let mut chars = w.chars();
        chars
            .next()
            .map(|c| c.to_uppercase().chain(chars).collect::<String>())
            .unwrap_or_default()
    };
    match rule {
        "lowercase" => field.to_lowercase(),
        "UPPERCASE" => field.to_uppercase(),
        "PascalCase" => words.iter().map(|w| capitalised(w)).collect(),
        "camelCase" => words
            .iter()
            .enumerate()
            .map(|(i, w)| {
                if i == 0 {
                    (*w).to_owned()
                } else {
                    capitalised(w)
                }
            })
            .collect(),
        "SCREAMING_SNAKE_CASE" => field.to_uppercase(),
        "kebab-case" => field.replace('_', "-"),
        "SCREAMING-KEBAB-CASE" => field.to_uppercase().replace('_', "-"),
        _ => field.to_owned(),
    }
}

fn field_rules(attrs: &[syn::Attribute], errors: &mut Errors) -> Vec<Rule> {
    let mut rules: Vec<Rule> = Vec::new();
    for attr in attrs.iter().filter(|a| a.path().is_ident("validate")) {
        let Some(tokens) = attr_tokens(attr) else {
            errors.spanned(attr, "expected `#[validate(rule, ..)]`");
            continue;
        };
        for p in pieces(tokens) {
            let Some((name, rule)) = self::rule(piece(p), errors) else {
                continue;
            };
            if let Some(first) = rules.iter().find(|r| same_kind(&r.kind, &rule.kind)) {
                let _ = first;
                errors.at(
                    rule.span,
                    format!("duplicate rule `{name}`; merge its arguments into one"),
                );
                continue;
            }
            rules.push(rule);
        }
    }
    rules
}

fn same_kind(a: &RuleKind, b: &RuleKind) -> bool {
    std::mem::discriminant(a) == std::mem::discriminant(b)
        || matches!(
            (a, b),
            (RuleKind::OneOfText(_), RuleKind::OneOfNumber(_))
                | (RuleKind::OneOfNumber(_), RuleKind::OneOfText(_))
        )
}

/// Positional arguments and `name = value` options of a rule's `(..)`.
struct Args {
    positional: Vec<TokenStream>,
    named: Vec<(syn::Ident, TokenStream)>,
}

fn args(tokens: TokenStream) -> Args {
    let mut out = Args {
        positional: Vec::new(),
        named: Vec::new(),
    };
    for p in pieces(tokens) {
        match piece(p) {
            Piece::Assign(k, v) => out.named.push((k, v)),
            Piece::Flag(k) => out.positional.push(k.into_token_stream()),
            Piece::Call(k, v) => {
                let group = proc_macro2::Group::new(proc_macro2::Delimiter::Parenthesis, v);
                out.positional.push(quote::quote!(#k #group));
            }
            Piece::Other(t) => out.positional.push(t),
        }
    }
    out
}

fn lit_str(tokens: TokenStream, what: &str, errors: &mut Errors) -> Option<syn::LitStr> {
    match syn::parse2::<syn::LitStr>(tokens.clone()) {
        Ok(lit) => Some(lit),
        Err(_) => {
            errors.spanned(tokens, format!("expected a string literal for {what}"));
            None
        }
    }
}

fn number(tokens: TokenStream, errors: &mut Errors) -> Option<NumberLit> {
    let value = match syn::parse2::<syn::Expr>(tokens.clone()) {
        Ok(syn::Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Int(i),
            ..
        })) => i.base10_parse::<f64>().ok(),
        Ok(syn::Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Float(f),
            ..
        })) => f.base10_parse::<f64>().ok(),
        Ok(syn::Expr::Unary(syn::ExprUnary {
            op: syn::UnOp::Neg(_),
            expr,
            ..
        })) => match *expr {
            syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Int(i),
                ..
            }) => i.base10_parse::<f64>().ok().map(|v| -v),
            syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Float(f),
                ..
            }) => f.base10_parse::<f64>().ok().map(|v| -v),
            _ => None,
        },
        _ => None,
    };
    match value {
        Some(value) => Some(NumberLit { tokens, value }),
        None => {
            errors.spanned(tokens, "expected a number literal");
            None
        }
    }
}

fn count(tokens: TokenStream, errors: &mut Errors) -> Option<u64> {
    match syn::parse2::<syn::LitInt>(tokens.clone())
        .ok()
        .and_then(|i| i.base10_parse::<u64>().ok())
    {
        Some(n) => Some(n),
        None => {
            errors.spanned(tokens, "expected a whole number");
            None
        }
    }
}

/// `a..=b`, `a..` or `..=b`, as token streams.
fn bounds(
    tokens: TokenStream,
    errors: &mut Errors,
) -> Option<(Option<TokenStream>, Option<TokenStream>)> {
    match syn::parse2::<syn::ExprRange>(tokens.clone()) {
        Ok(range) => {
            if matches!(range.limits, syn::RangeLimits::HalfOpen(_)) && range.end.is_some() {
                errors.spanned(
                    &range,
                    "use an inclusive range (`a..=b`): bounds are inclusive",
                );
                return None;
            }
            Some((
                range.start.map(|e| e.into_token_stream()),
                range.end.map(|e| e.into_token_stream()),
            ))
        }
        Err(_) => {
            errors.spanned(
                tokens,
                "expected a range such as `2..=100`, `2..` or `..=100`, or `min = ..`, `max = ..`",
            );
            None
        }
    }
}

/// The bounds of `len` and `range`: one inclusive range, or `min = ..`
/// and `max = ..`; at least one bound.
fn min_max<T>(
    rule: &str,
    span: proc_macro2::Span,
    positional: &[TokenStream],
    options: Vec<(String, TokenStream)>,
    parse: fn(TokenStream, &mut Errors) -> Option<T>,
    errors: &mut Errors,
) -> Option<(Option<T>, Option<T>)> {
    let before = errors.len();
    let (mut min, mut max) = (None, None);
    match positional {
        [] => {}
        [range] => {
            let (lo, hi) = bounds(range.clone(), errors)?;
            min = lo.and_then(|t| parse(t, errors));
            max = hi.and_then(|t| parse(t, errors));
        }
        [_, extra, ..] => errors.spanned(extra, format!("`{rule}` takes one range")),
    }
    for (key, value) in options {
        let bound = parse(value, errors);
        if key == "min" {
            min = bound;
        } else {
            max = bound;
        }
    }
    if errors.len() != before {
        return None;
    }
    if min.is_none() && max.is_none() {
        errors.at(
            span,
            format!(
                "`{rule}` needs bounds: `{rule}(2..=100)`, `{rule}(min = 2)` or `{rule}(max = 100)`"
            ),
        );
        return None;
    }
    Some((min, max))
}

/// One rule, with its overrides.
fn rule(piece: Piece, errors: &mut Errors) -> Option<(String, Rule)> {
    let (name, value): (syn::Ident, Option<Result<TokenStream, TokenStream>>) = match piece {
        Piece::Flag(k) => (k, None),
        Piece::Assign(k, v) => (k, Some(Ok(v))),
        Piece::Call(k, v) => (k, Some(Err(v))),
        Piece::Other(t) => {
            errors.spanned(
                t,
                "expected a rule such as `email`, `len(2..=100)` or `regex = \"..\"`",
            );
            return None;
        }
    };
    let text = name.to_string();
    if rules::find(&text).is_none() {
        errors.spanned(&name, suggest::unknown("rule", &text, &rules::names()));
        return None;
    }
    // `rule = value` is shorthand for `rule(value)`.
    let mut a = match value {
        None => Args {
            positional: Vec::new(),
            named: Vec::new(),
        },
        Some(Ok(value)) => Args {
            positional: vec![value],
            named: Vec::new(),
        },
        Some(Err(inner)) => args(inner),
    };
    let mut message = None;
    let mut code = None;
    let mut options = Vec::new();
    for (key, value) in a.named.drain(..) {
        match key.to_string().as_str() {
            "message" => message = lit_str(value, "`message`", errors).map(|l| l.value()),
            "code" => code = lit_str(value, "`code`", errors).map(|l| l.value()),
            _ => options.push((key, value)),
        }
    }
    let span = name.span();
    let before = errors.len();
    let mut take_option = |allowed: &[&str], errors: &mut Errors| -> Vec<(String, TokenStream)> {
        let mut taken = Vec::new();
        for (key, value) in options.drain(..) {
            let k = key.to_string();
            if allowed.contains(&k.as_str()) {
                taken.push((k, value));
            } else {
                let mut all = allowed.to_vec();
                all.extend(["message", "code"]);
                errors.spanned(
                    &key,
                    suggest::unknown(&format!("option of `{text}`"), &k, &all),
                );
            }
        }
        taken
    };
    let no_positional = |a: &Args, errors: &mut Errors| {
        if let Some(first) = a.positional.first() {
            errors.spanned(first, format!("`{text}` takes no argument here"));
        }
    };

    let kind = match text.as_str() {
        "url" => {
            no_positional(&a, errors);
            let mut schemes = Vec::new();
            for (_, value) in take_option(&["schemes"], errors) {
                let lit = lit_str(value, "`schemes`", errors)?;
                for scheme in lit.value().split(',').map(str::trim) {
                    let valid = scheme.starts_with(|c: char| c.is_ascii_lowercase())
                        && scheme.chars().all(|c| {
                            c.is_ascii_lowercase() || c.is_ascii_digit() || "+-.".contains(c)
                        });
                    if !valid {
                        errors.spanned(
                            &lit,
                            format!(
                                "{scheme:?} is not a URL scheme: lower-case letters, digits, `+`, `-` and `.`, starting with a letter, comma-separated such as \"https,ftp\""
                            ),
                        );
                        return None;
                    }
                    schemes.push(scheme.to_owned());
                }
            }
            RuleKind::Url(schemes)
        }
        "email" => {
            take_option(&[], errors);
            let mut unicode_local_part = false;
            for argument in &a.positional {
                if argument.to_string() == "unicode_local_part" {
                    unicode_local_part = true;
                } else {
                    errors.spanned(
                        argument,
                        "`email` takes one option, `email(unicode_local_part)`, for RFC 6531 addresses",
                    );
                    return None;
                }
            }
            RuleKind::Email { unicode_local_part }
        }
        "non_empty" | "ascii" | "alphanumeric" | "no_control_chars" => {
            no_positional(&a, errors);
            take_option(&[], errors);
            match text.as_str() {
                "non_empty" => RuleKind::NonEmpty,
                "ascii" => RuleKind::Ascii,
                "alphanumeric" => RuleKind::Alphanumeric,
                _ => RuleKind::NoControlChars,
            }
        }
        "len" => {
            let bounds_of = take_option(&["min", "max"], errors);
            let (min, max) = min_max(&text, span, &a.positional, bounds_of, count, errors)?;
            if let (Some(lo), Some(hi)) = (min, max)
                && lo > hi
            {
                errors.at(span, format!("`len` has min {lo} greater than max {hi}"));
                return None;
            }
            RuleKind::Len { min, max }
        }
        "range" => {
            let bounds_of = take_option(&["min", "max"], errors);
            let (min, max) = min_max(&text, span, &a.positional, bounds_of, number, errors)?;
            if let (Some(lo), Some(hi)) = (&min, &max)
                && lo.value > hi.value
            {
                errors.at(
                    span,
                    format!("`range` has min {} greater than max {}", lo.value, hi.value),
                );
                return None;
            }
            RuleKind::Range { min, max }
        }
        "regex" => {
            take_option(&[], errors);
            let [pattern] = a.positional.as_slice() else {
                errors.at(span, "expected `regex = \"pattern\"`");
                return None;
            };
            let lit = lit_str(pattern.clone(), "the pattern", errors)?;
            // A rule matches the whole value: `[a-z]+` must not accept
            // `a<script>`. `\A` and `\z` hold whatever flags the pattern sets.
            let anchored = format!("\\A(?:{})\\z", lit.value());
            if let Err(error) = regex::Regex::new(&anchored) {
                let reason = error.to_string();
                let reason = reason
                    .lines()
                    .last()
                    .unwrap_or("invalid pattern")
                    .trim()
                    .to_owned();
                errors.spanned(&lit, format!("invalid regex: {reason}"));
                return None;
            }
            RuleKind::Regex(anchored)
        }
        "password" => {
            no_positional(&a, errors);
            let (mut min, mut max, mut special) = (
                rules::PASSWORD_MIN,
                rules::PASSWORD_MAX,
                rules::PASSWORD_SPECIAL.to_owned(),
            );
            for (k, v) in take_option(&["min", "max", "special"], errors) {
                match k.as_str() {
                    "min" => min = count(v, errors).unwrap_or(min),
                    "max" => max = count(v, errors).unwrap_or(max),
                    _ => {
                        if let Some(lit) = lit_str(v, "`special`", errors) {
                            if lit.value().is_empty() {
                                errors.spanned(&lit, "the special character set cannot be empty");
                            }
                            special = lit.value();
                        }
                    }
                }
            }
            if min > max {
                errors.at(
                    span,
                    format!("`password` has min {min} greater than max {max}"),
                );
                return None;
            }
            RuleKind::Password { min, max, special }
        }
        "one_of" => {
            take_option(&[], errors);
            if a.positional.is_empty() {
                errors.at(
                    span,
                    "`one_of` needs at least one value: `one_of(\"a\", \"b\")`",
                );
                return None;
            }
            let strings: Vec<syn::LitStr> = a
                .positional
                .iter()
                .filter_map(|t| syn::parse2(t.clone()).ok())
                .collect();
            if strings.len() == a.positional.len() {
                RuleKind::OneOfText(strings)
            } else {
                let numbers: Vec<NumberLit> = a
                    .positional
                    .iter()
                    .filter_map(|t| number(t.clone(), errors))
                    .collect();
                RuleKind::OneOfNumber(numbers)
            }
        }
        "prefix" | "suffix" | "contains" => {
            take_option(&[], errors);
            let [value] = a.positional.as_slice() else {
                errors.at(span, format!("expected `{text} = \"..\"`"));
                return None;
            };
            let lit = lit_str(value.clone(), &format!("`{text}`"), errors)?;
            match text.as_str() {
                "prefix" => RuleKind::Prefix(lit),
                "suffix" => RuleKind::Suffix(lit),
                _ => RuleKind::Contains(lit),
            }
        }
        "must_match" => {
            take_option(&[], errors);
            let Some(other) = a
                .positional
                .first()
                .and_then(|t| syn::parse2::<syn::Ident>(t.clone()).ok())
            else {
                errors.at(span, "expected `must_match = other_field`");
                return None;
            };
            RuleKind::MustMatch(other)
        }
        _ => {
            take_option(&[], errors);
            let Some(path) = a
                .positional
                .first()
                .and_then(|t| syn::parse2::<syn::ExprPath>(t.clone()).ok())
            else {
                errors.at(
                    span,
                    "expected `custom = path::to::fn` (`fn(&FieldType) -> Result<(), Invalid>`)",
                );
                return None;
            };
            RuleKind::Custom(path)
        }
    };
    if errors.len() != before {
        return None;
    }
    Some((
        text.clone(),
        Rule {
            kind,
            span,
            code: code.unwrap_or(text),
            message,
        },
    ))
}
