//! The store contract, run on SQLite and on PostgreSQL (every test iterates `testing::both()`).

use derbes_store::testing::both;
use derbes_store::{
    ApiKeyRecord, Backend, BlindIndexRecord, Expect, NewSubject, StoreError, SubjectRecord,
    ValueRecord, ValueWrite, INDEX_HASH_LEN,
};

fn sid(n: u8) -> [u8; 16] {
    let mut id = [0u8; 16];
    id[0] = 1;
    id[15] = n;
    id
}

fn value(subject: [u8; 16], category: &str, ct: &[u8]) -> ValueRecord {
    ValueRecord {
        subject_id: subject,
        category: category.into(),
        seq: 1,
        ciphertext: ct.to_vec(),
        dek_version: 1,
        source_kind: "subject".into(),
        source_name: None,
        obtained_at: 10,
        recorded_at: 11,
        recorded_by: "api_key:test".into(),
        purpose: "contract".into(),
        verification: None,
        superseded_at: None,
        change_kind: "create".into(),
    }
}

fn new_subject(n: u8, iin_hash: u8) -> NewSubject {
    let id = sid(n);
    NewSubject::new(
        SubjectRecord {
            id,
            created_at: 5,
            created_by: "api_key:test".into(),
            kek_version: 1,
            wrapped_dek: vec![9; 60],
            dek_version: 1,
            status: "active".into(),
        },
        &[value(id, "iin", &[n, 1]), value(id, "email", &[n, 2])],
        vec![
            BlindIndexRecord {
                category: "iin".into(),
                hash: vec![iin_hash; INDEX_HASH_LEN],
                unique: true,
            },
            BlindIndexRecord {
                category: "email".into(),
                hash: vec![200; INDEX_HASH_LEN],
                unique: false,
            },
        ],
    )
}

#[tokio::test]
async fn insert_read_and_lookup_by_blind_index() {
    for db in both().await.unwrap() {
        let s = &db.store;
        s.insert_subjects(&[new_subject(1, 1), new_subject(2, 2)], &[])
            .await
            .unwrap();
        assert_eq!(s.count_subjects().await.unwrap(), 2, "{:?}", s.backend());
        let (subj, values) = s.subject_with_values(&sid(1)).await.unwrap().unwrap();
        assert_eq!(subj.wrapped_dek, vec![9; 60]);
        assert_eq!(values.len(), 2);
        assert_eq!(values[0].category, "email");
        assert_eq!(values[1].ciphertext, vec![1, 1]);

        let found = s.load_by_index("iin", &[2; INDEX_HASH_LEN]).await.unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].0.id, sid(2));
        assert_eq!(found[0].1.len(), 2);
        // A non-unique index may be shared; both subjects come back, each with its values.
        let shared = s
            .load_by_index("email", &[200; INDEX_HASH_LEN])
            .await
            .unwrap();
        assert_eq!(shared.len(), 2);
        assert!(shared.iter().all(|(_, v)| v.len() == 2));
        // A hash no row holds finds nothing. (The tables hold hashes only, since migration
        // 0023: categories are kept apart by their keys, each category's hashes being made
        // with its own, as `c5_3_blind_index_is_the_hmacs_first_128_bits` in derbes-crypto
        // checks.)
        assert!(s
            .load_by_index("email", &[3; INDEX_HASH_LEN])
            .await
            .unwrap()
            .is_empty());
        assert!(s.subject_with_values(&sid(3)).await.unwrap().is_none());
    }
}

/// 5.3: a batch larger than one multi-row `INSERT` (SQLite writes subject rows 64 and index
/// rows 128 to a statement) is written whole: every subject is read back and found by each of
/// its blind indexes, the last statements' shorter rows included.
#[tokio::test]
async fn c5_3_a_batch_spanning_several_insert_statements_is_written_whole() {
    for db in both().await.unwrap() {
        let s = &db.store;
        let b = s.backend();
        // IIN hashes 1..=199 (200 is every subject's e-mail hash in `new_subject`).
        let batch: Vec<NewSubject> = (1..=199u8).map(|n| new_subject(n, n)).collect();
        s.insert_subjects(&batch, &[]).await.unwrap();
        assert_eq!(s.count_subjects().await.unwrap(), 199, "{b:?}");
        for n in 1..=199u8 {
            let found = s.load_by_index("iin", &[n; INDEX_HASH_LEN]).await.unwrap();
            assert_eq!(found.len(), 1, "{b:?}: {n}");
            assert_eq!(found[0].0.id, sid(n), "{b:?}: {n}");
            assert_eq!(found[0].1[1].ciphertext, vec![n, 1], "{b:?}: {n}");
        }
        let shared = s
            .load_by_index("email", &[200; INDEX_HASH_LEN])
            .await
            .unwrap();
        assert_eq!(shared.len(), 199, "{b:?}");
    }
}

/// Bad input never leaves a half-written subject: a unique conflict rolls back the whole batch.
#[tokio::test]
async fn c5_3_unique_conflict_rolls_back_the_whole_batch() {
    for db in both().await.unwrap() {
        let s = &db.store;
        s.insert_subjects(&[new_subject(1, 1)], &[]).await.unwrap();
        let err = s
            .insert_subjects(&[new_subject(2, 2), new_subject(3, 1)], &[])
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Conflict), "{err:?}");
        assert_eq!(s.count_subjects().await.unwrap(), 1);
        assert!(s.subject(&sid(2)).await.unwrap().is_none());
        assert!(s
            .load_by_index("iin", &[2; INDEX_HASH_LEN])
            .await
            .unwrap()
            .is_empty());
    }
}

