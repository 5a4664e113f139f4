//! Every warden handler linked into the program, with its policy: one list
//! a team can review or snapshot-test.

use std::fmt;

use crate::limit::{KeySpec, LimitSpec, RateSpec, Skip};

/// The policy of one handler, registered by its attributes at compile time.
#[derive(Debug)]
pub struct HandlerPolicy {
    /// The handler's path (`my_app::routes::login`).
    pub handler: &'static str,
    /// The source file of the handler.
    pub file: &'static str,
    /// The line of the handler's name in [`file`](Self::file).
    pub line: u32,
    /// The `#[protected(..)]` requirement as written, if the handler is
    /// protected (`""` for a bare `#[protected]`).
    pub protected: Option<&'static str>,
    /// The `#[protected(..)]` requirements, all of which must hold, in a
    /// form tools read (the OpenAPI security requirements); empty for a bare
    /// `#[protected]` and for a handler that is not protected.
    pub requirements: &'static [Requirement],
    /// The object-level `check = ..` function as written, if any.
    pub check: Option<&'static str>,
    /// Whether the handler is marked `#[public]`: deliberately open.
    pub public: bool,
    /// The handler's rate limits, in source order.
    pub limits: &'static [LimitSpec],
    /// The parameters `#[validate]` checks.
    pub validated: &'static [ValidatedParam],
}

/// A role or scope expression of `#[protected(..)]`.
#[derive(Debug, Clone, Copy)]
pub enum Requirement {
    /// `role = Role::Admin`: the role's name in tokens, through
    /// [`Role::as_str`](crate::auth::Role::as_str).
    Role(fn() -> &'static str),
    /// `scope = "reports:read"`.
    Scope(&'static str),
    /// `any(..)`: at least one holds.
    Any(&'static [Requirement]),
    /// `all(..)`: every one holds.
    All(&'static [Requirement]),
    /// `not(..)`: the inner one does not hold.
    Not(&'static Requirement),
}

/// A value named in `role = ..`, for the name the manifest shows. Read
/// through [`ViaRole`] when its type is a role, and through [`ViaNoRole`]
/// (an empty name) when it is not, so that a value of another type is
/// reported once, by the role check, not again here.
#[doc(hidden)]
pub struct RoleName<'a, T: ?Sized>(pub &'a T);

/// The name of a role, through [`Role::as_str`](crate::auth::Role::as_str).
#[doc(hidden)]
pub trait ViaRole {
    fn __warden_role_name(&self) -> &'static str;
}

impl<T: crate::auth::Role + ?Sized> ViaRole for RoleName<'_, T> {
    fn __warden_role_name(&self) -> &'static str {
        self.0.as_str()
    }
}

/// No name: the value is not a role, which the role check reports.
#[doc(hidden)]
pub trait ViaNoRole {
    fn __warden_role_name(&self) -> &'static str;
}

impl<T: ?Sized> ViaNoRole for &RoleName<'_, T> {
    fn __warden_role_name(&self) -> &'static str {
        ""
    }
}

/// A parameter `#[validate]` checks.
#[derive(Debug)]
pub struct ValidatedParam {
    /// Its type as written (`Json<Register>`).
    pub written: &'static str,
    /// The extractor, the last segment of the type's path: `Json`, `Form`,
    /// `Query`, ...
    pub extractor: &'static str,
    /// The rules of the type inside, when `#[derive(Validate)]` wrote them.
    pub rules: Option<TypeRules>,
}

/// The rules of a `#[derive(Validate)]` type.
#[derive(Debug, Clone, Copy)]
pub struct TypeRules {
    /// The type's name (`Register`), as schema generators name it.
    pub name: &'static str,
    /// Whether unknown fields are refused (`#[serde(deny_unknown_fields)]`).
    pub strict: bool,
    /// Each field with rules, under the name serde reads it by.
    pub fields: &'static [FieldRules],
}

/// The rules of one field, as written (`len(12..=128)`, `password`).
#[derive(Debug, Clone, Copy)]
pub struct FieldRules {
    /// The field's name in the request.
    pub field: &'static str,
    /// Its rules as written, in source order.
    pub rules: &'static [&'static str],
    /// Its rules in a form tools read (the OpenAPI schema keywords), in
    /// source order.
    pub specs: &'static [RuleSpec],
}

