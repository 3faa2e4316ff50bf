//! Names, addresses and free text (clause 2.1: full name; registration and residence
//! addresses; employer and other text data). Rules per `shared/spec/kz-formats.md`:
//!
//! - [`PersonName`]: one part of a name — Cyrillic letters (Russian and Kazakh Ә Ғ Қ Ң Ө Ұ Ү
//!   Һ І, upper and lower case, and the rest of the Cyrillic block), Latin letters (ASCII,
//!   Latin-1 and Latin Extended-A/B, which cover the Kazakh Latin alphabet), hyphen,
//!   apostrophe (`'` and `’`), single inner spaces; begins and ends with a letter; NFC;
//!   1..=60 characters; surrounding whitespace trimmed.
//! - [`FullName`]: surname, given name, optional patronymic.
//! - [`Address`]: one line of text, NFC, 3..=300 characters.
//! - [`FreeText`]: NFC, 1..=1000 characters.
//!
//! Neither addresses nor texts may hold control characters (newlines included), Unicode
//! line/paragraph separators, bidirectional overrides or a byte-order mark, which could
//! forge lines or reorder text in logs and consoles.
//!
//! Privacy (clauses 4.1–4.2): errors never contain the input; `Debug` prints `<redacted>`.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;
use unicode_normalization::{is_nfc_quick, IsNormalized, UnicodeNormalization};

/// Longest name part, in characters.
pub const MAX_NAME_CHARS: usize = 60;
/// Shortest and longest address, in characters.
pub const ADDRESS_CHARS: std::ops::RangeInclusive<usize> = 3..=300;
/// Longest free text, in characters.
pub const MAX_TEXT_CHARS: usize = 1000;

/// Characters never allowed in stored text.
pub(crate) fn is_forbidden_text_char(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}' | '\u{2029}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}'
        )
}

/// Letters allowed in a name part (after NFC).
fn is_name_letter(c: char) -> bool {
    c.is_ascii_alphabetic()
        || (('\u{00C0}'..='\u{00FF}').contains(&c) && c != '\u{00D7}' && c != '\u{00F7}')
        || ('\u{0100}'..='\u{024F}').contains(&c)
        || (('\u{0400}'..='\u{04FF}').contains(&c) && !('\u{0482}'..='\u{0489}').contains(&c))
}

fn is_apostrophe(c: char) -> bool {
    c == '\'' || c == '\u{2019}'
}

/// Why a text is not a name part. Messages never contain the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum NameError {
    /// Nothing but whitespace.
    #[error("name is empty")]
    Empty,
    /// More than 60 characters.
    #[error("name is longer than 60 characters")]
    TooLong,
    /// A character other than letters, hyphen, apostrophe and space.
    #[error("name may contain only Cyrillic or Latin letters, hyphen, apostrophe and spaces")]
    BadCharacter,
    /// Two spaces in a row.
    #[error("name must not contain several spaces in a row")]
    BadSpacing,
    /// Begins or ends with a hyphen or an apostrophe.
    #[error("name must begin and end with a letter")]
    BadEdge,
}

impl NameError {
    /// Stable snake_case code.
    pub fn code(&self) -> &'static str {
        match self {
            NameError::Empty => "name_empty",
            NameError::TooLong => "name_too_long",
            NameError::BadCharacter => "name_bad_character",
            NameError::BadSpacing => "name_bad_spacing",
            NameError::BadEdge => "name_bad_edge",
        }
    }
}

/// One part of a person's name (a surname, a given name or a patronymic).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PersonName(String);