/// Creates from many tasks of a multi-threaded runtime, interleaved with other writes (on
/// SQLite, new subjects go through a second connection that writes only while it holds the
/// writer pool's one connection): every create lands with its audit entry, every other
/// write lands, and a conflict in the middle leaves nothing of its batch behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c8_1_creates_and_other_writes_from_many_tasks_all_land() {
    for db in both().await.unwrap() {
        let s = std::sync::Arc::new(db.store.clone());
        let mut tasks = Vec::new();
        for t in 0..8u8 {
            let s = s.clone();
            tasks.push(tokio::spawn(async move {
                for k in 0..5u8 {
                    let n = 10 + t * 5 + k;
                    s.insert_subjects(&[new_subject(n, n)], &[create_entry(n)])
                        .await
                        .unwrap();
                    s.set_meta(&format!("task-{t}"), &k.to_string())
                        .await
                        .unwrap();
                }
                // A duplicate of this task's first IIN hash: refused as a whole.
                let dup = s
                    .insert_subjects(
                        &[
                            new_subject(100 + t, 100 + t),
                            new_subject(120 + t, 10 + t * 5),
                        ],
                        &[create_entry(100 + t), create_entry(120 + t)],
                    )
                    .await;
                assert!(matches!(dup, Err(StoreError::Conflict)), "{dup:?}");
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(s.count_subjects().await.unwrap(), 40, "{:?}", s.backend());
        assert_eq!(s.audit_head().await.unwrap().size, 40, "{:?}", s.backend());
        for t in 0..8u8 {
            assert_eq!(
                s.get_meta(&format!("task-{t}")).await.unwrap().as_deref(),
                Some("4")
            );
            assert!(s.subject(&sid(100 + t)).await.unwrap().is_none());
        }
    }
}

fn create_entry(n: u8) -> derbes_store::AuditFields {
    derbes_store::AuditFields {
        at: 5,
        actor: "api_key:test".into(),
        action: derbes_audit::Action::CREATE,
        subject: Some(format!("subject-{n}")),
        purpose: Some("contract".into()),
        categories: vec!["email".into(), "iin".into()],
        rule: Some("purpose:contract".into()),
        outcome: derbes_audit::Outcome::Allowed,
        detail: None,
    }
}

/// A new SQLite store in the file `path`, migrated.
async fn migrated_sqlite(path: &std::path::Path) -> derbes_store::SqliteStore {
    use derbes_store::Store;
    let s = derbes_store::SqliteStore::open(
        &format!("sqlite://{}", path.display()),
        derbes_store::OpenOptions {
            create_if_missing: true,
        },
    )
    .await
    .unwrap();
    s.migrate().await.unwrap();
    s
}

/// 8.1: a create and its audit entry are one transaction — both land, or (on a conflict)
/// neither does, so the log never misses a create nor records one that did not happen.
#[tokio::test]
async fn c8_1_create_and_its_audit_entry_commit_together() {
    for db in both().await.unwrap() {
        let s = &db.store;
        let appended = s
            .insert_subjects(&[new_subject(1, 1)], &[create_entry(1)])
            .await
            .unwrap();
        assert_eq!(appended.len(), 1);
        assert_eq!(appended[0].seq, 0);
        assert_eq!(s.audit_head().await.unwrap().size, 1);
        let err = s
            .insert_subjects(
                &[new_subject(2, 2), new_subject(3, 1)],
                &[create_entry(2), create_entry(3)],
            )
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Conflict), "{err:?}");
        assert_eq!(s.audit_head().await.unwrap().size, 1, "{:?}", s.backend());
        assert_eq!(s.count_subjects().await.unwrap(), 1);
        s.insert_subjects(&[new_subject(4, 4)], &[create_entry(4)])
            .await
            .unwrap();
        let entries = s.audit_entries(0, 10).await.unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[1].subject.as_deref(), Some("subject-4"));
        assert_eq!(
            entries[1].prev_hash, entries[0].hash,
            "chained across calls"
        );
    }
}

/// 8.1: a batch handed over whole (the bulk load's `insert_subjects_owned`) lands with its
/// entries, or — on a conflict — neither it nor any of its entries does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c8_1_owned_batch_and_its_entries_commit_together() {
    for db in both().await.unwrap() {
        let s = &db.store;
        s.insert_subjects_owned(
            vec![new_subject(1, 1), new_subject(2, 2)],
            vec![create_entry(1), create_entry(2)],
        )
        .await
        .unwrap();
        assert_eq!(s.count_subjects().await.unwrap(), 2);
        assert_eq!(s.audit_head().await.unwrap().size, 2);
        let err = s
            .insert_subjects_owned(
                vec![new_subject(3, 3), new_subject(4, 1)],
                vec![create_entry(3), create_entry(4)],
            )
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Conflict), "{err:?}");
        assert_eq!(s.count_subjects().await.unwrap(), 2, "{:?}", s.backend());
        assert_eq!(s.audit_head().await.unwrap().size, 2);
        let entries = s.audit_entries(0, 10).await.unwrap();
        assert_eq!(entries[1].subject.as_deref(), Some("subject-2"));
        assert!(s.subject(&sid(2)).await.unwrap().is_some());
        assert!(s.subject(&sid(3)).await.unwrap().is_none());
    }
}

/// How many subjects hold the e-mail hash every `new_subject` has.
async fn email_holders(s: &dyn derbes_store::Store) -> usize {
    s.load_by_index("email", &[200; INDEX_HASH_LEN])
        .await
        .unwrap()
        .len()
}

/// Ask a streamed bulk transaction to commit, run it, and wait for its audit append.
async fn commit_streamed(
    s: &dyn derbes_store::Store,
    parts: tokio::sync::mpsc::Sender<derbes_store::BulkPart>,
    received: tokio::sync::mpsc::Receiver<derbes_store::BulkPart>,
) {
    parts.send(derbes_store::BulkPart::Commit).await.unwrap();
    s.insert_subjects_streamed(received)
        .await
        .unwrap()
        .wait()
        .await
        .unwrap();
}

