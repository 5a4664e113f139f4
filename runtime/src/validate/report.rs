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
    /// (empty for the value as a whole).
    pub path: String,
    /// The rule's stable code (`email`, `len`, or a `code = ".."` override).
    pub code: Cow<'static, str>,
    /// What to fix, for a person. Never echoes the value.
    pub message: Cow<'static, str>,
}

/// Every broken rule of a value, reported at once.
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

    /// The 400 problem listing every issue.
    pub fn to_problem(&self) -> Problem {
        let detail = match self.0.len() {
            1 => "the request breaks 1 rule; see `issues`".to_owned(),
            n => format!("the request breaks {n} rules; see `issues`"),
        };
        Problem::new(StatusCode::BAD_REQUEST, "validation_failed", detail)
            .with_member("issues", serde_json::to_value(&self.0).unwrap_or_default())
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
        self.path.push(Segment::Key(key.to_string()));
    }

    /// Comes back out of the last field, item or entry.
    #[doc(hidden)]
    pub fn leave(&mut self) {
        self.path.pop();
    }

    fn path_string(&self, extra: Option<&str>) -> String {
        let mut out = String::new();
        let dot = |out: &mut String| {
            if !out.is_empty() {
                out.push('.');
            }
        };
        for segment in &self.path {
            match segment {
                Segment::Field(name) => {
                    dot(&mut out);
                    out.push_str(name);
                }
                Segment::Key(key) => {
                    dot(&mut out);
                    out.push_str(key);
                }
                Segment::Index(i) => {
                    let _ = write!(out, "[{i}]");
                }
            }
        }
        if let Some(extra) = extra {
            dot(&mut out);
            out.push_str(extra);
        }
        out
    }

    /// Records a broken rule at the current path.
    pub fn fail(
        &mut self,
        code: impl Into<Cow<'static, str>>,
        message: impl Into<Cow<'static, str>>,
    ) {
        let path = self.path_string(None);
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
        let path = self.path_string((!field.is_empty()).then_some(field));
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
        let mut path = self.path_string((!field.is_empty()).then_some(field));
        if let Some(extra) = invalid.field.as_deref() {
            if !path.is_empty() {
                path.push('.');
            }
            path.push_str(extra);
        }
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
    pub fn finish(self) -> Result<(), Issues> {
        if self.issues.is_empty() {
            Ok(())
        } else {
            Err(Issues(self.issues))
        }
    }
}
