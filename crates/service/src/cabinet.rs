//! The borrower's personal cabinet (issue 5; clauses PRE-1, 6.1, 6.2, 7.1a–d, 5.4; L-RIGHTS,
//! L-RIGHTS-DEADLINES, L-TIPPING-OFF): login by phone and one-time code, "what is held
//! about me", exports, requests, consents.
//!
//! **Login (7.1b).** [`Cabinet::request_code`] parses the phone, looks it up through the
//! vault's blind index of `mobile_phone`, and always stores a challenge — for an unknown
//! phone one whose code hash no code matches — so the answer (a challenge id and expiry) and
//! the work done are the same whether or not the phone is registered; the SMS is sent on a
//! background task, so a slow provider does not show in the answer's timing either. Codes:
//! 6 digits from the OS CSPRNG, kept as HMAC-SHA-256 under a key derived from the index root
//! key (bound to the challenge id), valid for `code_ttl`, at most `max_attempts` tries,
//! accepted once. Sends are rate-limited per phone and per client address (HMAC-keyed
//! counters, so no phone is stored in clear). A right code gives a session: a random 256-bit
//! token (`drc_…`) whose SHA-256 is stored, with idle and absolute limits from the `Clock`.
//!
//! **Every call acts as [`Actor::Subject`] on the session's own id** — no call takes a
//! subject id from the client, so one subject can never name another's data; a request id
//! of another subject answers exactly like an unknown one.

use crate::audit::entry;
use crate::consent_service::{
    Channel, ConsentChange, ConsentInput, ConsentService, ConsentState, ContractStatus, Decision,
    Evidence, WithdrawalDecision, WithdrawalInput,
};
use crate::error::ServiceError;
use crate::model::{Actor, Call, Source, SourceKind};
use crate::sms::SmsGateway;
use crate::vault::Vault;
use base64::Engine;
use chrono::{DateTime, Datelike, Duration, Utc};
use derbes_audit::{Action, Outcome};
use derbes_core::clock::{from_micros, to_micros};
use derbes_core::registry::{Lang, RetentionFrom};
use derbes_crypto::{BlindIndexer, FieldAad, WrappedDek};
use derbes_store::cabinet::{
    ExportRecord, OtpRecord, RequestUpdate, SubjectRequestRecord, SubjectSessionRecord,
};
use derbes_store::{AuditEntry, Store, SubjectId, SubjectRecord};
use rand::{Rng, RngCore};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::Arc;
use utoipa::ToSchema;
use uuid::Uuid;

/// Prefix of subject session tokens (employees: `drs_`, API keys: `drb_`).
pub const SUBJECT_TOKEN_PREFIX: &str = "drc_";
/// Associated-data label of a request's text under the subject's data key.
pub const REQUEST_LABEL: &str = "subject_request";
/// Associated-data label of a request's answer.
pub const ANSWER_LABEL: &str = "subject_request_answer";
/// The purpose of a subject's own calls and of staff handling requests (L-RIGHTS).
pub const REQUESTS_PURPOSE: &str = "requests";
/// Working days for correction, blocking and destruction (PD Law Art. 6, Art. 25 p.2;
/// L-RIGHTS-DEADLINES).
pub const RIGHTS_WORKING_DAYS: u32 = 1;
/// The longest request text (characters).
pub const MAX_REQUEST_TEXT: usize = 4000;

/// Settings of the cabinet.
#[derive(Debug, Clone)]
pub struct CabinetSettings {
    /// How long a code is valid.
    pub code_ttl: Duration,
    /// Wrong codes allowed per challenge.
    pub max_attempts: i64,
    /// Codes sent per phone per `send_window`.
    pub sends_per_phone: i64,
    /// Applications through the cabinet's form that reach the service (a refusal without
    /// consent included) per client address per `send_window`.
    pub applications_per_ip: i64,
    /// Codes requested per client address per `send_window`.
    pub sends_per_ip: i64,
    /// The rate-limit window.
    pub send_window: Duration,
    /// A session ends after this long without a request.
    pub session_idle: Duration,
    /// A session ends this long after login, whatever happens.
    pub session_absolute: Duration,
    /// Working days to answer an information request (`question`, `complaint`). The
    /// deadline is set by the Rules of collection and processing (Order 395/НҚ) and is not
    /// verified (kz-law.md L-RIGHTS-DEADLINES: "U"), so it is a setting.
    pub info_request_working_days: u32,
    /// The most access-log entries in an export (newest first).
    pub access_log_limit: i64,
    /// Access-log entries per page of "my data" (newest first; older ones by
    /// [`Cabinet::access_page`]).
    pub access_page: i64,
}

impl Default for CabinetSettings {
    fn default() -> Self {
        CabinetSettings {
            code_ttl: Duration::minutes(5),
            max_attempts: 5,
            sends_per_phone: 3,
            sends_per_ip: 20,
            applications_per_ip: 10,
            send_window: Duration::minutes(15),
            session_idle: Duration::minutes(15),
            session_absolute: Duration::hours(8),
            info_request_working_days: 10,
            access_log_limit: 2000,
            access_page: 50,
        }
    }
}

/// The answer to "send me a code": the same shape whether or not the phone is registered.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CodeChallenge {
    /// Present it with the code.
    pub challenge_id: String,
    /// When the code expires.
    pub expires_at: DateTime<Utc>,
    /// Codes per challenge.
    pub max_attempts: i64,
}

/// A new cabinet session.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct NewSubjectSession {
    /// The bearer token (`drc_…`); also set as the cabinet cookie by the web layer.
    pub token: String,
    /// Absolute expiry.
    pub expires_at: DateTime<Utc>,
    /// Idle limit in seconds.
    pub idle_seconds: i64,
    /// For cookie-authenticated state-changing requests: the `X-CSRF-Token` header value.
    pub csrf_token: String,
}

/// An authenticated cabinet session.
#[derive(Debug, Clone)]
pub struct SubjectSession {
    /// The subject.
    pub subject: Uuid,
    /// The actor for service calls.
    pub actor: Actor,
}

impl SubjectSession {
    /// A call by this subject under `requests` (L-RIGHTS).
    pub fn call(&self) -> Call {
        Call::new(self.actor.clone(), REQUESTS_PURPOSE)
    }
}

/// One purpose that uses a category (7.1a: "purposes" with their legal basis).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PurposeUse {
    /// Purpose code.
    pub code: String,
    /// Name in the subject's language.
    pub name: String,
    /// `consent`, `contract`, `legal_obligation`, `legitimate_interest`.
    pub legal_basis: String,
    /// The policy clause.
    pub clause: String,
    /// For a consent-based purpose: whether the subject's consent is in force.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consent_granted: Option<bool>,
}

/// How long a category is kept and when it is to be destroyed (7.1a; L-DESTRUCTION).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RetentionView {
    /// The rules that keep it.
    pub rules: Vec<RetentionRuleView>,
    /// The planned destruction date (the latest end of its rules); `None` while an end is
    /// not yet known (a contract is still open: counted from its end).
    pub destruction_date: Option<DateTime<Utc>>,
    /// `planned`, or `after_contract_end` while a contract is open.
    pub status: String,
}

/// One retention rule as applied to the subject.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RetentionRuleView {
    /// Rule code.
    pub code: String,
    /// Name in the subject's language.
    pub name: String,
    /// Years kept.
    pub years: u32,
    /// `relationship_end`, `collection`, `consent`.
    pub from: String,
    /// The legal ground.
    pub law: String,
    /// Spec row.
    pub clause: String,
    /// The end under this rule, if known.
    pub until: Option<DateTime<Utc>>,
}