/// The log holds one entry for each of `subjects`, in that order, and verifies.
async fn assert_log_holds(s: &dyn derbes_store::Store, subjects: &[&str]) {
    let b = s.backend();
    let entries = s.audit_entries(0, 10).await.unwrap();
    let got: Vec<_> = entries.iter().map(|e| e.subject.as_deref()).collect();
    let want: Vec<_> = subjects.iter().map(|x| Some(*x)).collect();
    assert_eq!(got, want, "{b:?}");
    assert!(derbes_audit::verify_log(entries, &[], &[]).is_ok(), "{b:?}");
}

/// 8.1: the bulk load's staged writes (`insert_subjects_staged`): each call returns with its
/// subjects committed; the entries of successive calls are appended in the order of the calls
/// however late their settles are awaited, chained, and all are in the log once awaited; a
/// conflicting batch writes nothing and appends nothing, and the settle before it still ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c8_1_staged_batches_commit_first_and_append_their_entries_in_order() {
    for db in both().await.unwrap() {
        let s = &db.store;
        let b = s.backend();
        let first = s
            .insert_subjects_staged(
                vec![new_subject(1, 1), new_subject(2, 2)],
                vec![create_entry(1), create_entry(2)],
            )
            .await
            .unwrap();
        assert_eq!(s.count_subjects().await.unwrap(), 2, "{b:?}");
        let second = s
            .insert_subjects_staged(vec![new_subject(3, 3)], vec![create_entry(3)])
            .await
            .unwrap();
        let refused = s
            .insert_subjects_staged(vec![new_subject(4, 1)], vec![create_entry(4)])
            .await
            .unwrap_err();
        assert!(
            matches!(refused, StoreError::Conflict),
            "{b:?}: {refused:?}"
        );
        // Awaited in the opposite order: the log's order is the calls' order.
        second.wait().await.unwrap();
        first.wait().await.unwrap();
        assert_eq!(s.count_subjects().await.unwrap(), 3, "{b:?}");
        assert_log_holds(&**s, &["subject-1", "subject-2", "subject-3"]).await;
    }
}

/// Send one part of a streamed bulk transaction: `subjects` with `entries`, made ready by
/// the store's `part_audit` as the ingest does.
async fn send_part(
    parts: &tokio::sync::mpsc::Sender<derbes_store::BulkPart>,
    s: &dyn derbes_store::Store,
    subjects: Vec<NewSubject>,
    entries: Vec<derbes_store::AuditFields>,
) {
    let audit = s.part_audit(entries).unwrap();
    parts
        .send(derbes_store::BulkPart::Part(subjects, audit))
        .await
        .unwrap();
}

/// 8.1, 5.3: a streamed bulk transaction (`insert_subjects_streamed`) writes every part it is
/// sent in one transaction, committed only when asked: before the commit nothing of it can be
/// read; after it every part's subjects are found by their blind indexes, and once its settle
/// has ended the entries of all parts are in the log, in the parts' order, and verify. A
/// commit with no part writes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c8_1_streamed_parts_commit_together_and_append_their_entries_in_order() {
    use derbes_store::BulkPart;
    for db in both().await.unwrap() {
        let s = db.store.clone();
        let b = s.backend();
        let (parts, received) = tokio::sync::mpsc::channel(4);
        let writer = {
            let s = s.clone();
            tokio::spawn(async move { s.insert_subjects_streamed(received).await })
        };
        send_part(
            &parts,
            &*s,
            vec![new_subject(1, 1), new_subject(2, 2)],
            vec![create_entry(1), create_entry(2)],
        )
        .await;
        send_part(&parts, &*s, vec![new_subject(3, 3)], vec![create_entry(3)]).await;
        // Not committed yet: nothing is visible to readers.
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert_eq!(s.count_subjects().await.unwrap(), 0, "{b:?}");
        assert!(s
            .load_by_index("iin", &[1; INDEX_HASH_LEN])
            .await
            .unwrap()
            .is_empty());
        parts.send(BulkPart::Commit).await.unwrap();
        let settle = writer.await.unwrap().unwrap();
        assert_eq!(s.count_subjects().await.unwrap(), 3, "{b:?}");
        for n in 1..=3u8 {
            let found = s.load_by_index("iin", &[n; INDEX_HASH_LEN]).await.unwrap();
            assert_eq!(found.len(), 1, "{b:?}");
            assert_eq!(found[0].0.id, sid(n), "{b:?}");
        }
        assert_eq!(email_holders(s.as_ref()).await, 3, "{b:?}");
        settle.wait().await.unwrap();
        assert_log_holds(&*s, &["subject-1", "subject-2", "subject-3"]).await;
        // A commit without parts: nothing written, nothing appended.
        let (parts, received) = tokio::sync::mpsc::channel(1);
        commit_streamed(&*s, parts, received).await;
        assert_eq!(s.count_subjects().await.unwrap(), 3, "{b:?}");
        assert_eq!(s.audit_head().await.unwrap().size, 3, "{b:?}");
    }
}

