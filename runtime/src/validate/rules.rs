//! The rules `#[derive(Validate)]` calls. Each is bound by a trait that says
//! which field types it fits ([`Text`], [`Length`], [`Number`]), so a rule
//! on the wrong type is a compile error at the rule, with a message that
//! says why. Implement one of these traits for a newtype of your own to
//! use the rules on it.
//!
//! The rule functions are what the derive's generated code calls; their
//! signatures may change between minor versions, the traits will not.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::fmt::Display;
use std::sync::LazyLock;

use regex::Regex;

use super::password::PasswordPolicy;
use super::report::{Invalid, Report};
use crate::shared::rules as shared;

/// A rule's code and its optional message override, written by the macro.
#[doc(hidden)]
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    /// The field, as serde spells it (`""` for the value itself).
    pub field: &'static str,
    /// The issue code a failure reports (`"email"`, `"len"`, ...).
    pub code: &'static str,
    /// The message written in the rule (`message = ".."`), if any.
    pub message: Option<&'static str>,
}

impl Rule {
    fn fail(&self, report: &mut Report, message: impl FnOnce() -> String) {
        let message: Cow<'static, str> = match self.message {
            Some(m) => Cow::Borrowed(m),
            None => Cow::Owned(message()),
        };
        report.fail_at(self.field, self.code, message);
    }
}

/// Text a rule can check. `None` (an absent `Option`) passes every rule.
#[diagnostic::on_unimplemented(
    message = "this rule checks text, and `{Self}` is not text",
    label = "a text rule on a field of type `{Self}`",
    note = "`email`, `url`, `regex`, `password`, `ascii`, `alphanumeric`, `no_control_chars`, `prefix`, `suffix`, `contains` and `one_of(\"..\")` apply to `String`, `&str`, `Cow<str>` and `Option`s of them"
)]
pub trait Text {
    /// The text, if there is one.
    fn text(&self) -> Option<&str>;
}

impl Text for str {
    fn text(&self) -> Option<&str> {
        Some(self)
    }
}
impl Text for String {
    fn text(&self) -> Option<&str> {
        Some(self)
    }
}
impl Text for Cow<'_, str> {
    fn text(&self) -> Option<&str> {
        Some(self)
    }
}
impl Text for Box<str> {
    fn text(&self) -> Option<&str> {
        Some(self)
    }
}
impl<T: Text + ?Sized> Text for &T {
    fn text(&self) -> Option<&str> {
        (**self).text()
    }
}
impl<T: Text> Text for Option<T> {
    fn text(&self) -> Option<&str> {
        self.as_ref().and_then(Text::text)
    }
}

/// Something with a length: text (in characters) or a collection (in
/// items).
#[diagnostic::on_unimplemented(
    message = "`len` and `non_empty` measure text and collections, and `{Self}` is neither",
    label = "a length rule on a field of type `{Self}`",
    note = "text is measured in characters, collections (`Vec`, maps, sets) in items"
)]
pub trait Length {
    /// The length, if there is a value.
    fn length(&self) -> Option<usize>;
}

impl Length for str {
    fn length(&self) -> Option<usize> {
        Some(self.chars().count())
    }
}
impl Length for String {
    fn length(&self) -> Option<usize> {
        Some(self.chars().count())
    }
}
impl Length for Cow<'_, str> {
    fn length(&self) -> Option<usize> {
        Some(self.chars().count())
    }
}
impl<T> Length for [T] {
    fn length(&self) -> Option<usize> {
        Some(self.len())
    }
}
impl<T> Length for Vec<T> {
    fn length(&self) -> Option<usize> {
        Some(self.len())
    }
}
impl<T> Length for VecDeque<T> {
    fn length(&self) -> Option<usize> {
        Some(self.len())
    }
}
impl<K, V, S> Length for HashMap<K, V, S> {
    fn length(&self) -> Option<usize> {
        Some(self.len())
    }
}
impl<K, V> Length for BTreeMap<K, V> {
    fn length(&self) -> Option<usize> {
        Some(self.len())
    }
}
impl<T, S> Length for HashSet<T, S> {
    fn length(&self) -> Option<usize> {
        Some(self.len())
    }
}
impl<T> Length for BTreeSet<T> {
    fn length(&self) -> Option<usize> {
        Some(self.len())
    }
}
impl<T: Length + ?Sized> Length for &T {
    fn length(&self) -> Option<usize> {
        (**self).length()
    }
}
impl<T: Length> Length for Option<T> {
    fn length(&self) -> Option<usize> {
        self.as_ref().and_then(Length::length)
    }
}

