//! Policy-change notice jobs and their per-subject deliveries (clause 9.2).
//!
//! A job is one notice campaign (kind `policy_change`, one policy version); it holds the
//! message texts and one delivery row per subject. No e-mail address is ever stored here:
//! the runner (crate `derbes-notify`) asks for it at send time. A delivery's error is a short
//! code, never server text. Both backends are generated from one SQL body by
//! `impl_notice_store!`, like the rest of the store.
//!
//! Delivery life cycle: `pending` → (claimed) `sending` → `sent` | `pending` (retry at
//! `next_attempt_at`) | `failed` | `skipped_no_email`. A claim left in `sending` by a runner
//! that died is released back to `pending` after a lease (see
//! [`NoticeStore::release_stale_notice_claims`]).

use crate::backend::BeginWrite;
use crate::{PgStore, SqliteStore, StoreError, SubjectId};
use async_trait::async_trait;
use sqlx::{Postgres, QueryBuilder, Row, Sqlite};

/// A new job, as enqueued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewNoticeJob {
    /// Job id (UUID text).
    pub id: String,
    /// `policy_change`.
    pub kind: String,
    /// The policy version the notice is about.
    pub policy_version: i64,
    /// When it was enqueued (µs).
    pub created_at: i64,
    /// The message texts per language, as JSON (no personal data: the same for everyone).
    pub texts: String,
}

/// A stored job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoticeJobRecord {
    /// Job id (UUID text).
    pub id: String,
    /// `policy_change`.
    pub kind: String,
    /// The policy version.
    pub policy_version: i64,
    /// When it was enqueued (µs).
    pub created_at: i64,
    /// `open` (deliveries left to do) or `done`.
    pub state: String,
    /// When the last delivery reached a final status (µs).
    pub completed_at: Option<i64>,
    /// The message texts, JSON.
    pub texts: String,
}

/// How many deliveries of a job are in each status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NoticeCounts {
    /// Waiting for a (first or next) attempt.
    pub pending: i64,
    /// Claimed by a runner, SMTP transaction under way (or interrupted).
    pub sending: i64,
    /// Accepted by the SMTP server.
    pub sent: i64,
    /// Gave up (permanent refusal or attempts exhausted).
    pub failed: i64,
    /// The subject has no e-mail address.
    pub skipped_no_email: i64,
}

impl NoticeCounts {
    /// All deliveries.
    pub fn total(&self) -> i64 {
        self.pending + self.sending + self.sent + self.failed + self.skipped_no_email
    }
}

/// One delivery row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoticeDeliveryRecord {
    /// The job.
    pub job_id: String,
    /// The subject (pseudonymous id).
    pub subject_id: SubjectId,
    /// `pending`, `sending`, `sent`, `failed` or `skipped_no_email`.
    pub status: String,
    /// SMTP attempts started so far.
    pub attempts: i64,
    /// Not before this instant (µs) is the next attempt made.
    pub next_attempt_at: i64,
    /// When the current or last claim was taken (µs).
    pub claimed_at: Option<i64>,
    /// The last error's code (never server text or an address).
    pub last_error: Option<String>,
    /// When the server accepted the message (µs).
    pub sent_at: Option<i64>,
    /// The Message-ID of the message sent.
    pub message_id: Option<String>,
}

/// A delivery claimed for one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClaimedDelivery {
    /// The subject.
    pub subject_id: SubjectId,
    /// Attempts including this one.
    pub attempts: i64,
}

/// The result of one attempt, recorded by [`NoticeStore::finish_notice_deliveries`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryOutcome {
    /// The server answered 250 to the message.
    Sent {
        /// The subject.
        subject_id: SubjectId,
        /// The message's Message-ID.
        message_id: String,
        /// When (µs).
        at: i64,
    },
    /// A transient failure: try again at `next_attempt_at`.
    Retry {
        /// The subject.
        subject_id: SubjectId,
        /// Error code.
        code: String,
        /// When to try again (µs).
        next_attempt_at: i64,
    },
    /// A permanent failure, or the last attempt failed.
    Failed {
        /// The subject.
        subject_id: SubjectId,
        /// Error code.
        code: String,
    },
    /// The subject has no e-mail address: nothing to send.
    SkippedNoEmail {
        /// The subject.
        subject_id: SubjectId,
    },
    /// Claimed but not attempted (the runner stopped: the server is unavailable): back to
    /// `pending`, due as before, the claim's attempt not counted.
    Released {
        /// The subject.
        subject_id: SubjectId,
    },
}