/// 8.1 (SQLite): each streamed part's entries are staged in its transaction as one
/// `audit_pending` row, encoded by `part_audit` on the caller's thread: the rows decode to
/// exactly the parts' entries, in order, so a crash between the commit and the append would
/// append exactly them at the next start; after the append a restart appends nothing again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c8_1_sqlite_streamed_parts_stage_exactly_their_entries() {
    use derbes_store::Store;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("d.db");
    let s = migrated_sqlite(&path).await;
    let parts_of = [vec![1u8, 2], vec![3]];
    let (parts, received) = tokio::sync::mpsc::channel(4);
    for ns in &parts_of {
        let subjects = ns.iter().map(|n| new_subject(*n, *n)).collect();
        let entries = ns.iter().map(|n| create_entry(*n)).collect();
        send_part(&parts, &s, subjects, entries).await;
    }
    commit_streamed(&s, parts, received).await;
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    let rows: Vec<Vec<u8>> = sqlx::query_scalar("SELECT fields FROM audit_pending ORDER BY id")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(rows.len(), 2, "one staging row per part");
    for (blob, ns) in rows.iter().zip(&parts_of) {
        assert_eq!(blob[0], 0x01, "the staging format");
        let staged: Vec<derbes_store::AuditFields> = postcard::from_bytes(&blob[1..]).unwrap();
        let want: Vec<_> = ns.iter().map(|n| create_entry(*n)).collect();
        assert_eq!(staged, want);
    }
    // A restart finds both stagings appended: nothing is appended twice.
    drop(s);
    let again = migrated_sqlite(&path).await;
    assert_eq!(again.audit_head().await.unwrap().size, 3);
}

/// 8.1, 5.3: a streamed bulk transaction keeps nothing when its sender goes away without
/// asking to commit (`StoreError::Abandoned`), when a later part conflicts with a stored
/// subject (the unique blind index, checked at the commit on SQLite), or when the call itself
/// is dropped halfway (a cancelled load): no subject, no index row, no audit entry; and the
/// store takes the next write as usual (on SQLite, the bulk connection's transaction was
/// rolled back and the writer slot given back).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c8_1_streamed_transaction_abandoned_refused_or_dropped_keeps_nothing() {
    use derbes_store::BulkPart;
    for db in both().await.unwrap() {
        let s = db.store.clone();
        let b = s.backend();
        s.insert_subjects_owned(vec![new_subject(1, 1)], vec![create_entry(1)])
            .await
            .unwrap();

        // Abandoned: the sender is dropped after a part, without a commit.
        let (parts, received) = tokio::sync::mpsc::channel(4);
        send_part(&parts, &*s, vec![new_subject(2, 2)], vec![create_entry(2)]).await;
        drop(parts);
        let abandoned = s.insert_subjects_streamed(received).await.unwrap_err();
        assert!(
            matches!(abandoned, StoreError::Abandoned),
            "{b:?}: {abandoned:?}"
        );
        assert_eq!(abandoned.code(), "abandoned");

        // Refused: the second part holds a subject whose IIN index is taken.
        let (parts, received) = tokio::sync::mpsc::channel(4);
        send_part(&parts, &*s, vec![new_subject(3, 3)], vec![create_entry(3)]).await;
        send_part(&parts, &*s, vec![new_subject(4, 1)], vec![create_entry(4)]).await;
        parts.send(BulkPart::Commit).await.unwrap();
        let refused = s.insert_subjects_streamed(received).await.unwrap_err();
        assert!(
            matches!(refused, StoreError::Conflict),
            "{b:?}: {refused:?}"
        );

        // Dropped: the call is cancelled while its transaction is open.
        let (parts, received) = tokio::sync::mpsc::channel(4);
        let writer = {
            let s = s.clone();
            tokio::spawn(async move { s.insert_subjects_streamed(received).await })
        };
        send_part(&parts, &*s, vec![new_subject(5, 5)], vec![create_entry(5)]).await;
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        writer.abort();
        assert!(writer.await.unwrap_err().is_cancelled(), "{b:?}");

        // Nothing of the three is kept, and the store writes on.
        for n in [2u8, 3, 4, 5] {
            assert!(s.subject(&sid(n)).await.unwrap().is_none(), "{b:?}: {n}");
            let hash = [if n == 4 { 1 } else { n }; INDEX_HASH_LEN];
            let found = s.load_by_index("iin", &hash).await.unwrap();
            assert!(found.iter().all(|(f, _)| f.id == sid(1)), "{b:?}: {n}");
        }
        s.insert_subjects_owned(vec![new_subject(6, 6)], vec![create_entry(6)])
            .await
            .unwrap();
        let entries = s.audit_entries(0, 10).await.unwrap();
        let subjects: Vec<_> = entries.iter().map(|e| e.subject.as_deref()).collect();
        assert_eq!(
            subjects,
            vec![Some("subject-1"), Some("subject-6")],
            "{b:?}"
        );
        assert_eq!(s.count_subjects().await.unwrap(), 2, "{b:?}");
    }
}

/// 5.3 (SQLite): a new main file gets 8 KiB pages (`SQLITE_PAGE_SIZE`), where subjects' rows
/// pack five to a page; a file an earlier version made with 4 KiB pages keeps them, and is
/// migrated, written and read as before. A backup's copies keep each file's page size (the
/// setting was first on every connection, and `VACUUM INTO` through a reader made 8 KiB
/// copies of 4 KiB files, the audit file's too).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c5_3_sqlite_new_files_get_8_kib_pages_and_older_files_keep_theirs() {
    use derbes_store::Store;
    let page_size = |path: std::path::PathBuf| async move {
        let conn = rusqlite::Connection::open(path).unwrap();
        conn.query_row("PRAGMA page_size", [], |r| r.get::<_, i64>(0))
            .unwrap()
    };
    let dir = tempfile::tempdir().unwrap();
    let new = dir.path().join("new.db");
    let s = migrated_sqlite(&new).await;
    s.insert_subjects(&[new_subject(1, 1)], &[]).await.unwrap();
    assert_eq!(page_size(new.clone()).await, 8_192);
    // A backup's copies keep their files' page sizes: the audit file's stays SQLite's 4 KiB.
    let copy = dir.path().join("new-copy.db");
    s.backup_into(&copy).await.unwrap();
    assert_eq!(page_size(copy.clone()).await, 8_192);
    assert_eq!(page_size(derbes_store::audit_file_of(&copy)).await, 4096);

    let old = dir.path().join("old.db");
    {
        let conn = rusqlite::Connection::open(&old).unwrap();
        conn.execute_batch(
            "PRAGMA page_size = 4096; PRAGMA journal_mode = WAL; CREATE TABLE t (x);",
        )
        .unwrap();
    }
    let s = migrated_sqlite(&old).await;
    s.insert_subjects(&[new_subject(2, 2), new_subject(3, 3)], &[])
        .await
        .unwrap();
    let found = s.load_by_index("iin", &[3; INDEX_HASH_LEN]).await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].0.id, sid(3));
    assert_eq!(found[0].1.len(), 2);
    assert_eq!(page_size(old.clone()).await, 4096);
    let copy = dir.path().join("old-copy.db");
    s.backup_into(&copy).await.unwrap();
    assert_eq!(page_size(copy.clone()).await, 4096);
    assert_eq!(page_size(derbes_store::audit_file_of(&copy)).await, 4096);
}

