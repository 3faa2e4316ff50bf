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
    Schema { base: String, schema: String },
}

impl Drop for FreshDb {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::Dir(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Cleanup::Schema { base, schema } => {
                // Best effort, synchronously on a helper thread (we may be inside a runtime).
                let base = base.clone();
                let schema = schema.clone();
                let _ = std::thread::spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build();
                    if let Ok(rt) = rt {
                        rt.block_on(async move {
                            if let Ok(mut c) = sqlx::PgConnection::connect(&base).await {
                                let _ =
                                    sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                                        .execute(&mut c)
                                        .await;
                            }
                        });
                    }
                })
                .join();
            }
        }
    }
}

impl std::fmt::Debug for FreshDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FreshDb").field("url", &self.url).finish()
    }
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

fn unique_name(prefix: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "{prefix}_{}_{}_{n}",
        std::process::id(),
        nanos % 1_000_000_000
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
        cleanup: Cleanup::Schema {
            base: pg_base_url(),
            schema,
        },
    })
}

/// Both backends, fresh: run a store test on each.
pub async fn both() -> Result<Vec<FreshDb>, StoreError> {
    Ok(vec![fresh_sqlite().await?, fresh_pg().await?])
}
