//! Storage of the versioned policy, the consent ledger, the application channel, the loan
//! obligations reported by the lender's loan system, and withdrawal requests (PRE-1, 2.1,
//! 6.1, 6.2, 7.1c, 7.1d, 9.2; L-CONSENT-1..3).
//!
//! One trait, [`ConsentStore`], implemented for [`SqliteStore`] and [`PgStore`] from one SQL
//! body by `impl_consent_store!` (as `impl_store!` does for the vault), so the backends cannot
//! drift apart. Published policy versions are immutable in the database itself (triggers
//! refuse `UPDATE`/`DELETE`), and the ledger is append-only: nothing here updates or deletes
//! a consent row except [`ConsentStore::purge_application`], which removes *everything* of
//! an application that was never finished (6.2: a refused or abandoned application leaves no
//! personal data behind).

use crate::backend::BeginWrite;
use crate::{NewSubject, PgStore, SqliteStore, StoreError, SubjectId};
use async_trait::async_trait;
use sqlx::Row;

/// A published policy version (9.2). Immutable once stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyVersionRecord {
    /// Version number, from 1, assigned by the store on publication.
    pub number: i64,
    /// When it was published (µs).
    pub published_at: i64,
    /// When it takes effect (µs); never before publication.
    pub effective_at: i64,
    /// "Especially significant change" (9.2): subjects are notified by e-mail.
    pub significant: bool,
    /// The operator's name as the policy states it (L-CONSENT-2).
    pub operator_name: String,
    /// The operator's BIN (L-CONSENT-2).
    pub operator_bin: String,
    /// Russian text.
    pub text_ru: String,
    /// Kazakh text.
    pub text_kk: String,
    /// English text, optional.
    pub text_en: Option<String>,
    /// SHA-256 over the canonical content (computed by the service).
    pub content_hash: Vec<u8>,
    /// Actor id that published it.
    pub published_by: String,
}

/// One decision in the consent ledger (L-CONSENT-1/2). Never updated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentEventRecord {
    /// Public id (UUIDv7 text).
    pub id: String,
    /// The subject.
    pub subject_id: SubjectId,
    /// `policy`, or a consent-based purpose code.
    pub scope: String,
    /// `granted`, `refused` or `withdrawn`.
    pub decision: String,
    /// When (µs).
    pub at: i64,
    /// The policy version in force that the decision was made under.
    pub policy_version: i64,
    /// Language the subject saw the policy in (`ru`, `kk`, `en`).
    pub lang: String,
    /// `web_form`, `branch_paper`, `state_service` or `api`.
    pub channel: String,
    /// Evidence (IP, user agent, scanned document hash) as AES-GCM ciphertext under the
    /// subject's data key, if any was given.
    pub evidence: Option<Vec<u8>>,
    /// The data-key generation the evidence was encrypted with.
    pub dek_version: u32,
    /// End of the validity term (µs); `None`: until the purpose is achieved (L-CONSENT-2).
    pub valid_until: Option<i64>,
    /// Operator name (L-CONSENT-2).
    pub operator_name: String,
    /// Operator BIN.
    pub operator_bin: String,
    /// Whether transfer to third parties is allowed after this decision.
    pub third_party: bool,
    /// Whether cross-border transfer is allowed after this decision.
    pub cross_border: bool,
    /// Whether publication in public sources is allowed after this decision (7.1d).
    pub publication: bool,
    /// The list of data the decision covers: category codes, space-separated.
    pub categories: String,
    /// Actor id that recorded it.
    pub recorded_by: String,
    /// The withdrawal request that caused it, if any.
    pub request_id: Option<String>,
}

/// An application made through the site (6.1): open until submitted; an open one is purged
/// when abandoned or expired (6.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplicationRecord {
    /// Public id (UUIDv7 text).
    pub id: String,
    /// The subject created with it.
    pub subject_id: SubjectId,
    /// `open` or `submitted`.
    pub status: String,
    /// Created (µs).
    pub created_at: i64,
    /// When an open application expires (µs).
    pub expires_at: i64,
    /// Last change (µs).
    pub updated_at: i64,
    /// Actor id.
    pub created_by: String,
}

/// A loan application reported by the loan system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoanApplicationRecord {
    /// The loan system's reference.
    pub id: String,
    /// The subject.
    pub subject_id: SubjectId,
    /// `received`, `approved`, `declined`, `cancelled`.
    pub status: String,
    /// When received (µs).
    pub received_at: i64,
    /// Actor id.
    pub recorded_by: String,
}

/// An offer sent to the subject (2.1: "the offer sent and accepted" is a record of its own).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfferRecord {
    /// The loan system's reference.
    pub id: String,
    /// The subject.
    pub subject_id: SubjectId,
    /// The loan application it answers, if reported.
    pub application_id: Option<String>,
    /// Sent (µs).
    pub sent_at: i64,
    /// Accepted (µs), if accepted.
    pub accepted_at: Option<i64>,
    /// The offer's terms (JSON), AES-GCM ciphertext under the subject's data key.
    pub terms: Vec<u8>,
    /// Data-key generation of `terms`.
    pub dek_version: u32,
    /// Actor id.
    pub recorded_by: String,
}

