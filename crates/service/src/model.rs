//! What calls carry in and out of the service: who acts, for which purpose, the values with
//! their sources (PRE-2) and verification results (2.2).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// Who is acting. Every call carries one, so every access is attributable (clause 8.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// One of the lender's systems, by its API key.
    ApiKey {
        /// The key's public id.
        id: String,
        /// The key's name (e.g. `loan-system`).
        name: String,
        /// Purposes this key may name.
        purposes: Vec<String>,
    },
    /// derbes itself (demo loader, maintenance, benchmarks).
    System(&'static str),
    /// An employee of the lender with a live session (see [`crate::employees`]).
    Employee {
        /// The employee's id.
        id: Uuid,
        /// The normalised login.
        login: String,
        /// Role code (`registry/roles.toml`).
        role: String,
        /// Purposes the role may name.
        purposes: Vec<String>,
        /// The confidentiality undertaking in force when the session was checked, if any
        /// (clause 4.3); the vault re-checks its dates against its own clock.
        undertaking: Option<UndertakingTerm>,
    },
    /// A borrower in their personal cabinet (7.1a–d), by a subject session bound to their
    /// own pseudonymous id: the cabinet service only ever acts on this id.
    Subject {
        /// The subject's pseudonymous id.
        id: Uuid,
    },
}

/// The purposes a subject's own calls name: access to the cabinet (`identification`) and
/// the exercise of their rights (`requests`: L-RIGHTS, PD Law Art. 24).
pub const SUBJECT_PURPOSES: &[&str] = &["identification", "requests"];

/// The dates of a confidentiality undertaking (clause 4.3): in force on Almaty calendar days
/// `signed_on ≤ day < expires_on`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UndertakingTerm {
    /// Signed on.
    pub signed_on: chrono::NaiveDate,
    /// Expires on (exclusive).
    pub expires_on: chrono::NaiveDate,
}

impl UndertakingTerm {
    /// Whether the undertaking is in force at `now` (Almaty calendar day).
    pub fn in_force(&self, now: DateTime<Utc>) -> bool {
        let today = derbes_core::calendar::to_almaty(now).date_naive();
        self.signed_on <= today && today < self.expires_on
    }
}

impl Actor {
    /// A stable, non-personal id for records: `api_key:<id>` or `system:<name>`.
    pub fn id(&self) -> String {
        match self {
            Actor::ApiKey { id, .. } => format!("api_key:{id}"),
            Actor::System(name) => format!("system:{name}"),
            Actor::Employee { id, .. } => format!("employee:{id}"),
            Actor::Subject { id } => format!("subject:{id}"),
        }
    }

    /// Clause 4.3: whether this actor may touch personal data at all at `now`. Systems and
    /// API keys may (within their purposes); an employee only with a confidentiality
    /// undertaking in force.
    pub fn may_access_personal_data(&self, now: DateTime<Utc>) -> bool {
        match self {
            Actor::ApiKey { .. } | Actor::System(_) | Actor::Subject { .. } => true,
            Actor::Employee { undertaking, .. } => undertaking.is_some_and(|u| u.in_force(now)),
        }
    }

    /// Whether this actor may name `purpose`.
    pub fn may_use(&self, purpose: &str) -> bool {
        match self {
            Actor::ApiKey { purposes, .. } => purposes.iter().any(|p| p == purpose),
            Actor::System(_) => true,
            Actor::Employee { purposes, .. } => purposes.iter().any(|p| p == purpose),
            Actor::Subject { .. } => SUBJECT_PURPOSES.contains(&purpose),
        }
    }
}

/// The context of one call: who, and for which purpose (clause 1.1: none without).
/// The time comes from the service's clock.
#[derive(Debug, Clone)]
pub struct Call {
    /// Who acts.
    pub actor: Actor,
    /// The purpose code named by the call.
    pub purpose: String,
}

impl Call {
    /// A call by `actor` for `purpose`.
    pub fn new(actor: Actor, purpose: impl Into<String>) -> Call {
        Call {
            actor,
            purpose: purpose.into(),
        }
    }
}

/// Where a value came from (PRE-2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    /// Given by the subject (application form, cabinet, call).
    Subject,
    /// Entered by an employee of the lender.
    Employee,
    /// Received from a credit bureau (`name` says which).
    CreditBureau,
    /// Received from the pension payments centre (State Corporation).
    PensionCentre,
    /// Received from another organisation (`name` says which).
    OtherOrganisation,
    /// Produced automatically (e.g. web data of a visit).
    Automatic,
}

impl SourceKind {
    /// The stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Subject => "subject",
            SourceKind::Employee => "employee",
            SourceKind::CreditBureau => "credit_bureau",
            SourceKind::PensionCentre => "pension_centre",
            SourceKind::OtherOrganisation => "other_organisation",
            SourceKind::Automatic => "automatic",
        }
    }

    /// The inverse of [`SourceKind::as_str`].
    pub fn parse(s: &str) -> Option<SourceKind> {
        Some(match s {
            "subject" => SourceKind::Subject,
            "employee" => SourceKind::Employee,
            "credit_bureau" => SourceKind::CreditBureau,
            "pension_centre" => SourceKind::PensionCentre,
            "other_organisation" => SourceKind::OtherOrganisation,
            "automatic" => SourceKind::Automatic,
            _ => return None,
        })
    }

    /// Whether the source must be named (which bureau, which organisation).
    pub fn needs_name(self) -> bool {
        matches!(
            self,
            SourceKind::CreditBureau | SourceKind::OtherOrganisation
        )
    }
}

