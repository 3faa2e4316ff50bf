//! Typed values of data categories (clause 2.1): [`Value::parse`] turns untrusted JSON into a
//! value of a category's [`ValueKind`] (IIN checksum, KZ phone, e-mail, KZ IBAN, names, …),
//! [`Value::to_json`] gives its canonical JSON (the plaintext that gets encrypted), and
//! [`Value::blind_key`] the normalised form for exact-match blind indexes.
//!
//! Also here: the composite values of clause 2.1 — [`BankAccount`] (IBAN and bank name),
//! [`IdDocument`] (document *data*, never images: L-ID-COPIES), money as integer [`Tiyn`] —
//! and the date rule shared by all dates (`YYYY-MM-DD`, 1900-01-01..=2100-12-31).
//!
//! Privacy (clauses 4.1–4.2): a [`ValueError`] holds only static codes, never the input, and
//! `Debug` of a [`Value`] is masked. Objects are read field by field from `serde_json::Value`
//! rather than through serde derive, whose messages can quote the input.

use crate::email::{Email, EmailError};
use crate::iban::{Iban, IbanError};
use crate::iin::{Iin, IinError, IinOptions};
use crate::kind::ValueKind;
use crate::name::{
    clean_text, Address, AddressError, FreeText, FullName, FullNameError, TextError,
};
use crate::phone::{Phone, PhoneError};
use chrono::NaiveDate;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value as Json};
use std::fmt;

/// Serde helpers that never quote the input in their error messages.
pub(crate) mod de {
    use serde::de::{self, Deserializer, Visitor};
    use std::fmt;
    use std::marker::PhantomData;

    struct ParsedStr<T, E, F> {
        parse: F,
        expecting: &'static str,
        _t: PhantomData<fn() -> (T, E)>,
    }

    fn wrong<Er: de::Error>(what: &str, expecting: &str) -> Er {
        Er::custom(format_args!("invalid type: {what}, expected {expecting}"))
    }

    impl<'de, T, E, F> Visitor<'de> for ParsedStr<T, E, F>
    where
        E: fmt::Display,
        F: FnOnce(&str) -> Result<T, E>,
    {
        type Value = T;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.expecting)
        }
        fn visit_str<Er: de::Error>(self, v: &str) -> Result<T, Er> {
            (self.parse)(v).map_err(Er::custom)
        }
        fn visit_bool<Er: de::Error>(self, _: bool) -> Result<T, Er> {
            Err(wrong("boolean", self.expecting))
        }
        fn visit_i64<Er: de::Error>(self, _: i64) -> Result<T, Er> {
            Err(wrong("integer", self.expecting))
        }
        fn visit_u64<Er: de::Error>(self, _: u64) -> Result<T, Er> {
            Err(wrong("integer", self.expecting))
        }
        fn visit_i128<Er: de::Error>(self, _: i128) -> Result<T, Er> {
            Err(wrong("integer", self.expecting))
        }
        fn visit_u128<Er: de::Error>(self, _: u128) -> Result<T, Er> {
            Err(wrong("integer", self.expecting))
        }
        fn visit_f64<Er: de::Error>(self, _: f64) -> Result<T, Er> {
            Err(wrong("number", self.expecting))
        }
        fn visit_bytes<Er: de::Error>(self, _: &[u8]) -> Result<T, Er> {
            Err(wrong("bytes", self.expecting))
        }
    }

    /// Deserialises a string through `parse`; no error message contains the input. Uses
    /// `deserialize_any` (self-describing formats such as JSON and TOML), because serde_json's
    /// `deserialize_str` reports a wrong-typed input by quoting it.
    pub(crate) fn parsed_str<'de, D, T, E, F>(
        d: D,
        expecting: &'static str,
        parse: F,
    ) -> Result<T, D::Error>
    where
        D: Deserializer<'de>,
        E: fmt::Display,
        F: FnOnce(&str) -> Result<T, E>,
    {
        d.deserialize_any(ParsedStr {
            parse,
            expecting,
            _t: PhantomData,
        })
    }

    /// A string field of an untrusted object whose wrong-type errors do not quote the input.
    pub(crate) struct SafeString(pub(crate) String);

    impl<'de> serde::Deserialize<'de> for SafeString {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            parsed_str(d, "a string", |s| {
                Ok::<_, std::convert::Infallible>(SafeString(s.to_owned()))
            })
        }
    }

    /// A non-negative integer whose errors do not quote the input.
    pub(crate) struct SafeI64(pub(crate) i64);

    struct I64Visitor;

    impl<'de> Visitor<'de> for I64Visitor {
        type Value = SafeI64;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a non-negative integer")
        }
        fn visit_i64<Er: de::Error>(self, v: i64) -> Result<SafeI64, Er> {
            Ok(SafeI64(v))
        }
        fn visit_u64<Er: de::Error>(self, v: u64) -> Result<SafeI64, Er> {
            i64::try_from(v)
                .map(SafeI64)
                .map_err(|_| Er::custom("integer out of range"))
        }
        fn visit_i128<Er: de::Error>(self, _: i128) -> Result<SafeI64, Er> {
            Err(Er::custom("integer out of range"))
        }
        fn visit_u128<Er: de::Error>(self, _: u128) -> Result<SafeI64, Er> {
            Err(Er::custom("integer out of range"))
        }
        fn visit_f64<Er: de::Error>(self, _: f64) -> Result<SafeI64, Er> {
            Err(wrong("number with a fraction", "an integer"))
        }
        fn visit_bool<Er: de::Error>(self, _: bool) -> Result<SafeI64, Er> {
            Err(wrong("boolean", "an integer"))
        }
        fn visit_str<Er: de::Error>(self, _: &str) -> Result<SafeI64, Er> {
            Err(wrong("string", "an integer"))
        }
        fn visit_bytes<Er: de::Error>(self, _: &[u8]) -> Result<SafeI64, Er> {
            Err(wrong("bytes", "an integer"))
        }
    }

    impl<'de> serde::Deserialize<'de> for SafeI64 {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_any(I64Visitor)
        }
    }
}

/// Earliest date accepted anywhere.
pub const DATE_MIN: NaiveDate = match NaiveDate::from_ymd_opt(1900, 1, 1) {
    Some(d) => d,
    None => NaiveDate::MIN,
};
/// Latest date accepted anywhere.
pub const DATE_MAX: NaiveDate = match NaiveDate::from_ymd_opt(2100, 12, 31) {
    Some(d) => d,
    None => NaiveDate::MAX,
};

/// Why a text is not an acceptable date. Messages never contain the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum DateError {
    /// Not `YYYY-MM-DD`.
    #[error("date must be written YYYY-MM-DD")]
    BadFormat,
    /// `YYYY-MM-DD` but no such day.
    #[error("date does not exist in the calendar")]
    NoSuchDate,
    /// Before 1900-01-01 or after 2100-12-31.
    #[error("date must be between 1900-01-01 and 2100-12-31")]
    OutOfRange,
}

impl DateError {
    /// Stable snake_case code.
    pub fn code(&self) -> &'static str {
        match self {
            DateError::BadFormat => "date_bad_format",
            DateError::NoSuchDate => "date_no_such_date",
            DateError::OutOfRange => "date_out_of_range",
        }
    }
}