/// Storage of notice jobs. Reached from `Arc<dyn Store>` (a supertrait of [`crate::Store`]).
#[async_trait]
pub trait NoticeStore: Send + Sync + 'static {
    /// Create the job and a `pending` delivery for every subject, in one transaction.
    /// Idempotent per (kind, policy version): if that job exists, nothing is written and the
    /// existing job is returned with `false`.
    async fn enqueue_notice_job(
        &self,
        job: &NewNoticeJob,
    ) -> Result<(NoticeJobRecord, bool), StoreError>;
    /// One job.
    async fn notice_job(&self, id: &str) -> Result<Option<NoticeJobRecord>, StoreError>;
    /// All jobs, newest first.
    async fn notice_jobs(&self) -> Result<Vec<NoticeJobRecord>, StoreError>;
    /// Jobs with deliveries left to do, oldest first.
    async fn open_notice_jobs(&self) -> Result<Vec<NoticeJobRecord>, StoreError>;
    /// Deliveries per status.
    async fn notice_counts(&self, job_id: &str) -> Result<NoticeCounts, StoreError>;
    /// `(status, error code, count)` of deliveries that are `failed` or `pending` with an
    /// error, by status and code.
    async fn notice_error_counts(
        &self,
        job_id: &str,
    ) -> Result<Vec<(String, String, i64)>, StoreError>;
    /// Deliveries of a job (optionally of one status), by subject id, at most `limit`.
    async fn notice_deliveries(
        &self,
        job_id: &str,
        status: Option<&str>,
        limit: i64,
    ) -> Result<Vec<NoticeDeliveryRecord>, StoreError>;
    /// Atomically move up to `limit` due `pending` deliveries (`next_attempt_at <= now`) to
    /// `sending`, counting the attempt. Concurrent runners never claim the same row.
    async fn claim_notice_deliveries(
        &self,
        job_id: &str,
        now: i64,
        limit: i64,
    ) -> Result<Vec<ClaimedDelivery>, StoreError>;
    /// Release claims taken before `claimed_before` (their runner died between the claim and
    /// the result): back to `pending`, due at `now`, `last_error = interrupted`. Returns how
    /// many.
    async fn release_stale_notice_claims(
        &self,
        job_id: &str,
        claimed_before: i64,
        now: i64,
    ) -> Result<u64, StoreError>;
    /// Record attempts' results, in one transaction. Only rows in `sending` change.
    async fn finish_notice_deliveries(
        &self,
        job_id: &str,
        outcomes: &[DeliveryOutcome],
    ) -> Result<(), StoreError>;
    /// The earliest `next_attempt_at` of the job's `pending` deliveries.
    async fn next_notice_attempt(&self, job_id: &str) -> Result<Option<i64>, StoreError>;
    /// Mark the job `done` if no delivery is `pending` or `sending`. Returns whether it is
    /// done.
    async fn complete_notice_job(&self, job_id: &str, now: i64) -> Result<bool, StoreError>;
}

const JOB_COLS: &str = "id, kind, policy_version, created_at, state, completed_at, texts";
const DELIVERY_COLS: &str = "job_id, subject_id, status, attempts, next_attempt_at, claimed_at, \
     last_error, sent_at, message_id";

fn to_id(bytes: Vec<u8>) -> Result<SubjectId, StoreError> {
    bytes.try_into().map_err(|_| {
        StoreError::Database(sqlx::Error::Protocol("subject id is not 16 bytes".into()))
    })
}

