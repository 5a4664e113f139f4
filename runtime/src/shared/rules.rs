//! The validation rules of `#[derive(Validate)]`, in one table: each rule's
//! name, what it takes, its options with their defaults, and the field
//! types it fits.
//!
//! The derive macro reads the table to parse and check `#[validate(..)]`
//! (unknown rules and options, "did you mean", the kind of each value, the
//! defaults a `min > max` check must see); the runtime takes its defaults
//! from it (the password policy, the URL schemes) and the rule names it
//! tests codes against. A rule's checking function lives in the runtime's
//! `validate/rules.rs` under the rule's name.

/// `email`, `email(unicode_local_part)`.
pub(crate) const EMAIL: &str = "email";
/// `url`, `url(schemes = "https,ftp")`.
pub(crate) const URL: &str = "url";
/// `len(2..=100)`, `len(min = 2, max = 100)`.
pub(crate) const LEN: &str = "len";
/// `range(1..=10)`, `range(min = 1)`.
pub(crate) const RANGE: &str = "range";
/// `regex = ".."`.
pub(crate) const REGEX: &str = "regex";
/// `password`, `password(min = 12, max = 128, special = "..")`.
pub(crate) const PASSWORD: &str = "password";
/// `one_of("a", "b")`, `one_of(1, 2)`.
pub(crate) const ONE_OF: &str = "one_of";
/// `non_empty`.
pub(crate) const NON_EMPTY: &str = "non_empty";
/// `ascii`.
pub(crate) const ASCII: &str = "ascii";
/// `alphanumeric`.
pub(crate) const ALPHANUMERIC: &str = "alphanumeric";
/// `no_control_chars`.
pub(crate) const NO_CONTROL_CHARS: &str = "no_control_chars";
/// `prefix = ".."`.
pub(crate) const PREFIX: &str = "prefix";
/// `suffix = ".."`.
pub(crate) const SUFFIX: &str = "suffix";
/// `contains = ".."`.
pub(crate) const CONTAINS: &str = "contains";
/// `must_match = other_field`.
pub(crate) const MUST_MATCH: &str = "must_match";
/// `custom = path::to::fn`.
pub(crate) const CUSTOM: &str = "custom";

/// `len(min = ..)`, `range(min = ..)`, `password(min = ..)`.
pub(crate) const MIN: &str = "min";
/// `len(max = ..)`, `range(max = ..)`, `password(max = ..)`.
pub(crate) const MAX: &str = "max";
/// `password(special = "..")`.
pub(crate) const SPECIAL: &str = "special";
/// `url(schemes = "..")`.
pub(crate) const SCHEMES: &str = "schemes";
/// `email(unicode_local_part)`.
pub(crate) const UNICODE_LOCAL_PART: &str = "unicode_local_part";
/// `message = ".."`, which every rule takes.
pub(crate) const MESSAGE: &str = "message";
/// `code = ".."`, which every rule takes.
pub(crate) const CODE: &str = "code";

/// The options every rule takes besides its own: they override what an
/// issue says.
pub(crate) const OVERRIDES: &[&str] = &[MESSAGE, CODE];

/// The fewest characters of a password by default.
pub(crate) const PASSWORD_MIN: u64 = 12;
/// The most characters of a password by default.
pub(crate) const PASSWORD_MAX: u64 = 128;
/// The characters that count as special in a password by default.
pub(crate) const PASSWORD_SPECIAL: &str = "@$!%*?&";
const _: () = assert!(PASSWORD_MIN <= PASSWORD_MAX && !PASSWORD_SPECIAL.is_empty());
/// The schemes `url` allows when the rule names none: `javascript:`,
/// `data:`, `file:` and every other scheme are refused unless listed.
pub(crate) const URL_SCHEMES: &[&str] = &["http", "https"];

/// The field types a rule fits: the bound of its function in the runtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fits {
    /// `String`, `&str`, `Cow<str>`, `Box<str>` and `Option`s of them
    /// (the runtime's `Text`).
    Text,
    /// Text (in characters) and collections (in items) (`Length`).
    Length,
    /// Integers and floats (`Number`).
    Number,
    /// Text or numbers, by the values written.
    TextOrNumber,
    /// Any field that compares with `==`.
    Equatable,
    /// Any field: the function says.
    Any,
}

