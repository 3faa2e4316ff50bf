//! The SQLite audit log: its own database file, written by one thread with its own
//! connection (clause 8.1).
//!
//! **Its own file** (`derbes.audit.db` beside `derbes.db`, see [`audit_file_of`]). In WAL mode
//! every commit to a file makes each other connection to that file drop its page cache at its
//! next read. With the log in the main file, the audit entry of every read (thousands of small
//! commits a second under load) made the connections that read subjects re-read their pages;
//! with its own file, appends touch only the log's readers (run I in docs/benchmarks.md).
//! The store's reader connections attach the file as `audit`, so the log's tables are read
//! under their plain names; nothing else writes it.
//!
//! **Atomicity with the main file.** In WAL mode a transaction over two files is atomic in
//! each file only, so a write whose entries must commit with it (a create, an export) does not
//! write the log: it stages its entries in the main file's `audit_pending` table in its own
//! transaction, and after its commit hands them to this thread (see `SqliteStore::settle`).
//! Entries staged but not appended — a crash between the two commits — are appended when the
//! store is next migrated ([`recover`]), each recognised by its first entry so none is
//! appended twice.
//!
//! **The entries of reads go through a journal first** ([`crate::sqlite_journal`]): one
//! `write(2)` a read, folded into the log by the thread in large transactions, at least every
//! 50 ms under load (each flush) and before every query of the log, durable append or signed
//! checkpoint. What follows is the way of every other append, and of reads' entries when
//! another process owns the journal.
//!
//! **One writing connection, two ways in.** Every statement sent through sqlx's SQLite driver
//! is a round trip to that connection's worker thread, and on a busy machine each hand-off
//! between threads or tasks waits to be scheduled (runs G and J). So the log has its own
//! writing connection, with prepared statements, and the whole append — begin, read the head,
//! chain, insert, move the head, commit — runs without a hand-off:
//! - **Deferred appends** (the entries of reads) are written by the caller itself. It queues
//!   its job, lets the tasks ready on its worker run, then, if the connection is free, writes
//!   every queued job in one transaction and answers each (a caller that finds it busy is
//!   written by whoever holds it, who looks at the queue again after letting go). A
//!   transaction at `synchronous=NORMAL` does not wait for the disk, so this is a short
//!   stretch of work on the caller's thread; after a few groups in a row the caller hands the
//!   rest to the thread.
//! - **Durable appends and signed checkpoints** go to the thread, which writes them (with any
//!   deferred job queued meanwhile) in one transaction at `synchronous=FULL`: the fsync never
//!   blocks an async worker.
//!
//! **Flushes** ([`AuditWriter::sync`], what makes deferred entries durable within 50 ms) do
//! not use the writing connection at all: they fsync the log's WAL file, which holds every
//! commit not yet copied into the database file (the copies are synced by each checkpoint).
//! A flush used to be an empty commit at `synchronous=FULL` on the thread, which held the
//! connection through its fsync, 20 times a second, and every read meanwhile waited for it
//! (run N in docs/benchmarks.md: the p99 of audit-on reads fell from 8–9 ms to about 4 ms).
//!
//! Either way, jobs that arrive while a group is being written are written together in the
//! next transaction (group commit), each still answered on its own: an invalid entry list is
//! refused alone, and the others commit. A group is committed at `synchronous=NORMAL` (in the
//! WAL file, safe from a crash of this process, synced by the next FULL commit) only when
//! every job in it asked for that ([`Store::append_audit_deferred`]).
//!
//! **Upkeep on the thread**, every [`UPKEEP_ENTRIES`] entries: the WAL file is checkpointed
//! from the thread's own connection (once while appends go on, then once more with the
//! writing connection held), so that the next append starts the WAL file over instead of
//! growing it (see `upkeep`); then the index's own thread adds the entries not yet in the
//! subject index to it. The subject index is the table
//! `audit_subjects`, not an index on `audit_entries`: an index there put every entry's key on
//! a random page, one more 4 kB WAL page per entry in every small commit, which cost more
//! than the rest of the append. Queries by subject read the entries not yet indexed (at most
//! a few thousand, the newest) from `audit_entries` directly. The table lives in a file of
//! its own, `derbes.audit.index.db` ([`audit_index_file_of`], attached to the readers as
//! `audit_index`), filled by a connection that only reads the log ([`Indexer`]): filling it
//! takes no lock an append needs. It is derived data, rebuilt from the log when it is missing
//! or is not this log's index (a backup copies the two other files only).
//!
//! [`Store::append_audit_deferred`]: crate::Store::append_audit_deferred

use crate::backend::{chain, seq_i64, to_seq, AUDIT_COLS};
use crate::sqlite_journal::{self, Journal, JOURNAL_SCHEMA};
use crate::{AuditEntry, AuditFields, Checkpoint, StoreError};
use rusqlite::{params, Connection, OpenFlags, OptionalExtension, TransactionBehavior};
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Mutex, MutexGuard, PoisonError, TryLockError};
use std::time::Duration;
use tokio::sync::oneshot;

/// The most entries written in one transaction (jobs beyond it wait for the next group).
const MAX_GROUP: usize = 4096;

/// Entries appended after which the thread does its upkeep: adds them to the subject index
/// (`audit_subjects`) and checkpoints the WAL file into the database file. The writing
/// connection's automatic checkpoint is off, so no append waits for a checkpoint's fsyncs.
/// Measured (run J): indexing costs 2–3 µs an entry in groups of 4,096 and 5–9 µs in
/// groups of 1,024; a checkpoint takes 6–80 ms, off the appending path.
const UPKEEP_ENTRIES: usize = 4096;

/// Groups one caller writes for others in a row before handing the rest to the thread, so a
/// steady stream of reads cannot hold one runtime worker for long.
const MAX_LEADS: usize = 8;

/// The log's schema, created in a new audit file: the tables the main file held before
/// (the same migration text, so both layouts cannot drift apart).
const SCHEMA: &str = include_str!("../migrations/sqlite/0002_audit.sql");