/// One category held about the subject, with its current value (7.1a, PRE-2).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HeldValue {
    /// Category code.
    pub category: String,
    /// Category name in the subject's language.
    pub name: String,
    /// The value (canonical JSON) — shown on "reveal".
    #[schema(value_type = Object)]
    pub value: serde_json::Value,
    /// A masked form for display.
    pub masked: String,
    /// Where it came from (PRE-2).
    pub source: Source,
    /// When it was obtained.
    pub obtained_at: DateTime<Utc>,
    /// When recorded.
    pub recorded_at: DateTime<Utc>,
    /// Version (1 = first).
    pub version: i64,
    /// Purposes that use it, with their legal basis.
    pub purposes: Vec<PurposeUse>,
    /// Retention and planned destruction.
    pub retention: RetentionView,
}

/// A policy version the subject accepted (PRE-1).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AcceptedPolicy {
    /// Version number.
    pub version: i64,
    /// When accepted.
    pub at: DateTime<Utc>,
    /// Language seen.
    pub lang: String,
    /// Channel.
    pub channel: String,
}

/// Transfers to third parties (7.1a). No transfer register exists yet.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TransfersView {
    /// Transfers (recipient, categories, time); empty until the transfer register exists.
    pub items: Vec<serde_json::Value>,
    /// Why the list is empty, if it is: `transfer_register_not_available`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// One access to the subject's data (7.1a; 8.1) — role and purpose, never who by name.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AccessView {
    /// The audit entry's sequence number (its inclusion proof can be asked for by it).
    pub seq: u64,
    /// When.
    pub at: DateTime<Utc>,
    /// `employee`, `lender_system`, `subject` (the subject's own actions) or `derbes`.
    pub actor_kind: String,
    /// The employee's role code (employees only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// What was done (`read`, `correct`, `export`, …).
    pub action: String,
    /// Purpose code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    /// Purpose name in the subject's language.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purpose_name: Option<String>,
    /// Categories touched.
    pub categories: Vec<String>,
    /// `allowed` or `denied`.
    pub outcome: String,
}

/// A page of the accesses to a subject's data (7.1a), newest first.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AccessPage {
    /// The accesses.
    pub items: Vec<AccessView>,
    /// When there are older ones: the `before` of the next page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<u64>,
}

/// A processing method (7.1a: "methods of collection and processing").
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MethodView {
    /// Code.
    pub code: String,
    /// Text in the subject's language.
    pub text: String,
}

/// Everything held about the subject (7.1a), in their language.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MyData {
    /// The subject's pseudonymous id.
    pub subject: Uuid,
    /// Language of the names.
    pub lang: String,
    /// When this answer was made.
    pub generated_at: DateTime<Utc>,
    /// The registry version in force.
    pub registry_version: String,
    /// The operator (L-CONSENT-2), from the latest policy decision.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operator: Option<String>,
    /// Every category held, with its current value.
    pub values: Vec<HeldValue>,
    /// Processing methods.
    pub methods: Vec<MethodView>,
    /// Policy versions accepted.
    pub policies_accepted: Vec<AcceptedPolicy>,
    /// Consents: state and full history.
    pub consents: ConsentState,
    /// Transfers to third parties.
    pub transfers: TransfersView,
    /// Accesses to the data (never the financial-monitoring ones: L-TIPPING-OFF), newest
    /// first: one page in "my data", all (up to the export limit) in an export.
    pub accesses: Vec<AccessView>,
    /// When there are older accesses than those listed: the `before` of the next page
    /// ([`Cabinet::access_page`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accesses_before: Option<u64>,
    /// The subject's requests.
    pub requests: Vec<RequestView>,
}

/// The kind of a subject's request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RequestKind {
    /// Correct or supplement a value (1 working day).
    Correction,
    /// Block processing (1 working day).
    Blocking,
    /// Destroy data (1 working day).
    Destruction,
    /// A complaint (information-request deadline).
    Complaint,
    /// A question / information request (deadline: setting).
    Question,
}

impl RequestKind {
    /// Stored code.
    pub fn as_str(self) -> &'static str {
        match self {
            RequestKind::Correction => "correction",
            RequestKind::Blocking => "blocking",
            RequestKind::Destruction => "destruction",
            RequestKind::Complaint => "complaint",
            RequestKind::Question => "question",
        }
    }

    /// The inverse of [`RequestKind::as_str`].
    pub fn parse(s: &str) -> Option<RequestKind> {
        Some(match s {
            "correction" => RequestKind::Correction,
            "blocking" => RequestKind::Blocking,
            "destruction" => RequestKind::Destruction,
            "complaint" => RequestKind::Complaint,
            "question" => RequestKind::Question,
            _ => return None,
        })
    }
}

/// Status of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RequestStatus {
    /// Filed, not yet taken up.
    Received,
    /// Being handled.
    InProgress,
    /// Answered (information requests, complaints).
    Answered,
    /// Done (correction, blocking, destruction carried out).
    Done,
    /// Refused, with a reason.
    Refused,
}

impl RequestStatus {
    /// Stored code.
    pub fn as_str(self) -> &'static str {
        match self {
            RequestStatus::Received => "received",
            RequestStatus::InProgress => "in_progress",
            RequestStatus::Answered => "answered",
            RequestStatus::Done => "done",
            RequestStatus::Refused => "refused",
        }
    }

    /// The inverse of [`RequestStatus::as_str`].
    pub fn parse(s: &str) -> Option<RequestStatus> {
        Some(match s {
            "received" => RequestStatus::Received,
            "in_progress" => RequestStatus::InProgress,
            "answered" => RequestStatus::Answered,
            "done" => RequestStatus::Done,
            "refused" => RequestStatus::Refused,
            _ => return None,
        })
    }

    /// Statuses a request may move to this one from.
    fn allowed_predecessors(self) -> &'static [&'static str] {
        match self {
            RequestStatus::Received => &[],
            RequestStatus::InProgress => &["received"],
            RequestStatus::Answered | RequestStatus::Done | RequestStatus::Refused => {
                &["received", "in_progress"]
            }
        }
    }
}

/// A request filed by the subject.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestInput {
    /// The kind.
    pub kind: RequestKind,
    /// Free text (≤ 4000 characters).
    pub text: String,
    /// For a correction: the category.
    #[serde(default)]
    pub category: Option<String>,
    /// For a correction: the proposed value, in the category's JSON shape.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub proposed_value: Option<serde_json::Value>,
}

/// What is sealed in a request's `body`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct RequestBody {
    text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    proposed_value: Option<serde_json::Value>,
}

/// A request as shown to the subject and to staff.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RequestView {
    /// Id.
    pub id: String,
    /// Number, e.g. `Z-2026-000123`.
    pub number: String,
    /// Kind.
    pub kind: RequestKind,
    /// Status.
    pub status: RequestStatus,
    /// The text.
    pub text: String,
    /// For a correction: category.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// For a correction: the proposed value.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub proposed_value: Option<serde_json::Value>,
    /// Received.
    pub received_at: DateTime<Utc>,
    /// Legal deadline (end of the working day, Almaty).
    pub deadline: DateTime<Utc>,
    /// Its local date.
    pub deadline_date: String,
    /// Working days allowed.
    pub working_days: u32,
    /// The calendar version used.
    pub calendar_version: String,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// Reason code of a refusal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answer: Option<String>,
}

/// A request as listed for staff: with the subject's pseudonym.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StaffRequestView {
    /// The subject.
    pub subject: Uuid,
    /// Whether the deadline has passed while the request is still open.
    pub overdue: bool,
    /// The request.
    #[serde(flatten)]
    pub request: RequestView,
}

/// A status change by staff.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestUpdateInput {
    /// `in_progress`, `answered`, `done` or `refused`.
    pub status: RequestStatus,
    /// The answer to the subject (≤ 4000 characters).
    #[serde(default)]
    pub answer: Option<String>,
    /// A refusal's reason code (`[a-z_]`, required for `refused`).
    #[serde(default)]
    pub reason: Option<String>,
}

