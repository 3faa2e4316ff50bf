//! Incidents of unauthorised access (clause 5.5; L-PROTECTION) and their timelines, on both
//! backends from one SQL body (`impl_incident_store!`).
//!
//! One open (not closed) incident per (rule, employee): [`IncidentStore::raise_incident`]
//! opens one or appends the new evidence to the open one, atomically; a partial unique index
//! keeps two processes from opening two. Every change is an event on the incident's timeline.

use crate::backend::BeginWrite;
use crate::{PgStore, SqliteStore, StoreError};
use async_trait::async_trait;
use sqlx::{Postgres, Row, Sqlite};

/// An incident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentRecord {
    /// UUID text.
    pub id: String,
    /// The detection rule that raised it.
    pub rule: String,
    /// The employee's actor id.
    pub employee: String,
    /// `low`, `medium`, `high`.
    pub severity: String,
    /// `open`, `acknowledged`, `closed`.
    pub status: String,
    /// When it was opened (µs).
    pub opened_at: i64,
    /// When the first evidence happened (µs) — the start of breach-notice terms.
    pub discovered_at: i64,
    /// Last change (µs).
    pub updated_at: i64,
    /// When acknowledged, by whom.
    pub acknowledged_at: Option<i64>,
    /// Actor id of the acknowledger.
    pub acknowledged_by: Option<String>,
    /// When closed.
    pub closed_at: Option<i64>,
    /// Actor id of the closer.
    pub closed_by: Option<String>,
    /// Distinct subjects the evidence names.
    pub affected_subjects: i64,
    /// Breach workflow placeholder: the regulator notice deadline (µs).
    pub regulator_deadline_at: Option<i64>,
    /// Breach workflow placeholder: when the regulator was notified (µs).
    pub regulator_notified_at: Option<i64>,
    /// Breach workflow placeholder: when the subjects were notified (µs).
    pub subjects_notified_at: Option<i64>,
}

/// One entry of an incident's timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentEventRecord {
    /// The incident.
    pub incident_id: String,
    /// 1, 2, … within the incident.
    pub seq: i64,
    /// When (µs).
    pub at: i64,
    /// `raised`, `evidence`, `auto_suspended`, `auto_suspend_failed`, `acknowledged`,
    /// `note`, `closed`.
    pub kind: String,
    /// Who: `system:detector` or the actor id of a person.
    pub actor: String,
    /// JSON evidence, or a note's text.
    pub detail: Option<String>,
}

/// A rule hit to record.
#[derive(Debug, Clone)]
pub struct NewIncident {
    /// Id to use if a new incident is opened (UUID text).
    pub id: String,
    /// The rule.
    pub rule: String,
    /// The employee.
    pub employee: String,
    /// `low`, `medium`, `high`.
    pub severity: String,
    /// When (µs): now for `opened_at`, and the evidence's time for `discovered_at`.
    pub at: i64,
    /// When the access that tripped the rule happened (µs).
    pub evidence_at: i64,
    /// Evidence as JSON.
    pub evidence: String,
    /// Subjects (pseudonyms) the evidence names.
    pub subjects: Vec<String>,
    /// The actor that records it (`system:detector`).
    pub actor: String,
}

/// What [`IncidentStore::raise_incident`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Raised {
    /// A new incident was opened.
    Opened(IncidentRecord),
    /// The evidence was appended to the open incident of the same rule and employee.
    Appended(IncidentRecord),
}

impl Raised {
    /// The incident either way.
    pub fn incident(&self) -> &IncidentRecord {
        match self {
            Raised::Opened(i) | Raised::Appended(i) => i,
        }
    }
}

/// A change of status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// `open` → `acknowledged`.
    Acknowledge,
    /// `open` or `acknowledged` → `closed`.
    Close,
}

/// What a status change did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransitionResult {
    /// Done; the incident as it is now.
    Done(Box<IncidentRecord>),
    /// No such incident.
    NotFound,
    /// The incident's status does not allow it (the current status).
    WrongStatus(String),
}

