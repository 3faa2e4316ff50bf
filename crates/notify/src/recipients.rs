//! Who receives a notice, and in which language: asked at send time, never stored in the job.
//!
//! [`VaultRecipients`] reads the subject's current `email` through the vault under the
//! purpose `correspondence` (clause 1.1 (7): "sending correspondence … through electronic
//! messages"; its category map holds `email`), as the system actor `notices`; the vault
//! checks the purpose and minimisation and records the read in the audit log like any other.
//! [`SubjectLanguage`] gives the language; [`DefaultLanguage`] answers Russian for everyone
//! until the consent ledger's language (the language of the subject's latest policy consent)
//! is plugged in.

use async_trait::async_trait;
use derbes_core::email::Email;
use derbes_core::registry::Lang;
use derbes_service::{Actor, Call, ServiceError, Vault};
use derbes_store::SubjectId;
use uuid::Uuid;

/// The purpose under which notices read e-mail addresses.
pub const NOTICE_PURPOSE: &str = "correspondence";
/// The actor recorded in the audit log for those reads.
pub const NOTICE_ACTOR: &str = "notices";

/// Why a recipient could not be looked up. Codes only.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecipientError {
    /// The subject no longer exists.
    #[error("subject not found")]
    SubjectGone,
    /// The lookup failed (storage, integrity…): a stable code of the cause.
    #[error("recipient lookup failed: {0}")]
    Lookup(&'static str),
}

impl RecipientError {
    /// Stable code.
    pub fn code(&self) -> &'static str {
        match self {
            RecipientError::SubjectGone => "subject_not_found",
            RecipientError::Lookup(code) => code,
        }
    }
}

/// Gives a subject's e-mail address at send time.
#[async_trait]
pub trait Recipients: Send + Sync + 'static {
    /// The subject's current e-mail address, or `None` if it has none.
    async fn email(&self, subject: &SubjectId) -> Result<Option<Email>, RecipientError>;
}

/// Gives the language a subject is written to in.
#[async_trait]
pub trait SubjectLanguage: Send + Sync + 'static {
    /// The subject's language.
    async fn language(&self, subject: &SubjectId) -> Result<Lang, RecipientError>;
}

/// Russian for everyone (the policy's default language).
#[derive(Debug, Clone, Copy, Default)]
pub struct DefaultLanguage;

#[async_trait]
impl SubjectLanguage for DefaultLanguage {
    async fn language(&self, _subject: &SubjectId) -> Result<Lang, RecipientError> {
        Ok(Lang::Ru)
    }
}

/// The language of the subject's latest decision on the policy (the language the consent was
/// given in, L-CONSENT-1); Russian when the subject has none on record.
#[derive(Clone)]
pub struct ConsentLanguage {
    store: std::sync::Arc<dyn derbes_store::Store>,
}

impl ConsentLanguage {
    /// Over the store holding the consent ledger.
    pub fn new(store: std::sync::Arc<dyn derbes_store::Store>) -> ConsentLanguage {
        ConsentLanguage { store }
    }
}

#[async_trait]
impl SubjectLanguage for ConsentLanguage {
    async fn language(&self, subject: &SubjectId) -> Result<Lang, RecipientError> {
        let tag = self
            .store
            .subject_language(subject)
            .await
            .map_err(|e| RecipientError::Lookup(e.code()))?;
        Ok(tag.and_then(|t| Lang::parse(&t).ok()).unwrap_or_default())
    }
}

/// E-mail addresses from the vault, read under [`NOTICE_PURPOSE`] and audited.
#[derive(Clone)]
pub struct VaultRecipients {
    vault: Vault,
    call: Call,
}

impl VaultRecipients {
    /// Over a vault.
    pub fn new(vault: Vault) -> VaultRecipients {
        VaultRecipients {
            vault,
            call: Call::new(Actor::System(NOTICE_ACTOR), NOTICE_PURPOSE),
        }
    }
}

#[async_trait]
impl Recipients for VaultRecipients {
    async fn email(&self, subject: &SubjectId) -> Result<Option<Email>, RecipientError> {
        let id = Uuid::from_bytes(*subject);
        let wanted = ["email".to_string()];
        let view = match self.vault.read_subject(&self.call, id, Some(&wanted)).await {
            Ok(v) => v,
            Err(ServiceError::SubjectNotFound) => return Err(RecipientError::SubjectGone),
            Err(e) => return Err(RecipientError::Lookup(e.code())),
        };
        let Some(value) = view.values.into_iter().find(|v| v.category == "email") else {
            return Ok(None);
        };
        match value.value.as_str().map(Email::parse) {
            Some(Ok(email)) => Ok(Some(email)),
            _ => Err(RecipientError::Lookup("stored_email_invalid")),
        }
    }
}
