//! The individual identification number (ИИН / ЖСН), clause 2.1: one of the identifying data
//! categories, and the key by which a borrower is found (through a blind index, never in
//! clear). This module owns the format rules of `shared/spec/kz-formats.md`: 12 digits, a
//! `YYMMDD` birth date, a century-and-sex digit, a 4-digit serial and a check digit; and the
//! facts an IIN states (birth date, sex) that clause 2.2 compares against stated data.
//!
//! Privacy (clauses 4.1–4.2): no error message and no `Debug` output contains the number;
//! `Debug` shows [`Iin::masked`] (`********2728`).

use chrono::NaiveDate;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// Number of digits in an IIN (and a BIN).
pub const IIN_LEN: usize = 12;

/// Sex as stated by the IIN's 7th digit (odd = male, even = female).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sex {
    /// Century digit 1, 3 or 5.
    Male,
    /// Century digit 2, 4 or 6.
    Female,
}

impl Sex {
    /// Stable name: `male` / `female`.
    pub fn as_str(self) -> &'static str {
        match self {
            Sex::Male => "male",
            Sex::Female => "female",
        }
    }
}

/// Settings for [`Iin::parse_with`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IinOptions {
    /// Accept century digit `0` (some foreigners' numbers). Off by default (kz-formats.md).
    /// Such an IIN states no birth date and no sex.
    pub allow_zero_century: bool,
}

/// Why a text is not an IIN. Messages never contain the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum IinError {
    /// Nothing but whitespace.
    #[error("IIN is empty")]
    Empty,
    /// A character other than an ASCII digit (after trimming surrounding whitespace).
    #[error("IIN must contain only digits")]
    NotDigits,
    /// Not exactly 12 digits.
    #[error("IIN must be exactly 12 digits")]
    BadLength,
    /// The 7th digit is not 1..=6 (or 0 where allowed).
    #[error("IIN century digit (7th digit) must be 1 to 6")]
    BadCentury,
    /// The first six digits are not a real calendar date in the stated century.
    #[error("IIN birth date (first six digits) is not a real date")]
    BadDate,
    /// The 12th digit does not match the check digit.
    #[error("IIN check digit (12th digit) does not match")]
    BadCheckDigit,
    /// The first 11 digits have no check digit (both sums are 10): never issued.
    #[error("IIN cannot have a valid check digit; such numbers are never issued")]
    NeverIssued,
}

impl IinError {
    /// Stable snake_case code for APIs, translations and tests.
    pub fn code(&self) -> &'static str {
        match self {
            IinError::Empty => "iin_empty",
            IinError::NotDigits => "iin_not_digits",
            IinError::BadLength => "iin_bad_length",
            IinError::BadCentury => "iin_bad_century",
            IinError::BadDate => "iin_bad_date",
            IinError::BadCheckDigit => "iin_bad_check_digit",
            IinError::NeverIssued => "iin_never_issued",
        }
    }
}

/// The check digit of an IIN or BIN from its first 11 digits (digit values 0..=9, not ASCII).
///
/// `s = Σ dᵢ·i mod 11` with weights 1..=11; if `s == 10`, again with weights
/// `3,4,5,6,7,8,9,10,11,1,2`; if that is 10 too, there is no check digit and `None` is
/// returned (such numbers are never issued). `None` also if any element is above 9.
pub fn check_digit(first11: &[u8; 11]) -> Option<u8> {
    const W1: [u32; 11] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
    const W2: [u32; 11] = [3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2];
    if first11.iter().any(|&d| d > 9) {
        return None;
    }
    let sum = |w: &[u32; 11]| -> u32 {
        first11
            .iter()
            .zip(w.iter())
            .map(|(&d, &w)| u32::from(d) * w)
            .sum::<u32>()
            % 11
    };
    let s = match sum(&W1) {
        10 => sum(&W2),
        s => s,
    };
    if s == 10 {
        None
    } else {
        u8::try_from(s).ok()
    }
}