/// 5.3 (SQLite): new subjects are copied from the WAL into the main file by the store's own
/// checkpointer, with no other write to trigger SQLite's automatic checkpoint: the main file
/// read alone (`immutable`, which ignores the WAL) holds them once the writes pause. Without
/// it, everything the bulk connection commits would stay in a WAL that only grows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c5_3_sqlite_bulk_commits_are_checkpointed_into_the_main_file() {
    use derbes_store::Store;
    use sqlx::sqlite::SqliteConnectOptions;
    use sqlx::ConnectOptions;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("d.db");
    let s = migrated_sqlite(&path).await;
    let batch: Vec<NewSubject> = (1..=50).map(|n| new_subject(n, n)).collect();
    let audit = (1..=50).map(create_entry).collect();
    s.insert_subjects_owned(batch, audit).await.unwrap();
    let in_main_file = || async {
        let mut conn = SqliteConnectOptions::new()
            .filename(&path)
            .immutable(true)
            .read_only(true)
            .connect()
            .await
            .unwrap();
        // Before the first checkpoint even the schema is only in the WAL.
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM subjects")
            .fetch_one(&mut conn)
            .await
            .unwrap_or(0)
    };
    let mut seen = 0;
    for _ in 0..100 {
        seen = in_main_file().await;
        if seen == 50 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(seen, 50, "the main file itself holds the new subjects");
    assert_eq!(s.count_subjects().await.unwrap(), 50);
}

/// 8.1 (SQLite): under a steady stream of deferred appends from many tasks the audit file's
/// WAL starts over at each upkeep (every 4,096 entries) instead of growing without end. The
/// upkeep used to wait for a pause in the appends: in the benchmark the WAL grew by about
/// 5 kB a read, every frame past its end costing the kernel a zeroed page. The WAL header's
/// checkpoint sequence number counts the restarts: over 32 upkeeps' worth of appends without
/// a pause there must be at least 24 (33 with the upkeep between groups, 3–14 without). Since
/// the subject index left the writing connection (session 12), nothing paused the appends
/// during a checkpoint any more and the WAL never started over: the upkeep's second
/// checkpoint, with the writing connection held, is what this also proves.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn c8_1_audit_wal_starts_over_under_steady_appends() {
    use derbes_store::Store;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("d.db");
    let s = migrated_sqlite(&path).await;
    let wal = derbes_store::audit_file_of(&path).with_extension("db-wal");
    let wal_size = || std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
    // Bytes 12..16 of the WAL header: the checkpoint sequence number, one more at each restart.
    let restarts = || {
        use std::io::Read;
        let mut b = [0u8; 16];
        std::fs::File::open(&wal)
            .and_then(|mut f| f.read_exact(&mut b))
            .map(|()| u32::from_be_bytes([b[12], b[13], b[14], b[15]]))
            .unwrap_or(0)
    };
    const TASKS: usize = 16;
    const BATCH: usize = 8;
    const EARLY: usize = 4 * 4096;
    const TOTAL: usize = 36 * 4096;
    let appended = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let s = s.clone();
            let appended = appended.clone();
            tokio::spawn(async move {
                for k in 0..TOTAL / (TASKS * BATCH) {
                    let batch: Vec<_> = (0..BATCH).map(|i| create_entry((k + i) as u8)).collect();
                    s.append_audit_deferred(batch).await.unwrap();
                    appended.fetch_add(BATCH, Ordering::Relaxed);
                }
            })
        })
        .collect();
    // Measured while the appends go on.
    while appended.load(Ordering::Relaxed) < EARLY {
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    let first = restarts();
    let mut largest = 0;
    while appended.load(Ordering::Relaxed) < TOTAL {
        largest = largest.max(wal_size());
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    let last = restarts();
    for t in tasks {
        t.await.unwrap();
    }
    let n = last.wrapping_sub(first);
    assert!(
        n >= 24,
        "the audit WAL started over {n} times over 32 upkeeps' worth of appends; \
         it reached {largest} bytes"
    );
    s.flush_audit().await.unwrap();
    assert_eq!(s.audit_head().await.unwrap().size, TOTAL as u64);
}

/// 8.1: appends of the audit writer and appends inside other transactions (a create, a create
/// rolled back by a conflict) interleave on one store and chain densely; the writer's next
/// append never chains after a head that a rolled-back transaction or another call moved.
#[tokio::test]
async fn c8_1_audit_appends_interleave_with_creates_and_chain_densely() {
    for db in both().await.unwrap() {
        let s = &db.store;
        let b = s.backend();
        let mut n = 0u64;
        s.append_audit(&[create_entry(100)]).await.unwrap();
        n += 1;
        s.append_audit_deferred(vec![create_entry(101), create_entry(102)])
            .await
            .unwrap();
        n += 2;
        s.insert_subjects(&[new_subject(1, 1)], &[create_entry(1)])
            .await
            .unwrap();
        n += 1;
        let out = s.append_audit(&[create_entry(103)]).await.unwrap();
        assert_eq!(out[0].seq, n, "{b:?}: after the create's entry");
        n += 1;
        s.insert_subjects(&[new_subject(2, 1)], &[create_entry(2)])
            .await
            .unwrap_err();
        let out = s
            .append_audit_deferred(vec![create_entry(104)])
            .await
            .unwrap();
        assert_eq!(out[0].seq, n, "{b:?}: the rolled-back create took no seq");
        n += 1;
        s.flush_audit().await.unwrap();
        let entries = s.audit_entries(0, 100).await.unwrap();
        assert_eq!(entries.len() as u64, n, "{b:?}");
        for (i, w) in entries.windows(2).enumerate() {
            assert_eq!(w[1].seq, i as u64 + 1, "{b:?}");
            assert_eq!(w[1].prev_hash, w[0].hash, "{b:?}: chained at {}", w[1].seq);
        }
        let report = derbes_audit::verify_log(entries, &[], &[]);
        assert!(report.is_ok(), "{b:?}: {report:?}");
        assert_eq!(s.audit_head().await.unwrap().size, n, "{b:?}");
    }
}

/// 8.1: creates (each with its entry, in its own transaction) and audit appends (on SQLite,
/// the audit writer's own connection) run concurrently: every call succeeds — the writers
/// wait for each other's lock instead of failing — and the log holds every entry once,
/// densely chained.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn c8_1_concurrent_creates_and_audit_appends_all_land_in_one_chain() {
    for db in both().await.unwrap() {
        let b = db.store.backend();
        let mut tasks = Vec::new();
        for t in 0..4u8 {
            let s = db.store.clone();
            tasks.push(tokio::spawn(async move {
                for k in 0..10u8 {
                    let n = 1 + t * 10 + k;
                    s.insert_subjects(&[new_subject(n, n)], &[create_entry(n)])
                        .await
                        .map(|_| ())?;
                }
                Ok::<_, StoreError>(())
            }));
        }
        for t in 0..8u8 {
            let s = db.store.clone();
            tasks.push(tokio::spawn(async move {
                for k in 0..25u8 {
                    let e = [create_entry(100 + t), create_entry(k)];
                    if k % 2 == 0 {
                        s.append_audit_deferred(e.to_vec()).await?;
                    } else {
                        s.append_audit(&e).await?;
                    }
                }
                Ok::<_, StoreError>(())
            }));
        }
        for t in tasks {
            t.await.unwrap().unwrap_or_else(|e| panic!("{b:?}: {e}"));
        }
        db.store.flush_audit().await.unwrap();
        let entries = db.store.audit_entries(0, 1000).await.unwrap();
        assert_eq!(entries.len(), 40 + 8 * 25 * 2, "{b:?}");
        assert_eq!(db.store.count_subjects().await.unwrap(), 40, "{b:?}");
        let report = derbes_audit::verify_log(entries, &[], &[]);
        assert!(report.is_ok(), "{b:?}: {report:?}");
    }
}

