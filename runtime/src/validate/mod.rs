//! Request validation: the [`Validate`] trait that `#[derive(Validate)]`
//! implements, the rules it calls, the issue lists every failure produces,
//! and the [`Valid`] extractors that `#[validate]` puts in front of
//! `Json`, `Query`, `Form` and `Path`.
//!
//! ```
//! use serde::Deserialize;
//! use warden::validate::Validate;
//!
//! #[derive(Deserialize, warden::Validate)]
//! #[serde(deny_unknown_fields)]
//! struct Register {
//!     #[validate(email, len(max = 255))]
//!     email: String,
//!     #[validate(len(12..=128), password)]
//!     password: String,
//!     #[validate(len(2..=100), regex = r"^[\p{L}\s'-]+$")]
//!     name: String,
//! }
//!
//! let body = Register { email: "nope".into(), password: "short".into(), name: "José Ñúñez".into() };
//! let issues = body.validate().unwrap_err();
//! let paths: Vec<_> = issues.iter().map(|i| (i.path.as_str(), &*i.code)).collect();
//! assert_eq!(paths[0], ("email", "email"));
//! assert_eq!(paths[1], ("password", "len"));
//! ```

mod capture;
mod collect;
mod extract;
mod password;
mod report;
pub mod rules;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt::Display;

pub use extract::{Valid, ValidationRejection};
pub use password::{PasswordFailure, PasswordPolicy};
pub use report::{Invalid, Issue, Issues, MAX_ISSUES, MAX_PATH, Report, TRUNCATED};

/// A value that checks its own rules. Derive it with
/// [`#[derive(Validate)]`](macro@crate::Validate).
#[diagnostic::on_unimplemented(
    message = "`{Self}` does not implement `warden::validate::Validate`",
    label = "this type is checked by #[validate]",
    note = "add `#[derive(warden::Validate)]` (with `#[serde(deny_unknown_fields)]`) to `{Self}`"
)]
pub trait Validate {
    /// Checks every rule and reports every failure.
    fn validate(&self) -> Result<(), Issues> {
        let mut report = Report::new();
        self.validate_into(&mut report);
        report.finish()
    }

    /// Checks every rule into `report`, under its current path.
    fn validate_into(&self, report: &mut Report);

    /// Whether the type has rules inside it (false for the leaf types that
    /// are always valid, so that no path is tracked for them).
    #[doc(hidden)]
    const NESTED: bool = true;

    /// The rules `#[derive(Validate)]` wrote, field by field, for the
    /// [manifest](crate::manifest); `None` for a type validated by hand.
    #[doc(hidden)]
    const RULES: Option<crate::manifest::TypeRules> = None;
}

macro_rules! always_valid {
    ($($t:ty),*) => {$(
        impl Validate for $t {
            #[inline]
            fn validate_into(&self, _: &mut Report) {}
            const NESTED: bool = false;
        }
    )*};
}
always_valid!(
    bool,
    char,
    u8,
    u16,
    u32,
    u64,
    u128,
    usize,
    i8,
    i16,
    i32,
    i64,
    i128,
    isize,
    f32,
    f64,
    String,
    str,
    ()
);

impl<T: Validate + ?Sized> Validate for &T {
    fn validate_into(&self, report: &mut Report) {
        (**self).validate_into(report);
    }
    const NESTED: bool = T::NESTED;
}

impl<T: Validate + ?Sized> Validate for Box<T> {
    fn validate_into(&self, report: &mut Report) {
        (**self).validate_into(report);
    }
    const NESTED: bool = T::NESTED;
}

impl<T: Validate + ?Sized> Validate for std::sync::Arc<T> {
    fn validate_into(&self, report: &mut Report) {
        (**self).validate_into(report);
    }
    const NESTED: bool = T::NESTED;
}

impl<T: Validate + ?Sized> Validate for std::rc::Rc<T> {
    fn validate_into(&self, report: &mut Report) {
        (**self).validate_into(report);
    }
    const NESTED: bool = T::NESTED;
}

