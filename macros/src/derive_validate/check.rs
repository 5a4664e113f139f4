//! Stage 2: the rules as written -> the model, judged against the shared
//! rule table: unknown rules and options, the kind of every value,
//! defaults, `min > max`, regexes compiled here, duplicate rules, fields
//! that `must_match` names, and what the struct itself must say.

use proc_macro2::{Span, TokenStream};
use quote::ToTokens;

use super::model::{Field, Input, NumberLit, Rule, RuleKind};
use super::parse::{RawInput, RawRule};
use crate::attr::{Arg, Opt, Value as Shape};
use crate::ctxt::Errors;
use crate::shared::rules::{self, Argument, Default, Value};
use crate::suggest;
use crate::symbol::{
    ALLOW_UNKNOWN_FIELDS, ALPHANUMERIC, ASCII, CODE, CONTAINS, CUSTOM, EMAIL, LEN, MAX, MESSAGE,
    MIN, MUST_MATCH, NO_CONTROL_CHARS, NON_EMPTY, ONE_OF, PASSWORD, PREFIX, RANGE, REGEX, SCHEMES,
    SPECIAL, STRUCT_OPTIONS, SUFFIX, UNICODE_LOCAL_PART, URL,
};

/// The model of `raw`, with every mistake reported.
pub(crate) fn input(raw: RawInput, errors: &mut Errors) -> Input {
    let RawInput {
        ident,
        generics,
        fields,
        options,
        deny_unknown_fields,
    } = raw;
    let (custom, allow_unknown_fields) = struct_options(options, errors);
    let fields: Vec<Field> = fields
        .into_iter()
        .map(|field| Field {
            member: syn::Member::Named(field.ident),
            ty: field.ty,
            wire_name: field.wire_name,
            written: field.rules.iter().map(RawRule::written).collect(),
            rules: field_rules(field.rules, errors),
        })
        .collect();
    if !deny_unknown_fields && !allow_unknown_fields {
        errors.spanned(
            &ident,
            "validated types refuse unknown fields: add `#[serde(deny_unknown_fields)]` (mass assignment, OWASP API3), or opt out explicitly with `#[validate(allow_unknown_fields)]`",
        );
    }
    must_match(&fields, errors);
    Input {
        ident,
        generics,
        fields,
        custom,
        strict: deny_unknown_fields,
    }
}

/// `#[validate(custom = f, allow_unknown_fields)]` on the struct.
fn struct_options(args: Vec<Arg>, errors: &mut Errors) -> (Vec<syn::ExprPath>, bool) {
    let mut custom = Vec::new();
    let mut allow_unknown_fields = false;
    for arg in args {
        let Arg::Option(Opt { key, value }) = arg else {
            errors.spanned(arg, "expected `custom = ..` or `allow_unknown_fields`");
            continue;
        };
        match (key.to_string().as_str(), value) {
            (CUSTOM, Shape::Assign(_, tokens)) => {
                match syn::parse2::<syn::ExprPath>(tokens.clone()) {
                    Ok(path) => custom.push(path),
                    Err(_) => errors.spanned(
                        tokens,
                        "expected `custom = path::to::fn` (`fn(&Self) -> Result<(), Invalid>`)",
                    ),
                }
            }
            (CUSTOM, _) => errors.spanned(
                key,
                "expected `custom = path::to::fn` (`fn(&Self) -> Result<(), Invalid>`)",
            ),
            (ALLOW_UNKNOWN_FIELDS, Shape::Flag) => allow_unknown_fields = true,
            (ALLOW_UNKNOWN_FIELDS, _) => {
                errors.spanned(key, "`allow_unknown_fields` takes no value");
            }
            (other, _) => errors.spanned(
                &key,
                suggest::unknown("struct option", other, STRUCT_OPTIONS),
            ),
        }
    }
    (custom, allow_unknown_fields)
}

