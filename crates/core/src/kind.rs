//! The kinds of value a data category can hold (clause 2.1). A category in the registry names
//! one kind; [`crate::value::Value::parse`] turns untrusted JSON into a value of that kind.

use serde::{Deserialize, Serialize};

/// What shape a category's values have. Stable snake_case names are used in the registry file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ValueKind {
    /// Surname, given name, optional patronymic (Cyrillic incl. Kazakh letters, Latin).
    FullName,
    /// An e-mail address.
    Email,
    /// A Kazakhstan phone number, stored as E.164 (`+7` and 10 digits).
    Phone,
    /// A Kazakhstan mobile phone number (`+7 7xx …`).
    MobilePhone,
    /// A postal address as one line of text.
    Address,
    /// A Kazakhstan IBAN with the bank's name.
    BankAccount,
    /// Identity document data (not an image: L-ID-COPIES).
    IdDocument,
    /// Individual identification number (ИИН / ЖСН).
    Iin,
    /// Free text, NFC-normalised, no control characters.
    Text,
    /// An amount in tenge, held as integer tiyn (1/100 KZT).
    Money,
    /// A calendar date (`YYYY-MM-DD`).
    Date,
    /// A day of the month, 1..=31 (e.g. salary day).
    DayOfMonth,
    /// One of a fixed list of options named in the category's definition.
    Choice,
}

impl ValueKind {
    /// The stable name used in the registry file and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            ValueKind::FullName => "full_name",
            ValueKind::Email => "email",
            ValueKind::Phone => "phone",
            ValueKind::MobilePhone => "mobile_phone",
            ValueKind::Address => "address",
            ValueKind::BankAccount => "bank_account",
            ValueKind::IdDocument => "id_document",
            ValueKind::Iin => "iin",
            ValueKind::Text => "text",
            ValueKind::Money => "money",
            ValueKind::Date => "date",
            ValueKind::DayOfMonth => "day_of_month",
            ValueKind::Choice => "choice",
        }
    }

    /// Whether values of this kind can be found by exact match through a blind index.
    pub fn is_searchable(self) -> bool {
        matches!(
            self,
            ValueKind::Email
                | ValueKind::Phone
                | ValueKind::MobilePhone
                | ValueKind::BankAccount
                | ValueKind::Iin
        )
    }
}