/// The subject index, in its own file ([`audit_index_file_of`]).
const INDEX_SCHEMA: &str = include_str!("../migrations/sqlite_audit/index.sql");

/// Whether the file has a table `name`.
fn has_table(conn: &Connection, name: &str) -> Result<bool, StoreError> {
    let n: i64 = conn.query_row(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
        [name],
        |r| r.get(0),
    )?;
    Ok(n > 0)
}

/// The audit file of the main database file `main`: `derbes.db` → `derbes.audit.db`.
pub fn audit_file_of(main: &Path) -> PathBuf {
    main.with_extension("audit.db")
}

/// Every file of the SQLite store whose main file is `main`: the main file, its audit log's
/// file and the log's subject index, each with its WAL and SHM files, and the log's journal
/// (what to remove to remove the store; some may not exist).
pub fn sqlite_files_of(main: &Path) -> Vec<PathBuf> {
    let audit = audit_file_of(main);
    let index = audit_index_file_of(&audit);
    let journal = sqlite_journal::journal_files_of(&audit);
    [main.to_path_buf(), audit, index]
        .into_iter()
        .flat_map(|file| {
            let with = |suffix: &str| {
                let mut name = file.as_os_str().to_owned();
                name.push(suffix);
                PathBuf::from(name)
            };
            [with("-wal"), with("-shm"), file]
        })
        .chain(journal)
        .collect()
}

/// The subject index's file of the audit file `audit`: `derbes.audit.db` →
/// `derbes.audit.index.db`. Derived data: rebuilt from the log when missing or stale.
pub fn audit_index_file_of(audit: &Path) -> PathBuf {
    audit.with_extension("index.db")
}

type Answer = Result<Vec<AuditEntry>, StoreError>;

enum Job {
    Append {
        fields: Vec<AuditFields>,
        deferred: bool,
        reply: oneshot::Sender<Answer>,
    },
    Checkpoint {
        checkpoint: Checkpoint,
        reply: oneshot::Sender<Answer>,
    },
    /// Write the deferred appends waiting in [`Shared::waiting`] (a caller stopped leading).
    Lead,
    /// Index the newest entries and checkpoint the WAL file ([`UPKEEP_ENTRIES`]).
    Upkeep,
    /// Fold the journal's entries into the log ([`crate::sqlite_journal`]), answering once
    /// they are committed, if anyone waits for that.
    Fold {
        reply: Option<oneshot::Sender<Answer>>,
    },
}

impl Job {
    fn size(&self) -> usize {
        match self {
            Job::Append { fields, .. } => fields.len(),
            Job::Checkpoint { .. } => 1,
            Job::Lead | Job::Upkeep | Job::Fold { .. } => 0,
        }
    }

    fn deferred(&self) -> bool {
        matches!(self, Job::Append { deferred: true, .. } | Job::Fold { .. })
    }

    fn answer(self, answer: Answer) {
        match self {
            Job::Append { reply, .. }
            | Job::Checkpoint { reply, .. }
            | Job::Fold {
                reply: Some(reply), ..
            } => {
                let _ = reply.send(answer);
            }
            Job::Fold { reply: None } | Job::Lead | Job::Upkeep => {}
        }
    }
}

/// The log's one writing connection.
struct Writer {
    conn: Connection,
    /// Whether `conn` is at `synchronous=NORMAL` (it starts at FULL).
    normal: bool,
    /// Entries appended since the last upkeep was asked for.
    since_upkeep: usize,
}

impl Writer {
    /// Write `jobs` in one transaction (at NORMAL only if every job is deferred) and answer
    /// each; with `journal`, the journal's pending entries first, in the same transaction (at
    /// FULL: the journal's file is cut after it). Returns whether an upkeep is due.
    fn write(&mut self, mut jobs: Vec<Job>, journal: Option<&Mutex<Journal>>) -> bool {
        let taken = journal.and_then(|j| lock(j).take());
        if taken.is_none() && jobs.iter().all(|j| matches!(j, Job::Fold { .. })) {
            for job in jobs {
                job.answer(Ok(Vec::new()));
            }
            return false;
        }
        let folding = taken.as_ref().map(|t| t.upto);
        if let Some(t) = &taken {
            // Decoded from the records taken, which the journal gets back should the
            // transaction fail.
            match t.fields() {
                Ok(fields) => jobs.insert(
                    0,
                    Job::Append {
                        fields,
                        deferred: false,
                        reply: oneshot::channel().0,
                    },
                ),
                Err(e) => {
                    answer_all(jobs, e);
                    if let (Some(j), Some(t)) = (journal, taken) {
                        lock(j).restore(t);
                    }
                    return false;
                }
            }
        }
        let deferred = jobs.iter().all(Job::deferred);
        if deferred != self.normal {
            let level = if deferred { "NORMAL" } else { "FULL" };
            // Not a cached statement: SQLite applies `PRAGMA synchronous` when the statement
            // is prepared, so running a prepared one again would change nothing.
            if let Err(e) = self.conn.pragma_update(None, "synchronous", level) {
                answer_all(
                    jobs.into_iter()
                        .skip(usize::from(taken.is_some()))
                        .collect(),
                    e.into(),
                );
                if let (Some(j), Some(t)) = (journal, taken) {
                    lock(j).restore(t);
                }
                return false;
            }
            self.normal = deferred;
        }
        let entries: usize = jobs.iter().map(Job::size).sum();
        let written = immediate(&self.conn, |tx| {
            let answers = write_group_in(tx, &mut jobs)?;
            if let Some(upto) = folding {
                if answers.first().is_some_and(Result::is_err) {
                    return Err(StoreError::Audit(
                        "the journaled audit entries were refused".into(),
                    ));
                }
                tx.prepare_cached("UPDATE audit_journal SET upto = ?1 WHERE id = 1")?
                    .execute([seq_i64(upto)?])?;
            }
            Ok(answers)
        });
        let skip = usize::from(folding.is_some());
        let jobs = jobs.into_iter().skip(skip);
        match written {
            Ok(answers) => {
                for (job, answer) in jobs.zip(answers.into_iter().skip(skip)) {
                    job.answer(answer);
                }
                if let (Some(j), Some(upto)) = (journal, folding) {
                    // Cut without the journal's lock: reads journal their entries meanwhile.
                    let cuts = lock(j).folded(upto);
                    if !cuts.is_empty() {
                        let done = cuts.apply();
                        lock(j).cut_done(done);
                    }
                }
            }
            Err(e) => {
                answer_all(jobs.collect(), e);
                if let (Some(j), Some(t)) = (journal, taken) {
                    lock(j).restore(t);
                }
            }
        }
        self.wrote(entries)
    }

