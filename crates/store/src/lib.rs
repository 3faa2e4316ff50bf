//! `derbes-store`: the only place with SQL.
//!
//! One [`Store`] trait, two implementations: [`SqliteStore`] (the embedded default) and
//! [`PgStore`] (production). The SQL is written once with `$1` placeholders, which both
//! databases accept, and the two implementations are generated from one body by a macro
//! (`impl_store!`), so the backends cannot drift apart; the schema differs only in type names
//! (`BLOB`/`BYTEA`, `INTEGER`/`BIGINT`), in `migrations/sqlite` and `migrations/postgres`.
//!
//! The store sees only ciphertext, blind-index hashes and pseudonymous subject ids: it never
//! holds a key and never sees a personal value in plaintext (clauses 5.3, L-LOCALISATION is
//! the operator's choice of where the database runs).
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
#![forbid(unsafe_code)]

mod backend;
pub mod cabinet;
pub mod consent;
pub mod employees;
mod incidents;
pub mod notices;
pub mod packed;
mod sqlite_audit;
mod sqlite_bulk;
mod sqlite_journal;
pub use sqlite_audit::{audit_file_of, audit_index_file_of, sqlite_files_of};
pub use sqlite_journal::journal_files_of;
pub mod testing;

use async_trait::async_trait;
use std::sync::Arc;

pub use backend::{PgStore, SqliteStore};
pub use cabinet::CabinetStore;
pub use consent::ConsentStore;
pub use employees::{
    EmployeeRecord, EmployeeStore, SessionRecord, ThrottleRecord, TrainingRecord, UndertakingRecord,
};
pub use incidents::{
    IncidentEventRecord, IncidentRecord, IncidentStore, NewIncident, Raised, Transition,
    TransitionResult,
};
pub use notices::NoticeStore;

/// A subject's pseudonymous id: the 16 bytes of a UUIDv7.
pub type SubjectId = [u8; 16];

/// Errors of the storage layer. Messages never contain a stored value.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique constraint refused the write (e.g. a second subject with the same IIN).
    #[error("a unique value is already held by another subject")]
    Conflict,
    /// The write expected a current value of the category to exist (or not) and it did not.
    #[error("precondition failed for category {category}: {expected}")]
    Precondition {
        /// The category code (not personal data).
        category: String,
        /// What was expected: `"value exists"` or `"no value"`.
        expected: &'static str,
    },
    /// The subject does not exist.
    #[error("subject not found")]
    NotFound,
    /// The database URL is not one this build understands.
    #[error("unsupported database URL (expected sqlite:… or postgres://…)")]
    UnsupportedUrl,
    /// The SQLite file named by the URL does not exist and creation was not asked for.
    #[error(
        "the database file does not exist: {0} (run `derbes migrate --create` or check the path)"
    )]
    MissingDatabase(String),
    /// Applying migrations failed.
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// An audit entry was refused (a field is not a short code) or a stored one is malformed.
    #[error("audit: {0}")]
    Audit(String),
    /// The transaction this write shared with others failed (see the first writer's error).
    #[error("the group commit this write was part of failed")]
    BatchFailed,
    /// A streamed bulk transaction's sender went away without asking to commit
    /// ([`Store::insert_subjects_streamed`]); nothing of it was kept.
    #[error("the bulk transaction was abandoned before its commit")]
    Abandoned,
    /// Any other database error. Bind values never appear in sqlx's messages.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// An error of the SQLite audit writer's own connection (SQLite's message; bound values
    /// never appear in it).
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

impl StoreError {
    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            StoreError::Conflict => "conflict",
            StoreError::Precondition { .. } => "precondition",
            StoreError::NotFound => "not_found",
            StoreError::UnsupportedUrl => "unsupported_url",
            StoreError::MissingDatabase(_) => "missing_database",
            StoreError::Migrate(_) => "migrate",
            StoreError::BatchFailed => "batch_failed",
            StoreError::Abandoned => "abandoned",
            StoreError::Audit(_) => "audit",
            StoreError::Database(_) | StoreError::Sqlite(_) => "database",
        }
    }
}