impl Fits {
    /// As the documentation's table says it.
    pub(crate) const fn describe(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Length => "text (characters), collections (items)",
            Self::Number => "numbers",
            Self::TextOrNumber => "text, numbers",
            Self::Equatable => "any `PartialEq` field",
            Self::Any => "any",
        }
    }
}

/// The kind of a value a rule or option takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Value {
    /// A whole number: `12`.
    Count,
    /// A number literal, possibly negative: `-1.5`.
    Number,
    /// A string literal: `"@$!%*?&"`.
    Text,
    /// A string literal of comma-separated items: `"https,ftp"`.
    TextList,
}

/// What a rule takes besides its named options, written `rule(..)` or, for
/// one value, `rule = value`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Argument {
    /// Nothing: `ascii`.
    Nothing,
    /// Some of these flags: `email(unicode_local_part)`.
    Flags(&'static [&'static str]),
    /// One inclusive range of this kind, `len(2..=100)`, or the `min` and
    /// `max` options; at least one bound.
    Bounds(Value),
    /// One value of this kind: `regex = ".."`.
    One(Value),
    /// One or more literals: `one_of("a", "b")`.
    Values,
    /// The name of another field: `must_match = password`.
    Field,
    /// The path of a function: `custom = path::to::f`.
    Function,
}

/// A default, written once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Default {
    /// None: leaving the option out leaves its bound open.
    None,
    /// A whole number.
    Count(u64),
    /// A string.
    Text(&'static str),
    /// A list of strings.
    Texts(&'static [&'static str]),
}

/// A named option of a rule: `min = 2`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Opt {
    pub(crate) name: &'static str,
    pub(crate) value: Value,
    pub(crate) default: Default,
}

/// One validation rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rule {
    /// Its name in `#[validate(..)]`, its default issue code, and the name
    /// of its function in the runtime.
    pub(crate) name: &'static str,
    pub(crate) argument: Argument,
    /// Its own options; [`OVERRIDES`] apply to every rule as well.
    pub(crate) options: &'static [Opt],
    pub(crate) fits: Fits,
}

const fn opt(name: &'static str, value: Value, default: Default) -> Opt {
    Opt {
        name,
        value,
        default,
    }
}

const fn rule(name: &'static str, argument: Argument, options: &'static [Opt], fits: Fits) -> Rule {
    Rule {
        name,
        argument,
        options,
        fits,
    }
}

/// Every rule, in the order the documentation lists them.
pub(crate) const RULES: &[Rule] = &[
    rule(
        EMAIL,
        Argument::Flags(&[UNICODE_LOCAL_PART]),
        &[],
        Fits::Text,
    ),
    rule(
        URL,
        Argument::Nothing,
        &[opt(SCHEMES, Value::TextList, Default::Texts(URL_SCHEMES))],
        Fits::Text,
    ),
    rule(
        LEN,
        Argument::Bounds(Value::Count),
        &[
            opt(MIN, Value::Count, Default::None),
            opt(MAX, Value::Count, Default::None),
        ],
        Fits::Length,
    ),
    rule(
        RANGE,
        Argument::Bounds(Value::Number),
        &[
            opt(MIN, Value::Number, Default::None),
            opt(MAX, Value::Number, Default::None),
        ],
        Fits::Number,
    ),
    rule(REGEX, Argument::One(Value::Text), &[], Fits::Text),
    rule(
        PASSWORD,
        Argument::Nothing,
        &[
            opt(MIN, Value::Count, Default::Count(PASSWORD_MIN)),
            opt(MAX, Value::Count, Default::Count(PASSWORD_MAX)),
            opt(SPECIAL, Value::Text, Default::Text(PASSWORD_SPECIAL)),
        ],
        Fits::Text,
    ),
    rule(ONE_OF, Argument::Values, &[], Fits::TextOrNumber),
    rule(NON_EMPTY, Argument::Nothing, &[], Fits::Length),
    rule(ASCII, Argument::Nothing, &[], Fits::Text),
    rule(ALPHANUMERIC, Argument::Nothing, &[], Fits::Text),
    rule(NO_CONTROL_CHARS, Argument::Nothing, &[], Fits::Text),
    rule(PREFIX, Argument::One(Value::Text), &[], Fits::Text),
    rule(SUFFIX, Argument::One(Value::Text), &[], Fits::Text),
    rule(CONTAINS, Argument::One(Value::Text), &[], Fits::Text),
    rule(MUST_MATCH, Argument::Field, &[], Fits::Equatable),
    rule(CUSTOM, Argument::Function, &[], Fits::Any),
];

