//! The operator's approved list of personal data (L-LIST, PD Law Art. 25 p.2 sub.1) and
//! purpose registry (clause 1.1), loaded from TOML (`registry/default.toml` is embedded).
//!
//! - **Categories** (clause 2.1): a stable code, a [`ValueKind`], a group (web data kept
//!   apart from identifying data), whether it is blind-indexed (`searchable`) and unique,
//!   RU/KK/EN names, and for choice kinds the options.
//! - **Purposes** (clause 1.1): a stable code, the clause reference, the legal basis, names,
//!   and the only categories the purpose may touch — minimisation of clause 3.2 is
//!   [`Registry::allows`].
//! - **Banks** (clause 2.1, bank name): the 3-digit IBAN bank code → bank table.
//!
//! A registry is checked as a whole when loaded: unknown keys, bad or duplicate codes, a
//! purpose naming an unknown category or none, a category no purpose uses (excess data,
//! L-LIST), `searchable`/`unique`/`choices` inconsistent with the kind, empty names and bad
//! bank codes are each a distinct [`RegistryError`] naming the offending code. Codes are
//! not personal data, so messages name them.

use crate::iban::Iban;
use crate::kind::ValueKind;
use crate::value::{Value, ValueError};
use rustc_hash::{FxHashMap, FxHashSet};
use serde::{Deserialize, Serialize};
use std::borrow::Borrow;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// The registry compiled into the binary.
pub const EMBEDDED_TOML: &str = include_str!("../registry/default.toml");

/// Longest code, in characters.
pub const MAX_CODE_LEN: usize = 48;

/// A language of the user interface and of registry names.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    /// Russian (the default).
    #[default]
    Ru,
    /// Kazakh.
    Kk,
    /// English.
    En,
}

/// An unknown language tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[error("language must be ru, kk or en")]
pub struct LangError;

impl LangError {
    /// Stable snake_case code.
    pub fn code(&self) -> &'static str {
        "unknown_language"
    }
}

impl Lang {
    /// All languages, in default-preference order.
    pub const ALL: [Lang; 3] = [Lang::Ru, Lang::Kk, Lang::En];

    /// The language of a tag: `ru`, `kk`, `en`, case-insensitive, with or without a region
    /// (`kk-KZ`, `en_US`).
    pub fn parse(tag: &str) -> Result<Lang, LangError> {
        let primary = tag
            .trim()
            .split(['-', '_'])
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        match primary.as_str() {
            "ru" => Ok(Lang::Ru),
            "kk" => Ok(Lang::Kk),
            "en" => Ok(Lang::En),
            _ => Err(LangError),
        }
    }

    /// The two-letter code.
    pub fn as_str(self) -> &'static str {
        match self {
            Lang::Ru => "ru",
            Lang::Kk => "kk",
            Lang::En => "en",
        }
    }

    fn index(self) -> usize {
        match self {
            Lang::Ru => 0,
            Lang::Kk => 1,
            Lang::En => 2,
        }
    }

    /// The best of ru/kk/en for an HTTP `Accept-Language` header, by q-values (RFC 9110);
    /// ties go to the language named first; `*` stands for any language not named; with
    /// nothing acceptable, [`Lang::Ru`].
    pub fn from_accept_language(header: &str) -> Lang {
        // Per language: (q in thousandths, position of first mention).
        let mut named: [Option<(u16, usize)>; 3] = [None; 3];
        let mut wildcard: Option<u16> = None;
        for (pos, item) in header.split(',').enumerate().take(64) {
            let mut parts = item.split(';');
            let tag = parts.next().unwrap_or("").trim();
            if tag.is_empty() {
                continue;
            }
            let mut q = Some(1000u16);
            for param in parts {
                let param = param.trim();
                if let Some(v) = param
                    .strip_prefix("q=")
                    .or_else(|| param.strip_prefix("Q="))
                {
                    q = parse_qvalue(v.trim());
                }
            }
            let Some(q) = q else { continue };
            if tag == "*" {
                wildcard = Some(wildcard.map_or(q, |w| w.max(q)));
                continue;
            }
            if let Ok(lang) = Lang::parse(tag) {
                let slot = &mut named[lang.index()];
                *slot = Some(match *slot {
                    Some((old, p)) => (old.max(q), p),
                    None => (q, pos),
                });
            }
        }
        let mut best = Lang::Ru;
        let mut best_key: Option<(u16, std::cmp::Reverse<usize>)> = None;
        for lang in Lang::ALL {
            let key = match named[lang.index()] {
                Some((q, pos)) => (q, std::cmp::Reverse(pos)),
                None => match wildcard {
                    Some(q) => (q, std::cmp::Reverse(usize::MAX - 3 + lang.index())),
                    None => continue,
                },
            };
            if key.0 > 0 && best_key.is_none_or(|b| key > b) {
                best = lang;
                best_key = Some(key);
            }
        }
        best
    }
}

/// An RFC 9110 qvalue (`0`, `0.5`, `1`, `1.000`) in thousandths; `None` if malformed.
fn parse_qvalue(v: &str) -> Option<u16> {
    let (int, frac) = match v.split_once('.') {
        Some((i, f)) => (i, f),
        None => (v, ""),
    };
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut thousandths: u16 = 0;
    for (i, b) in frac.bytes().enumerate() {
        let scale = [100u16, 10, 1].get(i).copied().unwrap_or(0);
        thousandths += u16::from(b - b'0') * scale;
    }
    match int {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Lang {
    type Err = LangError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Lang::parse(s)
    }
}

/// A code that does not match `[a-z][a-z0-9_]{1,47}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[error("code must be 2 to 48 characters: a lowercase Latin letter, then lowercase letters, digits or _")]
pub struct CodeError;

impl CodeError {
    /// Stable snake_case code.
    pub fn code(&self) -> &'static str {
        "bad_code"
    }
}

fn valid_code(s: &str) -> bool {
    let b = s.as_bytes();
    (2..=MAX_CODE_LEN).contains(&b.len())
        && b.first().is_some_and(u8::is_ascii_lowercase)
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_')
}

