//! Kazakhstan bank accounts as IBAN (ИИК / ЖСК), clause 2.1 ("bank account: IBAN, bank
//! name"). Format per `shared/spec/kz-formats.md`: `KZ`, two check digits, a 3-digit bank
//! code, 13 letters/digits — 20 characters — valid when ISO 7064 MOD 97-10 of the rearranged
//! number equals 1. The bank code leads to the bank's name through the registry's bank table
//! ([`crate::registry::Registry::bank`]).
//!
//! Privacy (clauses 4.1–4.2): errors never contain the input; `Debug` shows
//! [`Iban::masked`] (`KZ** **** **** **** 0100`).

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// Length of a Kazakhstan IBAN.
pub const KZ_IBAN_LEN: usize = 20;

/// Why a text is not a Kazakhstan IBAN. Messages never contain the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum IbanError {
    /// Nothing but whitespace.
    #[error("IBAN is empty")]
    Empty,
    /// A character other than Latin letters, digits and spaces.
    #[error("IBAN may contain only Latin letters, digits and spaces")]
    BadCharacter,
    /// Not 20 characters (spaces aside).
    #[error("Kazakhstan IBAN must be 20 characters")]
    BadLength,
    /// Does not start with `KZ`.
    #[error("IBAN is not a Kazakhstan IBAN (must start with KZ)")]
    NotKazakhstan,
    /// Characters 3–4 are not digits in 02..=98.
    #[error("IBAN check digits (characters 3-4) must be digits from 02 to 98")]
    BadCheckDigits,
    /// Characters 5–7 are not digits.
    #[error("IBAN bank code (characters 5-7) must be 3 digits")]
    BadBankCode,
    /// MOD 97-10 check fails.
    #[error("IBAN checksum does not match")]
    BadChecksum,
}

impl IbanError {
    /// Stable snake_case code.
    pub fn code(&self) -> &'static str {
        match self {
            IbanError::Empty => "iban_empty",
            IbanError::BadCharacter => "iban_bad_character",
            IbanError::BadLength => "iban_bad_length",
            IbanError::NotKazakhstan => "iban_not_kazakhstan",
            IbanError::BadCheckDigits => "iban_bad_check_digits",
            IbanError::BadBankCode => "iban_bad_bank_code",
            IbanError::BadChecksum => "iban_bad_checksum",
        }
    }
}

/// Remainder mod 97 of the number formed by `chars` with letters as 10..=35 (A=10).
/// Characters other than ASCII letters and digits are skipped.
fn mod97<I: IntoIterator<Item = char>>(chars: I) -> u32 {
    let mut rem: u32 = 0;
    for c in chars {
        if let Some(d) = c.to_digit(10) {
            rem = (rem * 10 + d) % 97;
        } else if c.is_ascii_alphabetic() {
            let v = u32::from(c.to_ascii_uppercase() as u8 - b'A') + 10;
            rem = (rem * 100 + v) % 97;
        }
    }
    rem
}

/// The two check digits for an IBAN with this country code and BBAN (ISO 13616: the
/// rearranged `BBAN + country + "00"` mod 97, subtracted from 98, zero-padded). Letters are
/// case-insensitive; characters other than ASCII letters and digits are ignored, so a spaced
/// BBAN works. Used by the demo data generator.
pub fn compute_check_digits(country: &str, bban: &str) -> String {
    let rem = mod97(bban.chars().chain(country.chars()).chain("00".chars()));
    format!("{:02}", 98 - rem)
}

/// A valid Kazakhstan IBAN: 20 uppercase characters, no spaces.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Iban(String);

impl Iban {
    /// Parses an IBAN: spaces are removed and letters uppercased first.
    pub fn parse(input: &str) -> Result<Iban, IbanError> {
        let t = input.trim();
        if t.is_empty() {
            return Err(IbanError::Empty);
        }
        let mut s = String::with_capacity(KZ_IBAN_LEN);
        for c in t.chars() {
            match c {
                ' ' => {}
                c if c.is_ascii_alphanumeric() => s.push(c.to_ascii_uppercase()),
                _ => return Err(IbanError::BadCharacter),
            }
        }
        if s.len() != KZ_IBAN_LEN {
            return Err(IbanError::BadLength);
        }
        if !s.starts_with("KZ") {
            return Err(IbanError::NotKazakhstan);
        }
        let check = s.get(2..4).unwrap_or("");
        if !check.bytes().all(|b| b.is_ascii_digit()) || matches!(check, "00" | "01" | "99") {
            return Err(IbanError::BadCheckDigits);
        }
        if !s
            .get(4..7)
            .unwrap_or("")
            .bytes()
            .all(|b| b.is_ascii_digit())
        {
            return Err(IbanError::BadBankCode);
        }
        let rearranged = s
            .get(4..)
            .unwrap_or("")
            .chars()
            .chain(s.get(..4).unwrap_or("").chars());
        if mod97(rearranged) != 1 {
            return Err(IbanError::BadChecksum);
        }
        Ok(Iban(s))
    }

    /// The 20 characters, uppercase, no spaces.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The 3-digit bank code (characters 5–7).
    pub fn bank_code(&self) -> &str {
        self.0.get(4..7).unwrap_or("")
    }

    /// The two check digits (characters 3–4).
    pub fn check_digits(&self) -> &str {
        self.0.get(2..4).unwrap_or("")
    }

    /// Grouped by four for reading: `KZ86 125K ZT50 0410 0100`.
    pub fn formatted(&self) -> String {
        group4(&self.0)
    }

    /// Masked for display: only the last four characters, `KZ** **** **** **** 0100`.
    pub fn masked(&self) -> String {
        let tail = self.0.get(16..).unwrap_or("");
        format!("KZ** **** **** **** {tail}")
    }