/// Correct subject `n`'s IIN to ciphertext `ct` and its blind index to `[hash; 16]`, at `at`.
async fn correct_iin(
    s: &dyn derbes_store::Store,
    n: u8,
    ct: &[u8],
    hash: u8,
    at: i64,
) -> Result<Vec<i64>, StoreError> {
    let mut v = value(sid(n), "iin", ct);
    v.change_kind = "correct".into();
    s.write_values(
        &sid(n),
        &[ValueWrite {
            value: v,
            expect: Expect::Existing,
            index: Some(BlindIndexRecord {
                category: "iin".into(),
                hash: vec![hash; INDEX_HASH_LEN],
                unique: true,
            }),
        }],
        at,
    )
    .await
}

#[tokio::test]
async fn corrections_keep_history_and_move_the_index() {
    for db in both().await.unwrap() {
        let s = &db.store;
        s.insert_subjects(&[new_subject(1, 1)], &[]).await.unwrap();
        let seqs = correct_iin(&**s, 1, &[7, 7], 77, 99).await.unwrap();
        assert_eq!(seqs, vec![2]);
        let hist = s.history(&sid(1), "iin").await.unwrap();
        assert_eq!(hist.len(), 2);
        assert_eq!(hist[0].superseded_at, Some(99));
        assert_eq!(hist[1].superseded_at, None);
        assert_eq!(hist[1].ciphertext, vec![7, 7]);
        assert!(s
            .load_by_index("iin", &[1; INDEX_HASH_LEN])
            .await
            .unwrap()
            .is_empty());
        assert_eq!(
            s.load_by_index("iin", &[77; INDEX_HASH_LEN])
                .await
                .unwrap()
                .len(),
            1
        );
        let (_, current) = s.subject_with_values(&sid(1)).await.unwrap().unwrap();
        assert_eq!(current.len(), 2);

        // Supplementing a category that has a value is refused, and nothing changes.
        let err = s
            .write_values(
                &sid(1),
                &[ValueWrite {
                    value: value(sid(1), "email", &[0]),
                    expect: Expect::Absent,
                    index: None,
                }],
                100,
            )
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Precondition { .. }), "{err:?}");
        assert_eq!(s.history(&sid(1), "email").await.unwrap().len(), 1);

        // Correcting a category with no value is refused.
        let err = s
            .write_values(
                &sid(1),
                &[ValueWrite {
                    value: value(sid(1), "employer", &[0]),
                    expect: Expect::Existing,
                    index: None,
                }],
                100,
            )
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Precondition { .. }), "{err:?}");

        // A write to a missing subject is NotFound.
        let err = s
            .write_values(
                &sid(9),
                &[ValueWrite {
                    value: value(sid(9), "employer", &[0]),
                    expect: Expect::Absent,
                    index: None,
                }],
                100,
            )
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::NotFound), "{err:?}");
    }
}

