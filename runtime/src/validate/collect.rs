//! Every data issue of a JSON body at once: wrongly typed, missing and
//! unknown fields, then the rules the fields that did parse break.
//!
//! serde stops at the first error. To list them all, a body that failed is
//! read as a `serde_json::Value` and deserialised again and again; after
//! each error the offending part is repaired with a placeholder (an unknown
//! field removed, a missing or mistyped one given a value of a shape that
//! parses), and the next error is found. The placeholders' own rule issues
//! are not reported. Only a body that failed pays for this, and the number
//! of repairs is bounded.
//!
//! Which repair an error calls for is read from its kind
//! ([`DataError`], see [`super::capture`]), never from its message.

use serde::de::DeserializeOwned;
use serde_json::Value;
use serde_path_to_error::Segment;

use super::capture::{self, DataError};
use super::report::{MAX_ISSUES, TRUNCATED, path_of, truncated_marker};
use super::{Issue, Issues, Validate};

/// The most repairs tried for one body: each is a few parses of it.
const MAX_REPAIRS: usize = 16;

/// Values of every JSON shape, to try in place of a broken one.
fn candidates() -> [Value; 6] {
    [
        Value::Null,
        Value::String(String::new()),
        Value::from(0),
        Value::Bool(false),
        Value::Array(Vec::new()),
        Value::Object(serde_json::Map::new()),
    ]
}

/// One step into a JSON value.
#[derive(PartialEq, Eq)]
enum Step {
    Key(String),
    Index(usize),
}

fn steps(path: &serde_path_to_error::Path) -> Option<Vec<Step>> {
    path.iter()
        .map(|segment| match segment {
            Segment::Map { key } => Some(Step::Key(key.clone())),
            Segment::Seq { index } => Some(Step::Index(*index)),
            _ => None,
        })
        .collect()
}

fn at<'v>(value: &'v mut Value, steps: &[Step]) -> Option<&'v mut Value> {
    steps.iter().try_fold(value, |value, step| match step {
        Step::Key(key) => value.as_object_mut()?.get_mut(key),
        Step::Index(index) => value.as_array_mut()?.get_mut(*index),
    })
}

/// The first error of `value` as a `T`: its path as warden spells it, its
/// steps, and what it is.
fn first_error<T: DeserializeOwned>(
    value: &Value,
) -> Result<T, (String, Option<Vec<Step>>, DataError)> {
    capture::deserialize::<_, T>(value)
        .map_err(|failure| (path_of(&failure.path), steps(&failure.path), failure.error))
}

/// Whether `error` says that `field` is missing.
fn missing(error: &DataError, field: &str) -> bool {
    matches!(error, DataError::MissingField(missing) if *missing == field)
}

/// Every issue of `value`, which failed to parse as a `T`; `None` when no
/// data issue could be found this way (the caller reports the first one).
pub(super) fn every_issue<T: DeserializeOwned + Validate>(mut value: Value) -> Option<Issues> {
    repair_all(&mut value, first_error::<T>, |value, (_, steps, error)| {
        let steps = steps.as_ref()?;
        Some(match error {
            DataError::UnknownField { .. } => remove(value, steps),
            DataError::MissingField(field) => insert::<T>(value, steps, field),
            _ => replace::<T>(value, steps),
        })
    })
}

/// The loop both readers share: find the first error, record it, repair
/// the document so that parsing gets past it, and go on, at most
/// [`MAX_REPAIRS`] times. `repair` answers `None` when the error cannot be
/// repaired (it is recorded, and the search ends), else whether it was.
fn repair_all<T: Validate, D, X>(
    document: &mut D,
    parse: impl Fn(&D) -> Result<T, (String, X, DataError)>,
    mut repair: impl FnMut(&mut D, &(String, X, DataError)) -> Option<bool>,
) -> Option<Issues> {
    let mut issues: Vec<Issue> = Vec::new();
    let mut repaired: Vec<String> = Vec::new();
    let mut parsed = None;
    for _ in 0..MAX_REPAIRS {
        let error = match parse(document) {
            Ok(value) => {
                parsed = Some(value);
                break;
            }
            Err(error) => error,
        };
        let issue = error.2.to_issue(error.0.clone());
        if repeated(&issues, &issue) {
            break;
        }
        let fixed = repair(document, &error);
        if fixed.is_some() {
            repaired.push(issue.path.clone());
        }
        issues.push(issue);
        if fixed != Some(true) {
            break;
        }
    }
    finish(issues, &repaired, parsed.as_ref())
}