impl PersonName {
    /// Parses one name part.
    pub fn parse(input: &str) -> Result<PersonName, NameError> {
        let t = input.trim();
        if t.is_empty() {
            return Err(NameError::Empty);
        }
        // Count before normalising too, so a huge input is not normalised in full.
        if t.chars().nth(MAX_NAME_CHARS * 4).is_some() {
            return Err(NameError::TooLong);
        }
        let s = to_nfc(t);
        if s.chars().count() > MAX_NAME_CHARS {
            return Err(NameError::TooLong);
        }
        if !s
            .chars()
            .all(|c| is_name_letter(c) || c == '-' || c == ' ' || is_apostrophe(c))
        {
            return Err(NameError::BadCharacter);
        }
        if s.contains("  ") {
            return Err(NameError::BadSpacing);
        }
        let first = s.chars().next();
        let last = s.chars().next_back();
        if !first.is_some_and(is_name_letter) || !last.is_some_and(is_name_letter) {
            return Err(NameError::BadEdge);
        }
        Ok(PersonName(s))
    }

    /// The name part (NFC).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first letter, for initials and masking.
    pub fn initial(&self) -> char {
        self.0.chars().next().unwrap_or('*')
    }

    /// The name part as an owned string.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Debug for PersonName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PersonName(<redacted>)")
    }
}

impl fmt::Display for PersonName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for PersonName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl FromStr for PersonName {
    type Err = NameError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PersonName::parse(s)
    }
}

impl TryFrom<String> for PersonName {
    type Error = NameError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        PersonName::parse(&s)
    }
}

impl From<PersonName> for String {
    fn from(v: PersonName) -> String {
        v.0
    }
}

impl Serialize for PersonName {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for PersonName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        crate::value::de::parsed_str(d, "a name string", PersonName::parse)
    }
}

/// Why a full name is invalid: which part, and why. Messages never contain the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum FullNameError {
    /// The surname is invalid.
    #[error("surname: {0}")]
    Surname(NameError),
    /// The given name is invalid.
    #[error("given name: {0}")]
    Given(NameError),
    /// The patronymic is invalid.
    #[error("patronymic: {0}")]
    Patronymic(NameError),
    /// A one-line name has fewer than two words.
    #[error("full name needs at least a surname and a given name")]
    MissingGiven,
}

impl FullNameError {
    /// Stable snake_case code.
    pub fn code(&self) -> &'static str {
        match self {
            FullNameError::Surname(_) => "full_name_bad_surname",
            FullNameError::Given(_) => "full_name_bad_given",
            FullNameError::Patronymic(_) => "full_name_bad_patronymic",
            FullNameError::MissingGiven => "full_name_missing_given",
        }
    }

    /// The error of the offending part, if one part was at fault.
    pub fn part_error(&self) -> Option<NameError> {
        match self {
            FullNameError::Surname(e) | FullNameError::Given(e) | FullNameError::Patronymic(e) => {
                Some(*e)
            }
            FullNameError::MissingGiven => None,
        }
    }
}

/// A person's full name. JSON: `{"surname": …, "given": …, "patronymic"?: …}`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "FullNameRaw")]
pub struct FullName {
    surname: PersonName,
    given: PersonName,
    #[serde(skip_serializing_if = "Option::is_none")]
    patronymic: Option<PersonName>,
}

/// The untrusted JSON shape of a full name.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FullNameRaw {
    surname: crate::value::de::SafeString,
    given: crate::value::de::SafeString,
    #[serde(default)]
    patronymic: Option<crate::value::de::SafeString>,
}

impl TryFrom<FullNameRaw> for FullName {
    type Error = FullNameError;
    fn try_from(r: FullNameRaw) -> Result<Self, Self::Error> {
        FullName::new(
            &r.surname.0,
            &r.given.0,
            r.patronymic.as_ref().map(|p| p.0.as_str()),
        )
    }
}

impl FullName {
    /// Builds a full name from its parts. An empty or blank patronymic counts as none.
    pub fn new(
        surname: &str,
        given: &str,
        patronymic: Option<&str>,
    ) -> Result<FullName, FullNameError> {
        let surname = PersonName::parse(surname).map_err(FullNameError::Surname)?;
        let given = PersonName::parse(given).map_err(FullNameError::Given)?;
        let patronymic = match patronymic.map(str::trim) {
            None | Some("") => None,
            Some(p) => Some(PersonName::parse(p).map_err(FullNameError::Patronymic)?),
        };
        Ok(FullName {
            surname,
            given,
            patronymic,
        })
    }