/// Migration 0022 on data written before it: the index tables' 32-byte hashes become their
/// first 16 bytes, the subject is found by those, and a correction still removes the old
/// entry, whose copy in the packed row is still 32 bytes long (5.3, blind indexes).
#[tokio::test]
async fn c5_3_migration_0022_cuts_stored_blind_indexes_to_128_bits_and_corrections_follow() {
    for db in both().await.unwrap() {
        let s = &db.store;
        let b = s.backend();
        // A subject as written before 0022: full 32-byte HMACs in the index tables and in its
        // packed row.
        let old = NewSubject::new(
            new_subject(1, 1).subject,
            &[
                value(sid(1), "iin", &[1, 1]),
                value(sid(1), "email", &[1, 2]),
            ],
            vec![
                BlindIndexRecord {
                    category: "iin".into(),
                    hash: (0u8..32).collect(),
                    unique: true,
                },
                BlindIndexRecord {
                    category: "email".into(),
                    hash: (100u8..132).collect(),
                    unique: false,
                },
            ],
        );
        s.insert_subjects(&[old], &[]).await.unwrap();
        let full_iin: Vec<u8> = (0u8..32).collect();
        assert_eq!(
            s.load_by_index("iin", &full_iin).await.unwrap().len(),
            1,
            "{b:?}"
        );

        let sql = match b {
            Backend::Sqlite => include_str!("../migrations/sqlite/0022_blind_index_128.sql"),
            Backend::Postgres => include_str!("../migrations/postgres/0022_blind_index_128.sql"),
        };
        let rows = run_raw_sql(&db, sql).await;
        assert!(sql.contains("unique_index") && sql.contains("shared_index"));
        assert_eq!(rows, 2, "{b:?}: one row in each index table cut");

        assert!(
            s.load_by_index("iin", &full_iin).await.unwrap().is_empty(),
            "{b:?}"
        );
        let found = s.load_by_index("iin", &full_iin[..16]).await.unwrap();
        assert_eq!(found.len(), 1, "{b:?}");
        assert_eq!(found[0].0.id, sid(1));
        let email: Vec<u8> = (100u8..116).collect();
        assert_eq!(
            s.load_by_index("email", &email).await.unwrap().len(),
            1,
            "{b:?}"
        );

        // Correcting the IIN removes the entry the packed row's 32-byte copy points at.
        correct_iin(&**s, 1, &[7, 7], 77, 99).await.unwrap();
        assert!(
            s.load_by_index("iin", &full_iin[..16])
                .await
                .unwrap()
                .is_empty(),
            "{b:?}"
        );
        assert_eq!(
            s.load_by_index("iin", &[77; INDEX_HASH_LEN])
                .await
                .unwrap()
                .len(),
            1
        );
        // A second subject may now take the first IIN: no stale entry holds it.
        let second = NewSubject::new(
            new_subject(2, 2).subject,
            &[value(sid(2), "iin", &[2, 1])],
            vec![BlindIndexRecord {
                category: "iin".into(),
                hash: full_iin[..16].to_vec(),
                unique: true,
            }],
        );
        s.insert_subjects(&[second], &[]).await.unwrap();
    }
}

/// Run `sql` (several statements) on the database of `db`, through a pool of its own.
async fn run_raw_sql(db: &derbes_store::testing::FreshDb, sql: &str) -> u64 {
    match db.store.backend() {
        Backend::Sqlite => {
            let pool = sqlx::SqlitePool::connect(&db.url).await.unwrap();
            sqlx::raw_sql(sql)
                .execute(&pool)
                .await
                .unwrap()
                .rows_affected()
        }
        Backend::Postgres => {
            let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
            sqlx::raw_sql(sql)
                .execute(&pool)
                .await
                .unwrap()
                .rows_affected()
        }
    }
}

/// 5.3: migration 0023 moves the blind-index rows into tables keyed by their hash alone (each
/// category's hashes have a key of their own): rows written before it, with their category,
/// are all kept and found as before, a unique hash still refuses a second subject, and new
/// rows go in without a category.
#[tokio::test]
async fn c5_3_migration_0023_keys_blind_indexes_by_hash_alone() {
    for db in both().await.unwrap() {
        let s = &db.store;
        let b = s.backend();
        s.insert_subjects(&[new_subject(1, 1), new_subject(2, 2)], &[])
            .await
            .unwrap();
        // The index tables as they were before 0023, holding the same rows with categories.
        let (bytes, without_rowid) = match b {
            Backend::Sqlite => ("BLOB", "WITHOUT ROWID"),
            Backend::Postgres => ("BYTEA", ""),
        };
        let hex = |bytes: &[u8]| -> String {
            let h: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            match b {
                Backend::Sqlite => format!("x'{h}'"),
                Backend::Postgres => format!("decode('{h}', 'hex')"),
            }
        };
        let mut rewind = format!(
            "DROP TABLE unique_index; DROP TABLE shared_index; \
             CREATE TABLE unique_index (category TEXT NOT NULL, hash {bytes} NOT NULL, \
             subject_id {bytes} NOT NULL REFERENCES subjects(id), \
             PRIMARY KEY (category, hash)) {without_rowid}; \
             CREATE TABLE shared_index (category TEXT NOT NULL, hash {bytes} NOT NULL, \
             subject_id {bytes} NOT NULL REFERENCES subjects(id), \
             PRIMARY KEY (category, hash, subject_id)) {without_rowid};"
        );
        for n in [1u8, 2] {
            rewind.push_str(&format!(
                " INSERT INTO unique_index (category, hash, subject_id) VALUES ('iin', {}, {});\
                 INSERT INTO shared_index (category, hash, subject_id) VALUES ('email', {}, {});",
                hex(&[n; INDEX_HASH_LEN]),
                hex(&sid(n)),
                hex(&[200; INDEX_HASH_LEN]),
                hex(&sid(n)),
            ));
        }
        run_raw_sql(&db, &rewind).await;

        let sql = match b {
            Backend::Sqlite => include_str!("../migrations/sqlite/0023_blind_index_by_hash.sql"),
            Backend::Postgres => {
                include_str!("../migrations/postgres/0023_blind_index_by_hash.sql")
            }
        };
        run_raw_sql(&db, sql).await;
        let columns = match b {
            Backend::Sqlite => {
                "SELECT count(*) FROM pragma_table_info('unique_index') WHERE name = 'category'"
            }
            Backend::Postgres => {
                "SELECT count(*) FROM information_schema.columns \
                 WHERE table_schema = current_schema() AND table_name = 'unique_index' \
                 AND column_name = 'category'"
            }
        };
        let left: i64 = match b {
            Backend::Sqlite => {
                let pool = sqlx::SqlitePool::connect(&db.url).await.unwrap();
                sqlx::query_scalar(columns).fetch_one(&pool).await.unwrap()
            }
            Backend::Postgres => {
                let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
                sqlx::query_scalar(columns).fetch_one(&pool).await.unwrap()
            }
        };
        assert_eq!(left, 0, "{b:?}: the category column is gone");

        for n in [1u8, 2] {
            let found = s.load_by_index("iin", &[n; INDEX_HASH_LEN]).await.unwrap();
            assert_eq!(found.len(), 1, "{b:?}");
            assert_eq!(found[0].0.id, sid(n), "{b:?}");
        }
        let shared = s
            .load_by_index("email", &[200; INDEX_HASH_LEN])
            .await
            .unwrap();
        assert_eq!(shared.len(), 2, "{b:?}");
        let taken = s
            .insert_subjects(&[new_subject(3, 1)], &[])
            .await
            .unwrap_err();
        assert!(matches!(taken, StoreError::Conflict), "{b:?}: {taken:?}");
        s.insert_subjects(&[new_subject(3, 3)], &[]).await.unwrap();
        assert_eq!(email_holders(s.as_ref()).await, 3, "{b:?}");
    }
}

