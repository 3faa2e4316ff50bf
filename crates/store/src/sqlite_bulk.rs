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
//! [`SqliteStore::insert_subjects`]: crate::Store::insert_subjects

use crate::sqlite_audit::{immediate, open_wal};
use crate::{index_rows, NewSubject, StoreError};
use rusqlite::{ffi, params, Connection, OpenFlags};
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
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    conn.pragma_update(None, "cache_size", -65536)?;
    Ok(conn)
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
/// appended), insert `batch` with its blind-index rows, and stage `pending` (the encoded
/// audit entries) in `audit_pending`. Returns the staging row's id. All or nothing.
pub(crate) fn insert_subjects(
    conn: &Connection,
    batch: &[NewSubject],
    settled: &[i64],
    pending: Option<&[u8]>,
) -> Result<Option<i64>, StoreError> {
    immediate(conn, |tx| insert_in(tx, batch, settled, pending))
}

fn insert_in(
    conn: &Connection,
    batch: &[NewSubject],
    settled: &[i64],
    pending: Option<&[u8]>,
) -> Result<Option<i64>, StoreError> {
    if !settled.is_empty() {
        let mut delete = conn.prepare_cached("DELETE FROM audit_pending WHERE id = ?1")?;
        for id in settled {
            delete.execute([id])?;
        }
    }
    {
        let mut insert = conn.prepare_cached(
            "INSERT INTO subjects \
             (id, created_at, created_by, kek_version, wrapped_dek, dek_version, status, vals) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?;
        for n in batch {
            let s = &n.subject;
            insert
                .execute(params![
                    &s.id[..],
                    s.created_at,
                    s.created_by.as_str(),
                    i64::from(s.kek_version),
                    s.wrapped_dek.as_slice(),
                    i64::from(s.dek_version),
                    s.status.as_str(),
                    n.vals(),
                ])
                .map_err(map_write_err)?;
        }
    }
    for (unique, sql) in [
        (
            true,
            "INSERT INTO unique_index (category, hash, subject_id) VALUES (?1, ?2, ?3)",
        ),
        (
            false,
            "INSERT INTO shared_index (category, hash, subject_id) VALUES (?1, ?2, ?3)",
        ),
    ] {
        let rows = index_rows(batch, unique);
        if rows.is_empty() {
            continue;
        }
        let mut insert = conn.prepare_cached(sql)?;
        for (id, i) in rows {
            insert
                .execute(params![i.category.as_str(), i.hash.as_slice(), &id[..]])
                .map_err(map_write_err)?;
        }
    }
    match pending {
        None => Ok(None),
        Some(blob) => {
            let id: i64 = conn
                .prepare_cached("INSERT INTO audit_pending (fields) VALUES (?1) RETURNING id")?
                .query_row([blob], |r| r.get(0))?;
            Ok(Some(id))
        }
    }
}
