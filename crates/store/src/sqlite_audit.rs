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
//! **The thread.** Every statement sent through sqlx's SQLite driver is a round trip to that
//! connection's worker thread, and on a busy machine each round trip waits for two threads to
//! be scheduled (run G). Here the whole append — begin, read the head, chain, insert, move the
//! head, commit — runs on one thread with prepared statements, and the only hand-offs are the
//! job arriving and its answer leaving. Jobs that arrive while a group is being written are
//! written together in the next transaction (group commit), each still answered on its own:
//! an invalid entry list is refused alone, and the others commit.
//!
//! Durability is per group: a group is committed at `synchronous=NORMAL` (written to the WAL
//! file, safe from a crash of this process, synced by the next FULL commit) only when every
//! job in it asked for that ([`Store::append_audit_deferred`]); otherwise it is committed at
//! `synchronous=FULL`, durable before any of its jobs is answered.
//!
//! [`Store::append_audit_deferred`]: crate::Store::append_audit_deferred

use crate::backend::{chain, seq_i64, to_seq, AUDIT_COLS};
use crate::{AuditEntry, AuditFields, Checkpoint, StoreError};
use rusqlite::{params, Connection, OpenFlags, OptionalExtension, TransactionBehavior};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;
use tokio::sync::oneshot;

/// The most entries written in one transaction (jobs beyond it wait for the next group).
const MAX_GROUP: usize = 4096;

/// The log's schema, created in a new audit file: the tables the main file held before
/// (the same migration text, so both layouts cannot drift apart).
const SCHEMA: &str = include_str!("../migrations/sqlite/0002_audit.sql");

/// The audit file of the main database file `main`: `derbes.db` → `derbes.audit.db`.
pub fn audit_file_of(main: &Path) -> PathBuf {
    main.with_extension("audit.db")
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
}

impl Job {
    fn size(&self) -> usize {
        match self {
            Job::Append { fields, .. } => fields.len(),
            Job::Checkpoint { .. } => 1,
        }
    }

    fn deferred(&self) -> bool {
        matches!(self, Job::Append { deferred: true, .. })
    }

    fn answer(self, answer: Answer) {
        let reply = match self {
            Job::Append { reply, .. } | Job::Checkpoint { reply, .. } => reply,
        };
        let _ = reply.send(answer);
    }
}

/// Handle to the writer thread; the thread ends when the last handle is dropped.
#[derive(Debug, Clone)]
pub(crate) struct AuditWriter {
    jobs: mpsc::Sender<Job>,
}

fn stopped() -> StoreError {
    StoreError::Audit("the audit writer has stopped".into())
}

/// Open (creating it and its tables if missing) the audit file at `path`, in WAL mode.
fn open_file(path: &Path, busy_timeout: Duration) -> Result<Connection, StoreError> {
    let mut conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(busy_timeout)?;
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Audit(format!(
            "the audit file needs WAL mode, it is in {mode}"
        )));
    }
    conn.pragma_update(None, "synchronous", "FULL")?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let present: i64 = tx.query_row(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'audit_head'",
        [],
        |r| r.get(0),
    )?;
    if present == 0 {
        tx.execute_batch(SCHEMA)?;
    }
    tx.commit()?;
    Ok(conn)
}

impl AuditWriter {
    /// Open the audit file at `path` (created with its tables if missing) and start the
    /// thread.
    pub(crate) fn start(path: &Path, busy_timeout: Duration) -> Result<AuditWriter, StoreError> {
        let conn = open_file(path, busy_timeout)?;
        let (jobs, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("derbes-audit".into())
            .spawn(move || run(conn, rx))
            .map_err(|e| StoreError::Audit(format!("cannot start the audit writer: {e}")))?;
        Ok(AuditWriter { jobs })
    }

    /// Append `fields` (in one transaction, possibly shared with other jobs) and return the
    /// stored entries once committed. An empty list still commits (durably unless
    /// `deferred`), which makes every earlier deferred entry durable.
    pub(crate) async fn append(&self, fields: &[AuditFields], deferred: bool) -> Answer {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job::Append {
                fields: fields.to_vec(),
                deferred,
                reply,
            })
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
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

fn run(mut conn: Connection, rx: mpsc::Receiver<Job>) {
    // Whether the connection is at synchronous=NORMAL (it starts at FULL).
    let mut normal = false;
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
        let deferred = jobs.iter().all(Job::deferred);
        if deferred != normal {
            let level = if deferred { "NORMAL" } else { "FULL" };
            if let Err(e) = conn.pragma_update(None, "synchronous", level) {
                answer_all(jobs, e.into());
                continue;
            }
            normal = deferred;
        }
        match write_group(&mut conn, &jobs) {
            Ok(answers) => {
                for (job, answer) in jobs.into_iter().zip(answers) {
                    job.answer(answer);
                }
            }
            Err(e) => answer_all(jobs, e),
        }
    }
}

/// The group's transaction failed: the first job gets the error, the others `BatchFailed`.
fn answer_all(jobs: Vec<Job>, error: StoreError) {
    let mut error = Some(error);
    for job in jobs {
        job.answer(Err(error.take().unwrap_or(StoreError::BatchFailed)));
    }
}

/// One transaction for the whole group; each job's entries are chained after the previous
/// job's. Returns each job's answer (a job whose entries are refused gets its error, and none
/// of its entries is written).
fn write_group(conn: &mut Connection, jobs: &[Job]) -> Result<Vec<Answer>, StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let (size, mut frontier, mut last): (i64, Vec<u8>, Vec<u8>) = tx.query_row(
        "SELECT size, frontier, last_hash FROM audit_head WHERE id = 1",
        [],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    let mut size = to_seq(size)?;
    let mut answers = Vec::with_capacity(jobs.len());
    {
        let mut insert = tx.prepare_cached(&format!(
            "INSERT INTO audit_entries ({AUDIT_COLS}) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
        ))?;
        for job in jobs {
            let fields = match job {
                Job::Append { fields, .. } => fields,
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
    tx.execute(
        "UPDATE audit_head SET size = ?1, last_hash = ?2, frontier = ?3 WHERE id = 1",
        params![seq_i64(size)?, last, frontier],
    )?;
    tx.commit()?;
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
