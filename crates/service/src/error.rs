//! The service layer's one error enum, with stable codes. The web layer turns each into an
//! RFC 9457 problem (status, translated title and detail); nothing here ever carries a
//! personal value — only codes of categories, purposes and checks.

use derbes_crypto::CryptoError;
use derbes_store::StoreError;

/// One problem with one submitted value: which category, what is wrong (stable codes).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct FieldProblem {
    /// Index of the subject in a bulk request, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item: Option<usize>,
    /// The category code.
    pub category: String,
    /// What is wrong: e.g. `invalid_iin`, `unknown_category`, `category_not_allowed`.
    pub code: String,
    /// A finer reason, e.g. `iin_bad_check_digit`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// Why a call was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The call named no purpose or one that is not in the registry (clause 1.1).
    #[error("unknown purpose")]
    UnknownPurpose,
    /// The caller is not permitted to use this purpose.
    #[error("purpose not permitted for this client")]
    PurposeNotPermitted,
    /// Minimisation (clause 3.2): the purpose does not need these categories.
    #[error("categories not allowed for the purpose: {0:?}")]
    CategoryNotAllowed(Vec<String>),
    /// Submitted values are invalid; nothing was written.
    #[error("invalid values")]
    InvalidValues(Vec<FieldProblem>),
    /// Lookup by a category that has no blind index.
    #[error("category is not searchable")]
    NotSearchable,
    /// No such subject.
    #[error("subject not found")]
    SubjectNotFound,
    /// A unique value (e.g. IIN) is already held by another subject.
    #[error("a subject with this unique value already exists")]
    SubjectExists,
    /// A correction or supplement would give this subject a unique value (IIN, mobile number)
    /// that another subject already holds.
    #[error("a unique value is already held by another subject")]
    UniqueValueTaken,
    /// No signed checkpoint covers the entry, or no checkpoint has the size asked for.
    #[error("no audit proof available: {0}")]
    NoAuditProof(&'static str),
    /// A correction named a category with no current value.
    #[error("no current value to correct in category {0}")]
    ValueMissing(String),
    /// A supplement named a category that already has a value.
    #[error("category {0} already has a value; correct it instead")]
    ValueExists(String),
    /// The request holds nothing to do.
    #[error("empty request")]
    EmptyRequest,
    /// The request holds more items than one call may.
    #[error("too many items in one request (max {0})")]
    TooMany(usize),
    /// The API key is missing, unknown or revoked.
    #[error("authentication required")]
    Unauthenticated,
    /// A ciphertext or data key failed authentication: the database was altered or a value
    /// was moved between subjects or fields. Loud on purpose.
    #[error("integrity failure: stored data does not authenticate")]
    Integrity,
    /// The key file does not match the database (wrong or missing master key version).
    #[error("key ring does not match the database: {0}")]
    KeyMismatch(String),
    /// A cryptographic operation failed for a reason other than integrity.
    #[error("cryptography: {0}")]
    Crypto(CryptoError),
    /// The database failed.
    #[error("storage: {0}")]
    Store(StoreError),
    /// The service is shutting down.
    #[error("service unavailable")]
    Unavailable,
    /// A consent-based purpose (L-PURPOSE) was named for a subject without a current grant.
    #[error("no current consent of the subject for this purpose")]
    ConsentRequired,
    /// The subject withdrew consent (7.1c): only legal-obligation purposes may touch the data
    /// kept under a legal hold.
    #[error("processing blocked: the subject withdrew consent")]
    ProcessingBlocked,
    /// An application without consent to the current policy (6.1); nothing was stored.
    #[error("consent to the policy is required")]
    PolicyConsentRequired,
    /// The consent names a policy version that is not the one in force.
    #[error("the policy version given is not the one in force")]
    PolicyVersionNotCurrent,
    /// No such policy version (or none in force yet).
    #[error("policy version not found")]
    PolicyNotFound,
    /// A request of the consent, loan or policy API is invalid (the reason is a code).
    #[error("invalid request: {0}")]
    InvalidRequest(&'static str),
    /// No such application, offer, contract or consent record.
    #[error("record not found")]
    RecordNotFound,
    /// A record with this reference already exists (or is already in that state).
    #[error("record already exists")]
    RecordExists,
    /// The application is no longer open (submitted, expired or purged).
    #[error("application is not open")]
    ApplicationClosed,
    /// Clause 4.3: the employee has no confidentiality undertaking in force.
    #[error("no confidentiality undertaking in force")]
    NoUndertaking,
    /// Login refused: wrong login, password or code, locked, or disabled — one answer for
    /// all, so the answer never tells whether an account exists.
    #[error("invalid credentials")]
    InvalidCredentials,
    /// The employee's role does not allow this action.
    #[error("the role does not allow this action")]
    RoleNotPermitted,
    /// No such employee.
    #[error("employee not found")]
    EmployeeNotFound,
    /// The login is taken by another employee.
    #[error("login already taken")]
    LoginTaken,
    /// An employee-management input is invalid (the field is named, never its value).
    #[error("invalid input: {0}")]
    InvalidInput(&'static str),
    /// A state-changing form came without the session's CSRF token.
    #[error("CSRF token missing or wrong")]
    CsrfFailed,
    /// No such incident (clause 5.5).
    #[error("incident not found")]
    IncidentNotFound,
    /// The incident's status does not allow the change (e.g. acknowledging a closed one).
    #[error("the incident is {0}")]
    IncidentWrongStatus(String),
    /// An incident status filter that is not `open`, `acknowledged` or `closed`.
    #[error("invalid incident status")]
    InvalidIncidentStatus,
    /// A note that is empty, longer than 2000 characters or holds control characters.
    #[error("invalid note")]
    InvalidNote,
    /// Clauses 4.1, 5.3: the access policy does not let this employee see these categories
    /// for this purpose (or not in clear, for a reveal or a write). `rule` names the deciding
    /// rule; no value is ever named.
    #[error("access denied by rule {rule}")]
    AccessDenied {
        /// The deciding rule (`@id` of the Cedar policy, `default-deny`, …).
        rule: String,
        /// The refused categories.
        categories: Vec<String>,
    },
    /// The access policy did not load; the policy in force is unchanged.
    #[error("access policy rejected: {0}")]
    AccessPolicyRejected(String),
    /// Too many one-time codes asked for one phone or from one address (7.1b); try later.
    #[error("too many requests; try again later")]
    RateLimited,
    /// A subject request's status does not allow the change (e.g. answering a refused one).
    #[error("the request is {0}")]
    RequestWrongStatus(String),
}

impl ServiceError {
    /// A stable machine-readable code (also the key of the translated messages).
    pub fn code(&self) -> &'static str {
        match self {
            ServiceError::UnknownPurpose => "unknown_purpose",
            ServiceError::PurposeNotPermitted => "purpose_not_permitted",
            ServiceError::CategoryNotAllowed(_) => "category_not_allowed",
            ServiceError::InvalidValues(_) => "invalid_values",
            ServiceError::NotSearchable => "not_searchable",
            ServiceError::SubjectNotFound => "subject_not_found",
            ServiceError::SubjectExists => "subject_exists",
            ServiceError::UniqueValueTaken => "unique_value_taken",
            ServiceError::NoAuditProof(_) => "no_audit_proof",
            ServiceError::ValueMissing(_) => "value_missing",
            ServiceError::ValueExists(_) => "value_exists",
            ServiceError::EmptyRequest => "empty_request",
            ServiceError::TooMany(_) => "too_many_items",
            ServiceError::Unauthenticated => "unauthenticated",
            ServiceError::Integrity => "integrity_failure",
            ServiceError::KeyMismatch(_) => "key_mismatch",
            ServiceError::Crypto(_) => "crypto_failure",
            ServiceError::Store(_) => "storage_failure",
            ServiceError::Unavailable => "unavailable",
            ServiceError::ConsentRequired => "consent_required",
            ServiceError::ProcessingBlocked => "processing_blocked",
            ServiceError::PolicyConsentRequired => "policy_consent_required",
            ServiceError::PolicyVersionNotCurrent => "policy_version_not_current",
            ServiceError::PolicyNotFound => "policy_not_found",
            ServiceError::InvalidRequest(_) => "invalid_request",
            ServiceError::RecordNotFound => "record_not_found",
            ServiceError::RecordExists => "record_exists",
            ServiceError::ApplicationClosed => "application_closed",
            ServiceError::NoUndertaking => "no_undertaking",
            ServiceError::InvalidCredentials => "invalid_credentials",
            ServiceError::RoleNotPermitted => "role_not_permitted",
            ServiceError::EmployeeNotFound => "employee_not_found",
            ServiceError::LoginTaken => "login_taken",
            ServiceError::InvalidInput(_) => "invalid_input",
            ServiceError::CsrfFailed => "csrf_failed",
            ServiceError::IncidentNotFound => "incident_not_found",
            ServiceError::IncidentWrongStatus(_) => "incident_wrong_status",
            ServiceError::InvalidIncidentStatus => "invalid_incident_status",
            ServiceError::InvalidNote => "invalid_note",
            ServiceError::AccessPolicyRejected(_) => "access_policy_rejected",
            ServiceError::AccessDenied { .. } => "access_denied",
            ServiceError::RateLimited => "rate_limited",
            ServiceError::RequestWrongStatus(_) => "request_wrong_status",
        }
    }
}

impl From<CryptoError> for ServiceError {
    fn from(e: CryptoError) -> Self {
        match e {
            CryptoError::Integrity => ServiceError::Integrity,
            other => ServiceError::Crypto(other),
        }
    }
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict => ServiceError::SubjectExists,
            StoreError::NotFound => ServiceError::SubjectNotFound,
            StoreError::Precondition {
                category,
                expected: "value exists",
            } => ServiceError::ValueMissing(category),
            StoreError::Precondition { category, .. } => ServiceError::ValueExists(category),
            other => ServiceError::Store(other),
        }
    }
}
