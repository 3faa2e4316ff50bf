//! New subjects on SQLite, written through a rusqlite connection of their own.
//!
//! Creating subjects is the store's heaviest write: a 1–2 kB row per subject, its blind-index
//! rows, and the staging row of the audit entries (see `sqlite_audit`). Through sqlx every
//! bound value is copied into an owned argument and shipped to the connection's worker thread;
//! here each row is bound straight from the caller's memory to one statement prepared once per
//! connection. In a profile of the 100,000-subject ingest the threads writing the main file
//! took 42 % of the CPU samples through sqlx (12 % of them building and copying arguments)
//! and 30 % through this connection (`docs/benchmarks.md`, run K).
//!
//! The connection is a second writer on the main file, so it only writes while its caller
//! holds the sqlx writer pool's one connection ([`SqliteStore::insert_subjects`] takes it
//! first): the two never wait on each other's lock.
//!
//! Two things this connection leaves out, because they cost the ingest's single writer time
//! without buying anything:
//!
//! - **Foreign-key checks.** It inserts only subjects, blind-index rows built from the same
//!   batch ([`index_rows`]), and staging rows (no references). Every index row points at a
//!   subject inserted earlier in the same transaction, so the check (one lookup in the
//!   subjects' id index per index row) could only succeed. The sqlx connections, which do all
//!   other writes, keep `foreign_keys=ON`.
//! - **Checkpoints after its commits** (`wal_autocheckpoint=0`). A bulk transaction leaves
//!   tens of MiB in the WAL; copying them into the main file right after the commit (SQLite's
//!   automatic checkpoint) was 15 % of the writer thread's samples in the ingest profile (run
//!   L). Instead each commit is counted by [`Checkpointer`], a thread of its own that copies
//!   the WAL once about 64 MiB have been committed or the commits pause for 250 ms, while
//!   the next batches are written.
//!
//! [`SqliteStore::insert_subjects`]: crate::Store::insert_subjects

use crate::sqlite_audit::{immediate, open_wal};
use crate::{index_rows, NewSubject, StoreError};
use rusqlite::{ffi, Connection, OpenFlags};
use std::path::Path;
use std::time::Duration;

/// Open the main file at `path` (it exists: the sqlx writer created it) for bulk writes, with
/// the pragmas of the sqlx connections (`SqliteStore::open`).
pub(crate) fn open(path: &Path, busy_timeout: Duration) -> Result<Connection, StoreError> {
    let conn = open_wal(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE,
        busy_timeout,
        |mode| {
            StoreError::Database(sqlx::Error::Protocol(format!(
                "the database needs WAL mode, it is in {mode}"
            )))
        },
    )?;
    conn.pragma_update(None, "foreign_keys", "OFF")?;
    conn.pragma_update(None, "wal_autocheckpoint", 0)?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    conn.pragma_update(None, "cache_size", -65536)?;
    Ok(conn)
}

/// Subject rows per `INSERT` statement of [`insert_rows`] (8 values each).
const SUBJECT_ROWS_PER_INSERT: usize = 64;

/// Blind-index rows per `INSERT` statement of [`insert_indexes`]: one statement's step, reset
/// and re-binding per row was about a fifth of a row's cost.
const INDEX_ROWS_PER_INSERT: usize = 128;

/// Bytes of WAL frames above which the checkpointer makes room by waiting for the writer.
/// Below it, checkpoints never wait for anyone.
const WAL_BYTES_LIMIT: i64 = 256 << 20;
/// Bytes committed through the bulk connection (estimated) after which a checkpoint runs.
const CHECKPOINT_BYTES: u64 = 64 << 20;
/// A checkpoint also runs once the bulk connection has committed nothing for this long.
const CHECKPOINT_IDLE: Duration = Duration::from_millis(250);

/// The main file's checkpoints after bulk commits, on a thread of its own (see the module's
/// documentation). It copies the WAL into the main file once about [`CHECKPOINT_BYTES`] have
/// been committed, or when the commits pause for [`CHECKPOINT_IDLE`]: pages that several
/// transactions rewrote (the blind indexes' pages, which every batch touches) are copied once.
/// [`Checkpointer::wake`] never blocks. The thread ends when the checkpointer is dropped.
#[derive(Debug)]
pub(crate) struct Checkpointer {
    wake: std::sync::mpsc::Sender<u64>,
}

