//! Use cases of the versioned policy, the consent ledger, the application channel, the loan
//! obligations and the withdrawal of consent (PRE-1, 2.1, 6.1, 6.2, 7.1c, 7.1d, 9.2;
//! L-CONSENT-1..3, L-PURPOSE, L-CB-CONSENT, L-AUTODECISION).
//!
//! [`ConsentService`] works over a [`Vault`] (its store, registry, keys, clock and consent
//! ledger). Every change is recorded in the audit log with codes only — the scope and the
//! decision, never the evidence (IP, user agent) or the offer's terms, which are encrypted
//! under the subject's data key like every other value.
//!
//! For the policy-change notice job (9.2, `crates/notify`): [`ConsentService::policy_notice`]
//! says whether a published version is significant and gives its texts, and
//! [`ConsentService::subject_language`] gives the language of a subject's latest policy
//! consent (default Russian).

use crate::audit::entry;
use crate::consent::{ConsentLedger, POLICY_SCOPE};
use crate::error::ServiceError;
use crate::model::{Call, NewSubjectInput};
use crate::vault::Vault;
use chrono::{DateTime, Utc};
use derbes_audit::{Action, Outcome};
use derbes_core::bin::Bin;
use derbes_core::calendar::WorkCalendar;
use derbes_core::clock::{from_micros, to_micros};
use derbes_core::registry::{Lang, LegalBasis};
use derbes_crypto::{FieldAad, WrappedDek};
use derbes_store::consent::{
    ApplicationRecord, ConsentEventRecord, ContractRecord, LoanApplicationRecord, OfferRecord,
    PolicyVersionRecord, WithdrawalRecord,
};
use derbes_store::{StoreError, SubjectId, SubjectRecord};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::sync::Arc;
use utoipa::ToSchema;
use uuid::Uuid;

/// Working days to answer a withdrawal (Law 94-V Art. 8 p.2; L-CONSENT-3).
pub const WITHDRAWAL_WORKING_DAYS: u32 = 15;
/// The longest policy text accepted per language (bytes).
pub const MAX_POLICY_TEXT: usize = 512 * 1024;
/// Associated-data label of consent evidence encrypted under the subject's data key.
pub const EVIDENCE_LABEL: &str = "consent_evidence";
/// Associated-data label of an offer's terms encrypted under the subject's data key.
pub const OFFER_LABEL: &str = "loan_offer";
/// Purposes under which consents are recorded and read: concluding the contract (6.1) and
/// the subject's requests (L-RIGHTS).
pub const CONSENT_PURPOSES: &[&str] = &["contract", "requests"];
/// Purposes under which the loan system reports obligations.
pub const LOAN_PURPOSES: &[&str] = &["contract", "performance_control"];

/// A decision about the policy or one consent-based purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// Consent given.
    Granted,
    /// Consent refused (e.g. publication, 7.1d).
    Refused,
    /// Consent withdrawn.
    Withdrawn,
}

impl Decision {
    /// The stored code.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Granted => "granted",
            Decision::Refused => "refused",
            Decision::Withdrawn => "withdrawn",
        }
    }

    fn parse(s: &str) -> Decision {
        match s {
            "granted" => Decision::Granted,
            "withdrawn" => Decision::Withdrawn,
            _ => Decision::Refused,
        }
    }
}

/// How a consent reached the operator (L-CONSENT-1, L-STATE-SERVICE).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// The application or cabinet form on the site.
    WebForm,
    /// Paper signed at a branch; the scanned document's SHA-256 is the evidence.
    BranchPaper,
    /// The state personal-data access-control service.
    StateService,
    /// Another system of the lender, over the API.
    Api,
}

impl Channel {
    /// The stored code.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::WebForm => "web_form",
            Channel::BranchPaper => "branch_paper",
            Channel::StateService => "state_service",
            Channel::Api => "api",
        }
    }

    fn parse(s: &str) -> Channel {
        match s {
            "web_form" => Channel::WebForm,
            "branch_paper" => Channel::BranchPaper,
            "state_service" => Channel::StateService,
            _ => Channel::Api,
        }
    }
}

/// What proves a consent was received (L-CONSENT-1). Stored encrypted under the subject's
/// data key: an IP address and a user agent are personal data.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Evidence {
    /// The client's IP address (web form).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    /// The browser's user agent (web form), ≤ 512 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// SHA-256 (64 hex digits) of the scanned paper consent (branch) or of the signed
    /// document received from the state service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document_sha256: Option<String>,
    /// The state service's or the caller's reference of the consent (a code).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
}

/// The texts and times of a policy version to publish (9.2).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PublishInput {
    /// Russian text (required).
    pub text_ru: String,
    /// Kazakh text (required).
    pub text_kk: String,
    /// English text (optional).
    #[serde(default)]
    pub text_en: Option<String>,
    /// When it takes effect; default: on publication (9.2). Never before publication.
    #[serde(default)]
    pub effective_at: Option<DateTime<Utc>>,
    /// "Especially significant change": subjects are notified by e-mail (9.2).
    #[serde(default)]
    pub significant: bool,
    /// The operator's name as stated in the consent (L-CONSENT-2).
    pub operator_name: String,
    /// The operator's BIN (12 digits, checked).
    pub operator_bin: String,
}

/// A published policy version, without its texts.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PolicyVersionInfo {
    /// Version number.
    pub number: i64,
    /// Published at.
    pub published_at: DateTime<Utc>,
    /// Takes effect at.
    pub effective_at: DateTime<Utc>,
    /// Especially significant change (9.2).
    pub significant: bool,
    /// Operator name.
    pub operator_name: String,
    /// Operator BIN.
    pub operator_bin: String,
    /// SHA-256 of the content, hex.
    pub content_hash: String,
    /// Languages it has.
    pub languages: Vec<String>,
}

/// A policy version's text in one language.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PolicyText {
    /// The version.
    #[serde(flatten)]
    pub info: PolicyVersionInfo,
    /// The language served (the one asked for; Russian when the version has no English).
    pub lang: String,
    /// The text.
    pub text: String,
}

/// What the notice job needs of a version (9.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyNotice {
    /// Version number.
    pub number: i64,
    /// Especially significant: notify by e-mail.
    pub significant: bool,
    /// Published at.
    pub published_at: DateTime<Utc>,
    /// Takes effect at.
    pub effective_at: DateTime<Utc>,
    /// Russian text.
    pub text_ru: String,
    /// Kazakh text.
    pub text_kk: String,
    /// English text, if any.
    pub text_en: Option<String>,
    /// SHA-256 of the content, hex.
    pub content_hash: String,
}

impl PolicyNotice {
    /// The text in `lang` (Russian when there is no English).
    pub fn text(&self, lang: Lang) -> &str {
        match lang {
            Lang::Ru => &self.text_ru,
            Lang::Kk => &self.text_kk,
            Lang::En => self.text_en.as_deref().unwrap_or(&self.text_ru),
        }
    }
}

/// One change of a consent request.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentChange {
    /// `policy` or a consent-based purpose code (`GET /api/v1/registry/purposes`).
    pub scope: String,
    /// The decision.
    pub decision: Decision,
}

/// Decisions of a subject, given together with one piece of evidence.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentInput {
    /// The policy version the subject saw (must be the one in force).
    pub policy_version: i64,
    /// The language the subject saw it in: `ru`, `kk` or `en`.
    pub lang: String,
    /// How it reached the operator.
    pub channel: Channel,
    /// What proves it.
    #[serde(default)]
    pub evidence: Evidence,
    /// End of the validity term; default: until the purpose is achieved (L-CONSENT-2).
    #[serde(default)]
    pub valid_until: Option<DateTime<Utc>>,
    /// The decisions.
    pub changes: Vec<ConsentChange>,
}

