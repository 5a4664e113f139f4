//! Stage 2: rules that look across the whole struct.

use super::model::{Input, RuleKind};
use super::parse::StructAttrs;
use crate::ctxt::Errors;
use crate::suggest;

pub(crate) fn input(input: &Input, attrs: &StructAttrs, errors: &mut Errors) {
    if !attrs.deny_unknown_fields && !attrs.allow_unknown_fields {
        errors.spanned(
            &input.ident,
            "validated types refuse unknown fields: add `#[serde(deny_unknown_fields)]` (mass assignment, OWASP API3), or opt out explicitly with `#[validate(allow_unknown_fields)]`",
        );
    }
    let names: Vec<String> = input
        .fields
        .iter()
        .map(|f| match &f.member {
            syn::Member::Named(ident) => ident.to_string(),
            syn::Member::Unnamed(index) => index.index.to_string(),
        })
        .collect();
    let candidates: Vec<&str> = names.iter().map(String::as_str).collect();
    for field in &input.fields {
        for rule in &field.rules {
            if let RuleKind::MustMatch(other) = &rule.kind {
                let other_name = other.to_string();
                if !names.contains(&other_name) {
                    errors.spanned(other, suggest::unknown("field", &other_name, &candidates));
                } else if matches!(&field.member, syn::Member::Named(me) if *me == other_name) {
                    errors.spanned(other, "a field always matches itself; name another field");
                }
            }
        }
    }
}