    /// Count a group of `entries` and say whether an upkeep is due.
    fn wrote(&mut self, entries: usize) -> bool {
        self.since_upkeep += entries;
        if self.since_upkeep >= UPKEEP_ENTRIES {
            self.since_upkeep = 0;
            true
        } else {
            false
        }
    }
}

/// A connection to the subject index's file with the audit file attached as `audit`.
pub(crate) struct Indexer {
    conn: Connection,
}

impl Indexer {
    /// Open (creating it and its tables if missing) the index file of the audit file `audit`.
    pub(crate) fn open(audit: &Path, busy_timeout: Duration) -> Result<Indexer, StoreError> {
        let conn = open_wal(
            &audit_index_file_of(audit),
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE,
            busy_timeout,
            |mode| StoreError::Audit(format!("the audit index needs WAL mode, it is in {mode}")),
        )?;
        // An index file of the layout before epochs (sessions 12–22): derived data, so
        // dropped and filled anew from the log. In one transaction, so that two processes
        // opening the file at once cannot drop what the other has just made.
        immediate(&conn, |conn| {
            let epochs: i64 = conn.query_row(
                "SELECT count(*) FROM pragma_table_info('audit_subjects') WHERE name = 'epoch'",
                [],
                |r| r.get(0),
            )?;
            if epochs == 0 {
                if has_table(conn, "audit_subjects")? {
                    tracing::info!("rebuilding the audit log's subject index (keyed by epoch now)");
                }
                conn.execute_batch(
                    "DROP TABLE IF EXISTS audit_subjects; DROP TABLE IF EXISTS audit_indexed;",
                )?;
            }
            conn.execute_batch(INDEX_SCHEMA)?;
            Ok(())
        })?;
        conn.execute(
            "ATTACH DATABASE ?1 AS audit",
            params![audit.to_string_lossy()],
        )?;
        Ok(Indexer { conn })
    }

    /// Add the log's entries from `audit_indexed.upto` on to `audit_subjects` (in key order,
    /// so the index's B-tree is walked forward once), in one transaction of the index file
    /// that only reads the log: it takes no lock an append needs. An index whose entry
    /// `upto - 1` is not the log's (another log's index, or the log restored from an older
    /// backup) is emptied and filled from the start. Returns how many rows were added.
    pub(crate) fn index(&self) -> Result<usize, StoreError> {
        // A deferred `BEGIN`: `IMMEDIATE` would take the write lock of every attached file,
        // the log's too. Its first statement writes the index file, so that file's write lock
        // is taken first (waiting for another holder): a transaction that read it first could
        // not wait for the lock, SQLite refuses that upgrade at once when it is busy.
        transaction(&self.conn, "BEGIN", |conn| {
            conn.prepare_cached("UPDATE main.audit_indexed SET upto = upto WHERE id = 1")?
                .execute([])?;
            let (mut upto, last): (i64, Option<Vec<u8>>) = conn
                .prepare_cached("SELECT upto, last_hash FROM main.audit_indexed WHERE id = 1")?
                .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            let size: i64 = conn
                .prepare_cached("SELECT size FROM audit.audit_head WHERE id = 1")?
                .query_row([], |r| r.get(0))?;
            let hash_at = |seq: i64| -> Result<Option<Vec<u8>>, StoreError> {
                Ok(conn
                    .prepare_cached("SELECT hash FROM audit.audit_entries WHERE seq = ?1")?
                    .query_row([seq], |r| r.get(0))
                    .optional()?)
            };
            let mut reset = false;
            if upto > 0 && (upto > size || hash_at(upto - 1)? != last) {
                conn.prepare_cached("DELETE FROM main.audit_subjects")?
                    .execute([])?;
                upto = 0;
                reset = true;
            }
            if size <= upto && !reset {
                return Ok(0);
            }
            let n = conn
                .prepare_cached(
                    "INSERT OR IGNORE INTO main.audit_subjects (epoch, subject, seq) \
                     SELECT seq >> (SELECT epoch_bits FROM main.audit_indexed WHERE id = 1), \
                       subject, seq FROM audit.audit_entries \
                     WHERE seq >= ?1 AND seq < ?2 AND subject IS NOT NULL \
                     ORDER BY 1, 2, 3",
                )?
                .execute(params![upto, size])?;
            let last = if size > 0 { hash_at(size - 1)? } else { None };
            conn.prepare_cached(
                "UPDATE main.audit_indexed SET upto = ?1, last_hash = ?2 WHERE id = 1",
            )?
            .execute(params![size, last])?;
            Ok(n)
        })
    }

    /// Start the thread that indexes when told to (by `upkeep`); it ends when the returned
    /// sender is dropped (with the log's writer thread). A failure is logged (no value in it)
    /// and retried at the next upkeep; queries read unindexed entries directly.
    fn start(self) -> Result<mpsc::Sender<()>, StoreError> {
        let (tx, rx) = mpsc::channel::<()>();
        std::thread::Builder::new()
            .name("derbes-audit-index".into())
            .spawn(move || {
                while rx.recv().is_ok() {
                    while rx.try_recv().is_ok() {}
                    if let Err(e) = self.index() {
                        tracing::warn!(code = e.code(), "indexing audit entries failed");
                    }
                }
            })
            .map_err(|e| StoreError::Audit(format!("cannot start the audit indexer: {e}")))?;
        Ok(tx)
    }
}