/// A number `range` can bound.
#[diagnostic::on_unimplemented(
    message = "`range` bounds numbers, and `{Self}` is not a number",
    label = "`range` on a field of type `{Self}`",
    note = "for the length of text or a collection, use `len(..)`"
)]
pub trait Number {
    /// The number's type.
    type Value: PartialOrd + Display + Copy;
    /// The number, if there is one.
    fn number(&self) -> Option<Self::Value>;
}

macro_rules! numbers {
    ($($t:ty),*) => {$(
        impl Number for $t {
            type Value = $t;
            fn number(&self) -> Option<$t> {
                Some(*self)
            }
        }
    )*};
}
numbers!(
    u8, u16, u32, u64, u128, usize, i8, i16, i32, i64, i128, isize, f32, f64
);

impl<T: Number> Number for Option<T> {
    type Value = T::Value;
    fn number(&self) -> Option<T::Value> {
        self.as_ref().and_then(Number::number)
    }
}
impl<T: Number + ?Sized> Number for &T {
    type Value = T::Value;
    fn number(&self) -> Option<T::Value> {
        (**self).number()
    }
}

/// `email`: an address as a browser's `<input type=email>` accepts it.
pub fn email<T: Text + ?Sized>(
    value: &T,
    unicode_local_part: bool,
    report: &mut Report,
    rule: &Rule,
) {
    if let Some(text) = value.text()
        && !is_email(text, unicode_local_part)
    {
        rule.fail(report, || "must be a valid email address".into());
    }
}

/// An address as a browser's `<input type=email>` accepts it (the WHATWG
/// "valid email address"): an ASCII local part, `@`, and a host name whose
/// labels may be internationalised (a browser sends them as punycode).
/// Stricter than WHATWG where mail servers are: a dot-atom local part of at
/// most 64 bytes (no quoted strings, no leading, trailing or doubled dot),
/// a host name of at least two labels (no IP literal), each label 1 to 63
/// bytes of letters, digits and inner hyphens, the last one not all digits;
/// at most 254 bytes in all. With `unicode_local_part`, the local part may
/// also hold UTF-8 (RFC 6531). One pass, no allocation.
pub(crate) fn is_email(text: &str, unicode_local_part: bool) -> bool {
    let bytes = text.as_bytes();
    if bytes.len() > 254 {
        return false;
    }
    let Some(at) = bytes.iter().rposition(|&b| b == b'@') else {
        return false;
    };
    let (local, domain) = (&text[..at], &text[at + 1..]);
    if local.is_empty() || local.len() > 64 || domain.len() > 253 {
        return false;
    }
    // The local part: dot-separated atoms of atext. ASCII is checked
    // byte by byte; other characters are decoded.
    let mut after_dot = true;
    for c in local.chars() {
        let ok = match c {
            '.' if after_dot => return false,
            '.' => {
                after_dot = true;
                continue;
            }
            c if c.is_ascii() => is_atext(c),
            c => unicode_local_part && is_atext(c),
        };
        if !ok {
            return false;
        }
        after_dot = false;
    }
    if after_dot {
        return false;
    }
    // The host name: labels of letters, digits and inner hyphens.
    let (mut labels, mut label_len, mut last_hyphen, mut all_digits) = (0, 0usize, false, true);
    for c in domain.chars() {
        if c == '.' {
            if label_len == 0 || label_len > 63 || last_hyphen {
                return false;
            }
            labels += 1;
            label_len = 0;
            continue;
        }
        let hyphen = c == '-';
        if label_len == 0 {
            if hyphen {
                return false;
            }
            all_digits = true;
        }
        let ok = if c.is_ascii() {
            c.is_ascii_alphanumeric() || hyphen
        } else {
            c.is_alphanumeric()
        };
        if !ok {
            return false;
        }
        all_digits &= c.is_ascii_digit();
        last_hyphen = hyphen;
        label_len += c.len_utf8();
    }
    if label_len == 0 || label_len > 63 || last_hyphen {
        return false;
    }
    labels + 1 >= 2 && !all_digits
}