impl Checkpointer {
    /// Start the thread, with a connection of its own to the main file at `path`.
    pub(crate) fn start(path: &Path, busy_timeout: Duration) -> Result<Checkpointer, StoreError> {
        let conn = open(path, busy_timeout)?;
        let (wake, woken) = std::sync::mpsc::channel::<u64>();
        std::thread::Builder::new()
            .name("derbes-checkpoint".into())
            .spawn(move || {
                use std::sync::mpsc::RecvTimeoutError;
                let mut since = 0u64;
                // Frames are pages: 8 KiB in a file made since session 16, 4 KiB before.
                let page = conn
                    .query_row("PRAGMA page_size", [], |r| r.get::<_, i64>(0))
                    .unwrap_or(4096)
                    .max(512);
                let frames_limit = WAL_BYTES_LIMIT / page;
                loop {
                    match woken.recv_timeout(CHECKPOINT_IDLE) {
                        Ok(bytes) => {
                            since = since.saturating_add(bytes);
                            if since < CHECKPOINT_BYTES {
                                continue;
                            }
                        }
                        Err(RecvTimeoutError::Timeout) if since > 0 => {}
                        Err(RecvTimeoutError::Timeout) => continue,
                        Err(RecvTimeoutError::Disconnected) => break,
                    }
                    since = 0;
                    checkpoint(&conn, frames_limit);
                }
            })
            .map_err(|e| {
                StoreError::Database(sqlx::Error::Protocol(format!(
                    "cannot start the checkpointer: {e}"
                )))
            })?;
        Ok(Checkpointer { wake })
    }

    /// Count a commit of about `bytes` into the WAL.
    pub(crate) fn wake(&self, bytes: u64) {
        // Fails only when the thread has ended; SQLite's own checkpoints (on the other
        // connections' commits) still copy the WAL then.
        let _ = self.wake.send(bytes);
    }
}

/// Bytes a batch adds to the WAL, about: each row with its share of page overhead, and each
/// blind-index row.
pub(crate) fn wal_bytes(batch: &[NewSubject]) -> u64 {
    batch
        .iter()
        .map(|n| (n.vals().len() + 160 + 80 * n.indexes().len()) as u64)
        .sum()
}

/// Copy what the WAL holds into the main file. `PASSIVE` waits for nobody: the writer goes on
/// appending meanwhile. While the writer keeps writing, the WAL cannot start over from its
/// beginning, so once it holds more than `frames_limit` frames ([`WAL_BYTES_LIMIT`]) a `RESTART` checkpoint
/// waits for the writer's transaction to end and holds the next one until the WAL is copied
/// and starts over. A failure is logged (no value in it) and retried at the next wake.
fn checkpoint(conn: &Connection, frames_limit: i64) {
    let frames = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get::<_, i64>(1));
    let result = match frames {
        Ok(frames) if frames > frames_limit => conn
            .query_row("PRAGMA wal_checkpoint(RESTART)", [], |r| r.get::<_, i64>(0))
            .map(|_| ()),
        other => other.map(|_| ()),
    };
    if let Err(e) = result {
        let e = StoreError::from(e);
        tracing::warn!(code = e.code(), "checkpointing the main file's WAL failed");
    }
}

/// Run `f`, which blocks on SQLite, without stalling the other tasks of a multi-threaded
/// runtime's worker (`block_in_place`); inline on a current-thread runtime (tests), where
/// `block_in_place` is not allowed.
pub(crate) fn blocking<R>(f: impl FnOnce() -> R) -> R {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}

/// A constraint failure as the store reports it: a duplicate is [`StoreError::Conflict`], a
/// missing referenced row [`StoreError::NotFound`] (as `map_write_err` does for sqlx).
fn map_write_err(e: rusqlite::Error) -> StoreError {
    if let rusqlite::Error::SqliteFailure(f, _) = &e {
        match f.extended_code {
            ffi::SQLITE_CONSTRAINT_UNIQUE | ffi::SQLITE_CONSTRAINT_PRIMARYKEY => {
                return StoreError::Conflict
            }
            ffi::SQLITE_CONSTRAINT_FOREIGNKEY => return StoreError::NotFound,
            _ => {}
        }
    }
    StoreError::from(e)
}

/// In one transaction: delete the `audit_pending` rows in `settled` (their entries are
/// appended), insert `batch` with its blind-index rows, and stage what `pending` returns (the
/// encoded audit entries, asked for after the inserts) in `audit_pending`. Returns the
/// staging row's id. All or nothing.
pub(crate) fn insert_subjects(
    conn: &Connection,
    batch: &[NewSubject],
    settled: &[i64],
    pending: impl FnOnce() -> Result<Option<Vec<u8>>, StoreError>,
) -> Result<Option<i64>, StoreError> {
    immediate(conn, |tx| {
        delete_settled(tx, settled)?;
        insert_rows(tx, batch)?;
        insert_indexes(tx, batch)?;
        stage(tx, pending)
    })
}

/// Begin a streamed bulk transaction (`SqliteStore::insert_streamed`): `BEGIN IMMEDIATE`, then
/// delete the `audit_pending` rows in `settled`. The transaction stays open on `conn` for
/// [`insert_part`] calls until [`commit`] or a rollback; when the deletes fail it is rolled
/// back here.
pub(crate) fn begin(conn: &Connection, settled: &[i64]) -> Result<(), StoreError> {
    conn.prepare_cached("BEGIN IMMEDIATE")?.execute([])?;
    delete_settled(conn, settled).inspect_err(|_| rollback(conn))
}