/// One decision of the ledger, as shown (L-CONSENT-2 fields included; evidence decrypted
/// only for the subject's own requests).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ConsentRecordView {
    /// Record id.
    pub id: String,
    /// `policy` or a purpose code.
    pub scope: String,
    /// The decision.
    pub decision: Decision,
    /// When.
    pub at: DateTime<Utc>,
    /// The policy version it was made under.
    pub policy_version: i64,
    /// Language.
    pub lang: String,
    /// Channel.
    pub channel: Channel,
    /// Validity term; `null`: until the purpose is achieved.
    pub valid_until: Option<DateTime<Utc>>,
    /// Operator name (Art. 8).
    pub operator_name: String,
    /// Operator BIN (Art. 8).
    pub operator_bin: String,
    /// Transfer to third parties allowed (Art. 8).
    pub third_party_transfer: bool,
    /// Cross-border transfer allowed (Art. 8).
    pub cross_border_transfer: bool,
    /// Publication in public sources allowed (Art. 8, 7.1d).
    pub publication: bool,
    /// The list of data it covers (category codes).
    pub categories: Vec<String>,
    /// Who recorded it.
    pub recorded_by: String,
    /// The withdrawal request that caused it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// Whether evidence is on record (the evidence itself is encrypted).
    pub has_evidence: bool,
}

/// The current state of one consent-based purpose.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PurposeConsent {
    /// Purpose code.
    pub purpose: String,
    /// Whether processing for it is allowed now.
    pub granted: bool,
    /// The latest decision, if any (none: refused by default, e.g. publication 7.1d).
    pub decision: Option<Decision>,
    /// Since when.
    pub at: Option<DateTime<Utc>>,
    /// Term.
    pub valid_until: Option<DateTime<Utc>>,
}

/// A subject's consents: the current state and the full history.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ConsentState {
    /// The subject.
    pub subject: Uuid,
    /// Language of the latest policy decision (default `ru`).
    pub lang: String,
    /// The latest decision about the policy, if any.
    pub policy: Option<ConsentRecordView>,
    /// Every consent-based purpose of the registry.
    pub purposes: Vec<PurposeConsent>,
    /// Whether consent was withdrawn (7.1c): the legal hold only.
    pub withdrawn: bool,
    /// Every decision, oldest first.
    pub history: Vec<ConsentRecordView>,
}

/// A request to withdraw consent (7.1c).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WithdrawalInput {
    /// How it arrived.
    pub channel: Channel,
    /// Language of the answer; default: the subject's.
    #[serde(default)]
    pub lang: Option<String>,
    /// What proves it.
    #[serde(default)]
    pub evidence: Evidence,
}

/// The answer to a withdrawal request: accepted, or refused with the reason and the rule.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WithdrawalDecision {
    /// The request's id.
    pub request_id: String,
    /// `accepted` or `refused`.
    pub outcome: String,
    /// Reason code of a refusal: `open_contract`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The rules applied.
    pub rule: String,
    /// The reasoned answer in the subject's language.
    pub message: String,
    /// Its language.
    pub lang: String,
    /// Contracts not yet fulfilled (references).
    pub open_contracts: Vec<String>,
    /// Received at.
    pub received_at: DateTime<Utc>,
    /// Legal deadline: end of the 15th working day after receipt, Almaty time.
    pub deadline: DateTime<Utc>,
    /// Its local date.
    pub deadline_date: String,
    /// The calendar version used.
    pub calendar_version: String,
}

/// An application through the site: the applicant's values and the policy consent (6.1).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplicationInput {
    /// The applicant's values (as for a new subject).
    pub values: Vec<crate::model::ValueInput>,
    /// The consent to the current policy and any purpose decisions. Without a `policy:
    /// granted` change the application is refused and nothing is stored (6.1, 6.2).
    #[serde(default)]
    pub consent: Option<ConsentInput>,
}

/// An application.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ApplicationView {
    /// Application id.
    pub id: String,
    /// The subject created with it.
    pub subject: Uuid,
    /// `open` or `submitted`.
    pub status: String,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// An open application is purged at this time (6.2).
    pub expires_at: DateTime<Utc>,
}

/// Status of a reported loan application.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LoanApplicationStatus {
    /// Received by the loan system.
    Received,
    /// Approved.
    Approved,
    /// Declined.
    Declined,
    /// Cancelled by the applicant.
    Cancelled,
}

impl LoanApplicationStatus {
    fn as_str(self) -> &'static str {
        match self {
            LoanApplicationStatus::Received => "received",
            LoanApplicationStatus::Approved => "approved",
            LoanApplicationStatus::Declined => "declined",
            LoanApplicationStatus::Cancelled => "cancelled",
        }
    }
}

/// Status of a microcredit contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ContractStatus {
    /// In force, payments on schedule.
    Active,
    /// A payment is overdue.
    Overdue,
    /// Fully repaid: obligations fulfilled.
    Repaid,
    /// The claim was assigned to a cessionary: the borrower still owes it.
    Assigned,
    /// Written off by the lender: nothing more is claimed.
    WrittenOff,
}

impl ContractStatus {
    /// The stored code.
    pub fn as_str(self) -> &'static str {
        match self {
            ContractStatus::Active => "active",
            ContractStatus::Overdue => "overdue",
            ContractStatus::Repaid => "repaid",
            ContractStatus::Assigned => "assigned",
            ContractStatus::WrittenOff => "written_off",
        }
    }

    /// The inverse of [`ContractStatus::as_str`].
    pub fn parse(s: &str) -> Option<ContractStatus> {
        Some(match s {
            "active" => ContractStatus::Active,
            "overdue" => ContractStatus::Overdue,
            "repaid" => ContractStatus::Repaid,
            "assigned" => ContractStatus::Assigned,
            "written_off" => ContractStatus::WrittenOff,
            _ => return None,
        })
    }

    /// Whether the borrower's obligations are not yet fulfilled (7.1c, L-CONSENT-3: while
    /// so, consent cannot be withdrawn): open or overdue contracts, and assigned ones (the
    /// debt is owed to the cessionary). Repaid and written-off contracts claim nothing more.
    pub fn is_unfulfilled(self) -> bool {
        matches!(
            self,
            ContractStatus::Active | ContractStatus::Overdue | ContractStatus::Assigned
        )
    }
}

/// A loan application reported by the loan system.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoanApplicationInput {
    /// The loan system's reference (1..=64 of `A-Z a-z 0-9 . _ : -`).
    pub id: String,
    /// The applicant.
    pub subject: Uuid,
    /// Status.
    pub status: LoanApplicationStatus,
    /// When received; default now.
    #[serde(default)]
    pub received_at: Option<DateTime<Utc>>,
}

/// An offer sent to the subject (2.1).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OfferInput {
    /// The loan system's reference.
    pub id: String,
    /// The subject.
    pub subject: Uuid,
    /// The loan application it answers.
    #[serde(default)]
    pub application_id: Option<String>,
    /// The offer's terms as sent (amount, term, rate, schedule …); stored encrypted.
    #[schema(value_type = Object)]
    pub terms: serde_json::Value,
    /// When sent; default now.
    #[serde(default)]
    pub sent_at: Option<DateTime<Utc>>,
}

/// An offer as stored.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OfferView {
    /// Reference.
    pub id: String,
    /// The subject.
    pub subject: Uuid,
    /// The loan application.
    pub application_id: Option<String>,
    /// Sent.
    pub sent_at: DateTime<Utc>,
    /// Accepted.
    pub accepted_at: Option<DateTime<Utc>>,
    /// Terms.
    #[schema(value_type = Object)]
    pub terms: serde_json::Value,
}

/// A contract reported by the loan system.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContractInput {
    /// The loan system's reference.
    pub id: String,
    /// The borrower.
    pub subject: Uuid,
    /// The accepted offer.
    #[serde(default)]
    pub offer_id: Option<String>,
    /// Concluded; default now.
    #[serde(default)]
    pub concluded_at: Option<DateTime<Utc>>,
    /// Initial status; default `active`.
    #[serde(default)]
    pub status: Option<ContractStatus>,
}