/// Bring the subject index of the audit file `audit` up to date, on a connection of its own
/// (after the store's migration: a log imported from an older layout is indexed at once).
pub(crate) fn index_file(audit: &Path, busy_timeout: Duration) -> Result<usize, StoreError> {
    Indexer::open(audit, busy_timeout)?.index()
}

/// Lock `m`, also when a thread panicked holding it (what it guards stays consistent: each
/// change under these locks is complete or not made).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What the callers and the thread share.
struct Shared {
    writer: Mutex<Writer>,
    /// Deferred appends waiting for whoever writes next.
    waiting: Mutex<Vec<Job>>,
    /// The journal of reads' entries, when this process owns it ([`crate::sqlite_journal`]).
    journal: Option<Mutex<Journal>>,
}

impl Shared {
    fn waiting(&self) -> MutexGuard<'_, Vec<Job>> {
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Up to [`MAX_GROUP`] entries of waiting jobs, oldest first.
    fn take_waiting(&self, into: &mut Vec<Job>) {
        let mut waiting = self.waiting();
        let mut size: usize = into.iter().map(Job::size).sum();
        let mut n = 0;
        for job in waiting.iter() {
            if size >= MAX_GROUP && n > 0 {
                break;
            }
            size += job.size();
            n += 1;
        }
        into.extend(waiting.drain(..n));
    }

    /// Write the waiting deferred appends if the writing connection is free (else whoever
    /// holds it writes them when done), for at most `leads` groups. Returns what is left to
    /// do: whether appends still wait, and whether a WAL checkpoint is due.
    ///
    /// A caller that queued its job and then found the connection held relies on the holder
    /// to look at the queue again **after** letting go. So every release here is followed by
    /// that look, also when the queue was empty while the lock was held: a job queued between
    /// that empty take and the release would otherwise wait forever, and with it the read
    /// that appended it (an API test hung so, in a cold CI run of session 13).
    fn lead(&self, leads: usize) -> (bool, bool) {
        self.lead_with(leads, || ())
    }

    /// [`Shared::lead`], running `taken` after each take from the queue, with the connection
    /// still held (a test queues a job there, as a caller that finds the connection busy).
    fn lead_with(&self, leads: usize, taken: impl Fn()) -> (bool, bool) {
        let mut due = false;
        for _ in 0..leads {
            let mut writer = match self.writer.try_lock() {
                Ok(w) => w,
                Err(TryLockError::WouldBlock) => return (false, due),
                Err(TryLockError::Poisoned(p)) => p.into_inner(),
            };
            let mut group = Vec::new();
            self.take_waiting(&mut group);
            taken();
            if !group.is_empty() {
                // Not the journal: its fold commits at FULL, not on an async worker.
                due |= writer.write(group, None);
            }
            drop(writer);
            // Someone who found the connection busy may have queued meanwhile.
            if self.waiting().is_empty() {
                return (false, due);
            }
        }
        (true, due)
    }
}

/// Handle to the log's writer; the thread ends when the last handle is dropped.
#[derive(Clone)]
pub(crate) struct AuditWriter {
    shared: Arc<Shared>,
    jobs: mpsc::Sender<Job>,
    /// The audit file's WAL file (`derbes.audit.db-wal`).
    wal: Arc<PathBuf>,
    /// The journal's files (when this process owns the journal), for flushes.
    journal_files: Arc<Vec<std::fs::File>>,
}

impl std::fmt::Debug for AuditWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuditWriter")
    }
}

/// fsync (`fdatasync`) the file at `path`, if there is one.
fn sync_file(path: &Path) -> Result<(), StoreError> {
    let failed = |e: std::io::Error| {
        StoreError::Audit(format!("syncing the audit file's WAL failed: {}", e.kind()))
    };
    match std::fs::File::open(path) {
        Ok(file) => file.sync_data().map_err(failed),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(failed(e)),
    }
}

fn stopped() -> StoreError {
    StoreError::Audit("the audit writer has stopped".into())
}

/// Open `path` (with `flags`, no SQLite mutex: one thread at a time uses the connection) in
/// WAL mode at `synchronous=FULL`, waiting up to `busy_timeout` for another connection's
/// lock; `not_wal` is the error when SQLite keeps another journal mode.
pub(crate) fn open_wal(
    path: &Path,
    flags: OpenFlags,
    busy_timeout: Duration,
    not_wal: impl FnOnce(&str) -> StoreError,
) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(path, flags | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
    conn.busy_timeout(busy_timeout)?;
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(not_wal(&mode));
    }
    conn.pragma_update(None, "synchronous", "FULL")?;
    Ok(conn)
}

/// Open (creating it and its tables if missing) the audit file at `path`, in WAL mode. The
/// subject index that files made before session 12 kept inside is dropped: it lives in its
/// own file now ([`Indexer`]).
fn open_file(path: &Path, busy_timeout: Duration) -> Result<Connection, StoreError> {
    let mut conn = open_wal(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE,
        busy_timeout,
        |mode| StoreError::Audit(format!("the audit file needs WAL mode, it is in {mode}")),
    )?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    if !has_table(&tx, "audit_head")? {
        tx.execute_batch(SCHEMA)?;
    }
    tx.execute_batch(JOURNAL_SCHEMA)?;
    if has_table(&tx, "audit_indexed")? || has_table(&tx, "audit_subjects")? {
        tx.execute_batch(
            "DROP TABLE IF EXISTS audit_subjects; DROP TABLE IF EXISTS audit_indexed;",
        )?;
    }
    tx.execute_batch("DROP INDEX IF EXISTS audit_entries_subject")?;
    tx.commit()?;
    Ok(conn)
}