/// The format of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExportFormat {
    /// Machine-readable JSON ([`MyData`]).
    Json,
    /// Printable PDF.
    Pdf,
}

impl ExportFormat {
    /// Code.
    pub fn as_str(self) -> &'static str {
        match self {
            ExportFormat::Json => "json",
            ExportFormat::Pdf => "pdf",
        }
    }
}

/// An export: the bytes and their register entry (5.4).
#[derive(Debug, Clone)]
pub struct Export {
    /// Register id.
    pub id: String,
    /// Format.
    pub format: ExportFormat,
    /// The bytes.
    pub bytes: Vec<u8>,
    /// Their SHA-256 (hex).
    pub sha256: String,
    /// Suggested file name.
    pub file_name: String,
}

/// A register entry as shown (5.4).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ExportView {
    /// Id.
    pub id: String,
    /// `json` or `pdf`.
    pub format: String,
    /// SHA-256 (hex).
    pub sha256: String,
    /// Bytes.
    pub size: i64,
    /// When.
    pub at: DateTime<Utc>,
    /// `subject` or `employee` (who made it; never a name).
    pub by: String,
}

/// The personal cabinet service. Cheap to clone.
#[derive(Clone)]
pub struct Cabinet {
    inner: Arc<Inner>,
}

struct Inner {
    consent: ConsentService,
    sms: Arc<dyn SmsGateway>,
    settings: CabinetSettings,
    indexer: BlindIndexer,
}

fn invalid(reason: &'static str) -> ServiceError {
    ServiceError::InvalidRequest(reason)
}

fn b64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Constant-time equality of two byte strings.
fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn plain_text(s: &str) -> bool {
    !s.trim().is_empty()
        && s.chars().count() <= MAX_REQUEST_TEXT
        && !s
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
}

/// A JSON value as one line of text for the printed report.
pub fn value_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => String::new(),
        serde_json::Value::Object(map) => map
            .iter()
            .filter(|(_, x)| !x.is_null())
            .map(|(k, x)| format!("{k}: {}", value_text(x)))
            .collect::<Vec<_>>()
            .join(", "),
        serde_json::Value::Array(a) => a.iter().map(value_text).collect::<Vec<_>>().join("; "),
        other => other.to_string(),
    }
}

impl Cabinet {
    /// The cabinet over the consent service (and its vault), sending codes through `sms`.
    pub fn new(
        consent: ConsentService,
        sms: Arc<dyn SmsGateway>,
        settings: CabinetSettings,
    ) -> Cabinet {
        let indexer = consent.vault().keys().blind_indexer();
        Cabinet {
            inner: Arc::new(Inner {
                consent,
                sms,
                settings,
                indexer,
            }),
        }
    }

    /// The same cabinet (store, keys, settings) sending through another gateway — for
    /// benchmarks and tools that need to read the code they caused.
    pub fn new_for_bench(other: &Cabinet, sms: Arc<dyn SmsGateway>) -> Cabinet {
        Cabinet::new(
            other.inner.consent.clone(),
            sms,
            other.inner.settings.clone(),
        )
    }

    /// The settings in force.
    pub fn settings(&self) -> &CabinetSettings {
        &self.inner.settings
    }

    fn vault(&self) -> &Vault {
        self.inner.consent.vault()
    }

    fn store(&self) -> &Arc<dyn Store> {
        self.vault().store()
    }

    fn now(&self) -> DateTime<Utc> {
        self.vault().now()
    }

    async fn audit(&self, entries: Vec<derbes_audit::EntryFields>) -> Result<(), ServiceError> {
        self.vault().append(entries).await
    }

    #[allow(clippy::too_many_arguments)]
    fn entry(
        &self,
        actor: &str,
        action: Action,
        outcome: Outcome,
        subject: Option<Uuid>,
        purpose: &str,
        categories: Vec<String>,
        rule: &str,
        detail: Option<String>,
    ) -> derbes_audit::EntryFields {
        entry(
            to_micros(self.now()),
            actor,
            action,
            outcome,
            subject.map(|s| s.to_string()),
            Some(purpose),
            categories,
            Some(rule.to_string()),
            detail,
        )
    }

    // ------------------------------------------------------------------ login (7.1b)

    /// Count one use of a throttling key; `RateLimited` when over `limit` in the window.
    async fn throttle(&self, key: &[u8], limit: i64) -> Result<(), ServiceError> {
        let now = self.now();
        let floor = to_micros(now - self.inner.settings.send_window);
        let r = self
            .store()
            .record_failure(key, to_micros(now), floor)
            .await?;
        if r.failures > limit {
            return Err(ServiceError::RateLimited);
        }
        Ok(())
    }

    /// Count one application from `client` through the cabinet's form (6.1);
    /// `RateLimited` when the address sent more than `applications_per_ip` in the window, so
    /// the form cannot be used to create borrowers, or fill the audit log with refusals, in
    /// bulk. The key is a keyed hash of the address, never the address.
    pub async fn throttle_application(&self, client: Option<IpAddr>) -> Result<(), ServiceError> {
        let Some(ip) = client else {
            return Ok(());
        };
        let key = self
            .inner
            .indexer
            .index("cabinet_apply_ip", &ip.to_string());
        self.throttle(&key, self.inner.settings.applications_per_ip)
            .await
    }

    fn code_hash(&self, challenge: &str, code: &str) -> Vec<u8> {
        self.inner
            .indexer
            .index("cabinet_otp_code", &format!("{challenge}:{code}"))
            .to_vec()
    }

    /// Step 1: send a code to `phone` (7.1b). The answer is the same whether or not the phone
    /// belongs to a subject; only a registered phone gets an SMS.
    pub async fn request_code(
        &self,
        phone: &str,
        client: Option<IpAddr>,
        lang: Lang,
    ) -> Result<CodeChallenge, ServiceError> {
        let def = self
            .vault()
            .registry()
            .category("mobile_phone")
            .ok_or(ServiceError::Unavailable)?;
        let parsed = def
            .parse_value(&serde_json::Value::String(phone.to_string()))
            .map_err(|_| ServiceError::InvalidInput("phone"))?;
        let key = parsed
            .blind_key()
            .ok_or(ServiceError::InvalidInput("phone"))?;
        if let Some(ip) = client {
            let ip_key = self.inner.indexer.index("cabinet_otp_ip", &ip.to_string());
            self.throttle(&ip_key, self.inner.settings.sends_per_ip)
                .await?;
        }
        let phone_key = self.inner.indexer.index("cabinet_otp_phone", &key);
        self.throttle(&phone_key, self.inner.settings.sends_per_phone)
            .await?;
        let hash = self.inner.indexer.blind_index("mobile_phone", &key);
        let found = self.store().load_by_index("mobile_phone", &hash).await?;
        let subject = found.first().map(|(s, _)| s.id);

        let now = self.now();
        let challenge_id = Uuid::new_v4().to_string();
        let code = format!("{:06}", rand::rngs::OsRng.gen_range(0..1_000_000u32));
        let code_hash = if subject.is_some() {
            self.code_hash(&challenge_id, &code)
        } else {
            // No code can match: a random 32-byte string, not the HMAC of any code.
            let mut b = vec![0u8; 32];
            rand::rngs::OsRng.fill_bytes(&mut b);
            b
        };
        let expires_at = now + self.inner.settings.code_ttl;
        self.store()
            .insert_otp(&OtpRecord {
                id: challenge_id.clone(),
                subject_id: subject,
                code_hash,
                created_at: to_micros(now),
                expires_at: to_micros(expires_at),
                attempts: 0,
                used_at: None,
            })
            .await?;
        self.audit(vec![self.entry(
            "cabinet",
            Action::from_stored("otp_sent"),
            Outcome::Allowed,
            subject.map(Uuid::from_bytes),
            "identification",
            Vec::new(),
            "cabinet_login:7.1b",
            Some(
                if subject.is_some() {
                    "sent"
                } else {
                    "no_subject"
                }
                .into(),
            ),
        )])
        .await?;
        if subject.is_some() {
            let sms = self.inner.sms.clone();
            let text = code_message(lang, &code);
            tokio::spawn(async move {
                if let Err(e) = sms.send(&key, &text).await {
                    tracing::warn!(code = e.code(), gateway = sms.kind(), "SMS not sent");
                }
            });
        }
        Ok(CodeChallenge {
            challenge_id,
            expires_at,
            max_attempts: self.inner.settings.max_attempts,
        })
    }