/// A change of a contract's status.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContractStatusInput {
    /// The new status.
    pub status: ContractStatus,
    /// For `assigned`: the cessionary (organisation name).
    #[serde(default)]
    pub cessionary: Option<String>,
    /// Since when; default now.
    #[serde(default)]
    pub at: Option<DateTime<Utc>>,
}

/// One status in a contract's history.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ContractStatusView {
    /// Status.
    pub status: ContractStatus,
    /// Since.
    pub at: DateTime<Utc>,
    /// Cessionary, for `assigned`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cessionary: Option<String>,
}

/// A contract with its status history.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ContractView {
    /// Reference.
    pub id: String,
    /// The borrower.
    pub subject: Uuid,
    /// The accepted offer.
    pub offer_id: Option<String>,
    /// Concluded.
    pub concluded_at: DateTime<Utc>,
    /// Current status.
    pub status: ContractStatus,
    /// Whether obligations are still unfulfilled (7.1c).
    pub unfulfilled: bool,
    /// History, oldest first.
    pub history: Vec<ContractStatusView>,
}

/// A subject's obligations: loan applications, offers, contracts.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Obligations {
    /// The subject.
    pub subject: Uuid,
    /// Loan applications: (reference, status).
    pub applications: Vec<LoanApplicationInput>,
    /// Offers with their terms.
    pub offers: Vec<OfferView>,
    /// Contracts with their history.
    pub contracts: Vec<ContractView>,
}

/// Settings of the consent service.
#[derive(Debug, Clone)]
pub struct ConsentSettings {
    /// How long an unfinished application is kept before it is purged (6.2).
    pub application_ttl: chrono::Duration,
}

impl Default for ConsentSettings {
    fn default() -> Self {
        ConsentSettings {
            application_ttl: chrono::Duration::hours(24),
        }
    }
}

/// The consent service. Cheap to clone.
#[derive(Clone)]
pub struct ConsentService {
    vault: Vault,
    calendar: Arc<WorkCalendar>,
    settings: ConsentSettings,
}

fn invalid(reason: &'static str) -> ServiceError {
    ServiceError::InvalidRequest(reason)
}

/// A reference of the loan system or a caller: 1..=64 of `A-Z a-z 0-9 . _ : -`.
fn check_ref(id: &str) -> Result<(), ServiceError> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-_:".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(invalid("bad_reference"))
    }
}

fn check_evidence(channel: Channel, e: &Evidence) -> Result<(), ServiceError> {
    if let Some(ip) = &e.ip {
        ip.parse::<std::net::IpAddr>()
            .map_err(|_| invalid("bad_ip"))?;
    }
    if let Some(ua) = &e.user_agent {
        if ua.chars().count() > 512 || ua.chars().any(char::is_control) {
            return Err(invalid("bad_user_agent"));
        }
    }
    if let Some(h) = &e.document_sha256 {
        if h.len() != 64 || !h.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(invalid("bad_document_hash"));
        }
    }
    if let Some(r) = &e.reference {
        check_ref(r)?;
    }
    match channel {
        Channel::BranchPaper if e.document_sha256.is_none() => {
            Err(invalid("document_hash_required"))
        }
        Channel::WebForm if e.ip.is_none() || e.user_agent.is_none() => {
            Err(invalid("web_evidence_required"))
        }
        Channel::StateService if e.reference.is_none() && e.document_sha256.is_none() => {
            Err(invalid("state_reference_required"))
        }
        _ => Ok(()),
    }
}

fn parse_lang(s: &str) -> Result<Lang, ServiceError> {
    Lang::parse(s).map_err(|_| invalid("unknown_language"))
}

/// The canonical content of a version that its hash covers: a domain tag, then each field
/// length-prefixed, so no two different contents encode alike.
pub fn policy_content_hash(v: &PolicyVersionRecord) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"derbes/policy/v1");
    let mut field = |bytes: &[u8]| {
        h.update((bytes.len() as u64).to_be_bytes());
        h.update(bytes);
    };
    field(&v.published_at.to_be_bytes());
    field(&v.effective_at.to_be_bytes());
    field(&[u8::from(v.significant)]);
    field(v.operator_name.as_bytes());
    field(v.operator_bin.as_bytes());
    field(v.text_ru.as_bytes());
    field(v.text_kk.as_bytes());
    match &v.text_en {
        Some(t) => {
            field(b"en");
            field(t.as_bytes());
        }
        None => field(b""),
    }
    h.finalize().into()
}

fn info(v: &PolicyVersionRecord) -> PolicyVersionInfo {
    let mut languages = vec!["ru".to_string(), "kk".to_string()];
    if v.text_en.is_some() {
        languages.push("en".into());
    }
    PolicyVersionInfo {
        number: v.number,
        published_at: from_micros(v.published_at),
        effective_at: from_micros(v.effective_at),
        significant: v.significant,
        operator_name: v.operator_name.clone(),
        operator_bin: v.operator_bin.clone(),
        content_hash: hex::encode(&v.content_hash),
        languages,
    }
}

fn record_view(e: &ConsentEventRecord) -> ConsentRecordView {
    ConsentRecordView {
        id: e.id.clone(),
        scope: e.scope.clone(),
        decision: Decision::parse(&e.decision),
        at: from_micros(e.at),
        policy_version: e.policy_version,
        lang: e.lang.clone(),
        channel: Channel::parse(&e.channel),
        valid_until: e.valid_until.map(from_micros),
        operator_name: e.operator_name.clone(),
        operator_bin: e.operator_bin.clone(),
        third_party_transfer: e.third_party,
        cross_border_transfer: e.cross_border,
        publication: e.publication,
        categories: e
            .categories
            .split(' ')
            .filter(|c| !c.is_empty())
            .map(str::to_string)
            .collect(),
        recorded_by: e.recorded_by.clone(),
        request_id: e.request_id.clone(),
        has_evidence: e.evidence.is_some(),
    }
}

/// The reasoned answer to a withdrawal, in the subject's language (7.1c; Law 94-V Art. 8
/// p.2 and p.7).
pub fn withdrawal_message(lang: Lang, refused: bool, contracts: &[String], date: &str) -> String {
    let list = contracts.join(", ");
    match (lang, refused) {
        (Lang::Ru, true) => format!(
            "Отзыв согласия сейчас невозможен: согласно подпункту «c» пункта 7.1 Политики \
             обработки персональных данных и пункту 7 статьи 8 Закона Республики Казахстан от \
             21 мая 2013 года № 94-V «О персональных данных и их защите» согласие может быть \
             отозвано только при условии выполнения всех обязательств по договору о \
             предоставлении микрокредита. Не исполнены договоры: {list}. Вы сможете отозвать \
             согласие после их исполнения."
        ),
        (Lang::Kk, true) => format!(
            "Келісімді қазір кері қайтарып алу мүмкін емес: Дербес деректерді өңдеу саясатының \
             7.1-тармағының «c» тармақшасына және «Дербес деректер және оларды қорғау туралы» \
             2013 жылғы 21 мамырдағы № 94-V Қазақстан Республикасы Заңының 8-бабының \
             7-тармағына сәйкес келісім шағын кредит беру туралы шарт бойынша барлық \
             міндеттемелер орындалған жағдайда ғана кері қайтарып алынады. Орындалмаған \
             шарттар: {list}. Оларды орындағаннан кейін келісімді кері қайтарып ала аласыз."
        ),
        (Lang::En, true) => format!(
            "Your consent cannot be withdrawn now: under clause 7.1(c) of the Personal Data \
             Policy and Article 8(7) of Law of the Republic of Kazakhstan No. 94-V of 21 May \
             2013 \"On personal data and their protection\", consent may be withdrawn only once \
             all obligations under the microcredit contract are fulfilled. Contracts not yet \
             fulfilled: {list}. You may withdraw your consent once they are fulfilled."
        ),
        (Lang::Ru, false) => format!(
            "Ваш отзыв согласия принят. Обработка ваших персональных данных на основании \
             согласия прекращена. Данные, которые закон обязывает хранить, сохраняются и \
             заблокированы для любого иного использования. Запрос будет исполнен не позднее \
             {date} (15 рабочих дней, статья 8 Закона № 94-V)."
        ),
        (Lang::Kk, false) => format!(
            "Келісімді кері қайтарып алу туралы өтінішіңіз қабылданды. Дербес деректеріңізді \
             келісім негізінде өңдеу тоқтатылды. Заң сақтауды талап ететін деректер сақталады \
             және кез келген өзге мақсатта пайдалануға бұғатталады. Сұрау {date} кешіктірілмей \
             орындалады (15 жұмыс күні, № 94-V Заңның 8-бабы)."
        ),
        (Lang::En, false) => format!(
            "Your withdrawal of consent has been accepted. Processing of your personal data on \
             the basis of consent has stopped. Data the law requires us to keep are kept and \
             blocked from any other use. The request will be completed by {date} (15 working \
             days, Article 8 of Law No. 94-V)."
        ),
    }
}

