use std::borrow::Cow;
use std::fmt::{self, Write as _};

use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde::Serialize;
use smallvec::SmallVec;

use crate::http::Problem;

/// One broken rule: where, which, and what to fix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Issue {
    /// Where, with field names as serde spells them: `items[2].name`
    /// (empty for the value as a whole). A name that is not plain letters,
    /// digits, `_` and `-` is written as a JSON string in brackets
    /// (`labels["a.b"]`).
    pub path: String,
    /// The rule's stable code (`email`, `len`, or a `code = ".."` override).
    pub code: Cow<'static, str>,
    /// What to fix, for a person. Never echoes the value.
    pub message: Cow<'static, str>,
}

/// The most issues one report lists; past it, a last issue with the code
/// `truncated` says that more rules are broken. A body of 64 KiB could
/// otherwise break a rule per byte, and its answer would be many times its
/// size.
pub const MAX_ISSUES: usize = 100;
/// The longest path an issue carries, in bytes; a longer one is cut and
/// ends with `...`. Map keys come from the client.
pub const MAX_PATH: usize = 256;
/// The longest map key a path carries, in bytes.
const MAX_KEY: usize = 64;
/// The code of the marker issue that ends a truncated list.
pub const TRUNCATED: &str = "truncated";

/// Every broken rule of a value, reported at once (at most
/// [`MAX_ISSUES`], then a [`TRUNCATED`] marker).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Issues(pub Vec<Issue>);

impl Issues {
    /// The issues, in the order the rules ran.
    pub fn iter(&self) -> std::slice::Iter<'_, Issue> {
        self.0.iter()
    }

    /// How many rules were broken.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether no rule was broken.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether the list stops at [`MAX_ISSUES`] with more rules broken.
    pub fn truncated(&self) -> bool {
        self.0.last().is_some_and(|i| i.code == TRUNCATED)
    }

    /// The 400 problem listing every issue (and `"truncated": true` when
    /// the list stops short).
    pub fn to_problem(&self) -> Problem {
        let detail = match (self.0.len(), self.truncated()) {
            (_, true) => format!(
                "the request breaks more than {MAX_ISSUES} rules; the first {MAX_ISSUES} are in `issues`"
            ),
            (1, false) => "the request breaks 1 rule; see `issues`".to_owned(),
            (n, false) => format!("the request breaks {n} rules; see `issues`"),
        };
        let problem = Problem::new(StatusCode::BAD_REQUEST, "validation_failed", detail)
            .with_member("issues", serde_json::to_value(&self.0).unwrap_or_default());
        if self.truncated() {
            problem.with_member("truncated", true.into())
        } else {
            problem
        }
    }
}

impl fmt::Display for Issues {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, issue) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            let path = if issue.path.is_empty() {
                "(value)"
            } else {
                &issue.path
            };
            write!(f, "{path}: {}", issue.message)?;
        }
        Ok(())
    }
}

impl std::error::Error for Issues {}

impl IntoResponse for Issues {
    fn into_response(self) -> Response {
        self.to_problem().into_response()
    }
}

/// A rule's failure as a custom function reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub(crate) code: Cow<'static, str>,
    pub(crate) message: Cow<'static, str>,
    pub(crate) field: Option<Cow<'static, str>>,
}

impl Invalid {
    /// A failure with a stable code and a message for people.
    pub fn new(code: impl Into<Cow<'static, str>>, message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
            field: None,
        }
    }

    /// Reports the failure under this field (for struct-level rules).
    pub fn at_field(mut self, field: impl Into<Cow<'static, str>>) -> Self {
        self.field = Some(field.into());
        self
    }
}

enum Segment {
    Field(&'static str),
    Index(usize),
    Key(String),
}

/// Collects issues while a value is validated. The path is only spelt out
/// when a rule fails, so a valid value costs no string building.
#[derive(Default)]
pub struct Report {
    issues: Vec<Issue>,
    path: SmallVec<[Segment; 4]>,
    truncated: bool,
}

impl fmt::Debug for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Report")
            .field("issues", &self.issues)
            .finish()
    }
}

impl Report {
    /// An empty report.
    #[inline]
    pub fn new() -> Self {
        Self::default()
    }

    /// Goes into a field.
    #[doc(hidden)]
    pub fn enter_field(&mut self, name: &'static str) {
        self.path.push(Segment::Field(name));
    }

    /// Goes into a list item.
    #[doc(hidden)]
    pub fn enter_index(&mut self, index: usize) {
        self.path.push(Segment::Index(index));
    }

    /// Goes into a map entry.
    #[doc(hidden)]
    pub fn enter_key(&mut self, key: &dyn fmt::Display) {
        let mut key = key.to_string();
        if key.len() > MAX_KEY {
            cut(&mut key, MAX_KEY);
        }
        self.path.push(Segment::Key(key));
    }

    /// Comes back out of the last field, item or entry.
    #[doc(hidden)]
    pub fn leave(&mut self) {
        self.path.pop();
    }

    fn path_string(&self, extras: &[&str]) -> String {
        let mut out = String::new();
        for segment in &self.path {
            match segment {
                // A name as it reads when it is a plain one, else as a
                // JSON string in brackets (`labels["a.b[0"]`), so that no
                // key the client chose can forge a path or carry a control
                // character, and a field is spelt as its data issues spell
                // it (`serde(rename = "a.b")` is `["a.b"]` in both).
                Segment::Field(name) => push_key(&mut out, name),
                Segment::Key(key) => push_key(&mut out, key),
                Segment::Index(i) => {
                    let _ = write!(out, "[{i}]");
                }
            }
        }
        for extra in extras.iter().filter(|e| !e.is_empty()) {
            push_key(&mut out, extra);
        }
        if out.len() > MAX_PATH {
            cut(&mut out, MAX_PATH);
        }
        out
    }