/// Persistence of incidents.
#[async_trait]
pub trait IncidentStore: Send + Sync {
    /// Open an incident for (rule, employee), or append the evidence to the open one.
    async fn raise_incident(&self, new: &NewIncident) -> Result<Raised, StoreError>;
    /// One incident.
    async fn incident(&self, id: &str) -> Result<Option<IncidentRecord>, StoreError>;
    /// Incidents, newest first, optionally of one status.
    async fn list_incidents(
        &self,
        status: Option<&str>,
        limit: i64,
    ) -> Result<Vec<IncidentRecord>, StoreError>;
    /// An incident's timeline, oldest first.
    async fn incident_events(&self, id: &str) -> Result<Vec<IncidentEventRecord>, StoreError>;
    /// The subjects (pseudonyms) an incident concerns.
    async fn incident_subjects(&self, id: &str) -> Result<Vec<String>, StoreError>;
    /// Append an event (a note, a containment step); `None` if there is no such incident.
    async fn append_incident_event(
        &self,
        id: &str,
        at: i64,
        kind: &str,
        actor: &str,
        detail: Option<&str>,
    ) -> Result<Option<IncidentEventRecord>, StoreError>;
    /// Acknowledge or close, with an event carrying the optional note.
    async fn transition_incident(
        &self,
        id: &str,
        transition: Transition,
        at: i64,
        actor: &str,
        note: Option<&str>,
    ) -> Result<TransitionResult, StoreError>;
}

const INCIDENT_COLS: &str = "id, rule, employee, severity, status, opened_at, discovered_at, \
     updated_at, acknowledged_at, acknowledged_by, closed_at, closed_by, affected_subjects, \
     regulator_deadline_at, regulator_notified_at, subjects_notified_at";

fn incident_from_row<R: Row>(row: &R) -> Result<IncidentRecord, StoreError>
where
    usize: sqlx::ColumnIndex<R>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<i64>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    Ok(IncidentRecord {
        id: row.try_get(0)?,
        rule: row.try_get(1)?,
        employee: row.try_get(2)?,
        severity: row.try_get(3)?,
        status: row.try_get(4)?,
        opened_at: row.try_get(5)?,
        discovered_at: row.try_get(6)?,
        updated_at: row.try_get(7)?,
        acknowledged_at: row.try_get(8)?,
        acknowledged_by: row.try_get(9)?,
        closed_at: row.try_get(10)?,
        closed_by: row.try_get(11)?,
        affected_subjects: row.try_get(12)?,
        regulator_deadline_at: row.try_get(13)?,
        regulator_notified_at: row.try_get(14)?,
        subjects_notified_at: row.try_get(15)?,
    })
}

fn event_from_row<R: Row>(row: &R) -> Result<IncidentEventRecord, StoreError>
where
    usize: sqlx::ColumnIndex<R>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    Ok(IncidentEventRecord {
        incident_id: row.try_get(0)?,
        seq: row.try_get(1)?,
        at: row.try_get(2)?,
        kind: row.try_get(3)?,
        actor: row.try_get(4)?,
        detail: row.try_get(5)?,
    })
}

fn is_unique_violation(e: &StoreError) -> bool {
    matches!(e, StoreError::Database(sqlx::Error::Database(db)) if db.is_unique_violation())
}

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

