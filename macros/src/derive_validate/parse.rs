//! Stage 1: the derive input -> its rules as written.
//!
//! Syntax only: which rules a field names and with which arguments, what
//! the struct's `#[validate(..)]` says, and the names serde reads the
//! fields under. Whether a rule exists, fits its arguments or agrees with
//! the other rules is for `check`.

use proc_macro2::TokenStream;
use quote::ToTokens;

use crate::attr::{self, Arg, Opt, Value, source_text};
use crate::ctxt::Errors;
use crate::symbol::{
    DENY_UNKNOWN_FIELDS, DESERIALIZE, FLATTEN, RENAME, RENAME_ALL, SERDE, VALIDATE,
};

/// A struct deriving `Validate`, as written.
pub(crate) struct RawInput {
    pub(crate) ident: syn::Ident,
    pub(crate) generics: syn::Generics,
    pub(crate) fields: Vec<RawField>,
    /// The arguments of `#[validate(..)]` on the struct.
    pub(crate) options: Vec<Arg>,
    /// `#[serde(deny_unknown_fields)]`.
    pub(crate) deny_unknown_fields: bool,
}

/// A field and its rules, as written.
pub(crate) struct RawField {
    pub(crate) ident: syn::Ident,
    pub(crate) ty: syn::Type,
    /// The name serde reads the field under; None for `#[serde(flatten)]`.
    pub(crate) wire_name: Option<String>,
    pub(crate) rules: Vec<RawRule>,
}

/// One rule as written: `email`, `len(2..=100, message = "..")`, or
/// `regex = ".."`, which is `regex("..")`.
pub(crate) struct RawRule {
    pub(crate) name: syn::Ident,
    /// Its arguments that are not `key = value`: a range, literals, flags,
    /// a path.
    pub(crate) positional: Vec<TokenStream>,
    /// Its `key = value` arguments.
    pub(crate) options: Vec<(syn::Ident, TokenStream)>,
}

impl RawRule {
    /// The rule as its author would write it: `len(2..=100)`,
    /// `regex("^a+$")`, `email`.
    pub(crate) fn written(&self) -> String {
        let mut args: Vec<String> = self.positional.iter().map(source_text).collect();
        args.extend(
            self.options
                .iter()
                .map(|(key, value)| format!("{key} = {}", source_text(value))),
        );
        if args.is_empty() {
            self.name.to_string()
        } else {
            format!("{}({})", self.name, args.join(", "))
        }
    }
}

/// The derive input as written, or None (reported) when it is not a struct
/// with named fields.
pub(crate) fn input(input: &syn::DeriveInput, errors: &mut Errors) -> Option<RawInput> {
    let syn::Data::Struct(syn::DataStruct {
        fields: syn::Fields::Named(named),
        ..
    }) = &input.data
    else {
        errors.spanned(
            &input.ident,
            "#[derive(Validate)] goes on a struct with named fields",
        );
        return None;
    };
    let mut deny_unknown_fields = false;
    let mut rename_all = None;
    for arg in serde_args(&input.attrs) {
        match arg {
            Arg::Option(Opt {
                key,
                value: Value::Flag,
            }) if key == DENY_UNKNOWN_FIELDS => deny_unknown_fields = true,
            Arg::Option(opt) if opt.key == RENAME_ALL => rename_all = serde_name(opt.value),
            _ => {}
        }
    }
    let mut options = Vec::new();
    for attr in input.attrs.iter().filter(|a| a.path().is_ident(VALIDATE)) {
        if let syn::Meta::List(list) = &attr.meta {
            options.extend(attr::parse(list.tokens.clone(), "an option", errors));
        }
    }
    let fields = named
        .named
        .iter()
        .filter_map(|field| {
            let ident = field.ident.clone()?;
            let (rename, flatten) = serde_field(&field.attrs);
            let wire_name = (!flatten).then(|| {
                rename.unwrap_or_else(|| {
                    let raw = ident.to_string();
                    let raw = raw.strip_prefix("r#").unwrap_or(&raw).to_owned();
                    rename_all
                        .as_deref()
                        .map_or(raw.clone(), |rule| self::rename_all(&raw, rule))
                })
            });
            Some(RawField {
                rules: field_rules(&field.attrs, errors),
                ident,
                ty: field.ty.clone(),
                wire_name,
            })
        })
        .collect();
    Some(RawInput {
        ident: input.ident.clone(),
        generics: input.generics.clone(),
        fields,
        options,
        deny_unknown_fields,
    })
}

/// The arguments of every `#[serde(..)]` among `attrs`, read leniently:
/// they are serde's to judge.
fn serde_args(attrs: &[syn::Attribute]) -> Vec<Arg> {
    attrs
        .iter()
        .filter(|a| a.path().is_ident(SERDE))
        .filter_map(|attr| match &attr.meta {
            syn::Meta::List(list) => Some(attr::parse_lenient(list.tokens.clone())),
            _ => None,
        })
        .flatten()
        .collect()
}

/// `rename = "x"` or `rename(deserialize = "x")` (and `rename_all`'s).
fn serde_name(value: Value) -> Option<String> {
    match value {
        Value::Assign(_, tokens) => syn::parse2::<syn::LitStr>(tokens).ok().map(|l| l.value()),
        Value::List(group) => attr::parse_lenient(group.stream())
            .into_iter()
            .find_map(|arg| match arg {
                Arg::Option(Opt {
                    key,
                    value: Value::Assign(_, tokens),
                }) if key == DESERIALIZE => {
                    syn::parse2::<syn::LitStr>(tokens).ok().map(|l| l.value())
                }
                _ => None,
            }),
        Value::Flag => None,
    }
}

