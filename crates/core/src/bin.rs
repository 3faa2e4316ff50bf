//! The business identification number (БИН) of a legal entity: the operator's and
//! recipients' identity in consents (L-CONSENT-2) and in the transfer register (clause 2.3).
//! Same 12-digit shape and check digit as the IIN ([`crate::iin::check_digit`]); the 5th
//! digit (entity type) is 4, 5 or 6 (`shared/spec/kz-formats.md`).
//!
//! A BIN identifies an organisation, not a person, so its `Debug` shows it; errors still never
//! echo the input, like every other parser in this crate.

use crate::iin::{twelve_digits, verify_check_digit, CheckError, DigitsError};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// Why a text is not a BIN. Messages never contain the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum BinError {
    /// Nothing but whitespace.
    #[error("BIN is empty")]
    Empty,
    /// A character other than an ASCII digit (after trimming surrounding whitespace).
    #[error("BIN must contain only digits")]
    NotDigits,
    /// Not exactly 12 digits.
    #[error("BIN must be exactly 12 digits")]
    BadLength,
    /// The 5th digit is not 4, 5 or 6.
    #[error("BIN entity-type digit (5th digit) must be 4, 5 or 6")]
    BadEntityType,
    /// The 12th digit does not match the check digit.
    #[error("BIN check digit (12th digit) does not match")]
    BadCheckDigit,
    /// The first 11 digits have no check digit: never issued.
    #[error("BIN cannot have a valid check digit; such numbers are never issued")]
    NeverIssued,
}

impl BinError {
    /// Stable snake_case code.
    pub fn code(&self) -> &'static str {
        match self {
            BinError::Empty => "bin_empty",
            BinError::NotDigits => "bin_not_digits",
            BinError::BadLength => "bin_bad_length",
            BinError::BadEntityType => "bin_bad_entity_type",
            BinError::BadCheckDigit => "bin_bad_check_digit",
            BinError::NeverIssued => "bin_never_issued",
        }
    }
}

/// A valid business identification number.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Bin(String);

impl Bin {
    /// Parses a BIN; surrounding whitespace is allowed, nothing else besides the 12 digits.
    pub fn parse(input: &str) -> Result<Bin, BinError> {
        let d = twelve_digits(input).map_err(|e| match e {
            DigitsError::Empty => BinError::Empty,
            DigitsError::NotDigits => BinError::NotDigits,
            DigitsError::BadLength => BinError::BadLength,
        })?;
        if !matches!(d[4], 4..=6) {
            return Err(BinError::BadEntityType);
        }
        verify_check_digit(&d).map_err(|e| match e {
            CheckError::Mismatch => BinError::BadCheckDigit,
            CheckError::NeverIssued => BinError::NeverIssued,
        })?;
        Ok(Bin(d.iter().map(|&x| char::from(b'0' + x)).collect()))
    }

    /// The 12 digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The entity-type digit (5th digit): 4, 5 or 6.
    pub fn entity_type_digit(&self) -> u8 {
        self.0.as_bytes().get(4).map_or(0, |b| b.wrapping_sub(b'0'))
    }
}

impl fmt::Display for Bin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Bin {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl FromStr for Bin {
    type Err = BinError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Bin::parse(s)
    }
}

impl TryFrom<String> for Bin {
    type Error = BinError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Bin::parse(&s)
    }
}

impl From<Bin> for String {
    fn from(v: Bin) -> String {
        v.0
    }
}

impl Serialize for Bin {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Bin {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        crate::value::de::parsed_str(d, "a BIN string", Bin::parse)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::iin::check_digit;
    use proptest::prelude::*;

    fn make(first11: [u8; 11]) -> Option<String> {
        let c = check_digit(&first11)?;
        let mut s: String = first11.iter().map(|x| char::from(b'0' + x)).collect();
        s.push(char::from(b'0' + c));
        Some(s)
    }

    #[test]
    fn l_consent_2_bin_with_valid_check_digit_parses() {
        let s = (0..10u8)
            .find_map(|x| make([1, 2, 0, 3, 4, 0, 0, 1, 2, 3, x]))
            .unwrap();
        let bin = Bin::parse(&s).unwrap();
        assert_eq!(bin.as_str(), s);
        assert_eq!(bin.entity_type_digit(), 4);
        let back: Bin = serde_json::from_str(&serde_json::to_string(&bin).unwrap()).unwrap();
        assert_eq!(back, bin);
    }

    #[test]
    fn bin_rejects_wrong_entity_type_and_check_digit() {
        let s = (0..10u8)
            .find_map(|x| make([1, 2, 0, 3, 3, 0, 0, 1, 2, 3, x]))
            .unwrap();
        assert_eq!(Bin::parse(&s), Err(BinError::BadEntityType));
        let good = (0..10u8)
            .find_map(|x| make([1, 2, 0, 3, 5, 0, 0, 1, 2, 3, x]))
            .unwrap();
        let last = good.as_bytes()[11] - b'0';
        let bad = format!("{}{}", &good[..11], (last + 1) % 10);
        assert_eq!(Bin::parse(&bad), Err(BinError::BadCheckDigit));
        assert_eq!(Bin::parse("12"), Err(BinError::BadLength));
        assert_eq!(Bin::parse("1203 50012345"), Err(BinError::NotDigits));
        assert_eq!(Bin::parse(""), Err(BinError::Empty));
        assert_eq!(Bin::parse("").unwrap_err().code(), "bin_empty");
    }

    proptest! {
        #[test]
        fn prop_bin_generated_valid_parse(p in proptest::array::uniform11(0u8..10), t in 4u8..=6) {
            let mut p = p;
            p[4] = t;
            if let Some(s) = make(p) {
                let b = Bin::parse(&s).unwrap();
                prop_assert_eq!(b.as_str(), s.as_str());
            }
        }

        #[test]
        fn prop_bin_wrong_check_digit_rejected(s in "[0-9]{12}") {
            let d: Vec<u8> = s.bytes().map(|b| b - b'0').collect();
            let mut first11 = [0u8; 11];
            first11.copy_from_slice(&d[..11]);
            if check_digit(&first11) != Some(d[11]) {
                prop_assert!(Bin::parse(&s).is_err());
            }
        }

        #[test]
        fn prop_bin_never_panics(s in any::<String>()) {
            let _ = Bin::parse(&s);
        }
    }
}