macro_rules! code_type {
    ($(#[$doc:meta])* $t:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $t(String);

        impl $t {
            /// Parses a code: `[a-z][a-z0-9_]{1,47}`.
            pub fn parse(s: &str) -> Result<$t, CodeError> {
                if valid_code(s) {
                    Ok($t(s.to_owned()))
                } else {
                    Err(CodeError)
                }
            }

            /// The code.
            pub fn as_str(&self) -> &str {
                &self.0
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

        impl Borrow<str> for $t {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl std::str::FromStr for $t {
            type Err = CodeError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $t::parse(s)
            }
        }

        impl TryFrom<String> for $t {
            type Error = CodeError;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                if valid_code(&s) {
                    Ok($t(s))
                } else {
                    Err(CodeError)
                }
            }
        }

        impl From<$t> for String {
            fn from(c: $t) -> String {
                c.0
            }
        }
    };
}

code_type!(
    /// The stable code of a data category (e.g. `iin`, `mobile_phone`).
    CategoryCode
);
code_type!(
    /// The stable code of a purpose (e.g. `contract`, `scoring`).
    PurposeCode
);

/// A name in Russian, Kazakh and English.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Names {
    /// Russian.
    pub ru: String,
    /// Kazakh.
    pub kk: String,
    /// English.
    pub en: String,
}

impl Names {
    /// The name in `lang`.
    pub fn get(&self, lang: Lang) -> &str {
        match lang {
            Lang::Ru => &self.ru,
            Lang::Kk => &self.kk,
            Lang::En => &self.en,
        }
    }

    /// The first language whose name is blank, if any.
    fn blank(&self) -> Option<Lang> {
        Lang::ALL
            .into_iter()
            .find(|l| self.get(*l).trim().is_empty())
    }
}

/// How a category is kept: identifying, web (clause 2.1: kept apart), financial, document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CategoryGroup {
    /// Identifies the subject.
    Identifying,
    /// Non-identifying web-visit data, kept apart from identifying data (clause 2.1).
    Web,
    /// Money, solvency, accounts.
    Financial,
    /// Identity document data (L-ID-COPIES: data, not images).
    Document,
}

impl CategoryGroup {
    /// Stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            CategoryGroup::Identifying => "identifying",
            CategoryGroup::Web => "web",
            CategoryGroup::Financial => "financial",
            CategoryGroup::Document => "document",
        }
    }
}

/// The legal basis of a purpose (PD Law Art. 7, 9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LegalBasis {
    /// The subject's consent; stops when it is withdrawn (clause 7.1 c).
    Consent,
    /// Needed to conclude or perform the contract.
    Contract,
    /// Required by law.
    LegalObligation,
    /// The operator's legitimate interest.
    LegitimateInterest,
}

impl LegalBasis {
    /// Stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            LegalBasis::Consent => "consent",
            LegalBasis::Contract => "contract",
            LegalBasis::LegalObligation => "legal_obligation",
            LegalBasis::LegitimateInterest => "legitimate_interest",
        }
    }
}

/// One option of a choice category.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct ChoiceDef {
    /// Stable code (`[a-z][a-z0-9_]{1,47}`); the stored value.
    pub code: String,
    /// Display names.
    pub name: Names,
}

/// A data category of the approved list (clause 2.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CategoryDef {
    /// Stable code.
    pub code: CategoryCode,
    /// The kind of its values.
    pub kind: ValueKind,
    /// Identifying, web, financial or document.
    pub group: CategoryGroup,
    /// Blind-indexed for exact lookup (only for searchable kinds).
    pub searchable: bool,
    /// At most one subject may hold a given value (only if searchable).
    pub unique: bool,
    /// Display names.
    pub name: Names,
    /// The options, for [`ValueKind::Choice`] (non-empty there, empty otherwise).
    pub choices: Vec<ChoiceDef>,
}

impl CategoryDef {
    /// The codes of the options (empty unless the kind is choice).
    pub fn choice_codes(&self) -> Vec<String> {
        self.choices.iter().map(|c| c.code.clone()).collect()
    }

    /// The option with this code.
    pub fn choice(&self, code: &str) -> Option<&ChoiceDef> {
        self.choices.iter().find(|c| c.code == code)
    }

    /// Parses untrusted JSON as a value of this category (its kind and choices).
    pub fn parse_value(&self, input: &serde_json::Value) -> Result<Value, ValueError> {
        Value::parse(self.kind, &self.choice_codes(), input)
    }
}

/// A purpose of processing (clause 1.1) and the categories it may touch (clause 3.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PurposeDef {
    /// Stable code.
    pub code: PurposeCode,
    /// The policy clause it comes from (free text, e.g. `1.1 (9)`).
    pub clause: String,
    /// Its legal basis.
    pub legal_basis: LegalBasis,
    /// Display names.
    pub name: Names,
    /// A longer explanation, if any.
    pub description: Option<Names>,
    /// The only categories this purpose may read, write or transfer (non-empty). Fixed once
    /// the registry is loaded: [`PurposeDef::allows`] answers from a table built from it then,
    /// so a copy whose set is changed afterwards would answer from the old one.
    pub categories: BTreeSet<CategoryCode>,
    /// Whether accesses under this purpose are shown to the subject (7.1a). `false` only
    /// where a law forbids telling the subject — `financial_monitoring` (L-TIPPING-OFF:
    /// reports to the financial-monitoring authority are never revealed).
    pub subject_visible: bool,
    /// `categories` as a hash set, for [`PurposeDef::allows`]: every create and read asks it
    /// of each of its categories (a B-tree search of text keys took several times longer).
    /// Fx hashing: the set is fixed once loaded, so a caller's text can only be looked up,
    /// never make the set's collisions worse.
    #[serde(skip)]
    allowed: FxHashSet<String>,
}

impl PurposeDef {
    /// Clause 3.2 minimisation: whether this purpose may touch `category`.
    pub fn allows(&self, category: &str) -> bool {
        self.allowed.contains(category)
    }
}

/// What a retention period is counted from (L-RETENTION-AML, L-RETENTION-OTHER, L-CB-CONSENT).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RetentionFrom {
    /// The end of the business relationship: the last contract fulfilled (repaid, written
    /// off, assigned); with no contract, the subject's last application.
    RelationshipEnd,
    /// When the value was obtained.
    Collection,
    /// The subject's latest consent decision.
    Consent,
}

impl RetentionFrom {
    /// Stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            RetentionFrom::RelationshipEnd => "relationship_end",
            RetentionFrom::Collection => "collection",
            RetentionFrom::Consent => "consent",
        }
    }
}

