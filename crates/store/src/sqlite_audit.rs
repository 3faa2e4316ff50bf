//! The SQLite audit writer: one thread with its own connection to the database file, which
//! appends audit entries outside the async runtime (clause 8.1).
//!
//! Why a thread: every statement sent through sqlx's SQLite driver is a round trip to that
//! connection's worker thread, and on a busy machine each round trip waits for two threads to
//! be scheduled (run G in docs/benchmarks.md: about 1 ms per append of a dozen entries, of
//! which SQLite's own work is a small part). Here the whole append — begin, read the head,
//! chain, insert, move the head, commit — runs on one thread with prepared statements, and the
//! only hand-offs are the job arriving and its answer leaving. Jobs that arrive while a group
//! is being written are written together in the next transaction (group commit), each still
//! answered on its own: an invalid entry list is refused alone, and the others commit.
//!
//! Durability is per group: a group is committed at `synchronous=NORMAL` (written to the WAL
//! file, safe from a crash of this process, synced by the next FULL commit of any connection)
//! only when every job in it asked for that ([`Store::append_audit_deferred`]); otherwise it
//! is committed at `synchronous=FULL`, durable before any of its jobs is answered.
//!
//! Every write transaction of the store begins with `BEGIN IMMEDIATE` (see `BeginWrite`), as
//! the appends here do, so the two writer connections wait for each other's write lock (the
//! busy timeout) instead of failing on a moved snapshot.
//!
//! [`Store::append_audit_deferred`]: crate::Store::append_audit_deferred

use crate::backend::{chain, seq_i64, to_seq, AUDIT_COLS};
use crate::{AuditEntry, AuditFields, StoreError};
use rusqlite::{params, Connection, OpenFlags, TransactionBehavior};
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;
use tokio::sync::oneshot;

/// The most entries written in one transaction (jobs beyond it wait for the next group).
const MAX_GROUP: usize = 4096;

type Answer = Result<Vec<AuditEntry>, StoreError>;

struct Job {
    fields: Vec<AuditFields>,
    deferred: bool,
    reply: oneshot::Sender<Answer>,
}

/// Handle to the writer thread; the thread ends when the last handle is dropped.
#[derive(Debug, Clone)]
pub(crate) struct AuditWriter {
    jobs: mpsc::Sender<Job>,
}

fn stopped() -> StoreError {
    StoreError::Audit("the audit writer has stopped".into())
}

impl AuditWriter {
    /// Open a connection to the (existing) database file at `path` and start the thread.
    pub(crate) fn start(path: &Path, busy_timeout: Duration) -> Result<AuditWriter, StoreError> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(busy_timeout)?;
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Audit(format!(
                "the audit writer needs WAL mode, the file is in {mode}"
            )));
        }
        conn.pragma_update(None, "synchronous", "FULL")?;
        let (jobs, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("derbes-audit".into())
            .spawn(move || run(conn, rx))
            .map_err(|e| StoreError::Audit(format!("cannot start the audit writer: {e}")))?;
        Ok(AuditWriter { jobs })
    }

    /// Append `fields` (in one transaction, possibly shared with other jobs) and return the
    /// stored entries once committed.
    pub(crate) async fn append(&self, fields: &[AuditFields], deferred: bool) -> Answer {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job {
                fields: fields.to_vec(),
                deferred,
                reply,
            })
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

fn run(mut conn: Connection, rx: mpsc::Receiver<Job>) {
    // Whether the connection is at synchronous=NORMAL (it starts at FULL).
    let mut normal = false;
    while let Ok(first) = rx.recv() {
        let mut size = first.fields.len();
        let mut jobs = vec![first];
        while size < MAX_GROUP {
            match rx.try_recv() {
                Ok(job) => {
                    size += job.fields.len();
                    jobs.push(job);
                }
                Err(_) => break,
            }
        }
        let deferred = jobs.iter().all(|j| j.deferred);
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
                    let _ = job.reply.send(answer);
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
        let _ = job
            .reply
            .send(Err(error.take().unwrap_or(StoreError::BatchFailed)));
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
            if job.fields.is_empty() {
                answers.push(Ok(Vec::new()));
                continue;
            }
            let (out, acc) = match chain(size, &frontier, &last, &job.fields) {
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