/// RFC 5322 atext, plus any printable non-ASCII character (RFC 6531, for
/// `unicode_local_part`).
fn is_atext(c: char) -> bool {
    match c {
        'a'..='z' | 'A'..='Z' | '0'..='9' => true,
        '!' | '#' | '$' | '%' | '&' | '\'' | '*' | '+' | '-' | '/' | '=' | '?' | '^' | '_'
        | '`' | '{' | '|' | '}' | '~' => true,
        c => !c.is_ascii() && !c.is_control() && !c.is_whitespace(),
    }
}

/// The schemes `url` allows when the rule names none: `javascript:`,
/// `data:`, `file:` and every other scheme are refused unless listed.
pub const DEFAULT_URL_SCHEMES: &[&str] = shared::URL_SCHEMES;

/// `url`: an absolute URL with one of `schemes`.
pub fn url<T: Text + ?Sized>(value: &T, schemes: &[&str], report: &mut Report, rule: &Rule) {
    let Some(text) = value.text() else {
        return;
    };
    let schemes = if schemes.is_empty() {
        DEFAULT_URL_SCHEMES
    } else {
        schemes
    };
    let allowed = url::Url::parse(text).is_ok_and(|url| {
        schemes.contains(&url.scheme())
            && (!matches!(url.scheme(), "http" | "https") || url.host().is_some())
    });
    if !allowed {
        rule.fail(report, || {
            format!(
                "must be a valid absolute URL with the scheme {}",
                schemes.join(" or ")
            )
        });
    }
}

/// `len(..)`: a length in characters (text) or items (collections), within bounds.
pub fn len<T: Length + ?Sized>(
    value: &T,
    min: Option<usize>,
    max: Option<usize>,
    report: &mut Report,
    rule: &Rule,
) {
    let Some(length) = value.length() else {
        return;
    };
    if min.is_some_and(|m| length < m) || max.is_some_and(|m| length > m) {
        rule.fail(report, || match (min, max) {
            (Some(a), Some(b)) if a == b => format!("must have a length of exactly {a}"),
            (Some(a), Some(b)) => format!("must have a length between {a} and {b}"),
            (Some(a), None) => format!("must have a length of at least {a}"),
            (None, Some(b)) => format!("must have a length of at most {b}"),
            (None, None) => String::new(),
        });
    }
}

/// `non_empty`: at least one character or item.
pub fn non_empty<T: Length + ?Sized>(value: &T, report: &mut Report, rule: &Rule) {
    if value.length() == Some(0) {
        rule.fail(report, || "must not be empty".into());
    }
}

/// `range(..)`: a number within bounds.
pub fn range<T: Number + ?Sized>(
    value: &T,
    min: Option<T::Value>,
    max: Option<T::Value>,
    report: &mut Report,
    rule: &Rule,
) {
    let Some(n) = value.number() else {
        return;
    };
    // NaN is in no range: an incomparable value is out of bounds.
    use std::cmp::Ordering::{Greater, Less};
    let below = min.is_some_and(|m| n.partial_cmp(&m).is_none_or(|o| o == Less));
    let above = max.is_some_and(|m| n.partial_cmp(&m).is_none_or(|o| o == Greater));
    if below || above {
        rule.fail(report, || match (min, max) {
            (Some(a), Some(b)) => format!("must be between {a} and {b}"),
            (Some(a), None) => format!("must be at least {a}"),
            (None, Some(b)) => format!("must be at most {b}"),
            (None, None) => String::new(),
        });
    }
}

/// `regex = ".."`: text the (anchored) pattern matches in whole.
pub fn regex<T: Text + ?Sized>(
    value: &T,
    pattern: &LazyLock<Option<Regex>>,
    report: &mut Report,
    rule: &Rule,
) {
    if let Some(text) = value.text() {
        // The macro compiled the pattern; a `None` here cannot match.
        let matched = pattern.as_ref().is_some_and(|re| re.is_match(text));
        if !matched {
            rule.fail(report, || "has an invalid format".into());
        }
    }
}

