//! A reader for the claims sets issuers write, beside `serde_json`.
//!
//! Access tokens' payloads are flat JSON objects of plain strings, whole
//! numbers and arrays of strings, written without escapes or spaces. This
//! reader takes exactly that form and nothing else: a string holding an
//! escape or a control character, a fraction or an exponent, a negative or
//! a very long number, a nested object, a repeated registered claim, or
//! anything it does not expect makes it answer `None`, and the payload is
//! then read by `serde_json`, which decides. On the form it accepts it
//! gives what `serde_json` gives (a differential property test below holds
//! it to that), borrowing every string from the decoded payload, at a
//! fraction of the cost.

use std::borrow::Cow;

use smallvec::SmallVec;

use super::claims::{Audience, Payload, Roles, Text};

/// The claims of a payload in the plain form, or `None` for `serde_json`
/// to read it.
pub(crate) fn read_plain(json: &str) -> Option<Payload<'_>> {
    let mut reader = Reader { text: json, at: 0 };
    let mut payload = Payload::default();
    reader.punct(b'{')?;
    if !reader.eat_punct(b'}') {
        loop {
            let key = reader.key()?;
            reader.punct(b':')?;
            reader.member(key, &mut payload)?;
            match reader.next_punct()? {
                b',' => {}
                b'}' => break,
                _ => return None,
            }
        }
    }
    reader.skip_whitespace();
    (reader.at == json.len()).then_some(payload)
}

struct Reader<'a> {
    text: &'a str,
    at: usize,
}

/// A registered claim read once; a second one is for `serde_json` to
/// refuse.
#[inline]
fn once<T>(slot: &mut Option<T>, value: T) -> Option<()> {
    if slot.is_some() {
        return None;
    }
    *slot = Some(value);
    Some(())
}

/// JSON's whitespace: space, tab, line feed, carriage return.
#[inline]
fn is_whitespace(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | b'\r')
}

impl<'a> Reader<'a> {
    #[inline]
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    /// Skips JSON's whitespace. Payloads issuers write have none: then
    /// this is one comparison.
    #[inline]
    fn skip_whitespace(&mut self) {
        while self.peek().is_some_and(is_whitespace) {
            self.at += 1;
        }
    }

    /// The next byte that is not whitespace, not consumed.
    #[inline]
    fn peek_value(&mut self) -> Option<u8> {
        self.skip_whitespace();
        self.peek()
    }

    /// Consumes the next byte that is not whitespace, and returns it.
    #[inline]
    fn next_punct(&mut self) -> Option<u8> {
        let byte = self.peek_value()?;
        self.at += 1;
        Some(byte)
    }

    /// Consumes `byte`, after any whitespace, if it comes next.
    #[inline]
    fn eat_punct(&mut self, byte: u8) -> bool {
        let found = self.peek_value() == Some(byte);
        self.at += usize::from(found);
        found
    }

    /// Consumes `byte`, after any whitespace, or answers `None`.
    #[inline]
    fn punct(&mut self, byte: u8) -> Option<()> {
        self.eat_punct(byte).then_some(())
    }

