//! Fresh databases for tests: a SQLite file in a temporary folder, or a new schema in the
//! PostgreSQL test database. Used by this crate's tests and by the service and API tests, so
//! every store test runs on both backends.
//!
//! The PostgreSQL server is found through `DERBES_TEST_PG` (default
//! `postgres://postgres@127.0.0.1:5432/test`). If it cannot be reached the helper returns an
//! error and the test fails: PostgreSQL is part of the product, never skipped.

use crate::{OpenOptions, PgStore, SqliteStore, Store, StoreError};
use sqlx::Connection;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// The default PostgreSQL URL of the test machines.
pub const DEFAULT_TEST_PG: &str = "postgres://postgres@127.0.0.1:5432/test";

/// The PostgreSQL URL tests use.
pub fn pg_base_url() -> String {
    std::env::var("DERBES_TEST_PG").unwrap_or_else(|_| DEFAULT_TEST_PG.to_string())
}

/// A fresh database that removes itself (file or schema) when dropped.
pub struct FreshDb {
    /// The URL the store was opened with (reuse it to open a second process/pool).
    pub url: String,
    /// The opened, migrated store.
    pub store: Arc<dyn Store>,
    cleanup: Cleanup,
}

enum Cleanup {
    Dir(PathBuf),
    Schema { schema: String },
}

impl Drop for FreshDb {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::Dir(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Cleanup::Schema { schema } => drop_schema(schema),
        }
    }
}

/// How long one attempt to drop a test schema waits for a lock held by another connection.
const DROP_LOCK_TIMEOUT: &str = "500ms";

/// Attempts of the background retry after the first attempt found the schema locked
/// (`DROP_RETRY_PAUSE` apart: about a minute and a half in all).
const DROP_RETRIES: u32 = 120;
const DROP_RETRY_PAUSE: std::time::Duration = std::time::Duration::from_millis(250);

/// Schemas of processes that are gone are swept once they are this old (a schema's name
/// carries its process and its creation second, see `unique_name`).
const STALE_AFTER_SECS: u64 = 600;

/// One attempt to drop `schema` from the test database, on a connection and a runtime of its
/// own, waiting at most [`DROP_LOCK_TIMEOUT`] for a lock. Whether the schema is gone.
fn try_drop_schema(schema: &str) -> bool {
    let Ok(rt) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return false;
    };
    rt.block_on(async {
        let Ok(mut c) = sqlx::PgConnection::connect(&pg_base_url()).await else {
            return false;
        };
        drop_on(&mut c, schema).await
    })
}

/// `DROP SCHEMA … CASCADE` on `c` with a lock timeout (an identifier this module made).
async fn drop_on(c: &mut sqlx::PgConnection, schema: &str) -> bool {
    if !is_test_schema(schema) {
        return false;
    }
    sqlx::query(&format!("SET lock_timeout = '{DROP_LOCK_TIMEOUT}'"))
        .execute(&mut *c)
        .await
        .is_ok()
        && sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
            .execute(&mut *c)
            .await
            .is_ok()
}

/// Drop a test schema made by [`fresh_pg_url`], without ever waiting for the caller.
///
/// A drop runs on the runtime thread of the test that owned the store, and the store's pool
/// may still be used by tasks of that runtime (the audit log's flush, the consent feed): a
/// flush between its `UPDATE` and its `COMMIT` holds a row lock that `DROP SCHEMA` needs, and
/// it can only commit once the runtime thread runs again. Joining a `DROP` that waits for
/// that lock without a timeout never returned (CI of stop 17 hung for 90 minutes in
/// `c7_1c_withdrawal_refused_while_contract_open_accepted_after_repaid_with_deadline`). So
/// the first attempt waits at most [`DROP_LOCK_TIMEOUT`] for a lock, and if it could not drop
/// the schema a thread of its own retries after the caller has gone on (the runtime runs
/// again, the transaction ends). A schema still left when the process ends is swept by a
/// later test process ([`sweep_stale_schemas`]).
pub fn drop_schema(schema: &str) {
    let first = {
        let schema = schema.to_string();
        std::thread::spawn(move || try_drop_schema(&schema))
            .join()
            .unwrap_or(false)
    };
    if first {
        return;
    }
    let schema = schema.to_string();
    let _ = std::thread::Builder::new()
        .name("derbes-test-drop-schema".into())
        .spawn(move || {
            for _ in 0..DROP_RETRIES {
                std::thread::sleep(DROP_RETRY_PAUSE);
                if try_drop_schema(&schema) {
                    return;
                }
            }
        });
}