#[tokio::test]
async fn a_correction_to_anothers_unique_value_conflicts_and_changes_nothing() {
    for db in both().await.unwrap() {
        let s = &db.store;
        s.insert_subjects(&[new_subject(1, 1), new_subject(2, 2)], &[])
            .await
            .unwrap();
        let err = s
            .write_values(
                &sid(2),
                &[ValueWrite {
                    value: value(sid(2), "iin", &[5]),
                    expect: Expect::Existing,
                    index: Some(BlindIndexRecord {
                        category: "iin".into(),
                        hash: vec![1; INDEX_HASH_LEN],
                        unique: true,
                    }),
                }],
                50,
            )
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Conflict), "{err:?}");
        let hist = s.history(&sid(2), "iin").await.unwrap();
        assert_eq!(hist.len(), 1);
        assert_eq!(hist[0].superseded_at, None);
        assert_eq!(
            s.load_by_index("iin", &[2; INDEX_HASH_LEN])
                .await
                .unwrap()
                .len(),
            1
        );
    }
}

#[tokio::test]
async fn verification_meta_rewrap_and_api_keys() {
    for db in both().await.unwrap() {
        let s = &db.store;
        s.insert_subjects(&[new_subject(1, 1)], &[]).await.unwrap();
        s.set_verification(&sid(1), "iin", r#"{"status":"verified"}"#)
            .await
            .unwrap();
        let (_, vals) = s.subject_with_values(&sid(1)).await.unwrap().unwrap();
        let iin = vals.iter().find(|v| v.category == "iin").unwrap();
        assert_eq!(
            iin.verification.as_deref(),
            Some(r#"{"status":"verified"}"#)
        );
        assert!(s.set_verification(&sid(1), "employer", "{}").await.is_err());

        assert_eq!(s.get_meta("k").await.unwrap(), None);
        s.set_meta("k", "a").await.unwrap();
        s.set_meta("k", "b").await.unwrap();
        assert_eq!(s.get_meta("k").await.unwrap().as_deref(), Some("b"));

        assert_eq!(s.subjects_wrapped_below(2, 10).await.unwrap().len(), 1);
        s.rewrap_subject(&sid(1), 2, &[4; 60]).await.unwrap();
        assert!(s.subjects_wrapped_below(2, 10).await.unwrap().is_empty());
        assert_eq!(s.subject(&sid(1)).await.unwrap().unwrap().kek_version, 2);

        let key = ApiKeyRecord {
            id: "k1".into(),
            name: "loan-system".into(),
            key_hash: vec![3; 32],
            purposes: "contract,identification".into(),
            created_at: 1,
            revoked_at: None,
        };
        s.insert_api_key(&key).await.unwrap();
        assert_eq!(
            s.api_key_by_hash(&[3; 32]).await.unwrap(),
            Some(key.clone())
        );
        assert!(matches!(
            s.insert_api_key(&key).await.unwrap_err(),
            StoreError::Conflict
        ));
        s.revoke_api_key("k1", 7).await.unwrap();
        assert_eq!(s.list_api_keys().await.unwrap()[0].revoked_at, Some(7));
        assert!(matches!(
            s.revoke_api_key("k1", 8).await.unwrap_err(),
            StoreError::NotFound
        ));
    }
}

#[tokio::test]
async fn missing_sqlite_file_is_refused_without_create() {
    let dir = std::env::temp_dir().join(format!("derbes_missing_{}", std::process::id()));
    let url = format!("sqlite://{}/nope.db", dir.display());
    let err = derbes_store::open(&url, derbes_store::OpenOptions::default())
        .await
        .err()
        .unwrap();
    assert!(matches!(err, StoreError::MissingDatabase(_)), "{err:?}");
    assert!(matches!(
        derbes_store::open("mysql://x", Default::default())
            .await
            .err()
            .unwrap(),
        StoreError::UnsupportedUrl
    ));
}