fn job_from_row<R: Row>(row: &R) -> Result<NoticeJobRecord, StoreError>
where
    usize: sqlx::ColumnIndex<R>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<i64>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    Ok(NoticeJobRecord {
        id: row.try_get(0)?,
        kind: row.try_get(1)?,
        policy_version: row.try_get(2)?,
        created_at: row.try_get(3)?,
        state: row.try_get(4)?,
        completed_at: row.try_get(5)?,
        texts: row.try_get(6)?,
    })
}

fn delivery_from_row<R: Row>(row: &R) -> Result<NoticeDeliveryRecord, StoreError>
where
    usize: sqlx::ColumnIndex<R>,
    for<'r> Vec<u8>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<i64>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    Ok(NoticeDeliveryRecord {
        job_id: row.try_get(0)?,
        subject_id: to_id(row.try_get(1)?)?,
        status: row.try_get(2)?,
        attempts: row.try_get(3)?,
        next_attempt_at: row.try_get(4)?,
        claimed_at: row.try_get(5)?,
        last_error: row.try_get(6)?,
        sent_at: row.try_get(7)?,
        message_id: row.try_get(8)?,
    })
}

/// Commit on success, roll back at once on failure.
async fn finish<DB: sqlx::Database, T>(
    tx: sqlx::Transaction<'_, DB>,
    result: Result<T, StoreError>,
) -> Result<T, StoreError> {
    match result {
        Ok(v) => {
            tx.commit().await?;
            Ok(v)
        }
        Err(e) => {
            let _ = tx.rollback().await;
            Err(e)
        }
    }
}