/// Which database engine a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite (WAL, `synchronous=FULL`).
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

impl Backend {
    /// `"sqlite"` or `"postgres"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// A subject row: the wrapped data key and its versions. No personal value lives here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubjectRecord {
    /// Pseudonymous id (UUIDv7 bytes).
    pub id: SubjectId,
    /// When the subject was created (µs since epoch).
    pub created_at: i64,
    /// Who created it (actor id, e.g. `api_key:…`).
    pub created_by: String,
    /// Version of the master key that wraps the data key.
    pub kek_version: u32,
    /// The subject's data key, AES-GCM-wrapped by the master key.
    pub wrapped_dek: Vec<u8>,
    /// Generation of the subject's data key (bound into every value's associated data).
    pub dek_version: u32,
    /// `active` (later: `blocked`, `destroyed`).
    pub status: String,
}

/// One version of one value of a subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueRecord {
    /// The subject.
    pub subject_id: SubjectId,
    /// Category code from the registry.
    pub category: String,
    /// Version number within (subject, category), from 1. Assigned by the store on writes to
    /// an existing subject.
    pub seq: i64,
    /// AES-256-GCM ciphertext of the canonical JSON of the value.
    pub ciphertext: Vec<u8>,
    /// The data-key generation the ciphertext was made with.
    pub dek_version: u32,
    /// Where the value came from (PRE-2): `subject`, `employee`, `credit_bureau`, ….
    pub source_kind: String,
    /// The named source (e.g. which credit bureau), if any. Not personal data.
    pub source_name: Option<String>,
    /// When the value was obtained from its source (µs).
    pub obtained_at: i64,
    /// When derbes recorded it (µs).
    pub recorded_at: i64,
    /// Actor id that recorded it.
    pub recorded_by: String,
    /// Purpose code named by the call that recorded it.
    pub purpose: String,
    /// Verification result as JSON (clause 2.2), if any.
    pub verification: Option<String>,
    /// When a later version replaced it (µs); `None` for the current value.
    pub superseded_at: Option<i64>,
    /// `create`, `supplement` or `correct`.
    pub change_kind: String,
}

/// Bytes of a stored blind-index hash (migration 0022 cut the stored ones from 32 to these;
/// `derbes_crypto::BLIND_INDEX_LEN` computes them). A row packed before it still carries 32,
/// which [`packed::decode`] reads as their first 16.
pub const INDEX_HASH_LEN: usize = 16;

/// Page size of a new SQLite main file (`derbes.db`), in bytes. A subject's row (its packed
/// values, about 1.5 kB in format 2) shares a 4 KiB page with one other row and leaves a
/// quarter of it empty; five share an 8 KiB page, so the subjects table takes about a fifth
/// fewer bytes, which every bulk transaction writes twice (WAL, then checkpoint). Larger
/// pages pack no better and make each small durable commit (a single create) write more.
/// SQLite fixes the page size when it creates a file: a file made with another size keeps it
/// (docs/operations.md, Upgrade; measurements in docs/benchmarks.md, run R).
pub const SQLITE_PAGE_SIZE: u32 = 8_192;

/// A blind-index entry for a subject's current value of a searchable category.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlindIndexRecord {
    /// Category code.
    pub category: String,
    /// The leading [`INDEX_HASH_LEN`] bytes of HMAC-SHA256 of the normalised value under the
    /// category's index key.
    pub hash: Vec<u8>,
    /// Whether at most one subject may hold this value.
    pub unique: bool,
}

