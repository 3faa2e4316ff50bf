//! Kazakhstan phone numbers (clause 2.1: mobile, home and work phones; clause 7.1 b: the
//! mobile number is the subject's login). A [`Phone`] is stored in E.164 form, `+7` and ten
//! digits, whatever way it was typed (`8 777 123 45 67`, `+7(777)1234567`, `77771234567`,
//! `+7 777 123-45-67`), per `shared/spec/kz-formats.md`.
//!
//! Kazakhstan shares country code 7 with Russia; Kazakhstan's numbers are in zones 6xx and
//! 7xx, so a national number must begin with 6 or 7. Mobile numbers are `+7 70x`, `+7 74x`,
//! `+7 75x`, `+7 76x` and `+7 77x`; `+7 71x` and `+7 72x` are fixed-line area codes (Astana
//! 7172, Almaty 727, …), which is why "begins with +77" alone is not a mobile test.
//!
//! Privacy (clauses 4.1–4.2): errors never contain the input; `Debug` shows
//! [`Phone::masked`] (`+7 *** *** 45 67`).

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// Longest input accepted before normalisation (separators included).
const MAX_INPUT_CHARS: usize = 32;

/// Two-digit prefixes of the national number (after `+7`) that belong to mobile networks.
pub const MOBILE_PREFIXES: [&str; 5] = ["70", "74", "75", "76", "77"];

/// Why a text is not a Kazakhstan phone number. Messages never contain the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum PhoneError {
    /// Nothing but whitespace.
    #[error("phone number is empty")]
    Empty,
    /// A character other than digits, spaces, `-`, `(`, `)` and a leading `+`.
    #[error("phone number may contain only digits, spaces, dashes, parentheses and a leading +")]
    BadCharacter,
    /// Wrong number of digits.
    #[error("phone number must have 11 digits: +7 or 8, then 10 digits")]
    BadLength,
    /// Does not start with `+7`, `7` or `8`.
    #[error("phone number must start with +7, 7 or 8")]
    BadPrefix,
    /// Country code 7 but not a Kazakhstan zone (6xx, 7xx).
    #[error("phone number is not a Kazakhstan number")]
    NotKazakhstan,
}

impl PhoneError {
    /// Stable snake_case code.
    pub fn code(&self) -> &'static str {
        match self {
            PhoneError::Empty => "phone_empty",
            PhoneError::BadCharacter => "phone_bad_character",
            PhoneError::BadLength => "phone_bad_length",
            PhoneError::BadPrefix => "phone_bad_prefix",
            PhoneError::NotKazakhstan => "phone_not_kazakhstan",
        }
    }
}

/// A Kazakhstan phone number in E.164 form (`+7XXXXXXXXXX`).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Phone(String);

impl Phone {
    /// Parses and normalises a phone number typed in one of the common ways.
    pub fn parse(input: &str) -> Result<Phone, PhoneError> {
        let t = input.trim();
        if t.is_empty() {
            return Err(PhoneError::Empty);
        }
        let mut digits = String::with_capacity(11);
        let mut plus = false;
        for (i, c) in t.chars().enumerate() {
            if i >= MAX_INPUT_CHARS {
                return Err(PhoneError::BadLength);
            }
            match c {
                '0'..='9' => digits.push(c),
                ' ' | '\u{00A0}' | '-' | '(' | ')' => {}
                '+' if i == 0 => plus = true,
                _ => return Err(PhoneError::BadCharacter),
            }
        }
        if digits.len() != 11 {
            return Err(PhoneError::BadLength);
        }
        let national = match (plus, digits.as_bytes().first()) {
            (true, Some(b'7')) | (false, Some(b'7' | b'8')) => &digits[1..],
            _ => return Err(PhoneError::BadPrefix),
        };
        if !matches!(national.as_bytes().first(), Some(b'6' | b'7')) {
            return Err(PhoneError::NotKazakhstan);
        }
        Ok(Phone(format!("+7{national}")))
    }

    /// The E.164 form, `+7` and ten digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The ten digits after `+7`.
    pub fn national_number(&self) -> &str {
        self.0.get(2..).unwrap_or("")
    }

    /// Whether this is a mobile number (see [`MOBILE_PREFIXES`]).
    pub fn is_mobile(&self) -> bool {
        let n = self.national_number();
        MOBILE_PREFIXES.iter().any(|p| n.starts_with(p))
    }

    /// Grouped for reading: `+7 777 123 45 67`.
    pub fn formatted(&self) -> String {
        let n = self.national_number();
        format!(
            "+7 {} {} {} {}",
            n.get(0..3).unwrap_or(""),
            n.get(3..6).unwrap_or(""),
            n.get(6..8).unwrap_or(""),
            n.get(8..10).unwrap_or("")
        )
    }

    /// Masked for display: only the last four digits, `+7 *** *** 45 67`.
    pub fn masked(&self) -> String {
        let n = self.national_number();
        format!(
            "+7 *** *** {} {}",
            n.get(6..8).unwrap_or(""),
            n.get(8..10).unwrap_or("")
        )
    }