impl AuditWriter {
    /// Open the audit file at `path` (created with its tables if missing) and start the
    /// thread.
    pub(crate) fn start(path: &Path, busy_timeout: Duration) -> Result<AuditWriter, StoreError> {
        let conn = open_file(path, busy_timeout)?;
        // Checkpoints run on the thread's own connection, at each upkeep (`UPKEEP_ENTRIES`).
        conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        let upto: i64 = conn.query_row("SELECT upto FROM audit_journal WHERE id = 1", [], |r| {
            r.get(0)
        })?;
        let journal = Journal::open(path, to_seq(upto)?)?;
        let journal_files = match &journal {
            Some(j) => j.sync_handles()?,
            None => Vec::new(),
        };
        let mut writer = Writer {
            conn,
            normal: false,
            since_upkeep: 0,
        };
        let journal = journal.map(Mutex::new);
        if let Some(j) = &journal {
            // What a crash left in the journal goes into the log before anything else.
            let (reply, mut answer) = oneshot::channel();
            writer.write(vec![Job::Fold { reply: Some(reply) }], Some(j));
            answer.try_recv().map_err(|_| stopped())??;
            lock(j).cut_folded_files();
        }
        let checkpointer = open_file(path, busy_timeout)?;
        let indexer = Indexer::open(path, busy_timeout)?;
        indexer.index()?;
        let index = indexer.start()?;
        let shared = Arc::new(Shared {
            writer: Mutex::new(writer),
            waiting: Mutex::new(Vec::new()),
            journal,
        });
        let (jobs, rx) = mpsc::channel();
        let thread_shared = shared.clone();
        std::thread::Builder::new()
            .name("derbes-audit".into())
            .spawn(move || run(&thread_shared, &checkpointer, &index, &rx))
            .map_err(|e| StoreError::Audit(format!("cannot start the audit writer: {e}")))?;
        let mut wal = path.as_os_str().to_owned();
        wal.push("-wal");
        Ok(AuditWriter {
            shared,
            jobs,
            wal: Arc::new(PathBuf::from(wal)),
            journal_files: Arc::new(journal_files),
        })
    }

    /// Make every entry committed so far durable without taking the writing connection:
    /// fsync the WAL file. A commit at `synchronous=NORMAL` has written its frames to that
    /// file before it returns, so they are among the bytes synced; frames already copied into
    /// the database file were synced there by that checkpoint (its connection is at `FULL`)
    /// before SQLite may start the WAL file over. SQLite removes the WAL file only when the
    /// last connection closes, and this store's writing connection stays open as long as it
    /// does, so the file opened here is the one the commits went to. No WAL file: nothing
    /// has been committed since the last connection closed, and its close checkpointed all.
    ///
    /// With the journal, its files are fsynced first (an entry not yet folded is durable
    /// there; one folded meanwhile was committed at FULL before its file was cut), and its
    /// pending entries are handed to the thread to fold, without waiting for that.
    pub(crate) async fn sync(&self) -> Result<(), StoreError> {
        let wal = self.wal.clone();
        let files = self.journal_files.clone();
        tokio::task::spawn_blocking(move || {
            sqlite_journal::sync_all(&files)?;
            sync_file(&wal)
        })
        .await
        .map_err(|_| stopped())??;
        if let Some(j) = &self.shared.journal {
            if !lock(j).settled() {
                // Not urgent: should the thread have stopped, the next start folds them.
                let _ = self.jobs.send(Job::Fold { reply: None });
            }
        }
        Ok(())
    }

    /// Record the entries of reads (already-answered lookups): with the journal, written to it
    /// (one `write(2)`, safe from a crash of this process when this returns; in the log once
    /// folded, which every query of the log waits for); else as a deferred append.
    pub(crate) async fn append_journaled(
        &self,
        fields: Vec<AuditFields>,
    ) -> Result<(), StoreError> {
        let Some(journal) = &self.shared.journal else {
            return self.append_owned(fields, true).await.map(|_| ());
        };
        // Refused here, as an append refuses them: a fold never meets an invalid entry.
        for f in &fields {
            f.validate().map_err(|e| StoreError::Audit(e.to_string()))?;
        }
        if lock(journal).append(&fields)? {
            // Not urgent: the next flush, query or durable append folds them too.
            let _ = self.jobs.send(Job::Fold { reply: None });
        }
        Ok(())
    }

    /// Wait until every entry journaled so far is in the log (before any query of the log).
    pub(crate) async fn fold(&self) -> Result<(), StoreError> {
        let Some(journal) = &self.shared.journal else {
            return Ok(());
        };
        if lock(journal).settled() {
            return Ok(());
        }
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job::Fold { reply: Some(reply) })
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?.map(|_| ())
    }

    /// Append `fields` (in one transaction, possibly shared with other jobs) and return the
    /// stored entries once committed. An empty list still commits (durably unless
    /// `deferred`), which makes every earlier deferred entry durable.
    ///
    /// A deferred append is written by the calling thread itself when the writing connection
    /// is free, together with every deferred append waiting for it; otherwise it waits for
    /// whoever holds the connection to write it next (see the module's documentation).
    pub(crate) async fn append(&self, fields: &[AuditFields], deferred: bool) -> Answer {
        self.append_owned(fields.to_vec(), deferred).await
    }

    /// [`AuditWriter::append`] of fields the caller no longer needs (no copy).
    pub(crate) async fn append_owned(&self, fields: Vec<AuditFields>, deferred: bool) -> Answer {
        let (reply, answer) = oneshot::channel();
        let job = Job::Append {
            fields,
            deferred,
            reply,
        };
        if deferred {
            self.shared.waiting().push(job);
            // Let the tasks ready on this worker run first: those about to append join this
            // group instead of waiting for the next one.
            tokio::task::yield_now().await;
            let (left, due) = self.shared.lead(MAX_LEADS);
            if left {
                self.jobs.send(Job::Lead).map_err(|_| stopped())?;
            }
            if due {
                // Not urgent: if the thread has stopped, the append has still been answered.
                let _ = self.jobs.send(Job::Upkeep);
            }
        } else {
            self.jobs.send(job).map_err(|_| stopped())?;
        }
        answer.await.map_err(|_| stopped())?
    }

    /// Queue a durable append of `fields` and return the wait for its answer. Appends queued
    /// one after the other are written in that order, whenever their answers are awaited (the
    /// bulk load queues a batch's entries and writes its next batch meanwhile).
    pub(crate) fn submit_owned(
        &self,
        fields: Vec<AuditFields>,
    ) -> Result<impl std::future::Future<Output = Answer> + Send + 'static, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job::Append {
                fields,
                deferred: false,
                reply,
            })
            .map_err(|_| stopped())?;
        Ok(async move { answer.await.map_err(|_| stopped())? })
    }

    /// Store a signed checkpoint (durably; one already stored is kept as it is).
    pub(crate) async fn checkpoint(&self, checkpoint: &Checkpoint) -> Result<(), StoreError> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job::Checkpoint {
                checkpoint: checkpoint.clone(),
                reply,
            })
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?.map(|_| ())
    }
}