/// One first value of a new subject, its texts borrowed ([`NewSubject::created`]); the
/// fields mean what [`ValueRecord`]'s do.
#[derive(Debug, Clone, Copy)]
pub struct FirstValue<'a> {
    /// Category code from the registry.
    pub category: &'a str,
    /// AES-256-GCM ciphertext of the canonical JSON of the value.
    pub ciphertext: &'a [u8],
    /// Where the value came from: `subject`, `employee`, `credit_bureau`, ….
    pub source_kind: &'a str,
    /// The named source, if any.
    pub source_name: Option<&'a str>,
    /// When the value was obtained from its source (µs).
    pub obtained_at: i64,
    /// Verification result as JSON (clause 2.2), if any.
    pub verification: Option<&'a str>,
}

/// Everything a new subject is written with, in one transaction: the subject row, and its
/// first values and blind indexes already packed into the row's `vals` blob
/// ([`packed::encode`]). Packing when the subject is made, not when it is written, keeps that
/// work off the database writer: a bulk load prepares the next batch on other threads while
/// the writer writes this one (issue 2's ingest figure).
#[derive(Debug, Clone)]
pub struct NewSubject {
    /// The subject row.
    pub subject: SubjectRecord,
    /// Its blind indexes (also in `vals`, hence not public to change).
    indexes: Vec<BlindIndexRecord>,
    /// Category codes of its values, in the order given.
    categories: Vec<String>,
    /// `subjects.vals`: the values and indexes, packed.
    vals: Vec<u8>,
}

impl NewSubject {
    /// A new subject with its first values (seq 1 each) and blind indexes.
    pub fn new(
        subject: SubjectRecord,
        values: &[ValueRecord],
        indexes: Vec<BlindIndexRecord>,
    ) -> NewSubject {
        NewSubject {
            vals: packed::encode(values, &indexes),
            categories: values.iter().map(|v| v.category.clone()).collect(),
            subject,
            indexes,
        }
    }

    /// A new subject with its first `values`, recorded with it: when and by whom the subject
    /// row says (`created_at`, `created_by`), for `purpose`, kind of change `create`, seq 1,
    /// the subject's data-key generation; and its blind indexes. Packs what
    /// [`NewSubject::new`] packs for the same values as [`ValueRecord`]s, from borrowed texts:
    /// a subject of 15 values makes about a hundred fewer allocations, which the bulk load's
    /// preparing threads spent on owned copies only to pack and drop them.
    pub fn created(
        subject: SubjectRecord,
        purpose: &str,
        values: &[FirstValue<'_>],
        indexes: Vec<BlindIndexRecord>,
    ) -> NewSubject {
        NewSubject {
            vals: packed::encode_first(&subject, purpose, values, &indexes),
            categories: values.iter().map(|v| v.category.to_string()).collect(),
            subject,
            indexes,
        }
    }

    /// Its blind indexes.
    pub fn indexes(&self) -> &[BlindIndexRecord] {
        &self.indexes
    }

    /// The category codes of its values, in the order given.
    pub fn categories(&self) -> &[String] {
        &self.categories
    }

    /// The packed values and indexes (`subjects.vals`).
    pub fn vals(&self) -> &[u8] {
        &self.vals
    }
}

/// The blind-index rows of `batch` for the `unique` (or the shared) index table, in key (hash)
/// order: inserted so, the table's B-tree is walked forward once per batch instead of
/// jumping to a random leaf for every row.
pub(crate) fn index_rows<'a>(
    batch: impl IntoIterator<Item = &'a NewSubject>,
    unique: bool,
) -> Vec<(&'a SubjectId, &'a BlindIndexRecord)> {
    let mut rows: Vec<(&SubjectId, &BlindIndexRecord)> = batch
        .into_iter()
        .flat_map(|n| n.indexes().iter().map(move |i| (&n.subject.id, i)))
        .filter(|(_, i)| i.unique == unique)
        .collect();
    rows.sort_unstable_by(|a, b| a.1.hash.cmp(&b.1.hash));
    rows
}

/// What a value write expects to find.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// A current value must exist (correction).
    Existing,
    /// No current value may exist (supplement).
    Absent,
}