/// Commit the transaction [`begin`] opened (rolled back when the commit fails).
pub(crate) fn commit(conn: &Connection) -> Result<(), StoreError> {
    conn.prepare_cached("COMMIT")
        .and_then(|mut c| c.execute([]))
        .map(|_| ())
        .map_err(StoreError::from)
        .inspect_err(|_| rollback(conn))
}

/// Roll back the transaction open on `conn`, if any. Should the rollback fail, the next
/// `BEGIN` fails and that write is refused the same way.
pub(crate) fn rollback(conn: &Connection) {
    if !conn.is_autocommit() {
        let _ = conn.execute_batch("ROLLBACK");
    }
}

fn delete_settled(conn: &Connection, settled: &[i64]) -> Result<(), StoreError> {
    if !settled.is_empty() {
        let mut delete = conn.prepare_cached("DELETE FROM audit_pending WHERE id = ?1")?;
        for id in settled {
            delete.execute([id])?;
        }
    }
    Ok(())
}

/// In the open transaction: insert `batch`'s subject rows, and stage what `pending` returns
/// (asked for after the inserts) in `audit_pending`. Returns the staging row's id. Their
/// blind-index rows are inserted by [`insert_indexes`], once per transaction.
pub(crate) fn insert_part(
    conn: &Connection,
    batch: &[NewSubject],
    pending: impl FnOnce() -> Result<Option<Vec<u8>>, StoreError>,
) -> Result<Option<i64>, StoreError> {
    insert_rows(conn, batch)?;
    stage(conn, pending)
}

/// `batch`'s subject rows.
fn insert_rows(conn: &Connection, batch: &[NewSubject]) -> Result<(), StoreError> {
    use rusqlite::types::ToSql;
    const ROW: &str = "(?, ?, ?, ?, ?, ?, ?, ?)";
    // Full statements of SUBJECT_ROWS_PER_INSERT rows, then the rest one row a statement:
    // two statement shapes, both kept in the connection's statement cache.
    let chunks = batch.chunks_exact(SUBJECT_ROWS_PER_INSERT);
    let rest = chunks.remainder();
    for rows in chunks.chain(rest.chunks(1)) {
        let sql = format!(
            "INSERT INTO subjects \
             (id, created_at, created_by, kek_version, wrapped_dek, dek_version, status, vals) \
             VALUES {}",
            vec![ROW; rows.len()].join(", ")
        );
        let mut insert = conn.prepare_cached(&sql)?;
        let mut at = 0;
        for new in rows {
            let s = &new.subject;
            let row: [&dyn ToSql; 8] = [
                &&s.id[..],
                &s.created_at,
                &s.created_by,
                &s.kek_version,
                &s.wrapped_dek,
                &s.dek_version,
                &s.status,
                &new.vals(),
            ];
            for value in row {
                at += 1;
                insert.raw_bind_parameter(at, value)?;
            }
        }
        insert.raw_execute().map_err(map_write_err)?;
    }
    Ok(())
}

/// Stage what `pending` returns (the encoded audit entries) in `audit_pending`; returns the
/// staging row's id.
fn stage(
    conn: &Connection,
    pending: impl FnOnce() -> Result<Option<Vec<u8>>, StoreError>,
) -> Result<Option<i64>, StoreError> {
    match pending()? {
        None => Ok(None),
        Some(blob) => {
            let id: i64 = conn
                .prepare_cached("INSERT INTO audit_pending (fields) VALUES (?1) RETURNING id")?
                .query_row([blob], |r| r.get(0))?;
            Ok(Some(id))
        }
    }
}

/// In the open transaction: insert the blind-index rows of every subject of `subjects`, in key
/// order. With random keys, every transaction touches most of the index pages; inserted in
/// key order all at once, consecutive rows mostly land on the page the row before them
/// changed. (Inserted part by part, 4,000 rows at a time, each row cost two to three times
/// as much: docs/benchmarks.md, run S.)
pub(crate) fn insert_indexes<'a>(
    conn: &Connection,
    subjects: impl IntoIterator<Item = &'a NewSubject> + Clone,
) -> Result<(), StoreError> {
    for (unique, table) in [(true, "unique_index"), (false, "shared_index")] {
        let rows = index_rows(subjects.clone(), unique);
        // Full statements, then the rest one row a statement (two statement shapes).
        let chunks = rows.chunks_exact(INDEX_ROWS_PER_INSERT);
        let rest = chunks.remainder();
        for chunk in chunks.chain(rest.chunks(1)) {
            let sql = format!(
                "INSERT INTO {table} (hash, subject_id) VALUES {}",
                vec!["(?, ?)"; chunk.len()].join(", ")
            );
            conn.prepare_cached(&sql)?
                .execute(rusqlite::params_from_iter(
                    chunk
                        .iter()
                        .flat_map(|(id, i)| [i.hash.as_slice(), &id[..]]),
                ))
                .map_err(map_write_err)?;
        }
    }
    Ok(())
}