    /// Whether the list is full: then a failure is only counted, and its
    /// path is not even spelt out.
    fn full(&mut self) -> bool {
        if self.issues.len() >= MAX_ISSUES {
            self.truncated = true;
        }
        self.truncated
    }

    /// Records a broken rule at the current path.
    pub fn fail(
        &mut self,
        code: impl Into<Cow<'static, str>>,
        message: impl Into<Cow<'static, str>>,
    ) {
        if self.full() {
            return;
        }
        let path = self.path_string(&[]);
        self.issues.push(Issue {
            path,
            code: code.into(),
            message: message.into(),
        });
    }

    /// Records a broken rule at `field` under the current path (`""`: at
    /// the current path).
    #[doc(hidden)]
    pub fn fail_at(
        &mut self,
        field: &'static str,
        code: impl Into<Cow<'static, str>>,
        message: impl Into<Cow<'static, str>>,
    ) {
        if self.full() {
            return;
        }
        let path = self.path_string(&[field]);
        self.issues.push(Issue {
            path,
            code: code.into(),
            message: message.into(),
        });
    }

    /// Records what a custom rule returned, at its field if it names one.
    pub fn invalid(&mut self, invalid: Invalid) {
        self.invalid_at("", invalid);
    }

    /// Records what a custom rule of `field` returned.
    #[doc(hidden)]
    pub fn invalid_at(&mut self, field: &'static str, invalid: Invalid) {
        if self.full() {
            return;
        }
        let path = self.path_string(&[field, invalid.field.as_deref().unwrap_or_default()]);
        self.issues.push(Issue {
            path,
            code: invalid.code,
            message: invalid.message,
        });
    }

    /// Whether any rule failed so far.
    pub fn has_issues(&self) -> bool {
        !self.issues.is_empty()
    }

    /// `Ok` when no rule failed, every issue otherwise.
    #[inline]
    pub fn finish(mut self) -> Result<(), Issues> {
        if self.issues.is_empty() {
            return Ok(());
        }
        if self.truncated {
            self.issues.push(truncated_marker());
        }
        Err(Issues(self.issues))
    }
}

/// Appends a name to a path (a field, a map key, an unknown field): as it
/// is when it reads as a name (letters, digits, `_`, `-`), else as a
/// quoted string in brackets (`labels["a.b[0"]`) with `"`, `\` and every
/// control character escaped, so that no key can forge a path or put a
/// control character in it. Every path warden writes spells names this
/// way, so that one field has one spelling.
pub(crate) fn push_key(out: &mut String, key: &str) {
    let plain = !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if plain {
        if !out.is_empty() {
            out.push('.');
        }
        out.push_str(key);
        return;
    }
    out.push_str("[\"");
    for c in key.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push_str("\"]");
}

/// A path as serde reported it, written as warden writes paths: field
/// names and map keys through [`push_key`], indexes in brackets.
pub(crate) fn path_of(path: &serde_path_to_error::Path) -> String {
    let mut out = String::new();
    for segment in path.iter() {
        match segment {
            serde_path_to_error::Segment::Seq { index } => {
                let _ = write!(out, "[{index}]");
            }
            serde_path_to_error::Segment::Map { key } => push_key(&mut out, key),
            serde_path_to_error::Segment::Enum { variant } => push_key(&mut out, variant),
            serde_path_to_error::Segment::Unknown => push_key(&mut out, "?"),
        }
    }
    if out.len() > MAX_PATH {
        cut(&mut out, MAX_PATH);
    }
    out
}

/// The issue that ends a list cut at [`MAX_ISSUES`].
pub(crate) fn truncated_marker() -> Issue {
    Issue {
        path: String::new(),
        code: TRUNCATED.into(),
        message: "more rules are broken than are listed; fix these and send again".into(),
    }
}

/// Cuts `text` to at most `max` bytes, at a character boundary, and marks
/// the cut with `...`.
pub(crate) fn cut(text: &mut String, max: usize) {
    let mut end = max.saturating_sub(3);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    text.push_str("...");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_spelt_as_data_issues_spell_them() {
        let mut report = Report::new();
        report.enter_field("items");
        report.enter_index(2);
        report.enter_field("a.b");
        report.fail("len", "m");
        report.fail_at("c d", "len", "m");
        report.leave();
        report.leave();
        report.leave();
        report.invalid_at("plain", Invalid::new("x", "m").at_field("odd`name"));
        report.enter_key(&"k");
        report.fail_at("first_name", "len", "m");
        let issues = report.finish().unwrap_err();
        let paths: Vec<&str> = issues.iter().map(|i| i.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                r#"items[2]["a.b"]"#,
                r#"items[2]["a.b"]["c d"]"#,
                r#"plain["odd`name"]"#,
                "k.first_name",
            ]
        );
        // As serde_path_to_error's paths are written.
        let mut path = String::new();
        push_key(&mut path, "items");
        push_key(&mut path, "a.b");
        assert_eq!(path, r#"items["a.b"]"#);
    }
}