/// A microcredit contract and its current status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContractRecord {
    /// The loan system's reference.
    pub id: String,
    /// The borrower.
    pub subject_id: SubjectId,
    /// The accepted offer, if reported.
    pub offer_id: Option<String>,
    /// Concluded (µs).
    pub concluded_at: i64,
    /// `active`, `overdue`, `repaid`, `assigned`, `written_off`.
    pub status: String,
    /// Since when (µs).
    pub status_at: i64,
    /// Actor id that reported it.
    pub recorded_by: String,
}

/// One status of a contract, in its history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContractEventRecord {
    /// The contract.
    pub contract_id: String,
    /// 1, 2, … in order.
    pub seq: i64,
    /// The status.
    pub status: String,
    /// Since when (µs).
    pub at: i64,
    /// For `assigned`: the cessionary (an organisation's name, not personal data).
    pub cessionary: Option<String>,
    /// Actor id.
    pub recorded_by: String,
}

/// A request to withdraw consent (7.1c, L-CONSENT-3), accepted or refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WithdrawalRecord {
    /// Public id (UUIDv7 text).
    pub id: String,
    /// The subject.
    pub subject_id: SubjectId,
    /// Received (µs).
    pub received_at: i64,
    /// Channel it arrived through.
    pub channel: String,
    /// Language of the answer.
    pub lang: String,
    /// `accepted` or `refused`.
    pub outcome: String,
    /// Reason code of a refusal (e.g. `open_contract`).
    pub reason: Option<String>,
    /// Unfulfilled contracts at the time (references, space-separated).
    pub open_contracts: String,
    /// The legal deadline's local date (`YYYY-MM-DD`, Almaty).
    pub deadline_date: String,
    /// The legal deadline (µs): end of that day, Almaty time.
    pub deadline_at: i64,
    /// The working-day calendar's version used.
    pub calendar_version: String,
    /// Actor id.
    pub recorded_by: String,
}

/// Persistence of policy versions, consents, applications, loans and withdrawals.
#[async_trait]
pub trait ConsentStore: Send + Sync {
    /// Publish a version: its number is the next one, assigned in the transaction. Returns
    /// the number.
    async fn insert_policy_version(&self, v: &PolicyVersionRecord) -> Result<i64, StoreError>;
    /// One version by number.
    async fn policy_version(&self, number: i64) -> Result<Option<PolicyVersionRecord>, StoreError>;
    /// Every version, by number.
    async fn policy_versions(&self) -> Result<Vec<PolicyVersionRecord>, StoreError>;
    /// The version in force at `now`: the highest number whose effective time has come.
    async fn current_policy_version(
        &self,
        now: i64,
    ) -> Result<Option<PolicyVersionRecord>, StoreError>;

    /// Append decisions to the ledger, all or nothing.
    async fn append_consents(&self, events: &[ConsentEventRecord]) -> Result<(), StoreError>;
    /// A subject's decisions, oldest first.
    async fn consent_events(
        &self,
        subject: &SubjectId,
    ) -> Result<Vec<ConsentEventRecord>, StoreError>;
    /// Every decision of the whole ledger, oldest first, from `after_seq` (exclusive), at most
    /// `limit`: `(seq, event)`. Used to build the in-process ledger at start.
    async fn consent_events_page(
        &self,
        after_seq: i64,
        limit: i64,
    ) -> Result<Vec<(i64, ConsentEventRecord)>, StoreError>;
    /// The change feed of the consent ledger: which subjects' decisions other processes
    /// committed (PostgreSQL `LISTEN`, fed by a trigger). `None` on SQLite, which one process
    /// serves.
    async fn consent_feed(&self) -> Result<Option<ConsentFeed>, StoreError>;
    /// The language (`ru`/`kk`/`en`) of the subject's latest policy decision.
    async fn subject_language(&self, subject: &SubjectId) -> Result<Option<String>, StoreError>;

    /// Create a subject (with its values and indexes), its application and its consents in
    /// one transaction.
    async fn insert_application(
        &self,
        subject: &NewSubject,
        application: &ApplicationRecord,
        consents: &[ConsentEventRecord],
    ) -> Result<(), StoreError>;
    /// One application.
    async fn application(&self, id: &str) -> Result<Option<ApplicationRecord>, StoreError>;
    /// Move an application from `from` to `to`; `NotFound` if it is not in `from`.
    async fn set_application_status(
        &self,
        id: &str,
        from: &str,
        to: &str,
        now: i64,
    ) -> Result<(), StoreError>;
    /// Delete an *open* application with its subject, values, indexes and consents.
    /// Returns the subject purged, or `None` if no open application has this id.
    async fn purge_application(&self, id: &str) -> Result<Option<SubjectId>, StoreError>;
    /// Open applications whose expiry has passed.
    async fn expired_applications(
        &self,
        now: i64,
        limit: i64,
    ) -> Result<Vec<ApplicationRecord>, StoreError>;

