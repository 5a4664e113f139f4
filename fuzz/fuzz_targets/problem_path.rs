//! The issue paths of `warden::validate::Report` (`items[2].name`), built
//! from arbitrary sequences of enter/leave/fail operations with arbitrary
//! map keys, directly and through `Validate` for maps: never panics, and
//! every rendered path is well formed: brackets balanced, never nested,
//! holding an index, and no raw control character.

#![no_main]

use std::collections::BTreeMap;
use std::sync::LazyLock;

use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use warden::Validate;
use warden::validate::{Invalid, Issue, Report};

const FIELDS: &[&str] = &["email", "items", "name", "first_name", "by_shelf", "x", ""];

#[derive(Validate)]
#[validate(allow_unknown_fields)]
struct Item {
    #[validate(len(min = 2))]
    name: String,
}

/// Well formed: no control character; `[` digits `]` groups, not nested,
/// each closed.
fn check_path(path: &str, issue: &Issue) {
    assert!(
        !path.chars().any(char::is_control),
        "control character in the path {path:?} ({issue:?})"
    );
    let mut in_index = false;
    let mut digits = 0;
    for c in path.chars() {
        match (c, in_index) {
            ('[', false) => {
                in_index = true;
                digits = 0;
            }
            (']', true) => {
                assert!(digits > 0, "empty index in the path {path:?}");
                in_index = false;
            }
            ('[' | ']', _) => panic!("unbalanced brackets in the path {path:?} ({issue:?})"),
            (c, true) => {
                assert!(c.is_ascii_digit(), "not an index in the path {path:?}");
                digits += 1;
            }
            _ => {}
        }
    }
    assert!(
        !in_index,
        "unclosed bracket in the path {path:?} ({issue:?})"
    );
}

/// `WARDEN_FUZZ_ALLOW_KNOWN=1`: leave out of map keys what is already
/// reported (see fuzz/README.md: keys are rendered into paths as they
/// are, brackets and control characters included), to look for anything
/// else.
static ALLOW_KNOWN: LazyLock<bool> =
    LazyLock::new(|| std::env::var_os("WARDEN_FUZZ_ALLOW_KNOWN").is_some_and(|v| v == "1"));

fn key(u: &mut Unstructured<'_>) -> Result<String> {
    let len = u.int_in_range(0..=12)?;
    let mut key = String::from_utf8_lossy(u.bytes(len)?).into_owned();
    if *ALLOW_KNOWN {
        key.retain(|c| !c.is_control() && c != '[' && c != ']');
    }
    Ok(key)
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