/// A retention rule (7.1a "processing periods including storage periods"; L-DESTRUCTION):
/// the categories it keeps, for how long, counted from what, on which legal ground.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RetentionRule {
    /// Stable code.
    pub code: String,
    /// Years kept (1..=75).
    pub years: u32,
    /// What the period is counted from.
    pub from: RetentionFrom,
    /// The law or policy clause the period comes from (e.g. `AML Law 191-IV Art. 11 p.4`).
    pub law: String,
    /// Spec row(s) (e.g. `L-RETENTION-AML`).
    pub clause: String,
    /// Display names.
    pub name: Names,
    /// The categories it keeps.
    pub categories: BTreeSet<CategoryCode>,
}

/// A bank by its 3-digit IBAN bank code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Bank {
    /// The 3-digit code (IBAN characters 5–7).
    pub code: String,
    /// The BIC (SWIFT code), if known.
    pub bic: Option<String>,
    /// Display names.
    pub name: Names,
}

/// Why a registry file was refused. Messages name the offending code (codes are not
/// personal data).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    /// Not valid TOML, or a key/type/enum value the format does not know.
    #[error("registry file: {message}")]
    Syntax {
        /// The TOML parser's message, with line and column.
        message: String,
        /// 1-based line of the error, if known.
        line: Option<usize>,
    },
    /// `version` is blank.
    #[error("registry version is empty")]
    EmptyVersion,
    /// A category code does not match `[a-z][a-z0-9_]{1,47}`.
    #[error("category code \"{code}\" is invalid: must match [a-z][a-z0-9_]{{1,47}}")]
    BadCategoryCode {
        /// The code.
        code: String,
    },
    /// A purpose code does not match `[a-z][a-z0-9_]{1,47}`.
    #[error("purpose code \"{code}\" is invalid: must match [a-z][a-z0-9_]{{1,47}}")]
    BadPurposeCode {
        /// The code.
        code: String,
    },
    /// A choice code does not match `[a-z][a-z0-9_]{1,47}`.
    #[error("category \"{category}\" has invalid choice code \"{code}\": must match [a-z][a-z0-9_]{{1,47}}")]
    BadChoiceCode {
        /// The category.
        category: String,
        /// The choice code.
        code: String,
    },
    /// Two categories with one code.
    #[error("duplicate category code \"{code}\"")]
    DuplicateCategory {
        /// The code.
        code: String,
    },
    /// Two purposes with one code.
    #[error("duplicate purpose code \"{code}\"")]
    DuplicatePurpose {
        /// The code.
        code: String,
    },
    /// Two banks with one code.
    #[error("duplicate bank code \"{code}\"")]
    DuplicateBank {
        /// The code.
        code: String,
    },
    /// Two options of one category with one code.
    #[error("category \"{category}\" has duplicate choice code \"{code}\"")]
    DuplicateChoice {
        /// The category.
        category: String,
        /// The choice code.
        code: String,
    },
    /// A purpose names a category that is not defined.
    #[error("purpose \"{purpose}\" names unknown category \"{category}\"")]
    UnknownCategory {
        /// The purpose.
        purpose: String,
        /// The unknown category.
        category: String,
    },
    /// A purpose names the same category twice.
    #[error("purpose \"{purpose}\" names category \"{category}\" twice")]
    DuplicatePurposeCategory {
        /// The purpose.
        purpose: String,
        /// The category.
        category: String,
    },
    /// A purpose names no category.
    #[error("purpose \"{purpose}\" names no categories")]
    EmptyPurpose {
        /// The purpose.
        purpose: String,
    },
    /// A purpose's clause reference is blank.
    #[error("purpose \"{purpose}\" has an empty clause reference")]
    EmptyClause {
        /// The purpose.
        purpose: String,
    },
    /// A category that no purpose uses: excess data (L-LIST, clause 3.2).
    #[error("category \"{category}\" is used by no purpose (excess data are not allowed)")]
    UnusedCategory {
        /// The category.
        category: String,
    },
    /// `searchable = true` on a kind that cannot be blind-indexed.
    #[error("category \"{category}\" is searchable, but kind \"{kind}\" cannot be searched")]
    NotSearchable {
        /// The category.
        category: String,
        /// Its kind.
        kind: &'static str,
    },
    /// `unique = true` without `searchable = true`.
    #[error("category \"{category}\" is unique but not searchable")]
    UniqueWithoutSearchable {
        /// The category.
        category: String,
    },
    /// Kind `choice` with no (or an empty list of) choices.
    #[error("category \"{category}\" is of kind \"choice\" but has no choices")]
    MissingChoices {
        /// The category.
        category: String,
    },
    /// `choices` on a kind other than `choice`.
    #[error("category \"{category}\" has choices but its kind \"{kind}\" is not \"choice\"")]
    UnexpectedChoices {
        /// The category.
        category: String,
        /// Its kind.
        kind: &'static str,
    },
    /// A name (or description) is blank in one language.
    #[error("{owner} has an empty {field}.{lang}")]
    EmptyName {
        /// What the name belongs to, e.g. `category "iin"`.
        owner: String,
        /// `name`, `description` or `choices.<code>.name`.
        field: String,
        /// The language.
        lang: &'static str,
    },
    /// A retention rule is malformed (`reason`: `code`, `years`, `law`, `categories`).
    #[error("retention rule \"{rule}\" is invalid: {reason}")]
    BadRetention {
        /// The rule's code.
        rule: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// A category has no retention rule (checked at server start-up).
    #[error("category \"{category}\" has no retention rule")]
    NoRetention {
        /// The category's code.
        category: String,
    },
    /// A bank code that is not 3 digits.
    #[error("bank code \"{code}\" is invalid: must be 3 digits")]
    BadBankCode {
        /// The code.
        code: String,
    },
    /// A BIC that is not 8 or 11 Latin capitals/digits with a country code.
    #[error("bank \"{bank}\" has an invalid BIC: must be 8 or 11 capital letters or digits")]
    BadBic {
        /// The bank code.
        bank: String,
    },
}