/// Checks a date against [`DATE_MIN`]..=[`DATE_MAX`].
pub fn check_date_range(d: NaiveDate) -> Result<NaiveDate, DateError> {
    if (DATE_MIN..=DATE_MAX).contains(&d) {
        Ok(d)
    } else {
        Err(DateError::OutOfRange)
    }
}

/// Parses a strict `YYYY-MM-DD` date within 1900-01-01..=2100-12-31.
pub fn parse_date(input: &str) -> Result<NaiveDate, DateError> {
    let b = input.as_bytes();
    let shape_ok = b.len() == 10
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            _ => c.is_ascii_digit(),
        });
    if !shape_ok {
        return Err(DateError::BadFormat);
    }
    let num = |r: std::ops::Range<usize>| -> u32 {
        b[r].iter()
            .fold(0u32, |acc, c| acc * 10 + u32::from(c - b'0'))
    };
    let (y, m, d) = (num(0..4), num(5..7), num(8..10));
    let y = i32::try_from(y).map_err(|_| DateError::BadFormat)?;
    let date = NaiveDate::from_ymd_opt(y, m, d).ok_or(DateError::NoSuchDate)?;
    check_date_range(date)
}

/// Why a number is not an acceptable amount of money. Messages never contain the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum MoneyError {
    /// A number with a fraction or exponent (amounts are whole tiyn).
    #[error("amount must be a whole number of tiyn")]
    NotInteger,
    /// Below zero.
    #[error("amount must not be negative")]
    Negative,
    /// Above `i64::MAX` tiyn.
    #[error("amount is too large")]
    OutOfRange,
}

impl MoneyError {
    /// Stable snake_case code.
    pub fn code(&self) -> &'static str {
        match self {
            MoneyError::NotInteger => "money_not_integer",
            MoneyError::Negative => "money_negative",
            MoneyError::OutOfRange => "money_out_of_range",
        }
    }
}

/// An amount in tenge as a non-negative whole number of tiyn (1/100 KZT). JSON: an integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Default)]
#[serde(into = "i64")]
pub struct Tiyn(i64);

impl Tiyn {
    /// Zero tiyn.
    pub const ZERO: Tiyn = Tiyn(0);

    /// An amount of `tiyn`; negative amounts are refused.
    pub fn new(tiyn: i64) -> Result<Tiyn, MoneyError> {
        if tiyn < 0 {
            Err(MoneyError::Negative)
        } else {
            Ok(Tiyn(tiyn))
        }
    }

    /// Whole tenge (`tenge * 100` tiyn), if it fits.
    pub fn from_tenge(tenge: i64) -> Result<Tiyn, MoneyError> {
        Tiyn::new(tenge.checked_mul(100).ok_or(MoneyError::OutOfRange)?)
    }

    /// The amount in tiyn.
    pub fn as_i64(self) -> i64 {
        self.0
    }
}

impl From<Tiyn> for i64 {
    fn from(t: Tiyn) -> i64 {
        t.0
    }
}

impl TryFrom<i64> for Tiyn {
    type Error = MoneyError;
    fn try_from(v: i64) -> Result<Self, Self::Error> {
        Tiyn::new(v)
    }
}

/// `12345.67` (tenge with two decimals, no currency sign).
impl fmt::Display for Tiyn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:02}", self.0 / 100, self.0 % 100)
    }
}

impl<'de> Deserialize<'de> for Tiyn {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = de::SafeI64::deserialize(d)?.0;
        Tiyn::new(v).map_err(serde::de::Error::custom)
    }
}

/// The type of an identity document. JSON: `id_card` | `passport` | `residence_permit` | `other`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdDocType {
    /// Kazakhstan identity card (удостоверение личности).
    IdCard,
    /// Passport.
    Passport,
    /// Residence permit (вид на жительство).
    ResidencePermit,
    /// Another document.
    Other,
}

impl IdDocType {
    /// Stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            IdDocType::IdCard => "id_card",
            IdDocType::Passport => "passport",
            IdDocType::ResidencePermit => "residence_permit",
            IdDocType::Other => "other",
        }
    }

    /// The type named `s` (exactly one of the stable names).
    pub fn parse(s: &str) -> Option<IdDocType> {
        match s {
            "id_card" => Some(IdDocType::IdCard),
            "passport" => Some(IdDocType::Passport),
            "residence_permit" => Some(IdDocType::ResidencePermit),
            "other" => Some(IdDocType::Other),
            _ => None,
        }
    }
}

/// Longest "issued by" and bank name text, in characters.
pub const MAX_SHORT_TEXT_CHARS: usize = 200;
/// Longest identity document number.
pub const MAX_DOC_NUMBER_LEN: usize = 20;

/// Why identity document data are invalid. Messages never contain the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum IdDocumentError {
    /// `type` is not one of the known types.
    #[error("document type must be id_card, passport, residence_permit or other")]
    UnknownType,
    /// Number empty, longer than 20, or not letters/digits.
    #[error("document number must be 1 to 20 Latin letters or digits")]
    BadNumber,
    /// `issued_by` is not acceptable text.
    #[error("document issuer: {0}")]
    IssuedBy(TextError),
    /// `issued_on` is not an acceptable date.
    #[error("document issue date: {0}")]
    IssuedOn(DateError),
    /// `valid_until` is not an acceptable date.
    #[error("document expiry date: {0}")]
    ValidUntil(DateError),
    /// `valid_until` precedes `issued_on`.
    #[error("document expiry date is before its issue date")]
    ValidUntilBeforeIssuedOn,
}

impl IdDocumentError {
    /// Stable snake_case code.
    pub fn code(&self) -> &'static str {
        match self {
            IdDocumentError::UnknownType => "id_unknown_type",
            IdDocumentError::BadNumber => "id_bad_number",
            IdDocumentError::IssuedBy(_) => "id_bad_issued_by",
            IdDocumentError::IssuedOn(_) => "id_bad_issued_on",
            IdDocumentError::ValidUntil(_) => "id_bad_valid_until",
            IdDocumentError::ValidUntilBeforeIssuedOn => "id_valid_until_before_issued_on",
        }
    }
}

/// Identity document data (not an image: L-ID-COPIES).
/// JSON: `{"type", "number", "issued_by"?, "issued_on"?, "valid_until"?}`.
#[derive(Clone, PartialEq, Eq, Hash, Serialize)]
pub struct IdDocument {
    #[serde(rename = "type")]
    doc_type: IdDocType,
    number: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    issued_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    issued_on: Option<NaiveDate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    valid_until: Option<NaiveDate>,
}

impl IdDocument {
    /// Builds identity document data. The number is trimmed and its letters uppercased; a
    /// blank `issued_by` counts as none; dates must lie in 1900..=2100 and `valid_until` must
    /// not precede `issued_on`.
    pub fn new(
        doc_type: IdDocType,
        number: &str,
        issued_by: Option<&str>,
        issued_on: Option<NaiveDate>,
        valid_until: Option<NaiveDate>,
    ) -> Result<IdDocument, IdDocumentError> {
        let n = number.trim();
        if n.is_empty()
            || n.len() > MAX_DOC_NUMBER_LEN
            || !n.bytes().all(|b| b.is_ascii_alphanumeric())
        {
            return Err(IdDocumentError::BadNumber);
        }
        let issued_by = match issued_by.map(str::trim) {
            None | Some("") => None,
            Some(s) => {
                Some(clean_text(s, MAX_SHORT_TEXT_CHARS).map_err(IdDocumentError::IssuedBy)?)
            }
        };
        let issued_on = issued_on
            .map(check_date_range)
            .transpose()
            .map_err(IdDocumentError::IssuedOn)?;
        let valid_until = valid_until
            .map(check_date_range)
            .transpose()
            .map_err(IdDocumentError::ValidUntil)?;
        if let (Some(i), Some(v)) = (issued_on, valid_until) {
            if v < i {
                return Err(IdDocumentError::ValidUntilBeforeIssuedOn);
            }
        }
        Ok(IdDocument {
            doc_type,
            number: n.to_ascii_uppercase(),
            issued_by,
            issued_on,
            valid_until,
        })
    }