/// Whether `name` has the shape of a schema made by [`fresh_pg_url`] (`derbes_t_` then
/// digits and underscores): the only names this module drops.
fn is_test_schema(name: &str) -> bool {
    name.strip_prefix("derbes_t_").is_some_and(|rest| {
        !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit() || b == b'_')
    })
}

/// Whether the test schema `name` is stale at `now_secs`: its process no longer runs on this
/// machine (`alive`) and it was made at least [`STALE_AFTER_SECS`] ago. Names of the shape
/// before the creation second was recorded (`derbes_t_PID_NANOS_N`) count as old.
fn is_stale(name: &str, now_secs: u64, alive: impl Fn(u32) -> bool) -> bool {
    let Some(rest) = name
        .strip_prefix("derbes_t_")
        .filter(|_| is_test_schema(name))
    else {
        return false;
    };
    let parts: Vec<&str> = rest.split('_').collect();
    let Some(pid) = parts.first().and_then(|p| p.parse::<u32>().ok()) else {
        return false;
    };
    let old = match parts.len() {
        3 => true,
        4 => parts[1]
            .parse::<u64>()
            .is_ok_and(|made| now_secs.saturating_sub(made) >= STALE_AFTER_SECS),
        _ => false,
    };
    old && !alive(pid)
}

/// Whether a process with this id runs on this machine.
fn process_alive(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// Drop the test schemas left behind by test processes that are gone (see [`drop_schema`]):
/// schemas made by [`fresh_pg_url`] at least [`STALE_AFTER_SECS`] ago by a process that no
/// longer runs here. Never one of a running process. Returns how many were dropped. Run once
/// per process by [`fresh_pg_url`].
pub async fn sweep_stale_schemas() -> Result<usize, StoreError> {
    let mut c = sqlx::PgConnection::connect(&pg_base_url()).await?;
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT nspname::text FROM pg_namespace WHERE nspname LIKE 'derbes\\_t\\_%'",
    )
    .fetch_all(&mut c)
    .await?;
    let now = now_secs();
    let mut dropped = 0;
    for name in names {
        if is_stale(&name, now, process_alive) && drop_on(&mut c, &name).await {
            dropped += 1;
        }
    }
    Ok(dropped)
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl FreshDb {
    /// The PostgreSQL schema of this database (`None` for SQLite).
    pub fn schema(&self) -> Option<&str> {
        match &self.cleanup {
            Cleanup::Schema { schema } => Some(schema),
            Cleanup::Dir(_) => None,
        }
    }
}

impl std::fmt::Debug for FreshDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FreshDb").field("url", &self.url).finish()
    }
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// `prefix_PID_SECS_NANOS_N`: unique within the process (`N`) and across processes (the
/// process id, the creation second and its nanoseconds); [`sweep_stale_schemas`] reads the
/// process id and the second back.
fn unique_name(prefix: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    format!(
        "{prefix}_{}_{}_{}_{n}",
        std::process::id(),
        now.as_secs(),
        now.subsec_nanos()
    )
}

