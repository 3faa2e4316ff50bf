//! The test databases themselves: dropping one never waits for its own runtime, and schemas
//! left behind by a test process that is gone are swept.

use derbes_store::testing::{fresh_pg, pg_base_url, sweep_stale_schemas};
use sqlx::{Connection, PgConnection};
use std::sync::mpsc;
use std::time::{Duration, Instant};

async fn schema_exists(c: &mut PgConnection, schema: &str) -> bool {
    sqlx::query_scalar::<_, i64>("SELECT count(*) FROM pg_namespace WHERE nspname = $1")
        .bind(schema)
        .fetch_one(c)
        .await
        .unwrap()
        > 0
}

/// The hang of stop 17's CI: a test's runtime thread dropped its database while a
/// transaction of that same runtime (the audit log's flush) held a row lock; the drop joined
/// a `DROP SCHEMA` that waited for the lock, and the lock's holder waited for the runtime
/// thread. The drop must return at once, and the schema go once the transaction ends.
#[test]
fn dropping_a_pg_database_does_not_wait_for_a_transaction_of_its_own_runtime() {
    let (schema_tx, schema_rx) = mpsc::channel();
    let (dropped_tx, dropped_rx) = mpsc::channel();
    let (end_tx, end_rx) = mpsc::channel::<()>();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let db = fresh_pg().await.expect("PostgreSQL is never skipped");
            let schema = db.schema().unwrap().to_string();
            let mut c = PgConnection::connect(&db.url).await.unwrap();
            let mut tx = c.begin().await.unwrap();
            sqlx::query("UPDATE audit_head SET size = size WHERE id = 1")
                .execute(&mut *tx)
                .await
                .unwrap();
            schema_tx.send(schema).unwrap();
            // On this runtime's thread, with the row lock held by this runtime's connection.
            drop(db);
            dropped_tx.send(()).unwrap();
            end_rx.recv().unwrap();
            tx.rollback().await.unwrap();
        });
    });
    let schema = schema_rx.recv_timeout(Duration::from_secs(60)).unwrap();
    dropped_rx
        .recv_timeout(Duration::from_secs(20))
        .expect("the drop returned while its own runtime's transaction held a lock");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut c = PgConnection::connect(&pg_base_url()).await.unwrap();
        assert!(
            schema_exists(&mut c, &schema).await,
            "kept while the transaction holds its lock"
        );
        end_tx.send(()).unwrap();
        let start = Instant::now();
        while schema_exists(&mut c, &schema).await {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "the schema was dropped once the transaction ended"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
}

/// A schema of a process that is gone, made long ago, is swept; one of this (running)
/// process is not, however old its name says it is.
#[tokio::test]
async fn stale_test_schemas_of_gone_processes_are_swept() {
    let mut c = PgConnection::connect(&pg_base_url()).await.unwrap();
    // No process has an id above the kernel's largest pid_max (2^22).
    let gone = format!("derbes_t_4194305_1600000000_1_{}", std::process::id());
    let mine = format!("derbes_t_{}_1600000000_2_0", std::process::id());
    for s in [&gone, &mine] {
        sqlx::query(&format!("CREATE SCHEMA IF NOT EXISTS {s}"))
            .execute(&mut c)
            .await
            .unwrap();
        sqlx::query(&format!("CREATE TABLE {s}.t (x int)"))
            .execute(&mut c)
            .await
            .unwrap();
    }
    // Another test of this process may sweep first (the first fresh database of a process
    // sweeps), so the count is not asserted: only what is left afterwards.
    sweep_stale_schemas().await.unwrap();
    assert!(!schema_exists(&mut c, &gone).await, "swept");
    assert!(
        schema_exists(&mut c, &mine).await,
        "a running process's is kept"
    );
    sqlx::query(&format!("DROP SCHEMA {mine} CASCADE"))
        .execute(&mut c)
        .await
        .unwrap();
}