    /// The document type.
    pub fn doc_type(&self) -> IdDocType {
        self.doc_type
    }

    /// The document number (letters uppercase).
    pub fn number(&self) -> &str {
        &self.number
    }

    /// The issuing authority, if stated.
    pub fn issued_by(&self) -> Option<&str> {
        self.issued_by.as_deref()
    }

    /// The issue date, if stated.
    pub fn issued_on(&self) -> Option<NaiveDate> {
        self.issued_on
    }

    /// The expiry date, if stated.
    pub fn valid_until(&self) -> Option<NaiveDate> {
        self.valid_until
    }

    /// Whether the document has expired by `on` (a document without expiry date never has).
    pub fn is_expired_on(&self, on: NaiveDate) -> bool {
        self.valid_until.is_some_and(|v| on > v)
    }

    /// Masked for display: type and the last three characters of the number.
    pub fn masked(&self) -> String {
        let n = &self.number;
        let tail = if n.len() > 4 {
            n.get(n.len() - 3..).unwrap_or("")
        } else {
            ""
        };
        format!("{} ***{tail}", self.doc_type.as_str())
    }

    fn from_object(m: &Map<String, Json>) -> Result<IdDocument, ValueError> {
        check_fields(
            m,
            &["type", "number", "issued_by", "issued_on", "valid_until"],
        )?;
        let doc_type = IdDocType::parse(required_str(m, "type")?)
            .ok_or(ValueError::IdDocument(IdDocumentError::UnknownType))?;
        let number = required_str(m, "number")?;
        let issued_by = optional_str(m, "issued_by")?;
        let date = |key, wrap: fn(DateError) -> IdDocumentError| {
            optional_str(m, key)?
                .map(|s| parse_date(s).map_err(|e| ValueError::IdDocument(wrap(e))))
                .transpose()
        };
        let issued_on = date("issued_on", IdDocumentError::IssuedOn)?;
        let valid_until = date("valid_until", IdDocumentError::ValidUntil)?;
        Ok(IdDocument::new(
            doc_type,
            number,
            issued_by,
            issued_on,
            valid_until,
        )?)
    }
}

impl fmt::Debug for IdDocument {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdDocument")
            .field("doc_type", &self.doc_type)
            .field("number", &"<redacted>")
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IdDocumentRaw {
    #[serde(rename = "type")]
    doc_type: de::SafeString,
    number: de::SafeString,
    #[serde(default)]
    issued_by: Option<de::SafeString>,
    #[serde(default)]
    issued_on: Option<de::SafeString>,
    #[serde(default)]
    valid_until: Option<de::SafeString>,
}

impl<'de> Deserialize<'de> for IdDocument {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let r = IdDocumentRaw::deserialize(d)?;
        let doc_type = IdDocType::parse(&r.doc_type.0)
            .ok_or_else(|| D::Error::custom(IdDocumentError::UnknownType))?;
        let date = |s: &Option<de::SafeString>, wrap: fn(DateError) -> IdDocumentError| {
            s.as_ref()
                .map(|s| parse_date(&s.0).map_err(|e| D::Error::custom(wrap(e))))
                .transpose()
        };
        let issued_on = date(&r.issued_on, IdDocumentError::IssuedOn)?;
        let valid_until = date(&r.valid_until, IdDocumentError::ValidUntil)?;
        IdDocument::new(
            doc_type,
            &r.number.0,
            r.issued_by.as_ref().map(|s| s.0.as_str()),
            issued_on,
            valid_until,
        )
        .map_err(D::Error::custom)
    }
}

/// A bank account: a Kazakhstan IBAN and, optionally, the bank's name (clause 2.1).
/// JSON: `{"iban": …, "bank_name"?: …}`; [`Value::parse`] also accepts a plain IBAN string.
#[derive(Clone, PartialEq, Eq, Hash, Serialize)]
pub struct BankAccount {
    iban: Iban,
    #[serde(skip_serializing_if = "Option::is_none")]
    bank_name: Option<String>,
}

impl BankAccount {
    /// A bank account; a blank bank name counts as none, otherwise it must be 1..=200
    /// characters of text without control characters (NFC).
    pub fn new(iban: Iban, bank_name: Option<&str>) -> Result<BankAccount, TextError> {
        let bank_name = match bank_name.map(str::trim) {
            None | Some("") => None,
            Some(s) => Some(clean_text(s, MAX_SHORT_TEXT_CHARS)?),
        };
        Ok(BankAccount { iban, bank_name })
    }

    /// The IBAN.
    pub fn iban(&self) -> &Iban {
        &self.iban
    }

    /// The bank's name, if stated.
    pub fn bank_name(&self) -> Option<&str> {
        self.bank_name.as_deref()
    }

    fn from_object(m: &Map<String, Json>) -> Result<BankAccount, ValueError> {
        check_fields(m, &["iban", "bank_name"])?;
        let iban = Iban::parse(required_str(m, "iban")?)?;
        BankAccount::new(iban, optional_str(m, "bank_name")?).map_err(ValueError::BankName)
    }
}

impl fmt::Debug for BankAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BankAccount")
            .field("iban", &self.iban)
            .field("bank_name", &self.bank_name)
            .finish()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BankAccountRaw {
    iban: Iban,
    #[serde(default)]
    bank_name: Option<de::SafeString>,
}

impl<'de> Deserialize<'de> for BankAccount {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let r = BankAccountRaw::deserialize(d)?;
        BankAccount::new(r.iban, r.bank_name.as_ref().map(|s| s.0.as_str()))
            .map_err(serde::de::Error::custom)
    }
}

/// Why a number is not a day of the month. Messages never contain the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum DayError {
    /// A number with a fraction.
    #[error("day of month must be a whole number")]
    NotInteger,
    /// Outside 1..=31.
    #[error("day of month must be from 1 to 31")]
    OutOfRange,
}

impl DayError {
    /// Stable snake_case code.
    pub fn code(&self) -> &'static str {
        match self {
            DayError::NotInteger => "day_not_integer",
            DayError::OutOfRange => "day_out_of_range",
        }
    }
}

/// Settings for [`Value::parse_with`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ParseOptions {
    /// How IINs are parsed (century digit 0 only behind this setting).
    pub iin: IinOptions,
}