    /// The E.164 form as an owned string.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Debug for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Phone({})", self.masked())
    }
}

/// The full E.164 number: for storage and authorised display only, never for logs.
impl fmt::Display for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Phone {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl FromStr for Phone {
    type Err = PhoneError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Phone::parse(s)
    }
}

impl TryFrom<String> for Phone {
    type Error = PhoneError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Phone::parse(&s)
    }
}

impl TryFrom<&str> for Phone {
    type Error = PhoneError;
    fn try_from(s: &str) -> Result<Self, Self::Error> {
        Phone::parse(s)
    }
}

impl From<Phone> for String {
    fn from(v: Phone) -> String {
        v.0
    }
}

impl Serialize for Phone {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Phone {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        crate::value::de::parsed_str(d, "a phone number string", Phone::parse)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn c2_1_phone_common_forms_normalise_to_e164() {
        for s in [
            "8 777 123 45 67",
            "+7(777)1234567",
            "77771234567",
            "+7 777 123-45-67",
            "87771234567",
            "  +7 (777) 123 45 67 ",
            "8-777-123-45-67",
        ] {
            assert_eq!(Phone::parse(s).unwrap().as_str(), "+77771234567", "{s}");
        }
    }

    #[test]
    fn phone_rejects_the_rest() {
        assert_eq!(Phone::parse(""), Err(PhoneError::Empty));
        assert_eq!(Phone::parse("7771234567"), Err(PhoneError::BadLength));
        assert_eq!(
            Phone::parse("+7 777 123 45 678"),
            Err(PhoneError::BadLength)
        );
        assert_eq!(Phone::parse("+8 777 123 45 67"), Err(PhoneError::BadPrefix));
        assert_eq!(Phone::parse("97771234567"), Err(PhoneError::BadPrefix));
        assert_eq!(
            Phone::parse("+7 777.123.45.67"),
            Err(PhoneError::BadCharacter)
        );
        assert_eq!(Phone::parse("7+7771234567"), Err(PhoneError::BadCharacter));
        assert_eq!(Phone::parse("++77771234567"), Err(PhoneError::BadCharacter));
        assert_eq!(
            Phone::parse("+7 916 123 45 67"),
            Err(PhoneError::NotKazakhstan)
        );
        assert_eq!(
            Phone::parse("+7 916 123 45 67").unwrap_err().code(),
            "phone_not_kazakhstan"
        );
        assert_eq!(Phone::parse(&"-".repeat(40)), Err(PhoneError::BadLength));
    }

    #[test]
    fn c7_1b_mobile_numbers_are_told_apart_from_fixed_lines() {
        for m in [
            "+77011234567",
            "+77471234567",
            "+77771234567",
            "+77081234567",
        ] {
            assert!(Phone::parse(m).unwrap().is_mobile(), "{m}");
        }
        // Almaty 727, Astana 7172: fixed lines, although they begin with +77.
        for l in ["+77272500000", "+77172123456", "+76001234567"] {
            assert!(!Phone::parse(l).unwrap().is_mobile(), "{l}");
        }
    }

    #[test]
    fn c4_1_phone_debug_and_masked_hide_number() {
        let p = Phone::parse("+7 777 123 45 67").unwrap();
        assert_eq!(p.masked(), "+7 *** *** 45 67");
        assert_eq!(format!("{p:?}"), "Phone(+7 *** *** 45 67)");
        assert_eq!(p.formatted(), "+7 777 123 45 67");
        let e = serde_json::from_str::<Phone>("87771234567").unwrap_err();
        assert!(!e.to_string().contains("7771234567"), "{e}");
    }

    proptest! {
        #[test]
        fn prop_phone_formats_normalise_to_same_e164(n in "7[0-9]{9}", style in 0usize..6) {
            let (a, b, c, d, e) = (&n[0..3], &n[3..6], &n[6..8], &n[8..10], &n);
            let typed = match style {
                0 => format!("8 {a} {b} {c} {d}"),
                1 => format!("+7({a}){b}{c}{d}"),
                2 => format!("7{e}"),
                3 => format!("+7 {a} {b}-{c}-{d}"),
                4 => format!("8{e}"),
                _ => format!(" +7 ({a}) {b} {c} {d} "),
            };
            let p = Phone::parse(&typed).unwrap();
            prop_assert_eq!(p.as_str(), format!("+7{n}"));
            prop_assert_eq!(Phone::parse(p.as_str()).unwrap(), p.clone());
            prop_assert!(!p.masked().contains(&n));
            let dbg = format!("{p:?}");
            prop_assert!(!dbg.contains(&n));
        }

        #[test]
        fn prop_phone_never_panics(s in ".*") {
            let _ = Phone::parse(&s);
        }

        #[test]
        fn prop_phone_never_panics_unicode(s in any::<String>()) {
            if let Ok(p) = Phone::parse(&s) {
                prop_assert_eq!(p.as_str().len(), 12);
            }
        }
    }
}