    /// Record a loan application; `Conflict` if its id is taken, `NotFound` without subject.
    async fn insert_loan_application(&self, r: &LoanApplicationRecord) -> Result<(), StoreError>;
    /// A subject's loan applications.
    async fn loan_applications_of(
        &self,
        subject: &SubjectId,
    ) -> Result<Vec<LoanApplicationRecord>, StoreError>;
    /// Record an offer.
    async fn insert_offer(&self, r: &OfferRecord) -> Result<(), StoreError>;
    /// Mark an offer accepted; `NotFound` if there is no unaccepted offer with this id.
    async fn accept_offer(&self, id: &str, at: i64) -> Result<(), StoreError>;
    /// One offer.
    async fn offer(&self, id: &str) -> Result<Option<OfferRecord>, StoreError>;
    /// A subject's offers.
    async fn offers_of(&self, subject: &SubjectId) -> Result<Vec<OfferRecord>, StoreError>;
    /// Record a contract with its first status.
    async fn insert_contract(
        &self,
        r: &ContractRecord,
        cessionary: Option<&str>,
    ) -> Result<(), StoreError>;
    /// Append a status to a contract's history and make it current.
    async fn set_contract_status(
        &self,
        id: &str,
        status: &str,
        at: i64,
        cessionary: Option<&str>,
        by: &str,
    ) -> Result<(), StoreError>;
    /// One contract.
    async fn contract(&self, id: &str) -> Result<Option<ContractRecord>, StoreError>;
    /// A subject's contracts.
    async fn contracts_of(&self, subject: &SubjectId) -> Result<Vec<ContractRecord>, StoreError>;
    /// A contract's status history, oldest first.
    async fn contract_events(&self, id: &str) -> Result<Vec<ContractEventRecord>, StoreError>;

    /// Record a withdrawal request and the decisions it causes, in one transaction.
    async fn insert_withdrawal(
        &self,
        w: &WithdrawalRecord,
        consents: &[ConsentEventRecord],
    ) -> Result<(), StoreError>;
    /// A subject's withdrawal requests, oldest first.
    async fn withdrawals_of(
        &self,
        subject: &SubjectId,
    ) -> Result<Vec<WithdrawalRecord>, StoreError>;
}

const POLICY_COLS: &str = "number, published_at, effective_at, significant, operator_name, \
     operator_bin, text_ru, text_kk, text_en, content_hash, published_by";
const CONSENT_COLS: &str = "id, subject_id, scope, decision, at, policy_version, lang, channel, \
     evidence, dek_version, valid_until, operator_name, operator_bin, third_party, cross_border, \
     publication, categories, recorded_by, request_id";
const APP_COLS: &str = "id, subject_id, status, created_at, expires_at, updated_at, created_by";
const OFFER_COLS: &str =
    "id, subject_id, application_id, sent_at, accepted_at, terms, dek_version, recorded_by";
const CONTRACT_COLS: &str =
    "id, subject_id, offer_id, concluded_at, status, status_at, recorded_by";
const WITHDRAWAL_COLS: &str = "id, subject_id, received_at, channel, lang, outcome, reason, \
     open_contracts, deadline_date, deadline_at, calendar_version, recorded_by";

/// The consent ledger's change feed on PostgreSQL (migration `0020_consent_feed.sql`): a
/// listening connection on the schema's channel.
pub struct ConsentFeed {
    listener: sqlx::postgres::PgListener,
}

impl std::fmt::Debug for ConsentFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsentFeed").finish_non_exhaustive()
    }
}

/// What the feed says next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedEvent {
    /// This subject's decisions changed (committed): reload them.
    Changed(SubjectId),
    /// The connection was lost and has been re-established; notifications may have been
    /// missed: reload everything.
    Resync,
}

impl ConsentFeed {
    /// Wait for the next change.
    pub async fn next(&mut self) -> Result<FeedEvent, StoreError> {
        loop {
            match self.listener.try_recv().await? {
                None => return Ok(FeedEvent::Resync),
                Some(n) => {
                    let Ok(bytes) = hex::decode(n.payload()) else {
                        continue;
                    };
                    if let Ok(id) = SubjectId::try_from(bytes.as_slice()) {
                        return Ok(FeedEvent::Changed(id));
                    }
                }
            }
        }
    }
}

impl SqliteStore {
    async fn open_consent_feed(&self) -> Result<Option<ConsentFeed>, StoreError> {
        Ok(None)
    }
}

impl PgStore {
    async fn open_consent_feed(&self) -> Result<Option<ConsentFeed>, StoreError> {
        let (schema,): (String,) = sqlx::query_as("SELECT current_schema()::text")
            .fetch_one(self.pool())
            .await?;
        let mut listener = sqlx::postgres::PgListener::connect_with(self.pool()).await?;
        listener.listen(&format!("derbes_consent_{schema}")).await?;
        Ok(Some(ConsentFeed { listener }))
    }
}

