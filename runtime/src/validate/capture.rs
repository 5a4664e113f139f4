//! What made a body fail to deserialise, as typed data: the issue a client
//! sees is built from the kind of error serde made and the names it made
//! it with, never from the English of a format's error message.
//!
//! # How
//!
//! serde makes a data error in one of two places:
//!
//! - **in the type's own code** (derived or written by hand): a visitor
//!   calls `E::unknown_field(..)`, `E::missing_field(..)`,
//!   `E::invalid_type(..)`, ..., or `E::custom(..)` on the error type of
//!   the call it is in (the `E` of `visit_str::<E>`, the `A::Error` of the
//!   map or sequence it reads, the `D::Error` of the deserializer it was
//!   given);
//! - **in the format** (serde_json, serde_urlencoded): a value of another
//!   shape than the type asked for (a number where a string is wanted), or
//!   a text that does not parse as the number it should be.
//!
//! [`deserialize`] puts [`Capture`] between the type and the format. Every
//! visitor, sequence, map, enum and seed that crosses it is wrapped, and on
//! the type's side of it every error type is [`Caught`], whose
//! `de::Error` constructors make a typed [`DataError`]. When such an error
//! crosses back into the format (which wants its own error type), it is
//! recorded in a side channel (`Slot`) and the format gets its own error
//! from it; only the record is ever read. An error the format made itself
//! reaches the nearest `Capture` with nothing recorded: it is recorded
//! there as [`DataError::Refused`], with what the refused visitor said it
//! expected if the format asked it (serde_json words a value of the wrong
//! type by asking the visitor it was given what it expects; that visitor
//! is the wrapper, which keeps the answer). A success clears the record,
//! so an error a type caught and recovered from is not reported. Paths are
//! tracked by `serde_path_to_error`, around this layer.
//!
//! # Why not a value tree with a typed error
//!
//! `serde_value` deserialises from its own tree with exactly such a typed
//! error, but its tree cannot read a map key `"7"` as the number a
//! `HashMap<u32, _>` wants, as serde_json does, and is not what serde_json
//! reads: a first parse of the body's own stream (which sees a duplicate
//! key that a tree merges) would still need another way to be typed. It
//! also would not help the URL-encoded reader, whose format parses numbers
//! from text. Wrapping the formats keeps each one's own behaviour, for
//! every reader.
//!
//! # What a client sees
//!
//! | data error | `code` | `message` |
//! |---|---|---|
//! | an unknown field | `unknown_field` | this field is not allowed |
//! | a missing field (its path ends with the field) | `missing_field` | this field is required |
//! | a value of the wrong type, out of range, of the wrong length, an unknown enum variant, or one the format refused while the type said what it expects | `invalid_type` | expected (what the type said it expects) |
//! | a duplicate field, a custom error (its text is the type's, and may quote the value), an enum without variants, or one the format refused without words | `invalid_value` | this value is not valid here |
//!
//! These are the codes and messages the readers gave when they read
//! serde's text; now each comes from one kind. The value that was sent is
//! never kept: what serde calls `unexpected` is dropped where the error is
//! made, and a custom error's text is kept but never shown.

use std::cell::RefCell;
use std::fmt::{self, Display};

use serde::de::{
    self, Deserialize, DeserializeSeed, Deserializer, EnumAccess, Expected, MapAccess, SeqAccess,
    Unexpected, VariantAccess, Visitor,
};

use super::Issue;
use super::report::{MAX_PATH, cut, push_key};

/// What made a value fail to deserialise, as serde made the error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DataError {
    /// A field the type does not know (`deny_unknown_fields`); the name is
    /// the client's, and already the last segment of the path.
    UnknownField {
        field: String,
        expected: &'static [&'static str],
    },
    /// A field the type requires was not sent.
    MissingField(&'static str),
    /// A field was sent twice.
    DuplicateField(&'static str),
    /// A value of another type than the one expected.
    InvalidType { expected: String },
    /// A value of the right type that the type refused (out of range).
    InvalidValue { expected: String },
    /// A sequence or map of the wrong length.
    InvalidLength { expected: String },
    /// An enum variant the type does not have.
    UnknownVariant { expected: &'static [&'static str] },
    /// The type's own words, which may quote the value: never shown.
    Custom(String),
    /// The format refused the value for the type, with what the type said
    /// it expects when the format asked it.
    Refused { expected: Option<String> },
}