/// Splits a trimmed text into exactly 12 digit values, or says why it cannot.
pub(crate) fn twelve_digits(input: &str) -> Result<[u8; IIN_LEN], DigitsError> {
    let t = input.trim();
    if t.is_empty() {
        return Err(DigitsError::Empty);
    }
    if !t.bytes().all(|b| b.is_ascii_digit()) {
        return Err(DigitsError::NotDigits);
    }
    if t.len() != IIN_LEN {
        return Err(DigitsError::BadLength);
    }
    let mut out = [0u8; IIN_LEN];
    for (o, b) in out.iter_mut().zip(t.bytes()) {
        *o = b - b'0';
    }
    Ok(out)
}

/// Shared shape errors of 12-digit identifiers (IIN, BIN).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DigitsError {
    Empty,
    NotDigits,
    BadLength,
}

/// Checks the 12th digit against [`check_digit`] of the first 11.
pub(crate) fn verify_check_digit(d: &[u8; IIN_LEN]) -> Result<(), CheckError> {
    let mut first11 = [0u8; 11];
    first11.copy_from_slice(&d[..11]);
    match check_digit(&first11) {
        None => Err(CheckError::NeverIssued),
        Some(c) if c == d[11] => Ok(()),
        Some(_) => Err(CheckError::Mismatch),
    }
}

/// Check-digit failures shared by IIN and BIN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CheckError {
    Mismatch,
    NeverIssued,
}

/// The first year of the century named by digit 7, or `None` for 0 / invalid.
fn century_start(digit: u8) -> Option<i32> {
    match digit {
        1 | 2 => Some(1800),
        3 | 4 => Some(1900),
        5 | 6 => Some(2000),
        _ => None,
    }
}

/// A valid individual identification number: 12 ASCII digits, correct check digit, a real
/// birth date in the century its 7th digit names (or century digit 0 where allowed).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Iin(String);

impl Iin {
    /// Parses an IIN with the default (strict) options. Surrounding whitespace is allowed;
    /// anything else that is not one of the 12 digits is rejected.
    pub fn parse(input: &str) -> Result<Iin, IinError> {
        Iin::parse_with(input, IinOptions::default())
    }

    /// Parses an IIN with explicit options (see [`IinOptions`]).
    pub fn parse_with(input: &str, options: IinOptions) -> Result<Iin, IinError> {
        let d = twelve_digits(input).map_err(|e| match e {
            DigitsError::Empty => IinError::Empty,
            DigitsError::NotDigits => IinError::NotDigits,
            DigitsError::BadLength => IinError::BadLength,
        })?;
        let yy = i32::from(d[0]) * 10 + i32::from(d[1]);
        let mm = u32::from(d[2]) * 10 + u32::from(d[3]);
        let dd = u32::from(d[4]) * 10 + u32::from(d[5]);
        match century_start(d[6]) {
            Some(base) => {
                if NaiveDate::from_ymd_opt(base + yy, mm, dd).is_none() {
                    return Err(IinError::BadDate);
                }
            }
            None if d[6] == 0 && options.allow_zero_century => {
                // Century unknown: the month and day must exist in some year (2000 is a
                // leap year, so 29 February passes).
                if NaiveDate::from_ymd_opt(2000, mm, dd).is_none() {
                    return Err(IinError::BadDate);
                }
            }
            None => return Err(IinError::BadCentury),
        }
        verify_check_digit(&d).map_err(|e| match e {
            CheckError::Mismatch => IinError::BadCheckDigit,
            CheckError::NeverIssued => IinError::NeverIssued,
        })?;
        let s: String = d.iter().map(|&x| char::from(b'0' + x)).collect();
        Ok(Iin(s))
    }