impl RegistryError {
    /// Stable snake_case code.
    pub fn code(&self) -> &'static str {
        match self {
            RegistryError::Syntax { .. } => "registry_syntax",
            RegistryError::EmptyVersion => "registry_empty_version",
            RegistryError::BadCategoryCode { .. } => "registry_bad_category_code",
            RegistryError::BadPurposeCode { .. } => "registry_bad_purpose_code",
            RegistryError::BadChoiceCode { .. } => "registry_bad_choice_code",
            RegistryError::DuplicateCategory { .. } => "registry_duplicate_category",
            RegistryError::DuplicatePurpose { .. } => "registry_duplicate_purpose",
            RegistryError::DuplicateBank { .. } => "registry_duplicate_bank",
            RegistryError::DuplicateChoice { .. } => "registry_duplicate_choice",
            RegistryError::UnknownCategory { .. } => "registry_unknown_category",
            RegistryError::DuplicatePurposeCategory { .. } => "registry_duplicate_purpose_category",
            RegistryError::EmptyPurpose { .. } => "registry_empty_purpose",
            RegistryError::EmptyClause { .. } => "registry_empty_clause",
            RegistryError::UnusedCategory { .. } => "registry_unused_category",
            RegistryError::NotSearchable { .. } => "registry_not_searchable",
            RegistryError::UniqueWithoutSearchable { .. } => "registry_unique_without_searchable",
            RegistryError::MissingChoices { .. } => "registry_missing_choices",
            RegistryError::UnexpectedChoices { .. } => "registry_unexpected_choices",
            RegistryError::EmptyName { .. } => "registry_empty_name",
            RegistryError::BadBankCode { .. } => "registry_bad_bank_code",
            RegistryError::BadBic { .. } => "registry_bad_bic",
            RegistryError::BadRetention { .. } => "registry_bad_retention",
            RegistryError::NoRetention { .. } => "registry_no_retention",
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRegistry {
    version: String,
    #[serde(default)]
    category: Vec<RawCategory>,
    #[serde(default)]
    purpose: Vec<RawPurpose>,
    #[serde(default)]
    bank: Vec<RawBank>,
    #[serde(default)]
    retention: Vec<RawRetention>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCategory {
    code: String,
    kind: ValueKind,
    group: CategoryGroup,
    #[serde(default)]
    searchable: bool,
    #[serde(default)]
    unique: bool,
    name: Names,
    #[serde(default)]
    choices: Option<Vec<RawChoice>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawChoice {
    code: String,
    name: Names,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPurpose {
    code: String,
    clause: String,
    legal_basis: LegalBasis,
    name: Names,
    #[serde(default)]
    description: Option<Names>,
    categories: Vec<String>,
    #[serde(default = "yes")]
    subject_visible: bool,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRetention {
    code: String,
    years: u32,
    from: RetentionFrom,
    law: String,
    clause: String,
    name: Names,
    categories: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBank {
    code: String,
    #[serde(default)]
    bic: Option<String>,
    name: Names,
}

fn check_names(
    names: &Names,
    owner: impl Fn() -> String,
    field: &str,
) -> Result<(), RegistryError> {
    match names.blank() {
        Some(lang) => Err(RegistryError::EmptyName {
            owner: owner(),
            field: field.to_owned(),
            lang: lang.as_str(),
        }),
        None => Ok(()),
    }
}

fn valid_bic(bic: &str) -> bool {
    let b = bic.as_bytes();
    (b.len() == 8 || b.len() == 11)
        && b.iter()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        && b.get(4..6)
            .is_some_and(|cc| cc.iter().all(u8::is_ascii_uppercase))
}

/// The approved list of personal data, purposes and banks; valid as a whole by construction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Registry {
    version: String,
    categories: BTreeMap<CategoryCode, CategoryDef>,
    purposes: BTreeMap<PurposeCode, PurposeDef>,
    banks: BTreeMap<String, Bank>,
    retention: Vec<RetentionRule>,
    /// `categories` by code in a hash map, for [`Registry::category`]: every value of every
    /// create is looked up twice (purpose check, parsing), and a search of the B-tree's text
    /// keys cost several times a hash lookup (docs/benchmarks.md, run V). Fx hashing, as for
    /// [`PurposeDef::allows`]: a fixed map that callers only look up in.
    #[serde(skip)]
    by_code: FxHashMap<String, CategoryDef>,
}

impl Registry {
    /// Loads and checks a registry from TOML text.
    pub fn from_toml(text: &str) -> Result<Registry, RegistryError> {
        let raw: RawRegistry = toml::from_str(text).map_err(|e| {
            let line = e
                .span()
                .map(|s| text.get(..s.start).map_or(0, |t| t.matches('\n').count()) + 1);
            RegistryError::Syntax {
                message: e.to_string().trim_end().to_owned(),
                line,
            }
        })?;
        if raw.version.trim().is_empty() {
            return Err(RegistryError::EmptyVersion);
        }

        let mut categories = BTreeMap::new();
        for c in raw.category {
            let code =
                CategoryCode::parse(&c.code).map_err(|_| RegistryError::BadCategoryCode {
                    code: c.code.clone(),
                })?;
            if categories.contains_key(&code) {
                return Err(RegistryError::DuplicateCategory { code: c.code });
            }
            let owner = || format!("category \"{}\"", c.code);
            check_names(&c.name, owner, "name")?;
            if c.searchable && !c.kind.is_searchable() {
                return Err(RegistryError::NotSearchable {
                    category: c.code,
                    kind: c.kind.as_str(),
                });
            }
            if c.unique && !c.searchable {
                return Err(RegistryError::UniqueWithoutSearchable { category: c.code });
            }
            let choices = match (c.kind, c.choices) {
                (ValueKind::Choice, None) => {
                    return Err(RegistryError::MissingChoices { category: c.code })
                }
                (ValueKind::Choice, Some(list)) if list.is_empty() => {
                    return Err(RegistryError::MissingChoices { category: c.code })
                }
                (ValueKind::Choice, Some(list)) => list,
                (_, None) => Vec::new(),
                (kind, Some(_)) => {
                    return Err(RegistryError::UnexpectedChoices {
                        category: c.code,
                        kind: kind.as_str(),
                    })
                }
            };
            let mut defs: Vec<ChoiceDef> = Vec::with_capacity(choices.len());
            for ch in choices {
                if !valid_code(&ch.code) {
                    return Err(RegistryError::BadChoiceCode {
                        category: c.code,
                        code: ch.code,
                    });
                }
                if defs.iter().any(|d| d.code == ch.code) {
                    return Err(RegistryError::DuplicateChoice {
                        category: c.code,
                        code: ch.code,
                    });
                }
                check_names(&ch.name, owner, &format!("choices.{}.name", ch.code))?;
                defs.push(ChoiceDef {
                    code: ch.code,
                    name: ch.name,
                });
            }
            categories.insert(
                code.clone(),
                CategoryDef {
                    code,
                    kind: c.kind,
                    group: c.group,
                    searchable: c.searchable,
                    unique: c.unique,
                    name: c.name,
                    choices: defs,
                },
            );
        }

        let mut purposes: BTreeMap<PurposeCode, PurposeDef> = BTreeMap::new();
        for p in raw.purpose {
            let code = PurposeCode::parse(&p.code).map_err(|_| RegistryError::BadPurposeCode {
                code: p.code.clone(),
            })?;
            if purposes.contains_key(&code) {
                return Err(RegistryError::DuplicatePurpose { code: p.code });
            }
            let owner = || format!("purpose \"{}\"", p.code);
            check_names(&p.name, owner, "name")?;
            if let Some(d) = &p.description {
                check_names(d, owner, "description")?;
            }
            if p.clause.trim().is_empty() {
                return Err(RegistryError::EmptyClause { purpose: p.code });
            }
            if p.categories.is_empty() {
                return Err(RegistryError::EmptyPurpose { purpose: p.code });
            }
            let mut cats = BTreeSet::new();
            for name in &p.categories {
                let Some((known, _)) = categories.get_key_value(name.as_str()) else {
                    return Err(RegistryError::UnknownCategory {
                        purpose: p.code,
                        category: name.clone(),
                    });
                };
                if !cats.insert(known.clone()) {
                    return Err(RegistryError::DuplicatePurposeCategory {
                        purpose: p.code,
                        category: name.clone(),
                    });
                }
            }
            purposes.insert(
                code.clone(),
                PurposeDef {
                    code,
                    clause: p.clause,
                    legal_basis: p.legal_basis,
                    name: p.name,
                    description: p.description,
                    allowed: cats.iter().map(|c| c.as_str().to_owned()).collect(),
                    categories: cats,
                    subject_visible: p.subject_visible,
                },
            );
        }

        if let Some(unused) = categories
            .keys()
            .find(|c| !purposes.values().any(|p| p.categories.contains(*c)))
        {
            return Err(RegistryError::UnusedCategory {
                category: unused.to_string(),
            });
        }

        let mut banks = BTreeMap::new();
        for b in raw.bank {
            if b.code.len() != 3 || !b.code.bytes().all(|c| c.is_ascii_digit()) {
                return Err(RegistryError::BadBankCode { code: b.code });
            }
            if banks.contains_key(&b.code) {
                return Err(RegistryError::DuplicateBank { code: b.code });
            }
            if b.bic.as_deref().is_some_and(|bic| !valid_bic(bic)) {
                return Err(RegistryError::BadBic { bank: b.code });
            }
            check_names(&b.name, || format!("bank \"{}\"", b.code), "name")?;
            banks.insert(
                b.code.clone(),
                Bank {
                    code: b.code,
                    bic: b.bic,
                    name: b.name,
                },
            );
        }

        let mut retention: Vec<RetentionRule> = Vec::new();
        for r in raw.retention {
            if !valid_code(&r.code) || retention.iter().any(|x| x.code == r.code) {
                return Err(RegistryError::BadRetention {
                    rule: r.code,
                    reason: "code",
                });
            }
            if r.years == 0 || r.years > 75 {
                return Err(RegistryError::BadRetention {
                    rule: r.code,
                    reason: "years",
                });
            }
            if r.law.trim().is_empty() || r.clause.trim().is_empty() {
                return Err(RegistryError::BadRetention {
                    rule: r.code,
                    reason: "law",
                });
            }
            check_names(&r.name, || format!("retention \"{}\"", r.code), "name")?;
            if r.categories.is_empty() {
                return Err(RegistryError::BadRetention {
                    rule: r.code,
                    reason: "categories",
                });
            }
            let mut cats = BTreeSet::new();
            for name in &r.categories {
                let Some((known, _)) = categories.get_key_value(name.as_str()) else {
                    return Err(RegistryError::UnknownCategory {
                        purpose: format!("retention:{}", r.code),
                        category: name.clone(),
                    });
                };
                cats.insert(known.clone());
            }
            retention.push(RetentionRule {
                code: r.code,
                years: r.years,
                from: r.from,
                law: r.law,
                clause: r.clause,
                name: r.name,
                categories: cats,
            });
        }

        Ok(Registry {
            version: raw.version,
            by_code: categories
                .iter()
                .map(|(code, def)| (code.as_str().to_owned(), def.clone()))
                .collect(),
            categories,
            purposes,
            banks,
            retention,
        })
    }

    /// The registry compiled into the binary ([`EMBEDDED_TOML`]).
    pub fn embedded() -> Result<Registry, RegistryError> {
        Registry::from_toml(EMBEDDED_TOML)
    }

    /// The registry's version string (recorded with processing decisions).
    pub fn version(&self) -> &str {
        &self.version
    }

    /// All categories by code.
    pub fn categories(&self) -> &BTreeMap<CategoryCode, CategoryDef> {
        &self.categories
    }

    /// All purposes by code.
    pub fn purposes(&self) -> &BTreeMap<PurposeCode, PurposeDef> {
        &self.purposes
    }

    /// All banks by 3-digit code.
    pub fn banks(&self) -> &BTreeMap<String, Bank> {
        &self.banks
    }

    /// The category with this code.
    pub fn category(&self, code: &str) -> Option<&CategoryDef> {
        self.by_code.get(code)
    }

    /// The purpose with this code.
    pub fn purpose(&self, code: &str) -> Option<&PurposeDef> {
        self.purposes.get(code)
    }

    /// Clause 3.2 minimisation: whether `purpose` may touch `category`. False for an unknown
    /// purpose or category.
    pub fn allows(&self, purpose: &str, category: &str) -> bool {
        self.purpose(purpose).is_some_and(|p| p.allows(category))
    }

    /// The purposes that may touch `category` (clause 7.1 a: "for what purposes").
    pub fn purposes_for(&self, category: &str) -> impl Iterator<Item = &PurposeDef> + '_ {
        let category = category.to_owned();
        self.purposes
            .values()
            .filter(move |p| p.categories.contains(category.as_str()))
    }

    /// The bank with this 3-digit code.
    pub fn bank(&self, code: &str) -> Option<&Bank> {
        self.banks.get(code)
    }

    /// The bank an IBAN belongs to, if it is in the table.
    pub fn bank_for(&self, iban: &Iban) -> Option<&Bank> {
        self.bank(iban.bank_code())
    }

    /// The retention rules (7.1a, L-DESTRUCTION).
    pub fn retention(&self) -> &[RetentionRule] {
        &self.retention
    }

    /// The retention rules that keep `category`.
    pub fn retention_for(&self, category: &str) -> impl Iterator<Item = &RetentionRule> + '_ {
        let category = category.to_owned();
        self.retention
            .iter()
            .filter(move |r| r.categories.contains(category.as_str()))
    }

    /// Start-up check of the server (7.1a): every category has a retention rule, so the
    /// cabinet can always say how long a value is kept and when it will be destroyed.
    pub fn check_retention_complete(&self) -> Result<(), RegistryError> {
        match self
            .categories
            .keys()
            .find(|c| self.retention_for(c.as_str()).next().is_none())
        {
            Some(c) => Err(RegistryError::NoRetention {
                category: c.to_string(),
            }),
            None => Ok(()),
        }
    }

    /// The blind-indexed categories.
    pub fn searchable_categories(&self) -> impl Iterator<Item = &CategoryDef> + '_ {
        self.categories.values().filter(|c| c.searchable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    const NAMES: &str = r#"{ ru = "р", kk = "қ", en = "e" }"#;

    fn fixture() -> String {
        format!(
            r#"
version = "2026-01-01.1"

[[category]]
code = "full_name"
kind = "full_name"
group = "identifying"
name = {NAMES}

[[category]]
code = "iin"
kind = "iin"
group = "identifying"
searchable = true
unique = true
name = {NAMES}

[[category]]
code = "salary"
kind = "money"
group = "financial"
name = {NAMES}

[[category]]
code = "marital_status"
kind = "choice"
group = "identifying"
name = {NAMES}
choices = [ {{ code = "married", name = {NAMES} }}, {{ code = "single", name = {NAMES} }} ]

[[category]]
code = "ip_address"
kind = "text"
group = "web"
name = {NAMES}

[[purpose]]
code = "contract"
clause = "1.1"
legal_basis = "contract"
name = {NAMES}
description = {NAMES}
categories = ["full_name", "iin", "marital_status"]

[[purpose]]
code = "scoring"
clause = "1.1 (9)"
legal_basis = "contract"
name = {NAMES}
categories = ["iin", "salary"]

[[purpose]]
code = "security"
clause = "1.1 (18)"
legal_basis = "legitimate_interest"
name = {NAMES}
categories = ["ip_address"]

[[bank]]
code = "125"
bic = "NBRKKZKX"
name = {{ ru = "Национальный Банк", kk = "Ұлттық Банк", en = "National Bank" }}

[[bank]]
code = "601"
name = {NAMES}
"#
        )
    }

    fn load(t: &str) -> Result<Registry, RegistryError> {
        Registry::from_toml(t)
    }

    fn err(t: &str) -> RegistryError {
        load(t).unwrap_err()
    }

    #[test]
    fn l_list_fixture_loads() {
        let r = load(&fixture()).unwrap();
        assert_eq!(r.version(), "2026-01-01.1");
        assert_eq!(r.categories().len(), 5);
        assert_eq!(r.purposes().len(), 3);
        let iin = r.category("iin").unwrap();
        assert!(iin.searchable && iin.unique);
        assert_eq!(iin.kind, ValueKind::Iin);
        let ms = r.category("marital_status").unwrap();
        assert_eq!(ms.choice_codes(), vec!["married", "single"]);
        assert_eq!(ms.choice("single").unwrap().name.get(Lang::Kk), "қ");
        assert_eq!(r.category("ip_address").unwrap().group, CategoryGroup::Web);
        let c = r.purpose("contract").unwrap();
        assert_eq!(c.legal_basis, LegalBasis::Contract);
        assert_eq!(c.legal_basis.as_str(), "contract");
        assert!(c.description.is_some());
        assert!(r.purpose("scoring").unwrap().description.is_none());
        assert_eq!(r.bank("125").unwrap().name.get(Lang::En), "National Bank");
        assert_eq!(r.bank("125").unwrap().bic.as_deref(), Some("NBRKKZKX"));
        assert_eq!(r.bank("601").unwrap().bic, None);
        let iban = Iban::parse("KZ86125KZT5004100100").unwrap();
        assert_eq!(r.bank_for(&iban).unwrap().code, "125");
        let s: Vec<&str> = r.searchable_categories().map(|c| c.code.as_str()).collect();
        assert_eq!(s, vec!["iin"]);
        let p: Vec<&str> = r.purposes_for("iin").map(|p| p.code.as_str()).collect();
        assert_eq!(p, vec!["contract", "scoring"]);
    }

    #[test]
    fn c3_2_allows_only_mapped_categories() {
        let r = load(&fixture()).unwrap();
        assert!(r.allows("contract", "iin"));
        assert!(r.allows("scoring", "salary"));
        assert!(!r.allows("scoring", "full_name"));
        assert!(!r.allows("contract", "salary"));
        assert!(!r.allows("security", "iin"));
        assert!(!r.allows("unknown", "iin"));
        assert!(!r.allows("contract", "unknown"));
    }

    /// Clause 3.2: the hash tables that answer per-value lookups (`category`, `allows`)
    /// agree with the ordered maps the registry lists from, for every category code and
    /// purpose of the shipped registry, and for codes it does not have.
    #[test]
    fn c3_2_lookups_agree_with_the_listed_registry() {
        let r = Registry::embedded().unwrap();
        let mut codes: Vec<&str> = r.categories().keys().map(|c| c.as_str()).collect();
        codes.extend(["unknown", "", "IIN", "iin "]);
        for code in &codes {
            assert_eq!(r.category(code), r.categories().get(*code), "{code}");
            for (purpose, def) in r.purposes() {
                assert_eq!(
                    r.allows(purpose.as_str(), code),
                    def.categories.contains(*code),
                    "{purpose} × {code}"
                );
            }
        }
        assert!(
            r.purposes()
                .values()
                .all(|p| !p.categories.is_empty()
                    && p.categories.iter().all(|c| p.allows(c.as_str())))
        );
    }

    #[test]
    fn c2_1_category_parses_values_of_its_kind() {
        let r = load(&fixture()).unwrap();
        let ms = r.category("marital_status").unwrap();
        assert!(ms.parse_value(&json!("married")).is_ok());
        assert_eq!(
            ms.parse_value(&json!("complicated")).unwrap_err().code(),
            "unknown_choice"
        );
        let iin = r.category("iin").unwrap();
        assert_eq!(
            iin.parse_value(&json!("900101300011")).unwrap_err().code(),
            "invalid_iin"
        );
    }

    #[test]
    fn l_list_purpose_with_unknown_category_is_rejected() {
        let t = fixture().replace(r#"["iin", "salary"]"#, r#"["iin", "salery"]"#);
        let e = err(&t);
        assert_eq!(
            e,
            RegistryError::UnknownCategory {
                purpose: "scoring".into(),
                category: "salery".into()
            }
        );
        assert_eq!(
            e.to_string(),
            r#"purpose "scoring" names unknown category "salery""#
        );
        assert_eq!(e.code(), "registry_unknown_category");
    }

    #[test]
    fn l_list_purpose_with_no_categories_is_rejected() {
        let t = fixture().replace(r#"categories = ["ip_address"]"#, "categories = []");
        // ip_address is then unused too, but the empty purpose is reported first.
        assert_eq!(
            err(&t),
            RegistryError::EmptyPurpose {
                purpose: "security".into()
            }
        );
        assert_eq!(
            err(&t).to_string(),
            r#"purpose "security" names no categories"#
        );
    }

    #[test]
    fn l_list_category_used_by_no_purpose_is_rejected() {
        let t = fixture().replace(r#"categories = ["ip_address"]"#, r#"categories = ["iin"]"#);
        assert_eq!(
            err(&t),
            RegistryError::UnusedCategory {
                category: "ip_address".into()
            }
        );
    }

    #[test]
    fn l_list_duplicates_are_rejected() {
        let dup_cat = fixture().replace(r#"code = "salary""#, r#"code = "iin""#);
        assert_eq!(
            err(&dup_cat),
            RegistryError::DuplicateCategory { code: "iin".into() }
        );
        let dup_purpose = fixture().replace(r#"code = "security""#, r#"code = "scoring""#);
        assert_eq!(
            err(&dup_purpose),
            RegistryError::DuplicatePurpose {
                code: "scoring".into()
            }
        );
        let dup_bank = fixture().replace(r#"code = "601""#, r#"code = "125""#);
        assert_eq!(
            err(&dup_bank),
            RegistryError::DuplicateBank { code: "125".into() }
        );
        let dup_choice = fixture().replace(r#"code = "single""#, r#"code = "married""#);
        assert_eq!(
            err(&dup_choice),
            RegistryError::DuplicateChoice {
                category: "marital_status".into(),
                code: "married".into()
            }
        );
        let dup_in_purpose =
            fixture().replace(r#"["iin", "salary"]"#, r#"["iin", "salary", "iin"]"#);
        assert_eq!(
            err(&dup_in_purpose),
            RegistryError::DuplicatePurposeCategory {
                purpose: "scoring".into(),
                category: "iin".into()
            }
        );
    }

    #[test]
    fn l_list_code_syntax_is_checked() {
        let t = fixture().replace(r#"code = "salary""#, r#"code = "Salary""#);
        assert_eq!(
            err(&t),
            RegistryError::BadCategoryCode {
                code: "Salary".into()
            }
        );
        let t = fixture().replace(r#"code = "security""#, r#"code = "9sec""#);
        assert_eq!(
            err(&t),
            RegistryError::BadPurposeCode {
                code: "9sec".into()
            }
        );
        let t = fixture().replace(r#"code = "single""#, r#"code = "single-ish""#);
        assert_eq!(
            err(&t),
            RegistryError::BadChoiceCode {
                category: "marital_status".into(),
                code: "single-ish".into()
            }
        );
        assert!(CategoryCode::parse("a").is_err());
        assert!(CategoryCode::parse("ab").is_ok());
        assert!(CategoryCode::parse(&"a".repeat(48)).is_ok());
        assert!(CategoryCode::parse(&"a".repeat(49)).is_err());
        assert!(CategoryCode::parse("a b").is_err());
        assert!(PurposeCode::parse("_a").is_err());
        assert_eq!(CodeError.code(), "bad_code");
    }

    #[test]
    fn c2_1_kind_flags_are_checked() {
        let t = fixture().replace(
            "code = \"salary\"\nkind = \"money\"\ngroup = \"financial\"",
            "code = \"salary\"\nkind = \"money\"\ngroup = \"financial\"\nsearchable = true",
        );
        let e = err(&t);
        assert_eq!(
            e,
            RegistryError::NotSearchable {
                category: "salary".into(),
                kind: "money"
            }
        );
        assert!(e.to_string().contains("\"salary\""));
        let t = fixture().replace("searchable = true\nunique = true", "unique = true");
        assert_eq!(
            err(&t),
            RegistryError::UniqueWithoutSearchable {
                category: "iin".into()
            }
        );
        let t = fixture().replace(
            "choices = [ { code = \"married\", name = { ru = \"р\", kk = \"қ\", en = \"e\" } }, { code = \"single\", name = { ru = \"р\", kk = \"қ\", en = \"e\" } } ]",
            "",
        );
        assert_eq!(
            err(&t),
            RegistryError::MissingChoices {
                category: "marital_status".into()
            }
        );
        let t = fixture().replace("choices = [ {", "choices = [] #");
        assert_eq!(
            err(&t),
            RegistryError::MissingChoices {
                category: "marital_status".into()
            }
        );
        let t = fixture().replace(
            "code = \"salary\"\nkind = \"money\"",
            "code = \"salary\"\nkind = \"money\"\nchoices = []",
        );
        assert_eq!(
            err(&t),
            RegistryError::UnexpectedChoices {
                category: "salary".into(),
                kind: "money"
            }
        );
    }

    #[test]
    fn l_list_empty_names_are_rejected() {
        let t = fixture().replace(
            r#"name = { ru = "Национальный Банк", kk = "Ұлттық Банк""#,
            r#"name = { ru = "Национальный Банк", kk = " ""#,
        );
        let e = err(&t);
        assert_eq!(e.to_string(), r#"bank "125" has an empty name.kk"#);
        let t = fixture().replacen(
            r#"name = { ru = "р", kk = "қ", en = "e" }"#,
            r#"name = { ru = "р", kk = "қ", en = "" }"#,
            1,
        );
        assert_eq!(
            err(&t).to_string(),
            r#"category "full_name" has an empty name.en"#
        );
        let t = fixture().replace(
            r#"description = { ru = "р", kk = "қ", en = "e" }"#,
            r#"description = { ru = "", kk = "қ", en = "e" }"#,
        );
        assert_eq!(
            err(&t).to_string(),
            r#"purpose "contract" has an empty description.ru"#
        );
        let t = fixture().replace(
            r#"{ code = "single", name = { ru = "р""#,
            r#"{ code = "single", name = { ru = """#,
        );
        assert_eq!(
            err(&t).to_string(),
            r#"category "marital_status" has an empty choices.single.name.ru"#
        );
        let t = fixture().replace(r#"clause = "1.1 (9)""#, r#"clause = " ""#);
        assert_eq!(
            err(&t),
            RegistryError::EmptyClause {
                purpose: "scoring".into()
            }
        );
        let t = fixture().replace(r#"version = "2026-01-01.1""#, r#"version = """#);
        assert_eq!(err(&t), RegistryError::EmptyVersion);
    }

    #[test]
    fn l_list_bank_codes_are_checked() {
        for bad in ["12", "1234", "12a", " 12"] {
            let t = fixture().replace(r#"code = "601""#, &format!("code = \"{bad}\""));
            assert_eq!(err(&t), RegistryError::BadBankCode { code: bad.into() });
        }
        let t = fixture().replace(r#"bic = "NBRKKZKX""#, r#"bic = "nbrkkzkx""#);
        assert_eq!(err(&t), RegistryError::BadBic { bank: "125".into() });
        let t = fixture().replace(r#"bic = "NBRKKZKX""#, r#"bic = "NBRK12KX""#);
        assert_eq!(err(&t), RegistryError::BadBic { bank: "125".into() });
    }

    #[test]
    fn l_list_unknown_keys_and_values_are_syntax_errors_with_lines() {
        let t = fixture().replace(
            "searchable = true\nunique = true",
            "serchable = true\nunique = true",
        );
        let e = err(&t);
        let RegistryError::Syntax { message, line } = &e else {
            panic!("{e:?}")
        };
        assert!(message.contains("serchable"), "{message}");
        let expect_line = t.lines().position(|l| l.starts_with("serchable")).unwrap() + 1;
        assert_eq!(*line, Some(expect_line));
        assert_eq!(e.code(), "registry_syntax");

        let t = fixture().replace(r#"kind = "money""#, r#"kind = "currency""#);
        assert!(matches!(err(&t), RegistryError::Syntax { .. }));
        let t = fixture().replace(r#"group = "web""#, r#"group = "internet""#);
        assert!(matches!(err(&t), RegistryError::Syntax { .. }));
        let t = fixture().replace(
            r#"legal_basis = "legitimate_interest""#,
            r#"legal_basis = "whim""#,
        );
        assert!(matches!(err(&t), RegistryError::Syntax { .. }));
        let t = fixture().replace("[[bank]]\ncode = \"601\"", "[[banks]]\ncode = \"601\"");
        assert!(matches!(err(&t), RegistryError::Syntax { .. }));
        let t = fixture().replace(r#"version = "2026-01-01.1""#, "");
        assert!(matches!(err(&t), RegistryError::Syntax { .. }));
        assert!(matches!(err("version = "), RegistryError::Syntax { .. }));
        let t = fixture().replace(
            r#"en = "National Bank" }"#,
            r#"en = "National Bank", de = "x" }"#,
        );
        assert!(matches!(err(&t), RegistryError::Syntax { .. }));
    }

    #[test]
    fn lang_parse_and_accept_language() {
        assert_eq!(Lang::parse("kk-KZ"), Ok(Lang::Kk));
        assert_eq!(Lang::parse("EN_us"), Ok(Lang::En));
        assert_eq!(Lang::parse("ru"), Ok(Lang::Ru));
        assert_eq!(Lang::parse("kz"), Err(LangError));
        assert_eq!(Lang::Kk.as_str(), "kk");
        assert_eq!(Lang::Kk.to_string(), "kk");
        let a = Lang::from_accept_language;
        assert_eq!(a(""), Lang::Ru);
        assert_eq!(a("de-DE"), Lang::Ru);
        assert_eq!(a("en-US,en;q=0.9,ru;q=0.8"), Lang::En);
        assert_eq!(a("ru;q=0.5, kk"), Lang::Kk);
        assert_eq!(a("kk-KZ, ru;q=0.9, en;q=0.8"), Lang::Kk);
        assert_eq!(a("de, en;q=0.3, ru;q=0.2"), Lang::En);
        assert_eq!(a("en;q=0.5, kk;q=0.5"), Lang::En);
        assert_eq!(a("ru;q=0, *"), Lang::Kk);
        assert_eq!(a("*"), Lang::Ru);
        assert_eq!(a("en;q=0"), Lang::Ru);
        assert_eq!(a("en;q=2, kk;q=0.1"), Lang::Kk);
        assert_eq!(a("en;q=0.1234, kk;q=0.1"), Lang::Kk);
        assert_eq!(a("en-GB;q=0.4, en;q=0.9, ru;q=0.8"), Lang::En);
        assert_eq!(a(" KK ; Q=1.000 "), Lang::Kk);
    }

    #[test]
    fn registry_serialises_for_the_api() {
        let r = load(&fixture()).unwrap();
        let j = serde_json::to_value(&r).unwrap();
        assert_eq!(j["categories"]["iin"]["kind"], "iin");
        assert_eq!(j["purposes"]["scoring"]["legal_basis"], "contract");
        assert_eq!(
            j["purposes"]["scoring"]["categories"],
            json!(["iin", "salary"])
        );
    }

    #[test]
    fn embedded_registry_is_valid() {
        let r = Registry::embedded().unwrap();
        assert!(!r.version().is_empty());
        assert!(!r.categories().is_empty());
        assert!(!r.purposes().is_empty());
        // Every searchable category is of a searchable kind and every choice category
        // parses its own choices (load-time rules, re-checked on the real file).
        for c in r.categories().values() {
            assert!(!c.searchable || c.kind.is_searchable());
            for code in c.choice_codes() {
                assert!(c.parse_value(&json!(code)).is_ok());
            }
        }
        // The example IBAN's bank code resolves if the table lists it.
        for b in r.banks().values() {
            assert_eq!(b.code.len(), 3);
        }
    }

    proptest! {
        #[test]
        fn prop_registry_loader_never_panics(s in any::<String>()) {
            let _ = Registry::from_toml(&s);
        }

        #[test]
        fn prop_lang_from_accept_language_never_panics(s in ".*") {
            let _ = Lang::from_accept_language(&s);
        }

        #[test]
        fn prop_codes(s in "[a-z][a-z0-9_]{1,47}") {
            let c = CategoryCode::parse(&s).unwrap();
            prop_assert_eq!(c.as_str(), s.as_str());
            let j = serde_json::to_string(&c).unwrap();
            prop_assert_eq!(serde_json::from_str::<CategoryCode>(&j).unwrap(), c);
        }
    }
}