impl DataError {
    /// The issue a client sees for this error at `path` (warden's
    /// spelling of where serde was): see the table in the module docs.
    pub(crate) fn to_issue(&self, mut path: String) -> Issue {
        const NOT_VALID: &str = "this value is not valid here";
        let (code, message) = match self {
            Self::UnknownField { .. } => ("unknown_field", "this field is not allowed".to_owned()),
            // Spelt as every other data issue spells a field.
            Self::MissingField(field) => {
                push_key(&mut path, field);
                ("missing_field", "this field is required".to_owned())
            }
            Self::InvalidType { expected }
            | Self::InvalidValue { expected }
            | Self::InvalidLength { expected }
            | Self::Refused {
                expected: Some(expected),
            } => ("invalid_type", format!("expected {expected}")),
            Self::UnknownVariant { expected } if !expected.is_empty() => {
                ("invalid_type", format!("expected {}", OneOf(expected)))
            }
            Self::UnknownVariant { .. }
            | Self::DuplicateField(_)
            | Self::Custom(_)
            | Self::Refused { expected: None } => ("invalid_value", NOT_VALID.to_owned()),
        };
        if path.len() > MAX_PATH {
            cut(&mut path, MAX_PATH);
        }
        Issue {
            path,
            code: code.into(),
            message: message.into(),
        }
    }
}

/// serde's wording of a list of names: `` `a` ``, `` `a` or `b` ``,
/// `` one of `a`, `b`, `c` ``.
struct OneOf(&'static [&'static str]);

impl Display for OneOf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            [one] => write!(f, "`{one}`"),
            [a, b] => write!(f, "`{a}` or `{b}`"),
            names => {
                f.write_str("one of ")?;
                for (i, name) in names.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "`{name}`")?;
                }
                Ok(())
            }
        }
    }
}

/// As serde words these errors, less the value that was sent: this is
/// what the format's own error says when one of ours crosses into it.
impl Display for DataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownField {
                field,
                expected: [],
            } => {
                write!(f, "unknown field `{field}`, there are no fields")
            }
            Self::UnknownField { field, expected } => {
                write!(f, "unknown field `{field}`, expected {}", OneOf(expected))
            }
            Self::MissingField(field) => write!(f, "missing field `{field}`"),
            Self::DuplicateField(field) => write!(f, "duplicate field `{field}`"),
            Self::InvalidType { expected } => write!(f, "invalid type, expected {expected}"),
            Self::InvalidValue { expected } => write!(f, "invalid value, expected {expected}"),
            Self::InvalidLength { expected } => write!(f, "invalid length, expected {expected}"),
            Self::UnknownVariant { expected: [] } => {
                f.write_str("unknown variant, there are no variants")
            }
            Self::UnknownVariant { expected } => {
                write!(f, "unknown variant, expected {}", OneOf(expected))
            }
            Self::Custom(message) => f.write_str(message),
            Self::Refused {
                expected: Some(expected),
            } => write!(f, "refused by the format, expected {expected}"),
            Self::Refused { expected: None } => f.write_str("refused by the format"),
        }
    }
}

/// The error type on the type's side of [`Capture`]: an error of the
/// format passing through, or one the type made, typed.
#[derive(Debug)]
pub(crate) enum Caught<E> {
    /// The format's error, passing through (already recorded, or recorded
    /// by the next [`Capture`] up).
    Format(E),
    /// An error the type made.
    Data(DataError),
}

impl<E: Display> Display for Caught<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Format(error) => error.fmt(f),
            Self::Data(error) => error.fmt(f),
        }
    }
}

impl<E: std::error::Error> std::error::Error for Caught<E> {}

fn expected(exp: &dyn Expected) -> String {
    exp.to_string()
}

