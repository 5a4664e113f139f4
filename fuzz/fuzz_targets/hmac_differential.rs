//! warden's one-pass HMAC verifier against `jsonwebtoken::decode`, on
//! mutations of real, validly signed tokens.
//!
//! Both sides get the same secret, HS256 only, 30 s of leeway, `exp`, `iss`,
//! `aud` and `sub` required, `nbf` honoured, the same issuer and audience,
//! and the same claims type (`warden::auth::Claims`). They must agree on
//! accepting or refusing every token, and on the claims when both accept.
//!
//! warden is deliberately stricter in documented ways (runtime/src/auth/
//! jwt.rs, the `Jwt` docs and its unit tests); a token that warden refuses
//! and jsonwebtoken accepts is agreement only when it breaks one of them,
//! which [`stricter_rule`] finds by reading the token independently:
//!
//! - longer than 8 KiB;
//! - a header or claims segment that does not decode to UTF-8;
//! - a header or claims set that is not a JSON object;
//! - a `crit` header that is not null (warden understands no extension; jsonwebtoken accepts
//!   `"crit":["b64"]` with `"b64":true`);
//! - a `typ` other than `at+jwt` / `application/at+jwt` (any case), absent
//!   or null included: `accept_foreign_token_types()` is not set;
//! - a `kid` that names no configured key (jsonwebtoken ignores `kid`);
//! - an empty `sub`;
//! - a header or claims set that is not I-JSON (RFC 7493: a lone surrogate
//!   escape anywhere, in a member warden skips too).
//!
//! warden is deliberately more lenient in two documented ways, both the
//! RFCs' own rules; a token that warden accepts and jsonwebtoken refuses is
//! agreement only when [`lenient_rule`] finds that undoing them (on a
//! re-signed copy) makes jsonwebtoken accept it too:
//!
//! - header parameters that are not registered (RFC 7515 section 4: a
//!   recipient ignores those it does not understand), and the members of
//!   `jwk`, which warden never uses; jsonwebtoken types every parameter;
//! - a non-integer NumericDate (RFC 7519 section 2), which warden reads
//!   rounded the safe way (`exp` and `iat` down, `nbf` up).
//!
//! Everything else is a finding, and panics.

#![no_main]

use std::sync::LazyLock;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value, json};
use warden::Warden;
use warden::auth::{Claims, TokenError};
use warden_fuzz::{AUDIENCE, ISSUER, KID, SECRET, b64, issued, jwt_with_kid, now, signature};

const LEEWAY: u64 = 30;
const MAX_TOKEN_BYTES: usize = 8 * 1024;

struct Fixture {
    warden: Warden,
    key: DecodingKey,
    validation: Validation,
    /// Header and claims JSON of real tokens.
    seeds: Vec<(Vec<u8>, Vec<u8>)>,
    now: u64,
}

static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| {
    let warden = Warden::builder()
        .jwt(jwt_with_kid())
        .build()
        .expect("warden");
    let mut validation = Validation::new(Algorithm::HS256);
    validation.leeway = LEEWAY;
    validation.validate_exp = true;
    validation.validate_nbf = true;
    validation.validate_aud = true;
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    validation.set_issuer(&[ISSUER]);
    validation.set_audience(&[AUDIENCE]);
    let now = now();
    let mut seeds: Vec<(Vec<u8>, Vec<u8>)> = warden_fuzz::seed_parts(now)
        .into_iter()
        .map(|(h, c)| (h.into_bytes(), c.into_bytes()))
        .collect();
    // And one warden issued itself (with `kid`, since the first key has one).
    let token = issued(&warden);
    let mut parts = token.split('.');
    let mut part = || URL_SAFE_NO_PAD.decode(parts.next().unwrap()).unwrap();
    seeds.push((part(), part()));
    Fixture {
        warden,
        key: DecodingKey::from_secret(SECRET).expect("key"),
        validation,
        seeds,
        now,
    }
});