/// Commit on success; on failure roll back now (see `backend::finish`).
async fn finish_tx<DB: sqlx::Database, T>(
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

fn map_write_error(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict,
        sqlx::Error::Database(db) if db.is_foreign_key_violation() => StoreError::NotFound,
        _ => StoreError::Database(e),
    }
}

fn bad(what: &str) -> StoreError {
    StoreError::Database(sqlx::Error::Protocol(format!("malformed stored {what}")))
}

fn sid(bytes: Vec<u8>) -> Result<SubjectId, StoreError> {
    bytes.try_into().map_err(|_| bad("subject id"))
}

fn u32_of(v: i64) -> Result<u32, StoreError> {
    u32::try_from(v).map_err(|_| bad("key version"))
}

/// Decoding the rows of both backends with one body.
macro_rules! row_decoders {
    ($row:ty) => {
        pub(super) fn policy_from(r: &$row) -> Result<PolicyVersionRecord, StoreError> {
            Ok(PolicyVersionRecord {
                number: r.try_get(0)?,
                published_at: r.try_get(1)?,
                effective_at: r.try_get(2)?,
                significant: r.try_get::<i64, _>(3)? != 0,
                operator_name: r.try_get(4)?,
                operator_bin: r.try_get(5)?,
                text_ru: r.try_get(6)?,
                text_kk: r.try_get(7)?,
                text_en: r.try_get(8)?,
                content_hash: r.try_get(9)?,
                published_by: r.try_get(10)?,
            })
        }

        pub(super) fn consent_from(r: &$row, at: usize) -> Result<ConsentEventRecord, StoreError> {
            Ok(ConsentEventRecord {
                id: r.try_get(at)?,
                subject_id: sid(r.try_get(at + 1)?)?,
                scope: r.try_get(at + 2)?,
                decision: r.try_get(at + 3)?,
                at: r.try_get(at + 4)?,
                policy_version: r.try_get(at + 5)?,
                lang: r.try_get(at + 6)?,
                channel: r.try_get(at + 7)?,
                evidence: r.try_get(at + 8)?,
                dek_version: u32_of(r.try_get(at + 9)?)?,
                valid_until: r.try_get(at + 10)?,
                operator_name: r.try_get(at + 11)?,
                operator_bin: r.try_get(at + 12)?,
                third_party: r.try_get::<i64, _>(at + 13)? != 0,
                cross_border: r.try_get::<i64, _>(at + 14)? != 0,
                publication: r.try_get::<i64, _>(at + 15)? != 0,
                categories: r.try_get(at + 16)?,
                recorded_by: r.try_get(at + 17)?,
                request_id: r.try_get(at + 18)?,
            })
        }

        pub(super) fn app_from(r: &$row) -> Result<ApplicationRecord, StoreError> {
            Ok(ApplicationRecord {
                id: r.try_get(0)?,
                subject_id: sid(r.try_get(1)?)?,
                status: r.try_get(2)?,
                created_at: r.try_get(3)?,
                expires_at: r.try_get(4)?,
                updated_at: r.try_get(5)?,
                created_by: r.try_get(6)?,
            })
        }

        pub(super) fn loan_app_from(r: &$row) -> Result<LoanApplicationRecord, StoreError> {
            Ok(LoanApplicationRecord {
                id: r.try_get(0)?,
                subject_id: sid(r.try_get(1)?)?,
                status: r.try_get(2)?,
                received_at: r.try_get(3)?,
                recorded_by: r.try_get(4)?,
            })
        }

        pub(super) fn offer_from(r: &$row) -> Result<OfferRecord, StoreError> {
            Ok(OfferRecord {
                id: r.try_get(0)?,
                subject_id: sid(r.try_get(1)?)?,
                application_id: r.try_get(2)?,
                sent_at: r.try_get(3)?,
                accepted_at: r.try_get(4)?,
                terms: r.try_get(5)?,
                dek_version: u32_of(r.try_get(6)?)?,
                recorded_by: r.try_get(7)?,
            })
        }

        pub(super) fn contract_from(r: &$row) -> Result<ContractRecord, StoreError> {
            Ok(ContractRecord {
                id: r.try_get(0)?,
                subject_id: sid(r.try_get(1)?)?,
                offer_id: r.try_get(2)?,
                concluded_at: r.try_get(3)?,
                status: r.try_get(4)?,
                status_at: r.try_get(5)?,
                recorded_by: r.try_get(6)?,
            })
        }

        pub(super) fn contract_event_from(r: &$row) -> Result<ContractEventRecord, StoreError> {
            Ok(ContractEventRecord {
                contract_id: r.try_get(0)?,
                seq: r.try_get(1)?,
                status: r.try_get(2)?,
                at: r.try_get(3)?,
                cessionary: r.try_get(4)?,
                recorded_by: r.try_get(5)?,
            })
        }

        pub(super) fn withdrawal_from(r: &$row) -> Result<WithdrawalRecord, StoreError> {
            Ok(WithdrawalRecord {
                id: r.try_get(0)?,
                subject_id: sid(r.try_get(1)?)?,
                received_at: r.try_get(2)?,
                channel: r.try_get(3)?,
                lang: r.try_get(4)?,
                outcome: r.try_get(5)?,
                reason: r.try_get(6)?,
                open_contracts: r.try_get(7)?,
                deadline_date: r.try_get(8)?,
                deadline_at: r.try_get(9)?,
                calendar_version: r.try_get(10)?,
                recorded_by: r.try_get(11)?,
            })
        }
    };
}