impl ConsentService {
    /// The service over a vault, with the working-day calendar in force.
    pub fn new(vault: Vault, calendar: Arc<WorkCalendar>, settings: ConsentSettings) -> Self {
        ConsentService {
            vault,
            calendar,
            settings,
        }
    }

    /// The vault.
    pub fn vault(&self) -> &Vault {
        &self.vault
    }

    /// The working-day calendar in force.
    pub fn calendar(&self) -> &WorkCalendar {
        &self.calendar
    }

    fn ledger(&self) -> &Arc<ConsentLedger> {
        self.vault.consent_ledger()
    }

    fn store(&self) -> &Arc<dyn derbes_store::Store> {
        self.vault.store()
    }

    fn now_us(&self) -> i64 {
        to_micros(self.vault.now())
    }

    async fn audit(&self, entries: Vec<derbes_audit::EntryFields>) -> Result<(), ServiceError> {
        self.vault.append(entries).await
    }

    /// Check the call's purpose exists, the actor may name it, and it is one of `allowed`;
    /// a refusal is audited.
    async fn authorize(
        &self,
        call: &Call,
        allowed: &[&str],
        action: Action,
        subject: Option<Uuid>,
    ) -> Result<(), ServiceError> {
        let result = self
            .vault
            .authorize(call, std::iter::empty())
            .and_then(|_| {
                if allowed.contains(&call.purpose.as_str()) {
                    Ok(())
                } else {
                    Err(ServiceError::PurposeNotPermitted)
                }
            });
        if let Err(e) = result {
            self.audit(vec![entry(
                self.now_us(),
                &call.actor.id(),
                action,
                Outcome::Denied,
                subject.map(|s| s.to_string()),
                Some(&call.purpose),
                Vec::new(),
                Some("purpose:1.1".into()),
                Some(e.code().to_string()),
            )])
            .await?;
            return Err(e);
        }
        Ok(())
    }

    async fn subject(&self, id: Uuid) -> Result<SubjectRecord, ServiceError> {
        self.store()
            .subject(id.as_bytes())
            .await?
            .ok_or(ServiceError::SubjectNotFound)
    }

    fn seal(&self, s: &SubjectRecord, label: &str, plain: &[u8]) -> Result<Vec<u8>, ServiceError> {
        let dek = self.vault.keys().unwrap_dek(
            &s.id,
            &WrappedDek {
                kek_version: s.kek_version,
                bytes: s.wrapped_dek.clone(),
            },
        )?;
        Ok(dek.encrypt(&FieldAad::new(&s.id, label, s.dek_version), plain)?)
    }

    fn open_sealed(
        &self,
        s: &SubjectRecord,
        label: &str,
        dek_version: u32,
        sealed: &[u8],
    ) -> Result<derbes_crypto::Zeroizing<Vec<u8>>, ServiceError> {
        let dek = self.vault.keys().unwrap_dek(
            &s.id,
            &WrappedDek {
                kek_version: s.kek_version,
                bytes: s.wrapped_dek.clone(),
            },
        )?;
        Ok(dek.decrypt(&FieldAad::new(&s.id, label, dek_version), sealed)?)
    }

    // ---------------------------------------------------------------- policy (PRE-1, 9.2)

    /// Publish a new policy version (9.2). Versions are immutable once published; the
    /// number is the next one; the content hash covers texts, times, flag and operator.
    pub async fn publish_policy(
        &self,
        actor: &str,
        input: PublishInput,
    ) -> Result<PolicyVersionInfo, ServiceError> {
        let now = self.now_us();
        let effective = input.effective_at.map(to_micros).unwrap_or(now);
        if effective < now {
            return Err(invalid("effective_before_publication"));
        }
        let bin = Bin::parse(&input.operator_bin).map_err(|_| invalid("invalid_bin"))?;
        let name = input.operator_name.trim();
        if name.is_empty() || name.chars().count() > 300 || name.chars().any(char::is_control) {
            return Err(invalid("bad_operator_name"));
        }
        let text_en = input.text_en.filter(|t| !t.trim().is_empty());
        for t in [Some(&input.text_ru), Some(&input.text_kk), text_en.as_ref()]
            .into_iter()
            .flatten()
        {
            if t.trim().is_empty() {
                return Err(invalid("policy_text_missing"));
            }
            if t.len() > MAX_POLICY_TEXT {
                return Err(invalid("policy_text_too_long"));
            }
        }
        let mut record = PolicyVersionRecord {
            number: 0,
            published_at: now,
            effective_at: effective,
            significant: input.significant,
            operator_name: name.to_string(),
            operator_bin: bin.as_str().to_string(),
            text_ru: input.text_ru,
            text_kk: input.text_kk,
            text_en,
            content_hash: Vec::new(),
            published_by: actor.to_string(),
        };
        record.content_hash = policy_content_hash(&record).to_vec();
        record.number = self.store().insert_policy_version(&record).await?;
        self.audit(vec![entry(
            now,
            actor,
            Action::POLICY_CHANGE,
            Outcome::Allowed,
            None,
            None,
            Vec::new(),
            Some("policy:9.2".into()),
            Some(format!("version:{}", record.number)),
        )])
        .await?;
        Ok(info(&record))
    }

    /// Every published version (without texts).
    pub async fn policy_versions(&self) -> Result<Vec<PolicyVersionInfo>, ServiceError> {
        Ok(self
            .store()
            .policy_versions()
            .await?
            .iter()
            .map(info)
            .collect())
    }

    /// The version in force now (the highest number whose effective time has come).
    pub async fn current_policy_record(&self) -> Result<PolicyVersionRecord, ServiceError> {
        self.store()
            .current_policy_version(self.now_us())
            .await?
            .ok_or(ServiceError::PolicyNotFound)
    }

    /// A version by number.
    pub async fn policy_record(&self, number: i64) -> Result<PolicyVersionRecord, ServiceError> {
        self.store()
            .policy_version(number)
            .await?
            .ok_or(ServiceError::PolicyNotFound)
    }

    /// A version's text in a language (Russian when it has no English).
    pub fn policy_text(v: &PolicyVersionRecord, lang: Lang) -> PolicyText {
        let (lang, text) = match (lang, &v.text_en) {
            (Lang::Kk, _) => (Lang::Kk, v.text_kk.clone()),
            (Lang::En, Some(t)) => (Lang::En, t.clone()),
            _ => (Lang::Ru, v.text_ru.clone()),
        };
        PolicyText {
            info: info(v),
            lang: lang.as_str().to_string(),
            text,
        }
    }

    /// Whether a stored version still matches its content hash.
    pub fn policy_hash_ok(v: &PolicyVersionRecord) -> bool {
        policy_content_hash(v).as_slice() == v.content_hash.as_slice()
    }