fuzz_target!(|data: &[u8]| {
    let fixture = &*FIXTURE;
    let mut u = Unstructured::new(data);
    let Ok(token) = build(&mut u, fixture) else {
        return;
    };
    compare(fixture, &token);
});

// ---------------------------------------------------------------- building

const HEADER_NAMES: &[&str] = &[
    "alg", "typ", "kid", "crit", "b64", "cty", "jku", "jwk", "x5u", "x5c", "x5t", "x5t#S256",
    "enc", "zip", "url", "nonce", "x",
];
const CLAIM_NAMES: &[&str] = &[
    "sub", "iss", "aud", "exp", "nbf", "iat", "jti", "roles", "scope", "tenant", "x",
];
const SNIPPETS: &[&str] = &[
    "\"",
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    " ",
    "\t",
    "\n",
    "null",
    "true",
    "0",
    "-1",
    ".5",
    "e3",
    "\\u0000",
    "\\ud800",
    "\\\"",
    "\u{e9}",
    "\u{1F600}",
    "\"sub\"",
    "\"aud\"",
    "\"exp\"",
    "\"typ\"",
    "\"kid\"",
    "\"crit\"",
    "\"alg\"",
    "\"HS256\"",
    "\"at+jwt\"",
];

fn value(u: &mut Unstructured<'_>, now: u64) -> Result<Value> {
    let time = |delta: i64| Value::from(now.saturating_add_signed(delta));
    Ok(match u.int_in_range(0..=33)? {
        0 => Value::Null,
        1 => true.into(),
        2 => false.into(),
        3 => 0.into(),
        4 => (-1).into(),
        5 => 1.5.into(),
        6 => u64::MAX.into(),
        7 => json!(1.8446744073709552e19),
        8 => json!((now + 600) as f64),
        9 => json!((now + 600) as f64 + 0.5),
        10 => time(600),
        11 => time(-3600),
        12 => time(3600),
        13 => time(-(LEEWAY as i64) - 5),
        14 => time(LEEWAY as i64 + 5),
        15 => "".into(),
        16 => AUDIENCE.into(),
        17 => ISSUER.into(),
        18 => "HS256".into(),
        19 => "at+jwt".into(),
        20 => "AT+JWT".into(),
        21 => "application/at+jwt".into(),
        22 => "JWT".into(),
        23 => KID.into(),
        24 => "HS384".into(),
        25 => json!([AUDIENCE]),
        26 => json!([]),
        27 => json!(["x", AUDIENCE]),
        28 => json!(["x", 1]),
        29 => json!({}),
        30 => json!(["b64"]),
        31 => json!({"kty": "oct", "k": "AAAA"}),
        32 => "user-1".into(),
        _ => {
            let len = u.int_in_range(0..=12)?;
            String::from_utf8_lossy(u.bytes(len)?).into_owned().into()
        }
    })
}

/// Byte-level mutations of a JSON text: flips, snippets, deletions.
fn mutate_bytes(u: &mut Unstructured<'_>, buf: &mut Vec<u8>) -> Result<()> {
    for _ in 0..u.int_in_range(1..=3)? {
        let at = if buf.is_empty() {
            0
        } else {
            u.choose_index(buf.len())?
        };
        match u.int_in_range(0..=4)? {
            0 if !buf.is_empty() => buf[at] ^= 1 << u.int_in_range(0..=7)?,
            1 if !buf.is_empty() => buf[at] = u.arbitrary()?,
            2 => {
                let snippet = u.choose(SNIPPETS)?.as_bytes();
                buf.splice(at..at, snippet.iter().copied());
            }
            3 if !buf.is_empty() => {
                let end = (at + u.int_in_range(1..=8)?).min(buf.len());
                buf.drain(at..end);
            }
            _ => {
                let len = u.int_in_range(1..=4)?;
                let bytes = u.bytes(len)?.to_vec();
                buf.splice(at..at, bytes);
            }
        }
    }
    Ok(())
}

