//! Storage of the borrower's personal cabinet (clauses 7.1a–d, 5.4; L-RIGHTS,
//! L-RIGHTS-DEADLINES): one-time login codes, subject sessions, the subject's requests, and
//! the register of exports.
//!
//! [`CabinetStore`] is implemented for [`SqliteStore`] and [`PgStore`] from one body by
//! `impl_cabinet_store!`, like the other sub-stores. The store sees no secret and no personal
//! value in clear: codes are HMACs, tokens SHA-256 hashes, request texts ciphertext under the
//! subject's data key.

use crate::backend::BeginWrite;
use crate::{PgStore, SqliteStore, StoreError, SubjectId};
use async_trait::async_trait;
use sqlx::Row;

/// A one-time-code challenge (7.1b). A challenge for an unregistered phone has no subject
/// and a code hash no code matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtpRecord {
    /// Random id (UUIDv4 text) handed to the client.
    pub id: String,
    /// The subject, if the phone is registered.
    pub subject_id: Option<SubjectId>,
    /// HMAC-SHA-256 of the code under the server's code key.
    pub code_hash: Vec<u8>,
    /// Created (µs).
    pub created_at: i64,
    /// Expires (µs).
    pub expires_at: i64,
    /// Wrong codes tried so far.
    pub attempts: i64,
    /// When a right code was accepted (a code is accepted once).
    pub used_at: Option<i64>,
}

/// A subject's cabinet session. Only the token's SHA-256 is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubjectSessionRecord {
    /// SHA-256 of the token.
    pub token_hash: Vec<u8>,
    /// The subject.
    pub subject_id: SubjectId,
    /// Created (µs).
    pub created_at: i64,
    /// Last request (µs).
    pub last_seen_at: i64,
    /// Absolute expiry (µs).
    pub expires_at: i64,
    /// Revoked (logout, µs).
    pub revoked_at: Option<i64>,
}

/// A request of a subject (7.1a, 7.1c, 7.1d; L-RIGHTS-DEADLINES).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubjectRequestRecord {
    /// Id (UUIDv7 text).
    pub id: String,
    /// Year of the number (`Z-<year>-<seq>`).
    pub year: i64,
    /// Number within the year, assigned by the store (from 1).
    pub seq: i64,
    /// The subject.
    pub subject_id: SubjectId,
    /// `correction`, `blocking`, `destruction`, `complaint`, `question`.
    pub kind: String,
    /// `received`, `in_progress`, `answered`, `done`, `refused`.
    pub status: String,
    /// The text (and proposed value) as AES-256-GCM ciphertext under the subject's data key.
    pub body: Vec<u8>,
    /// Data-key generation of `body` and `answer`.
    pub dek_version: u32,
    /// For a correction: the category.
    pub category: Option<String>,
    /// Received (µs).
    pub received_at: i64,
    /// Legal deadline, local date `YYYY-MM-DD` (Almaty).
    pub deadline_date: String,
    /// Legal deadline (µs, end of that working day).
    pub deadline_at: i64,
    /// The working-day calendar version used.
    pub calendar_version: String,
    /// Last change (µs).
    pub updated_at: i64,
    /// Reason code of a refusal.
    pub reason: Option<String>,
    /// The answer, ciphertext under the subject's data key.
    pub answer: Option<Vec<u8>>,
    /// Actor id of the last employee/system that handled it.
    pub handled_by: Option<String>,
}

impl SubjectRequestRecord {
    /// The human-readable number, e.g. `Z-2026-000123`.
    pub fn number(&self) -> String {
        format!("Z-{}-{:06}", self.year, self.seq)
    }
}

/// A change of a request's status by staff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestUpdate {
    /// New status.
    pub status: String,
    /// Statuses the request must be in for the change to apply.
    pub from: Vec<String>,
    /// Reason code (refusal).
    pub reason: Option<String>,
    /// Answer ciphertext.
    pub answer: Option<Vec<u8>>,
    /// Who.
    pub handled_by: String,
    /// When (µs).
    pub at: i64,
}

/// One entry of the register of exports (clause 5.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportRecord {
    /// Export id (UUIDv7 text).
    pub id: String,
    /// The subject's pseudonym (UUID text).
    pub subject: String,
    /// `json` or `pdf`.
    pub format: String,
    /// SHA-256 of the bytes handed out.
    pub sha256: Vec<u8>,
    /// Size in bytes.
    pub size: i64,
    /// When (µs).
    pub at: i64,
    /// Actor id (`subject:<id>`, `employee:<id>`, …).
    pub actor: String,
    /// Purpose named.
    pub purpose: String,
}