    /// Parses `"Surname Given [Patronymic]"`. Words after the second all go to the
    /// patronymic (`Алиев Руслан Ахмед оглы`), so a surname or given name with an inner
    /// space must be built with [`FullName::new`] instead.
    pub fn parse_line(line: &str) -> Result<FullName, FullNameError> {
        let mut words = line.split_whitespace();
        let surname = words
            .next()
            .ok_or(FullNameError::Surname(NameError::Empty))?;
        let given = words.next().ok_or(FullNameError::MissingGiven)?;
        let rest: Vec<&str> = words.collect();
        let patronymic = rest.join(" ");
        FullName::new(surname, given, Some(&patronymic))
    }

    /// The surname.
    pub fn surname(&self) -> &PersonName {
        &self.surname
    }

    /// The given name.
    pub fn given(&self) -> &PersonName {
        &self.given
    }

    /// The patronymic, if any.
    pub fn patronymic(&self) -> Option<&PersonName> {
        self.patronymic.as_ref()
    }

    /// `"Surname Given Patronymic"` on one line.
    pub fn to_line(&self) -> String {
        match &self.patronymic {
            Some(p) => format!("{} {} {}", self.surname, self.given, p),
            None => format!("{} {}", self.surname, self.given),
        }
    }

    /// Masked for display: surname initial and stars, then initials (`И*** А. Б.`).
    pub fn masked(&self) -> String {
        match &self.patronymic {
            Some(p) => format!(
                "{}*** {}. {}.",
                self.surname.initial(),
                self.given.initial(),
                p.initial()
            ),
            None => format!("{}*** {}.", self.surname.initial(), self.given.initial()),
        }
    }
}

impl fmt::Debug for FullName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FullName(<redacted>)")
    }
}

/// The name on one line (see [`FullName::to_line`]): for authorised display only.
impl fmt::Display for FullName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_line())
    }
}

/// Why a text is not acceptable free text. Messages never contain the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum TextError {
    /// Nothing but whitespace.
    #[error("text is empty")]
    Empty,
    /// Longer than allowed.
    #[error("text is too long")]
    TooLong,
    /// Contains a control character, line separator, bidirectional override or BOM.
    #[error("text contains a control or invisible formatting character")]
    BadCharacter,
}

impl TextError {
    /// Stable snake_case code.
    pub fn code(&self) -> &'static str {
        match self {
            TextError::Empty => "text_empty",
            TextError::TooLong => "text_too_long",
            TextError::BadCharacter => "text_bad_character",
        }
    }
}

/// Whether `c` is left as it is by NFC wherever it stands: its canonical combining class is
/// 0 and it never composes with the character before it (`NFC_Quick_Check` = Yes). Text made
/// only of such characters is already in NFC. The ranges cover Latin (up to the combining
/// diacritics), Cyrillic with Kazakh letters (without the combining Cyrillic marks), the
/// general punctuation that addresses and names use, and `№`;
/// `c2_1_nfc_inert_characters_are_their_own_nfc` checks every one of them against the
/// Unicode tables.
fn is_nfc_inert(c: char) -> bool {
    matches!(
        c,
        '\0'..='\u{02FF}' | '\u{0400}'..='\u{0482}' | '\u{048A}'..='\u{052F}' | '\u{2010}'..='\u{2027}' | '\u{2116}'
    )
}

/// `t` in NFC. Text already in NFC (the quick check says so for nearly all real input) is
/// copied as it is, without decomposing and recomposing every character; text made only of
/// [`is_nfc_inert`] characters (nearly all Russian, Kazakh and Latin input) skips the quick
/// check's table lookups too.
fn to_nfc(t: &str) -> String {
    if t.chars().all(is_nfc_inert) {
        return t.to_string();
    }
    match is_nfc_quick(t.chars()) {
        IsNormalized::Yes => t.to_string(),
        IsNormalized::No | IsNormalized::Maybe => t.nfc().collect(),
    }
}

