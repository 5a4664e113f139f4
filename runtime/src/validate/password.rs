use crate::shared::rules::{PASSWORD_MAX, PASSWORD_MIN, PASSWORD_SPECIAL};

/// A password strength policy: length bounds (in characters) and one each
/// of an upper-case letter, a lower-case letter, a digit and a special
/// character from a set.
///
/// `#[validate(password)]` uses [`PasswordPolicy::DEFAULT`]: 12 to 128
/// characters and a special character from `@$!%*?&`.
///
/// ```
/// use warden::validate::PasswordPolicy;
///
/// let policy = PasswordPolicy::DEFAULT;
/// assert!(policy.check("CorrectHorse9!").is_empty());
/// assert_eq!(policy.check("short").len(), 4); // length, upper, digit, special
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordPolicy {
    /// The fewest characters.
    pub min: usize,
    /// The most characters.
    pub max: usize,
    /// The characters that count as special.
    pub special: &'static str,
}

/// One requirement a password does not meet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordFailure {
    /// Fewer than `min` or more than `max` characters.
    Length,
    /// No upper-case letter.
    Uppercase,
    /// No lower-case letter.
    Lowercase,
    /// No digit.
    Digit,
    /// No special character from the set.
    Special,
}

impl PasswordFailure {
    /// The issue code.
    pub fn code(self) -> &'static str {
        match self {
            Self::Length => "password_length",
            Self::Uppercase => "password_uppercase",
            Self::Lowercase => "password_lowercase",
            Self::Digit => "password_digit",
            Self::Special => "password_special",
        }
    }
}

impl PasswordPolicy {
    /// 12 to 128 characters, with an upper-case letter, a lower-case
    /// letter, a digit and one of `@$!%*?&`.
    pub const DEFAULT: Self = Self {
        min: PASSWORD_MIN as usize,
        max: PASSWORD_MAX as usize,
        special: PASSWORD_SPECIAL,
    };

    /// Every requirement `password` does not meet (empty when it is strong
    /// enough). Length counts characters, and every character counts.
    pub fn check(&self, password: &str) -> Vec<PasswordFailure> {
        let mut failures = Vec::new();
        // The special set as a bitmask over ASCII; other characters are
        // looked up in the string.
        let mask = self
            .special
            .bytes()
            .filter(u8::is_ascii)
            .fold(0u128, |m, b| m | (1u128 << b));
        let (mut count, mut upper, mut lower, mut digit, mut special) =
            (0, false, false, false, false);
        for c in password.chars() {
            count += 1;
            if c.is_ascii() {
                let b = c as u8;
                upper |= b.is_ascii_uppercase();
                lower |= b.is_ascii_lowercase();
                digit |= b.is_ascii_digit();
                special |= mask & (1u128 << b) != 0;
            } else {
                upper |= c.is_uppercase();
                lower |= c.is_lowercase();
                special |= self.special.contains(c);
            }
        }
        if count < self.min || count > self.max {
            failures.push(PasswordFailure::Length);
        }
        for (met, failure) in [
            (upper, PasswordFailure::Uppercase),
            (lower, PasswordFailure::Lowercase),
            (digit, PasswordFailure::Digit),
            (special, PasswordFailure::Special),
        ] {
            if !met {
                failures.push(failure);
            }
        }
        failures
    }

    /// The message for one failure.
    pub fn message(&self, failure: PasswordFailure) -> String {
        match failure {
            PasswordFailure::Length => {
                format!("must be {} to {} characters long", self.min, self.max)
            }
            PasswordFailure::Uppercase => "must contain an upper-case letter".to_owned(),
            PasswordFailure::Lowercase => "must contain a lower-case letter".to_owned(),
            PasswordFailure::Digit => "must contain a digit".to_owned(),
            PasswordFailure::Special => format!("must contain one of {}", self.special),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_is_the_rule_table_default() {
        let policy = PasswordPolicy::DEFAULT;
        assert_eq!((policy.min, policy.max), (12, 128));
        assert_eq!(policy.special, "@$!%*?&");
    }

    #[test]
    fn classes_are_recognised_in_any_script() {
        let policy = PasswordPolicy::DEFAULT;
        assert!(policy.check("Ünïcödé-pässwörd1!").is_empty());
        assert!(
            policy
                .check("ÜNÏCÖDÉ-PÄSSWÖRD1!")
                .contains(&PasswordFailure::Lowercase)
        );
        assert!(
            policy
                .check("Abcdefghijk1-")
                .contains(&PasswordFailure::Special)
        );
        let custom = PasswordPolicy {
            min: 4,
            max: 8,
            special: "€-",
        };
        assert!(custom.check("Ab1€").is_empty());
        assert!(custom.check("Ab1-").is_empty());
        assert_eq!(custom.check("Ab1!"), [PasswordFailure::Special]);
        assert_eq!(custom.check("Ab1-xxxxx"), [PasswordFailure::Length]);
    }
}