/// The thread: durable appends and signed checkpoints in groups (with any deferred append
/// waiting meanwhile), the deferred appends a caller left to it, and WAL checkpoints.
fn run(
    shared: &Shared,
    checkpointer: &Connection,
    index: &mpsc::Sender<()>,
    rx: &mpsc::Receiver<Job>,
) {
    while let Ok(first) = rx.recv() {
        let mut size = first.size();
        let mut jobs = vec![first];
        while size < MAX_GROUP {
            match rx.try_recv() {
                Ok(job) => {
                    size += job.size();
                    jobs.push(job);
                }
                Err(_) => break,
            }
        }
        let mut due = false;
        jobs.retain(|j| match j {
            Job::Upkeep => {
                due = true;
                false
            }
            Job::Lead => false,
            _ => true,
        });
        if !jobs.is_empty() {
            let mut writer = shared.writer.lock().unwrap_or_else(PoisonError::into_inner);
            shared.take_waiting(&mut jobs);
            due |= writer.write(jobs, shared.journal.as_ref());
        }
        // Deferred appends that found the connection busy (here or during an upkeep, which
        // holds it too), or that a caller left. Under a steady stream of appends this loop
        // may not end for long, so an upkeep that falls due runs at once, not after it.
        loop {
            if due {
                due = false;
                upkeep(shared, checkpointer, index);
            }
            let (left, more) = shared.lead(MAX_LEADS);
            due |= more;
            if !left && !due {
                break;
            }
        }
    }
    // Every handle is gone: fold what the journal still holds, so that the log is whole for
    // whoever opens it next (after a crash, the next start folds it instead).
    if let Some(journal) = &shared.journal {
        lock(&shared.writer).write(vec![Job::Fold { reply: None }], Some(journal));
    }
}

/// Copy the WAL file into the database file so that the next append starts it over, then
/// have the newest entries indexed (by the index's own thread, in the index's own file:
/// appends go on meanwhile, and no durable append waits on this thread). Failures are logged
/// (no value in them) and retried at the next upkeep; queries read unindexed entries directly.
///
/// SQLite starts a WAL file over only when a write begins with every frame already copied.
/// Under a steady stream of appends a checkpoint never catches up with them: the frames
/// appended while it copies are still to copy when it ends (the audit WAL grew by about 5 kB
/// a read, 1.6 GB after 300,000 reads in the benchmark, and every frame past its end cost
/// the kernel a zeroed page). So the checkpoint runs twice: first while appends go on
/// (PASSIVE: what no reader still needs), copying nearly everything; then with the writing
/// connection held, copying the few frames appended meanwhile, so the next append starts the
/// file over. Only the second holds appends up, for a few frames and the database file's
/// fsync. (The index used to be filled with the writing connection held, 7–10 ms every
/// 4,096 entries, and every read meanwhile waited: run N in docs/benchmarks.md.) A deferred
/// append that finds the connection held here leaves its job queued for the holder, so the
/// caller must look at the queue again afterwards (`run` does).
fn upkeep(shared: &Shared, checkpointer: &Connection, index: &mpsc::Sender<()>) {
    let checkpoint = || {
        if let Err(e) = checkpointer.execute_batch("PRAGMA wal_checkpoint(PASSIVE)") {
            let e = StoreError::from(e);
            tracing::warn!(code = e.code(), "checkpointing the audit file's WAL failed");
        }
    };
    checkpoint();
    {
        let _writer = shared.writer.lock().unwrap_or_else(PoisonError::into_inner);
        checkpoint();
    }
    // After the checkpoints, not with them: a checkpoint copies no frame past the snapshot of
    // a reader, and the indexer reads the log. Not urgent: should the index's thread have
    // stopped, queries read the entries directly.
    let _ = index.send(());
}

/// The group's transaction failed: the first job gets the error, the others `BatchFailed`.
fn answer_all(jobs: Vec<Job>, error: StoreError) {
    let mut error = Some(error);
    for job in jobs {
        job.answer(Err(error.take().unwrap_or(StoreError::BatchFailed)));
    }
}

/// Run `work` in a `BEGIN IMMEDIATE` transaction of `conn`: committed when it succeeds,
/// rolled back (nothing kept) when it or the commit fails. `BEGIN` and `COMMIT` are
/// statements prepared once per connection: rusqlite's `Transaction` parses them anew every
/// time, which was a third of a small audit group's time in a profile of reads.
pub(crate) fn immediate<T>(
    conn: &Connection,
    work: impl FnOnce(&Connection) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    transaction(conn, "BEGIN IMMEDIATE", work)
}

/// [`immediate`] with another `BEGIN` statement.
fn transaction<T>(
    conn: &Connection,
    begin: &str,
    work: impl FnOnce(&Connection) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    conn.prepare_cached(begin)?.execute([])?;
    let done = work(conn).and_then(|v| {
        conn.prepare_cached("COMMIT")?.execute([])?;
        Ok(v)
    });
    if done.is_err() && !conn.is_autocommit() {
        // Should the rollback fail too, the next `BEGIN` fails and that work is refused the
        // same way.
        let _ = conn.execute_batch("ROLLBACK");
    }
    done
}