    /// For the notice job (9.2): version `number`'s significance and texts; `None` if no
    /// such version was published.
    pub async fn policy_notice(&self, number: i64) -> Result<Option<PolicyNotice>, ServiceError> {
        Ok(self
            .store()
            .policy_version(number)
            .await?
            .map(|v| PolicyNotice {
                number: v.number,
                significant: v.significant,
                published_at: from_micros(v.published_at),
                effective_at: from_micros(v.effective_at),
                content_hash: hex::encode(&v.content_hash),
                text_ru: v.text_ru,
                text_kk: v.text_kk,
                text_en: v.text_en,
            }))
    }

    /// The language of the subject's latest policy consent; Russian when there is none.
    pub async fn subject_language(&self, subject: Uuid) -> Result<Lang, ServiceError> {
        Ok(self
            .store()
            .subject_language(subject.as_bytes())
            .await?
            .and_then(|l| Lang::parse(&l).ok())
            .unwrap_or_default())
    }

    // ---------------------------------------------------------------- consents (L-CONSENT)

    fn consent_purposes(&self) -> Vec<&derbes_core::registry::PurposeDef> {
        self.vault
            .registry()
            .purposes()
            .values()
            .filter(|p| p.legal_basis == LegalBasis::Consent)
            .collect()
    }

    /// Build ledger rows for `changes`, with the Art. 8 fields computed from the state the
    /// subject will be in after them.
    #[allow(clippy::too_many_arguments)]
    fn build_events(
        &self,
        subject: &SubjectRecord,
        history: &[ConsentEventRecord],
        changes: &[(String, Decision)],
        policy: &PolicyVersionRecord,
        lang: Lang,
        channel: Channel,
        evidence: &Evidence,
        valid_until: Option<i64>,
        actor: &str,
        request_id: Option<&str>,
    ) -> Result<Vec<ConsentEventRecord>, ServiceError> {
        let now = self.now_us();
        let sealed = if *evidence == Evidence::default() {
            None
        } else {
            let plain = serde_json::to_vec(evidence).map_err(|_| ServiceError::Integrity)?;
            Some(self.seal(subject, EVIDENCE_LABEL, &plain)?)
        };
        // The state after the changes, per scope.
        let mut state: std::collections::BTreeMap<String, bool> = Default::default();
        for e in history {
            state.insert(e.scope.clone(), e.decision == "granted");
        }
        for (scope, d) in changes {
            state.insert(scope.clone(), *d == Decision::Granted);
        }
        let on = |s: &str| state.get(s).copied().unwrap_or(false);
        let policy_on = on(POLICY_SCOPE);
        let registry = self.vault.registry();
        let mut out = Vec::with_capacity(changes.len());
        for (scope, d) in changes {
            let categories: BTreeSet<String> = if scope == POLICY_SCOPE {
                registry
                    .categories()
                    .keys()
                    .map(|c| c.as_str().to_string())
                    .collect()
            } else {
                registry
                    .purpose(scope)
                    .map(|p| {
                        p.categories
                            .iter()
                            .map(|c| c.as_str().to_string())
                            .collect()
                    })
                    .unwrap_or_default()
            };
            out.push(ConsentEventRecord {
                id: Uuid::now_v7().to_string(),
                subject_id: subject.id,
                scope: scope.clone(),
                decision: d.as_str().to_string(),
                at: now,
                policy_version: policy.number,
                lang: lang.as_str().to_string(),
                channel: channel.as_str().to_string(),
                evidence: sealed.clone(),
                dek_version: subject.dek_version,
                valid_until: if *d == Decision::Granted {
                    valid_until
                } else {
                    None
                },
                operator_name: policy.operator_name.clone(),
                operator_bin: policy.operator_bin.clone(),
                // Transfers under 2.3(b) rest on the policy; to non-state bureaus on
                // `bureau_check` (L-CB-CONSENT).
                third_party: policy_on || on("bureau_check"),
                cross_border: on("cross_border_transfer"),
                publication: on("publication"),
                categories: categories.into_iter().collect::<Vec<_>>().join(" "),
                recorded_by: actor.to_string(),
                request_id: request_id.map(str::to_string),
            });
        }
        Ok(out)
    }

    /// Check a consent request against the registry and the policy in force; returns the
    /// changes as (scope, decision), the version and the language.
    async fn check_consent(
        &self,
        input: &ConsentInput,
    ) -> Result<(Vec<(String, Decision)>, PolicyVersionRecord, Lang), ServiceError> {
        if input.changes.is_empty() {
            return Err(ServiceError::EmptyRequest);
        }
        if input.changes.len() > 32 {
            return Err(ServiceError::TooMany(32));
        }
        let lang = parse_lang(&input.lang)?;
        check_evidence(input.channel, &input.evidence)?;
        let current = self.current_policy_record().await?;
        if input.policy_version != current.number {
            return Err(ServiceError::PolicyVersionNotCurrent);
        }
        if let Some(until) = input.valid_until {
            if until <= self.vault.now() {
                return Err(invalid("valid_until_in_the_past"));
            }
        }
        let mut seen = BTreeSet::new();
        let mut changes = Vec::with_capacity(input.changes.len());
        for c in &input.changes {
            let ok_scope = c.scope == POLICY_SCOPE
                || self
                    .vault
                    .registry()
                    .purpose(&c.scope)
                    .is_some_and(|p| p.legal_basis == LegalBasis::Consent);
            if !ok_scope {
                return Err(invalid("not_a_consent_scope"));
            }
            if !seen.insert(c.scope.as_str()) {
                return Err(invalid("duplicate_scope"));
            }
            changes.push((c.scope.clone(), c.decision));
        }
        Ok((changes, current, lang))
    }

    /// Record a subject's decisions (grant, refuse, withdraw; policy or purposes) with one
    /// piece of evidence. A consent-based purpose withdrawn here stops at once (the gate reads
    /// the ledger on every call). Withdrawing the policy as a whole goes through
    /// [`ConsentService::withdraw`] (7.1c).
    pub async fn record_consents(
        &self,
        call: &Call,
        subject: Uuid,
        input: ConsentInput,
    ) -> Result<ConsentState, ServiceError> {
        self.authorize(call, CONSENT_PURPOSES, Action::CONSENT_GRANT, Some(subject))
            .await?;
        let (changes, policy, lang) = self.check_consent(&input).await?;
        if changes
            .iter()
            .any(|(s, d)| s == POLICY_SCOPE && *d != Decision::Granted)
        {
            return Err(invalid("use_withdrawal_request"));
        }
        let s = self.subject(subject).await?;
        let actor = call.actor.id();
        {
            let _w = self.ledger().writer().await;
            let history = self.store().consent_events(&s.id).await?;
            let events = self.build_events(
                &s,
                &history,
                &changes,
                &policy,
                lang,
                input.channel,
                &input.evidence,
                input.valid_until.map(to_micros),
                &actor,
                None,
            )?;
            self.store().append_consents(&events).await?;
            self.ledger().apply(&events);
            self.audit(self.consent_entries(call, subject, &events))
                .await?;
        }
        self.state_of(&s.id).await
    }

    fn consent_entries(
        &self,
        call: &Call,
        subject: Uuid,
        events: &[ConsentEventRecord],
    ) -> Vec<derbes_audit::EntryFields> {
        let actor = call.actor.id();
        events
            .iter()
            .map(|e| {
                let action = match e.decision.as_str() {
                    "granted" => Action::CONSENT_GRANT,
                    "withdrawn" => Action::CONSENT_WITHDRAW,
                    _ => Action::from_stored("consent_refuse"),
                };
                entry(
                    e.at,
                    &actor,
                    action,
                    Outcome::Allowed,
                    Some(subject.to_string()),
                    Some(&call.purpose),
                    Vec::new(),
                    Some("consent:L-CONSENT-1".into()),
                    Some(format!("{}:{}:v{}", e.scope, e.decision, e.policy_version)),
                )
            })
            .collect()
    }

