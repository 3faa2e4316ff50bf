//! Enqueuing a notice job and reading its progress.

use crate::texts::NoticeTexts;
use crate::NotifyError;
use chrono::{DateTime, Utc};
use derbes_core::clock::{from_micros, to_micros, Clock};
use derbes_store::notices::{NewNoticeJob, NoticeCounts, NoticeJobRecord};
use derbes_store::Store;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

/// The kind of the only notice jobs so far.
pub const POLICY_CHANGE: &str = "policy_change";

/// Deliveries per status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct Counts {
    /// Waiting for a first or next attempt.
    pub pending: i64,
    /// Claimed by a runner; the SMTP transaction is under way (or was interrupted).
    pub sending: i64,
    /// Accepted by the SMTP server.
    pub sent: i64,
    /// Given up: refused permanently, or every attempt failed.
    pub failed: i64,
    /// The subject has no e-mail address.
    pub skipped_no_email: i64,
    /// All deliveries (one per subject when the job was enqueued).
    pub total: i64,
}

impl From<NoticeCounts> for Counts {
    fn from(c: NoticeCounts) -> Counts {
        Counts {
            pending: c.pending,
            sending: c.sending,
            sent: c.sent,
            failed: c.failed,
            skipped_no_email: c.skipped_no_email,
            total: c.total(),
        }
    }
}

/// A job's status and progress. Codes and counts only: no address, no subject.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct JobStatus {
    /// Job id.
    pub id: Uuid,
    /// `policy_change`.
    pub kind: String,
    /// The policy version announced.
    pub policy_version: i64,
    /// When it was enqueued.
    pub created_at: DateTime<Utc>,
    /// `open` (deliveries left) or `done`.
    pub state: String,
    /// When the last delivery reached a final status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<DateTime<Utc>>,
    /// Deliveries per status.
    pub counts: Counts,
    /// Share of deliveries in a final status (sent, failed, skipped), 0–100.
    pub progress_percent: f64,
    /// When the earliest pending delivery is due.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// Error codes of failed and retrying deliveries, with their counts.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<ErrorCount>,
}

/// How many deliveries ended (or wait) with one error code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ErrorCount {
    /// `failed` or `pending` (waiting for a retry).
    pub status: String,
    /// The error code (e.g. `smtp_550`, `smtp_connection`).
    pub code: String,
    /// How many.
    pub count: i64,
}

impl JobStatus {
    /// A one-line summary for people.
    pub fn summary(&self) -> String {
        let c = &self.counts;
        format!(
            "job {} (policy version {}): {} — {} sent, {} failed, {} without e-mail, {} pending, \
             {} sending, of {} ({:.1}%)",
            self.id,
            self.policy_version,
            self.state,
            c.sent,
            c.failed,
            c.skipped_no_email,
            c.pending,
            c.sending,
            c.total,
            self.progress_percent
        )
    }
}

/// Parse a job id given by a person or a URL.
pub fn parse_job_id(raw: &str) -> Result<Uuid, NotifyError> {
    Uuid::parse_str(raw.trim()).map_err(|_| NotifyError::JobNotFound)
}

async fn status_of(store: &dyn Store, job: NoticeJobRecord) -> Result<JobStatus, NotifyError> {
    let id = Uuid::parse_str(&job.id).map_err(|_| NotifyError::JobNotFound)?;
    let counts: Counts = store.notice_counts(&job.id).await?.into();
    let next = store.next_notice_attempt(&job.id).await?;
    let done = counts.sent + counts.failed + counts.skipped_no_email;
    let progress_percent = if counts.total == 0 {
        100.0
    } else {
        (done as f64 * 1000.0 / counts.total as f64).floor() / 10.0
    };
    let errors = store
        .notice_error_counts(&job.id)
        .await?
        .into_iter()
        .map(|(status, code, count)| ErrorCount {
            status,
            code,
            count,
        })
        .collect();
    Ok(JobStatus {
        id,
        kind: job.kind,
        policy_version: job.policy_version,
        created_at: from_micros(job.created_at),
        state: job.state,
        completed_at: job.completed_at.map(from_micros),
        counts,
        progress_percent,
        next_attempt_at: next.map(from_micros),
        errors,
    })
}

/// One job's status.
pub async fn job_status(store: &dyn Store, id: Uuid) -> Result<JobStatus, NotifyError> {
    let job = store
        .notice_job(&id.to_string())
        .await?
        .ok_or(NotifyError::JobNotFound)?;
    status_of(store, job).await
}

/// Every job's status, newest first.
pub async fn job_statuses(store: &dyn Store) -> Result<Vec<JobStatus>, NotifyError> {
    let mut out = Vec::new();
    for job in store.notice_jobs().await? {
        out.push(status_of(store, job).await?);
    }
    Ok(out)
}

/// Enqueue the notice of a significant policy version (clause 9.2): the job and one pending
/// delivery per subject, in one transaction. Idempotent per version: a second call returns
/// the existing job and `false`.
pub async fn enqueue_policy_change(
    store: &dyn Store,
    clock: &dyn Clock,
    texts: &NoticeTexts,
) -> Result<(JobStatus, bool), NotifyError> {
    let new = NewNoticeJob {
        id: Uuid::now_v7().to_string(),
        kind: POLICY_CHANGE.to_string(),
        policy_version: texts.version(),
        created_at: to_micros(clock.now()),
        texts: texts.to_json(),
    };
    let (job, created) = store.enqueue_notice_job(&new).await?;
    if created {
        tracing::info!(
            job = %job.id,
            policy_version = job.policy_version,
            "policy-change notice job enqueued"
        );
    }
    Ok((status_of(store, job).await?, created))
}