impl<E: de::Error> de::Error for Caught<E> {
    fn custom<T: Display>(message: T) -> Self {
        Self::Data(DataError::Custom(message.to_string()))
    }

    fn invalid_type(_: Unexpected<'_>, exp: &dyn Expected) -> Self {
        Self::Data(DataError::InvalidType {
            expected: expected(exp),
        })
    }

    fn invalid_value(_: Unexpected<'_>, exp: &dyn Expected) -> Self {
        Self::Data(DataError::InvalidValue {
            expected: expected(exp),
        })
    }

    fn invalid_length(_: usize, exp: &dyn Expected) -> Self {
        Self::Data(DataError::InvalidLength {
            expected: expected(exp),
        })
    }

    fn unknown_variant(_: &str, expected: &'static [&'static str]) -> Self {
        Self::Data(DataError::UnknownVariant { expected })
    }

    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        Self::Data(DataError::UnknownField {
            field: field.to_owned(),
            expected,
        })
    }

    fn missing_field(field: &'static str) -> Self {
        Self::Data(DataError::MissingField(field))
    }

    fn duplicate_field(field: &'static str) -> Self {
        Self::Data(DataError::DuplicateField(field))
    }
}

/// The side channel: the error on its way up, and what the last visitor
/// the format asked said it expects.
#[derive(Default)]
struct Slot {
    error: RefCell<Option<DataError>>,
    said: RefCell<Option<String>>,
}

impl Slot {
    /// A success: whatever was recorded below was caught and recovered
    /// from.
    fn clear(&self) {
        self.error.borrow_mut().take();
        self.said.borrow_mut().take();
    }

    /// A result crossing from the type back into the format: an error the
    /// type made is recorded (it is the one on its way up now), and the
    /// format gets its own error, worded the same.
    fn settle<T, E: de::Error>(&self, result: Result<T, Caught<E>>) -> Result<T, E> {
        match result {
            Ok(value) => {
                self.clear();
                Ok(value)
            }
            Err(Caught::Format(error)) => Err(error),
            Err(Caught::Data(error)) => {
                let format = E::custom(&error);
                *self.error.borrow_mut() = Some(error);
                Err(format)
            }
        }
    }

    /// A result coming out of the format: an error with nothing recorded
    /// was made by the format itself.
    fn out_of_format<T, E>(&self, result: Result<T, E>) -> Result<T, Caught<E>> {
        match result {
            Ok(value) => {
                self.clear();
                Ok(value)
            }
            Err(error) => {
                let mut recorded = self.error.borrow_mut();
                if recorded.is_none() {
                    *recorded = Some(DataError::Refused {
                        expected: self.said.borrow_mut().take(),
                    });
                }
                Err(Caught::Format(error))
            }
        }
    }

    /// The error recorded for a parse that failed with the format's own
    /// error at the top.
    fn into_error(self) -> DataError {
        self.error
            .into_inner()
            .unwrap_or(DataError::Refused { expected: None })
    }
}

/// Why a value did not deserialise: where and what.
pub(crate) struct Failure {
    /// Where, as `serde_path_to_error` tracked it.
    pub(crate) path: serde_path_to_error::Path,
    /// What, typed.
    pub(crate) error: DataError,
}

/// Deserialises a `T` from `deserializer`, as the format alone would, and
/// says where and why it failed.
pub(crate) fn deserialize<'de, D, T>(deserializer: D) -> Result<T, Failure>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    let slot = Slot::default();
    let result = serde_path_to_error::deserialize(Capture {
        de: deserializer,
        slot: &slot,
    });
    result.map_err(|error| {
        let path = error.path().clone();
        let error = match error.into_inner() {
            // Made by the type's own code at the top, after every crossing.
            Caught::Data(error) => error,
            // The format's own error: what it is, is on record.
            Caught::Format(_) => slot.into_error(),
        };
        Failure { path, error }
    })
}

/// A deserializer between a type and a format: see the module docs.
struct Capture<'a, D> {
    de: D,
    slot: &'a Slot,
}