    async fn state_of(&self, sid: &SubjectId) -> Result<ConsentState, ServiceError> {
        let history = self.store().consent_events(sid).await?;
        let now = self.now_us();
        let latest = |scope: &str| history.iter().rev().find(|e| e.scope == scope);
        let policy = latest(POLICY_SCOPE).map(record_view);
        let purposes = self
            .consent_purposes()
            .into_iter()
            .map(|p| {
                let code = p.code.as_str();
                let last = latest(code);
                PurposeConsent {
                    purpose: code.to_string(),
                    granted: self.ledger().is_granted(sid, code, now),
                    decision: last.map(|e| Decision::parse(&e.decision)),
                    at: last.map(|e| from_micros(e.at)),
                    valid_until: last.and_then(|e| e.valid_until).map(from_micros),
                }
            })
            .collect();
        Ok(ConsentState {
            subject: Uuid::from_bytes(*sid),
            lang: policy
                .as_ref()
                .map(|p| p.lang.clone())
                .unwrap_or_else(|| "ru".into()),
            policy,
            purposes,
            withdrawn: self.ledger().is_withdrawn(sid),
            history: history.iter().map(record_view).collect(),
        })
    }

    /// A subject's consents: current state of every consent-based purpose and the history.
    pub async fn consents(&self, call: &Call, subject: Uuid) -> Result<ConsentState, ServiceError> {
        self.authorize(call, CONSENT_PURPOSES, Action::READ, Some(subject))
            .await?;
        let s = self.subject(subject).await?;
        let state = self.state_of(&s.id).await?;
        self.audit(vec![entry(
            self.now_us(),
            &call.actor.id(),
            Action::READ,
            Outcome::Allowed,
            Some(subject.to_string()),
            Some(&call.purpose),
            Vec::new(),
            Some("consent:L-CONSENT-1".into()),
            Some("consent_ledger".into()),
        )])
        .await?;
        Ok(state)
    }

    /// The evidence of one ledger record, decrypted (to prove a consent, L-CONSENT-1).
    pub async fn evidence(
        &self,
        call: &Call,
        subject: Uuid,
        record_id: &str,
    ) -> Result<Option<Evidence>, ServiceError> {
        self.authorize(call, CONSENT_PURPOSES, Action::READ, Some(subject))
            .await?;
        let s = self.subject(subject).await?;
        let history = self.store().consent_events(&s.id).await?;
        let e = history
            .iter()
            .find(|e| e.id == record_id)
            .ok_or(ServiceError::RecordNotFound)?;
        let out = match &e.evidence {
            None => None,
            Some(sealed) => {
                let plain = self.open_sealed(&s, EVIDENCE_LABEL, e.dek_version, sealed)?;
                Some(serde_json::from_slice(&plain).map_err(|_| ServiceError::Integrity)?)
            }
        };
        self.audit(vec![entry(
            self.now_us(),
            &call.actor.id(),
            Action::READ,
            Outcome::Allowed,
            Some(subject.to_string()),
            Some(&call.purpose),
            Vec::new(),
            Some("consent:L-CONSENT-1".into()),
            Some("consent_evidence".into()),
        )])
        .await?;
        Ok(out)
    }

    // ---------------------------------------------------------------- withdrawal (7.1c)

    /// A request to withdraw consent (7.1c, L-CONSENT-3). While any contract of the subject
    /// is unfulfilled it is refused with a reasoned answer citing the rule, in the subject's
    /// language; otherwise it is accepted: the policy and every granted purpose are
    /// withdrawn at once (the gate then allows only legal-obligation purposes: the legal
    /// hold). Either way the request is recorded with its legal deadline (15 working days on
    /// the Kazakhstan calendar) and audited.
    pub async fn withdraw(
        &self,
        call: &Call,
        subject: Uuid,
        input: WithdrawalInput,
    ) -> Result<WithdrawalDecision, ServiceError> {
        self.authorize(call, &["requests"], Action::CONSENT_WITHDRAW, Some(subject))
            .await?;
        check_evidence(
            match input.channel {
                // A withdrawal over the web is made in the cabinet; evidence is optional.
                Channel::WebForm => Channel::Api,
                c => c,
            },
            &input.evidence,
        )?;
        let s = self.subject(subject).await?;
        let lang = match &input.lang {
            Some(l) => parse_lang(l)?,
            None => self.subject_language(subject).await?,
        };
        let now = self.vault.now();
        let now_us = to_micros(now);
        let deadline_date = self
            .calendar
            .deadline_date(now, WITHDRAWAL_WORKING_DAYS)
            .format("%Y-%m-%d")
            .to_string();
        let deadline = self.calendar.deadline(now, WITHDRAWAL_WORKING_DAYS);
        let open: Vec<String> = self
            .store()
            .contracts_of(&s.id)
            .await?
            .into_iter()
            .filter(|c| ContractStatus::parse(&c.status).is_some_and(|st| st.is_unfulfilled()))
            .map(|c| c.id)
            .collect();
        let refused = !open.is_empty();
        let request_id = Uuid::now_v7().to_string();
        let record = WithdrawalRecord {
            id: request_id.clone(),
            subject_id: s.id,
            received_at: now_us,
            channel: input.channel.as_str().to_string(),
            lang: lang.as_str().to_string(),
            outcome: if refused { "refused" } else { "accepted" }.to_string(),
            reason: refused.then(|| "open_contract".to_string()),
            open_contracts: open.join(" "),
            deadline_date: deadline_date.clone(),
            deadline_at: to_micros(deadline),
            calendar_version: self.calendar.version().to_string(),
            recorded_by: call.actor.id(),
        };
        {
            let _w = self.ledger().writer().await;
            let events = if refused {
                Vec::new()
            } else {
                let history = self.store().consent_events(&s.id).await?;
                let policy = self.current_policy_record().await?;
                let mut changes = vec![(POLICY_SCOPE.to_string(), Decision::Withdrawn)];
                for p in self.consent_purposes() {
                    if self.ledger().is_granted(&s.id, p.code.as_str(), now_us) {
                        changes.push((p.code.as_str().to_string(), Decision::Withdrawn));
                    }
                }
                self.build_events(
                    &s,
                    &history,
                    &changes,
                    &policy,
                    lang,
                    input.channel,
                    &input.evidence,
                    None,
                    &call.actor.id(),
                    Some(&request_id),
                )?
            };
            self.store().insert_withdrawal(&record, &events).await?;
            self.ledger().apply(&events);
            let mut entries = vec![entry(
                now_us,
                &call.actor.id(),
                Action::CONSENT_WITHDRAW,
                if refused {
                    Outcome::Denied
                } else {
                    Outcome::Allowed
                },
                Some(subject.to_string()),
                Some(&call.purpose),
                Vec::new(),
                Some("withdrawal:7.1c:L-CONSENT-3".into()),
                Some(format!(
                    "request:{request_id}:{}",
                    if refused { "open_contract" } else { "accepted" }
                )),
            )];
            entries.extend(self.consent_entries(call, subject, &events));
            self.audit(entries).await?;
        }
        Ok(WithdrawalDecision {
            request_id,
            outcome: record.outcome,
            reason: record.reason,
            rule: "Policy 7.1(c); Law 94-V Art. 8 p.2, p.7 (L-CONSENT-3)".into(),
            message: withdrawal_message(lang, refused, &open, &deadline_date),
            lang: lang.as_str().to_string(),
            open_contracts: open,
            received_at: now,
            deadline,
            deadline_date,
            calendar_version: record.calendar_version,
        })
    }

    // ---------------------------------------------------------------- applications (6.1, 6.2)