    /// Step 2: the code. A right code (once, in time, within the attempts) gives a session;
    /// every refusal is `invalid_credentials`.
    pub async fn verify_code(
        &self,
        challenge_id: &str,
        code: &str,
    ) -> Result<NewSubjectSession, ServiceError> {
        let refuse = || ServiceError::InvalidCredentials;
        if challenge_id.len() > 64 || code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(refuse());
        }
        let now = self.now();
        let now_us = to_micros(now);
        let Some(c) = self.store().otp_attempt(challenge_id).await? else {
            return Err(refuse());
        };
        let expected = self.code_hash(challenge_id, code);
        let ok = c.attempts <= self.inner.settings.max_attempts
            && c.expires_at > now_us
            && ct_eq(&expected, &c.code_hash);
        let subject = match (ok, c.subject_id) {
            (true, Some(s)) => s,
            _ => {
                self.audit(vec![self.entry(
                    "cabinet",
                    Action::LOGIN_FAILED,
                    Outcome::Denied,
                    c.subject_id.map(Uuid::from_bytes),
                    "identification",
                    Vec::new(),
                    "cabinet_login:7.1b",
                    Some("bad_code".into()),
                )])
                .await?;
                return Err(refuse());
            }
        };
        if !self.store().use_otp(challenge_id, now_us).await? {
            return Err(refuse());
        }
        let mut raw = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut raw);
        let token = format!("{SUBJECT_TOKEN_PREFIX}{}", b64url(&raw));
        let expires_at = now + self.inner.settings.session_absolute;
        self.store()
            .insert_subject_session(&SubjectSessionRecord {
                token_hash: token_hash(&token),
                subject_id: subject,
                created_at: now_us,
                last_seen_at: now_us,
                expires_at: to_micros(expires_at),
                revoked_at: None,
            })
            .await?;
        let id = Uuid::from_bytes(subject);
        self.audit(vec![self.entry(
            &format!("subject:{id}"),
            Action::LOGIN,
            Outcome::Allowed,
            Some(id),
            "identification",
            Vec::new(),
            "cabinet_login:7.1b",
            None,
        )])
        .await?;
        Ok(NewSubjectSession {
            csrf_token: self.csrf_token(&token),
            token,
            expires_at,
            idle_seconds: self.inner.settings.session_idle.num_seconds(),
        })
    }

    /// The CSRF token of a session: an HMAC of its token (nothing to store).
    pub fn csrf_token(&self, token: &str) -> String {
        b64url(&self.inner.indexer.index("cabinet_csrf", token))
    }

    /// Check a presented CSRF token against the session token (constant time).
    pub fn verify_csrf(&self, token: &str, presented: &str) -> Result<(), ServiceError> {
        if ct_eq(self.csrf_token(token).as_bytes(), presented.as_bytes()) {
            Ok(())
        } else {
            Err(ServiceError::CsrfFailed)
        }
    }

    /// The session of a token, or `unauthenticated` (unknown, revoked, idle or expired).
    pub async fn authenticate(&self, token: &str) -> Result<SubjectSession, ServiceError> {
        if !token.starts_with(SUBJECT_TOKEN_PREFIX) || token.len() > 128 {
            return Err(ServiceError::Unauthenticated);
        }
        let now_us = to_micros(self.now());
        let hash = token_hash(token);
        let s = self
            .store()
            .subject_session(&hash)
            .await?
            .ok_or(ServiceError::Unauthenticated)?;
        if s.revoked_at.is_some() || s.expires_at <= now_us {
            return Err(ServiceError::Unauthenticated);
        }
        let idle_floor = to_micros(self.now() - self.inner.settings.session_idle);
        if s.last_seen_at <= idle_floor {
            self.store().revoke_subject_session(&hash, now_us).await?;
            let id = Uuid::from_bytes(s.subject_id);
            self.audit(vec![self.entry(
                &format!("subject:{id}"),
                Action::LOGOUT,
                Outcome::Allowed,
                Some(id),
                "identification",
                Vec::new(),
                "session:idle_timeout",
                Some("idle_timeout".into()),
            )])
            .await?;
            return Err(ServiceError::Unauthenticated);
        }
        self.store().touch_subject_session(&hash, now_us).await?;
        let id = Uuid::from_bytes(s.subject_id);
        Ok(SubjectSession {
            subject: id,
            actor: Actor::Subject { id },
        })
    }

    /// End a session (audited).
    pub async fn logout(&self, token: &str) -> Result<(), ServiceError> {
        let session = self.authenticate(token).await?;
        self.store()
            .revoke_subject_session(&token_hash(token), to_micros(self.now()))
            .await?;
        self.audit(vec![self.entry(
            &session.actor.id(),
            Action::LOGOUT,
            Outcome::Allowed,
            Some(session.subject),
            "identification",
            Vec::new(),
            "cabinet_login:7.1b",
            None,
        )])
        .await
    }

    // ------------------------------------------------------------------ my data (7.1a)

    async fn subject_record(&self, id: Uuid) -> Result<SubjectRecord, ServiceError> {
        self.store()
            .subject(id.as_bytes())
            .await?
            .ok_or(ServiceError::SubjectNotFound)
    }

    /// When the business relationship ended (for retention from `relationship_end`):
    /// `Err(())` while a contract is unfulfilled.
    async fn relationship_end(&self, s: &SubjectRecord) -> Result<Result<i64, ()>, ServiceError> {
        let contracts = self.store().contracts_of(&s.id).await?;
        if contracts
            .iter()
            .any(|c| ContractStatus::parse(&c.status).is_none_or(|st| st.is_unfulfilled()))
        {
            return Ok(Err(()));
        }
        let mut end = contracts.iter().map(|c| c.status_at).max();
        if end.is_none() {
            let apps = self.store().loan_applications_of(&s.id).await?;
            end = apps.iter().map(|a| a.received_at).max();
        }
        Ok(Ok(end.unwrap_or(s.created_at)))
    }

    /// Everything held about the subject (7.1a), in `lang`. Audited as a read of every
    /// category under `requests` (L-RIGHTS); accesses under purposes hidden from the subject
    /// (`financial_monitoring`, L-TIPPING-OFF) are left out.
    pub async fn my_data(
        &self,
        session: &SubjectSession,
        lang: Lang,
    ) -> Result<MyData, ServiceError> {
        let data = self
            .gather(session, lang, self.inner.settings.access_page)
            .await?;
        let categories: Vec<String> = data.values.iter().map(|v| v.category.clone()).collect();
        self.audit(vec![self.entry(
            &session.actor.id(),
            Action::READ,
            Outcome::Allowed,
            Some(session.subject),
            REQUESTS_PURPOSE,
            categories,
            "subject_access:7.1a:L-RIGHTS",
            Some("my_data".into()),
        )])
        .await?;
        Ok(data)
    }

    /// One page of the accesses to the subject's data, older than `before` (7.1a, 8.1):
    /// role and purpose, never a name; never a hidden purpose (L-TIPPING-OFF). Audited as a
    /// read of the access log under `requests`.
    pub async fn access_page(
        &self,
        session: &SubjectSession,
        lang: Lang,
        before: u64,
    ) -> Result<AccessPage, ServiceError> {
        let (items, before) = self
            .accesses(
                session.subject,
                lang,
                Some(before),
                self.inner.settings.access_page,
            )
            .await?;
        self.audit(vec![self.entry(
            &session.actor.id(),
            Action::READ,
            Outcome::Allowed,
            Some(session.subject),
            REQUESTS_PURPOSE,
            Vec::new(),
            "subject_access:7.1a:L-RIGHTS",
            Some("access_log".into()),
        )])
        .await?;
        Ok(AccessPage { items, before })
    }

    /// Everything held about the subject, with at most `accesses` access entries; not audited
    /// (the caller records the read or the export).
    async fn gather(
        &self,
        session: &SubjectSession,
        lang: Lang,
        accesses: i64,
    ) -> Result<MyData, ServiceError> {
        let id = session.subject;
        let call = session.call();
        let s = self.subject_record(id).await?;
        let loaded = self
            .store()
            .subject_with_values(&s.id)
            .await?
            .ok_or(ServiceError::SubjectNotFound)?;
        let views = self.vault().all_values_for_subject(&loaded)?;
        let registry = self.vault().registry();
        let consents = self.inner.consent.consents(&call, id).await?;
        let now = self.now();
        let now_us = to_micros(now);
        let rel_end = self.relationship_end(&s).await?;
        let last_consent = consents.history.iter().map(|e| to_micros(e.at)).max();
        let granted: HashMap<String, bool> = consents
            .purposes
            .iter()
            .map(|p| (p.purpose.clone(), p.granted))
            .collect();

        let mut values = Vec::with_capacity(views.len());
        for v in views {
            let def = registry.category(&v.category);
            let masked = def
                .and_then(|d| d.parse_value(&v.value).ok())
                .map(|x| match &x {
                    derbes_core::value::Value::Email(e) => {
                        derbes_access::mask::mask_email(e.as_str())
                    }
                    other => other.masked(),
                })
                .unwrap_or_else(|| "***".to_string());
            let purposes = registry
                .purposes_for(&v.category)
                .filter(|p| p.subject_visible) // L-TIPPING-OFF
                .map(|p| PurposeUse {
                    code: p.code.to_string(),
                    name: p.name.get(lang).to_string(),
                    legal_basis: p.legal_basis.as_str().to_string(),
                    clause: p.clause.clone(),
                    consent_granted: granted.get(p.code.as_str()).copied(),
                })
                .collect();
            let mut rules = Vec::new();
            let mut open = false;
            let mut latest: Option<i64> = None;
            for r in registry.retention_for(&v.category) {
                let from = match r.from {
                    RetentionFrom::Collection => Some(to_micros(v.obtained_at)),
                    RetentionFrom::Consent => last_consent,
                    RetentionFrom::RelationshipEnd => match rel_end {
                        Ok(t) => Some(t),
                        Err(()) => {
                            open = true;
                            None
                        }
                    },
                };
                let until = from.map(|t| add_years(from_micros(t), r.years));
                if let Some(u) = until {
                    latest = Some(latest.map_or(to_micros(u), |l| l.max(to_micros(u))));
                }
                rules.push(RetentionRuleView {
                    code: r.code.clone(),
                    name: r.name.get(lang).to_string(),
                    years: r.years,
                    from: r.from.as_str().to_string(),
                    law: r.law.clone(),
                    clause: r.clause.clone(),
                    until,
                });
            }
            values.push(HeldValue {
                name: def
                    .map(|d| d.name.get(lang).to_string())
                    .unwrap_or_else(|| v.category.clone()),
                category: v.category,
                value: v.value,
                masked,
                source: v.source,
                obtained_at: v.obtained_at,
                recorded_at: v.recorded_at,
                version: v.version,
                purposes,
                retention: RetentionView {
                    rules,
                    destruction_date: if open { None } else { latest.map(from_micros) },
                    status: if open {
                        "after_contract_end"
                    } else {
                        "planned"
                    }
                    .to_string(),
                },
            });
        }

        let policies_accepted = consents
            .history
            .iter()
            .filter(|e| e.scope == "policy" && e.decision == Decision::Granted)
            .map(|e| AcceptedPolicy {
                version: e.policy_version,
                at: e.at,
                lang: e.lang.clone(),
                channel: e.channel.as_str().to_string(),
            })
            .collect();
        let operator = consents
            .history
            .last()
            .map(|e| format!("{} (BIN {})", e.operator_name, e.operator_bin));
        let (accesses, accesses_before) = self.accesses(id, lang, None, accesses).await?;
        let requests = self.requests_of(&s).await?;
        Ok(MyData {
            subject: id,
            lang: lang.as_str().to_string(),
            generated_at: from_micros(now_us),
            registry_version: registry.version().to_string(),
            operator,
            values,
            methods: methods(lang),
            policies_accepted,
            consents,
            transfers: TransfersView {
                items: Vec::new(),
                note: Some("transfer_register_not_available".into()),
            },
            accesses,
            accesses_before,
            requests,
        })
    }

    /// Who accessed the subject's data: role and purpose, never a name (7.1a, 8.1); entries
    /// of purposes hidden from the subject are left out (L-TIPPING-OFF).
    /// At most `limit` of them, older than `before` when given, newest first, and the `before`
    /// of the next page when there are older ones.
    async fn accesses(
        &self,
        id: Uuid,
        lang: Lang,
        mut before: Option<u64>,
        limit: i64,
    ) -> Result<(Vec<AccessView>, Option<u64>), ServiceError> {
        let subject = id.to_string();
        let want = usize::try_from(limit.max(0)).unwrap_or(0);
        let mut roles: HashMap<String, Option<String>> = HashMap::new();
        let mut out = Vec::with_capacity(want.min(1024));
        // Hidden entries are skipped, so a page may need more than one fetch; one entry more
        // than is shown tells whether older ones exist.
        let fetch = limit.max(0).saturating_add(1);
        loop {
            let entries = match before {
                None => self.store().audit_for_subject(&subject, fetch).await?,
                Some(b) => {
                    self.store()
                        .audit_for_subject_before(&subject, b, fetch)
                        .await?
                }
            };
            let exhausted = (entries.len() as i64) < fetch;
            for e in entries {
                before = Some(e.seq);
                if out.len() == want {
                    // An older visible entry may exist: the next page starts after the last shown.
                    let last = out.last().map(|a: &AccessView| a.seq);
                    if self.visible(&e) {
                        return Ok((out, last));
                    }
                    continue;
                }
                if let Some(view) = self.access_view(&e, lang, &mut roles).await? {
                    out.push(view);
                }
            }
            if exhausted {
                break;
            }
        }
        Ok((out, None))
    }

    /// Whether the subject may see this entry (L-TIPPING-OFF).
    fn visible(&self, e: &AuditEntry) -> bool {
        e.purpose
            .as_deref()
            .and_then(|p| self.vault().registry().purpose(p))
            .is_none_or(|p| p.subject_visible)
    }

    /// One entry as the subject sees it; `None` for an entry hidden from them.
    async fn access_view(
        &self,
        e: &AuditEntry,
        lang: Lang,
        roles: &mut HashMap<String, Option<String>>,
    ) -> Result<Option<AccessView>, ServiceError> {
        if !self.visible(e) {
            return Ok(None); // L-TIPPING-OFF
        }
        let pdef = e
            .purpose
            .as_deref()
            .and_then(|p| self.vault().registry().purpose(p));
        let actor = e.actor.as_str();
        let (kind, role) = if let Some(emp) = actor.strip_prefix("employee:") {
            let role = match roles.get(emp) {
                Some(r) => r.clone(),
                None => {
                    let r = self.store().employee(emp).await?.map(|r| r.role);
                    roles.insert(emp.to_string(), r.clone());
                    r
                }
            };
            ("employee", role)
        } else if actor.starts_with("api_key:") {
            ("lender_system", None)
        } else if actor.starts_with("subject:") {
            ("subject", None)
        } else {
            ("derbes", None)
        };
        Ok(Some(AccessView {
            seq: e.seq,
            at: from_micros(e.at),
            actor_kind: kind.to_string(),
            role,
            action: e.action.as_str().to_string(),
            purpose_name: pdef.map(|p| p.name.get(lang).to_string()),
            purpose: e.purpose.clone(),
            categories: e.categories.clone(),
            outcome: e.outcome.as_str().to_string(),
        }))
    }

    // ------------------------------------------------------------------ exports (7.1b, 5.4)

    /// Make an export of the subject's data, register it (5.4: id, pseudonym, format,
    /// SHA-256, time, who) and audit it.
    pub async fn export(
        &self,
        session: &SubjectSession,
        format: ExportFormat,
        lang: Lang,
    ) -> Result<Export, ServiceError> {
        // The export's own audit entry (below) records what left; no separate read entry.
        let data = self
            .gather(session, lang, self.inner.settings.access_log_limit)
            .await?;
        let export_id = Uuid::now_v7().to_string();
        let bytes = match format {
            ExportFormat::Json => {
                serde_json::to_vec_pretty(&data).map_err(|_| ServiceError::Unavailable)?
            }
            ExportFormat::Pdf => {
                let report = crate::report::subject_report(&data, lang, &export_id);
                derbes_report::render_pdf(&report).map_err(|e| {
                    tracing::error!(code = e.code(), "report rendering failed");
                    ServiceError::Unavailable
                })?
            }
        };
        self.register_export(session, &data, format, &export_id, bytes)
            .await
    }

    async fn register_export(
        &self,
        session: &SubjectSession,
        data: &MyData,
        format: ExportFormat,
        export_id: &str,
        bytes: Vec<u8>,
    ) -> Result<Export, ServiceError> {
        let digest = Sha256::digest(&bytes);
        let actor = session.actor.id();
        let record = ExportRecord {
            id: export_id.to_string(),
            subject: session.subject.to_string(),
            format: format.as_str().to_string(),
            sha256: digest.to_vec(),
            size: i64::try_from(bytes.len()).unwrap_or(i64::MAX),
            at: to_micros(self.now()),
            actor: actor.clone(),
            purpose: REQUESTS_PURPOSE.to_string(),
        };
        let entry = self.entry(
            &actor,
            Action::EXPORT,
            Outcome::Allowed,
            Some(session.subject),
            REQUESTS_PURPOSE,
            data.values.iter().map(|v| v.category.clone()).collect(),
            "export_register:5.4:7.1b",
            Some(format!("export:{export_id}:{}", format.as_str())),
        );
        // The register row and its audit entry commit together (one fsync); with the audit
        // log off (benchmarks only) the row alone.
        let audit = if self.vault().audit_on() {
            vec![entry]
        } else {
            Vec::new()
        };
        self.store().insert_export(&record, &audit).await?;
        Ok(Export {
            id: export_id.to_string(),
            format,
            sha256: hex::encode(digest),
            file_name: format!(
                "derbes-{}-{}.{}",
                data.generated_at.format("%Y%m%d"),
                &export_id[..8.min(export_id.len())],
                format.as_str()
            ),
            bytes,
        })
    }

    /// The register of the subject's exports (5.4).
    pub async fn exports(&self, session: &SubjectSession) -> Result<Vec<ExportView>, ServiceError> {
        let rows = self
            .store()
            .exports_of(&session.subject.to_string())
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| ExportView {
                id: r.id,
                format: r.format,
                sha256: hex::encode(&r.sha256),
                size: r.size,
                at: from_micros(r.at),
                by: r
                    .actor
                    .split_once(':')
                    .map_or("derbes", |(k, _)| k)
                    .to_string(),
            })
            .collect())
    }

    // ------------------------------------------------------------------ requests (7.1a, c, d)

    fn seal(&self, s: &SubjectRecord, label: &str, plain: &[u8]) -> Result<Vec<u8>, ServiceError> {
        let dek = self.vault().keys().unwrap_dek(
            &s.id,
            &WrappedDek {
                kek_version: s.kek_version,
                bytes: s.wrapped_dek.clone(),
            },
        )?;
        Ok(dek.encrypt(&FieldAad::new(&s.id, label, s.dek_version), plain)?)
    }

    fn open(
        &self,
        s: &SubjectRecord,
        label: &str,
        dek_version: u32,
        sealed: &[u8],
    ) -> Result<Vec<u8>, ServiceError> {
        let dek = self.vault().keys().unwrap_dek(
            &s.id,
            &WrappedDek {
                kek_version: s.kek_version,
                bytes: s.wrapped_dek.clone(),
            },
        )?;
        Ok(dek
            .decrypt(&FieldAad::new(&s.id, label, dek_version), sealed)?
            .to_vec())
    }

    fn working_days(&self, kind: RequestKind) -> u32 {
        match kind {
            RequestKind::Correction | RequestKind::Blocking | RequestKind::Destruction => {
                RIGHTS_WORKING_DAYS
            }
            RequestKind::Complaint | RequestKind::Question => {
                self.inner.settings.info_request_working_days
            }
        }
    }

    fn request_view(
        &self,
        s: &SubjectRecord,
        r: &SubjectRequestRecord,
    ) -> Result<RequestView, ServiceError> {
        let body: RequestBody =
            serde_json::from_slice(&self.open(s, REQUEST_LABEL, r.dek_version, &r.body)?)
                .map_err(|_| ServiceError::Integrity)?;
        let answer = match &r.answer {
            Some(a) => Some(
                String::from_utf8(self.open(s, ANSWER_LABEL, r.dek_version, a)?)
                    .map_err(|_| ServiceError::Integrity)?,
            ),
            None => None,
        };
        let kind = RequestKind::parse(&r.kind).ok_or(ServiceError::Integrity)?;
        Ok(RequestView {
            id: r.id.clone(),
            number: r.number(),
            kind,
            status: RequestStatus::parse(&r.status).ok_or(ServiceError::Integrity)?,
            text: body.text,
            category: r.category.clone(),
            proposed_value: body.proposed_value,
            received_at: from_micros(r.received_at),
            deadline: from_micros(r.deadline_at),
            deadline_date: r.deadline_date.clone(),
            working_days: self.working_days(kind),
            calendar_version: r.calendar_version.clone(),
            updated_at: from_micros(r.updated_at),
            reason: r.reason.clone(),
            answer,
        })
    }

    async fn requests_of(&self, s: &SubjectRecord) -> Result<Vec<RequestView>, ServiceError> {
        let rows = self.store().subject_requests_of(&s.id).await?;
        rows.iter().map(|r| self.request_view(s, r)).collect()
    }

    /// File a request (7.1a, L-RIGHTS): numbered, with its legal deadline in working days on
    /// the Kazakhstan calendar (1 for correction, blocking, destruction; the information-
    /// request setting otherwise). The text is sealed under the subject's data key.
    pub async fn file_request(
        &self,
        session: &SubjectSession,
        input: RequestInput,
    ) -> Result<RequestView, ServiceError> {
        if !plain_text(&input.text) {
            return Err(invalid("bad_request_text"));
        }
        let registry = self.vault().registry();
        match input.kind {
            RequestKind::Correction => {
                let cat = input
                    .category
                    .as_deref()
                    .ok_or(invalid("category_required"))?;
                let def = registry.category(cat).ok_or(invalid("unknown_category"))?;
                if let Some(v) = &input.proposed_value {
                    def.parse_value(v).map_err(|e| {
                        ServiceError::InvalidValues(vec![crate::FieldProblem {
                            item: None,
                            category: cat.to_string(),
                            code: e.code().to_string(),
                            detail: e.detail_code().map(str::to_string),
                        }])
                    })?;
                }
            }
            _ => {
                if input.category.is_some() || input.proposed_value.is_some() {
                    return Err(invalid("correction_fields_only"));
                }
            }
        }
        let s = self.subject_record(session.subject).await?;
        let now = self.now();
        let days = self.working_days(input.kind);
        let calendar = self.inner.consent.calendar();
        let body = serde_json::to_vec(&RequestBody {
            text: input.text,
            proposed_value: input.proposed_value,
        })
        .map_err(|_| ServiceError::Unavailable)?;
        let mut record = SubjectRequestRecord {
            id: Uuid::now_v7().to_string(),
            year: i64::from(derbes_core::calendar::to_almaty(now).year()),
            seq: 0,
            subject_id: s.id,
            kind: input.kind.as_str().to_string(),
            status: RequestStatus::Received.as_str().to_string(),
            body: self.seal(&s, REQUEST_LABEL, &body)?,
            dek_version: s.dek_version,
            category: input.category,
            received_at: to_micros(now),
            deadline_date: calendar
                .deadline_date(now, days)
                .format("%Y-%m-%d")
                .to_string(),
            deadline_at: to_micros(calendar.deadline(now, days)),
            calendar_version: calendar.version().to_string(),
            updated_at: to_micros(now),
            reason: None,
            answer: None,
            handled_by: None,
        };
        record.seq = self.store().insert_subject_request(&record).await?;
        self.audit(vec![self.entry(
            &session.actor.id(),
            Action::from_stored("subject_request"),
            Outcome::Allowed,
            Some(session.subject),
            REQUESTS_PURPOSE,
            record.category.iter().cloned().collect(),
            "subject_request:L-RIGHTS-DEADLINES",
            Some(format!("{}:{}", record.number(), record.kind)),
        )])
        .await?;
        self.request_view(&s, &record)
    }

    /// The subject's requests, newest first.
    pub async fn my_requests(
        &self,
        session: &SubjectSession,
    ) -> Result<Vec<RequestView>, ServiceError> {
        let s = self.subject_record(session.subject).await?;
        self.requests_of(&s).await
    }

    /// One of the subject's requests; another subject's id answers `record_not_found`, like
    /// an unknown one.
    pub async fn my_request(
        &self,
        session: &SubjectSession,
        id: &str,
    ) -> Result<RequestView, ServiceError> {
        let r = self
            .store()
            .subject_request(id)
            .await?
            .filter(|r| r.subject_id == *session.subject.as_bytes())
            .ok_or(ServiceError::RecordNotFound)?;
        let s = self.subject_record(session.subject).await?;
        self.request_view(&s, &r)
    }

    /// The subject's consents (7.1c, 7.1d).
    pub async fn consents(&self, session: &SubjectSession) -> Result<ConsentState, ServiceError> {
        self.inner
            .consent
            .consents(&session.call(), session.subject)
            .await
    }

    /// Give or refuse consent to publication in public sources (7.1d), under the policy
    /// version in force, with the web evidence.
    pub async fn set_publication(
        &self,
        session: &SubjectSession,
        granted: bool,
        lang: Lang,
        evidence: Evidence,
    ) -> Result<ConsentState, ServiceError> {
        let policy = self.inner.consent.current_policy_record().await?;
        let channel = if evidence.ip.is_some() && evidence.user_agent.is_some() {
            Channel::WebForm
        } else {
            Channel::Api
        };
        self.inner
            .consent
            .record_consents(
                &session.call(),
                session.subject,
                ConsentInput {
                    policy_version: policy.number,
                    lang: lang.as_str().to_string(),
                    channel,
                    evidence,
                    valid_until: None,
                    changes: vec![ConsentChange {
                        scope: "publication".into(),
                        decision: if granted {
                            Decision::Granted
                        } else {
                            Decision::Refused
                        },
                    }],
                },
            )
            .await
    }

    /// Withdraw consent (7.1c): refused with the reason while a contract is open.
    pub async fn withdraw(
        &self,
        session: &SubjectSession,
        lang: Lang,
        evidence: Evidence,
    ) -> Result<WithdrawalDecision, ServiceError> {
        self.inner
            .consent
            .withdraw(
                &session.call(),
                session.subject,
                WithdrawalInput {
                    channel: Channel::WebForm,
                    lang: Some(lang.as_str().to_string()),
                    evidence,
                },
            )
            .await
    }

    // ------------------------------------------------------------------ staff

    /// Check a staff call: the purpose `requests` (L-RIGHTS), which the actor may name; a
    /// refusal is audited.
    async fn staff(&self, call: &Call, subject: Option<Uuid>) -> Result<(), ServiceError> {
        let result = self
            .vault()
            .authorize(call, std::iter::empty())
            .and_then(|_| {
                if call.purpose == REQUESTS_PURPOSE && !matches!(call.actor, Actor::Subject { .. })
                {
                    Ok(())
                } else {
                    Err(ServiceError::PurposeNotPermitted)
                }
            });
        if let Err(e) = result {
            self.audit(vec![self.entry(
                &call.actor.id(),
                Action::DENIED,
                Outcome::Denied,
                subject,
                &call.purpose,
                Vec::new(),
                "purpose:1.1",
                Some(e.code().to_string()),
            )])
            .await?;
            return Err(e);
        }
        Ok(())
    }

    fn staff_view(
        &self,
        s: &SubjectRecord,
        r: &SubjectRequestRecord,
        now_us: i64,
    ) -> Result<StaffRequestView, ServiceError> {
        let open = matches!(r.status.as_str(), "received" | "in_progress");
        Ok(StaffRequestView {
            subject: Uuid::from_bytes(r.subject_id),
            overdue: open && r.deadline_at < now_us,
            request: self.request_view(s, r)?,
        })
    }

    /// Requests for staff, by deadline (`status`: one status, or all). Audited.
    pub async fn list_requests(
        &self,
        call: &Call,
        status: Option<RequestStatus>,
        limit: i64,
    ) -> Result<Vec<StaffRequestView>, ServiceError> {
        self.staff(call, None).await?;
        let rows = self
            .store()
            .subject_requests(status.map(RequestStatus::as_str), limit.clamp(1, 500))
            .await?;
        let now_us = to_micros(self.now());
        let mut subjects: BTreeMap<SubjectId, SubjectRecord> = BTreeMap::new();
        let mut out = Vec::with_capacity(rows.len());
        let mut entries = Vec::new();
        for r in &rows {
            let s = match subjects.get(&r.subject_id) {
                Some(s) => s.clone(),
                None => {
                    let s = self
                        .store()
                        .subject(&r.subject_id)
                        .await?
                        .ok_or(ServiceError::SubjectNotFound)?;
                    subjects.insert(r.subject_id, s.clone());
                    s
                }
            };
            out.push(self.staff_view(&s, r, now_us)?);
            entries.push(self.entry(
                &call.actor.id(),
                Action::READ,
                Outcome::Allowed,
                Some(Uuid::from_bytes(r.subject_id)),
                REQUESTS_PURPOSE,
                Vec::new(),
                "subject_request:L-RIGHTS",
                Some(r.number()),
            ));
        }
        if entries.is_empty() {
            entries.push(self.entry(
                &call.actor.id(),
                Action::SEARCH,
                Outcome::Allowed,
                None,
                REQUESTS_PURPOSE,
                Vec::new(),
                "subject_request:L-RIGHTS",
                Some("no_match".into()),
            ));
        }
        self.audit(entries).await?;
        Ok(out)
    }

    /// One request, for staff. Audited.
    pub async fn get_request(
        &self,
        call: &Call,
        id: &str,
    ) -> Result<StaffRequestView, ServiceError> {
        self.staff(call, None).await?;
        let r = self
            .store()
            .subject_request(id)
            .await?
            .ok_or(ServiceError::RecordNotFound)?;
        let s = self.subject_record(Uuid::from_bytes(r.subject_id)).await?;
        let view = self.staff_view(&s, &r, to_micros(self.now()))?;
        self.audit(vec![self.entry(
            &call.actor.id(),
            Action::READ,
            Outcome::Allowed,
            Some(view.subject),
            REQUESTS_PURPOSE,
            Vec::new(),
            "subject_request:L-RIGHTS",
            Some(r.number()),
        )])
        .await?;
        Ok(view)
    }

    /// Move a request on (received → in_progress → answered/done/refused with a reason).
    /// Audited; a move from a closed status is `request_wrong_status`.
    pub async fn update_request(
        &self,
        call: &Call,
        id: &str,
        input: RequestUpdateInput,
    ) -> Result<StaffRequestView, ServiceError> {
        self.staff(call, None).await?;
        if input.status == RequestStatus::Received {
            return Err(invalid("bad_status"));
        }
        if input.status == RequestStatus::Refused {
            let ok = input.reason.as_deref().is_some_and(|r| {
                !r.is_empty()
                    && r.len() <= 64
                    && r.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
            });
            if !ok {
                return Err(invalid("reason_required"));
            }
        } else if input.reason.is_some() {
            return Err(invalid("reason_only_for_refusal"));
        }
        if input.answer.as_deref().is_some_and(|a| !plain_text(a)) {
            return Err(invalid("bad_answer_text"));
        }
        let r = self
            .store()
            .subject_request(id)
            .await?
            .ok_or(ServiceError::RecordNotFound)?;
        let s = self.subject_record(Uuid::from_bytes(r.subject_id)).await?;
        let answer = match &input.answer {
            Some(a) => Some(self.open_or_seal_answer(&s, r.dek_version, a)?),
            None => None,
        };
        let now_us = to_micros(self.now());
        let applied = self
            .store()
            .update_subject_request(
                id,
                &RequestUpdate {
                    status: input.status.as_str().to_string(),
                    from: input
                        .status
                        .allowed_predecessors()
                        .iter()
                        .map(|s| s.to_string())
                        .collect(),
                    reason: input.reason.clone(),
                    answer,
                    handled_by: call.actor.id(),
                    at: now_us,
                },
            )
            .await
            .map_err(|e| match e {
                derbes_store::StoreError::NotFound => ServiceError::RecordNotFound,
                other => other.into(),
            })?;
        if !applied {
            return Err(ServiceError::RequestWrongStatus(r.status.clone()));
        }
        self.audit(vec![self.entry(
            &call.actor.id(),
            Action::from_stored("subject_request_status"),
            Outcome::Allowed,
            Some(Uuid::from_bytes(r.subject_id)),
            REQUESTS_PURPOSE,
            Vec::new(),
            "subject_request:L-RIGHTS-DEADLINES",
            Some(format!("{}:{}", r.number(), input.status.as_str())),
        )])
        .await?;
        let r = self
            .store()
            .subject_request(id)
            .await?
            .ok_or(ServiceError::RecordNotFound)?;
        self.staff_view(&s, &r, now_us)
    }

    /// The answer sealed under the data-key generation of the request (so `dek_version`
    /// covers both body and answer).
    fn open_or_seal_answer(
        &self,
        s: &SubjectRecord,
        dek_version: u32,
        answer: &str,
    ) -> Result<Vec<u8>, ServiceError> {
        if dek_version != s.dek_version {
            return Err(ServiceError::Integrity);
        }
        self.seal(s, ANSWER_LABEL, answer.as_bytes())
    }

    /// Make an export on behalf of a subject by staff (e.g. a paper copy handed over at a
    /// branch); registered with the employee as the maker (5.4).
    pub async fn staff_export(
        &self,
        call: &Call,
        subject: Uuid,
        format: ExportFormat,
        lang: Lang,
    ) -> Result<Export, ServiceError> {
        self.staff(call, Some(subject)).await?;
        let session = SubjectSession {
            subject,
            actor: Actor::Subject { id: subject },
        };
        let data = self
            .gather(&session, lang, self.inner.settings.access_log_limit)
            .await?;
        let export_id = Uuid::now_v7().to_string();
        let bytes = match format {
            ExportFormat::Json => {
                serde_json::to_vec_pretty(&data).map_err(|_| ServiceError::Unavailable)?
            }
            ExportFormat::Pdf => {
                derbes_report::render_pdf(&crate::report::subject_report(&data, lang, &export_id))
                    .map_err(|_| ServiceError::Unavailable)?
            }
        };
        let staff_session = SubjectSession {
            subject,
            actor: call.actor.clone(),
        };
        self.register_export(&staff_session, &data, format, &export_id, bytes)
            .await
    }

    /// Housekeeping: forget challenges older than a day.
    pub async fn purge_challenges(&self) -> Result<u64, ServiceError> {
        Ok(self
            .store()
            .purge_otps(to_micros(self.now() - Duration::days(1)))
            .await?)
    }
}