macro_rules! capture_methods {
    ($($method:ident($($arg:ident: $ty:ty),*);)*) => {$(
        fn $method<V: Visitor<'de>>(self, $($arg: $ty,)* visitor: V) -> Result<V::Value, Self::Error> {
            let slot = self.slot;
            slot.out_of_format(self.de.$method($($arg,)* Visiting { inner: visitor, slot }))
        }
    )*};
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Capture<'_, D> {
    type Error = Caught<D::Error>;

    capture_methods! {
        deserialize_any();
        deserialize_bool();
        deserialize_i8();
        deserialize_i16();
        deserialize_i32();
        deserialize_i64();
        deserialize_i128();
        deserialize_u8();
        deserialize_u16();
        deserialize_u32();
        deserialize_u64();
        deserialize_u128();
        deserialize_f32();
        deserialize_f64();
        deserialize_char();
        deserialize_str();
        deserialize_string();
        deserialize_bytes();
        deserialize_byte_buf();
        deserialize_option();
        deserialize_unit();
        deserialize_unit_struct(name: &'static str);
        deserialize_newtype_struct(name: &'static str);
        deserialize_seq();
        deserialize_tuple(len: usize);
        deserialize_tuple_struct(name: &'static str, len: usize);
        deserialize_map();
        deserialize_struct(name: &'static str, fields: &'static [&'static str]);
        deserialize_enum(name: &'static str, variants: &'static [&'static str]);
        deserialize_identifier();
        deserialize_ignored_any();
    }

    fn is_human_readable(&self) -> bool {
        self.de.is_human_readable()
    }
}

/// A type's visitor, as the format sees it.
struct Visiting<'a, V> {
    inner: V,
    slot: &'a Slot,
}

macro_rules! visit_values {
    ($($method:ident($ty:ty);)*) => {$(
        fn $method<E: de::Error>(self, value: $ty) -> Result<Self::Value, E> {
            self.slot.settle(self.inner.$method(value))
        }
    )*};
}

/// The visits that hand the type a deserializer or an access of the
/// format's: wrapped, so that what the type does with it is captured too.
macro_rules! visit_wrapped {
    ($($method:ident($bound:ident, $wrapper:ident { $field:ident });)*) => {$(
        fn $method<X: $bound<'de>>(self, $field: X) -> Result<Self::Value, X::Error> {
            let slot = self.slot;
            slot.settle(self.inner.$method($wrapper { $field, slot }))
        }
    )*};
}

impl<'de, V: Visitor<'de>> Visitor<'de> for Visiting<'_, V> {
    type Value = V::Value;

    /// The format asks what was expected only to word an error of its own:
    /// what the type says is kept for [`DataError::Refused`].
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let said = expected(&self.inner);
        f.write_str(&said)?;
        *self.slot.said.borrow_mut() = Some(said);
        Ok(())
    }

    visit_values! {
        visit_bool(bool);
        visit_i8(i8);
        visit_i16(i16);
        visit_i32(i32);
        visit_i64(i64);
        visit_i128(i128);
        visit_u8(u8);
        visit_u16(u16);
        visit_u32(u32);
        visit_u64(u64);
        visit_u128(u128);
        visit_f32(f32);
        visit_f64(f64);
        visit_char(char);
        visit_str(&str);
        visit_borrowed_str(&'de str);
        visit_string(String);
        visit_bytes(&[u8]);
        visit_borrowed_bytes(&'de [u8]);
        visit_byte_buf(Vec<u8>);
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        self.slot.settle(self.inner.visit_none())
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        self.slot.settle(self.inner.visit_unit())
    }

    visit_wrapped! {
        visit_some(Deserializer, Capture { de });
        visit_newtype_struct(Deserializer, Capture { de });
        visit_seq(SeqAccess, Access { access });
        visit_map(MapAccess, Access { access });
        visit_enum(EnumAccess, Access { access });
    }
}

/// A type's seed, as the format sees it.
struct Seed<'a, S> {
    inner: S,
    slot: &'a Slot,
}

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for Seed<'_, S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<S::Value, D::Error> {
        let slot = self.slot;
        slot.settle(self.inner.deserialize(Capture { de, slot }))
    }
}

/// A format's sequence, map, enum or variant, as the type sees it.
struct Access<'a, A> {
    access: A,
    slot: &'a Slot,
}

impl<'a, A> Access<'a, A> {
    fn seed<S>(&self, inner: S) -> Seed<'a, S> {
        Seed {
            inner,
            slot: self.slot,
        }
    }

    fn visiting<V>(&self, inner: V) -> Visiting<'a, V> {
        Visiting {
            inner,
            slot: self.slot,
        }
    }
}

impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for Access<'_, A> {
    type Error = Caught<A::Error>;

    fn next_element_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<Option<S::Value>, Self::Error> {
        let seed = self.seed(seed);
        self.access.next_element_seed(seed).map_err(Caught::Format)
    }

    fn size_hint(&self) -> Option<usize> {
        self.access.size_hint()
    }
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for Access<'_, A> {
    type Error = Caught<A::Error>;

    fn next_key_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<Option<S::Value>, Self::Error> {
        let seed = self.seed(seed);
        self.access.next_key_seed(seed).map_err(Caught::Format)
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<S::Value, Self::Error> {
        let seed = self.seed(seed);
        self.access.next_value_seed(seed).map_err(Caught::Format)
    }

    fn size_hint(&self) -> Option<usize> {
        self.access.size_hint()
    }
}

impl<'a, 'de, A: EnumAccess<'de>> EnumAccess<'de> for Access<'a, A> {
    type Error = Caught<A::Error>;
    type Variant = Access<'a, A::Variant>;

    fn variant_seed<S: DeserializeSeed<'de>>(
        self,
        seed: S,
    ) -> Result<(S::Value, Self::Variant), Self::Error> {
        let slot = self.slot;
        let seed = self.seed(seed);
        match self.access.variant_seed(seed) {
            Ok((value, access)) => Ok((value, Access { access, slot })),
            Err(error) => Err(Caught::Format(error)),
        }
    }
}

impl<'de, A: VariantAccess<'de>> VariantAccess<'de> for Access<'_, A> {
    type Error = Caught<A::Error>;

    fn unit_variant(self) -> Result<(), Self::Error> {
        self.access.unit_variant().map_err(Caught::Format)
    }