    /// The 12 digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The stated birth date; `None` for century digit 0.
    pub fn birth_date(&self) -> Option<NaiveDate> {
        let b = self.0.as_bytes();
        let digit = |i: usize| b.get(i).map_or(0, |x| x.wrapping_sub(b'0'));
        let base = century_start(digit(6))?;
        let yy = i32::from(digit(0)) * 10 + i32::from(digit(1));
        let mm = u32::from(digit(2)) * 10 + u32::from(digit(3));
        let dd = u32::from(digit(4)) * 10 + u32::from(digit(5));
        NaiveDate::from_ymd_opt(base + yy, mm, dd)
    }

    /// The stated sex; `None` for century digit 0.
    pub fn sex(&self) -> Option<Sex> {
        match self.0.as_bytes().get(6).map(|b| b.wrapping_sub(b'0')) {
            Some(1 | 3 | 5) => Some(Sex::Male),
            Some(2 | 4 | 6) => Some(Sex::Female),
            _ => None,
        }
    }

    /// Masked for display: eight stars and the last four digits (`********2728`).
    pub fn masked(&self) -> String {
        let tail = self.0.get(8..).unwrap_or("");
        format!("********{tail}")
    }

    /// The digits as an owned string.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Debug for Iin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Iin({})", self.masked())
    }
}

/// The full number: for storage and authorised display only, never for logs.
impl fmt::Display for Iin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Iin {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl FromStr for Iin {
    type Err = IinError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Iin::parse(s)
    }
}

impl TryFrom<String> for Iin {
    type Error = IinError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Iin::parse(&s)
    }
}

impl TryFrom<&str> for Iin {
    type Error = IinError;
    fn try_from(s: &str) -> Result<Self, Self::Error> {
        Iin::parse(s)
    }
}

impl From<Iin> for String {
    fn from(v: Iin) -> String {
        v.0
    }
}