    /// A string without escapes or control characters, borrowed.
    #[inline]
    fn string(&mut self) -> Option<&'a str> {
        self.punct(b'"')?;
        self.string_rest()
    }

    /// The rest of a string whose opening quote is read.
    #[inline]
    fn string_rest(&mut self) -> Option<&'a str> {
        let rest = &self.text.as_bytes()[self.at..];
        let len = string_end(rest)?;
        if rest[len] != b'"' {
            return None;
        }
        // The delimiters are ASCII: the slice is on character boundaries.
        let value = self.text.get(self.at..self.at + len)?;
        self.at += len + 1;
        Some(value)
    }

    /// A member's name: the registered claims' names are recognised
    /// whole, closing quote included, without a scan; any other name is
    /// read as a string.
    #[inline]
    fn key(&mut self) -> Option<&'a str> {
        self.punct(b'"')?;
        let rest = &self.text.as_bytes()[self.at..];
        let known = match rest {
            [b's', b'u', b'b', b'"', ..] => "sub",
            [b'i', b's', b's', b'"', ..] => "iss",
            [b'a', b'u', b'd', b'"', ..] => "aud",
            [b'e', b'x', b'p', b'"', ..] => "exp",
            [b'i', b'a', b't', b'"', ..] => "iat",
            [b'n', b'b', b'f', b'"', ..] => "nbf",
            [b'j', b't', b'i', b'"', ..] => "jti",
            [b's', b'i', b'd', b'"', ..] => "sid",
            [b'r', b'o', b'l', b'e', b's', b'"', ..] => "roles",
            [b's', b'c', b'o', b'p', b'e', b'"', ..] => "scope",
            _ => return self.string_rest(),
        };
        self.at += known.len() + 1;
        Some(known)
    }

    /// A whole number within `u64`, without a leading zero, fraction or
    /// exponent.
    fn whole_number(&mut self) -> Option<u64> {
        self.peek_value()?;
        let rest = &self.text.as_bytes()[self.at..];
        // Eight digits at a time, then one at a time: a date has ten.
        let mut len = 0;
        let mut value = 0u64;
        while let Some(eight) = rest.get(len..len + 8).and_then(eight_digits) {
            value = value.checked_mul(100_000_000)?.checked_add(eight)?;
            len += 8;
        }
        while let Some(digit) = rest.get(len).filter(|b| b.is_ascii_digit()) {
            value = value
                .checked_mul(10)?
                .checked_add(u64::from(digit - b'0'))?;
            len += 1;
        }
        if len == 0 || (len > 1 && rest[0] == b'0') {
            return None;
        }
        if matches!(rest.get(len), Some(b'.' | b'e' | b'E')) {
            return None;
        }
        self.at += len;
        Some(value)
    }

    /// An array of plain strings.
    fn strings(&mut self) -> Option<SmallVec<[Text<'a>; 2]>> {
        self.punct(b'[')?;
        let mut out = SmallVec::new();
        if self.eat_punct(b']') {
            return Some(out);
        }
        loop {
            out.push(Text(Cow::Borrowed(self.string()?)));
            match self.next_punct()? {
                b',' => {}
                b']' => return Some(out),
                _ => return None,
            }
        }
    }

    #[inline]
    fn text(&mut self) -> Option<Text<'a>> {
        self.string().map(|s| Text(Cow::Borrowed(s)))
    }

    /// The value of one member, into its claim.
    fn member(&mut self, key: &str, payload: &mut Payload<'a>) -> Option<()> {
        match key {
            "sub" => once(&mut payload.sub, self.text()?),
            "iss" => once(&mut payload.iss, self.text()?),
            "jti" => once(&mut payload.jti, self.text()?),
            "scope" => once(&mut payload.scope, self.text()?),
            "sid" => once(&mut payload.sid, self.text()?),
            "exp" => once(&mut payload.exp, self.whole_number()?),
            "iat" => once(&mut payload.iat, self.whole_number()?),
            "nbf" => once(&mut payload.nbf, self.whole_number()?),
            "aud" => {
                let audience = match self.peek_value()? {
                    b'"' => smallvec::smallvec![self.text()?],
                    _ => self.strings()?,
                };
                once(&mut payload.aud, Audience(audience))
            }
            "roles" => once(&mut payload.roles, Roles(self.strings()?)),
            // Another claim, skipped: only a plain scalar or an array of
            // plain strings.
            _ => match self.peek_value()? {
                b'"' => self.string().map(drop),
                b'[' => self.strings().map(drop),
                b'0'..=b'9' => self.whole_number().map(drop),
                _ => ["true", "false", "null"]
                    .into_iter()
                    .find(|word| self.text[self.at..].starts_with(word))
                    .map(|word| self.at += word.len()),
            },
        }
    }
}