/// Storage of the personal cabinet.
#[async_trait]
pub trait CabinetStore: Send + Sync {
    /// Store a new challenge.
    async fn insert_otp(&self, c: &OtpRecord) -> Result<(), StoreError>;
    /// A challenge by id.
    async fn otp(&self, id: &str) -> Result<Option<OtpRecord>, StoreError>;
    /// Count one attempt on an unused challenge; returns it after the update (`None`: absent
    /// or already used).
    async fn otp_attempt(&self, id: &str) -> Result<Option<OtpRecord>, StoreError>;
    /// Mark a challenge used; `false` if it already was (a code is accepted once).
    async fn use_otp(&self, id: &str, now: i64) -> Result<bool, StoreError>;
    /// Remove challenges created before `before` (housekeeping).
    async fn purge_otps(&self, before: i64) -> Result<u64, StoreError>;

    /// Store a new session.
    async fn insert_subject_session(&self, s: &SubjectSessionRecord) -> Result<(), StoreError>;
    /// A session by token hash.
    async fn subject_session(
        &self,
        token_hash: &[u8],
    ) -> Result<Option<SubjectSessionRecord>, StoreError>;
    /// Record activity.
    async fn touch_subject_session(&self, token_hash: &[u8], now: i64) -> Result<(), StoreError>;
    /// Revoke (logout).
    async fn revoke_subject_session(&self, token_hash: &[u8], now: i64) -> Result<(), StoreError>;

    /// Store a request; the store assigns the next number of its year. Returns the seq.
    async fn insert_subject_request(&self, r: &SubjectRequestRecord) -> Result<i64, StoreError>;
    /// A request by id.
    async fn subject_request(&self, id: &str) -> Result<Option<SubjectRequestRecord>, StoreError>;
    /// A subject's requests, newest first.
    async fn subject_requests_of(
        &self,
        subject: &SubjectId,
    ) -> Result<Vec<SubjectRequestRecord>, StoreError>;
    /// Requests by status (all if `None`), by deadline, at most `limit`.
    async fn subject_requests(
        &self,
        status: Option<&str>,
        limit: i64,
    ) -> Result<Vec<SubjectRequestRecord>, StoreError>;
    /// Change a request's status if it is in one of `u.from`; `false` otherwise.
    async fn update_subject_request(&self, id: &str, u: &RequestUpdate)
        -> Result<bool, StoreError>;

    /// Register an export (5.4) and append its audit entries (8.1), together: an export is
    /// never registered without its entry, nor the reverse (on SQLite the entries are staged
    /// with the export and appended after its commit, see `Store::insert_subjects`).
    async fn insert_export(
        &self,
        e: &ExportRecord,
        audit: &[crate::AuditFields],
    ) -> Result<(), StoreError>;
    /// Exports of a subject (pseudonym), oldest first.
    async fn exports_of(&self, subject: &str) -> Result<Vec<ExportRecord>, StoreError>;
}

const OTP_COLS: &str = "id, subject_id, code_hash, created_at, expires_at, attempts, used_at";
const SESSION_COLS: &str =
    "token_hash, subject_id, created_at, last_seen_at, expires_at, revoked_at";
const REQUEST_COLS: &str = "id, year, seq, subject_id, kind, status, body, dek_version, category, \
     received_at, deadline_date, deadline_at, calendar_version, updated_at, reason, answer, \
     handled_by";
const EXPORT_COLS: &str = "id, subject, format, sha256, size, at, actor, purpose";

fn bad(what: &str) -> StoreError {
    StoreError::Database(sqlx::Error::Protocol(format!("malformed stored {what}")))
}

fn sid(bytes: Vec<u8>) -> Result<SubjectId, StoreError> {
    bytes.try_into().map_err(|_| bad("subject id"))
}