/// One value write on an existing subject.
#[derive(Debug, Clone)]
pub struct ValueWrite {
    /// The new version (its `seq` is assigned by the store).
    pub value: ValueRecord,
    /// The precondition on the current value.
    pub expect: Expect,
    /// The blind index to hold afterwards (`None`: the category has none).
    pub index: Option<BlindIndexRecord>,
}

/// A registered API key of one of the lender's systems. Only the token's hash is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyRecord {
    /// Public id (UUID text).
    pub id: String,
    /// Human name, e.g. `loan-system`.
    pub name: String,
    /// SHA-256 of the token.
    pub key_hash: Vec<u8>,
    /// Purpose codes this key may name, comma-separated.
    pub purposes: String,
    /// Created at (µs).
    pub created_at: i64,
    /// Revoked at (µs), if revoked.
    pub revoked_at: Option<i64>,
}

/// The head of the audit log: how many entries, and the Merkle root over them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditHead {
    /// Number of entries (the next entry's seq).
    pub size: u64,
    /// RFC 6962 Merkle tree hash over the entries' leaves.
    pub root: [u8; 32],
}

pub use derbes_audit::{Checkpoint, Entry as AuditEntry, EntryFields as AuditFields};

/// What is left of a bulk write once its subjects are committed
/// ([`Store::insert_subjects_staged`]): on SQLite, the log's writer appending the entries
/// staged with them. The append is already queued; [`Settle::wait`] says how it ended. A
/// settle that is dropped unawaited still completes: it runs as a task of its own.
#[must_use = "a bulk write is audited only once its settle has ended well"]
#[derive(Debug)]
pub struct Settle(Option<tokio::task::JoinHandle<Result<(), StoreError>>>);

impl Settle {
    /// Nothing left: the entries were committed with the write (PostgreSQL).
    pub fn done() -> Settle {
        Settle(None)
    }

    /// `rest` runs now, as a task of its own.
    pub fn spawn<F>(rest: F) -> Settle
    where
        F: std::future::Future<Output = Result<(), StoreError>> + Send + 'static,
    {
        Settle(Some(tokio::spawn(rest)))
    }

    /// Wait for the rest to end.
    ///
    /// # Errors
    /// The append's error, or [`StoreError::Audit`] when the task did not finish (the
    /// runtime shutting down); the write's entries stay staged and are appended at the
    /// store's next `migrate`.
    pub async fn wait(self) -> Result<(), StoreError> {
        match self.0 {
            None => Ok(()),
            Some(task) => task
                .await
                .map_err(|_| StoreError::Audit("a staged audit append did not finish".into()))?,
        }
    }
}

/// One message of a streamed bulk transaction ([`Store::insert_subjects_streamed`]).
#[derive(Debug)]
pub enum BulkPart {
    /// Subjects with the audit entries of their creation, written into the open transaction.
    Part(Vec<NewSubject>, PartAudit),
    /// Commit every part sent so far.
    Commit,
}

/// The audit entries of a streamed part, made by [`Store::part_audit`] on the caller's
/// thread: with their staging blob already encoded where the store stages entries beside the
/// write (SQLite), so the store's single writer only writes it. Only the store makes one, so
/// the blob is always the encoding of these entries.
#[derive(Debug)]
pub struct PartAudit {
    fields: Vec<AuditFields>,
    staging: Option<Vec<u8>>,
}

impl PartAudit {
    /// Entries the store appends with the write itself (no staging blob).
    pub(crate) fn unstaged(fields: Vec<AuditFields>) -> PartAudit {
        PartAudit {
            fields,
            staging: None,
        }
    }

    /// Entries with their staging blob, `encode`'s encoding of them (none for no entries).
    pub(crate) fn staged(
        fields: Vec<AuditFields>,
        encode: impl FnOnce(&[AuditFields]) -> Result<Vec<u8>, StoreError>,
    ) -> Result<PartAudit, StoreError> {
        let staging = if fields.is_empty() {
            None
        } else {
            Some(encode(&fields)?)
        };
        Ok(PartAudit { fields, staging })
    }