    /// The IBAN as an owned string.
    pub fn into_string(self) -> String {
        self.0
    }
}

fn group4(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 4);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && i % 4 == 0 {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

impl fmt::Debug for Iban {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Iban({})", self.masked())
    }
}

/// The full IBAN: for storage and authorised display only, never for logs.
impl fmt::Display for Iban {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Iban {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl FromStr for Iban {
    type Err = IbanError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Iban::parse(s)
    }
}

impl TryFrom<String> for Iban {
    type Error = IbanError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Iban::parse(&s)
    }
}

impl TryFrom<&str> for Iban {
    type Error = IbanError;
    fn try_from(s: &str) -> Result<Self, Self::Error> {
        Iban::parse(s)
    }
}

impl From<Iban> for String {
    fn from(v: Iban) -> String {
        v.0
    }
}

impl Serialize for Iban {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Iban {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        crate::value::de::parsed_str(d, "an IBAN string", Iban::parse)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn c2_1_iban_spec_example_is_valid() {
        let i = Iban::parse("KZ86125KZT5004100100").unwrap();
        assert_eq!(i.bank_code(), "125");
        assert_eq!(i.check_digits(), "86");
        assert_eq!(i.formatted(), "KZ86 125K ZT50 0410 0100");
        let spaced = Iban::parse(" kz86 125k zt50 0410 0100 ").unwrap();
        assert_eq!(spaced, i);
        assert_eq!(compute_check_digits("KZ", "125KZT5004100100"), "86");
        assert_eq!(compute_check_digits("kz", "125kzt5004100100"), "86");
    }

    #[test]
    fn c2_1_iban_rejections() {
        assert_eq!(Iban::parse(""), Err(IbanError::Empty));
        assert_eq!(
            Iban::parse("KZ86-125KZT5004100100"),
            Err(IbanError::BadCharacter)
        );
        assert_eq!(
            Iban::parse("KZ86125KZT500410010"),
            Err(IbanError::BadLength)
        );
        assert_eq!(
            Iban::parse("DE86125KZT5004100100"),
            Err(IbanError::NotKazakhstan)
        );
        assert_eq!(
            Iban::parse("KZ8A125KZT5004100100"),
            Err(IbanError::BadCheckDigits)
        );
        assert_eq!(
            Iban::parse("KZ8612AKZT5004100100"),
            Err(IbanError::BadBankCode)
        );
        assert_eq!(
            Iban::parse("KZ87125KZT5004100100"),
            Err(IbanError::BadChecksum)
        );
        assert_eq!(
            Iban::parse("KZ86125KZT5004100101"),
            Err(IbanError::BadChecksum)
        );
        assert_eq!(
            Iban::parse("KZ86125KZT5004100101").unwrap_err().code(),
            "iban_bad_checksum"
        );
    }

    #[test]
    fn iban_check_digits_01_alias_of_98_is_rejected() {
        // Find a BBAN whose check digits are 98, then try 01 (same residue mod 97).
        let bban = (0..1000u32)
            .map(|n| format!("125{n:013}"))
            .find(|b| compute_check_digits("KZ", b) == "98")
            .unwrap();
        assert!(Iban::parse(&format!("KZ98{bban}")).is_ok());
        assert_eq!(
            Iban::parse(&format!("KZ01{bban}")),
            Err(IbanError::BadCheckDigits)
        );
    }

    #[test]
    fn c4_1_iban_debug_is_masked() {
        let i = Iban::parse("KZ86125KZT5004100100").unwrap();
        assert_eq!(i.masked(), "KZ** **** **** **** 0100");
        assert_eq!(format!("{i:?}"), "Iban(KZ** **** **** **** 0100)");
    }

    prop_compose! {
        fn valid_iban()(bank in "[0-9]{3}", acct in "[0-9A-Z]{13}") -> String {
            let bban = format!("{bank}{acct}");
            format!("KZ{}{bban}", compute_check_digits("KZ", &bban))
        }
    }

    proptest! {
        #[test]
        fn prop_generated_ibans_parse(s in valid_iban()) {
            let i = Iban::parse(&s).unwrap();
            prop_assert_eq!(i.as_str(), s.as_str());
            prop_assert_eq!(Iban::parse(&i.formatted()).unwrap(), i.clone());
            prop_assert_eq!(Iban::parse(&s.to_lowercase()).unwrap(), i.clone());
            prop_assert!(!i.masked().contains(&s));
            let dbg = format!("{i:?}");
            prop_assert!(!dbg.contains(&s));
            let back: Iban = serde_json::from_str(&serde_json::to_string(&i).unwrap()).unwrap();
            prop_assert_eq!(back, i);
        }

        #[test]
        fn prop_c2_1_iban_with_one_changed_digit_is_rejected(s in valid_iban(), idx in any::<proptest::sample::Index>(), delta in 1u8..10) {
            let b = s.as_bytes();
            let digits: Vec<usize> = (2..b.len()).filter(|&i| b[i].is_ascii_digit()).collect();
            let pos = digits[idx.index(digits.len())];
            let mut changed = b.to_vec();
            changed[pos] = b'0' + (b[pos] - b'0' + delta) % 10;
            let changed = String::from_utf8(changed).unwrap();
            prop_assert!(Iban::parse(&changed).is_err());
        }

        #[test]
        fn prop_iban_never_panics(s in ".*") {
            let _ = Iban::parse(&s);
        }

        #[test]
        fn prop_iban_never_panics_unicode(s in any::<String>()) {
            if let Ok(i) = Iban::parse(&s) {
                prop_assert_eq!(i.as_str().len(), KZ_IBAN_LEN);
            }
        }
    }
}