/// One rule of a field, as `#[derive(Validate)]` checks it.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum RuleSpec {
    /// `email`: an address as a browser's `<input type=email>` takes it,
    /// or with a UTF-8 local part.
    Email {
        /// `email(unicode_local_part)`.
        unicode_local_part: bool,
    },
    /// `url`: an absolute URL with one of these schemes.
    Url {
        /// The schemes allowed.
        schemes: &'static [&'static str],
    },
    /// `len(..)`: characters of text, items of a list, entries of a map.
    Len {
        /// The least length.
        min: Option<u64>,
        /// The greatest length.
        max: Option<u64>,
    },
    /// `range(..)`: a number within inclusive bounds.
    Range {
        /// The least value.
        min: Option<f64>,
        /// The greatest value.
        max: Option<f64>,
    },
    /// `regex = ".."`: the pattern as written, which must match the whole
    /// value.
    Regex(&'static str),
    /// `password`: `min..=max` characters with an upper-case letter, a
    /// lower-case letter, an ASCII digit and one of `special`.
    Password {
        /// The least number of characters.
        min: u64,
        /// The greatest number of characters.
        max: u64,
        /// The special characters, one of which is required.
        special: &'static str,
    },
    /// `one_of(..)` over text.
    OneOfText(&'static [&'static str]),
    /// `one_of(..)` over numbers.
    OneOfNumber(&'static [f64]),
    /// `non_empty`.
    NonEmpty,
    /// `ascii`.
    Ascii,
    /// `alphanumeric`: letters and digits of any script.
    Alphanumeric,
    /// `no_control_chars`.
    NoControlChars,
    /// `prefix = ".."`.
    Prefix(&'static str),
    /// `suffix = ".."`.
    Suffix(&'static str),
    /// `contains = ".."`.
    Contains(&'static str),
    /// `must_match = field`: equal to that field (by its name in Rust).
    MustMatch(&'static str),
    /// `custom = f`: the function's path as written.
    Custom(&'static str),
}

inventory::collect!(HandlerPolicy);

/// Every registered handler policy, sorted by handler path.
pub fn manifest() -> Vec<&'static HandlerPolicy> {
    let mut all: Vec<_> = inventory::iter::<HandlerPolicy>.into_iter().collect();
    all.sort_by_key(|p| p.handler);
    all
}

impl fmt::Display for HandlerPolicy {
    /// One line: `path: protected(role = Role::Admin); limit 5 per 900s by ip`.
    /// A handler is `protected`, `public` (marked `#[public]`), or
    /// `unmarked` (neither: open, without saying so).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.handler, self.access())?;
        for limit in self.limits {
            match limit.rate {
                RateSpec::Inline(rate) => write!(
                    f,
                    "; limit \"{}\" {} per {}s by {}",
                    limit.name,
                    rate.count(),
                    rate.window().as_secs(),
                    limit.key.kind()
                )?,
                RateSpec::Named(name) => {
                    write!(f, "; limit policy \"{name}\" by {}", limit.key.kind())?
                }
            }
            match limit.skip {
                Skip::Nothing => {}
                Skip::Successful => write!(f, " skip_successful")?,
                Skip::Failed => write!(f, " skip_failed")?,
            }
        }
        if !self.validated.is_empty() {
            let written: Vec<&str> = self.validated.iter().map(|v| v.written).collect();
            write!(f, "; validates {}", written.join(", "))?;
        }
        Ok(())
    }
}

impl HandlerPolicy {
    /// Who may call the handler: `public`, `protected`,
    /// `protected(<requirement>)`, or `unmarked`.
    pub fn access(&self) -> String {
        match self.protected {
            Some(requirement) if !requirement.is_empty() => format!("protected({requirement})"),
            _ => self.access_kind().to_owned(),
        }
    }

    /// `protected`, `public` or `unmarked`, without the requirement.
    fn access_kind(&self) -> &'static str {
        match (self.protected, self.public) {
            (Some(_), _) => "protected",
            (None, true) => "public",
            (None, false) => "unmarked",
        }
    }

    /// Each limit in words: `5 per 15m by ip, skip_successful ("5-per-15m")`.
    pub fn limit_lines(&self) -> Vec<String> {
        self.limits
            .iter()
            .map(|limit| {
                let rate = match limit.rate {
                    RateSpec::Inline(rate) => {
                        format!("{} per {}", rate.count(), window_text(rate.window()))
                    }
                    RateSpec::Named(name) => format!("policy {name:?}"),
                };
                let key = match limit.key {
                    KeySpec::Header(name) => format!("header {name}"),
                    ref other => other.kind().to_owned(),
                };
                let skip = match limit.skip {
                    Skip::Nothing => "",
                    Skip::Successful => ", skip_successful",
                    Skip::Failed => ", skip_failed",
                };
                format!("{rate} by {key}{skip} ({:?})", limit.name)
            })
            .collect()
    }

    /// The policy as JSON: what [`PolicyTable`] serialises for each handler.
    pub fn to_json(&self) -> serde_json::Value {
        let limits: Vec<serde_json::Value> = self
            .limits
            .iter()
            .map(|limit| {
                let (rate, policy) = match limit.rate {
                    RateSpec::Inline(rate) => (
                        serde_json::json!({
                            "count": rate.count(),
                            "windowSeconds": rate.window().as_secs_f64(),
                        }),
                        serde_json::Value::Null,
                    ),
                    RateSpec::Named(name) => (serde_json::Value::Null, name.into()),
                };
                let header = match limit.key {
                    KeySpec::Header(name) => serde_json::Value::from(name),
                    _ => serde_json::Value::Null,
                };
                serde_json::json!({
                    "name": limit.name,
                    "rate": rate,
                    "policy": policy,
                    "key": limit.key.kind(),
                    "header": header,
                    "skip": match limit.skip {
                        Skip::Nothing => serde_json::Value::Null,
                        Skip::Successful => "successful".into(),
                        Skip::Failed => "failed".into(),
                    },
                })
            })
            .collect();
        let validated: Vec<serde_json::Value> = self
            .validated
            .iter()
            .map(|param| {
                let (strict, fields) = match &param.rules {
                    Some(rules) => (
                        serde_json::Value::from(rules.strict),
                        rules
                            .fields
                            .iter()
                            .map(|f| serde_json::json!({"field": f.field, "rules": f.rules}))
                            .collect(),
                    ),
                    None => (serde_json::Value::Null, Vec::new()),
                };
                serde_json::json!({"parameter": param.written, "strict": strict, "fields": fields})
            })
            .collect();
        serde_json::json!({
            "handler": self.handler,
            "location": format!("{}:{}", self.file, self.line),
            "access": self.access_kind(),
            "requirement": self.protected.filter(|r| !r.is_empty()),
            "limits": limits,
            "validated": validated,
        })
    }
}

/// One row of a [`PolicyTable`]: a route (when the handler was routed
/// through [`warden::routing`](crate::routing)) and its handler's policy.
#[derive(Debug, Clone)]
pub struct PolicyRow {
    /// `GET`, `POST`, ...; `None` for a handler not routed through
    /// `warden::routing`.
    pub method: Option<&'static str>,
    /// The route's path (`/api/data`).
    pub path: Option<String>,
    /// The handler's policy.
    pub policy: &'static HandlerPolicy,
}

/// Who may call what, how often, with what input: a reviewable table of
/// routes and their policies, as text ([`Display`](fmt::Display)) or JSON
/// ([`to_json`](Self::to_json)). Built from a router with
/// [`Router::policy_table`](crate::routing::Router::policy_table), or from
/// the whole [`manifest`] with [`PolicyTable::of_manifest`].
#[derive(Debug, Clone)]
pub struct PolicyTable {
    rows: Vec<PolicyRow>,
}

impl PolicyTable {
    /// Every handler of the program, unrouted, sorted by path.
    pub fn of_manifest() -> Self {
        Self {
            rows: manifest()
                .into_iter()
                .map(|policy| PolicyRow {
                    method: None,
                    path: None,
                    policy,
                })
                .collect(),
        }
    }

    pub(crate) fn of_rows(mut rows: Vec<PolicyRow>) -> Self {
        rows.sort_by(|a, b| (&a.path, a.method).cmp(&(&b.path, b.method)));
        Self { rows }
    }

    /// The rows.
    pub fn rows(&self) -> &[PolicyRow] {
        &self.rows
    }

    /// The table as JSON: an array with one object per row.
    pub fn to_json(&self) -> serde_json::Value {
        self.rows
            .iter()
            .map(|row| {
                let mut value = row.policy.to_json();
                value["method"] = row.method.into();
                value["path"] = row.path.clone().into();
                value
            })
            .collect()
    }
}

impl fmt::Display for PolicyTable {
    /// One block per route: the route and handler, then who may call it,
    /// its limits, and its validated input field by field.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, row) in self.rows.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            let policy = row.policy;
            match (row.method, &row.path) {
                (Some(method), Some(path)) => writeln!(f, "{method} {path}")?,
                _ => writeln!(f, "(not routed through warden::routing)")?,
            }
            writeln!(f, "  handler   {}", policy.handler)?;
            writeln!(f, "  access    {}", policy.access())?;
            for (j, limit) in policy.limit_lines().iter().enumerate() {
                let label = if j == 0 { "limit" } else { "" };
                writeln!(f, "  {label:<9} {limit}")?;
            }
            for param in policy.validated {
                let strict = match param.rules {
                    Some(rules) if rules.strict => ", unknown fields refused",
                    Some(_) => ", unknown fields allowed",
                    None => ", rules written by hand",
                };
                writeln!(f, "  validates {}{strict}", param.written)?;
                for field in param.rules.iter().flat_map(|r| r.fields) {
                    writeln!(f, "    {:<10} {}", field.field, field.rules.join(", "))?;
                }
            }
        }
        Ok(())
    }
}

/// A window as the attributes write it: `15m`, `1h`, `1d`, `90s`, `500ms`.
fn window_text(window: std::time::Duration) -> String {
    let millis = window.as_millis();
    if !millis.is_multiple_of(1000) {
        return format!("{millis}ms");
    }
    let seconds = window.as_secs();
    for (unit, size) in [("d", 86_400), ("h", 3_600), ("m", 60)] {
        if seconds >= size && seconds.is_multiple_of(size) {
            return format!("{}{unit}", seconds / size);
        }
    }
    format!("{seconds}s")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn windows_read_as_written() {
        assert_eq!(window_text(Duration::from_secs(900)), "15m");
        assert_eq!(window_text(Duration::from_secs(3600)), "1h");
        assert_eq!(window_text(Duration::from_secs(86_400)), "1d");
        assert_eq!(window_text(Duration::from_secs(90)), "90s");
        assert_eq!(window_text(Duration::from_millis(1500)), "1500ms");
    }
}