    /// The entries, and their staging blob if one was made.
    pub(crate) fn into_parts(self) -> (Vec<AuditFields>, Option<Vec<u8>>) {
        (self.fields, self.staging)
    }
}

/// The next part of a streamed bulk transaction: `None` once the sender asks to commit. A
/// sender gone without asking is an abandoned transaction, refused here so that it is
/// rolled back.
async fn next_part(
    parts: &mut tokio::sync::mpsc::Receiver<BulkPart>,
) -> Result<Option<(Vec<NewSubject>, PartAudit)>, StoreError> {
    match parts.recv().await {
        Some(BulkPart::Part(batch, audit)) => Ok(Some((batch, audit))),
        Some(BulkPart::Commit) => Ok(None),
        None => Err(StoreError::Abandoned),
    }
}

/// Every part of a streamed bulk transaction, until its commit (see [`next_part`]).
async fn gather_parts(
    mut parts: tokio::sync::mpsc::Receiver<BulkPart>,
) -> Result<(Vec<NewSubject>, Vec<AuditFields>), StoreError> {
    let (mut batch, mut audit) = (Vec::new(), Vec::new());
    while let Some((b, a)) = next_part(&mut parts).await? {
        batch.extend(b);
        audit.extend(a.into_parts().0);
    }
    Ok((batch, audit))
}

/// A subject with its current values, as loaded for a read.
pub type SubjectWithValues = (SubjectRecord, Vec<ValueRecord>);