/// The source of a value: its kind and, for bureaus and organisations, its name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// What kind of source.
    pub kind: SourceKind,
    /// Which one (e.g. `ПКБ` / `First Credit Bureau`); required for `credit_bureau` and
    /// `other_organisation`. Names organisations, never persons.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// One value submitted for a category.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ValueInput {
    /// Category code from the registry (`GET /api/v1/registry/categories`).
    pub category: String,
    /// The value, in the JSON shape of the category's kind.
    #[schema(value_type = Object)]
    pub value: serde_json::Value,
    /// Where it came from.
    pub source: Source,
    /// When it was obtained from the source; defaults to now.
    #[serde(default)]
    pub obtained_at: Option<DateTime<Utc>>,
}

/// A new subject: its first values.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSubjectInput {
    /// One value per category.
    pub values: Vec<ValueInput>,
}

/// Outcome of a verification (clause 2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum VerificationStatus {
    /// Checked against a source and found correct.
    Verified,
    /// Consistent with the other data held (automatic cross-check).
    Consistent,
    /// Disagrees with a source or with other data held: a flag, never a silent correction.
    Mismatch,
    /// Could not be checked.
    Unverified,
}

/// A verification result attached to a value (clause 2.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Verification {
    /// The outcome.
    pub status: VerificationStatus,
    /// Which check: e.g. `iin_birth_date` (the IIN's birth date against the stated one), or
    /// `source_check` for a check against an external source.
    pub check: String,
    /// Who or what checked: `automatic`, or a source such as `credit_bureau:ПКБ`.
    pub by: String,
    /// When.
    pub at: DateTime<Utc>,
    /// A non-personal note (codes, reference numbers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A verification reported by a client.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerificationInput {
    /// `verified`, `mismatch` or `unverified`.
    pub status: VerificationStatus,
    /// The source checked against.
    pub source: Source,
    /// A non-personal note (≤ 200 characters).
    #[serde(default)]
    pub note: Option<String>,
}

/// One value as returned to a caller whose purpose allows its category.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ValueView {
    /// Category code.
    pub category: String,
    /// The value.
    #[schema(value_type = Object)]
    pub value: serde_json::Value,
    /// Where it came from (PRE-2).
    pub source: Source,
    /// When it was obtained from the source.
    pub obtained_at: DateTime<Utc>,
    /// When derbes recorded it.
    pub recorded_at: DateTime<Utc>,
    /// Version number within the category (1 = first).
    pub version: i64,
    /// `create`, `supplement` or `correct`.
    pub change: String,
    /// When a later version replaced it (history only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub superseded_at: Option<DateTime<Utc>>,
    /// The latest verification result, if any (2.2).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verification: Option<Verification>,
    /// Clause 4.1: the access policy shows this value to the employee only masked; `value`
    /// is then a string such as `"********2728"`. Absent when the value is in clear.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub masked: bool,
    /// The access-policy rule that let an employee see the value (absent for systems).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
}

/// A subject as seen through one purpose: only the categories the purpose allows.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SubjectView {
    /// The subject's pseudonymous id.
    pub id: Uuid,
    /// When the subject was created.
    pub created_at: DateTime<Utc>,
    /// The purpose this view was made for.
    pub purpose: String,
    /// Current values of the allowed categories, sorted by category.
    pub values: Vec<ValueView>,
    /// Categories the purpose needs but the access policy withholds from this employee
    /// (clauses 4.1, 5.3), with the deciding rule. Absent for systems.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub withheld: Vec<Withheld>,
}

/// A category the access policy withheld, and why (clause 8.1: every decision names its
/// rule).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Withheld {
    /// Category code.
    pub category: String,
    /// The deciding rule (`@id` of the Cedar policy, or `default-deny`).
    pub rule: String,
}

/// One entry of a subject's audit trail as an employee sees it (clause 8.1): who, what,
/// why, which categories, which rule, how it ended. Never a value.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct AuditTrailEntry {
    /// Position in the log.
    pub seq: u64,
    /// When.
    pub at: DateTime<Utc>,
    /// Who (`employee:<id>`, `api_key:<id>`, `system:<name>`).
    pub actor: String,
    /// What (`read`, `search`, `correct`, …).
    pub action: String,
    /// For which purpose.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    /// Which categories.
    pub categories: Vec<String>,
    /// Which rule decided.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// `allowed`, `denied` or `error`.
    pub outcome: String,
    /// Further codes (never values).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::SourceKind;
    use derbes_store::packed::WORDS;

    /// PRE-2: every category of the embedded registry and every kind of source is one of the
    /// words the packed row stores as one byte (format 2), so the shipped categories never
    /// fall back to their full text.
    #[test]
    fn pre2_shipped_categories_and_source_kinds_are_packed_as_words() {
        let registry = derbes_core::registry::Registry::embedded().unwrap();
        for code in registry.categories().keys() {
            assert!(
                WORDS.contains(&code.as_str()),
                "{} is not in WORDS",
                code.as_str()
            );
        }
        for kind in [
            SourceKind::Subject,
            SourceKind::Employee,
            SourceKind::CreditBureau,
            SourceKind::PensionCentre,
            SourceKind::OtherOrganisation,
            SourceKind::Automatic,
        ] {
            assert!(
                WORDS.contains(&kind.as_str()),
                "{} is not in WORDS",
                kind.as_str()
            );
        }
        for change in ["create", "correct", "supplement"] {
            assert!(WORDS.contains(&change));
        }
    }
}