/// Sets or removes one member of a JSON object; bytes that are no object
/// are mutated as bytes instead.
fn edit_member(
    u: &mut Unstructured<'_>,
    buf: &mut Vec<u8>,
    names: &[&str],
    now: u64,
) -> Result<()> {
    let Ok(Value::Object(mut object)) = serde_json::from_slice::<Value>(buf) else {
        return mutate_bytes(u, buf);
    };
    let name = (*u.choose(names)?).to_owned();
    if u.ratio(1, 4)? {
        object.remove(&name);
    } else {
        object.insert(name, value(u, now)?);
    }
    *buf = serde_json::to_vec(&Value::Object(object)).expect("json");
    Ok(())
}

/// Inserts `"name":value,` right after the opening brace: a duplicate when
/// the member is there already.
fn duplicate_member(
    u: &mut Unstructured<'_>,
    buf: &mut Vec<u8>,
    names: &[&str],
    now: u64,
) -> Result<()> {
    let Some(brace) = buf.iter().position(|&b| b == b'{') else {
        return mutate_bytes(u, buf);
    };
    let member = format!("{}:{},", Value::from(*u.choose(names)?), value(u, now)?);
    buf.splice(brace + 1..brace + 1, member.into_bytes());
    Ok(())
}

fn build(u: &mut Unstructured<'_>, fixture: &Fixture) -> Result<String> {
    let now = fixture.now;
    let seeds = &fixture.seeds;
    let (mut header, mut claims) = seeds[u.choose_index(seeds.len())?].clone();
    let mut signature_override: Option<String> = None;
    let mut raw_edits: Vec<(usize, u8, u8)> = Vec::new();
    for _ in 0..u.int_in_range(0..=5)? {
        match u.int_in_range(0..=11)? {
            0 => mutate_bytes(u, &mut header)?,
            1 | 2 => mutate_bytes(u, &mut claims)?,
            3 => edit_member(u, &mut header, HEADER_NAMES, now)?,
            4 | 5 => edit_member(u, &mut claims, CLAIM_NAMES, now)?,
            6 => duplicate_member(u, &mut header, HEADER_NAMES, now)?,
            7 => duplicate_member(u, &mut claims, CLAIM_NAMES, now)?,
            8 => {
                // A segment of another real token.
                let other = &seeds[u.choose_index(seeds.len())?];
                if u.arbitrary()? {
                    header = other.0.clone();
                } else {
                    claims = other.1.clone();
                }
            }
            9 => {
                // A wrong or oddly encoded signature.
                let right = signature(format!("{}.{}", b64(&header), b64(&claims)).as_bytes());
                signature_override = Some(match u.int_in_range(0..=5)? {
                    0 => String::new(),
                    1 => right[..right.len() - 1].to_owned(),
                    2 => format!("{right}="),
                    3 => format!("{right}AAAA"),
                    4 => {
                        // The last character carries 2 unused bits.
                        let alphabet =
                            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
                        let last = right.as_bytes()[right.len() - 1];
                        let i = alphabet.iter().position(|&c| c == last).unwrap();
                        let bits = u.int_in_range(1..=3)?;
                        format!(
                            "{}{}",
                            &right[..right.len() - 1],
                            alphabet[(i & !3) | bits] as char
                        )
                    }
                    _ => {
                        let len = u.int_in_range(0..=16)?;
                        signature(u.bytes(len)?)
                    }
                });
            }
            10 => {
                // Edits of the compact form itself, applied last.
                let at: usize = u.int_in_range(0..=1024)?;
                let op = u.int_in_range(0..=2)?;
                let byte = *u.choose(b"AQgw-_.=+/ ~\t%")?;
                raw_edits.push((at, op, byte));
            }
            _ => {
                // Arbitrary bytes for a whole header or claims set.
                let len = u.int_in_range(0..=64)?;
                let bytes = u.bytes(len)?.to_vec();
                if u.arbitrary()? {
                    header = bytes;
                } else {
                    claims = bytes;
                }
            }
        }
    }
    let message = format!("{}.{}", b64(&header), b64(&claims));
    let signature = signature_override.unwrap_or_else(|| signature(message.as_bytes()));
    let mut token = format!("{message}.{signature}").into_bytes();
    for (at, op, byte) in raw_edits {
        let at = at % (token.len() + 1);
        match op {
            0 => token.insert(at, byte),
            1 if at < token.len() => {
                token.remove(at);
            }
            _ if at < token.len() => token[at] = byte,
            _ => {}
        }
    }
    // Every edit above is ASCII.
    Ok(String::from_utf8(token).expect("ascii"))
}