/// The persistence interface. Both implementations pass the same test-suite.
#[async_trait]
pub trait Store:
    ConsentStore + EmployeeStore + NoticeStore + IncidentStore + CabinetStore + Send + Sync + 'static
{
    /// Which engine this is.
    fn backend(&self) -> Backend;
    /// Apply pending migrations.
    async fn migrate(&self) -> Result<(), StoreError>;
    /// Read a `meta` entry.
    async fn get_meta(&self, key: &str) -> Result<Option<String>, StoreError>;
    /// Write a `meta` entry (insert or replace).
    async fn set_meta(&self, key: &str, value: &str) -> Result<(), StoreError>;

    /// Insert subjects with their values and indexes, and append `audit` entries to the audit
    /// log, all or nothing (so a create is never without its audit entry, nor an entry
    /// without its create): in one transaction on PostgreSQL; on SQLite, whose log is a file
    /// of its own, the entries are staged in the create's transaction and appended right
    /// after its commit (or, after a crash in between, by the next `migrate`). Returns the
    /// appended entries.
    async fn insert_subjects(
        &self,
        batch: &[NewSubject],
        audit: &[AuditFields],
    ) -> Result<Vec<AuditEntry>, StoreError>;
    /// [`Store::insert_subjects`] of a batch the caller hands over and whose entries it does
    /// not need back: [`Store::insert_subjects_staged`], awaited to its end.
    async fn insert_subjects_owned(
        &self,
        batch: Vec<NewSubject>,
        audit: Vec<AuditFields>,
    ) -> Result<(), StoreError> {
        self.insert_subjects_staged(batch, audit)
            .await?
            .wait()
            .await
    }
    /// The bulk load's write: returns once the subjects are committed (with their entries
    /// staged beside them, on SQLite), leaving the entries' append to the log to the returned
    /// [`Settle`], so the load writes its next batch while the log appends this one's.
    /// Nothing of the batch is copied, and on SQLite it is freed off the writing task.
    /// Settles of successive calls append in the order of the calls.
    async fn insert_subjects_staged(
        &self,
        batch: Vec<NewSubject>,
        audit: Vec<AuditFields>,
    ) -> Result<Settle, StoreError> {
        self.insert_subjects(&batch, &audit).await?;
        Ok(Settle::done())
    }
    /// The audit entries of a part of a streamed bulk transaction
    /// ([`Store::insert_subjects_streamed`]), made ready on the caller's thread: on SQLite
    /// their staging blob is encoded here, off the store's single writer.
    fn part_audit(&self, fields: Vec<AuditFields>) -> Result<PartAudit, StoreError> {
        Ok(PartAudit::unstaged(fields))
    }
    /// [`Store::insert_subjects_staged`] of a transaction whose subjects arrive in parts:
    /// every [`BulkPart::Part`] received is written into one transaction, committed when
    /// [`BulkPart::Commit`] arrives. Nothing of it is kept when the sender goes away without
    /// asking to commit ([`StoreError::Abandoned`]), when a part is refused, or when the call is
    /// dropped before the commit.
    ///
    /// On SQLite each part is inserted as it arrives, so a bulk load writes a transaction
    /// while its later parts are still being prepared, and its last transaction's writes do
    /// not wait for the end of preparing; PostgreSQL gathers the parts and inserts them at the
    /// commit, as [`Store::insert_subjects_staged`] does.
    async fn insert_subjects_streamed(
        &self,
        parts: tokio::sync::mpsc::Receiver<BulkPart>,
    ) -> Result<Settle, StoreError> {
        let (batch, audit) = gather_parts(parts).await?;
        self.insert_subjects_staged(batch, audit).await
    }
    /// A subject row.
    async fn subject(&self, id: &SubjectId) -> Result<Option<SubjectRecord>, StoreError>;
    /// A subject with its current values.
    async fn subject_with_values(
        &self,
        id: &SubjectId,
    ) -> Result<Option<SubjectWithValues>, StoreError>;
    /// Subjects holding a blind-index hash in a category, with their current values, in one
    /// query. The index tables hold hashes only (migration 0023): each category's hashes are
    /// made with a key of its own, so the hash alone finds the rows of the category it was
    /// made for, and `category` names it for the caller's reading.
    async fn load_by_index(
        &self,
        category: &str,
        hash: &[u8],
    ) -> Result<Vec<SubjectWithValues>, StoreError>;
    /// Every version of one category's value of a subject, oldest first.
    async fn history(&self, id: &SubjectId, category: &str)
        -> Result<Vec<ValueRecord>, StoreError>;
    /// Write values on an existing subject atomically: each write supersedes the current
    /// value of its category (checked against `expect`) and replaces its blind index.
    /// Returns the seq given to each write.
    async fn write_values(
        &self,
        id: &SubjectId,
        writes: &[ValueWrite],
        now: i64,
    ) -> Result<Vec<i64>, StoreError>;
    /// Record a verification result (clause 2.2) on the current value of a category.
    async fn set_verification(
        &self,
        id: &SubjectId,
        category: &str,
        verification: &str,
    ) -> Result<(), StoreError>;
    /// Replace a subject's wrapped data key (master-key rotation).
    async fn rewrap_subject(
        &self,
        id: &SubjectId,
        kek_version: u32,
        wrapped_dek: &[u8],
    ) -> Result<(), StoreError>;
    /// Subjects whose data key is wrapped by a master key older than `version`.
    async fn subjects_wrapped_below(
        &self,
        version: u32,
        limit: i64,
    ) -> Result<Vec<SubjectRecord>, StoreError>;
    /// Number of subjects.
    async fn count_subjects(&self) -> Result<i64, StoreError>;

    /// Append audit entries, chained after the current head, in one transaction (concurrent
    /// appenders — also from other processes on PostgreSQL — are serialised on the head row).
    async fn append_audit(&self, fields: &[AuditFields]) -> Result<Vec<AuditEntry>, StoreError>;
    /// [`Store::append_audit`], committed without waiting for the disk: when it returns the
    /// entries are in the database's log (SQLite's WAL file, PostgreSQL's WAL buffers), safe
    /// from a crash of this process, and become durable with the next durable commit or
    /// [`Store::flush_audit`]. Only for entries of reads (see `derbes_service::audit`).
    /// Takes the fields by value: on SQLite they become the entries without a copy (the
    /// entries of reads, the most frequent append); PostgreSQL copies them once, as
    /// [`Store::append_audit`] does.
    async fn append_audit_deferred(
        &self,
        fields: Vec<AuditFields>,
    ) -> Result<Vec<AuditEntry>, StoreError>;
    /// Record the entries of reads, as [`Store::append_audit_deferred`] does but without
    /// their stored form: on SQLite they go to the log's journal (one write to an append-only
    /// file, safe from a crash of this process when this returns) and are chained into the
    /// log in large transactions, before any query of the log reads it (`sqlite_journal`);
    /// on PostgreSQL this is [`Store::append_audit_deferred`].
    async fn append_audit_journaled(&self, fields: Vec<AuditFields>) -> Result<(), StoreError>;
    /// Make every earlier audit commit durable: on PostgreSQL one durable commit that touches
    /// the audit head; on SQLite an fsync of the audit file's WAL, without the log's writing
    /// connection (appends go on meanwhile).
    async fn flush_audit(&self) -> Result<(), StoreError>;
    /// Whether the store itself writes concurrent audit appends together, in shared
    /// transactions (SQLite's log writer, `sqlite_audit`): callers then append directly
    /// instead of gathering appends first (`derbes_service::audit::Auditor`).
    fn groups_audit_appends(&self) -> bool;
    /// The head of the audit log.
    async fn audit_head(&self) -> Result<AuditHead, StoreError>;
    /// Up to `limit` entries from `from_seq` on, in order.
    async fn audit_entries(&self, from_seq: u64, limit: u64)
        -> Result<Vec<AuditEntry>, StoreError>;
    /// The entry hashes of seq `0..upto`, in order (for proofs).
    async fn audit_entry_hashes(&self, upto: u64) -> Result<Vec<[u8; 32]>, StoreError>;
    /// The latest `limit` entries about one subject, newest first.
    async fn audit_for_subject(
        &self,
        subject: &str,
        limit: i64,
    ) -> Result<Vec<AuditEntry>, StoreError>;
    /// [`Store::audit_for_subject`] from the entry before `before` (a sequence number) on:
    /// the next page of a subject's entries, newest first.
    async fn audit_for_subject_before(
        &self,
        subject: &str,
        before: u64,
        limit: i64,
    ) -> Result<Vec<AuditEntry>, StoreError>;
    /// Store a signed checkpoint.
    async fn insert_checkpoint(&self, checkpoint: &Checkpoint) -> Result<(), StoreError>;
    /// All checkpoints, by tree size.
    async fn checkpoints(&self) -> Result<Vec<Checkpoint>, StoreError>;

    /// Store a new API key.
    async fn insert_api_key(&self, key: &ApiKeyRecord) -> Result<(), StoreError>;
    /// Find a key by the hash of its token (revoked keys included).
    async fn api_key_by_hash(&self, hash: &[u8]) -> Result<Option<ApiKeyRecord>, StoreError>;
    /// All keys.
    async fn list_api_keys(&self) -> Result<Vec<ApiKeyRecord>, StoreError>;
    /// Revoke a key; `NotFound` if no such id.
    async fn revoke_api_key(&self, id: &str, now: i64) -> Result<(), StoreError>;
}

/// How to open a database.
#[derive(Debug, Clone, Copy, Default)]
pub struct OpenOptions {
    /// Create a SQLite file that does not exist yet (first start). Without it, a missing file
    /// is an error: a mistyped path must not silently start an empty vault.
    pub create_if_missing: bool,
}

/// Open a store from a URL: `sqlite:PATH` / `sqlite://PATH` or `postgres://…`.
pub async fn open(url: &str, opts: OpenOptions) -> Result<Arc<dyn Store>, StoreError> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteStore::open(url, opts).await?))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(PgStore::open(url).await?))
    } else {
        Err(StoreError::UnsupportedUrl)
    }
}