/// The field's `#[serde(rename = ..)]` and whether it is `flatten`.
fn serde_field(attrs: &[syn::Attribute]) -> (Option<String>, bool) {
    let mut rename = None;
    let mut flatten = false;
    for arg in serde_args(attrs) {
        match arg {
            Arg::Option(opt) if opt.key == RENAME => rename = serde_name(opt.value),
            Arg::Option(Opt {
                key,
                value: Value::Flag,
            }) if key == FLATTEN => flatten = true,
            _ => {}
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

/// The rules of every `#[validate(..)]` on a field.
fn field_rules(attrs: &[syn::Attribute], errors: &mut Errors) -> Vec<RawRule> {
    let mut rules = Vec::new();
    for attr in attrs.iter().filter(|a| a.path().is_ident(VALIDATE)) {
        let syn::Meta::List(list) = &attr.meta else {
            errors.spanned(attr, "expected `#[validate(rule, ..)]`");
            continue;
        };
        for arg in attr::parse(list.tokens.clone(), "a rule", errors) {
            let Arg::Option(Opt { key, value }) = arg else {
                errors.spanned(
                    arg,
                    "expected a rule such as `email`, `len(2..=100)` or `regex = \"..\"`",
                );
                continue;
            };
            let mut rule = RawRule {
                name: key,
                positional: Vec::new(),
                options: Vec::new(),
            };
            match value {
                Value::Flag => {}
                // `rule = value` is `rule(value)`.
                Value::Assign(_, value) => rule.positional.push(value),
                Value::List(group) => {
                    for arg in attr::parse(group.stream(), "an argument", errors) {
                        match arg {
                            Arg::Option(Opt {
                                key,
                                value: Value::Assign(_, value),
                            }) => rule.options.push((key, value)),
                            other => rule.positional.push(other.into_token_stream()),
                        }
                    }
                }
            }
            rules.push(rule);
        }
    }
    rules
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(input: syn::DeriveInput) -> (Option<RawInput>, Vec<String>) {
        let mut errors = Errors::new();
        let raw = self::input(&input, &mut errors);
        (raw, errors.messages())
    }

    #[test]
    fn rules_are_read_as_written() {
        let (raw, errors) = parse(syn::parse_quote! {
            #[serde(deny_unknown_fields, rename_all = "camelCase")]
            #[validate(custom = whole)]
            struct S {
                #[validate(email(unicode_local_part), len(1..=5, message = "m"), regex = "x")]
                first_name: String,
                #[serde(rename(deserialize = "b"))]
                #[validate(frobnicate)]
                other: u8,
                #[serde(flatten)]
                rest: Rest,
            }
        });
        assert!(errors.is_empty(), "{errors:?}");
        let raw = raw.unwrap();
        assert!(raw.deny_unknown_fields);
        assert_eq!(raw.options.len(), 1);
        let first = &raw.fields[0];
        assert_eq!(first.wire_name.as_deref(), Some("firstName"));
        let names: Vec<String> = first.rules.iter().map(|r| r.name.to_string()).collect();
        assert_eq!(names, ["email", "len", "regex"]);
        assert_eq!(first.rules[0].positional.len(), 1);
        assert_eq!(first.rules[1].positional.len(), 1);
        assert_eq!(first.rules[1].options.len(), 1);
        assert_eq!(first.rules[2].positional.len(), 1);
        assert_eq!(raw.fields[1].wire_name.as_deref(), Some("b"));
        assert_eq!(raw.fields[1].rules[0].name, "frobnicate");
        assert_eq!(raw.fields[2].wire_name, None);
    }

    #[test]
    fn syntax_errors_are_reported_and_skipped() {
        let (raw, errors) = parse(syn::parse_quote! {
            struct S {
                #[validate("email", len(,), regex = )]
                a: String,
                #[validate]
                b: String,
            }
        });
        assert_eq!(
            errors,
            [
                "expected a value after `regex =`",
                "expected a rule such as `email`, `len(2..=100)` or `regex = \"..\"`",
                "expected an argument before this comma",
                "expected `#[validate(rule, ..)]`",
            ]
        );
        assert_eq!(raw.unwrap().fields[0].rules.len(), 1);
    }

    #[test]
    fn serde_is_read_but_not_judged() {
        let (raw, errors) = parse(syn::parse_quote! {
            #[serde(rename_all = , deny_unknown_fields)]
            struct S {
                #[serde(rename = "x" y, default)]
                a: String,
            }
        });
        assert!(errors.is_empty(), "{errors:?}");
        let raw = raw.unwrap();
        assert!(raw.deny_unknown_fields);
        assert_eq!(raw.fields[0].wire_name.as_deref(), Some("a"));
    }

    #[test]
    fn rename_all_follows_serde() {
        assert_eq!(rename_all("first_name", "camelCase"), "firstName");
        assert_eq!(rename_all("first_name", "PascalCase"), "FirstName");
        assert_eq!(rename_all("first_name", "kebab-case"), "first-name");
        assert_eq!(
            rename_all("first_name", "SCREAMING_SNAKE_CASE"),
            "FIRST_NAME"
        );
    }
}