macro_rules! impl_notice_store {
    ($ty:ty, $db:ty) => {
        #[async_trait]
        impl NoticeStore for $ty {
            async fn enqueue_notice_job(
                &self,
                job: &NewNoticeJob,
            ) -> Result<(NoticeJobRecord, bool), StoreError> {
                let mut tx = self.pool().begin_write().await?;
                let result: Result<(NoticeJobRecord, bool), StoreError> = async {
                    let inserted = sqlx::query(&format!(
                        "INSERT INTO notice_jobs ({JOB_COLS}) VALUES ($1, $2, $3, $4, 'open', NULL, $5) \
                         ON CONFLICT (kind, policy_version) DO NOTHING"
                    ))
                    .bind(&job.id)
                    .bind(&job.kind)
                    .bind(job.policy_version)
                    .bind(job.created_at)
                    .bind(&job.texts)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected()
                        == 1;
                    if inserted {
                        sqlx::query(
                            "INSERT INTO notice_deliveries (job_id, subject_id, status, attempts, \
                             next_attempt_at) SELECT $1, id, 'pending', 0, $2 FROM subjects",
                        )
                        .bind(&job.id)
                        .bind(job.created_at)
                        .execute(&mut *tx)
                        .await?;
                    }
                    let row = sqlx::query(&format!(
                        "SELECT {JOB_COLS} FROM notice_jobs WHERE kind = $1 AND policy_version = $2"
                    ))
                    .bind(&job.kind)
                    .bind(job.policy_version)
                    .fetch_one(&mut *tx)
                    .await?;
                    Ok((job_from_row(&row)?, inserted))
                }
                .await;
                finish(tx, result).await
            }

            async fn notice_job(&self, id: &str) -> Result<Option<NoticeJobRecord>, StoreError> {
                let row = sqlx::query(&format!("SELECT {JOB_COLS} FROM notice_jobs WHERE id = $1"))
                    .bind(id)
                    .fetch_optional(self.pool())
                    .await?;
                row.as_ref().map(job_from_row).transpose()
            }

            async fn notice_jobs(&self) -> Result<Vec<NoticeJobRecord>, StoreError> {
                let rows = sqlx::query(&format!(
                    "SELECT {JOB_COLS} FROM notice_jobs ORDER BY created_at DESC, id DESC"
                ))
                .fetch_all(self.pool())
                .await?;
                rows.iter().map(job_from_row).collect()
            }

            async fn open_notice_jobs(&self) -> Result<Vec<NoticeJobRecord>, StoreError> {
                let rows = sqlx::query(&format!(
                    "SELECT {JOB_COLS} FROM notice_jobs WHERE state = 'open' ORDER BY created_at, id"
                ))
                .fetch_all(self.pool())
                .await?;
                rows.iter().map(job_from_row).collect()
            }

            async fn notice_counts(&self, job_id: &str) -> Result<NoticeCounts, StoreError> {
                let rows = sqlx::query(
                    "SELECT status, COUNT(*) FROM notice_deliveries WHERE job_id = $1 GROUP BY status",
                )
                .bind(job_id)
                .fetch_all(self.pool())
                .await?;
                let mut c = NoticeCounts::default();
                for row in rows {
                    let status: String = row.try_get(0)?;
                    let n: i64 = row.try_get(1)?;
                    match status.as_str() {
                        "pending" => c.pending = n,
                        "sending" => c.sending = n,
                        "sent" => c.sent = n,
                        "failed" => c.failed = n,
                        "skipped_no_email" => c.skipped_no_email = n,
                        _ => {
                            return Err(StoreError::Database(sqlx::Error::Protocol(
                                "unknown delivery status".into(),
                            )))
                        }
                    }
                }
                Ok(c)
            }

            async fn notice_error_counts(
                &self,
                job_id: &str,
            ) -> Result<Vec<(String, String, i64)>, StoreError> {
                let rows = sqlx::query(
                    "SELECT status, last_error, COUNT(*) FROM notice_deliveries \
                     WHERE job_id = $1 AND status IN ('failed', 'pending') \
                     AND last_error IS NOT NULL GROUP BY status, last_error \
                     ORDER BY status, last_error",
                )
                .bind(job_id)
                .fetch_all(self.pool())
                .await?;
                rows.iter()
                    .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
                    .collect()
            }

            async fn notice_deliveries(
                &self,
                job_id: &str,
                status: Option<&str>,
                limit: i64,
            ) -> Result<Vec<NoticeDeliveryRecord>, StoreError> {
                let mut qb = QueryBuilder::<$db>::new(format!(
                    "SELECT {DELIVERY_COLS} FROM notice_deliveries WHERE job_id = "
                ));
                qb.push_bind(job_id.to_string());
                if let Some(s) = status {
                    qb.push(" AND status = ").push_bind(s.to_string());
                }
                qb.push(" ORDER BY subject_id LIMIT ").push_bind(limit.max(0));
                let rows = qb.build().fetch_all(self.pool()).await?;
                rows.iter().map(delivery_from_row).collect()
            }

            async fn claim_notice_deliveries(
                &self,
                job_id: &str,
                now: i64,
                limit: i64,
            ) -> Result<Vec<ClaimedDelivery>, StoreError> {
                // The outer `status = 'pending'` is re-checked by PostgreSQL on rows another
                // transaction changed meanwhile, so two runners never claim one row; SQLite
                // has a single writer.
                let rows = sqlx::query(
                    "UPDATE notice_deliveries SET status = 'sending', attempts = attempts + 1, \
                     claimed_at = $2 \
                     WHERE job_id = $1 AND status = 'pending' AND next_attempt_at <= $2 \
                     AND subject_id IN (SELECT subject_id FROM notice_deliveries \
                       WHERE job_id = $1 AND status = 'pending' AND next_attempt_at <= $2 \
                       ORDER BY next_attempt_at, subject_id LIMIT $3) \
                     RETURNING subject_id, attempts",
                )
                .bind(job_id)
                .bind(now)
                .bind(limit.max(0))
                .fetch_all(self.pool())
                .await?;
                rows.iter()
                    .map(|r| {
                        Ok(ClaimedDelivery {
                            subject_id: to_id(r.try_get(0)?)?,
                            attempts: r.try_get(1)?,
                        })
                    })
                    .collect()
            }

            async fn release_stale_notice_claims(
                &self,
                job_id: &str,
                claimed_before: i64,
                now: i64,
            ) -> Result<u64, StoreError> {
                let r = sqlx::query(
                    "UPDATE notice_deliveries SET status = 'pending', next_attempt_at = $3, \
                     last_error = 'interrupted' \
                     WHERE job_id = $1 AND status = 'sending' AND claimed_at < $2",
                )
                .bind(job_id)
                .bind(claimed_before)
                .bind(now)
                .execute(self.pool())
                .await?;
                Ok(r.rows_affected())
            }

            async fn finish_notice_deliveries(
                &self,
                job_id: &str,
                outcomes: &[DeliveryOutcome],
            ) -> Result<(), StoreError> {
                if outcomes.is_empty() {
                    return Ok(());
                }
                let mut tx = self.pool().begin_write().await?;
                let result: Result<(), StoreError> = async {
                    for o in outcomes {
                        let q = match o {
                            DeliveryOutcome::Sent { subject_id, message_id, at } => sqlx::query(
                                "UPDATE notice_deliveries SET status = 'sent', sent_at = $3, \
                                 message_id = $4, last_error = NULL \
                                 WHERE job_id = $1 AND subject_id = $2 AND status = 'sending'",
                            )
                            .bind(job_id)
                            .bind(subject_id.to_vec())
                            .bind(*at)
                            .bind(message_id.clone()),
                            DeliveryOutcome::Retry { subject_id, code, next_attempt_at } => {
                                sqlx::query(
                                    "UPDATE notice_deliveries SET status = 'pending', \
                                     last_error = $3, next_attempt_at = $4 \
                                     WHERE job_id = $1 AND subject_id = $2 AND status = 'sending'",
                                )
                                .bind(job_id)
                                .bind(subject_id.to_vec())
                                .bind(code.clone())
                                .bind(*next_attempt_at)
                            }
                            DeliveryOutcome::Failed { subject_id, code } => sqlx::query(
                                "UPDATE notice_deliveries SET status = 'failed', last_error = $3 \
                                 WHERE job_id = $1 AND subject_id = $2 AND status = 'sending'",
                            )
                            .bind(job_id)
                            .bind(subject_id.to_vec())
                            .bind(code.clone()),
                            DeliveryOutcome::SkippedNoEmail { subject_id } => sqlx::query(
                                "UPDATE notice_deliveries SET status = 'skipped_no_email', \
                                 last_error = NULL \
                                 WHERE job_id = $1 AND subject_id = $2 AND status = 'sending'",
                            )
                            .bind(job_id)
                            .bind(subject_id.to_vec()),
                            DeliveryOutcome::Released { subject_id } => sqlx::query(
                                "UPDATE notice_deliveries SET status = 'pending', \
                                 attempts = attempts - 1 \
                                 WHERE job_id = $1 AND subject_id = $2 AND status = 'sending'",
                            )
                            .bind(job_id)
                            .bind(subject_id.to_vec()),
                        };
                        q.execute(&mut *tx).await?;
                    }
                    Ok(())
                }
                .await;
                finish(tx, result).await
            }

            async fn next_notice_attempt(&self, job_id: &str) -> Result<Option<i64>, StoreError> {
                let v: Option<i64> = sqlx::query_scalar(
                    "SELECT MIN(next_attempt_at) FROM notice_deliveries \
                     WHERE job_id = $1 AND status = 'pending'",
                )
                .bind(job_id)
                .fetch_one(self.pool())
                .await?;
                Ok(v)
            }

            async fn complete_notice_job(&self, job_id: &str, now: i64) -> Result<bool, StoreError> {
                sqlx::query(
                    "UPDATE notice_jobs SET state = 'done', completed_at = $2 \
                     WHERE id = $1 AND state = 'open' AND NOT EXISTS (SELECT 1 FROM \
                     notice_deliveries WHERE job_id = $1 AND status IN ('pending', 'sending'))",
                )
                .bind(job_id)
                .bind(now)
                .execute(self.pool())
                .await?;
                let state: Option<String> =
                    sqlx::query_scalar("SELECT state FROM notice_jobs WHERE id = $1")
                        .bind(job_id)
                        .fetch_optional(self.pool())
                        .await?;
                Ok(state.as_deref() == Some("done"))
            }
        }
    };
}

impl_notice_store!(SqliteStore, Sqlite);
impl_notice_store!(PgStore, Postgres);
