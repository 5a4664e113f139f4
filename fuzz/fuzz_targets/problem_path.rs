//! The issue paths of `warden::validate::Report` (`items[2].name`), built
//! from arbitrary sequences of enter/leave/fail operations with arbitrary
//! map keys, directly and through `Validate` for maps: never panics, and
//! every rendered path is well formed: brackets balanced, never nested,
//! holding an index, and no raw control character.

#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use warden::Validate;
use warden::validate::{Invalid, Issue, MAX_PATH, Report};

const FIELDS: &[&str] = &["email", "items", "name", "first_name", "by_shelf", "x", ""];

#[derive(Validate)]
#[validate(allow_unknown_fields)]
struct Item {
    #[validate(len(min = 2))]
    name: String,
}

/// Well formed: no control character; names, `[digits]` indexes and
/// `["json string"]` keys (a map key that is not a plain name), brackets
/// never nested and each closed, unless the path was cut at
/// `MAX_PATH` (it then ends with `...`).
fn check_path(path: &str, issue: &Issue) {
    assert!(
        !path.chars().any(char::is_control),
        "control character in the path {path:?} ({issue:?})"
    );
    assert!(path.len() <= MAX_PATH, "path over {MAX_PATH} bytes: {path:?}");
    // A path cut at MAX_PATH ends with `...` and may stop inside a segment.
    let cut = path.len() > MAX_PATH - 16 && path.ends_with("...");
    let body = if cut { &path[..path.len() - 3] } else { path };
    let mut chars = body.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '[' if chars.peek() == Some(&'"') => {
                chars.next();
                // A JSON string: escapes skip a character; an unescaped
                // quote ends it, and `]` must follow.
                let mut closed = false;
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => {
                            chars.next();
                        }
                        '"' => {
                            closed = true;
                            break;
                        }
                        _ => {}
                    }
                }
                if !closed || chars.next() != Some(']') {
                    assert!(cut, "unclosed key in the path {path:?} ({issue:?})");
                    return;
                }
            }
            '[' => {
                let mut digits = 0;
                loop {
                    match chars.next() {
                        Some(']') if digits > 0 => break,
                        Some(d) if d.is_ascii_digit() => digits += 1,
                        None => {
                            assert!(cut, "unclosed index in the path {path:?} ({issue:?})");
                            return;
                        }
                        Some(_) => panic!("not an index in the path {path:?} ({issue:?})"),
                    }
                }
            }
            ']' => panic!("unbalanced brackets in the path {path:?} ({issue:?})"),
            _ => {}
        }
    }
}

fn key(u: &mut Unstructured<'_>) -> Result<String> {
    let len = u.int_in_range(0..=12)?;
    Ok(String::from_utf8_lossy(u.bytes(len)?).into_owned())
}

fn run(u: &mut Unstructured<'_>) -> Result<()> {
    let mut report = Report::new();
    let mut failures = 0;
    for _ in 0..u.int_in_range(0..=32)? {
        match u.int_in_range(0..=7)? {
            0 => report.enter_field(u.choose(FIELDS)?),
            1 => report.enter_index(u.arbitrary()?),
            2 => report.enter_key(&key(u)?),
            3 => report.leave(),
            4 => {
                report.fail("code", "message");
                failures += 1;
            }
            5 => {
                report.fail_at(u.choose(FIELDS)?, "code", "message");
                failures += 1;
            }
            6 => {
                let mut invalid = Invalid::new("custom", "message");
                if u.arbitrary()? {
                    invalid = invalid.at_field(*u.choose(FIELDS)?);
                }
                report.invalid(invalid);
                failures += 1;
            }
            _ => {
                report.invalid_at(u.choose(FIELDS)?, Invalid::new("custom", "message"));
                failures += 1;
            }
        }
    }
    let issues = report.finish().err().map(|i| i.0).unwrap_or_default();
    assert_eq!(issues.len(), failures);
    for issue in &issues {
        check_path(&issue.path, issue);
    }

    // The same through `Validate` for a map of invalid items, as a request
    // body with client-chosen keys produces.
    let mut map = BTreeMap::new();
    for _ in 0..u.int_in_range(0..=3)? {
        map.insert(key(u)?, vec![Item { name: "x".into() }]);
    }
    let issues = map.validate().err().map(|i| i.0).unwrap_or_default();
    assert_eq!(issues.len(), map.len());
    for issue in &issues {
        check_path(&issue.path, issue);
    }
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let _ = run(&mut Unstructured::new(data));
});