/// Trims, checks characters, normalises to NFC and checks the length (1..=max characters).
/// One pass over the characters checks them, counts them and tells whether NFC could change
/// anything ([`is_nfc_inert`]); only text it could change is normalised and counted again.
pub(crate) fn clean_text(input: &str, max: usize) -> Result<String, TextError> {
    let t = input.trim();
    if t.is_empty() {
        return Err(TextError::Empty);
    }
    let mut chars = 0usize;
    let mut inert = true;
    for c in t.chars() {
        if is_forbidden_text_char(c) {
            return Err(TextError::BadCharacter);
        }
        chars += 1;
        inert &= is_nfc_inert(c);
    }
    if inert {
        return if chars > max {
            Err(TextError::TooLong)
        } else {
            Ok(t.to_string())
        };
    }
    // NFC never makes text more than three times longer; refuse hopeless input early.
    if chars > max.saturating_mul(4) {
        return Err(TextError::TooLong);
    }
    let s = to_nfc(t);
    if s.chars().count() > max {
        return Err(TextError::TooLong);
    }
    Ok(s)
}

/// Why a text is not an address. Messages never contain the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum AddressError {
    /// Fewer than 3 characters.
    #[error("address is shorter than 3 characters")]
    TooShort,
    /// More than 300 characters.
    #[error("address is longer than 300 characters")]
    TooLong,
    /// Contains a control character (a line break too), line separator, bidi override or BOM.
    #[error("address must be one line without control characters")]
    BadCharacter,
}

impl AddressError {
    /// Stable snake_case code.
    pub fn code(&self) -> &'static str {
        match self {
            AddressError::TooShort => "address_too_short",
            AddressError::TooLong => "address_too_long",
            AddressError::BadCharacter => "address_bad_character",
        }
    }
}

/// A postal address as one line of text.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Address(String);

impl Address {
    /// Parses an address line.
    pub fn parse(input: &str) -> Result<Address, AddressError> {
        let s = clean_text(input, *ADDRESS_CHARS.end()).map_err(|e| match e {
            TextError::Empty => AddressError::TooShort,
            TextError::TooLong => AddressError::TooLong,
            TextError::BadCharacter => AddressError::BadCharacter,
        })?;
        if s.chars().count() < *ADDRESS_CHARS.start() {
            return Err(AddressError::TooShort);
        }
        Ok(Address(s))
    }

    /// The address line.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The address line as an owned string.
    pub fn into_string(self) -> String {
        self.0
    }
}

/// Free text: NFC, 1..=1000 characters, no control characters at all.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FreeText(String);

impl FreeText {
    /// Parses free text.
    pub fn parse(input: &str) -> Result<FreeText, TextError> {
        clean_text(input, MAX_TEXT_CHARS).map(FreeText)
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The text as an owned string.
    pub fn into_string(self) -> String {
        self.0
    }
}

macro_rules! text_type_impls {
    ($t:ident, $err:ident, $expecting:literal) => {
        impl fmt::Debug for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($t), "(<redacted>)"))
            }
        }
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl AsRef<str> for $t {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
        impl FromStr for $t {
            type Err = $err;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $t::parse(s)
            }
        }
        impl TryFrom<String> for $t {
            type Error = $err;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                $t::parse(&s)
            }
        }
        impl From<$t> for String {
            fn from(v: $t) -> String {
                v.0
            }
        }
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                crate::value::de::parsed_str(d, $expecting, $t::parse)
            }
        }
    };
}