mod sqlite_rows {
    use super::*;
    row_decoders!(sqlx::sqlite::SqliteRow);
}

mod pg_rows {
    use super::*;
    row_decoders!(sqlx::postgres::PgRow);
}

macro_rules! insert_consents {
    ($conn:expr, $events:expr) => {{
        for e in $events {
            sqlx::query(&format!(
                "INSERT INTO consent_events ({CONSENT_COLS}) VALUES \
                 ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, \
                 $18, $19)"
            ))
            .bind(&e.id)
            .bind(e.subject_id.to_vec())
            .bind(&e.scope)
            .bind(&e.decision)
            .bind(e.at)
            .bind(e.policy_version)
            .bind(&e.lang)
            .bind(&e.channel)
            .bind(&e.evidence)
            .bind(i64::from(e.dek_version))
            .bind(e.valid_until)
            .bind(&e.operator_name)
            .bind(&e.operator_bin)
            .bind(i64::from(e.third_party))
            .bind(i64::from(e.cross_border))
            .bind(i64::from(e.publication))
            .bind(&e.categories)
            .bind(&e.recorded_by)
            .bind(&e.request_id)
            .execute(&mut *$conn)
            .await
            .map_err(map_write_error)?;
        }
    }};
}

macro_rules! impl_consent_store {
    ($ty:ty, $rows:ident) => {
        #[async_trait]
        impl ConsentStore for $ty {
            async fn insert_policy_version(
                &self,
                v: &PolicyVersionRecord,
            ) -> Result<i64, StoreError> {
                let mut tx = self.pool().begin_write().await?;
                let result: Result<i64, StoreError> = async {
                    let last: i64 =
                        sqlx::query_scalar("SELECT COALESCE(MAX(number), 0) FROM policy_versions")
                            .fetch_one(&mut *tx)
                            .await?;
                    let number = last + 1;
                    sqlx::query(&format!(
                        "INSERT INTO policy_versions ({POLICY_COLS}) VALUES \
                         ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
                    ))
                    .bind(number)
                    .bind(v.published_at)
                    .bind(v.effective_at)
                    .bind(i64::from(v.significant))
                    .bind(&v.operator_name)
                    .bind(&v.operator_bin)
                    .bind(&v.text_ru)
                    .bind(&v.text_kk)
                    .bind(&v.text_en)
                    .bind(&v.content_hash)
                    .bind(&v.published_by)
                    .execute(&mut *tx)
                    .await
                    .map_err(map_write_error)?;
                    Ok(number)
                }
                .await;
                finish_tx(tx, result).await
            }

            async fn policy_version(
                &self,
                number: i64,
            ) -> Result<Option<PolicyVersionRecord>, StoreError> {
                let row = sqlx::query(&format!(
                    "SELECT {POLICY_COLS} FROM policy_versions WHERE number = $1"
                ))
                .bind(number)
                .fetch_optional(self.pool())
                .await?;
                row.map(|r| $rows::policy_from(&r)).transpose()
            }

            async fn policy_versions(&self) -> Result<Vec<PolicyVersionRecord>, StoreError> {
                let rows = sqlx::query(&format!(
                    "SELECT {POLICY_COLS} FROM policy_versions ORDER BY number"
                ))
                .fetch_all(self.pool())
                .await?;
                rows.iter().map($rows::policy_from).collect()
            }

            async fn current_policy_version(
                &self,
                now: i64,
            ) -> Result<Option<PolicyVersionRecord>, StoreError> {
                let row = sqlx::query(&format!(
                    "SELECT {POLICY_COLS} FROM policy_versions WHERE effective_at <= $1 \
                     ORDER BY number DESC LIMIT 1"
                ))
                .bind(now)
                .fetch_optional(self.pool())
                .await?;
                row.map(|r| $rows::policy_from(&r)).transpose()
            }

            async fn append_consents(
                &self,
                events: &[ConsentEventRecord],
            ) -> Result<(), StoreError> {
                if events.is_empty() {
                    return Ok(());
                }
                let mut tx = self.pool().begin_write().await?;
                let result: Result<(), StoreError> = async {
                    insert_consents!(tx, events);
                    Ok(())
                }
                .await;
                finish_tx(tx, result).await
            }

            async fn consent_events(
                &self,
                subject: &SubjectId,
            ) -> Result<Vec<ConsentEventRecord>, StoreError> {
                let rows = sqlx::query(&format!(
                    "SELECT {CONSENT_COLS} FROM consent_events WHERE subject_id = $1 ORDER BY seq"
                ))
                .bind(subject.to_vec())
                .fetch_all(self.pool())
                .await?;
                rows.iter().map(|r| $rows::consent_from(r, 0)).collect()
            }

            async fn consent_feed(&self) -> Result<Option<ConsentFeed>, StoreError> {
                self.open_consent_feed().await
            }

            async fn consent_events_page(
                &self,
                after_seq: i64,
                limit: i64,
            ) -> Result<Vec<(i64, ConsentEventRecord)>, StoreError> {
                let rows = sqlx::query(&format!(
                    "SELECT seq, {CONSENT_COLS} FROM consent_events WHERE seq > $1 \
                     ORDER BY seq LIMIT $2"
                ))
                .bind(after_seq)
                .bind(limit.max(1))
                .fetch_all(self.pool())
                .await?;
                rows.iter()
                    .map(|r| Ok((r.try_get::<i64, _>(0)?, $rows::consent_from(r, 1)?)))
                    .collect()
            }

            async fn subject_language(
                &self,
                subject: &SubjectId,
            ) -> Result<Option<String>, StoreError> {
                let lang: Option<String> = sqlx::query_scalar(
                    "SELECT lang FROM consent_events WHERE subject_id = $1 AND scope = 'policy' \
                     ORDER BY seq DESC LIMIT 1",
                )
                .bind(subject.to_vec())
                .fetch_optional(self.pool())
                .await?;
                Ok(lang)
            }

            async fn insert_application(
                &self,
                subject: &NewSubject,
                app: &ApplicationRecord,
                consents: &[ConsentEventRecord],
            ) -> Result<(), StoreError> {
                let mut tx = self.pool().begin_write().await?;
                let result: Result<(), StoreError> = async {
                    let s = &subject.subject;
                    sqlx::query(
                        "INSERT INTO subjects (id, created_at, created_by, kek_version, \
                         wrapped_dek, dek_version, status, vals) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                    )
                    .bind(s.id.to_vec())
                    .bind(s.created_at)
                    .bind(&s.created_by)
                    .bind(i64::from(s.kek_version))
                    .bind(&s.wrapped_dek)
                    .bind(i64::from(s.dek_version))
                    .bind(&s.status)
                    .bind(subject.vals())
                    .execute(&mut *tx)
                    .await
                    .map_err(map_write_error)?;
                    for i in subject.indexes() {
                        let table = if i.unique { "unique_index" } else { "shared_index" };
                        sqlx::query(&format!(
                            "INSERT INTO {table} (hash, subject_id) VALUES ($1, $2)"
                        ))
                        .bind(&i.hash)
                        .bind(s.id.to_vec())
                        .execute(&mut *tx)
                        .await
                        .map_err(map_write_error)?;
                    }
                    sqlx::query(&format!(
                        "INSERT INTO applications ({APP_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"
                    ))
                    .bind(&app.id)
                    .bind(app.subject_id.to_vec())
                    .bind(&app.status)
                    .bind(app.created_at)
                    .bind(app.expires_at)
                    .bind(app.updated_at)
                    .bind(&app.created_by)
                    .execute(&mut *tx)
                    .await
                    .map_err(map_write_error)?;
                    insert_consents!(tx, consents);
                    Ok(())
                }
                .await;
                finish_tx(tx, result).await
            }

            async fn application(
                &self,
                id: &str,
            ) -> Result<Option<ApplicationRecord>, StoreError> {
                let row = sqlx::query(&format!(
                    "SELECT {APP_COLS} FROM applications WHERE id = $1"
                ))
                .bind(id)
                .fetch_optional(self.pool())
                .await?;
                row.map(|r| $rows::app_from(&r)).transpose()
            }

            async fn set_application_status(
                &self,
                id: &str,
                from: &str,
                to: &str,
                now: i64,
            ) -> Result<(), StoreError> {
                let r = sqlx::query(
                    "UPDATE applications SET status = $1, updated_at = $2 \
                     WHERE id = $3 AND status = $4",
                )
                .bind(to)
                .bind(now)
                .bind(id)
                .bind(from)
                .execute(self.pool())
                .await?;
                if r.rows_affected() == 0 {
                    return Err(StoreError::NotFound);
                }
                Ok(())
            }

            async fn purge_application(&self, id: &str) -> Result<Option<SubjectId>, StoreError> {
                let mut tx = self.pool().begin_write().await?;
                let result: Result<Option<SubjectId>, StoreError> = async {
                    let subject: Option<Vec<u8>> = sqlx::query_scalar(
                        "SELECT subject_id FROM applications WHERE id = $1 AND status = 'open'",
                    )
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?;
                    let Some(subject) = subject else {
                        return Ok(None);
                    };
                    for sql in [
                        "DELETE FROM applications WHERE subject_id = $1",
                        "DELETE FROM consent_events WHERE subject_id = $1",
                        "DELETE FROM unique_index WHERE subject_id = $1",
                        "DELETE FROM shared_index WHERE subject_id = $1",
                        "DELETE FROM value_history WHERE subject_id = $1",
                        "DELETE FROM subjects WHERE id = $1",
                    ] {
                        sqlx::query(sql)
                            .bind(&subject)
                            .execute(&mut *tx)
                            .await
                            .map_err(|e| match map_write_error(e) {
                                // Loans or other records refer to the subject: it is not an
                                // abandoned application any more.
                                StoreError::NotFound => StoreError::Conflict,
                                other => other,
                            })?;
                    }
                    Ok(Some(sid(subject)?))
                }
                .await;
                finish_tx(tx, result).await
            }

            async fn expired_applications(
                &self,
                now: i64,
                limit: i64,
            ) -> Result<Vec<ApplicationRecord>, StoreError> {
                let rows = sqlx::query(&format!(
                    "SELECT {APP_COLS} FROM applications WHERE status = 'open' \
                     AND expires_at <= $1 ORDER BY expires_at LIMIT $2"
                ))
                .bind(now)
                .bind(limit.max(1))
                .fetch_all(self.pool())
                .await?;
                rows.iter().map($rows::app_from).collect()
            }

            async fn insert_loan_application(
                &self,
                r: &LoanApplicationRecord,
            ) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO loan_applications (id, subject_id, status, received_at, \
                     recorded_by) VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(&r.id)
                .bind(r.subject_id.to_vec())
                .bind(&r.status)
                .bind(r.received_at)
                .bind(&r.recorded_by)
                .execute(self.pool())
                .await
                .map_err(map_write_error)?;
                Ok(())
            }

            async fn loan_applications_of(
                &self,
                subject: &SubjectId,
            ) -> Result<Vec<LoanApplicationRecord>, StoreError> {
                let rows = sqlx::query(
                    "SELECT id, subject_id, status, received_at, recorded_by \
                     FROM loan_applications WHERE subject_id = $1 ORDER BY received_at, id",
                )
                .bind(subject.to_vec())
                .fetch_all(self.pool())
                .await?;
                rows.iter().map($rows::loan_app_from).collect()
            }

            async fn insert_offer(&self, r: &OfferRecord) -> Result<(), StoreError> {
                sqlx::query(&format!(
                    "INSERT INTO loan_offers ({OFFER_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
                ))
                .bind(&r.id)
                .bind(r.subject_id.to_vec())
                .bind(&r.application_id)
                .bind(r.sent_at)
                .bind(r.accepted_at)
                .bind(&r.terms)
                .bind(i64::from(r.dek_version))
                .bind(&r.recorded_by)
                .execute(self.pool())
                .await
                .map_err(map_write_error)?;
                Ok(())
            }

            async fn accept_offer(&self, id: &str, at: i64) -> Result<(), StoreError> {
                let r = sqlx::query(
                    "UPDATE loan_offers SET accepted_at = $1 WHERE id = $2 AND accepted_at IS NULL",
                )
                .bind(at)
                .bind(id)
                .execute(self.pool())
                .await?;
                if r.rows_affected() == 0 {
                    return Err(StoreError::NotFound);
                }
                Ok(())
            }

            async fn offer(&self, id: &str) -> Result<Option<OfferRecord>, StoreError> {
                let row = sqlx::query(&format!(
                    "SELECT {OFFER_COLS} FROM loan_offers WHERE id = $1"
                ))
                .bind(id)
                .fetch_optional(self.pool())
                .await?;
                row.map(|r| $rows::offer_from(&r)).transpose()
            }

            async fn offers_of(&self, subject: &SubjectId) -> Result<Vec<OfferRecord>, StoreError> {
                let rows = sqlx::query(&format!(
                    "SELECT {OFFER_COLS} FROM loan_offers WHERE subject_id = $1 ORDER BY sent_at, id"
                ))
                .bind(subject.to_vec())
                .fetch_all(self.pool())
                .await?;
                rows.iter().map($rows::offer_from).collect()
            }

            async fn insert_contract(
                &self,
                r: &ContractRecord,
                cessionary: Option<&str>,
            ) -> Result<(), StoreError> {
                let mut tx = self.pool().begin_write().await?;
                let result: Result<(), StoreError> = async {
                    sqlx::query(&format!(
                        "INSERT INTO loan_contracts ({CONTRACT_COLS}) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7)"
                    ))
                    .bind(&r.id)
                    .bind(r.subject_id.to_vec())
                    .bind(&r.offer_id)
                    .bind(r.concluded_at)
                    .bind(&r.status)
                    .bind(r.status_at)
                    .bind(&r.recorded_by)
                    .execute(&mut *tx)
                    .await
                    .map_err(map_write_error)?;
                    sqlx::query(
                        "INSERT INTO loan_contract_events (contract_id, seq, status, at, \
                         cessionary, recorded_by) VALUES ($1, 1, $2, $3, $4, $5)",
                    )
                    .bind(&r.id)
                    .bind(&r.status)
                    .bind(r.status_at)
                    .bind(cessionary)
                    .bind(&r.recorded_by)
                    .execute(&mut *tx)
                    .await
                    .map_err(map_write_error)?;
                    Ok(())
                }
                .await;
                finish_tx(tx, result).await
            }

            async fn set_contract_status(
                &self,
                id: &str,
                status: &str,
                at: i64,
                cessionary: Option<&str>,
                by: &str,
            ) -> Result<(), StoreError> {
                let mut tx = self.pool().begin_write().await?;
                let result: Result<(), StoreError> = async {
                    let r = sqlx::query(
                        "UPDATE loan_contracts SET status = $1, status_at = $2 WHERE id = $3",
                    )
                    .bind(status)
                    .bind(at)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                    if r.rows_affected() == 0 {
                        return Err(StoreError::NotFound);
                    }
                    let last: i64 = sqlx::query_scalar(
                        "SELECT COALESCE(MAX(seq), 0) FROM loan_contract_events \
                         WHERE contract_id = $1",
                    )
                    .bind(id)
                    .fetch_one(&mut *tx)
                    .await?;
                    sqlx::query(
                        "INSERT INTO loan_contract_events (contract_id, seq, status, at, \
                         cessionary, recorded_by) VALUES ($1, $2, $3, $4, $5, $6)",
                    )
                    .bind(id)
                    .bind(last + 1)
                    .bind(status)
                    .bind(at)
                    .bind(cessionary)
                    .bind(by)
                    .execute(&mut *tx)
                    .await
                    .map_err(map_write_error)?;
                    Ok(())
                }
                .await;
                finish_tx(tx, result).await
            }

            async fn contract(&self, id: &str) -> Result<Option<ContractRecord>, StoreError> {
                let row = sqlx::query(&format!(
                    "SELECT {CONTRACT_COLS} FROM loan_contracts WHERE id = $1"
                ))
                .bind(id)
                .fetch_optional(self.pool())
                .await?;
                row.map(|r| $rows::contract_from(&r)).transpose()
            }

            async fn contracts_of(
                &self,
                subject: &SubjectId,
            ) -> Result<Vec<ContractRecord>, StoreError> {
                let rows = sqlx::query(&format!(
                    "SELECT {CONTRACT_COLS} FROM loan_contracts WHERE subject_id = $1 \
                     ORDER BY concluded_at, id"
                ))
                .bind(subject.to_vec())
                .fetch_all(self.pool())
                .await?;
                rows.iter().map($rows::contract_from).collect()
            }

            async fn contract_events(
                &self,
                id: &str,
            ) -> Result<Vec<ContractEventRecord>, StoreError> {
                let rows = sqlx::query(
                    "SELECT contract_id, seq, status, at, cessionary, recorded_by \
                     FROM loan_contract_events WHERE contract_id = $1 ORDER BY seq",
                )
                .bind(id)
                .fetch_all(self.pool())
                .await?;
                rows.iter().map($rows::contract_event_from).collect()
            }

            async fn insert_withdrawal(
                &self,
                w: &WithdrawalRecord,
                consents: &[ConsentEventRecord],
            ) -> Result<(), StoreError> {
                let mut tx = self.pool().begin_write().await?;
                let result: Result<(), StoreError> = async {
                    sqlx::query(&format!(
                        "INSERT INTO withdrawal_requests ({WITHDRAWAL_COLS}) VALUES \
                         ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
                    ))
                    .bind(&w.id)
                    .bind(w.subject_id.to_vec())
                    .bind(w.received_at)
                    .bind(&w.channel)
                    .bind(&w.lang)
                    .bind(&w.outcome)
                    .bind(&w.reason)
                    .bind(&w.open_contracts)
                    .bind(&w.deadline_date)
                    .bind(w.deadline_at)
                    .bind(&w.calendar_version)
                    .bind(&w.recorded_by)
                    .execute(&mut *tx)
                    .await
                    .map_err(map_write_error)?;
                    insert_consents!(tx, consents);
                    Ok(())
                }
                .await;
                finish_tx(tx, result).await
            }

            async fn withdrawals_of(
                &self,
                subject: &SubjectId,
            ) -> Result<Vec<WithdrawalRecord>, StoreError> {
                let rows = sqlx::query(&format!(
                    "SELECT {WITHDRAWAL_COLS} FROM withdrawal_requests WHERE subject_id = $1 \
                     ORDER BY received_at, id"
                ))
                .bind(subject.to_vec())
                .fetch_all(self.pool())
                .await?;
                rows.iter().map($rows::withdrawal_from).collect()
            }
        }
    };
}

impl_consent_store!(SqliteStore, sqlite_rows);
impl_consent_store!(PgStore, pg_rows);