/// One group's work inside its transaction: each job's entries are chained after the
/// previous job's. Returns each job's answer (a job whose entries are refused gets its error,
/// and none of its entries is written).
fn write_group_in(tx: &Connection, jobs: &mut [Job]) -> Result<Vec<Answer>, StoreError> {
    let (size, mut frontier, mut last): (i64, Vec<u8>, Vec<u8>) = tx
        .prepare_cached("SELECT size, frontier, last_hash FROM audit_head WHERE id = 1")?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    let mut size = to_seq(size)?;
    let mut answers = Vec::with_capacity(jobs.len());
    {
        let mut insert = tx.prepare_cached(&format!(
            "INSERT INTO audit_entries ({AUDIT_COLS}) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
        ))?;
        for job in jobs {
            // Moved into the entries, not copied: a job's fields are not needed once its
            // entries are chained (a failed group answers each job with an error only).
            let fields = match job {
                Job::Append { fields, .. } => std::mem::take(fields),
                Job::Lead | Job::Upkeep | Job::Fold { .. } => {
                    answers.push(Ok(Vec::new()));
                    continue;
                }
                Job::Checkpoint { checkpoint: cp, .. } => {
                    tx.prepare_cached(
                        "INSERT INTO audit_checkpoints (tree_size, root, at, key_id, signature) \
                         VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
                    )?
                    .execute(params![
                        seq_i64(cp.tree_size)?,
                        &cp.root[..],
                        cp.at,
                        cp.key_id,
                        &cp.signature[..],
                    ])?;
                    answers.push(Ok(Vec::new()));
                    continue;
                }
            };
            if fields.is_empty() {
                answers.push(Ok(Vec::new()));
                continue;
            }
            let (out, acc) = match chain(size, &frontier, &last, fields) {
                Ok(done) => done,
                Err(e) => {
                    answers.push(Err(e));
                    continue;
                }
            };
            for e in &out {
                insert.execute(params![
                    seq_i64(e.seq)?,
                    e.at,
                    e.actor,
                    e.action.as_str(),
                    e.subject,
                    e.purpose,
                    // A space: the one separator entry validation forbids in codes.
                    e.categories.join(" "),
                    e.rule,
                    e.outcome.as_str(),
                    e.detail,
                    &e.prev_hash[..],
                    &e.hash[..],
                ])?;
            }
            size = acc.size();
            frontier = acc.frontier().concat();
            if let Some(e) = out.last() {
                last = e.hash.to_vec();
            }
            answers.push(Ok(out));
        }
    }
    tx.prepare_cached(
        "UPDATE audit_head SET size = ?1, last_hash = ?2, frontier = ?3 WHERE id = 1",
    )?
    .execute(params![seq_i64(size)?, last, frontier])?;
    Ok(answers)
}