text_type_impls!(Address, AddressError, "an address string");
text_type_impls!(FreeText, TextError, "a text string");

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn c2_1_kazakh_russian_and_latin_names_parse() {
        for s in [
            "Әбілқайыр",
            "Нұрсұлтанұлы",
            "Ғабит",
            "Қасым-Жомарт",
            "Өмірзақ",
            "Үмітжан",
            "Һ",
            "Іңкәр",
            "Иванов",
            "Ёлкин",
            "O'Brien",
            "D’Artagnan",
            "Абу Бакр",
            "Zhanna",
            "Müller",
            "Şükür",
            "Ağa",
        ] {
            assert_eq!(PersonName::parse(s).unwrap().as_str(), s, "{s}");
        }
    }

    #[test]
    fn name_is_nfc_normalised_and_trimmed() {
        // "й" typed as и + combining breve becomes the precomposed letter.
        let n = PersonName::parse("  Наи\u{0306}ман ").unwrap();
        assert_eq!(n.as_str(), "На\u{0439}ман");
        assert_eq!(n.as_str(), "Найман");
        assert_eq!(n.as_str().chars().count(), 6);
    }

    #[test]
    fn name_rejections() {
        assert_eq!(PersonName::parse(" "), Err(NameError::Empty));
        assert_eq!(PersonName::parse(&"а".repeat(61)), Err(NameError::TooLong));
        assert!(PersonName::parse(&"а".repeat(60)).is_ok());
        assert_eq!(PersonName::parse("Иван0в"), Err(NameError::BadCharacter));
        assert_eq!(PersonName::parse("Иван.ов"), Err(NameError::BadCharacter));
        assert_eq!(PersonName::parse("Абу  Бакр"), Err(NameError::BadSpacing));
        assert_eq!(PersonName::parse("Абу\tБакр"), Err(NameError::BadCharacter));
        assert_eq!(PersonName::parse("-Иван"), Err(NameError::BadEdge));
        assert_eq!(PersonName::parse("Иван'"), Err(NameError::BadEdge));
        assert_eq!(PersonName::parse("Иван×"), Err(NameError::BadCharacter));
        assert_eq!(
            PersonName::parse("Иван\u{0483}"),
            Err(NameError::BadCharacter)
        );
        assert_eq!(PersonName::parse("李"), Err(NameError::BadCharacter));
        assert_eq!(NameError::BadEdge.code(), "name_bad_edge");
    }

    #[test]
    fn c2_1_full_name_json_and_line() {
        let n = FullName::parse_line("  Иванов   Иван Иванович ").unwrap();
        assert_eq!(n.surname().as_str(), "Иванов");
        assert_eq!(n.given().as_str(), "Иван");
        assert_eq!(n.patronymic().map(PersonName::as_str), Some("Иванович"));
        assert_eq!(n.to_line(), "Иванов Иван Иванович");
        let j = serde_json::to_value(&n).unwrap();
        assert_eq!(
            j,
            serde_json::json!({"surname": "Иванов", "given": "Иван", "patronymic": "Иванович"})
        );
        let back: FullName = serde_json::from_value(j).unwrap();
        assert_eq!(back, n);

        let two = FullName::parse_line("Сейтқали Әлия").unwrap();
        assert_eq!(two.patronymic(), None);
        assert_eq!(
            serde_json::to_value(&two).unwrap(),
            serde_json::json!({"surname": "Сейтқали", "given": "Әлия"})
        );
        let oglu = FullName::parse_line("Алиев Руслан Ахмед оглы").unwrap();
        assert_eq!(
            oglu.patronymic().map(PersonName::as_str),
            Some("Ахмед оглы")
        );
        assert_eq!(
            FullName::parse_line("Иванов"),
            Err(FullNameError::MissingGiven)
        );
        assert_eq!(
            FullName::parse_line(""),
            Err(FullNameError::Surname(NameError::Empty))
        );
        assert_eq!(
            FullName::new("Иванов", "Ив4н", None).unwrap_err().code(),
            "full_name_bad_given"
        );
        assert_eq!(
            FullName::new("Иванов", "Иван", Some("  "))
                .unwrap()
                .patronymic(),
            None
        );
    }

    #[test]
    fn full_name_json_rejects_unknown_fields_without_echoing_values() {
        let e = serde_json::from_str::<FullName>(
            r#"{"surname":"Иванов","given":"Иван","middle":"Секрет"}"#,
        )
        .unwrap_err();
        assert!(!e.to_string().contains("Секрет"), "{e}");
        let e =
            serde_json::from_str::<FullName>(r#"{"surname":"Иван0в","given":"Иван"}"#).unwrap_err();
        assert!(!e.to_string().contains("Иван0в"), "{e}");
        let e =
            serde_json::from_str::<FullName>(r#"{"surname":12345,"given":"Иван"}"#).unwrap_err();
        assert!(!e.to_string().contains("12345"), "{e}");
    }

    #[test]
    fn c4_1_names_debug_redacted_and_masked() {
        let n = FullName::parse_line("Иванов Иван Иванович").unwrap();
        assert_eq!(format!("{n:?}"), "FullName(<redacted>)");
        assert_eq!(n.masked(), "И*** И. И.");
        assert_eq!(format!("{:?}", n.surname()), "PersonName(<redacted>)");
        let a = Address::parse("г. Алматы, ул. Абая, 1").unwrap();
        assert_eq!(format!("{a:?}"), "Address(<redacted>)");
        let t = FreeText::parse("ТОО «Ромашка»").unwrap();
        assert_eq!(format!("{t:?}"), "FreeText(<redacted>)");
    }

    #[test]
    fn address_and_text_rules() {
        assert!(Address::parse("  Астана, пр. Мәңгілік Ел, 55  ").is_ok());
        assert_eq!(Address::parse("ab"), Err(AddressError::TooShort));
        assert_eq!(Address::parse("   "), Err(AddressError::TooShort));
        assert_eq!(Address::parse(&"а".repeat(301)), Err(AddressError::TooLong));
        assert!(Address::parse(&"а".repeat(300)).is_ok());
        assert_eq!(
            Address::parse("Алматы\nАбая 1"),
            Err(AddressError::BadCharacter)
        );
        assert_eq!(
            Address::parse("Алматы\u{202E}1"),
            Err(AddressError::BadCharacter)
        );
        assert_eq!(
            Address::parse("Алматы\u{2028}1"),
            Err(AddressError::BadCharacter)
        );
        assert_eq!(AddressError::TooShort.code(), "address_too_short");
        assert!(FreeText::parse("x").is_ok());
        assert_eq!(FreeText::parse(""), Err(TextError::Empty));
        assert_eq!(FreeText::parse("a\nb"), Err(TextError::BadCharacter));
        assert_eq!(FreeText::parse(&"я".repeat(1001)), Err(TextError::TooLong));
        assert!(FreeText::parse(&"я".repeat(1000)).is_ok());
        let t = FreeText::parse("Cafe\u{0301}").unwrap();
        assert_eq!(t.as_str(), "Caf\u{00E9}");
    }

    /// Every character the shortcut of [`to_nfc`] and [`clean_text`] trusts is NFC-stable by
    /// the Unicode tables: combining class 0 and quick check Yes (so any text of them is in
    /// NFC), and its own NFC alone and after any other of them that composes.
    #[test]
    fn c2_1_nfc_inert_characters_are_their_own_nfc() {
        use unicode_normalization::char::canonical_combining_class;
        let inert: Vec<char> = (0..=0x10FFFFu32)
            .filter_map(char::from_u32)
            .filter(|c| is_nfc_inert(*c))
            .collect();
        assert!(inert.len() > 1000, "{}", inert.len());
        for &c in &inert {
            assert_eq!(canonical_combining_class(c), 0, "U+{:04X}", c as u32);
            assert_eq!(
                is_nfc_quick(std::iter::once(c)),
                IsNormalized::Yes,
                "U+{:04X}",
                c as u32
            );
            let one = c.to_string();
            assert_eq!(one.nfc().collect::<String>(), one, "U+{:04X}", c as u32);
        }
        // Not inert: combining marks, a character NFC replaces, Cyrillic combining marks.
        for c in [
            '\u{0301}', '\u{0340}', '\u{0483}', '\u{2126}', '\u{212B}', '\u{2000}',
        ] {
            assert!(!is_nfc_inert(c), "U+{:04X}", c as u32);
        }
    }

    /// What `clean_text` did before its one-pass shortcut: every check in turn, then NFC.
    fn clean_text_reference(input: &str, max: usize) -> Result<String, TextError> {
        let t = input.trim();
        if t.is_empty() {
            return Err(TextError::Empty);
        }
        if t.chars().any(is_forbidden_text_char) {
            return Err(TextError::BadCharacter);
        }
        if t.chars().nth(max.saturating_mul(4)).is_some() {
            return Err(TextError::TooLong);
        }
        let s: String = t.nfc().collect();
        if s.chars().count() > max {
            return Err(TextError::TooLong);
        }
        Ok(s)
    }

    proptest! {
        /// The one-pass `clean_text` answers exactly as every check in turn followed by full
        /// normalisation does: same text, same error, at and around the length limit, with
        /// combining marks, characters NFC replaces and forbidden characters mixed in.
        #[test]
        fn c2_1_clean_text_matches_full_normalisation(
            s in "[ a-zA-Zа-яА-ЯәғқңөұүһіІ№«»\u{2013}\u{2014},.\u{0300}-\u{0304}\u{0483}\u{2126}\u{212B}\u{2000}\u{00C5}\u{0007}\u{202E}\u{AC00}\u{1100}\u{1161}]{0,14}",
            max in 1usize..12,
        ) {
            prop_assert_eq!(clean_text(&s, max), clean_text_reference(&s, max));
        }

        /// The quick-check shortcut gives exactly what full normalisation gives, for any
        /// text, combining marks and Hangul included.
        #[test]
        fn prop_to_nfc_is_full_nfc(s in "[a-zа-яәғқ\u{0300}-\u{036F}\u{1100}-\u{1112}\u{1161}-\u{1175}\u{AC00}-\u{AC10}\u{00C0}-\u{00FF}\u{2126}\u{212B} ]{0,40}") {
            let full: String = s.nfc().collect();
            prop_assert_eq!(to_nfc(&s), full);
        }

        #[test]
        fn prop_valid_names_round_trip(s in "[А-ЯЁӘҒҚҢӨҰҮҺІ][а-яёәғқңөұүһі]{0,20}(-[А-Я][а-я]{1,10})?") {
            let n = PersonName::parse(&s).unwrap();
            prop_assert_eq!(n.as_str(), s.as_str());
            prop_assert_eq!(PersonName::parse(n.as_str()).unwrap(), n.clone());
            let dbg = format!("{n:?}");
            prop_assert!(!dbg.contains(&s));
        }

        #[test]
        fn prop_full_name_round_trip(a in "[А-Я][а-я]{1,15}", b in "[A-Z][a-z]{1,15}", c in proptest::option::of("[Ә][а-яәқ]{1,15}")) {
            let n = FullName::new(&a, &b, c.as_deref()).unwrap();
            let back: FullName = serde_json::from_value(serde_json::to_value(&n).unwrap()).unwrap();
            prop_assert_eq!(&back, &n);
            prop_assert_eq!(FullName::parse_line(&n.to_line()).unwrap(), n.clone());
            let dbg = format!("{n:?}");
            prop_assert!(!dbg.contains(&a));
            prop_assert!(!n.masked().contains(&a));
        }

        #[test]
        fn prop_text_parsers_never_panic(s in any::<String>()) {
            let _ = PersonName::parse(&s);
            let _ = FullName::parse_line(&s);
            let _ = Address::parse(&s);
            if let Ok(t) = FreeText::parse(&s) {
                prop_assert!(!t.as_str().chars().any(char::is_control));
            }
        }

        #[test]
        fn prop_text_parsers_never_panic_regex(s in ".*") {
            let _ = PersonName::parse(&s);
            let _ = Address::parse(&s);
            let _ = FreeText::parse(&s);
        }
    }
}