/// `password(..)`: text the password policy accepts.
pub fn password<T: Text + ?Sized>(
    value: &T,
    policy: &PasswordPolicy,
    report: &mut Report,
    rule: &Rule,
) {
    let Some(text) = value.text() else {
        return;
    };
    for failure in policy.check(text) {
        let code = if rule.code == shared::PASSWORD {
            failure.code()
        } else {
            rule.code
        };
        let message: Cow<'static, str> = match rule.message {
            Some(m) => Cow::Borrowed(m),
            None => Cow::Owned(policy.message(failure)),
        };
        report.fail_at(rule.field, code, message);
    }
}

/// `one_of("..")` on text: one of the listed strings.
pub fn one_of_text<T: Text + ?Sized>(
    value: &T,
    allowed: &[&str],
    report: &mut Report,
    rule: &Rule,
) {
    if let Some(text) = value.text()
        && !allowed.contains(&text)
    {
        rule.fail(report, || format!("must be one of: {}", allowed.join(", ")));
    }
}

/// `one_of(..)` on numbers: one of the listed values.
pub fn one_of_number<T: Number + ?Sized>(
    value: &T,
    allowed: &[T::Value],
    report: &mut Report,
    rule: &Rule,
) {
    if let Some(n) = value.number()
        && !allowed.contains(&n)
    {
        rule.fail(report, || {
            let list: Vec<String> = allowed.iter().map(ToString::to_string).collect();
            format!("must be one of: {}", list.join(", "))
        });
    }
}

fn text_rule<T: Text + ?Sized>(
    value: &T,
    ok: impl FnOnce(&str) -> bool,
    report: &mut Report,
    rule: &Rule,
    message: &str,
) {
    if let Some(text) = value.text()
        && !ok(text)
    {
        rule.fail(report, || message.to_owned());
    }
}

/// `ascii`: ASCII text only.
pub fn ascii<T: Text + ?Sized>(value: &T, report: &mut Report, rule: &Rule) {
    text_rule(
        value,
        |t| t.is_ascii(),
        report,
        rule,
        "must contain only ASCII characters",
    );
}

/// `alphanumeric`: letters and digits only.
pub fn alphanumeric<T: Text + ?Sized>(value: &T, report: &mut Report, rule: &Rule) {
    text_rule(
        value,
        |t| t.chars().all(char::is_alphanumeric),
        report,
        rule,
        "must contain only letters and digits",
    );
}

/// `no_control_chars`: text without control characters.
pub fn no_control_chars<T: Text + ?Sized>(value: &T, report: &mut Report, rule: &Rule) {
    text_rule(
        value,
        |t| !t.chars().any(char::is_control),
        report,
        rule,
        "must not contain control characters",
    );
}

/// `prefix = ".."`: text that starts with `prefix`.
pub fn prefix<T: Text + ?Sized>(value: &T, prefix: &str, report: &mut Report, rule: &Rule) {
    if let Some(text) = value.text()
        && !text.starts_with(prefix)
    {
        rule.fail(report, || format!("must start with {prefix:?}"));
    }
}

/// `suffix = ".."`: text that ends with `suffix`.
pub fn suffix<T: Text + ?Sized>(value: &T, suffix: &str, report: &mut Report, rule: &Rule) {
    if let Some(text) = value.text()
        && !text.ends_with(suffix)
    {
        rule.fail(report, || format!("must end with {suffix:?}"));
    }
}

/// `contains = ".."`: text that contains `needle`.
pub fn contains<T: Text + ?Sized>(value: &T, needle: &str, report: &mut Report, rule: &Rule) {
    if let Some(text) = value.text()
        && !text.contains(needle)
    {
        rule.fail(report, || format!("must contain {needle:?}"));
    }
}

/// `must_match = other`: equal to another field of the struct.
pub fn must_match<T: PartialEq + ?Sized>(
    value: &T,
    other: &T,
    other_name: &'static str,
    report: &mut Report,
    rule: &Rule,
) {
    if value != other {
        rule.fail(report, || format!("must match `{other_name}`"));
    }
}