macro_rules! impl_incident_store {
    ($ty:ty, $db:ty) => {
        impl $ty {
            /// Lock the incident row (PostgreSQL: row lock until commit; SQLite has one
            /// writer) and append an event with the next seq.
            async fn incident_event_tx(
                tx: &mut sqlx::Transaction<'_, $db>,
                id: &str,
                at: i64,
                kind: &str,
                actor: &str,
                detail: Option<&str>,
            ) -> Result<Option<IncidentEventRecord>, StoreError> {
                let touched = sqlx::query("UPDATE incidents SET updated_at = $1 WHERE id = $2")
                    .bind(at)
                    .bind(id)
                    .execute(&mut **tx)
                    .await?
                    .rows_affected();
                if touched == 0 {
                    return Ok(None);
                }
                let seq: i64 = sqlx::query_scalar(
                    "SELECT COALESCE(MAX(seq), 0) + 1 FROM incident_events WHERE incident_id = $1",
                )
                .bind(id)
                .fetch_one(&mut **tx)
                .await?;
                sqlx::query(
                    "INSERT INTO incident_events (incident_id, seq, at, kind, actor, detail) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(id)
                .bind(seq)
                .bind(at)
                .bind(kind)
                .bind(actor)
                .bind(detail)
                .execute(&mut **tx)
                .await?;
                Ok(Some(IncidentEventRecord {
                    incident_id: id.to_string(),
                    seq,
                    at,
                    kind: kind.to_string(),
                    actor: actor.to_string(),
                    detail: detail.map(str::to_string),
                }))
            }

            async fn incident_tx(
                tx: &mut sqlx::Transaction<'_, $db>,
                id: &str,
            ) -> Result<Option<IncidentRecord>, StoreError> {
                let row = sqlx::query(&format!("SELECT {INCIDENT_COLS} FROM incidents WHERE id = $1"))
                    .bind(id)
                    .fetch_optional(&mut **tx)
                    .await?;
                row.map(|r| incident_from_row(&r)).transpose()
            }

            async fn raise_once(&self, new: &NewIncident) -> Result<Raised, StoreError> {
                let mut tx = self.pool().begin_write().await?;
                let result: Result<Raised, StoreError> = async {
                    let open: Option<String> = sqlx::query_scalar(
                        "SELECT id FROM incidents WHERE rule = $1 AND employee = $2 \
                         AND status <> 'closed'",
                    )
                    .bind(&new.rule)
                    .bind(&new.employee)
                    .fetch_optional(&mut *tx)
                    .await?;
                    let (id, opened) = match open {
                        Some(id) => {
                            Self::incident_event_tx(
                                &mut tx,
                                &id,
                                new.at,
                                "evidence",
                                &new.actor,
                                Some(&new.evidence),
                            )
                            .await?;
                            (id, false)
                        }
                        None => {
                            sqlx::query(
                                "INSERT INTO incidents (id, rule, employee, severity, status, \
                                 opened_at, discovered_at, updated_at, affected_subjects) \
                                 VALUES ($1, $2, $3, $4, 'open', $5, $6, $5, 0)",
                            )
                            .bind(&new.id)
                            .bind(&new.rule)
                            .bind(&new.employee)
                            .bind(&new.severity)
                            .bind(new.at)
                            .bind(new.evidence_at)
                            .execute(&mut *tx)
                            .await?;
                            Self::incident_event_tx(
                                &mut tx,
                                &new.id,
                                new.at,
                                "raised",
                                &new.actor,
                                Some(&new.evidence),
                            )
                            .await?;
                            (new.id.clone(), true)
                        }
                    };
                    for s in &new.subjects {
                        sqlx::query(
                            "INSERT INTO incident_subjects (incident_id, subject, first_seen_at) \
                             VALUES ($1, $2, $3) ON CONFLICT (incident_id, subject) DO NOTHING",
                        )
                        .bind(&id)
                        .bind(s)
                        .bind(new.evidence_at)
                        .execute(&mut *tx)
                        .await?;
                    }
                    sqlx::query(
                        "UPDATE incidents SET affected_subjects = \
                         (SELECT COUNT(*) FROM incident_subjects WHERE incident_id = $1), \
                         discovered_at = CASE WHEN discovered_at > $2 THEN $2 ELSE discovered_at END \
                         WHERE id = $1",
                    )
                    .bind(&id)
                    .bind(new.evidence_at)
                    .execute(&mut *tx)
                    .await?;
                    let record = Self::incident_tx(&mut tx, &id)
                        .await?
                        .ok_or(StoreError::NotFound)?;
                    Ok(if opened {
                        Raised::Opened(record)
                    } else {
                        Raised::Appended(record)
                    })
                }
                .await;
                finish(tx, result).await
            }
        }

        #[async_trait]
        impl IncidentStore for $ty {
            async fn raise_incident(&self, new: &NewIncident) -> Result<Raised, StoreError> {
                match self.raise_once(new).await {
                    // Another process opened the incident between our SELECT and INSERT:
                    // append to it instead.
                    Err(e) if is_unique_violation(&e) => self.raise_once(new).await,
                    other => other,
                }
            }

            async fn incident(&self, id: &str) -> Result<Option<IncidentRecord>, StoreError> {
                let row = sqlx::query(&format!("SELECT {INCIDENT_COLS} FROM incidents WHERE id = $1"))
                    .bind(id)
                    .fetch_optional(self.pool())
                    .await?;
                row.map(|r| incident_from_row(&r)).transpose()
            }

            async fn list_incidents(
                &self,
                status: Option<&str>,
                limit: i64,
            ) -> Result<Vec<IncidentRecord>, StoreError> {
                let limit = limit.clamp(1, 1000);
                let rows = match status {
                    Some(s) => {
                        sqlx::query(&format!(
                            "SELECT {INCIDENT_COLS} FROM incidents WHERE status = $1 \
                             ORDER BY opened_at DESC, id LIMIT $2"
                        ))
                        .bind(s)
                        .bind(limit)
                        .fetch_all(self.pool())
                        .await?
                    }
                    None => {
                        sqlx::query(&format!(
                            "SELECT {INCIDENT_COLS} FROM incidents \
                             ORDER BY opened_at DESC, id LIMIT $1"
                        ))
                        .bind(limit)
                        .fetch_all(self.pool())
                        .await?
                    }
                };
                rows.iter().map(incident_from_row).collect()
            }

            async fn incident_events(
                &self,
                id: &str,
            ) -> Result<Vec<IncidentEventRecord>, StoreError> {
                let rows = sqlx::query(
                    "SELECT incident_id, seq, at, kind, actor, detail FROM incident_events \
                     WHERE incident_id = $1 ORDER BY seq",
                )
                .bind(id)
                .fetch_all(self.pool())
                .await?;
                rows.iter().map(event_from_row).collect()
            }

            async fn incident_subjects(&self, id: &str) -> Result<Vec<String>, StoreError> {
                let subjects: Vec<String> = sqlx::query_scalar(
                    "SELECT subject FROM incident_subjects WHERE incident_id = $1 ORDER BY subject",
                )
                .bind(id)
                .fetch_all(self.pool())
                .await?;
                Ok(subjects)
            }

            async fn append_incident_event(
                &self,
                id: &str,
                at: i64,
                kind: &str,
                actor: &str,
                detail: Option<&str>,
            ) -> Result<Option<IncidentEventRecord>, StoreError> {
                let mut tx = self.pool().begin_write().await?;
                let result = Self::incident_event_tx(&mut tx, id, at, kind, actor, detail).await;
                finish(tx, result).await
            }

            async fn transition_incident(
                &self,
                id: &str,
                transition: Transition,
                at: i64,
                actor: &str,
                note: Option<&str>,
            ) -> Result<TransitionResult, StoreError> {
                let mut tx = self.pool().begin_write().await?;
                let result: Result<TransitionResult, StoreError> = async {
                    // Lock the row first (the event append's UPDATE), then read its status.
                    let (kind, allowed): (&str, &[&str]) = match transition {
                        Transition::Acknowledge => ("acknowledged", &["open"]),
                        Transition::Close => ("closed", &["open", "acknowledged"]),
                    };
                    let locked = sqlx::query("UPDATE incidents SET updated_at = $1 WHERE id = $2")
                        .bind(at)
                        .bind(id)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                    if locked == 0 {
                        return Ok(TransitionResult::NotFound);
                    }
                    let Some(current) = Self::incident_tx(&mut tx, id).await? else {
                        return Ok(TransitionResult::NotFound);
                    };
                    if !allowed.contains(&current.status.as_str()) {
                        return Ok(TransitionResult::WrongStatus(current.status));
                    }
                    let sql = match transition {
                        Transition::Acknowledge => {
                            "UPDATE incidents SET status = 'acknowledged', acknowledged_at = $1, \
                             acknowledged_by = $2 WHERE id = $3"
                        }
                        Transition::Close => {
                            "UPDATE incidents SET status = 'closed', closed_at = $1, \
                             closed_by = $2 WHERE id = $3"
                        }
                    };
                    sqlx::query(sql)
                        .bind(at)
                        .bind(actor)
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                    Self::incident_event_tx(&mut tx, id, at, kind, actor, note).await?;
                    let now = Self::incident_tx(&mut tx, id)
                        .await?
                        .ok_or(StoreError::NotFound)?;
                    Ok(TransitionResult::Done(Box::new(now)))
                }
                .await;
                finish(tx, result).await
            }
        }
    };
}

impl_incident_store!(SqliteStore, Sqlite);
impl_incident_store!(PgStore, Postgres);