    /// An application through the site (6.1): creates the subject with its values AND the
    /// consent to the current policy in one transaction. Without a `policy: granted` change
    /// nothing is stored (6.2) and the refusal is audited without a subject.
    pub async fn create_application(
        &self,
        call: &Call,
        input: ApplicationInput,
    ) -> Result<ApplicationView, ServiceError> {
        self.authorize(call, &["contract"], Action::CREATE, None)
            .await?;
        let consent = match input.consent {
            Some(c)
                if c.changes
                    .iter()
                    .any(|x| x.scope == POLICY_SCOPE && x.decision == Decision::Granted) =>
            {
                c
            }
            _ => {
                self.audit(vec![entry(
                    self.now_us(),
                    &call.actor.id(),
                    Action::CREATE,
                    Outcome::Denied,
                    None,
                    Some(&call.purpose),
                    Vec::new(),
                    Some("consent:6.1".into()),
                    Some("policy_consent_required".into()),
                )])
                .await?;
                return Err(ServiceError::PolicyConsentRequired);
            }
        };
        let (changes, policy, lang) = self.check_consent(&consent).await?;
        let prepared = self
            .vault
            .prepare_batch(
                call,
                vec![NewSubjectInput {
                    values: input.values,
                }],
            )
            .map_err(|e| match e {
                ServiceError::InvalidValues(ps) => ServiceError::InvalidValues(
                    ps.into_iter()
                        .map(|mut p| {
                            p.item = None;
                            p
                        })
                        .collect(),
                ),
                other => other,
            })?;
        let new = prepared
            .into_subjects()
            .pop()
            .ok_or(ServiceError::EmptyRequest)?;
        let now = self.now_us();
        let app = ApplicationRecord {
            id: Uuid::now_v7().to_string(),
            subject_id: new.subject.id,
            status: "open".into(),
            created_at: now,
            expires_at: now
                + self
                    .settings
                    .application_ttl
                    .num_microseconds()
                    .unwrap_or(0),
            updated_at: now,
            created_by: call.actor.id(),
        };
        let subject = Uuid::from_bytes(new.subject.id);
        {
            let _w = self.ledger().writer().await;
            let events = self.build_events(
                &new.subject,
                &[],
                &changes,
                &policy,
                lang,
                consent.channel,
                &consent.evidence,
                consent.valid_until.map(to_micros),
                &call.actor.id(),
                None,
            )?;
            self.store()
                .insert_application(&new, &app, &events)
                .await
                .map_err(|e| match e {
                    StoreError::Conflict => ServiceError::SubjectExists,
                    other => ServiceError::from(other),
                })?;
            self.ledger().apply(&events);
            let mut entries = vec![entry(
                now,
                &call.actor.id(),
                Action::CREATE,
                Outcome::Allowed,
                Some(subject.to_string()),
                Some(&call.purpose),
                new.categories().to_vec(),
                Some(format!(
                    "purpose:{}@registry:{}",
                    call.purpose,
                    self.vault.registry().version()
                )),
                Some(format!("application:{}", app.id)),
            )];
            entries.extend(self.consent_entries(call, subject, &events));
            self.audit(entries).await?;
        }
        Ok(ApplicationView {
            id: app.id,
            subject,
            status: app.status,
            created_at: from_micros(app.created_at),
            expires_at: from_micros(app.expires_at),
        })
    }

    /// One application.
    pub async fn application(&self, id: &str) -> Result<ApplicationView, ServiceError> {
        let a = self
            .store()
            .application(id)
            .await?
            .ok_or(ServiceError::RecordNotFound)?;
        Ok(ApplicationView {
            id: a.id,
            subject: Uuid::from_bytes(a.subject_id),
            status: a.status,
            created_at: from_micros(a.created_at),
            expires_at: from_micros(a.expires_at),
        })
    }

    /// Finish an application: its data are kept from now on.
    pub async fn submit_application(
        &self,
        call: &Call,
        id: &str,
    ) -> Result<ApplicationView, ServiceError> {
        self.authorize(call, &["contract"], Action::SUPPLEMENT, None)
            .await?;
        check_ref(id)?;
        let a = self.application(id).await?;
        if a.expires_at <= self.vault.now() {
            return Err(ServiceError::ApplicationClosed);
        }
        self.store()
            .set_application_status(id, "open", "submitted", self.now_us())
            .await
            .map_err(|e| match e {
                StoreError::NotFound => ServiceError::ApplicationClosed,
                other => other.into(),
            })?;
        self.audit(vec![entry(
            self.now_us(),
            &call.actor.id(),
            Action::from_stored("application_submit"),
            Outcome::Allowed,
            Some(a.subject.to_string()),
            Some(&call.purpose),
            Vec::new(),
            Some("consent:6.1".into()),
            Some(format!("application:{id}")),
        )])
        .await?;
        self.application(id).await
    }

    async fn purge(&self, actor: &str, id: &str, why: &str) -> Result<bool, ServiceError> {
        let _w = self.ledger().writer().await;
        let Some(sid) = self
            .store()
            .purge_application(id)
            .await
            .map_err(|e| match e {
                StoreError::Conflict => ServiceError::ApplicationClosed,
                other => other.into(),
            })?
        else {
            return Ok(false);
        };
        self.ledger().forget(&sid);
        self.audit(vec![entry(
            self.now_us(),
            actor,
            Action::DESTROY,
            Outcome::Allowed,
            Some(Uuid::from_bytes(sid).to_string()),
            None,
            Vec::new(),
            Some("consent:6.2".into()),
            Some(format!("application:{id}:{why}")),
        )])
        .await?;
        Ok(true)
    }

    /// Abandon an open application: the subject, values, indexes, consents and the
    /// application are deleted (6.2). A submitted application cannot be abandoned.
    pub async fn abandon_application(&self, call: &Call, id: &str) -> Result<(), ServiceError> {
        self.authorize(call, &["contract"], Action::DESTROY, None)
            .await?;
        check_ref(id)?;
        if self.purge(&call.actor.id(), id, "abandoned").await? {
            Ok(())
        } else if self.store().application(id).await?.is_some() {
            Err(ServiceError::ApplicationClosed)
        } else {
            Err(ServiceError::RecordNotFound)
        }
    }

    /// Purge every open application whose time ran out (6.2), by the clock. Returns how
    /// many were purged. `derbes serve` runs this every minute.
    pub async fn purge_expired_applications(&self) -> Result<usize, ServiceError> {
        let mut n = 0;
        loop {
            let batch = self
                .store()
                .expired_applications(self.now_us(), 100)
                .await?;
            if batch.is_empty() {
                return Ok(n);
            }
            for a in batch {
                if self.purge("system:expiry", &a.id, "expired").await? {
                    n += 1;
                }
            }
        }
    }

    // ---------------------------------------------------------------- loans (2.1, 7.1c)

    async fn loan_audit(
        &self,
        call: &Call,
        subject: Uuid,
        what: String,
    ) -> Result<(), ServiceError> {
        self.audit(vec![entry(
            self.now_us(),
            &call.actor.id(),
            Action::from_stored("loan_report"),
            Outcome::Allowed,
            Some(subject.to_string()),
            Some(&call.purpose),
            Vec::new(),
            Some("loans:2.1".into()),
            Some(what),
        )])
        .await
    }

    fn when(&self, at: Option<DateTime<Utc>>) -> Result<i64, ServiceError> {
        let now = self.vault.now();
        match at {
            Some(t) if t > now + chrono::Duration::minutes(5) => Err(invalid("time_in_the_future")),
            Some(t) => Ok(to_micros(t)),
            None => Ok(to_micros(now)),
        }
    }

    fn loan_conflict(e: StoreError) -> ServiceError {
        match e {
            StoreError::Conflict => ServiceError::RecordExists,
            StoreError::NotFound => ServiceError::RecordNotFound,
            other => other.into(),
        }
    }

    /// Record a loan application reported by the loan system.
    pub async fn report_loan_application(
        &self,
        call: &Call,
        input: LoanApplicationInput,
    ) -> Result<(), ServiceError> {
        self.authorize(call, LOAN_PURPOSES, Action::CREATE, Some(input.subject))
            .await?;
        check_ref(&input.id)?;
        let s = self.subject(input.subject).await?;
        self.store()
            .insert_loan_application(&LoanApplicationRecord {
                id: input.id.clone(),
                subject_id: s.id,
                status: input.status.as_str().to_string(),
                received_at: self.when(input.received_at)?,
                recorded_by: call.actor.id(),
            })
            .await
            .map_err(Self::loan_conflict)?;
        self.loan_audit(
            call,
            input.subject,
            format!("loan_application:{}", input.id),
        )
        .await
    }