macro_rules! cabinet_rows {
    ($row:ty) => {
        pub(super) fn otp_from(r: &$row) -> Result<OtpRecord, StoreError> {
            Ok(OtpRecord {
                id: r.try_get(0)?,
                subject_id: r.try_get::<Option<Vec<u8>>, _>(1)?.map(sid).transpose()?,
                code_hash: r.try_get(2)?,
                created_at: r.try_get(3)?,
                expires_at: r.try_get(4)?,
                attempts: r.try_get(5)?,
                used_at: r.try_get(6)?,
            })
        }

        pub(super) fn session_from(r: &$row) -> Result<SubjectSessionRecord, StoreError> {
            Ok(SubjectSessionRecord {
                token_hash: r.try_get(0)?,
                subject_id: sid(r.try_get(1)?)?,
                created_at: r.try_get(2)?,
                last_seen_at: r.try_get(3)?,
                expires_at: r.try_get(4)?,
                revoked_at: r.try_get(5)?,
            })
        }

        pub(super) fn request_from(r: &$row) -> Result<SubjectRequestRecord, StoreError> {
            Ok(SubjectRequestRecord {
                id: r.try_get(0)?,
                year: r.try_get(1)?,
                seq: r.try_get(2)?,
                subject_id: sid(r.try_get(3)?)?,
                kind: r.try_get(4)?,
                status: r.try_get(5)?,
                body: r.try_get(6)?,
                dek_version: u32::try_from(r.try_get::<i64, _>(7)?)
                    .map_err(|_| bad("key version"))?,
                category: r.try_get(8)?,
                received_at: r.try_get(9)?,
                deadline_date: r.try_get(10)?,
                deadline_at: r.try_get(11)?,
                calendar_version: r.try_get(12)?,
                updated_at: r.try_get(13)?,
                reason: r.try_get(14)?,
                answer: r.try_get(15)?,
                handled_by: r.try_get(16)?,
            })
        }

        pub(super) fn export_from(r: &$row) -> Result<ExportRecord, StoreError> {
            Ok(ExportRecord {
                id: r.try_get(0)?,
                subject: r.try_get(1)?,
                format: r.try_get(2)?,
                sha256: r.try_get(3)?,
                size: r.try_get(4)?,
                at: r.try_get(5)?,
                actor: r.try_get(6)?,
                purpose: r.try_get(7)?,
            })
        }
    };
}

mod sqlite_rows {
    use super::*;
    cabinet_rows!(sqlx::sqlite::SqliteRow);
}

mod pg_rows {
    use super::*;
    cabinet_rows!(sqlx::postgres::PgRow);
}

/// Attempts at a request number before giving up (concurrent inserts of one year).
const NUMBER_RETRIES: usize = 8;