/// The rule named `name`.
pub(crate) fn find(name: &str) -> Option<&'static Rule> {
    RULES.iter().find(|rule| rule.name == name)
}

/// The names of every rule, for "did you mean" and lists.
pub(crate) fn names() -> Vec<&'static str> {
    RULES.iter().map(|rule| rule.name).collect()
}

impl Rule {
    /// Its option named `name`.
    pub(crate) fn option(&self, name: &str) -> Option<&'static Opt> {
        self.options.iter().find(|opt| opt.name == name)
    }

    /// The names it accepts inside its parentheses: its own options, then
    /// [`OVERRIDES`].
    pub(crate) fn option_names(&self) -> Vec<&'static str> {
        self.options
            .iter()
            .map(|opt| opt.name)
            .chain(OVERRIDES.iter().copied())
            .collect()
    }

    /// The default of its option `name`, if it has that option.
    pub(crate) fn default(&self, name: &str) -> Default {
        self.option(name).map_or(Default::None, |opt| opt.default)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_found() {
        let names = names();
        for (i, name) in names.iter().enumerate() {
            assert!(!names[..i].contains(name), "{name} twice");
            assert_eq!(find(name).map(|r| r.name), Some(*name));
        }
        assert!(find("emial").is_none());
    }

    #[test]
    fn no_rule_shadows_the_overrides() {
        for rule in RULES {
            for opt in rule.options {
                assert!(!OVERRIDES.contains(&opt.name), "{}.{}", rule.name, opt.name);
            }
            let names = rule.option_names();
            assert!(names.ends_with(OVERRIDES));
        }
    }

    #[test]
    fn bounds_take_min_and_max_of_their_kind() {
        for rule in RULES {
            if let Argument::Bounds(kind) = rule.argument {
                assert_eq!(rule.option(MIN).map(|o| o.value), Some(kind));
                assert_eq!(rule.option(MAX).map(|o| o.value), Some(kind));
            }
        }
    }

    #[test]
    fn defaults_are_read_from_the_table() {
        let password = find(PASSWORD).unwrap();
        assert_eq!(password.default(MIN), Default::Count(PASSWORD_MIN));
        assert_eq!(password.default(MAX), Default::Count(PASSWORD_MAX));
        assert_eq!(password.default(SPECIAL), Default::Text(PASSWORD_SPECIAL));
        assert_eq!(
            find(URL).unwrap().default(SCHEMES),
            Default::Texts(URL_SCHEMES)
        );
        assert_eq!(find(LEN).unwrap().default(MIN), Default::None);
        assert_eq!(find(ASCII).unwrap().default(MIN), Default::None);
    }

    /// The table of the `#[derive(Validate)]` documentation says what this
    /// table says.
    #[test]
    fn the_documentation_lists_every_rule_as_the_table_does() {
        let doc = include_str!("../derive_validate.md");
        for rule in RULES {
            let row = doc
                .lines()
                .filter(|line| line.starts_with("| `"))
                .find(|line| {
                    let first_cell = line.split(" | ").next().unwrap_or("");
                    first_cell.split("`").skip(1).step_by(2).any(|code| {
                        code.strip_prefix(rule.name)
                            .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '(']))
                    })
                })
                .unwrap_or_else(|| panic!("no row for `{}`", rule.name));
            let fits = row.split(" | ").nth(1).unwrap_or("");
            assert_eq!(fits, rule.fits.describe(), "`{}`", rule.name);
            for opt in rule.options {
                match opt.default {
                    Default::None => {}
                    Default::Count(n) => {
                        assert!(row.contains(&format!("{} = {n}", opt.name)), "{row}")
                    }
                    Default::Text(text) => {
                        assert!(row.contains(&format!("{} = \"{text}\"", opt.name)), "{row}")
                    }
                    Default::Texts(items) => {
                        for item in items {
                            assert!(row.contains(&format!("`{item}`")), "{row}");
                        }
                    }
                }
            }
        }
    }
}