// --------------------------------------------------------------- comparing

fn decode(segment: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(segment).ok()
}

fn typ_accepted(typ: &str) -> bool {
    typ.eq_ignore_ascii_case("at+jwt") || typ.eq_ignore_ascii_case("application/at+jwt")
}

/// The documented stricter rule of warden's that `token` breaks, if any,
/// read from the token itself (not from warden's answer).
fn stricter_rule(token: &str) -> Option<&'static str> {
    if token.len() > MAX_TOKEN_BYTES {
        return Some("longer than 8 KiB");
    }
    let segments: Vec<&str> = token.split('.').collect();
    let [header, claims, _] = segments[..] else {
        return None;
    };
    let header = decode(header)?;
    let Ok(header) = std::str::from_utf8(&header) else {
        return Some("header not UTF-8");
    };
    // warden wants I-JSON (RFC 7493): a lone surrogate escape, even in a
    // member it skips, is refused; jsonwebtoken skips what it does not
    // read.
    if warden_fuzz::lone_surrogate(header) {
        return Some("header not I-JSON");
    }
    let Ok(header) = serde_json::from_str::<Value>(header) else {
        return None;
    };
    let Value::Object(header) = header else {
        return Some("header not a JSON object");
    };
    if header.get("crit").is_some_and(|crit| !crit.is_null()) {
        return Some("crit header");
    }
    match header.get("typ") {
        Some(Value::String(typ)) if typ_accepted(typ) => {}
        _ => return Some("typ not at+jwt"),
    }
    match header.get("kid") {
        None | Some(Value::Null) => {}
        Some(Value::String(kid)) if kid == KID => {}
        _ => return Some("kid names no configured key"),
    }
    let claims = decode(claims)?;
    let Ok(claims) = std::str::from_utf8(&claims) else {
        return Some("claims not UTF-8");
    };
    if warden_fuzz::lone_surrogate(claims) {
        return Some("claims not I-JSON");
    }
    let Ok(claims) = serde_json::from_str::<Value>(claims) else {
        return None;
    };
    let Value::Object(claims) = claims else {
        return Some("claims not a JSON object");
    };
    if claims.get("sub") == Some(&Value::String(String::new())) {
        return Some("empty sub");
    }
    None
}

/// Whether jsonwebtoken accepts these header and claims bytes, signed.
fn theirs_accept(fixture: &Fixture, header: &[u8], claims: &[u8]) -> bool {
    let token = warden_fuzz::sign(header, claims);
    jsonwebtoken::decode::<Claims>(&token, &fixture.key, &fixture.validation).is_ok()
}

/// The registered header parameters (RFC 7515 section 4.1) but `jwk`.
const REGISTERED: &[&str] = &[
    "alg", "typ", "kid", "crit", "cty", "jku", "x5u", "x5t", "x5t#S256", "x5c",
];