macro_rules! impl_cabinet_store {
    ($ty:ty, $rows:ident) => {
        #[async_trait]
        impl CabinetStore for $ty {
            async fn insert_otp(&self, c: &OtpRecord) -> Result<(), StoreError> {
                sqlx::query(&format!(
                    "INSERT INTO otp_challenges ({OTP_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"
                ))
                .bind(&c.id)
                .bind(c.subject_id.map(|s| s.to_vec()))
                .bind(&c.code_hash)
                .bind(c.created_at)
                .bind(c.expires_at)
                .bind(c.attempts)
                .bind(c.used_at)
                .execute(self.pool())
                .await?;
                Ok(())
            }

            async fn otp(&self, id: &str) -> Result<Option<OtpRecord>, StoreError> {
                let row = sqlx::query(&format!(
                    "SELECT {OTP_COLS} FROM otp_challenges WHERE id = $1"
                ))
                .bind(id)
                .fetch_optional(self.pool())
                .await?;
                row.map(|r| $rows::otp_from(&r)).transpose()
            }

            async fn otp_attempt(&self, id: &str) -> Result<Option<OtpRecord>, StoreError> {
                let row = sqlx::query(&format!(
                    "UPDATE otp_challenges SET attempts = attempts + 1 \
                     WHERE id = $1 AND used_at IS NULL RETURNING {OTP_COLS}"
                ))
                .bind(id)
                .fetch_optional(self.pool())
                .await?;
                row.map(|r| $rows::otp_from(&r)).transpose()
            }

            async fn use_otp(&self, id: &str, now: i64) -> Result<bool, StoreError> {
                let r = sqlx::query(
                    "UPDATE otp_challenges SET used_at = $1 WHERE id = $2 AND used_at IS NULL",
                )
                .bind(now)
                .bind(id)
                .execute(self.pool())
                .await?;
                Ok(r.rows_affected() == 1)
            }

            async fn purge_otps(&self, before: i64) -> Result<u64, StoreError> {
                let r = sqlx::query("DELETE FROM otp_challenges WHERE created_at < $1")
                    .bind(before)
                    .execute(self.pool())
                    .await?;
                Ok(r.rows_affected())
            }

            async fn insert_subject_session(
                &self,
                s: &SubjectSessionRecord,
            ) -> Result<(), StoreError> {
                sqlx::query(&format!(
                    "INSERT INTO subject_sessions ({SESSION_COLS}) VALUES ($1, $2, $3, $4, $5, $6)"
                ))
                .bind(&s.token_hash)
                .bind(s.subject_id.to_vec())
                .bind(s.created_at)
                .bind(s.last_seen_at)
                .bind(s.expires_at)
                .bind(s.revoked_at)
                .execute(self.pool())
                .await?;
                Ok(())
            }

            async fn subject_session(
                &self,
                token_hash: &[u8],
            ) -> Result<Option<SubjectSessionRecord>, StoreError> {
                let row = sqlx::query(&format!(
                    "SELECT {SESSION_COLS} FROM subject_sessions WHERE token_hash = $1"
                ))
                .bind(token_hash)
                .fetch_optional(self.pool())
                .await?;
                row.map(|r| $rows::session_from(&r)).transpose()
            }

            async fn touch_subject_session(
                &self,
                token_hash: &[u8],
                now: i64,
            ) -> Result<(), StoreError> {
                sqlx::query("UPDATE subject_sessions SET last_seen_at = $1 WHERE token_hash = $2")
                    .bind(now)
                    .bind(token_hash)
                    .execute(self.pool())
                    .await?;
                Ok(())
            }

            async fn revoke_subject_session(
                &self,
                token_hash: &[u8],
                now: i64,
            ) -> Result<(), StoreError> {
                sqlx::query(
                    "UPDATE subject_sessions SET revoked_at = $1 \
                     WHERE token_hash = $2 AND revoked_at IS NULL",
                )
                .bind(now)
                .bind(token_hash)
                .execute(self.pool())
                .await?;
                Ok(())
            }

            async fn insert_subject_request(
                &self,
                r: &SubjectRequestRecord,
            ) -> Result<i64, StoreError> {
                let mut last = StoreError::Conflict;
                for _ in 0..NUMBER_RETRIES {
                    let next: i64 = sqlx::query_scalar(
                        "SELECT COALESCE(MAX(seq), 0) + 1 FROM subject_requests WHERE year = $1",
                    )
                    .bind(r.year)
                    .fetch_one(self.pool())
                    .await?;
                    let res = sqlx::query(&format!(
                        "INSERT INTO subject_requests ({REQUEST_COLS}) VALUES \
                         ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, \
                          $16, $17)"
                    ))
                    .bind(&r.id)
                    .bind(r.year)
                    .bind(next)
                    .bind(r.subject_id.to_vec())
                    .bind(&r.kind)
                    .bind(&r.status)
                    .bind(&r.body)
                    .bind(i64::from(r.dek_version))
                    .bind(&r.category)
                    .bind(r.received_at)
                    .bind(&r.deadline_date)
                    .bind(r.deadline_at)
                    .bind(&r.calendar_version)
                    .bind(r.updated_at)
                    .bind(&r.reason)
                    .bind(&r.answer)
                    .bind(&r.handled_by)
                    .execute(self.pool())
                    .await;
                    match res {
                        Ok(_) => return Ok(next),
                        Err(sqlx::Error::Database(db)) if db.is_unique_violation() => {
                            last = StoreError::Conflict;
                        }
                        Err(e) => return Err(e.into()),
                    }
                }
                Err(last)
            }

            async fn subject_request(
                &self,
                id: &str,
            ) -> Result<Option<SubjectRequestRecord>, StoreError> {
                let row = sqlx::query(&format!(
                    "SELECT {REQUEST_COLS} FROM subject_requests WHERE id = $1"
                ))
                .bind(id)
                .fetch_optional(self.pool())
                .await?;
                row.map(|r| $rows::request_from(&r)).transpose()
            }

            async fn subject_requests_of(
                &self,
                subject: &SubjectId,
            ) -> Result<Vec<SubjectRequestRecord>, StoreError> {
                let rows = sqlx::query(&format!(
                    "SELECT {REQUEST_COLS} FROM subject_requests WHERE subject_id = $1 \
                     ORDER BY received_at DESC, id DESC"
                ))
                .bind(subject.to_vec())
                .fetch_all(self.pool())
                .await?;
                rows.iter().map($rows::request_from).collect()
            }

            async fn subject_requests(
                &self,
                status: Option<&str>,
                limit: i64,
            ) -> Result<Vec<SubjectRequestRecord>, StoreError> {
                let rows = match status {
                    Some(s) => {
                        sqlx::query(&format!(
                            "SELECT {REQUEST_COLS} FROM subject_requests WHERE status = $1 \
                             ORDER BY deadline_at, id LIMIT $2"
                        ))
                        .bind(s)
                        .bind(limit)
                        .fetch_all(self.pool())
                        .await?
                    }
                    None => {
                        sqlx::query(&format!(
                            "SELECT {REQUEST_COLS} FROM subject_requests \
                             ORDER BY deadline_at, id LIMIT $1"
                        ))
                        .bind(limit)
                        .fetch_all(self.pool())
                        .await?
                    }
                };
                rows.iter().map($rows::request_from).collect()
            }

            async fn update_subject_request(
                &self,
                id: &str,
                u: &RequestUpdate,
            ) -> Result<bool, StoreError> {
                let mut tx = self.pool().begin_write().await?;
                let current: Option<String> =
                    sqlx::query_scalar("SELECT status FROM subject_requests WHERE id = $1")
                        .bind(id)
                        .fetch_optional(&mut *tx)
                        .await?;
                let Some(current) = current else {
                    let _ = tx.rollback().await;
                    return Err(StoreError::NotFound);
                };
                if !u.from.iter().any(|s| *s == current) {
                    let _ = tx.rollback().await;
                    return Ok(false);
                }
                let r = sqlx::query(
                    "UPDATE subject_requests SET status = $1, reason = COALESCE($2, reason), \
                     answer = COALESCE($3, answer), handled_by = $4, updated_at = $5 \
                     WHERE id = $6 AND status = $7",
                )
                .bind(&u.status)
                .bind(&u.reason)
                .bind(&u.answer)
                .bind(&u.handled_by)
                .bind(u.at)
                .bind(id)
                .bind(&current)
                .execute(&mut *tx)
                .await;
                match r {
                    Ok(done) => {
                        tx.commit().await?;
                        Ok(done.rows_affected() == 1)
                    }
                    Err(e) => {
                        let _ = tx.rollback().await;
                        Err(e.into())
                    }
                }
            }

            async fn insert_export(
                &self,
                e: &ExportRecord,
                audit: &[crate::AuditFields],
            ) -> Result<(), StoreError> {
                // On a task of its own, so a caller that gives up cannot separate the
                // export's commit from its audit entries (SQLite appends them after it).
                let (store, e, audit) = (self.clone(), e.clone(), audit.to_vec());
                tokio::spawn(async move { store.insert_export_now(&e, &audit).await })
                    .await
                    .map_err(|_| StoreError::Audit("recording the export failed".into()))?
            }

            async fn exports_of(&self, subject: &str) -> Result<Vec<ExportRecord>, StoreError> {
                let rows = sqlx::query(&format!(
                    "SELECT {EXPORT_COLS} FROM export_register WHERE subject = $1 \
                     ORDER BY at, id"
                ))
                .bind(subject)
                .fetch_all(self.pool())
                .await?;
                rows.iter().map($rows::export_from).collect()
            }
        }

        impl $ty {
            async fn insert_export_now(
                &self,
                e: &ExportRecord,
                audit: &[crate::AuditFields],
            ) -> Result<(), StoreError> {
                let mut tx = self.pool().begin_write().await?;
                let result = async {
                    sqlx::query(&format!(
                        "INSERT INTO export_register ({EXPORT_COLS}) VALUES \
                         ($1, $2, $3, $4, $5, $6, $7, $8)"
                    ))
                    .bind(&e.id)
                    .bind(&e.subject)
                    .bind(&e.format)
                    .bind(&e.sha256)
                    .bind(e.size)
                    .bind(e.at)
                    .bind(&e.actor)
                    .bind(&e.purpose)
                    .execute(&mut *tx)
                    .await?;
                    self.stage_audit_in(&mut tx, audit).await
                }
                .await;
                let staged = match result {
                    Ok(staged) => {
                        tx.commit().await?;
                        staged
                    }
                    Err(e) => {
                        let _ = tx.rollback().await;
                        return Err(e);
                    }
                };
                self.settle(staged).await.map(|_| ())
            }
        }
    };
}

impl_cabinet_store!(SqliteStore, sqlite_rows);
impl_cabinet_store!(PgStore, pg_rows);