impl<T: Validate + ToOwned + ?Sized> Validate for std::borrow::Cow<'_, T> {
    fn validate_into(&self, report: &mut Report) {
        (**self).validate_into(report);
    }
    const NESTED: bool = T::NESTED;
}

/// A set's items have no stable position to name: their issues are
/// reported at the set's own path.
impl<T: Validate, S> Validate for std::collections::HashSet<T, S> {
    fn validate_into(&self, report: &mut Report) {
        for item in self {
            item.validate_into(report);
        }
    }
    const NESTED: bool = T::NESTED;
}

impl<T: Validate> Validate for std::collections::BTreeSet<T> {
    fn validate_into(&self, report: &mut Report) {
        for item in self {
            item.validate_into(report);
        }
    }
    const NESTED: bool = T::NESTED;
}

impl<T: Validate> Validate for Option<T> {
    fn validate_into(&self, report: &mut Report) {
        if let Some(value) = self {
            value.validate_into(report);
        }
    }
    const NESTED: bool = T::NESTED;
}

impl<T: Validate> Validate for [T] {
    fn validate_into(&self, report: &mut Report) {
        for (i, item) in self.iter().enumerate() {
            report.enter_index(i);
            item.validate_into(report);
            report.leave();
        }
    }
}

impl<T: Validate, const N: usize> Validate for [T; N] {
    fn validate_into(&self, report: &mut Report) {
        self.as_slice().validate_into(report);
    }
}

impl<T: Validate> Validate for Vec<T> {
    fn validate_into(&self, report: &mut Report) {
        self.as_slice().validate_into(report);
    }
}

impl<T: Validate> Validate for VecDeque<T> {
    fn validate_into(&self, report: &mut Report) {
        for (i, item) in self.iter().enumerate() {
            report.enter_index(i);
            item.validate_into(report);
            report.leave();
        }
    }
}

impl<K: Display, V: Validate, S> Validate for HashMap<K, V, S> {
    fn validate_into(&self, report: &mut Report) {
        for (key, value) in self {
            report.enter_key(key);
            value.validate_into(report);
            report.leave();
        }
    }
}

impl<K: Display, V: Validate> Validate for BTreeMap<K, V> {
    fn validate_into(&self, report: &mut Report) {
        for (key, value) in self {
            report.enter_key(key);
            value.validate_into(report);
            report.leave();
        }
    }
}

macro_rules! tuples {
    ($(($($t:ident $i:tt),+)),*) => {$(
        impl<$($t: Validate),+> Validate for ($($t,)+) {
            fn validate_into(&self, report: &mut Report) {
                $(self.$i.validate_into(report);)+
            }
        }
    )*};
}
tuples!((A 0), (A 0, B 1), (A 0, B 1, C 2), (A 0, B 1, C 2, D 3));

/// Nested validation without a keyword: the derive calls
/// `(&Nested(&field)).__warden_nested(report)` on every field. When the
/// field's type implements [`Validate`] the first impl applies; otherwise
/// method resolution falls through, by auto-reference, to the no-op one.
#[doc(hidden)]
pub struct Nested<'a, T: ?Sized>(pub &'a T);

#[doc(hidden)]
pub trait ViaValidate {
    fn __warden_nested(&self, report: &mut Report, field: &'static str);
}

impl<T: Validate + ?Sized> ViaValidate for Nested<'_, T> {
    #[inline]
    fn __warden_nested(&self, report: &mut Report, field: &'static str) {
        if !T::NESTED {
            return;
        }
        if field.is_empty() {
            self.0.validate_into(report);
        } else {
            report.enter_field(field);
            self.0.validate_into(report);
            report.leave();
        }
    }
}

#[doc(hidden)]
pub trait ViaNothing {
    fn __warden_nested(&self, report: &mut Report, field: &'static str);
}

impl<T: ?Sized> ViaNothing for &Nested<'_, T> {
    #[inline]
    fn __warden_nested(&self, _: &mut Report, _: &'static str) {}
}