/// Copy a log kept in the main file by an earlier version (its `audit_*` tables) into the
/// audit file at `audit`, in one transaction of the audit file. Returns whether the main
/// file's tables may now be dropped: `true` when they are absent from the main file
/// or when the audit file holds the same log (copied now or by an interrupted earlier run).
///
/// # Errors
/// [`StoreError::Audit`] when both files hold different logs.
pub(crate) fn import_legacy(
    main: &Path,
    audit: &Path,
    busy_timeout: Duration,
) -> Result<bool, StoreError> {
    let mut conn = open_file(audit, busy_timeout)?;
    conn.execute(
        "ATTACH DATABASE ?1 AS legacy",
        params![main.to_string_lossy()],
    )?;
    let present: i64 = conn.query_row(
        "SELECT count(*) FROM legacy.sqlite_master WHERE type = 'table' AND name = 'audit_head'",
        [],
        |r| r.get(0),
    )?;
    if present == 0 {
        conn.execute("DETACH DATABASE legacy", [])?;
        return Ok(false);
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let head = |schema: &str| -> Result<Option<(i64, Vec<u8>)>, StoreError> {
        Ok(tx
            .query_row(
                &format!("SELECT size, last_hash FROM {schema}.audit_head WHERE id = 1"),
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
    };
    let old = head("legacy")?;
    let new = head("main")?;
    let old_size = old.as_ref().map_or(0, |h| h.0);
    let new_size = new.as_ref().map_or(0, |h| h.0);
    if old_size > 0 && new_size == 0 {
        tx.execute_batch(
            "DELETE FROM main.audit_head;
             INSERT INTO main.audit_entries SELECT * FROM legacy.audit_entries ORDER BY seq;
             INSERT INTO main.audit_head SELECT * FROM legacy.audit_head;
             INSERT OR IGNORE INTO main.audit_checkpoints SELECT * FROM legacy.audit_checkpoints;",
        )?;
    } else if old_size > 0 && old != new {
        return Err(StoreError::Audit(
            "the database file and its audit file hold different audit logs; \
             restore both from the same backup"
                .into(),
        ));
    }
    tx.commit()?;
    conn.execute("DETACH DATABASE legacy", [])?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use derbes_audit::{Action, Outcome};

    /// SQLite is built as `.cargo/config.toml` asks (docs/architecture.md, "SQLite's
    /// build"): no page cache shared by all connections behind one mutex, no memory statistics
    /// counted under another. A build that lost the setting (run outside the workspace, or a
    /// changed `libsqlite3-sys`) fails here instead of reading up to a quarter slower
    /// unnoticed.
    #[test]
    fn sqlite_is_built_without_shared_page_caches_or_memory_statistics() {
        let conn = Connection::open_in_memory().unwrap();
        let options: Vec<String> = conn
            .prepare("PRAGMA compile_options")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(options.iter().any(|o| o == "THREADSAFE=1"), "{options:?}");
        assert!(
            !options.iter().any(|o| o == "ENABLE_MEMORY_MANAGEMENT"),
            "{options:?}"
        );
        assert!(
            options.iter().any(|o| o == "DEFAULT_MEMSTATUS=0"),
            "{options:?}"
        );
    }

    fn entry(i: i64) -> AuditFields {
        AuditFields {
            at: 1_796_000_000_000 + i,
            actor: "employee:1".into(),
            action: Action::READ,
            subject: Some("sp_0001".into()),
            purpose: Some("contract".into()),
            categories: vec!["phone".into()],
            rule: None,
            outcome: Outcome::Allowed,
            detail: None,
        }
    }

    fn shared(dir: &Path) -> Shared {
        let conn = open_file(&dir.join("derbes.audit.db"), Duration::from_secs(5))
            .unwrap_or_else(|e| panic!("{e}"));
        Shared {
            writer: Mutex::new(Writer {
                conn,
                normal: false,
                since_upkeep: 0,
            }),
            waiting: Mutex::new(Vec::new()),
            journal: None,
        }
    }

    fn queued(i: i64) -> (Job, oneshot::Receiver<Answer>) {
        let (reply, answer) = oneshot::channel();
        let job = Job::Append {
            fields: vec![entry(i)],
            deferred: true,
            reply,
        };
        (job, answer)
    }

    /// 8.1: a caller that holds the writing connection with nothing to write must still look
    /// at the queue after letting go. A job queued meanwhile (by a caller that then found the
    /// connection busy and left it to the holder) is written before `lead` returns; it used
    /// to stay queued, unanswered, and the read that appended it waited forever.
    #[test]
    fn c8_1_a_job_queued_while_an_empty_lead_holds_the_connection_is_written() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let shared = shared(dir.path());
        let answer = std::cell::RefCell::new(None);
        let (left, _) = shared.lead_with(MAX_LEADS, || {
            if answer.borrow().is_none() {
                let (job, rx) = queued(0);
                shared.waiting().push(job);
                // The caller now finds the connection busy and leaves its job to the holder.
                assert!(matches!(
                    shared.writer.try_lock(),
                    Err(TryLockError::WouldBlock)
                ));
                *answer.borrow_mut() = Some(rx);
            }
        });
        assert!(!left);
        assert!(
            shared.waiting().is_empty(),
            "the queued job was left waiting"
        );
        let mut rx = answer.take().unwrap_or_else(|| panic!("no job queued"));
        let written = rx
            .try_recv()
            .unwrap_or_else(|e| panic!("not answered: {e}"))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(written.len(), 1);
        assert_eq!(written[0].seq, 0);
    }

    /// Jobs queued during every lead, more than `leads` times: `lead` says some are left
    /// (the caller then hands them to the thread), and none is lost.
    #[test]
    fn c8_1_lead_reports_jobs_left_after_its_groups() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let shared = shared(dir.path());
        let answers = std::cell::RefCell::new(Vec::new());
        let (left, _) = shared.lead_with(3, || {
            let (job, rx) = queued(answers.borrow().len() as i64);
            shared.waiting().push(job);
            answers.borrow_mut().push(rx);
        });
        assert!(left, "a job is still queued");
        assert_eq!(shared.waiting().len(), 1);
        let (left, _) = shared.lead(MAX_LEADS);
        assert!(!left);
        for mut rx in answers.take() {
            assert!(matches!(rx.try_recv(), Ok(Ok(ref e)) if e.len() == 1));
        }
    }

    /// The log's entries, in order.
    fn logged(audit: &Path) -> Vec<(i64, i64)> {
        let conn = Connection::open(audit).unwrap_or_else(|e| panic!("{e}"));
        let mut stmt = conn
            .prepare("SELECT seq, at FROM audit_entries ORDER BY seq")
            .unwrap_or_else(|e| panic!("{e}"));
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap_or_else(|e| panic!("{e}"))
            .collect::<Result<_, _>>()
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// 8.1: entries a crash left in the journal (journaled, answered, not yet folded) are in
    /// the log once the writer starts again, in the order they were journaled, each once; a
    /// fold's records still in the journal after it (a crash before the file was cut) are
    /// not folded twice.
    #[tokio::test]
    async fn c8_1_entries_a_crash_left_in_the_journal_are_folded_at_the_next_start() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let audit = dir.path().join("derbes.audit.db");
        let busy = Duration::from_secs(5);
        let w = AuditWriter::start(&audit, busy).unwrap_or_else(|e| panic!("{e}"));
        w.append_journaled(vec![entry(0), entry(1)])
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        w.fold().await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(logged(&audit).len(), 2);
        // The crash: records the writer never folded, after one it folded whose file a crash
        // kept from being cut — written by the journal as a writer would.
        drop(w);
        // The writer's thread folds and lets the journal go when its last handle is dropped.
        let mut journal = None;
        for _ in 0..200 {
            if let Some(j) = Journal::open(&audit, 1).unwrap_or_else(|e| panic!("{e}")) {
                journal = Some(j);
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let mut journal = journal.unwrap_or_else(|| panic!("the journal stayed locked"));
        journal
            .append(&[entry(0), entry(1)])
            .unwrap_or_else(|e| panic!("{e}"));
        journal
            .append(&[entry(2)])
            .unwrap_or_else(|e| panic!("{e}"));
        journal
            .append(&[entry(3), entry(4)])
            .unwrap_or_else(|e| panic!("{e}"));
        drop(journal);
        // Record 1 (entries 0 and 1 again) stands for a fold committed just before the crash:
        // `audit_journal.upto` past it.
        let conn = Connection::open(&audit).unwrap_or_else(|e| panic!("{e}"));
        conn.execute("UPDATE audit_journal SET upto = 2", [])
            .unwrap_or_else(|e| panic!("{e}"));
        drop(conn);

        let w = AuditWriter::start(&audit, busy).unwrap_or_else(|e| panic!("{e}"));
        let at: Vec<i64> = logged(&audit).into_iter().map(|(_, at)| at).collect();
        assert_eq!(at, (0..5).map(|i| entry(i).at).collect::<Vec<_>>());
        for f in sqlite_journal::journal_files_of(&audit) {
            assert_eq!(std::fs::metadata(&f).map(|m| m.len()).ok(), Some(0), "cut");
        }
        // And the log goes on from there.
        w.append(&[entry(5)], false)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(logged(&audit).len(), 6);
    }
}