    fn newtype_variant_seed<S: DeserializeSeed<'de>>(
        self,
        seed: S,
    ) -> Result<S::Value, Self::Error> {
        let seed = self.seed(seed);
        self.access
            .newtype_variant_seed(seed)
            .map_err(Caught::Format)
    }

    fn tuple_variant<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        let visitor = self.visiting(visitor);
        self.access
            .tuple_variant(len, visitor)
            .map_err(Caught::Format)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        let visitor = self.visiting(visitor);
        self.access
            .struct_variant(fields, visitor)
            .map_err(Caught::Format)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use serde::Deserialize;
    use serde::de::{DeserializeOwned, Error as _};
    use serde_json::{Value, json};

    use super::*;
    use crate::validate::report::path_of;

    /// The issue a JSON text gets as a `T`, read as a stream.
    fn streamed<T: DeserializeOwned>(text: &str) -> Issue {
        let mut de = serde_json::Deserializer::from_str(text);
        match deserialize::<_, T>(&mut de) {
            Ok(_) => panic!("{text} parsed"),
            Err(failure) => failure.error.to_issue(path_of(&failure.path)),
        }
    }

    /// The typed error a JSON value gets as a `T`.
    fn error_of<T: DeserializeOwned>(value: &Value) -> DataError {
        match deserialize::<_, T>(value) {
            Ok(_) => panic!("{value} parsed"),
            Err(failure) => failure.error,
        }
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Account {
        email: String,
        count: u32,
        #[serde(default)]
        small: u8,
    }

    #[test]
    fn messages_never_echo_the_value() {
        let issue = streamed::<Account>(r#"{"email":"a","count":"hunter2-secret"}"#);
        assert_eq!(
            (issue.path.as_str(), &*issue.code, &*issue.message),
            ("count", "invalid_type", "expected u32")
        );
        let issue = streamed::<Account>(r#"{"email":"a","count":1,"small":9999}"#);
        assert_eq!(
            (&*issue.code, &*issue.message),
            ("invalid_type", "expected u8")
        );
        // A value that reads like serde's own words is not read at all.
        let issue = streamed::<Account>(
            r#"{"email":"a","count":"x, expected the-secret at line 9 column 9"}"#,
        );
        assert_eq!(issue.message, "expected u32");
        let issue = streamed::<Account>(r#"{"email":"a","count":"missing field `email`"}"#);
        assert_eq!(
            (issue.path.as_str(), &*issue.code),
            ("count", "invalid_type")
        );
        let issue = streamed::<Account>(r#"{"count":1}"#);
        assert_eq!(
            (issue.path.as_str(), &*issue.code),
            ("email", "missing_field")
        );
        let issue = streamed::<Account>(r#"{"email":"a","count":1,"role":"admin"}"#);
        assert_eq!(
            (issue.path.as_str(), &*issue.code),
            ("role", "unknown_field")
        );
    }

    /// Fails with serde's wording of an unknown or missing field, quoting
    /// the value, from its visitor's `E::custom`.
    #[derive(Debug)]
    struct Mimic;

    impl<'de> Deserialize<'de> for Mimic {
        fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
            struct Words;
            impl Visitor<'_> for Words {
                type Value = Mimic;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("anything")
                }
                fn visit_u64<E: de::Error>(self, _: u64) -> Result<Mimic, E> {
                    Err(E::custom("missing field `secret`"))
                }
                fn visit_str<E: de::Error>(self, value: &str) -> Result<Mimic, E> {
                    Err(E::custom(format!(
                        "unknown field `{value}`, expected `secret`"
                    )))
                }
            }
            de.deserialize_any(Words)
        }
    }

    /// The same from `D::Error::custom`, after reading a string.
    #[derive(Debug)]
    struct MimicAfter;

    impl<'de> Deserialize<'de> for MimicAfter {
        fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
            let value = String::deserialize(de)?;
            Err(D::Error::custom(format!("missing field `{value}`")))
        }
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Holder {
        mimic: Option<Mimic>,
        after: Option<MimicAfter>,
        other: u32,
    }

    #[test]
    fn a_custom_message_is_never_taken_for_serde_words() {
        for body in [
            r#"{"mimic":"hunter2","other":1}"#,
            r#"{"mimic":7,"other":1}"#,
            r#"{"other":1,"mimic":"other"}"#,
        ] {
            let issue = streamed::<Holder>(body);
            assert_eq!(
                (issue.path.as_str(), &*issue.code, &*issue.message),
                ("mimic", "invalid_value", "this value is not valid here"),
                "{body}"
            );
            let value: Value = serde_json::from_str(body).unwrap();
            assert!(matches!(error_of::<Holder>(&value), DataError::Custom(_)));
        }
        let issue = streamed::<Holder>(r#"{"after":"other","other":1}"#);
        assert_eq!(
            (issue.path.as_str(), &*issue.code),
            ("after", "invalid_value")
        );
        // At the top, the type's own error is the one that stopped it.
        let failure = deserialize::<_, MimicAfter>(&json!("other")).err().unwrap();
        assert_eq!(
            failure.error,
            DataError::Custom("missing field `other`".into())
        );
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Odd {
        #[serde(rename = "odd`name")]
        odd: u32,
        #[serde(rename = "a.b")]
        dotted: Option<u32>,
    }

    #[test]
    fn names_with_backticks_and_dots_are_names() {
        assert_eq!(
            error_of::<Odd>(&json!({})),
            DataError::MissingField("odd`name")
        );
        // Spelt as the field's other issues are: escaped, not plain.
        let issue = DataError::MissingField("odd`name").to_issue(String::new());
        assert_eq!(issue.path, "[\"odd`name\"]");
        let issue = streamed::<Odd>(r#"{"odd`name":"x"}"#);
        assert_eq!(issue.path, "[\"odd`name\"]");
        assert_eq!(
            error_of::<Odd>(&json!({"odd`name": 1, "`x`": 2})),
            DataError::UnknownField {
                field: "`x`".into(),
                expected: &["odd`name", "a.b"]
            }
        );
    }

    #[derive(Debug, Deserialize, PartialEq)]
    enum Shape {
        Dot,
        Circle(u32),
        Rect { w: u32, h: u32 },
        Pair(u8, u8),
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(untagged)]
    enum Either {
        Number(u32),
        Text(String),
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(tag = "kind")]
    enum Tagged {
        A { a: u32 },
        B,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Flat {
        id: u32,
        #[serde(flatten)]
        rest: HashMap<String, Value>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Everything {
        shapes: Vec<Shape>,
        either: Vec<Either>,
        tagged: Option<Tagged>,
        flat: Option<Flat>,
        by_id: HashMap<u32, bool>,
        pair: Option<(i8, f64)>,
        big: Option<u128>,
    }

    /// What serde_json alone makes of `text`, and what it makes of it
    /// through the capture, agree: the capture changes no outcome.
    fn agree(text: &str) {
        let alone = serde_json::from_str::<Everything>(text).ok();
        let mut de = serde_json::Deserializer::from_str(text);
        let captured = deserialize::<_, Everything>(&mut de).ok();
        assert_eq!(captured, alone, "{text}");
        if let Ok(value) = serde_json::from_str::<Value>(text) {
            let alone = serde_json::from_value::<Everything>(value.clone()).ok();
            assert_eq!(deserialize::<_, Everything>(&value).ok(), alone, "{text}");
        }
    }

    #[test]
    fn the_capture_changes_no_outcome() {
        let fine = r#"{"shapes":["Dot",{"Circle":2},{"Rect":{"w":1,"h":2}},{"Pair":[1,2]}],
            "either":[1,"x"],"tagged":{"kind":"A","a":1},"flat":{"id":1,"x":[1]},
            "by_id":{"7":true},"pair":[-1,1.5],"big":340282366920938463463374607431768211455}"#;
        agree(fine);
        assert!(serde_json::from_str::<Everything>(fine).is_ok());
        for text in [
            r#"{"shapes":[],"either":[],"tagged":null,"flat":null,"by_id":{},"pair":null,"big":null}"#,
            r#"{"shapes":["Nope"],"either":[],"by_id":{}}"#,
            r#"{"shapes":[{"Circle":2,"Dot":null}],"either":[],"by_id":{}}"#,
            r#"{"shapes":[{"Pair":[1,2,3]}],"either":[],"by_id":{}}"#,
            r#"{"shapes":[],"either":[true],"by_id":{}}"#,
            r#"{"shapes":[],"either":[],"tagged":{"kind":"C"},"by_id":{}}"#,
            r#"{"shapes":[],"either":[],"flat":{"x":1},"by_id":{}}"#,
            r#"{"shapes":[],"either":[],"by_id":{"x":true}}"#,
            r#"{"shapes":[],"either":[],"by_id":{},"pair":[1]}"#,
            r#"{"shapes":[],"either":[],"by_id":{},"pair":[300,1]}"#,
            r#"{"shapes":[],"either":[],"by_id":{},"big":-1}"#,
            r#"{"shapes":[],"shapes":[],"either":[],"by_id":{}}"#,
            r#"{"shapes":[],"either":[],"by_id":{}"#,
        ] {
            agree(text);
        }
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Kinds {
        #[serde(default)]
        small: u8,
        #[serde(default)]
        pair: Option<(u8, u8)>,
        #[serde(default)]
        shape: Option<Shape>,
        #[serde(default)]
        either: Option<Either>,
        #[serde(default)]
        count: u32,
    }

    #[test]
    fn each_kind_is_typed_where_serde_makes_it() {
        let kind = |value: Value| error_of::<Kinds>(&value);
        // Made by the type's visitors.
        assert_eq!(
            kind(json!({"small": 1.5})),
            DataError::InvalidType {
                expected: "u8".into()
            }
        );
        assert_eq!(
            kind(json!({"small": 256})),
            DataError::InvalidValue {
                expected: "u8".into()
            }
        );
        assert_eq!(
            kind(json!({"pair": [1]})),
            DataError::InvalidLength {
                expected: "a tuple of size 2".into()
            }
        );
        assert_eq!(
            kind(json!({"shape": "Square"})),
            DataError::UnknownVariant {
                expected: &["Dot", "Circle", "Rect", "Pair"]
            }
        );
        assert!(matches!(
            kind(json!({"either": true})),
            DataError::Custom(_)
        ));
        // Made by the format, with what the type expects.
        assert_eq!(
            kind(json!({"count": "7"})),
            DataError::Refused {
                expected: Some("u32".into())
            }
        );
        // Made by the format, without words: a JSON enum as a map of two.
        assert_eq!(
            kind(json!({"shape": {"Dot": null, "Circle": 1}})),
            DataError::Refused { expected: None }
        );
        // A stream sees a duplicate key that a value tree merges.
        let mut de = serde_json::Deserializer::from_str(r#"{"count":1,"count":2}"#);
        assert_eq!(
            deserialize::<_, Kinds>(&mut de).err().unwrap().error,
            DataError::DuplicateField("count")
        );
        // A form's format refuses a text that is not a number, in its words.
        let form = serde_urlencoded::Deserializer::new(form_urlencoded::parse(b"count=lots"));
        assert_eq!(
            deserialize::<_, Kinds>(form).err().unwrap().error,
            DataError::Refused { expected: None }
        );
    }

    /// Reads a `bool`, or nothing when the value is not one: an error
    /// caught and recovered from.
    #[derive(Debug)]
    struct Lenient;

    impl<'de> Deserialize<'de> for Lenient {
        fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
            let _ = bool::deserialize(de);
            Ok(Lenient)
        }
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Recovering {
        first: Lenient,
        second: u8,
    }

    #[test]
    fn an_error_recovered_from_is_not_the_one_reported() {
        for (value, expected) in [
            (json!({"first": 1, "second": "x"}), Some("u8")),
            (json!({"first": 1.5, "second": 300}), None),
        ] {
            let error = error_of::<Recovering>(&value);
            match expected {
                Some(expected) => assert_eq!(
                    error,
                    DataError::Refused {
                        expected: Some(expected.into())
                    }
                ),
                None => assert_eq!(
                    error,
                    DataError::InvalidValue {
                        expected: "u8".into()
                    }
                ),
            }
        }
    }

    #[test]
    fn the_client_words_of_each_kind() {
        let issue = |error: DataError| {
            let issue = error.to_issue("a".into());
            (
                issue.path,
                issue.code.into_owned(),
                issue.message.into_owned(),
            )
        };
        let said = |path: &str, code: &str, message: &str| {
            (path.to_owned(), code.to_owned(), message.to_owned())
        };
        assert_eq!(
            issue(DataError::UnknownVariant {
                expected: &["x", "y"]
            }),
            said("a", "invalid_type", "expected `x` or `y`")
        );
        assert_eq!(
            issue(DataError::UnknownVariant {
                expected: &["x", "y", "z"]
            }),
            said("a", "invalid_type", "expected one of `x`, `y`, `z`")
        );
        assert_eq!(
            issue(DataError::UnknownVariant { expected: &[] }),
            said("a", "invalid_value", "this value is not valid here")
        );
        assert_eq!(
            issue(DataError::Custom(
                "unknown field `b`, expected the-secret".into()
            )),
            said("a", "invalid_value", "this value is not valid here")
        );
        assert_eq!(
            issue(DataError::DuplicateField("b")),
            said("a", "invalid_value", "this value is not valid here")
        );
        assert_eq!(
            issue(DataError::MissingField("b")),
            said("a.b", "missing_field", "this field is required")
        );
        // A missing field's path is cut after the field joins it.
        let long = "x".repeat(MAX_PATH);
        let issue = DataError::MissingField("b").to_issue(long);
        assert!(issue.path.len() <= MAX_PATH && issue.path.ends_with("..."));
    }
}
