//! `derbes-notify`: policy-change notices by e-mail (clause 9.2).
//!
//! When a significant policy version is published, [`enqueue_policy_change`] creates a job
//! with the message texts (per language, naming the version) and one `pending` delivery per
//! subject, in one transaction, once per version. A [`Notifier`] then sends them over SMTP
//! (lettre, async, pooled connections): at send time it asks [`Recipients`] for the
//! subject's address (the vault, under the purpose `correspondence`, audited) and
//! [`SubjectLanguage`] for the language; subjects without an address are
//! `skipped_no_email`. Failures are retried with exponential back-off computed from the
//! [`derbes_core::clock::Clock`], up to a number of attempts; a run can stop at any point
//! and be resumed (see [`runner`] for the delivery guarantee). No e-mail address is stored in
//! the job, logged, or put into an error: errors are codes (`smtp_451`, `smtp_connection`…).
//!
//! [`sink::Sink`] is a real SMTP server for tests and the benchmark.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
#![forbid(unsafe_code)]

pub mod job;
pub mod recipients;
pub mod runner;
pub mod sink;
pub mod texts;

pub use job::{
    enqueue_policy_change, job_status, job_statuses, parse_job_id, Counts, ErrorCount, JobStatus,
    POLICY_CHANGE,
};
pub use recipients::{
    ConsentLanguage, DefaultLanguage, RecipientError, Recipients, SubjectLanguage, VaultRecipients,
    NOTICE_PURPOSE,
};
pub use runner::{message_id, Notifier, PassReport, RunOptions, SmtpSettings, TlsMode};
pub use texts::{MessageText, NoticeTexts, TextError, TextsInput};

use derbes_store::StoreError;

/// Errors of the notice engine. Codes only: never an address or server text.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// No such job.
    #[error("no such notice job")]
    JobNotFound,
    /// The texts of a notice were refused.
    #[error("notice texts refused: {0}")]
    Texts(#[from] TextError),
    /// SMTP settings are incomplete or invalid (the code names which).
    #[error("SMTP settings invalid: {0}")]
    Settings(&'static str),
    /// The database failed.
    #[error("storage: {0}")]
    Store(#[from] StoreError),
}

impl NotifyError {
    /// Stable code.
    pub fn code(&self) -> &'static str {
        match self {
            NotifyError::JobNotFound => "notice_job_not_found",
            NotifyError::Texts(e) => e.code(),
            NotifyError::Settings(_) => "smtp_settings_invalid",
            NotifyError::Store(_) => "storage_failure",
        }
    }
}