/// Why JSON is not a valid value of a kind. Holds only codes, never the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum ValueError {
    /// The JSON has the wrong type or shape (`detail`: `expected_string`, `expected_object`,
    /// `expected_string_or_object`, `expected_number`, `unknown_field`, `missing_field`).
    #[error("value has the wrong JSON type or shape ({detail})")]
    WrongType {
        /// What was wrong, as a stable code.
        detail: &'static str,
    },
    /// Not a valid IIN.
    #[error("invalid IIN: {0}")]
    Iin(#[from] IinError),
    /// Not a valid phone number.
    #[error("invalid phone number: {0}")]
    Phone(#[from] PhoneError),
    /// A valid phone number, but not a mobile one where a mobile number is required.
    #[error("phone number is not a mobile number")]
    NotMobile,
    /// Not a valid e-mail address.
    #[error("invalid e-mail address: {0}")]
    Email(#[from] EmailError),
    /// Not a valid Kazakhstan IBAN.
    #[error("invalid IBAN: {0}")]
    Iban(#[from] IbanError),
    /// The bank name of a bank account is not acceptable text.
    #[error("invalid bank name: {0}")]
    BankName(TextError),
    /// Not a valid full name.
    #[error("invalid name: {0}")]
    Name(#[from] FullNameError),
    /// Not a valid address.
    #[error("invalid address: {0}")]
    Address(#[from] AddressError),
    /// Not acceptable free text.
    #[error("invalid text: {0}")]
    Text(#[from] TextError),
    /// Not a valid amount.
    #[error("invalid amount: {0}")]
    Money(#[from] MoneyError),
    /// Not a valid date.
    #[error("invalid date: {0}")]
    Date(#[from] DateError),
    /// Not a valid day of the month.
    #[error("invalid day of month: {0}")]
    Day(#[from] DayError),
    /// Not valid identity document data.
    #[error("invalid identity document: {0}")]
    IdDocument(#[from] IdDocumentError),
    /// Not one of the category's choices.
    #[error("value is not one of the allowed choices")]
    UnknownChoice,
}

impl ValueError {
    /// Stable snake_case code of the failure class.
    pub fn code(&self) -> &'static str {
        match self {
            ValueError::WrongType { .. } => "wrong_type",
            ValueError::Iin(_) => "invalid_iin",
            ValueError::Phone(_) => "invalid_phone",
            ValueError::NotMobile => "not_mobile",
            ValueError::Email(_) => "invalid_email",
            ValueError::Iban(_) => "invalid_iban",
            ValueError::BankName(_) => "invalid_bank_account",
            ValueError::Name(_) => "invalid_name",
            ValueError::Address(_) => "invalid_address",
            ValueError::Text(_) => "invalid_text",
            ValueError::Money(_) => "invalid_money",
            ValueError::Date(_) => "invalid_date",
            ValueError::Day(_) => "invalid_day",
            ValueError::IdDocument(_) => "invalid_id_document",
            ValueError::UnknownChoice => "unknown_choice",
        }
    }

    /// The inner error's stable code, where there is one (e.g. `iin_bad_check_digit`).
    pub fn detail_code(&self) -> Option<&'static str> {
        match self {
            ValueError::WrongType { detail } => Some(detail),
            ValueError::Iin(e) => Some(e.code()),
            ValueError::Phone(e) => Some(e.code()),
            ValueError::Email(e) => Some(e.code()),
            ValueError::Iban(e) => Some(e.code()),
            ValueError::BankName(e) | ValueError::Text(e) => Some(e.code()),
            ValueError::Name(e) => Some(e.code()),
            ValueError::Address(e) => Some(e.code()),
            ValueError::Money(e) => Some(e.code()),
            ValueError::Date(e) => Some(e.code()),
            ValueError::Day(e) => Some(e.code()),
            ValueError::IdDocument(e) => Some(e.code()),
            ValueError::NotMobile | ValueError::UnknownChoice => None,
        }
    }
}

const fn wrong(detail: &'static str) -> ValueError {
    ValueError::WrongType { detail }
}

fn expect_str(input: &Json) -> Result<&str, ValueError> {
    input.as_str().ok_or(wrong("expected_string"))
}

fn check_fields(m: &Map<String, Json>, allowed: &[&str]) -> Result<(), ValueError> {
    if m.keys().all(|k| allowed.contains(&k.as_str())) {
        Ok(())
    } else {
        Err(wrong("unknown_field"))
    }
}

fn required_str<'a>(m: &'a Map<String, Json>, key: &str) -> Result<&'a str, ValueError> {
    match m.get(key) {
        None | Some(Json::Null) => Err(wrong("missing_field")),
        Some(v) => expect_str(v),
    }
}

fn optional_str<'a>(m: &'a Map<String, Json>, key: &str) -> Result<Option<&'a str>, ValueError> {
    match m.get(key) {
        None | Some(Json::Null) => Ok(None),
        Some(v) => expect_str(v).map(Some),
    }
}

/// Reads a JSON number as a non-negative i64 in tiyn.
fn json_money(input: &Json) -> Result<Tiyn, ValueError> {
    let Json::Number(n) = input else {
        return Err(wrong("expected_number"));
    };
    if let Some(u) = n.as_u64() {
        let v = i64::try_from(u).map_err(|_| MoneyError::OutOfRange)?;
        Ok(Tiyn::new(v)?)
    } else if n.as_i64().is_some() {
        Err(MoneyError::Negative.into())
    } else {
        Err(MoneyError::NotInteger.into())
    }
}

fn json_day(input: &Json) -> Result<u8, ValueError> {
    let Json::Number(n) = input else {
        return Err(wrong("expected_number"));
    };
    if let Some(u) = n.as_u64() {
        match u8::try_from(u) {
            Ok(d @ 1..=31) => Ok(d),
            _ => Err(DayError::OutOfRange.into()),
        }
    } else if n.as_i64().is_some() {
        Err(DayError::OutOfRange.into())
    } else {
        Err(DayError::NotInteger.into())
    }
}

/// A typed, valid value of a data category.
#[derive(Clone, PartialEq, Eq)]
pub enum Value {
    /// [`ValueKind::FullName`].
    FullName(FullName),
    /// [`ValueKind::Email`].
    Email(Email),
    /// [`ValueKind::Phone`] and [`ValueKind::MobilePhone`].
    Phone(Phone),
    /// [`ValueKind::Address`].
    Address(Address),
    /// [`ValueKind::BankAccount`].
    BankAccount(BankAccount),
    /// [`ValueKind::IdDocument`].
    IdDocument(IdDocument),
    /// [`ValueKind::Iin`].
    Iin(Iin),
    /// [`ValueKind::Text`].
    Text(FreeText),
    /// [`ValueKind::Money`].
    Money(Tiyn),
    /// [`ValueKind::Date`].
    Date(NaiveDate),
    /// [`ValueKind::DayOfMonth`], 1..=31.
    DayOfMonth(u8),
    /// [`ValueKind::Choice`]: the code of one of the category's choices.
    Choice(String),
}

impl Value {
    /// Parses untrusted JSON as a value of `kind` with default (strict) options. `choices`
    /// are the category's choice codes (used only for [`ValueKind::Choice`]).
    pub fn parse(kind: ValueKind, choices: &[String], input: &Json) -> Result<Value, ValueError> {
        Value::parse_with(kind, choices, input, ParseOptions::default())
    }

    /// Parses untrusted JSON as a value of `kind` with explicit options.
    pub fn parse_with(
        kind: ValueKind,
        choices: &[String],
        input: &Json,
        options: ParseOptions,
    ) -> Result<Value, ValueError> {
        Ok(match kind {
            ValueKind::FullName => {
                let Json::Object(m) = input else {
                    return Err(wrong("expected_object"));
                };
                check_fields(m, &["surname", "given", "patronymic"])?;
                Value::FullName(FullName::new(
                    required_str(m, "surname")?,
                    required_str(m, "given")?,
                    optional_str(m, "patronymic")?,
                )?)
            }
            ValueKind::Email => Value::Email(Email::parse(expect_str(input)?)?),
            ValueKind::Phone => Value::Phone(Phone::parse(expect_str(input)?)?),
            ValueKind::MobilePhone => {
                let p = Phone::parse(expect_str(input)?)?;
                if !p.is_mobile() {
                    return Err(ValueError::NotMobile);
                }
                Value::Phone(p)
            }
            ValueKind::Address => Value::Address(Address::parse(expect_str(input)?)?),
            ValueKind::BankAccount => Value::BankAccount(match input {
                Json::String(s) => {
                    BankAccount::new(Iban::parse(s)?, None).map_err(ValueError::BankName)?
                }
                Json::Object(m) => BankAccount::from_object(m)?,
                _ => return Err(wrong("expected_string_or_object")),
            }),
            ValueKind::IdDocument => match input {
                Json::Object(m) => Value::IdDocument(IdDocument::from_object(m)?),
                _ => return Err(wrong("expected_object")),
            },
            ValueKind::Iin => Value::Iin(Iin::parse_with(expect_str(input)?, options.iin)?),
            ValueKind::Text => Value::Text(FreeText::parse(expect_str(input)?)?),
            ValueKind::Money => Value::Money(json_money(input)?),
            ValueKind::Date => Value::Date(parse_date(expect_str(input)?)?),
            ValueKind::DayOfMonth => Value::DayOfMonth(json_day(input)?),
            ValueKind::Choice => {
                let s = expect_str(input)?;
                if !choices.iter().any(|c| c == s) {
                    return Err(ValueError::UnknownChoice);
                }
                Value::Choice(s.to_owned())
            }
        })
    }

    /// Canonical JSON: what [`Value::parse`] reads back to an equal value.
    pub fn to_json(&self) -> Json {
        let ser = |r: Result<Json, serde_json::Error>| r.unwrap_or(Json::Null);
        match self {
            Value::FullName(n) => ser(serde_json::to_value(n)),
            Value::Email(e) => Json::String(e.as_str().to_owned()),
            Value::Phone(p) => Json::String(p.as_str().to_owned()),
            Value::Address(a) => Json::String(a.as_str().to_owned()),
            Value::BankAccount(b) => ser(serde_json::to_value(b)),
            Value::IdDocument(d) => ser(serde_json::to_value(d)),
            Value::Iin(i) => Json::String(i.as_str().to_owned()),
            Value::Text(t) => Json::String(t.as_str().to_owned()),
            Value::Money(m) => Json::from(m.as_i64()),
            Value::Date(d) => Json::String(d.format("%Y-%m-%d").to_string()),
            Value::DayOfMonth(d) => Json::from(*d),
            Value::Choice(c) => Json::String(c.clone()),
        }
    }

    /// The kind this value is of. Phone numbers report [`ValueKind::Phone`] even when they
    /// are mobile; use [`Value::fits`] to check a value against a category's kind.
    pub fn kind(&self) -> ValueKind {
        match self {
            Value::FullName(_) => ValueKind::FullName,
            Value::Email(_) => ValueKind::Email,
            Value::Phone(_) => ValueKind::Phone,
            Value::Address(_) => ValueKind::Address,
            Value::BankAccount(_) => ValueKind::BankAccount,
            Value::IdDocument(_) => ValueKind::IdDocument,
            Value::Iin(_) => ValueKind::Iin,
            Value::Text(_) => ValueKind::Text,
            Value::Money(_) => ValueKind::Money,
            Value::Date(_) => ValueKind::Date,
            Value::DayOfMonth(_) => ValueKind::DayOfMonth,
            Value::Choice(_) => ValueKind::Choice,
        }
    }

    /// Whether this value may be stored in a category of `kind` (a mobile phone fits both
    /// phone kinds; a fixed-line phone only [`ValueKind::Phone`]). Choice membership is not
    /// checked here.
    pub fn fits(&self, kind: ValueKind) -> bool {
        match (self, kind) {
            (Value::Phone(p), ValueKind::MobilePhone) => p.is_mobile(),
            _ => self.kind() == kind,
        }
    }

    /// The normalised string for exact-match blind indexes: IIN digits, phone E.164, e-mail
    /// fully lowercased, IBAN; `None` for kinds that are not searchable.
    pub fn blind_key(&self) -> Option<String> {
        match self {
            Value::Iin(i) => Some(i.as_str().to_owned()),
            Value::Phone(p) => Some(p.as_str().to_owned()),
            Value::Email(e) => Some(e.normalized()),
            Value::BankAccount(b) => Some(b.iban().as_str().to_owned()),
            _ => None,
        }
    }

    /// A masked form for display to someone who may know that a value exists but not see it.
    pub fn masked(&self) -> String {
        match self {
            Value::FullName(n) => n.masked(),
            Value::Email(e) => e.masked(),
            Value::Phone(p) => p.masked(),
            Value::BankAccount(b) => b.iban().masked(),
            Value::IdDocument(d) => d.masked(),
            Value::Iin(i) => i.masked(),
            Value::Address(_)
            | Value::Text(_)
            | Value::Money(_)
            | Value::Date(_)
            | Value::DayOfMonth(_)
            | Value::Choice(_) => "***".to_owned(),
        }
    }
}

/// Masked: never prints a personal value.
impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Value::FullName(_) => "FullName",
            Value::Email(_) => "Email",
            Value::Phone(_) => "Phone",
            Value::Address(_) => "Address",
            Value::BankAccount(_) => "BankAccount",
            Value::IdDocument(_) => "IdDocument",
            Value::Iin(_) => "Iin",
            Value::Text(_) => "Text",
            Value::Money(_) => "Money",
            Value::Date(_) => "Date",
            Value::DayOfMonth(_) => "DayOfMonth",
            Value::Choice(_) => "Choice",
        };
        match self {
            Value::Phone(_) | Value::BankAccount(_) | Value::IdDocument(_) | Value::Iin(_) => {
                write!(f, "Value::{name}({})", self.masked())
            }
            _ => write!(f, "Value::{name}(<redacted>)"),
        }
    }
}

/// Serialises as [`Value::to_json`] (there is no `Deserialize`: parsing needs the kind),
/// straight to the serializer: a value's plaintext is written without building a JSON tree.
impl Serialize for Value {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::FullName(n) => n.serialize(s),
            Value::BankAccount(b) => b.serialize(s),
            Value::IdDocument(d) => d.serialize(s),
            Value::Email(e) => s.serialize_str(e.as_str()),
            Value::Phone(p) => s.serialize_str(p.as_str()),
            Value::Address(a) => s.serialize_str(a.as_str()),
            Value::Iin(i) => s.serialize_str(i.as_str()),
            Value::Text(t) => s.serialize_str(t.as_str()),
            Value::Money(m) => s.serialize_i64(m.as_i64()),
            Value::Date(d) => s.collect_str(&d.format("%Y-%m-%d")),
            Value::DayOfMonth(d) => d.serialize(s),
            Value::Choice(c) => s.serialize_str(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn p(kind: ValueKind, j: Json) -> Result<Value, ValueError> {
        Value::parse(kind, &[], &j)
    }

    #[test]
    fn c2_1_each_kind_parses_and_round_trips() {
        let choices = vec!["married".to_owned(), "single".to_owned()];
        let cases = [
            (
                ValueKind::FullName,
                json!({"surname": "Иванов", "given": "Иван", "patronymic": "Иванович"}),
            ),
            (
                ValueKind::FullName,
                json!({"surname": "Сейтқали", "given": "Әлия"}),
            ),
            (ValueKind::Email, json!("aigerim@mail.kz")),
            (ValueKind::Phone, json!("+77272500000")),
            (ValueKind::MobilePhone, json!("+77771234567")),
            (ValueKind::Address, json!("г. Алматы, ул. Абая, 1")),
            (
                ValueKind::BankAccount,
                json!({"iban": "KZ86125KZT5004100100", "bank_name": "Halyk"}),
            ),
            (
                ValueKind::BankAccount,
                json!({"iban": "KZ86125KZT5004100100"}),
            ),
            (
                ValueKind::IdDocument,
                json!({"type": "id_card", "number": "043512345", "issued_by": "МВД РК",
                       "issued_on": "2020-01-15", "valid_until": "2030-01-14"}),
            ),
            (
                ValueKind::IdDocument,
                json!({"type": "passport", "number": "N12345678"}),
            ),
            (ValueKind::Iin, json!("791028302728")),
            (ValueKind::Text, json!("ТОО «Ромашка»")),
            (ValueKind::Money, json!(25_000_000)),
            (ValueKind::Money, json!(0)),
            (ValueKind::Date, json!("1979-10-28")),
            (ValueKind::DayOfMonth, json!(25)),
            (ValueKind::Choice, json!("married")),
        ];
        for (kind, j) in cases {
            let v = Value::parse(kind, &choices, &j).unwrap();
            assert_eq!(v.to_json(), j, "{kind:?}");
            assert_eq!(Value::parse(kind, &choices, &v.to_json()), Ok(v.clone()));
            assert!(v.fits(kind), "{kind:?}");
            assert_eq!(serde_json::to_value(&v).unwrap(), j);
        }
    }

    #[test]
    fn value_inputs_are_normalised() {
        let v = p(ValueKind::MobilePhone, json!("8 777 123 45 67")).unwrap();
        assert_eq!(v.to_json(), json!("+77771234567"));
        assert_eq!(v.kind(), ValueKind::Phone);
        let v = p(ValueKind::BankAccount, json!("kz86 125k zt50 0410 0100")).unwrap();
        assert_eq!(v.to_json(), json!({"iban": "KZ86125KZT5004100100"}));
        let v = p(
            ValueKind::BankAccount,
            json!({"iban": "KZ86125KZT5004100100", "bank_name": "  "}),
        )
        .unwrap();
        assert_eq!(v.to_json(), json!({"iban": "KZ86125KZT5004100100"}));
        let v = p(
            ValueKind::FullName,
            json!({"surname": " Иванов ", "given": "Иван", "patronymic": null}),
        )
        .unwrap();
        assert_eq!(v.to_json(), json!({"surname": "Иванов", "given": "Иван"}));
        let v = p(
            ValueKind::IdDocument,
            json!({"type": "passport", "number": " n1234 ", "issued_by": null}),
        )
        .unwrap();
        assert_eq!(v.to_json(), json!({"type": "passport", "number": "N1234"}));
    }

    #[test]
    fn value_error_codes() {
        let code = |k, j: Json| {
            let e = Value::parse(k, &["a1".to_owned()], &j).unwrap_err();
            (e.code(), e.detail_code())
        };
        assert_eq!(
            code(ValueKind::Iin, json!("900101300011")),
            ("invalid_iin", Some("iin_bad_check_digit"))
        );
        assert_eq!(
            code(ValueKind::Iin, json!(791028302728u64)),
            ("wrong_type", Some("expected_string"))
        );
        assert_eq!(
            code(ValueKind::Phone, json!("123")),
            ("invalid_phone", Some("phone_bad_length"))
        );
        assert_eq!(
            code(ValueKind::MobilePhone, json!("+77272500000")),
            ("not_mobile", None)
        );
        assert_eq!(
            code(ValueKind::Email, json!("x")),
            ("invalid_email", Some("email_missing_at"))
        );
        assert_eq!(
            code(ValueKind::BankAccount, json!("KZ87125KZT5004100100")),
            ("invalid_iban", Some("iban_bad_checksum"))
        );
        assert_eq!(
            code(
                ValueKind::BankAccount,
                json!({"iban": "KZ86125KZT5004100100", "bic": "x"})
            ),
            ("wrong_type", Some("unknown_field"))
        );
        assert_eq!(
            code(
                ValueKind::BankAccount,
                json!({"iban": "KZ86125KZT5004100100", "bank_name": "a\nb"})
            ),
            ("invalid_bank_account", Some("text_bad_character"))
        );
        assert_eq!(
            code(ValueKind::BankAccount, json!(5)),
            ("wrong_type", Some("expected_string_or_object"))
        );
        assert_eq!(
            code(ValueKind::FullName, json!({"surname": "Иванов"})),
            ("wrong_type", Some("missing_field"))
        );
        assert_eq!(
            code(ValueKind::FullName, json!("Иванов Иван")),
            ("wrong_type", Some("expected_object"))
        );
        assert_eq!(
            code(
                ValueKind::FullName,
                json!({"surname": "Ив4нов", "given": "Иван"})
            ),
            ("invalid_name", Some("full_name_bad_surname"))
        );
        assert_eq!(
            code(ValueKind::Address, json!("ab")),
            ("invalid_address", Some("address_too_short"))
        );
        assert_eq!(
            code(ValueKind::Text, json!("")),
            ("invalid_text", Some("text_empty"))
        );
        assert_eq!(
            code(ValueKind::Money, json!(1.5)),
            ("invalid_money", Some("money_not_integer"))
        );
        assert_eq!(
            code(ValueKind::Money, json!(100.0)),
            ("invalid_money", Some("money_not_integer"))
        );
        assert_eq!(
            code(ValueKind::Money, json!(-1)),
            ("invalid_money", Some("money_negative"))
        );
        assert_eq!(
            code(ValueKind::Money, json!(u64::MAX)),
            ("invalid_money", Some("money_out_of_range"))
        );
        assert_eq!(
            code(ValueKind::Money, json!("100")),
            ("wrong_type", Some("expected_number"))
        );
        assert_eq!(
            code(ValueKind::Date, json!("1899-12-31")),
            ("invalid_date", Some("date_out_of_range"))
        );
        assert_eq!(
            code(ValueKind::Date, json!("2101-01-01")),
            ("invalid_date", Some("date_out_of_range"))
        );
        assert_eq!(
            code(ValueKind::Date, json!("2023-02-29")),
            ("invalid_date", Some("date_no_such_date"))
        );
        assert_eq!(
            code(ValueKind::Date, json!("2023-2-28")),
            ("invalid_date", Some("date_bad_format"))
        );
        assert_eq!(
            code(ValueKind::Date, json!("2023-02-28T00:00")),
            ("invalid_date", Some("date_bad_format"))
        );
        assert_eq!(
            code(ValueKind::DayOfMonth, json!(0)),
            ("invalid_day", Some("day_out_of_range"))
        );
        assert_eq!(
            code(ValueKind::DayOfMonth, json!(32)),
            ("invalid_day", Some("day_out_of_range"))
        );
        assert_eq!(
            code(ValueKind::DayOfMonth, json!(-3)),
            ("invalid_day", Some("day_out_of_range"))
        );
        assert_eq!(
            code(ValueKind::DayOfMonth, json!(3.5)),
            ("invalid_day", Some("day_not_integer"))
        );
        assert_eq!(
            code(ValueKind::DayOfMonth, json!("3")),
            ("wrong_type", Some("expected_number"))
        );
        assert_eq!(
            code(ValueKind::Choice, json!("b2")),
            ("unknown_choice", None)
        );
        assert_eq!(
            code(ValueKind::Choice, json!(1)),
            ("wrong_type", Some("expected_string"))
        );
        assert_eq!(
            code(
                ValueKind::IdDocument,
                json!({"type": "visa", "number": "1"})
            ),
            ("invalid_id_document", Some("id_unknown_type"))
        );
        assert_eq!(
            code(
                ValueKind::IdDocument,
                json!({"type": "passport", "number": "N 1"})
            ),
            ("invalid_id_document", Some("id_bad_number"))
        );
        assert_eq!(
            code(
                ValueKind::IdDocument,
                json!({"type": "passport", "number": "A".repeat(21)})
            ),
            ("invalid_id_document", Some("id_bad_number"))
        );
        assert_eq!(
            code(
                ValueKind::IdDocument,
                json!({"type": "passport", "number": "N1",
                "issued_on": "2020-01-01", "valid_until": "2019-12-31"})
            ),
            (
                "invalid_id_document",
                Some("id_valid_until_before_issued_on")
            )
        );
        assert_eq!(
            code(
                ValueKind::IdDocument,
                json!({"type": "passport", "number": "N1", "issued_on": "2020-13-01"})
            ),
            ("invalid_id_document", Some("id_bad_issued_on"))
        );
    }

    #[test]
    fn c2_1_zero_century_iin_only_behind_setting() {
        let zero = (0..10u8)
            .find_map(|x| {
                let d = [7, 9, 1, 0, 2, 8, 0, 0, 2, 7, x];
                crate::iin::check_digit(&d).map(|c| {
                    d.iter()
                        .chain(std::iter::once(&c))
                        .map(|x| char::from(b'0' + x))
                        .collect::<String>()
                })
            })
            .unwrap();
        assert!(p(ValueKind::Iin, json!(zero)).is_err());
        let opts = ParseOptions {
            iin: IinOptions {
                allow_zero_century: true,
            },
        };
        let v = Value::parse_with(ValueKind::Iin, &[], &json!(zero), opts).unwrap();
        assert_eq!(v.to_json(), json!(zero));
    }

    #[test]
    fn c4_1_value_errors_never_contain_input() {
        let secret = "900101300011";
        let e = p(ValueKind::Iin, json!(secret)).unwrap_err();
        assert!(!format!("{e} {e:?}").contains(secret));
        let e = p(ValueKind::Email, json!("secret.person@@mail.kz")).unwrap_err();
        assert!(!format!("{e} {e:?}").contains("secret"));
        let e = serde_json::from_value::<BankAccount>(json!({"iban": 123456789})).unwrap_err();
        assert!(!e.to_string().contains("123456789"), "{e}");
        let e = serde_json::from_value::<Tiyn>(json!("777777")).unwrap_err();
        assert!(!e.to_string().contains("777777"), "{e}");
        let e = serde_json::from_value::<IdDocument>(
            json!({"type": "passport", "number": "N 99887766"}),
        )
        .unwrap_err();
        assert!(!e.to_string().contains("99887766"), "{e}");
    }

    #[test]
    fn c4_1_value_debug_is_masked() {
        let v = p(ValueKind::Iin, json!("791028302728")).unwrap();
        assert_eq!(format!("{v:?}"), "Value::Iin(********2728)");
        let v = p(ValueKind::Money, json!(123456)).unwrap();
        assert_eq!(format!("{v:?}"), "Value::Money(<redacted>)");
        let v = p(
            ValueKind::IdDocument,
            json!({"type": "passport", "number": "N12345678"}),
        )
        .unwrap();
        assert!(!format!("{v:?}").contains("12345678"));
        assert_eq!(v.masked(), "passport ***678");
        let d = IdDocument::new(IdDocType::Passport, "N12345678", None, None, None).unwrap();
        assert!(!format!("{d:?}").contains("12345678"));
        let b =
            BankAccount::new(Iban::parse("KZ86125KZT5004100100").unwrap(), Some("Halyk")).unwrap();
        assert!(!format!("{b:?}").contains("KZ86125KZT5004100100"));
        let v = p(
            ValueKind::FullName,
            json!({"surname": "Иванов", "given": "Иван"}),
        )
        .unwrap();
        assert!(!format!("{v:?}").contains("Иванов"));
        assert_eq!(v.masked(), "И*** И.");
    }

    #[test]
    fn blind_keys() {
        assert_eq!(
            p(ValueKind::Email, json!("Aigerim@Mail.KZ"))
                .unwrap()
                .blind_key(),
            Some("aigerim@mail.kz".to_owned())
        );
        assert_eq!(
            p(ValueKind::Phone, json!("8 777 123 45 67"))
                .unwrap()
                .blind_key(),
            Some("+77771234567".to_owned())
        );
        assert_eq!(
            p(ValueKind::Iin, json!(" 791028302728 "))
                .unwrap()
                .blind_key(),
            Some("791028302728".to_owned())
        );
        assert_eq!(
            p(
                ValueKind::BankAccount,
                json!({"iban": "kz86125kzt5004100100", "bank_name": "X"})
            )
            .unwrap()
            .blind_key(),
            Some("KZ86125KZT5004100100".to_owned())
        );
        assert_eq!(p(ValueKind::Text, json!("x")).unwrap().blind_key(), None);
        // Every kind that has a blind key is searchable, and vice versa.
        let v = p(ValueKind::Date, json!("2000-01-01")).unwrap();
        assert_eq!(v.blind_key().is_some(), v.kind().is_searchable());
    }

    #[test]
    fn fits_distinguishes_mobile() {
        let landline = p(ValueKind::Phone, json!("+77272500000")).unwrap();
        assert!(landline.fits(ValueKind::Phone));
        assert!(!landline.fits(ValueKind::MobilePhone));
        assert!(!landline.fits(ValueKind::Email));
    }

    #[test]
    fn tiyn_rules_and_serde() {
        assert_eq!(Tiyn::new(-1), Err(MoneyError::Negative));
        assert_eq!(Tiyn::from_tenge(150).unwrap().as_i64(), 15_000);
        assert_eq!(Tiyn::from_tenge(i64::MAX), Err(MoneyError::OutOfRange));
        assert_eq!(Tiyn::new(1_234_567).unwrap().to_string(), "12345.67");
        assert_eq!(
            serde_json::to_value(Tiyn::new(5).unwrap()).unwrap(),
            json!(5)
        );
        assert_eq!(
            serde_json::from_value::<Tiyn>(json!(5)).unwrap().as_i64(),
            5
        );
        assert!(serde_json::from_value::<Tiyn>(json!(-5)).is_err());
        assert!(serde_json::from_value::<Tiyn>(json!(5.5)).is_err());
        let d: IdDocument = serde_json::from_value(
            json!({"type": "id_card", "number": "043512345", "valid_until": "2030-01-01"}),
        )
        .unwrap();
        assert!(d.is_expired_on(NaiveDate::from_ymd_opt(2030, 1, 2).unwrap()));
        assert!(!d.is_expired_on(NaiveDate::from_ymd_opt(2030, 1, 1).unwrap()));
        let b: BankAccount =
            serde_json::from_value(json!({"iban": "KZ86125KZT5004100100"})).unwrap();
        assert_eq!(b.bank_name(), None);
    }

    fn iin_strategy() -> impl Strategy<Value = Option<String>> {
        (
            1900i32..2025,
            1u32..=12,
            1u32..=28,
            3u8..=6,
            proptest::array::uniform4(0u8..10),
        )
            .prop_map(|(y, m, d, c, s)| {
                let c = if y >= 2000 { 5 + c % 2 } else { 3 + c % 2 };
                let yy = (y % 100) as u8;
                let first = [
                    yy / 10,
                    yy % 10,
                    (m / 10) as u8,
                    (m % 10) as u8,
                    (d / 10) as u8,
                    (d % 10) as u8,
                    c,
                    s[0],
                    s[1],
                    s[2],
                    s[3],
                ];
                let cd = crate::iin::check_digit(&first)?;
                Some(
                    first
                        .iter()
                        .chain(std::iter::once(&cd))
                        .map(|x| char::from(b'0' + x))
                        .collect(),
                )
            })
    }

    fn iban_strategy() -> impl Strategy<Value = String> {
        ("[0-9]{3}", "[0-9A-Z]{13}").prop_map(|(b, a)| {
            let bban = format!("{b}{a}");
            format!("KZ{}{bban}", crate::iban::compute_check_digits("KZ", &bban))
        })
    }

    fn date_strategy() -> impl Strategy<Value = NaiveDate> {
        (0i64..72_000).prop_map(|n| DATE_MIN + chrono::Duration::days(n))
    }

    /// Arbitrary valid values with their kinds (and the choices they need).
    fn value_strategy() -> impl Strategy<Value = (ValueKind, Json)> {
        prop_oneof![
            ("[А-ЯӘҚ][а-яәғқңөұүһі]{1,12}", "[A-ZА-Я][a-zа-я]{1,12}", proptest::option::of("[А-Я][а-я]{1,12}"))
                .prop_map(|(s, g, p)| {
                    let mut m = json!({"surname": s, "given": g});
                    if let Some(p) = p { m["patronymic"] = json!(p); }
                    (ValueKind::FullName, m)
                }),
            "[a-z0-9_]{1,10}(\\.[a-z0-9_]{1,5})?@[a-z]{1,10}\\.(kz|com)".prop_map(|e| (ValueKind::Email, json!(e))),
            "7[0-9]{9}".prop_map(|n| (ValueKind::Phone, json!(format!("8 {n}")))),
            "7[07][0-9]{8}".prop_map(|n| (ValueKind::MobilePhone, json!(format!("+7{n}")))),
            "[а-яА-Я0-9,. ]{3,50}".prop_filter("not blank", |s| s.trim().chars().count() >= 3)
                .prop_map(|a| (ValueKind::Address, json!(a))),
            (iban_strategy(), proptest::option::of("[A-Za-z ]{1,20}")).prop_map(|(i, n)| {
                let mut m = json!({"iban": i});
                if let Some(n) = n { m["bank_name"] = json!(n); }
                (ValueKind::BankAccount, m)
            }),
            ("[a-zA-Z0-9]{1,20}", date_strategy(), 0i64..1000, proptest::option::of("[А-Я ]{1,20}"))
                .prop_map(|(n, d, len, by)| {
                    let mut m = json!({"type": "passport", "number": n,
                        "issued_on": d.to_string(), "valid_until": (d + chrono::Duration::days(len)).to_string()});
                    if let Some(by) = by { m["issued_by"] = json!(by); }
                    (ValueKind::IdDocument, m)
                }),
            iin_strategy().prop_filter_map("no check digit", |s| s.map(|s| (ValueKind::Iin, json!(s)))),
            "\\PC{1,100}".prop_map(|t| (ValueKind::Text, json!(t))),
            (0i64..=i64::MAX).prop_map(|m| (ValueKind::Money, json!(m))),
            date_strategy().prop_map(|d| (ValueKind::Date, json!(d.to_string()))),
            (1u8..=31).prop_map(|d| (ValueKind::DayOfMonth, json!(d))),
            prop_oneof![Just("married"), Just("single")].prop_map(|c| (ValueKind::Choice, json!(c))),
        ]
    }

    proptest! {
        #[test]
        fn prop_value_json_round_trip((kind, j) in value_strategy()) {
            let choices = vec!["married".to_owned(), "single".to_owned()];
            // Some generated inputs (e.g. texts or names) may legitimately fail; those that
            // parse must round-trip exactly.
            if let Ok(v) = Value::parse(kind, &choices, &j) {
                let again = Value::parse(kind, &choices, &v.to_json());
                prop_assert_eq!(again, Ok(v.clone()));
                // The direct serialisation (a value's plaintext) is the same JSON.
                let direct: serde_json::Value =
                    serde_json::from_slice(&serde_json::to_vec(&v).unwrap()).unwrap();
                prop_assert_eq!(direct, v.to_json());
                prop_assert!(v.fits(kind));
                let dbg = format!("{v:?}");
                if let Some(key) = v.blind_key() {
                    prop_assert!(!dbg.contains(&key));
                    prop_assert!(!v.masked().contains(&key));
                }
            }
        }

        #[test]
        fn prop_value_generated_inputs_parse((kind, j) in value_strategy()) {
            let choices = vec!["married".to_owned(), "single".to_owned()];
            if kind != ValueKind::Text && kind != ValueKind::Address {
                prop_assert!(Value::parse(kind, &choices, &j).is_ok(), "{:?}", kind);
            }
        }

        #[test]
        fn prop_value_parse_never_panics(s in any::<String>(), n in any::<i64>(), f in any::<f64>()) {
            // A marker no error message contains, so "the message contains the input" is meaningful.
            let s = format!("\u{1F512}{s}");
            let kinds = [
                ValueKind::FullName, ValueKind::Email, ValueKind::Phone, ValueKind::MobilePhone,
                ValueKind::Address, ValueKind::BankAccount, ValueKind::IdDocument, ValueKind::Iin,
                ValueKind::Text, ValueKind::Money, ValueKind::Date, ValueKind::DayOfMonth, ValueKind::Choice,
            ];
            let inputs = [
                json!(s), json!(n), json!(f), json!(null), json!([s]),
                json!({"surname": s, "given": s, "iban": s, "type": "passport", "number": s,
                       "issued_on": s}),
            ];
            for k in kinds {
                for i in &inputs {
                    if let Err(e) = Value::parse(k, std::slice::from_ref(&s), i) {
                        let msg = format!("{e} {e:?}");
                        prop_assert!(!msg.contains(&s));
                    }
                }
            }
        }
    }
}