/// The documented leniency of warden's that explains why jsonwebtoken
/// refuses `token`, if any: undone on a re-signed copy, jsonwebtoken
/// accepts it.
fn lenient_rule(fixture: &Fixture, token: &str) -> Option<&'static str> {
    let mut segments = token.split('.');
    let header = decode(segments.next()?)?;
    let claims = decode(segments.next()?)?;
    let Ok(Value::Object(mut header_members)) = serde_json::from_slice::<Value>(&header) else {
        return None;
    };
    let Ok(Value::Object(mut claim_members)) = serde_json::from_slice::<Value>(&claims) else {
        return None;
    };
    let before = header_members.len();
    header_members.retain(|name, _| REGISTERED.contains(&name.as_str()));
    let header_lenient = header_members.len() != before;
    let mut dates_lenient = false;
    for (name, round_up) in [("exp", false), ("iat", false), ("nbf", true)] {
        if let Some(Value::Number(n)) = claim_members.get(name)
            && n.as_u64().is_none()
            && let Some(f) = n.as_f64()
            && f.is_finite()
            && f >= 0.0
        {
            let whole = if round_up { f.ceil() } else { f.floor() };
            claim_members.insert(name.to_owned(), json!(whole as u64));
            dates_lenient = true;
        }
    }
    if !header_lenient && !dates_lenient {
        return None;
    }
    let header = serde_json::to_vec(&header_members).ok()?;
    let claims = serde_json::to_vec(&claim_members).ok()?;
    theirs_accept(fixture, &header, &claims).then_some(match (header_lenient, dates_lenient) {
        (true, false) => "unregistered header parameters (RFC 7515 section 4)",
        (false, true) => "non-integer NumericDate (RFC 7519 section 2)",
        _ => "unregistered header parameters and a non-integer NumericDate",
    })
}

/// The claims of a token that verified (or not), as JSON, when readable.
fn claims_of(token: &str) -> Option<Map<String, Value>> {
    let claims = decode(token.split('.').nth(1)?)?;
    match serde_json::from_slice(&claims).ok()? {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

/// Whether `exp` or `nbf` sits so close to the edge of the leeway that the
/// two sides, reading the clock at different instants, may both be right.
fn at_a_time_edge(token: &str) -> bool {
    let Some(claims) = claims_of(token) else {
        return false;
    };
    let now = now();
    let near = |edge: u64| {
        ["exp", "nbf"].iter().any(|name| {
            claims
                .get(*name)
                .and_then(Value::as_f64)
                .is_some_and(|t| (t - edge as f64).abs() <= 3.0)
        })
    };
    near(now - LEEWAY) || near(now + LEEWAY)
}

fn compare(fixture: &Fixture, token: &str) {
    let ours = fixture.warden.verify_access_token(token);
    let theirs = jsonwebtoken::decode::<Claims>(token, &fixture.key, &fixture.validation);
    match (ours, theirs) {
        (Ok(ours), Ok(theirs)) => assert_eq!(
            ours, theirs.claims,
            "both accept {token:?} but read different claims"
        ),
        (Err(_), Err(_)) => {}
        (Err(error), Ok(_)) => {
            if stricter_rule(token).is_some() || at_a_time_edge(token) {
                return;
            }
            panic!(
                "warden refuses ({error:?}) a token jsonwebtoken accepts, and no documented stricter rule applies: {token:?} {}",
                describe(token),
            );
        }
        (Ok(_), Err(error)) => {
            if at_a_time_edge(token) {
                return;
            }
            if lenient_rule(fixture, token).is_some() {
                return;
            }
            panic!(
                "warden accepts a token jsonwebtoken refuses ({:?}), and no documented leniency explains it: {token:?} {}",
                error.kind(),
                describe(token),
            );
        }
    }
    // Cross-check: a documented rule always means a warden refusal.
    if let Some(rule) = stricter_rule(token) {
        let error = fixture.warden.verify_access_token(token).err();
        assert!(
            error.is_some(),
            "warden accepts {token:?}, which breaks the rule {rule:?}"
        );
        let _: Option<TokenError> = error;
    }
}

/// The decoded header and claims, for the panic message.
fn describe(token: &str) -> String {
    let mut segments = token.split('.');
    let mut text = || {
        segments
            .next()
            .and_then(decode)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    };
    format!("header {:?} claims {:?}", text(), text())
}