/// A migrated SQLite store in a new temporary folder.
pub async fn fresh_sqlite() -> Result<FreshDb, StoreError> {
    let dir = std::env::temp_dir().join(unique_name("derbes_test"));
    std::fs::create_dir_all(&dir).map_err(|e| StoreError::Database(sqlx::Error::Io(e)))?;
    let url = format!("sqlite://{}", dir.join("derbes.db").display());
    let store = SqliteStore::open(
        &url,
        OpenOptions {
            create_if_missing: true,
        },
    )
    .await?;
    store.migrate().await?;
    Ok(FreshDb {
        url,
        store: Arc::new(store),
        cleanup: Cleanup::Dir(dir),
    })
}

/// Create an empty schema in the test PostgreSQL database and return a URL that uses it.
pub async fn fresh_pg_url() -> Result<(String, String), StoreError> {
    let base = pg_base_url();
    let schema = unique_name("derbes_t");
    static SWEPT: std::sync::Once = std::sync::Once::new();
    let mut first = false;
    SWEPT.call_once(|| first = true);
    if first {
        // Best effort: a sweep that fails leaves the schemas for the next process.
        let _ = sweep_stale_schemas().await;
    }
    let mut c = sqlx::PgConnection::connect(&base).await?;
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&mut c)
        .await?;
    let sep = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{sep}options=-csearch_path%3D{schema}");
    Ok((url, schema))
}

/// A migrated PostgreSQL store in a new schema of the test database.
pub async fn fresh_pg() -> Result<FreshDb, StoreError> {
    let (url, schema) = fresh_pg_url().await?;
    let store = PgStore::open(&url).await?;
    store.migrate().await?;
    Ok(FreshDb {
        url,
        store: Arc::new(store),
        cleanup: Cleanup::Schema { schema },
    })
}

/// Both backends, fresh: run a store test on each.
pub async fn both() -> Result<Vec<FreshDb>, StoreError> {
    Ok(vec![fresh_sqlite().await?, fresh_pg().await?])
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_796_000_000;

    #[test]
    fn only_test_schema_names_are_dropped() {
        assert!(is_test_schema("derbes_t_123_1796000000_5_0"));
        assert!(!is_test_schema("derbes_t_"));
        assert!(!is_test_schema("public"));
        assert!(!is_test_schema("derbes_t_1; DROP SCHEMA public"));
        assert!(!is_test_schema("derbes_tenant_1"));
    }

    #[test]
    fn stale_means_gone_and_old() {
        let dead = |_| false;
        let alive = |_| true;
        let old = format!("derbes_t_77_{}_9_0", NOW - STALE_AFTER_SECS);
        let young = format!("derbes_t_77_{}_9_0", NOW - STALE_AFTER_SECS + 1);
        assert!(is_stale(&old, NOW, dead));
        assert!(
            !is_stale(&old, NOW, alive),
            "a running process keeps its schemas"
        );
        assert!(
            !is_stale(&young, NOW, dead),
            "too young: another machine's, maybe"
        );
        // The older shape, without the creation second.
        assert!(is_stale("derbes_t_77_123456789_0", NOW, dead));
        assert!(!is_stale("derbes_t_77_123456789_0", NOW, alive));
        assert!(!is_stale("derbes_t_77", NOW, dead));
        assert!(!is_stale("other_77_1_2_3", NOW, dead));
    }

    #[test]
    fn names_carry_the_process_and_the_second() {
        let name = unique_name("derbes_t");
        assert!(is_test_schema(&name), "{name}");
        let parts: Vec<&str> = name["derbes_t_".len()..].split('_').collect();
        assert_eq!(parts.len(), 4, "{name}");
        assert_eq!(parts[0], std::process::id().to_string());
        assert!(now_secs().abs_diff(parts[1].parse().unwrap_or(0)) < 5);
        assert!(is_stale(&name, now_secs() + STALE_AFTER_SECS, |_| false));
        assert!(!is_stale(
            &name,
            now_secs() + STALE_AFTER_SECS,
            process_alive
        ));
    }
}