/// The rules of one field; a rule twice is reported.
fn field_rules(raw: Vec<RawRule>, errors: &mut Errors) -> Vec<Rule> {
    let mut rules: Vec<Rule> = Vec::new();
    for raw in raw {
        let Some(rule) = rule(raw, errors) else {
            continue;
        };
        if rules.iter().any(|r| same_kind(&r.kind, &rule.kind)) {
            errors.at(
                rule.span,
                format!(
                    "duplicate rule `{}`; merge its arguments into one",
                    rule.name
                ),
            );
            continue;
        }
        rules.push(rule);
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

/// `must_match` names another field of the struct.
fn must_match(fields: &[Field], errors: &mut Errors) {
    let names: Vec<String> = fields
        .iter()
        .map(|f| f.member.to_token_stream().to_string())
        .collect();
    let candidates: Vec<&str> = names.iter().map(String::as_str).collect();
    for (field, me) in fields.iter().zip(&names) {
        for rule in &field.rules {
            if let RuleKind::MustMatch(other) = &rule.kind {
                let other_name = other.to_string();
                if !names.contains(&other_name) {
                    errors.spanned(other, suggest::unknown("field", &other_name, &candidates));
                } else if *me == other_name {
                    errors.spanned(other, "a field always matches itself; name another field");
                }
            }
        }
    }
}

/// One checked value of a rule.
enum Parsed {
    Count(u64),
    Number(NumberLit),
    Text(syn::LitStr),
}

impl Parsed {
    fn count(self) -> Option<u64> {
        match self {
            Self::Count(n) => Some(n),
            _ => None,
        }
    }

    fn number(self) -> Option<NumberLit> {
        match self {
            Self::Number(n) => Some(n),
            _ => None,
        }
    }

    fn text(self) -> Option<syn::LitStr> {
        match self {
            Self::Text(lit) => Some(lit),
            _ => None,
        }
    }
}

/// `tokens` as a value of `kind`; `what` names it in the error.
fn value(kind: Value, tokens: TokenStream, what: &str, errors: &mut Errors) -> Option<Parsed> {
    match kind {
        Value::Count => count(tokens, errors).map(Parsed::Count),
        Value::Number => number(tokens, errors).map(Parsed::Number),
        Value::Text | Value::TextList => lit_str(tokens, what, errors).map(Parsed::Text),
    }
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
    let literal = |expr: &syn::Expr| match expr {
        syn::Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Int(i),
            ..
        }) => i.base10_parse::<f64>().ok(),
        syn::Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Float(f),
            ..
        }) => f.base10_parse::<f64>().ok(),
        _ => None,
    };
    let value = match syn::parse2::<syn::Expr>(tokens.clone()) {
        Ok(syn::Expr::Unary(syn::ExprUnary {
            op: syn::UnOp::Neg(_),
            expr,
            ..
        })) => literal(&expr).map(|v| -v),
        Ok(expr) => literal(&expr),
        Err(_) => None,
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

/// The options a rule was given, known to the table, with their values
/// checked against the kind the table gives them.
struct Given {
    rule: &'static rules::Rule,
    values: Vec<(&'static str, Parsed)>,
    /// Whether the value of an option was refused (and reported).
    refused: bool,
}

impl Given {
    /// The value of option `name`, if given (the last one given wins).
    fn take(&mut self, name: &str) -> Option<Parsed> {
        let at = self.values.iter().rposition(|(n, _)| *n == name)?;
        Some(self.values.remove(at).1)
    }

    /// The value of a whole-number option, or its default from the table.
    fn count_or_default(&mut self, name: &str) -> Option<u64> {
        self.take(name)
            .and_then(Parsed::count)
            .or(match self.rule.default(name) {
                Default::Count(n) => Some(n),
                _ => None,
            })
    }

    /// The value of a text option, or its default from the table.
    fn text_or_default(&mut self, name: &str) -> Option<(String, Option<syn::LitStr>)> {
        match self.take(name).and_then(Parsed::text) {
            Some(lit) => Some((lit.value(), Some(lit))),
            None => match self.rule.default(name) {
                Default::Text(text) => Some((text.to_owned(), None)),
                _ => None,
            },
        }
    }
}

/// One rule, checked; None when it has errors (all reported).
fn rule(raw: RawRule, errors: &mut Errors) -> Option<Rule> {
    let RawRule {
        name,
        positional,
        options,
    } = raw;
    let text = name.to_string();
    let Some(spec) = rules::find(&text) else {
        errors.spanned(&name, suggest::unknown("rule", &text, &rules::names()));
        return None;
    };
    let span = name.span();
    let before = errors.len();

    // The overrides every rule takes, then the rule's own options, each
    // read as the kind of value the table says.
    let mut message = None;
    let mut code = None;
    let mut given = Given {
        rule: spec,
        values: Vec::new(),
        refused: false,
    };
    let mut seen: Vec<String> = Vec::new();
    for (key, tokens) in options {
        let k = key.to_string();
        if seen.contains(&k) {
            errors.spanned(&key, format!("duplicate option `{k}` of `{text}`"));
            continue;
        }
        seen.push(k.clone());
        if k == MESSAGE {
            message = lit_str(tokens, "`message`", errors).map(|l| l.value());
        } else if k == CODE {
            code = lit_str(tokens, "`code`", errors).map(|l| l.value());
        } else if let Some(opt) = spec.option(&k) {
            match value(opt.value, tokens, &format!("`{k}`"), errors) {
                Some(parsed) => given.values.push((opt.name, parsed)),
                None => given.refused = true,
            }
        } else {
            errors.spanned(
                &key,
                suggest::unknown(&format!("option of `{text}`"), &k, &spec.option_names()),
            );
        }
    }
    if spec.argument == Argument::Nothing
        && let Some(first) = positional.first()
    {
        errors.spanned(first, format!("`{text}` takes no argument here"));
    }

    let kind = match spec.name {
        EMAIL => {
            let mut unicode_local_part = false;
            for argument in &positional {
                if argument.to_string() == UNICODE_LOCAL_PART {
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
        URL => {
            let mut schemes = Vec::new();
            if let Some(lit) = given.take(SCHEMES).and_then(Parsed::text) {
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
        LEN => {
            let (min, max) = bounds(spec, span, &positional, &mut given, errors)?;
            let (min, max) = (min.and_then(Parsed::count), max.and_then(Parsed::count));
            if let (Some(lo), Some(hi)) = (min, max)
                && lo > hi
            {
                errors.at(span, format!("`len` has min {lo} greater than max {hi}"));
                return None;
            }
            RuleKind::Len { min, max }
        }
        RANGE => {
            let (min, max) = bounds(spec, span, &positional, &mut given, errors)?;
            let (min, max) = (min.and_then(Parsed::number), max.and_then(Parsed::number));
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
        REGEX => {
            let [pattern] = positional.as_slice() else {
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
            RuleKind::Regex {
                anchored,
                written: lit.value(),
            }
        }
        PASSWORD => {
            let min = given.count_or_default(MIN)?;
            let max = given.count_or_default(MAX)?;
            let (special, lit) = given.text_or_default(SPECIAL)?;
            if let (true, Some(lit)) = (special.is_empty(), lit) {
                errors.spanned(&lit, "the special character set cannot be empty");
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
        ONE_OF => {
            if positional.is_empty() {
                errors.at(
                    span,
                    "`one_of` needs at least one value: `one_of(\"a\", \"b\")`",
                );
                return None;
            }
            let strings: Vec<syn::LitStr> = positional
                .iter()
                .filter_map(|t| syn::parse2(t.clone()).ok())
                .collect();
            if strings.len() == positional.len() {
                RuleKind::OneOfText(strings)
            } else {
                let numbers: Vec<NumberLit> = positional
                    .iter()
                    .filter_map(|t| number(t.clone(), errors))
                    .collect();
                RuleKind::OneOfNumber(numbers)
            }
        }
        NON_EMPTY => RuleKind::NonEmpty,
        ASCII => RuleKind::Ascii,
        ALPHANUMERIC => RuleKind::Alphanumeric,
        NO_CONTROL_CHARS => RuleKind::NoControlChars,
        PREFIX | SUFFIX | CONTAINS => {
            let [value] = positional.as_slice() else {
                errors.at(span, format!("expected `{text} = \"..\"`"));
                return None;
            };
            let lit = lit_str(value.clone(), &format!("`{text}`"), errors)?;
            match spec.name {
                PREFIX => RuleKind::Prefix(lit),
                SUFFIX => RuleKind::Suffix(lit),
                _ => RuleKind::Contains(lit),
            }
        }
        MUST_MATCH => {
            let Some(other) = positional
                .first()
                .and_then(|t| syn::parse2::<syn::Ident>(t.clone()).ok())
            else {
                errors.at(span, "expected `must_match = other_field`");
                return None;
            };
            RuleKind::MustMatch(other)
        }
        CUSTOM => {
            let Some(path) = positional
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
        other => {
            errors.at(
                span,
                format!("the rule `{other}` is in warden's rule table but warden-macros has no check for it"),
            );
            return None;
        }
    };
    if errors.len() != before {
        return None;
    }
    Some(Rule {
        name: spec.name,
        kind,
        span,
        code: code.unwrap_or_else(|| spec.name.to_owned()),
        message,
    })
}

/// The bounds of `len` and `range`: one inclusive range, or the `min` and
/// `max` options; at least one bound. Both of the kind the table gives.
fn bounds(
    spec: &rules::Rule,
    span: Span,
    positional: &[TokenStream],
    given: &mut Given,
    errors: &mut Errors,
) -> Option<(Option<Parsed>, Option<Parsed>)> {
    let Argument::Bounds(kind) = spec.argument else {
        return None;
    };
    let rule = spec.name;
    let before = errors.len();
    let (mut min, mut max) = (None, None);
    match positional {
        [] => {}
        [range] => {
            let (lo, hi) = range_bounds(range.clone(), errors)?;
            min = lo.and_then(|t| value(kind, t, "", errors));
            max = hi.and_then(|t| value(kind, t, "", errors));
        }
        [_, extra, ..] => errors.spanned(extra, format!("`{rule}` takes one range")),
    }
    if let Some(value) = given.take(MIN) {
        min = Some(value);
    }
    if let Some(value) = given.take(MAX) {
        max = Some(value);
    }
    if errors.len() != before || given.refused {
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

/// `a..=b`, `a..` or `..=b`, as token streams.
fn range_bounds(
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

#[cfg(test)]
mod tests {
    use proc_macro2::TokenStream;
    use quote::quote;

    use super::*;
    use crate::derive_validate::parse;

    /// The checked rules of a field with `#[validate(tokens)]`.
    fn rules_of(tokens: TokenStream) -> (Vec<Rule>, Vec<String>) {
        let input: syn::DeriveInput = syn::parse_quote! {
            #[serde(deny_unknown_fields)]
            struct S {
                #[validate(#tokens)]
                a: String,
            }
        };
        let mut errors = Errors::new();
        let raw = parse::input(&input, &mut errors).unwrap();
        let mut model = self::input(raw, &mut errors);
        (model.fields.remove(0).rules, errors.messages())
    }

    #[test]
    fn every_rule_of_the_table_has_a_check() {
        for spec in rules::RULES {
            let name = syn::Ident::new(spec.name, Span::call_site());
            let (_, errors) = rules_of(quote!(#name));
            for error in errors {
                assert!(!error.contains("no check"), "{error}");
            }
        }
    }

    #[test]
    fn password_defaults_come_from_the_table() {
        let (rules, errors) = rules_of(quote!(password));
        assert!(errors.is_empty(), "{errors:?}");
        let RuleKind::Password { min, max, special } = &rules[0].kind else {
            panic!("not a password rule");
        };
        assert_eq!((*min, *max), (rules::PASSWORD_MIN, rules::PASSWORD_MAX));
        assert_eq!(special, rules::PASSWORD_SPECIAL);
        // A bound is checked against the other's default.
        let (_, errors) = rules_of(quote!(password(min = 200)));
        assert_eq!(errors, ["`password` has min 200 greater than max 128"]);
        let (_, errors) = rules_of(quote!(password(max = 8)));
        assert_eq!(errors, ["`password` has min 12 greater than max 8"]);
        let (rules, _) = rules_of(quote!(password(min = 8, special = "#")));
        assert!(matches!(
            &rules[0].kind,
            RuleKind::Password { min: 8, max: 128, special } if special == "#"
        ));
    }

    #[test]
    fn values_are_checked_by_their_kind_in_the_table() {
        let (_, errors) = rules_of(quote!(
            len(min = "1"),
            range(max = x),
            url(schemes = https),
            password(special = 3)
        ));
        assert_eq!(
            errors,
            [
                "expected a whole number",
                "expected a number literal",
                "expected a string literal for `schemes`",
                "expected a string literal for `special`",
            ]
        );
    }

    #[test]
    fn options_and_arguments_are_checked() {
        let (_, errors) = rules_of(quote!(
            url(scheme = "x"),
            ascii("x"),
            len(1..=2, 3..=4),
            regex("a", "b"),
            one_of()
        ));
        assert_eq!(errors.len(), 5, "{errors:#?}");
        assert!(errors[0].contains("did you mean `schemes`"));
        assert_eq!(errors[1], "`ascii` takes no argument here");
        assert_eq!(errors[2], "`len` takes one range");
        assert_eq!(errors[3], "expected `regex = \"pattern\"`");
        assert!(errors[4].starts_with("`one_of` needs at least one value"));
    }

    #[test]
    fn an_option_given_twice_is_an_error_not_a_silent_last_wins() {
        let (_, errors) = rules_of(quote!(
            len(min = 1, min = 2),
            password(min = 12, message = "a", message = "b")
        ));
        assert_eq!(
            errors,
            [
                "duplicate option `min` of `len`",
                "duplicate option `message` of `password`"
            ]
        );
    }

    #[test]
    fn struct_options_are_checked() {
        let input: syn::DeriveInput = syn::parse_quote! {
            #[validate(custom, allow_unknown_fields = true, custm = f, "x", custom = 3)]
            struct S {}
        };
        let mut errors = Errors::new();
        let raw = parse::input(&input, &mut errors).unwrap();
        let model = self::input(raw, &mut errors);
        assert!(model.custom.is_empty());
        assert_eq!(errors.len(), 6, "{:#?}", errors.messages());
    }
}