/// The value of eight ASCII digits (the first the most significant), or
/// `None` if any byte is not one. Each byte's high nibble must be 3, and
/// stay 3 once 6 is added (which carries out of any nibble above 9); then
/// the digits are combined in pairs, fours and the two halves.
fn eight_digits(bytes: &[u8]) -> Option<u64> {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    let word = u64::from_le_bytes(bytes.try_into().ok()?);
    let high = ONES * 0xf0;
    if word & high != ONES * 0x30 || word.wrapping_add(ONES * 6) & high != ONES * 0x30 {
        return None;
    }
    let digits = word - ONES * u64::from(b'0');
    let pairs = (digits & 0x000f_000f_000f_000f) * 10 + ((digits & 0x0f00_0f00_0f00_0f00) >> 8);
    let fours = (pairs & 0x0000_00ff_0000_00ff) * 100 + ((pairs & 0x00ff_0000_00ff_0000) >> 16);
    Some((fours & 0x0000_0000_0000_ffff) * 10_000 + ((fours & 0x0000_ffff_0000_0000) >> 32))
}

/// The index of the first `"`, `\\` or control character of `bytes`, eight
/// bytes at a time: in each word, a byte that matches sets its high bit in
/// `found`. A borrow can only set bits above a byte that matched, so the
/// lowest bit set is the first match.
fn string_end(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
    let zero_byte = |w: u64| w.wrapping_sub(ONES) & !w & HIGH;
    let mut at = 0;
    while let Some(chunk) = bytes.get(at..at + 8) {
        let word = u64::from_le_bytes(chunk.try_into().ok()?);
        let found = zero_byte(word ^ (ONES * u64::from(b'"')))
            | zero_byte(word ^ (ONES * u64::from(b'\\')))
            | (word.wrapping_sub(ONES * 0x20) & !word & HIGH);
        if found != 0 {
            return Some(at + (found.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    bytes[at..]
        .iter()
        .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
        .map(|i| at + i)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::auth::claims::RESERVED_CLAIMS;

    fn serde(json: &str) -> Result<Payload<'_>, serde_json::Error> {
        serde_json::from_str(json)
    }

    #[test]
    fn the_tokens_warden_issues_are_read_plainly() {
        let json = r#"{"aud":"bench","exp":1764000000,"iat":1763999100,"iss":"bench","jti":"AAECAwQFBgcICQoLDA0ODw","roles":["user"],"sub":"user-1"}"#;
        let plain = read_plain(json).expect("plain");
        assert_eq!(plain, serde(json).unwrap());
        assert_eq!(plain.sub.as_deref(), Some("user-1"));
        assert_eq!(plain.exp, Some(1_764_000_000));
        // Spaced, with other claims, and with several audiences.
        let spaced = r#" { "sub" : "a", "aud" : [ "x" , "y" ], "exp" : 0 , "tenant": "t",
            "admin": true, "n": 12, "groups": ["g"], "none": null, "iss":"i", "roles": [] } "#;
        assert_eq!(read_plain(spaced).expect("plain"), serde(spaced).unwrap());
    }

    #[test]
    fn anything_else_is_left_to_serde() {
        for json in [
            r#"{"sub":"a\"b"}"#,
            r#"{"sub":"\u0061"}"#,
            r#"{"s\u0075b":"a"}"#,
            "{\"sub\":\"a\tb\"}",
            r#"{"exp":1.5}"#,
            r#"{"exp":1e3}"#,
            r#"{"exp":-1}"#,
            r#"{"exp":01}"#,
            r#"{"exp":18446744073709551616}"#,
            r#"{"exp":123456789012345678901}"#,
            r#"{"exp":null}"#,
            r#"{"sub":null}"#,
            r#"{"roles":"admin"}"#,
            r#"{"aud":["a",1]}"#,
            r#"{"sub":"a","sub":"b"}"#,
            r#"{"other":{"nested":1}}"#,
            r#"{"other":1.5}"#,
            r#"{"other":-1}"#,
            r#"{"sub":"a",}"#,
            r#"{"sub":"a"} x"#,
            r#"{"sub":"a""#,
            r#"["sub"]"#,
            "\u{feff}{}",
            r#"{"other":nul}"#,
        ] {
            assert!(read_plain(json).is_none(), "{json}");
        }
    }

    /// A JSON value of the kinds a claims set holds, plain or not.
    fn value() -> impl Strategy<Value = String> {
        let string = prop_oneof![
            "[a-z0-9 é/-]{0,6}".prop_map(|s| format!("\"{s}\"")),
            prop_oneof![
                Just(r#""a\"b""#),
                Just(r#""\u00e9""#),
                Just(r#""\ud800""#),
                Just("\"a\tb\""),
                Just(r#""\/""#),
            ]
            .prop_map(str::to_owned),
        ];
        let scalar = prop_oneof![
            string.clone(),
            any::<u64>().prop_map(|n| n.to_string()),
            (0u64..100).prop_map(|n| n.to_string()),
            prop_oneof![
                Just("0"),
                Just("00"),
                Just("01"),
                Just("-1"),
                Just("1.5"),
                Just("2e3"),
                Just("1E2"),
                Just("18446744073709551616"),
                Just("99999999999999999999"),
                Just("true"),
                Just("false"),
                Just("null"),
                Just("nul"),
                Just("{}"),
                Just(r#"{"a":[1]}"#),
                Just("[1]"),
            ]
            .prop_map(str::to_owned),
        ];
        prop_oneof![
            3 => scalar,
            1 => prop::collection::vec(string, 0..3).prop_map(|items| format!("[{}]", items.join(","))),
        ]
    }

    fn key() -> impl Strategy<Value = String> {
        prop_oneof![
            prop::sample::select(vec![
                "sub",
                "iss",
                "aud",
                "exp",
                "iat",
                "nbf",
                "jti",
                "roles",
                "scope",
                "sid",
                "tenant",
                "s\\u0075b",
                "",
            ])
            .prop_map(|k| format!("\"{k}\"")),
            "[a-z]{1,4}".prop_map(|k| format!("\"{k}\"")),
        ]
    }

    fn space() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec!["", "", "", " ", "\n\t", "\r", "\u{a0}"])
    }

    fn payload() -> impl Strategy<Value = String> {
        (
            prop::collection::vec((key(), value(), space(), space()), 0..8),
            space(),
            prop::sample::select(vec!["", "", "", ",", "x", "}", "\u{feff}"]),
        )
            .prop_map(|(members, space, tail)| {
                let members: Vec<String> = members
                    .into_iter()
                    .map(|(k, v, a, b)| format!("{a}{k}{b}:{a}{v}{b}"))
                    .collect();
                format!("{space}{{{}}}{space}{tail}", members.join(","))
            })
    }

    /// A claims set in the plain form: registered claims at most once,
    /// plain strings, whole numbers, arrays of plain strings.
    fn plain_payload() -> impl Strategy<Value = String> {
        let text = "[a-zA-Z0-9 é_:/.-]{0,8}".prop_map(|s| format!("\"{s}\""));
        let texts = prop::collection::vec(text.clone(), 0..3)
            .prop_map(|items| format!("[{}]", items.join(",")));
        let number = prop_oneof![any::<u64>(), 0u64..2_000_000_000].prop_map(|n| n.to_string());
        let registered = (
            prop::sample::subsequence(
                vec![
                    "sub", "iss", "aud", "exp", "iat", "nbf", "jti", "roles", "scope", "sid",
                ],
                0..=10,
            ),
            text.clone(),
            prop_oneof![text.clone(), texts.clone()],
            number.clone(),
            texts.clone(),
        )
            .prop_map(|(names, text, aud, number, roles)| {
                names
                    .into_iter()
                    .map(|name| {
                        let value = match name {
                            "aud" => aud.clone(),
                            "exp" | "iat" | "nbf" => number.clone(),
                            "roles" => roles.clone(),
                            _ => text.clone(),
                        };
                        format!("\"{name}\":{value}")
                    })
                    .collect::<Vec<_>>()
            });
        // Other claims: any name but a registered one, which the plain
        // form holds at most once.
        let other = (
            "[a-z]{1,6}".prop_filter("another claim", |name| {
                !RESERVED_CLAIMS.contains(&name.as_str())
            }),
            prop_oneof![
                text,
                texts,
                number,
                prop::sample::select(vec!["true", "false", "null"]).prop_map(str::to_owned),
            ],
        )
            .prop_map(|(name, value)| format!("\"{name}\":{value}"));
        let space = prop::sample::select(vec!["", "", " ", "\n\t ", "\r\n"]);
        (registered, prop::collection::vec(other, 0..4), space).prop_map(
            |(mut members, others, space)| {
                members.extend(others);
                format!("{{{space}{}{space}}}", members.join(&format!(",{space}")))
            },
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(20_000))]
        /// The word-at-a-time scan finds the byte a plain scan finds, at
        /// every offset within and after the words, for every byte value.
        #[test]
        fn string_end_finds_the_first_delimiter(
            bytes in proptest::collection::vec(
                prop_oneof![3 => 0x20u8..0x7f, 1 => any::<u8>(), 1 => Just(b'"'), 1 => Just(b'\\')],
                0..40,
            ),
        ) {
            let plain = bytes.iter().position(|&b| b == b'"' || b == b'\\' || b < 0x20);
            prop_assert_eq!(string_end(&bytes), plain);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(20_000))]
        /// Eight bytes at a time read what one at a time reads: a value
        /// for eight digits, `None` for anything else.
        #[test]
        fn eight_digits_reads_what_a_byte_loop_reads(
            bytes in proptest::array::uniform8(
                prop_oneof![4 => b'0'..=b'9', 1 => any::<u8>(), 1 => 0x2au8..0x40],
            ),
        ) {
            let plain = bytes.iter().try_fold(0u64, |value, b| {
                b.is_ascii_digit().then(|| value * 10 + u64::from(b - b'0'))
            });
            prop_assert_eq!(eight_digits(&bytes), plain);
        }
    }

    #[test]
    fn eight_digits_at_the_edges() {
        assert_eq!(eight_digits(b"00000000"), Some(0));
        assert_eq!(eight_digits(b"99999999"), Some(99_999_999));
        assert_eq!(eight_digits(b"17640000"), Some(17_640_000));
        assert_eq!(eight_digits(b"1234567"), None);
        for bad in [
            b"1234567/",
            b"1234567:",
            b"/2345678",
            b":2345678",
            b"1234 678",
        ] {
            assert_eq!(eight_digits(bad), None, "{bad:?}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(5_000))]
        /// The plain form is read without serde, and as serde reads it.
        #[test]
        fn the_plain_form_is_read_as_serde_reads_it(json in plain_payload()) {
            let plain = read_plain(&json);
            prop_assert!(plain.is_some(), "{}", json);
            prop_assert_eq!(plain.unwrap(), serde(&json).unwrap(), "{}", json);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(20_000))]
        /// Whatever the plain reader accepts, serde_json reads the same.
        #[test]
        fn the_plain_reader_agrees_with_serde(json in payload()) {
            if let Some(plain) = read_plain(&json) {
                let serde = serde(&json);
                prop_assert!(serde.is_ok(), "{json}: serde refuses it: {serde:?}");
                prop_assert_eq!(plain, serde.unwrap(), "{}", json);
            }
        }
    }
}