/// `custom = f`: the result of the application's own check.
pub fn custom(result: Result<(), Invalid>, report: &mut Report, rule: &Rule) {
    if let Err(mut invalid) = result {
        if rule.code != shared::CUSTOM {
            invalid.code = Cow::Borrowed(rule.code);
        }
        if let Some(message) = rule.message {
            invalid.message = Cow::Borrowed(message);
        }
        report.invalid_at(rule.field, invalid);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULE: Rule = Rule {
        field: "f",
        code: "r",
        message: None,
    };

    fn issues(check: impl FnOnce(&mut Report)) -> usize {
        let mut report = Report::new();
        check(&mut report);
        report.finish().err().map_or(0, |i| i.len())
    }

    #[test]
    fn emails() {
        let ascii = |text: &str| issues(|r| email(text, false, r, &RULE));
        for good in [
            "a@example.com",
            "first.last+tag@sub.example.org",
            "o'brien@example.ie",
            // An internationalised domain, as a browser takes it.
            "ana@exämple.com",
            "ana@例え.テスト",
        ] {
            assert_eq!(ascii(good), 0, "{good}");
        }
        for bad in [
            "",
            "a",
            "a@",
            "@b.com",
            "a@b",
            "a@b.",
            "a b@c.com",
            "\"q\"@b.com",
            "a@[127.0.0.1]",
            "a\0@b.com",
            // A browser's <input type=email> refuses a non-ASCII local part.
            "\u{1F600}x@example.com",
            "josé@example.com",
        ] {
            assert_eq!(ascii(bad), 1, "{bad:?}");
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert_eq!(ascii(&long), 1);
        let long_local = format!("{}@example.com", "a".repeat(65));
        assert_eq!(ascii(&long_local), 1);
        let long_label = format!("a@{}.com", "b".repeat(64));
        assert_eq!(ascii(&long_label), 1);
        assert_eq!(issues(|r| email(&None::<String>, false, r, &RULE)), 0);
        // RFC 6531, asked for explicitly.
        let unicode = |text: &str| issues(|r| email(text, true, r, &RULE));
        assert_eq!(unicode("josé@exämple.com"), 0);
        assert_eq!(unicode("用户@例子.广告"), 0);
        assert_eq!(unicode("a b@example.com"), 1);
        assert_eq!(unicode("jo\u{7}sé@example.com"), 1);
    }

    #[test]
    fn lengths_count_characters() {
        assert_eq!(
            issues(|r| len("José Ñúñez", Some(10), Some(10), r, &RULE)),
            0
        );
        assert_eq!(issues(|r| len("", Some(1), None, r, &RULE)), 1);
        assert_eq!(issues(|r| len(&vec![1, 2, 3], None, Some(2), r, &RULE)), 1);
        assert_eq!(issues(|r| non_empty("", r, &RULE)), 1);
        let huge = "x".repeat(100_000);
        assert_eq!(issues(|r| len(huge.as_str(), None, Some(255), r, &RULE)), 1);
    }

    #[test]
    fn ranges_refuse_nan() {
        assert_eq!(
            issues(|r| range(&f64::NAN, Some(0.0), Some(1.0), r, &RULE)),
            1
        );
        assert_eq!(issues(|r| range(&5u8, Some(1), Some(5), r, &RULE)), 0);
        assert_eq!(issues(|r| range(&Some(6u8), None, Some(5), r, &RULE)), 1);
    }

    #[test]
    fn passwords_report_each_missing_class() {
        let policy = PasswordPolicy::DEFAULT;
        let mut report = Report::new();
        password(
            "abc",
            &policy,
            &mut report,
            &Rule {
                field: "p",
                code: "password",
                message: None,
            },
        );
        let codes: Vec<_> = report
            .finish()
            .unwrap_err()
            .0
            .into_iter()
            .map(|i| i.code)
            .collect();
        assert_eq!(
            codes,
            [
                "password_length",
                "password_uppercase",
                "password_digit",
                "password_special"
            ]
        );
    }

    #[test]
    fn character_classes() {
        assert_eq!(issues(|r| ascii("héllo", r, &RULE)), 1);
        assert_eq!(issues(|r| alphanumeric("abc123", r, &RULE)), 0);
        assert_eq!(issues(|r| alphanumeric("abc-123", r, &RULE)), 1);
        assert_eq!(issues(|r| no_control_chars("a\0b", r, &RULE)), 1);
        assert_eq!(issues(|r| no_control_chars("a\u{7f}", r, &RULE)), 1);
    }
}