/// `t` plus `years` calendar years (29 February → 28 February).
pub fn add_years(t: DateTime<Utc>, years: u32) -> DateTime<Utc> {
    let y = t.year() + i32::try_from(years).unwrap_or(0);
    t.with_year(y)
        .or_else(|| (t - Duration::days(1)).with_year(y))
        .unwrap_or(t)
}

/// The SMS text with the code, in the subject's language.
pub fn code_message(lang: Lang, code: &str) -> String {
    match lang {
        Lang::Ru => format!("Код для входа в личный кабинет: {code}. Никому его не сообщайте."),
        Lang::Kk => format!("Жеке кабинетке кіру коды: {code}. Оны ешкімге айтпаңыз."),
        Lang::En => format!("Your personal cabinet login code: {code}. Do not share it."),
    }
}

/// The processing methods (7.1a: "methods of collection and processing").
pub fn methods(lang: Lang) -> Vec<MethodView> {
    let items: [(&str, [&str; 3]); 4] = [
        (
            "automated",
            [
                "Автоматизированная обработка в информационной системе МФО; значения хранятся в зашифрованном виде.",
                "МҚҰ ақпараттық жүйесінде автоматтандырылған өңдеу; мәндер шифрланған түрде сақталады.",
                "Automated processing in the MFO's information system; values are stored encrypted.",
            ],
        ),
        (
            "collection_from_subject",
            [
                "Сбор у вас (заявка на сайте, личный кабинет, обращения).",
                "Сізден жинау (сайттағы өтінім, жеке кабинет, өтініштер).",
                "Collection from you (site application, personal cabinet, requests).",
            ],
        ),
        (
            "collection_from_third_parties",
            [
                "Получение от кредитных бюро, центра пенсионных выплат и иных организаций (источник указан у каждого значения).",
                "Кредиттік бюролардан, зейнетақы төлемдері орталығынан және өзге ұйымдардан алу (көзі әр мәнде көрсетілген).",
                "Receipt from credit bureaus, the pension payments centre and other organisations (the source is shown with each value).",
            ],
        ),
        (
            "mixed",
            [
                "Смешанная обработка: работники МФО с доступом по ролям и целям, каждое действие записывается в журнал.",
                "Аралас өңдеу: рөлдер мен мақсаттар бойынша қолжетімділігі бар МҚҰ қызметкерлері, әр әрекет журналға жазылады.",
                "Mixed processing: MFO employees with role- and purpose-based access; every action is logged.",
            ],
        ),
    ];
    let i = match lang {
        Lang::Ru => 0,
        Lang::Kk => 1,
        Lang::En => 2,
    };
    items
        .iter()
        .map(|(code, texts)| MethodView {
            code: (*code).to_string(),
            text: texts[i].to_string(),
        })
        .collect()
}

/// Whether a source kind is the subject themself (for the report).
pub fn from_subject(s: &Source) -> bool {
    s.kind == SourceKind::Subject
}