/// The data issues found, then the rules broken by what the client sent
/// right (not by the placeholders), at most [`MAX_ISSUES`].
fn finish<T: Validate>(
    mut issues: Vec<Issue>,
    repaired: &[String],
    parsed: Option<&T>,
) -> Option<Issues> {
    if issues.is_empty() {
        return None;
    }
    if let Some(Err(rule_issues)) = parsed.map(Validate::validate) {
        let placeholder = |path: &str| {
            repaired.iter().any(|p| {
                path == p
                    || p.is_empty()
                    || path
                        .strip_prefix(p.as_str())
                        .is_some_and(|rest| rest.starts_with(['.', '[']))
            })
        };
        issues.extend(
            rule_issues
                .0
                .into_iter()
                .filter(|i| i.code != TRUNCATED && !placeholder(&i.path)),
        );
    }
    if issues.len() > MAX_ISSUES {
        issues.truncate(MAX_ISSUES);
        issues.push(truncated_marker());
    }
    Some(Issues(issues))
}

/// Whether `issue` was found before: a repair that did not hold, so the
/// search stops rather than report it twice.
fn repeated(issues: &[Issue], issue: &Issue) -> bool {
    issues
        .iter()
        .any(|i| i.path == issue.path && i.code == issue.code)
}

/// Removes the unknown field the steps end at.
fn remove(value: &mut Value, steps: &[Step]) -> bool {
    let Some((Step::Key(key), parent)) = steps.split_last() else {
        return false;
    };
    at(value, parent)
        .and_then(Value::as_object_mut)
        .and_then(|object| object.remove(key))
        .is_some()
}

/// Gives the missing `field` of the object at `steps` a placeholder that
/// moves the error elsewhere.
fn insert<T: DeserializeOwned>(value: &mut Value, steps: &[Step], field: &str) -> bool {
    for candidate in candidates() {
        let Some(object) = at(value, steps).and_then(Value::as_object_mut) else {
            return false;
        };
        object.insert(field.to_owned(), candidate);
        if moved_on::<T>(value, steps, Some(field)) {
            return true;
        }
    }
    false
}

/// Replaces the value at `steps` with a placeholder that parses there.
fn replace<T: DeserializeOwned>(value: &mut Value, steps: &[Step]) -> bool {
    for candidate in candidates() {
        let Some(slot) = at(value, steps) else {
            return false;
        };
        *slot = candidate;
        if moved_on::<T>(value, steps, None) {
            return true;
        }
    }
    false
}

/// Whether `value` now parses, or fails somewhere other than at `steps`
/// (for a missing field: neither as missing from the object at `steps`
/// nor at the placeholder given to it).
fn moved_on<T: DeserializeOwned>(value: &Value, steps: &[Step], field: Option<&str>) -> bool {
    let Err((_, next, error)) = first_error::<T>(value) else {
        return true;
    };
    let Some(next) = next else {
        // Somewhere no step leads to: not here.
        return true;
    };
    match field {
        Some(field) => {
            let missing_again = next == steps && missing(&error, field);
            let placeholder_refused = next.split_last().is_some_and(|(last, parent)| {
                parent == steps && matches!(last, Step::Key(key) if key == field)
            });
            !missing_again && !placeholder_refused
        }
        None => next != steps,
    }
}

/// The field a flat form's error is about, as the client named it (the
/// path spells it for people, escaped when it is not a plain name).
fn form_field(path: &serde_path_to_error::Path, error: &DataError) -> Option<String> {
    match error {
        DataError::MissingField(field) => Some((*field).to_owned()),
        _ => match path.iter().next_back()? {
            Segment::Map { key } => Some(key.clone()),
            _ => None,
        },
    }
}

/// The same for a URL-encoded query or form, whose fields are flat: pairs
/// of names and values, repaired by name.
pub(super) fn every_form_issue<T: DeserializeOwned + Validate>(input: &[u8]) -> Option<Issues> {
    let mut pairs: Vec<(String, String)> = form_urlencoded::parse(input)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let parse = |pairs: &Vec<(String, String)>| {
        let encoded = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        let deserializer =
            serde_urlencoded::Deserializer::new(form_urlencoded::parse(encoded.as_bytes()));
        capture::deserialize::<_, T>(deserializer).map_err(|failure| {
            let field = form_field(&failure.path, &failure.error);
            (path_of(&failure.path), field, failure.error)
        })
    };
    repair_all(&mut pairs, parse, |pairs, (_, field, error)| {
        let name = field.as_ref()?;
        Some(match error {
            DataError::UnknownField { .. } => {
                pairs.retain(|(k, _)| k != name);
                true
            }
            // In place, so that an error further on still means this value
            // passed; a missing field goes last, where serde misses it.
            _ => ["", "0", "false"].iter().any(|candidate| {
                match pairs.iter_mut().find(|(k, _)| k == name) {
                    Some(pair) => pair.1 = (*candidate).to_owned(),
                    None => pairs.push((name.clone(), (*candidate).to_owned())),
                }
                match parse(pairs) {
                    Ok(_) => true,
                    // Neither the same field again, nor it missing.
                    Err((_, next, _)) => next.as_ref() != Some(name),
                }
            }),
        })
    })
}