impl Serialize for Iin {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

/// Deserialising reads back values this system wrote, so it accepts century digit 0 (which
/// can only have entered through [`Iin::parse_with`] under the explicit setting). Untrusted
/// input goes through [`Iin::parse`] / [`crate::value::Value::parse`], which are strict.
impl<'de> Deserialize<'de> for Iin {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        crate::value::de::parsed_str(d, "an IIN string", |s| {
            Iin::parse_with(
                s,
                IinOptions {
                    allow_zero_century: true,
                },
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const VALID: [&str; 2] = ["791028302728", "061211600012"];

    #[test]
    fn c2_1_iin_known_valid_numbers_parse() {
        for s in VALID {
            let iin = Iin::parse(s).unwrap();
            assert_eq!(iin.as_str(), s);
            assert_eq!(iin.to_string(), s);
        }
    }

    #[test]
    fn c2_1_iin_check_digit_rejects_invalid() {
        assert_eq!(Iin::parse("900101300011"), Err(IinError::BadCheckDigit));
        assert_eq!(
            Iin::parse("900101300011").unwrap_err().code(),
            "iin_bad_check_digit"
        );
    }

    #[test]
    fn c2_1_iin_check_digit_matches_spec_examples() {
        assert_eq!(check_digit(&[7, 9, 1, 0, 2, 8, 3, 0, 2, 7, 2]), Some(8));
        assert_eq!(check_digit(&[0, 6, 1, 2, 1, 1, 6, 0, 0, 0, 1]), Some(2));
        assert_eq!(check_digit(&[0, 6, 1, 2, 1, 1, 6, 0, 0, 0, 10]), None);
    }

    #[test]
    fn c2_1_iin_second_weights_used_when_first_sum_is_ten() {
        // Find a prefix whose first sum is 10 and check the second-round result.
        let mut found = false;
        'outer: for serial in 0..10_000u32 {
            let mut d = [9, 0, 0, 1, 0, 1, 3, 0, 0, 0, 0];
            d[7] = (serial / 1000 % 10) as u8;
            d[8] = (serial / 100 % 10) as u8;
            d[9] = (serial / 10 % 10) as u8;
            d[10] = (serial % 10) as u8;
            let s1: u32 = d
                .iter()
                .zip(1u32..)
                .map(|(&x, w)| u32::from(x) * w)
                .sum::<u32>()
                % 11;
            if s1 == 10 {
                let w2 = [3u32, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2];
                let s2: u32 = d
                    .iter()
                    .zip(w2)
                    .map(|(&x, w)| u32::from(x) * w)
                    .sum::<u32>()
                    % 11;
                let expect = if s2 == 10 { None } else { Some(s2 as u8) };
                assert_eq!(check_digit(&d), expect);
                found = true;
                if expect.is_none() {
                    let s: String = d.iter().map(|x| char::from(b'0' + x)).collect();
                    assert_eq!(Iin::parse(&format!("{s}0")), Err(IinError::NeverIssued));
                    break 'outer;
                }
            }
        }
        assert!(found);
    }

    #[test]
    fn iin_accepts_surrounding_whitespace_only() {
        assert!(Iin::parse("  791028302728\n").is_ok());
        assert_eq!(Iin::parse("7910 28302728"), Err(IinError::NotDigits));
        assert_eq!(Iin::parse("791028-302728"), Err(IinError::NotDigits));
        assert_eq!(Iin::parse("79102830272"), Err(IinError::BadLength));
        assert_eq!(Iin::parse("7910283027281"), Err(IinError::BadLength));
        assert_eq!(Iin::parse("   "), Err(IinError::Empty));
        assert_eq!(
            Iin::parse("７９１０２８３０２７２８"),
            Err(IinError::NotDigits)
        );
    }

    #[test]
    fn c2_2_iin_states_birth_date_and_sex() {
        let a = Iin::parse("791028302728").unwrap();
        assert_eq!(a.birth_date(), NaiveDate::from_ymd_opt(1979, 10, 28));
        assert_eq!(a.sex(), Some(Sex::Male));
        let b = Iin::parse("061211600012").unwrap();
        assert_eq!(b.birth_date(), NaiveDate::from_ymd_opt(2006, 12, 11));
        assert_eq!(b.sex(), Some(Sex::Female));
    }

    fn with_check(first11: [u8; 11]) -> Option<String> {
        let c = check_digit(&first11)?;
        let mut s: String = first11.iter().map(|x| char::from(b'0' + x)).collect();
        s.push(char::from(b'0' + c));
        Some(s)
    }

    #[test]
    fn iin_century_digit_rules() {
        // Century digit 7..9 never valid.
        let s = with_check([7, 9, 1, 0, 2, 8, 7, 0, 2, 7, 2]);
        if let Some(s) = s {
            assert_eq!(Iin::parse(&s), Err(IinError::BadCentury));
        }
        // Century digit 0 only with the setting, and then no birth date or sex.
        let zero = (0..10u8)
            .find_map(|x| with_check([7, 9, 1, 0, 2, 8, 0, 0, 2, 7, x]))
            .unwrap();
        assert_eq!(Iin::parse(&zero), Err(IinError::BadCentury));
        let opts = IinOptions {
            allow_zero_century: true,
        };
        let iin = Iin::parse_with(&zero, opts).unwrap();
        assert_eq!(iin.birth_date(), None);
        assert_eq!(iin.sex(), None);
        // and even then the date must be plausible
        let bad = (0..10u8)
            .find_map(|x| with_check([7, 9, 1, 3, 2, 8, 0, 0, 2, 7, x]))
            .unwrap();
        assert_eq!(Iin::parse_with(&bad, opts), Err(IinError::BadDate));
    }

    #[test]
    fn iin_date_must_exist_in_century() {
        // 29 Feb 1900 does not exist (1900 is not a leap year), 29 Feb 2000 does.
        let y1900 = (0..10u8)
            .find_map(|x| with_check([0, 0, 0, 2, 2, 9, 3, 0, 0, 1, x]))
            .unwrap();
        assert_eq!(Iin::parse(&y1900), Err(IinError::BadDate));
        let y2000 = (0..10u8)
            .find_map(|x| with_check([0, 0, 0, 2, 2, 9, 5, 0, 0, 1, x]))
            .unwrap();
        let iin = Iin::parse(&y2000).unwrap();
        assert_eq!(iin.birth_date(), NaiveDate::from_ymd_opt(2000, 2, 29));
    }

    #[test]
    fn c4_1_iin_debug_and_errors_do_not_reveal_number() {
        let iin = Iin::parse("791028302728").unwrap();
        assert_eq!(format!("{iin:?}"), "Iin(********2728)");
        assert_eq!(iin.masked(), "********2728");
        let e = Iin::parse("900101300011").unwrap_err();
        assert!(!format!("{e} {e:?}").contains("900101"));
        // serde errors must not echo the input either (even for a JSON number)
        let e = serde_json::from_str::<Iin>("900101300011").unwrap_err();
        assert!(!e.to_string().contains("900101"), "{e}");
        let e = serde_json::from_str::<Iin>("\"900101300011\"").unwrap_err();
        assert!(!e.to_string().contains("900101"), "{e}");
    }

    #[test]
    fn iin_serde_round_trip() {
        let iin = Iin::parse("791028302728").unwrap();
        let j = serde_json::to_string(&iin).unwrap();
        assert_eq!(j, "\"791028302728\"");
        assert_eq!(serde_json::from_str::<Iin>(&j).unwrap(), iin);
    }

    prop_compose! {
        fn valid_prefix()(date in (1800i32..2100).prop_flat_map(|y| (Just(y), 1u32..=12, 1u32..=31)),
                          sex in 0u8..2, serial in proptest::array::uniform4(0u8..10))
                          -> Option<[u8; 11]> {
            let (y, m, d) = date;
            NaiveDate::from_ymd_opt(y, m, d)?;
            let century = match y { 1800..=1899 => 1, 1900..=1999 => 3, _ => 5 } + sex;
            let yy = (y % 100) as u8;
            Some([yy / 10, yy % 10, (m / 10) as u8, (m % 10) as u8, (d / 10) as u8, (d % 10) as u8,
                  century, serial[0], serial[1], serial[2], serial[3]])
        }
    }

    proptest! {
        #[test]
        fn prop_generated_valid_iins_parse_and_round_trip(p in valid_prefix()) {
            let Some(p) = p else { return Ok(()); };
            let Some(s) = with_check(p) else { return Ok(()); };
            let iin = Iin::parse(&s).unwrap();
            prop_assert_eq!(iin.as_str(), s.as_str());
            let shown = iin.to_string();
            prop_assert_eq!(Iin::parse(&shown).unwrap(), iin.clone());
            let back: Iin = serde_json::from_str(&serde_json::to_string(&iin).unwrap()).unwrap();
            prop_assert_eq!(&back, &iin);
            prop_assert!(iin.birth_date().is_some());
            prop_assert!(iin.sex().is_some());
            let dbg = format!("{iin:?}");
            prop_assert!(!dbg.contains(&s));
            prop_assert!(!iin.masked().contains(&s));
        }

        #[test]
        fn prop_c2_1_wrong_check_digit_is_rejected(s in "[0-9]{12}") {
            let d: Vec<u8> = s.bytes().map(|b| b - b'0').collect();
            let mut first11 = [0u8; 11];
            first11.copy_from_slice(&d[..11]);
            if check_digit(&first11) != Some(d[11]) {
                prop_assert!(Iin::parse(&s).is_err());
                let lenient = IinOptions { allow_zero_century: true };
                prop_assert!(Iin::parse_with(&s, lenient).is_err());
            }
        }

        #[test]
        fn prop_iin_parse_never_panics(s in ".*") {
            let _ = Iin::parse(&s);
        }

        #[test]
        fn prop_iin_parse_never_panics_unicode(s in any::<String>()) {
            if let Err(e) = Iin::parse(&s) {
                prop_assert!(!e.code().is_empty());
            }
        }
    }
}