    /// Record an offer sent to the subject (2.1); its terms are stored encrypted.
    pub async fn report_offer(
        &self,
        call: &Call,
        input: OfferInput,
    ) -> Result<OfferView, ServiceError> {
        self.authorize(call, LOAN_PURPOSES, Action::CREATE, Some(input.subject))
            .await?;
        check_ref(&input.id)?;
        if let Some(a) = &input.application_id {
            check_ref(a)?;
        }
        if !input.terms.is_object() {
            return Err(invalid("terms_not_an_object"));
        }
        let plain = serde_json::to_vec(&input.terms).map_err(|_| ServiceError::Integrity)?;
        if plain.len() > 16 * 1024 {
            return Err(invalid("terms_too_large"));
        }
        let s = self.subject(input.subject).await?;
        let r = OfferRecord {
            id: input.id.clone(),
            subject_id: s.id,
            application_id: input.application_id.clone(),
            sent_at: self.when(input.sent_at)?,
            accepted_at: None,
            terms: self.seal(&s, OFFER_LABEL, &plain)?,
            dek_version: s.dek_version,
            recorded_by: call.actor.id(),
        };
        self.store()
            .insert_offer(&r)
            .await
            .map_err(Self::loan_conflict)?;
        self.loan_audit(call, input.subject, format!("offer:{}", input.id))
            .await?;
        Ok(OfferView {
            id: r.id,
            subject: input.subject,
            application_id: r.application_id,
            sent_at: from_micros(r.sent_at),
            accepted_at: None,
            terms: input.terms,
        })
    }

    /// Record that the subject accepted an offer.
    pub async fn accept_offer(
        &self,
        call: &Call,
        id: &str,
        at: Option<DateTime<Utc>>,
    ) -> Result<(), ServiceError> {
        check_ref(id)?;
        let offer = self
            .store()
            .offer(id)
            .await?
            .ok_or(ServiceError::RecordNotFound)?;
        let subject = Uuid::from_bytes(offer.subject_id);
        self.authorize(call, LOAN_PURPOSES, Action::CREATE, Some(subject))
            .await?;
        self.store()
            .accept_offer(id, self.when(at)?)
            .await
            .map_err(|e| match e {
                StoreError::NotFound => ServiceError::RecordExists,
                other => other.into(),
            })?;
        self.loan_audit(call, subject, format!("offer_accepted:{id}"))
            .await
    }

    /// Record a contract.
    pub async fn report_contract(
        &self,
        call: &Call,
        input: ContractInput,
    ) -> Result<ContractView, ServiceError> {
        self.authorize(call, LOAN_PURPOSES, Action::CREATE, Some(input.subject))
            .await?;
        check_ref(&input.id)?;
        if let Some(o) = &input.offer_id {
            check_ref(o)?;
        }
        let status = input.status.unwrap_or(ContractStatus::Active);
        if status == ContractStatus::Assigned {
            return Err(invalid("cessionary_required"));
        }
        let s = self.subject(input.subject).await?;
        let at = self.when(input.concluded_at)?;
        self.store()
            .insert_contract(
                &ContractRecord {
                    id: input.id.clone(),
                    subject_id: s.id,
                    offer_id: input.offer_id.clone(),
                    concluded_at: at,
                    status: status.as_str().to_string(),
                    status_at: at,
                    recorded_by: call.actor.id(),
                },
                None,
            )
            .await
            .map_err(Self::loan_conflict)?;
        self.loan_audit(call, input.subject, format!("contract:{}", input.id))
            .await?;
        self.contract_view(&input.id).await
    }

    /// Change a contract's status (active, overdue, repaid, assigned to a cessionary,
    /// written off); the history is kept.
    pub async fn set_contract_status(
        &self,
        call: &Call,
        id: &str,
        input: ContractStatusInput,
    ) -> Result<ContractView, ServiceError> {
        check_ref(id)?;
        let c = self
            .store()
            .contract(id)
            .await?
            .ok_or(ServiceError::RecordNotFound)?;
        let subject = Uuid::from_bytes(c.subject_id);
        self.authorize(call, LOAN_PURPOSES, Action::CORRECT, Some(subject))
            .await?;
        let cessionary = match (input.status, input.cessionary.as_deref().map(str::trim)) {
            (ContractStatus::Assigned, Some(n))
                if !n.is_empty()
                    && n.chars().count() <= 200
                    && !n.chars().any(char::is_control) =>
            {
                Some(n.to_string())
            }
            (ContractStatus::Assigned, _) => return Err(invalid("cessionary_required")),
            (_, None) => None,
            (_, Some(_)) => return Err(invalid("cessionary_only_when_assigned")),
        };
        self.store()
            .set_contract_status(
                id,
                input.status.as_str(),
                self.when(input.at)?,
                cessionary.as_deref(),
                &call.actor.id(),
            )
            .await
            .map_err(Self::loan_conflict)?;
        self.loan_audit(
            call,
            subject,
            format!("contract_status:{id}:{}", input.status.as_str()),
        )
        .await?;
        self.contract_view(id).await
    }

    async fn contract_view(&self, id: &str) -> Result<ContractView, ServiceError> {
        let c = self
            .store()
            .contract(id)
            .await?
            .ok_or(ServiceError::RecordNotFound)?;
        let history = self.store().contract_events(id).await?;
        let status = ContractStatus::parse(&c.status).ok_or(ServiceError::Integrity)?;
        Ok(ContractView {
            id: c.id,
            subject: Uuid::from_bytes(c.subject_id),
            offer_id: c.offer_id,
            concluded_at: from_micros(c.concluded_at),
            status,
            unfulfilled: status.is_unfulfilled(),
            history: history
                .into_iter()
                .filter_map(|e| {
                    ContractStatus::parse(&e.status).map(|st| ContractStatusView {
                        status: st,
                        at: from_micros(e.at),
                        cessionary: e.cessionary,
                    })
                })
                .collect(),
        })
    }

    /// A subject's loan applications, offers (terms decrypted) and contracts.
    pub async fn obligations(
        &self,
        call: &Call,
        subject: Uuid,
    ) -> Result<Obligations, ServiceError> {
        self.authorize(call, LOAN_PURPOSES, Action::READ, Some(subject))
            .await?;
        let s = self.subject(subject).await?;
        let applications = self
            .store()
            .loan_applications_of(&s.id)
            .await?
            .into_iter()
            .map(|a| LoanApplicationInput {
                id: a.id,
                subject,
                status: match a.status.as_str() {
                    "approved" => LoanApplicationStatus::Approved,
                    "declined" => LoanApplicationStatus::Declined,
                    "cancelled" => LoanApplicationStatus::Cancelled,
                    _ => LoanApplicationStatus::Received,
                },
                received_at: Some(from_micros(a.received_at)),
            })
            .collect();
        let mut offers = Vec::new();
        for o in self.store().offers_of(&s.id).await? {
            let plain = self.open_sealed(&s, OFFER_LABEL, o.dek_version, &o.terms)?;
            offers.push(OfferView {
                id: o.id,
                subject,
                application_id: o.application_id,
                sent_at: from_micros(o.sent_at),
                accepted_at: o.accepted_at.map(from_micros),
                terms: serde_json::from_slice(&plain).map_err(|_| ServiceError::Integrity)?,
            });
        }
        let mut contracts = Vec::new();
        for c in self.store().contracts_of(&s.id).await? {
            contracts.push(self.contract_view(&c.id).await?);
        }
        self.loan_audit(call, subject, "obligations_read".into())
            .await?;
        Ok(Obligations {
            subject,
            applications,
            offers,
            contracts,
        })
    }

    /// A subject's withdrawal requests.
    pub async fn withdrawals(&self, subject: Uuid) -> Result<Vec<WithdrawalRecord>, ServiceError> {
        Ok(self.store().withdrawals_of(subject.as_bytes()).await?)
    }
}
