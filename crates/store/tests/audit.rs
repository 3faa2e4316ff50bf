//! The audit log in the store, run on SQLite and on PostgreSQL (every test iterates
//! `testing::both()`): chaining across batches, the Merkle head, checkpoints, refusal of
//! non-code fields, tampering with raw SQL (each caught by `verify_log` at the right seq),
//! concurrent appenders from several stores ("processes") and the read queries.
//!
//! Clauses: 8.1 (every action is attributable and the log cannot be altered unnoticed),
//! 5.1–5.3 (integrity: modification, destruction, reordering), L-PROTECTION (actions on data
//! are registered and logged).

use sqlx::{ConnectOptions, Connection};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use derbes_audit::{
    empty_root, leaf_hash, merkle_root, verify_log, Action, AuditSigner, CheckpointRef, Outcome,
    Problem, ProblemKind, VerifyReport, VerifyingKey,
};
use derbes_store::testing::{both, FreshDb};
use derbes_store::{AuditEntry, AuditFields, Backend, Checkpoint, OpenOptions, Store, StoreError};

/// More entries than any test writes: "read the whole log".
const ALL: u64 = 1_000_000;

/// 2026-01-01T00:00:00Z in µs.
const T0: i64 = 1_767_225_600_000_000;

fn signer() -> AuditSigner {
    AuditSigner::from_bytes(&[7u8; 32])
}

/// The fields of the `i`-th test entry: varied actors, actions, subjects, outcomes, optional
/// fields present and absent, categories given unsorted and with a duplicate.
fn fields(i: u64) -> AuditFields {
    let actions = [
        Action::READ,
        Action::SEARCH,
        Action::CORRECT,
        Action::EXPORT,
    ];
    AuditFields {
        at: T0 + i as i64,
        actor: format!("employee:{}", i % 7),
        action: actions[(i % 4) as usize].clone(),
        subject: (!i.is_multiple_of(5)).then(|| format!("sp_{:04x}", i % 11)),
        purpose: (!i.is_multiple_of(6)).then(|| "credit_scoring".to_string()),
        categories: if i.is_multiple_of(3) {
            Vec::new()
        } else {
            vec!["phone".into(), "iin".into(), "phone".into()]
        },
        rule: Some("role:underwriter".into()),
        outcome: if i.is_multiple_of(13) {
            Outcome::Denied
        } else {
            Outcome::Allowed
        },
        detail: i.is_multiple_of(4).then(|| format!("n{i}")),
    }
}

fn batch(range: std::ops::Range<u64>) -> Vec<AuditFields> {
    range.map(fields).collect()
}

async fn all_entries(store: &dyn Store) -> Vec<AuditEntry> {
    store.audit_entries(0, ALL).await.unwrap()
}

/// Sign the store's current head and store the checkpoint.
async fn checkpoint(store: &dyn Store, signer: &AuditSigner) -> Checkpoint {
    let head = store.audit_head().await.unwrap();
    let cp = signer.sign(head.size, head.root, T0 + 1_000_000 + head.size as i64);
    store.insert_checkpoint(&cp).await.unwrap();
    cp
}

/// `verify_log` over everything in the database, plus checkpoints kept outside it.
async fn verify(store: &dyn Store, external: &[Checkpoint], key: &VerifyingKey) -> VerifyReport {
    let mut cps = store.checkpoints().await.unwrap();
    cps.extend_from_slice(external);
    verify_log(all_entries(store).await, &cps, std::slice::from_ref(key))
}

fn problem(report: &VerifyReport) -> Problem {
    report
        .problem
        .clone()
        .unwrap_or_else(|| panic!("tampering went unnoticed: {report:?}"))
}

/// A log of 250 entries with checkpoints at 100 and 200 (unsigned tail of 50).
async fn seed(store: &dyn Store, signer: &AuditSigner) {
    for start in (0..100).step_by(25) {
        store.append_audit(&batch(start..start + 25)).await.unwrap();
    }
    assert_eq!(checkpoint(store, signer).await.tree_size, 100);
    store.append_audit(&batch(100..200)).await.unwrap();
    assert_eq!(checkpoint(store, signer).await.tree_size, 200);
    store.append_audit(&batch(200..230)).await.unwrap();
    store.append_audit(&batch(230..250)).await.unwrap();
    let report = verify(store, &[], &signer.public_key()).await;
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(report.entries, 250);
    assert_eq!(report.checkpoints_verified, 2);
    assert_eq!(report.unsigned_tail, 50);
}

/// A checkpoint of the current head kept outside the database (the operator's or a third
/// party's copy): signed, never stored.
fn outside_checkpoint(sg: &AuditSigner, size: u64, root: [u8; 32]) -> Checkpoint {
    sg.sign(size, root, T0 + 5_000_000 + size as i64)
}

/// A second, raw connection pool on the same database: the attacker who can rewrite it.
enum Raw {
    Lite(sqlx::SqlitePool),
    Pg(sqlx::PgPool),
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn text(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn opt_text(s: Option<&str>) -> String {
    s.map_or_else(|| "NULL".to_string(), text)
}

impl Raw {
    async fn open(db: &FreshDb) -> Raw {
        match db.store.backend() {
            // On SQLite the log is in its own file beside the database.
            Backend::Sqlite => {
                let main = std::path::PathBuf::from(db.url.trim_start_matches("sqlite://"));
                let url = format!("sqlite://{}", derbes_store::audit_file_of(&main).display());
                Raw::Lite(sqlx::SqlitePool::connect(&url).await.unwrap())
            }
            Backend::Postgres => Raw::Pg(sqlx::PgPool::connect(&db.url).await.unwrap()),
        }
    }

    /// A blob literal.
    fn blob(&self, bytes: &[u8]) -> String {
        match self {
            Raw::Lite(_) => format!("X'{}'", hex(bytes)),
            Raw::Pg(_) => format!("decode('{}', 'hex')", hex(bytes)),
        }
    }

    /// Runs SQL (possibly several statements); returns the rows affected.
    async fn exec(&self, sql: &str) -> u64 {
        match self {
            Raw::Lite(p) => sqlx::raw_sql(sql).execute(p).await.unwrap().rows_affected(),
            Raw::Pg(p) => sqlx::raw_sql(sql).execute(p).await.unwrap().rows_affected(),
        }
    }

    /// An `UPDATE` that writes every column of `e` into the row with seq `seq`.
    fn overwrite_sql(&self, seq: u64, e: &AuditEntry) -> String {
        format!(
            "UPDATE audit_entries SET at = {}, actor = {}, action = {}, subject = {}, \
             purpose = {}, categories = {}, rule = {}, outcome = {}, detail = {}, \
             prev_hash = {}, hash = {} WHERE seq = {seq};\n",
            e.at,
            text(&e.actor),
            text(e.action.as_str()),
            opt_text(e.subject.as_deref()),
            opt_text(e.purpose.as_deref()),
            text(&e.categories.join(" ")),
            opt_text(e.rule.as_deref()),
            text(e.outcome.as_str()),
            opt_text(e.detail.as_deref()),
            self.blob(&e.prev_hash),
            self.blob(&e.hash),
        )
    }

    async fn close(self) {
        match self {
            Raw::Lite(p) => p.close().await,
            Raw::Pg(p) => p.close().await,
        }
    }
}

// ---------------------------------------------------------------------------------------
// 1. Chaining, head, checkpoints
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn c8_1_batches_of_1_7_300_chain_densely_and_head_is_the_merkle_root() {
    for db in both().await.unwrap() {
        let s = &*db.store;
        let b = s.backend();
        let key = signer().public_key();

        // The empty log.
        let head = s.audit_head().await.unwrap();
        assert_eq!((head.size, head.root), (0, empty_root()), "{b:?}");
        assert!(s.append_audit(&[]).await.unwrap().is_empty(), "{b:?}");
        assert_eq!(s.audit_head().await.unwrap().size, 0, "{b:?}");
        assert!(verify(s, &[], &key).await.is_ok(), "{b:?}");

        let mut returned = Vec::new();
        let mut next = 0u64;
        for n in [1u64, 7, 300] {
            let out = s.append_audit(&batch(next..next + n)).await.unwrap();
            assert_eq!(out.len() as u64, n, "{b:?}");
            for (k, e) in out.iter().enumerate() {
                assert_eq!(e.seq, next + k as u64, "{b:?}: seqs of one batch are dense");
                assert_eq!(e.categories, {
                    let mut c = fields(e.seq).categories;
                    c.sort();
                    c.dedup();
                    c
                });
            }
            next += n;
            returned.extend(out);

            // After every batch: the head is the Merkle root of everything so far.
            let entries = all_entries(s).await;
            let leaves: Vec<[u8; 32]> = entries.iter().map(|e| leaf_hash(&e.hash)).collect();
            let head = s.audit_head().await.unwrap();
            assert_eq!(head.size, next, "{b:?}");
            assert_eq!(head.root, merkle_root(&leaves), "{b:?} after {next}");
        }

        let entries = all_entries(s).await;
        assert_eq!(entries.len(), 308, "{b:?}");
        assert!(
            entries.iter().enumerate().all(|(i, e)| e.seq == i as u64),
            "{b:?}: seqs dense from 0"
        );
        // What append_audit returned is exactly what is stored.
        assert_eq!(entries, returned, "{b:?}");
        assert_eq!(entries[0].prev_hash, [0u8; 32], "{b:?}");
        assert!(
            entries.windows(2).all(|w| w[1].prev_hash == w[0].hash),
            "{b:?}"
        );
        assert!(entries.iter().all(|e| e.hash_is_valid()), "{b:?}");
        // The stored fields are the ones given (categories normalised).
        for e in &entries {
            let mut f = fields(e.seq);
            f.categories.sort();
            f.categories.dedup();
            assert_eq!(e.fields(), f, "{b:?} seq {}", e.seq);
        }

        let report = verify_log(entries, &[], std::slice::from_ref(&key));
        assert!(report.is_ok(), "{b:?}: {report:?}");
        assert_eq!(report.entries, 308);
        assert_eq!(report.root, s.audit_head().await.unwrap().root, "{b:?}");
    }
}

#[tokio::test]
async fn c8_1_checkpoints_are_stored_returned_in_order_and_verify() {
    for db in both().await.unwrap() {
        let s = &*db.store;
        let b = s.backend();
        let sg = signer();
        let key = sg.public_key();

        let mut made = Vec::new();
        let mut next = 0u64;
        for n in [1u64, 7, 300] {
            s.append_audit(&batch(next..next + n)).await.unwrap();
            next += n;
            let cp = checkpoint(s, &sg).await;
            assert_eq!(cp.tree_size, next, "{b:?}");
            assert!(cp.verify(&key), "{b:?}");
            made.push(cp);
        }
        assert_eq!(s.checkpoints().await.unwrap(), made, "{b:?}");

        // Storing the same checkpoint again changes nothing.
        s.insert_checkpoint(&made[1]).await.unwrap();
        assert_eq!(s.checkpoints().await.unwrap(), made, "{b:?}");

        let report = verify(s, &[], &key).await;
        assert!(report.is_ok(), "{b:?}: {report:?}");
        assert_eq!(report.checkpoints, 3);
        assert_eq!(report.checkpoints_verified, 3, "{b:?}");
        assert_eq!(report.last_checkpoint_size, Some(308), "{b:?}");
        assert_eq!(report.unsigned_tail, 0, "{b:?}");

        // Checkpoints come back by tree size whatever order they were stored in, and a
        // second key's checkpoints sit beside the first's.
        let other = AuditSigner::from_bytes(&[9u8; 32]);
        let head = s.audit_head().await.unwrap();
        let late = other.sign(head.size, head.root, T0 + 9);
        let early_root = merkle_root(
            &s.audit_entry_hashes(8)
                .await
                .unwrap()
                .iter()
                .map(leaf_hash)
                .collect::<Vec<_>>(),
        );
        let early = other.sign(8, early_root, T0 + 8);
        s.insert_checkpoint(&late).await.unwrap();
        s.insert_checkpoint(&early).await.unwrap();
        let cps = s.checkpoints().await.unwrap();
        let sizes: Vec<u64> = cps.iter().map(|c| c.tree_size).collect();
        assert_eq!(sizes, vec![1, 8, 8, 308, 308], "{b:?}");
        let report = verify_log(all_entries(s).await, &cps, &[key, other.public_key()]);
        assert!(report.is_ok(), "{b:?}: {report:?}");
        assert_eq!(report.checkpoints_verified, 5, "{b:?}");
    }
}

// ---------------------------------------------------------------------------------------
// 2. Only codes enter the log
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn l_protection_non_code_fields_are_refused_and_nothing_is_appended() {
    let bad: Vec<(&str, AuditFields)> = vec![
        (
            "subject with a space",
            AuditFields {
                subject: Some("Ivanov Ivan".into()),
                ..fields(1)
            },
        ),
        (
            "cyrillic subject",
            AuditFields {
                subject: Some("Иванов".into()),
                ..fields(1)
            },
        ),
        (
            "cyrillic purpose",
            AuditFields {
                purpose: Some("кредит".into()),
                ..fields(1)
            },
        ),
        (
            "empty purpose",
            AuditFields {
                purpose: Some(String::new()),
                ..fields(1)
            },
        ),
        (
            "actor with a space",
            AuditFields {
                actor: "employee: 42".into(),
                ..fields(1)
            },
        ),
        (
            "category value",
            AuditFields {
                categories: vec!["iin".into(), "870412300123 ".into()],
                ..fields(1)
            },
        ),
        (
            "cyrillic category",
            AuditFields {
                categories: vec!["адрес".into()],
                ..fields(1)
            },
        ),
        (
            "too many categories",
            AuditFields {
                categories: (0..65).map(|i| format!("c{i}")).collect(),
                ..fields(1)
            },
        ),
        (
            "rule with a newline",
            AuditFields {
                rule: Some("role:\nunderwriter".into()),
                ..fields(1)
            },
        ),
        (
            "detail with free text",
            AuditFields {
                detail: Some("phone +7 701 123 45 67".into()),
                ..fields(1)
            },
        ),
        (
            "overlong detail",
            AuditFields {
                detail: Some("x".repeat(1025)),
                ..fields(1)
            },
        ),
        (
            "action not a code",
            AuditFields {
                action: Action::from_stored("Read Data"),
                ..fields(1)
            },
        ),
    ];
    for db in both().await.unwrap() {
        let s = &*db.store;
        let b = s.backend();
        s.append_audit(&batch(0..3)).await.unwrap();
        let before = s.audit_head().await.unwrap();
        for (what, f) in &bad {
            // Alone, and after a valid entry in the same batch: all or nothing.
            for attempt in [vec![f.clone()], vec![fields(3), f.clone(), fields(4)]] {
                match s.append_audit(&attempt).await {
                    Err(StoreError::Audit(_)) => {}
                    other => panic!("{b:?}: {what}: expected StoreError::Audit, got {other:?}"),
                }
                assert_eq!(s.audit_head().await.unwrap(), before, "{b:?}: {what}");
                assert_eq!(all_entries(s).await.len(), 3, "{b:?}: {what}");
            }
        }
        // The log still works and verifies.
        let out = s.append_audit(&batch(3..5)).await.unwrap();
        assert_eq!(out[0].seq, 3, "{b:?}");
        assert!(
            verify(s, &[], &signer().public_key()).await.is_ok(),
            "{b:?}"
        );
    }
}

/// Every code `EntryFields::validate` accepts must come back from the store byte for byte, or
/// the entry's hash no longer matches and a genuine log fails verification. A comma is a
/// printable ASCII character, so a category code may contain one.
#[tokio::test]
async fn c8_1_every_accepted_code_round_trips_exactly() {
    let mut failures = Vec::new();
    for db in both().await.unwrap() {
        let s = &*db.store;
        let b = s.backend();
        let f = AuditFields {
            categories: vec!["iin".into(), "doc,passport".into()],
            detail: Some("count=3;ids=a,b".into()),
            subject: Some("sp_'x\"".into()),
            ..fields(1)
        };
        f.validate().expect("a valid set of codes");
        // Twice: the first append of a store reads the head, the second chains after the head
        // it left (on SQLite, one statement list with the values written out as hexadecimal).
        let mut out = s.append_audit(std::slice::from_ref(&f)).await.unwrap();
        out.extend(s.append_audit_deferred(vec![f]).await.unwrap());
        let stored = all_entries(s).await;
        if stored != out {
            failures.push(format!(
                "{b:?}: appended categories {:?}, stored {:?}",
                out.iter().map(|e| &e.categories).collect::<Vec<_>>(),
                stored.iter().map(|e| &e.categories).collect::<Vec<_>>()
            ));
        }
        let report = verify(s, &[], &signer().public_key()).await;
        if let Some(p) = report.problem {
            failures.push(format!("{b:?}: a genuine log fails verification: {p}"));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

// ---------------------------------------------------------------------------------------
// 3. Tampering with the database, each caught at the right seq
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn c5_1_changed_field_of_entry_37_is_a_hash_mismatch_at_37() {
    for db in both().await.unwrap() {
        let s = &*db.store;
        let b = s.backend();
        let sg = signer();
        let key = sg.public_key();
        seed(s, &sg).await;
        let raw = Raw::open(&db).await;
        let original = all_entries(s).await[37].clone();
        let restore = raw.overwrite_sql(37, &original);

        let changes = [
            "purpose = 'marketing'",
            "purpose = NULL",
            "outcome = 'denied'",
            "outcome = 'tampered'",
            "categories = 'iin'",
            "categories = 'address iin phone'",
            "actor = 'employee:99'",
            "action = 'export'",
            "subject = 'sp_ffff'",
            "rule = 'role:admin'",
            "detail = 'n0'",
            "at = at + 1",
        ];
        for change in changes {
            let n = raw
                .exec(&format!("UPDATE audit_entries SET {change} WHERE seq = 37"))
                .await;
            assert_eq!(n, 1, "{b:?}");
            let report = verify(s, &[], &key).await;
            assert_eq!(
                problem(&report),
                Problem {
                    seq: 37,
                    kind: ProblemKind::HashMismatch,
                    found_seq: None,
                    checkpoint: None,
                },
                "{b:?}: {change}"
            );
            assert_eq!(report.entries, 37, "{b:?}: {change}");
            raw.exec(&restore).await;
            assert!(
                verify(s, &[], &key).await.is_ok(),
                "{b:?}: restored after {change}"
            );
        }
        raw.close().await;
    }
}

/// A row that no longer decodes (a hash of the wrong length) cannot be passed over: reading
/// the log fails instead of skipping or repairing it. A row moved out of the seq range (a
/// negative seq) is a gap where it was.
#[tokio::test]
async fn c5_1_undecodable_or_moved_rows_are_not_passed_over() {
    for db in both().await.unwrap() {
        let s = &*db.store;
        let b = s.backend();
        s.append_audit(&batch(0..50)).await.unwrap();
        let key = signer().public_key();
        let raw = Raw::open(&db).await;
        let good = all_entries(s).await;

        let sql = format!(
            "UPDATE audit_entries SET hash = {} WHERE seq = 37",
            raw.blob(&[1u8; 31])
        );
        assert_eq!(raw.exec(&sql).await, 1, "{b:?}");
        match s.audit_entries(0, ALL).await {
            Err(StoreError::Audit(_)) => {}
            other => panic!(
                "{b:?}: 31-byte hash: expected StoreError::Audit, got {:?}",
                other.map(|v| v.len())
            ),
        }
        raw.exec(&raw.overwrite_sql(37, &good[37])).await;
        assert_eq!(all_entries(s).await, good, "{b:?}: restored");

        let sql = "UPDATE audit_entries SET seq = -1 WHERE seq = 0";
        assert_eq!(raw.exec(sql).await, 1, "{b:?}");
        let report = verify(s, &[], &key).await;
        assert_eq!(
            problem(&report),
            Problem {
                seq: 0,
                kind: ProblemKind::Gap,
                found_seq: Some(1),
                checkpoint: None,
            },
            "{b:?}"
        );
        raw.close().await;
    }
}

#[tokio::test]
async fn c5_2_deleted_entry_50_is_a_gap_at_50() {
    for db in both().await.unwrap() {
        let s = &*db.store;
        let b = s.backend();
        let sg = signer();
        seed(s, &sg).await;
        let raw = Raw::open(&db).await;
        assert_eq!(
            raw.exec("DELETE FROM audit_entries WHERE seq = 50").await,
            1
        );
        let report = verify(s, &[], &sg.public_key()).await;
        assert_eq!(
            problem(&report),
            Problem {
                seq: 50,
                kind: ProblemKind::Gap,
                found_seq: Some(51),
                checkpoint: None,
            },
            "{b:?}"
        );
        assert_eq!(report.entries, 50, "{b:?}");
        raw.close().await;
    }
}

#[tokio::test]
async fn c5_3_swapped_rows_are_detected_at_the_first_of_them() {
    for db in both().await.unwrap() {
        let s = &*db.store;
        let b = s.backend();
        let sg = signer();
        let key = sg.public_key();
        seed(s, &sg).await;
        let raw = Raw::open(&db).await;
        let e = all_entries(s).await;

        // Whole rows (hashes included) trade places, each keeping its seq.
        for (x, y) in [(60u64, 61u64), (60, 170)] {
            let (ex, ey) = (&e[x as usize], &e[y as usize]);
            raw.exec(&format!(
                "{}{}",
                raw.overwrite_sql(x, ey),
                raw.overwrite_sql(y, ex)
            ))
            .await;
            let report = verify(s, &[], &key).await;
            assert_eq!(
                problem(&report),
                Problem {
                    seq: x,
                    kind: ProblemKind::BrokenLink,
                    found_seq: None,
                    checkpoint: None,
                },
                "{b:?}: swap {x} and {y}"
            );
            raw.exec(&format!(
                "{}{}",
                raw.overwrite_sql(x, ex),
                raw.overwrite_sql(y, ey)
            ))
            .await;
            assert!(verify(s, &[], &key).await.is_ok(), "{b:?}: restored");
        }

        // Only the recorded fields trade places (each row keeps its hashes).
        let (x, y) = (80u64, 81u64);
        let mut fx = e[y as usize].clone();
        fx.prev_hash = e[x as usize].prev_hash;
        fx.hash = e[x as usize].hash;
        let mut fy = e[x as usize].clone();
        fy.prev_hash = e[y as usize].prev_hash;
        fy.hash = e[y as usize].hash;
        raw.exec(&format!(
            "{}{}",
            raw.overwrite_sql(x, &fx),
            raw.overwrite_sql(y, &fy)
        ))
        .await;
        let report = verify(s, &[], &key).await;
        assert_eq!(
            problem(&report),
            Problem {
                seq: x,
                kind: ProblemKind::HashMismatch,
                found_seq: None,
                checkpoint: None,
            },
            "{b:?}: fields of {x} and {y} swapped"
        );
        raw.close().await;
    }
}

#[tokio::test]
async fn c5_2_truncation_below_a_checkpoint_is_checkpoint_beyond_log() {
    for db in both().await.unwrap() {
        let s = &*db.store;
        let b = s.backend();
        let sg = signer();
        seed(s, &sg).await;
        let raw = Raw::open(&db).await;
        assert_eq!(
            raw.exec("DELETE FROM audit_entries WHERE seq >= 150").await,
            100
        );
        let report = verify(s, &[], &sg.public_key()).await;
        assert_eq!(
            problem(&report),
            Problem {
                seq: 150,
                kind: ProblemKind::CheckpointBeyondLog,
                found_seq: None,
                checkpoint: Some(CheckpointRef {
                    index: 1,
                    tree_size: 200,
                }),
            },
            "{b:?}"
        );
        assert_eq!(report.entries, 150, "{b:?}");
        assert_eq!(report.checkpoints_verified, 1, "{b:?}");
        raw.close().await;
    }
}

#[tokio::test]
async fn c5_2_unsigned_tail_truncation_is_caught_only_by_an_external_checkpoint() {
    for db in both().await.unwrap() {
        let s = &*db.store;
        let b = s.backend();
        let sg = signer();
        let key = sg.public_key();
        seed(s, &sg).await;
        // The operator's copy of the newest head, kept outside the database (not stored).
        let head = s.audit_head().await.unwrap();
        let outside = outside_checkpoint(&sg, head.size, head.root);

        let raw = Raw::open(&db).await;
        assert_eq!(
            raw.exec("DELETE FROM audit_entries WHERE seq >= 220").await,
            30
        );

        // From the database alone: consistent, but the report says how much is unsigned.
        let report = verify(s, &[], &key).await;
        assert!(report.is_ok(), "{b:?}: {report:?}");
        assert_eq!(report.entries, 220, "{b:?}");
        assert_eq!(report.last_checkpoint_size, Some(200), "{b:?}");
        assert_eq!(report.unsigned_tail, 20, "{b:?}");

        // With the external checkpoint: the truncation is found where it starts.
        let report = verify(s, std::slice::from_ref(&outside), &key).await;
        assert_eq!(
            problem(&report),
            Problem {
                seq: 220,
                kind: ProblemKind::CheckpointBeyondLog,
                found_seq: None,
                checkpoint: Some(CheckpointRef {
                    index: 2,
                    tree_size: 250,
                }),
            },
            "{b:?}"
        );
        raw.close().await;
    }
}

#[tokio::test]
async fn c8_1_tampered_checkpoints_are_detected() {
    for db in both().await.unwrap() {
        let s = &*db.store;
        let b = s.backend();
        let sg = signer();
        let key = sg.public_key();
        seed(s, &sg).await;
        let raw = Raw::open(&db).await;
        let cps = s.checkpoints().await.unwrap();
        let restore = |cp: &Checkpoint| {
            format!(
                "UPDATE audit_checkpoints SET root = {}, at = {}, key_id = {}, signature = {} \
                 WHERE tree_size = {};",
                raw.blob(&cp.root),
                cp.at,
                text(&cp.key_id),
                raw.blob(&cp.signature),
                cp.tree_size
            )
        };
        let at = |index: usize, tree_size: u64| Some(CheckpointRef { index, tree_size });

        let cases: Vec<(String, Problem)> = vec![
            (
                format!(
                    "UPDATE audit_checkpoints SET root = {} WHERE tree_size = 100",
                    raw.blob(&[0xab; 32])
                ),
                Problem {
                    seq: 0,
                    kind: ProblemKind::CheckpointBadSignature,
                    found_seq: None,
                    checkpoint: at(0, 100),
                },
            ),
            (
                format!(
                    "UPDATE audit_checkpoints SET signature = {} WHERE tree_size = 200",
                    raw.blob(&[0x5a; 64])
                ),
                Problem {
                    seq: 100,
                    kind: ProblemKind::CheckpointBadSignature,
                    found_seq: None,
                    checkpoint: at(1, 200),
                },
            ),
            (
                "UPDATE audit_checkpoints SET at = at + 1 WHERE tree_size = 200".into(),
                Problem {
                    seq: 100,
                    kind: ProblemKind::CheckpointBadSignature,
                    found_seq: None,
                    checkpoint: at(1, 200),
                },
            ),
            (
                // The root *and* signature of a genuine checkpoint over another tree (a
                // replayed signature): the signature verifies, the root does not match.
                {
                    let other = sg.sign(200, [0xcd; 32], cps[1].at);
                    format!(
                        "UPDATE audit_checkpoints SET root = {}, signature = {} \
                         WHERE tree_size = 200",
                        raw.blob(&other.root),
                        raw.blob(&other.signature)
                    )
                },
                Problem {
                    seq: 100,
                    kind: ProblemKind::CheckpointRootMismatch,
                    found_seq: None,
                    checkpoint: at(1, 200),
                },
            ),
            (
                "UPDATE audit_checkpoints SET key_id = '0011223344556677' WHERE tree_size = 100"
                    .into(),
                Problem {
                    seq: 0,
                    kind: ProblemKind::CheckpointUnknownKey,
                    found_seq: None,
                    checkpoint: at(0, 100),
                },
            ),
        ];
        for (sql, expected) in cases {
            assert_eq!(raw.exec(&sql).await, 1, "{b:?}: {sql}");
            let report = verify(s, &[], &key).await;
            assert_eq!(problem(&report), expected, "{b:?}: {sql}");
            raw.exec(&format!("{}{}", restore(&cps[0]), restore(&cps[1])))
                .await;
            assert!(
                verify(s, &[], &key).await.is_ok(),
                "{b:?}: restored after {sql}"
            );
        }
        raw.close().await;
    }
}

/// Rewrites entry `seq` (its purpose) and recomputes its hash and every later one with the
/// library, as an attacker without the signing key would.
async fn rewrite_with_consistent_chain(s: &dyn Store, raw: &Raw, seq: u64) {
    let mut e = all_entries(s).await;
    let i = seq as usize;
    e[i].purpose = Some("marketing".into());
    let mut sql = String::from("BEGIN;\n");
    for k in i..e.len() {
        if k > 0 {
            e[k].prev_hash = e[k - 1].hash;
        }
        e[k].hash = e[k].compute_hash();
        sql.push_str(&raw.overwrite_sql(e[k].seq, &e[k]));
    }
    sql.push_str("COMMIT;\n");
    raw.exec(&sql).await;
}

#[tokio::test]
async fn c8_1_rehashed_chain_is_caught_by_the_signed_checkpoint() {
    // (entry rewritten, checkpoint expected to catch it, seq reported)
    for (seq, index, tree_size, reported) in [(37u64, 0usize, 100u64, 0u64), (137, 1, 200, 100)] {
        for db in both().await.unwrap() {
            let s = &*db.store;
            let b = s.backend();
            let sg = signer();
            let key = sg.public_key();
            seed(s, &sg).await;
            let raw = Raw::open(&db).await;
            rewrite_with_consistent_chain(s, &raw, seq).await;

            // The chain alone is consistent again: only the checkpoint can tell.
            let chain_only = verify_log(all_entries(s).await, &[], std::slice::from_ref(&key));
            assert!(chain_only.is_ok(), "{b:?}: {chain_only:?}");
            assert_eq!(
                all_entries(s).await[seq as usize].purpose.as_deref(),
                Some("marketing")
            );

            let report = verify(s, &[], &key).await;
            assert_eq!(
                problem(&report),
                Problem {
                    seq: reported,
                    kind: ProblemKind::CheckpointRootMismatch,
                    found_seq: None,
                    checkpoint: Some(CheckpointRef { index, tree_size }),
                },
                "{b:?}: entry {seq} rewritten"
            );
            raw.close().await;
        }
    }
}

#[tokio::test]
async fn c8_1_rehashed_unsigned_tail_is_caught_by_an_external_checkpoint() {
    for db in both().await.unwrap() {
        let s = &*db.store;
        let b = s.backend();
        let sg = signer();
        let key = sg.public_key();
        seed(s, &sg).await;
        let head = s.audit_head().await.unwrap();
        let outside = outside_checkpoint(&sg, head.size, head.root);
        let raw = Raw::open(&db).await;
        rewrite_with_consistent_chain(s, &raw, 230).await;

        let report = verify(s, &[], &key).await;
        assert!(
            report.is_ok(),
            "{b:?}: unsigned tail, database alone: {report:?}"
        );
        assert_eq!(report.unsigned_tail, 50, "{b:?}");

        let report = verify(s, std::slice::from_ref(&outside), &key).await;
        assert_eq!(
            problem(&report),
            Problem {
                seq: 200,
                kind: ProblemKind::CheckpointRootMismatch,
                found_seq: None,
                checkpoint: Some(CheckpointRef {
                    index: 2,
                    tree_size: 250,
                }),
            },
            "{b:?}"
        );
        raw.close().await;
    }
}

// ---------------------------------------------------------------------------------------
// 4. Concurrent appenders
// ---------------------------------------------------------------------------------------

/// `tasks_per_store` tasks on each store append `appends` batches of 1–3 entries each, while
/// a checkpointer signs the head; every entry must land exactly once, in dense seqs, and the
/// log (with all checkpoints made meanwhile) must verify.
/// With `deferred`, appends take turns to be deferred, journaled (both as the entries of
/// reads are) and durable, and each task's entries must be in the log in the order it
/// appended them.
async fn hammer(
    stores: Vec<Arc<dyn Store>>,
    tasks_per_store: usize,
    appends: usize,
    deferred: bool,
) {
    let b = stores[0].backend();
    let sg = Arc::new(signer());
    let done = Arc::new(AtomicBool::new(false));
    let checkpointer = {
        let s = stores[stores.len() - 1].clone();
        let sg = sg.clone();
        let done = done.clone();
        tokio::spawn(async move {
            let mut made = 0usize;
            while !done.load(Ordering::Relaxed) {
                checkpoint(&*s, &sg).await;
                made += 1;
                tokio::time::sleep(std::time::Duration::from_millis(3)).await;
            }
            made
        })
    };

    let mut handles = Vec::new();
    for (si, store) in stores.iter().enumerate() {
        for t in 0..tasks_per_store {
            let s = store.clone();
            handles.push(tokio::spawn(async move {
                let mut got = Vec::new();
                for k in 0..appends {
                    let n = 1 + (k + t) % 3;
                    let fs: Vec<AuditFields> = (0..n)
                        .map(|j| AuditFields {
                            actor: format!("employee:{si}_{t}"),
                            detail: Some(format!("p{si}_t{t}_k{k}_j{j}")),
                            ..fields((k * 3 + j) as u64)
                        })
                        .collect();
                    let out = match (deferred, (k + t) % 3) {
                        (true, 0) => s.append_audit_deferred(fs).await.unwrap(),
                        (true, 1) => {
                            s.append_audit_journaled(fs).await.unwrap();
                            continue;
                        }
                        _ => s.append_audit(&fs).await.unwrap(),
                    };
                    assert_eq!(out.len(), n);
                    assert!(
                        out.windows(2).all(|w| w[1].seq == w[0].seq + 1),
                        "one batch, one transaction: consecutive seqs"
                    );
                    got.extend(out);
                }
                got
            }));
        }
    }
    let mut returned = Vec::new();
    for h in handles {
        returned.extend(h.await.unwrap());
    }
    done.store(true, Ordering::Relaxed);
    let made = checkpointer.await.unwrap();
    let final_cp = checkpoint(&*stores[0], &sg).await;

    let expected: usize = stores.len()
        * (0..tasks_per_store)
            .map(|t| (0..appends).map(|k| 1 + (k + t) % 3).sum::<usize>())
            .sum::<usize>();
    let entries = all_entries(&*stores[0]).await;
    assert_eq!(entries.len(), expected, "{b:?}");
    if !deferred {
        assert_eq!(returned.len(), expected, "{b:?}");
    }
    assert!(
        entries.iter().enumerate().all(|(i, e)| e.seq == i as u64),
        "{b:?}: seqs dense from 0"
    );
    let mut count: HashMap<&str, usize> = HashMap::new();
    for e in &entries {
        *count.entry(e.detail.as_deref().unwrap()).or_default() += 1;
    }
    assert_eq!(count.len(), expected, "{b:?}: every entry once");
    assert!(count.values().all(|&c| c == 1), "{b:?}: no entry twice");
    // What each appender was told is what is stored at that seq.
    let by_seq: BTreeMap<u64, &AuditEntry> = returned.iter().map(|e| (e.seq, e)).collect();
    assert_eq!(
        by_seq.len(),
        returned.len(),
        "{b:?}: no seq handed out twice"
    );
    for e in &entries {
        if let Some(told) = by_seq.get(&e.seq) {
            assert_eq!(*told, e, "{b:?}: seq {}", e.seq);
        }
    }
    // Each task's entries in the order it appended them, whichever way each went.
    let mut last: HashMap<&str, (usize, usize)> = HashMap::new();
    for e in &entries {
        let detail = e.detail.as_deref().unwrap();
        let (_, kj) = detail.split_once("_k").unwrap();
        let (k, j) = kj.split_once("_j").unwrap();
        let at = (k.parse::<usize>().unwrap(), j.parse::<usize>().unwrap());
        if let Some(before) = last.insert(&e.actor, at) {
            assert!(before < at, "{b:?}: {} after {before:?}", detail);
        }
    }
    // Each store sees the same head.
    let head = stores[0].audit_head().await.unwrap();
    for s in &stores {
        assert_eq!(s.audit_head().await.unwrap(), head, "{b:?}");
    }
    assert_eq!(head.size, expected as u64, "{b:?}");
    assert_eq!(final_cp.tree_size, expected as u64, "{b:?}");

    let cps = stores[0].checkpoints().await.unwrap();
    assert!(cps.len() >= made.min(2), "{b:?}");
    let report = verify_log(entries, &cps, &[sg.public_key()]);
    assert!(report.is_ok(), "{b:?}: {report:?}");
    assert_eq!(report.checkpoints_verified, cps.len(), "{b:?}");
    assert_eq!(report.root, head.root, "{b:?}");
    assert_eq!(report.unsigned_tail, 0, "{b:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn c8_1_two_processes_append_concurrently_2x8_tasks() {
    for db in both().await.unwrap() {
        // What two `derbes serve` processes on the same database are.
        let second = derbes_store::open(&db.url, OpenOptions::default())
            .await
            .unwrap();
        hammer(vec![db.store.clone(), second], 8, 50, false).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn c8_1_one_store_16_concurrent_tasks() {
    for db in both().await.unwrap() {
        hammer(vec![db.store.clone()], 16, 50, false).await;
    }
}

/// Deferred appends (the entries of reads; on SQLite written by the appending tasks
/// themselves, several tasks' entries in one transaction) interleaved with durable ones from
/// 16 tasks on 4 threads, and from a second store: every entry once, dense, verifying.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn c8_1_deferred_and_durable_appends_from_16_tasks_land_once_each() {
    for db in both().await.unwrap() {
        hammer(vec![db.store.clone()], 16, 60, true).await;
    }
    for db in both().await.unwrap() {
        let second = derbes_store::open(&db.url, OpenOptions::default())
            .await
            .unwrap();
        hammer(vec![db.store.clone(), second], 8, 40, true).await;
    }
}

// ---------------------------------------------------------------------------------------
// 5. Reads
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn c8_1_audit_for_subject_is_newest_first_and_limited() {
    for db in both().await.unwrap() {
        let s = &*db.store;
        let b = s.backend();
        let e = s.append_audit(&batch(0..120)).await.unwrap();
        let subject = "sp_0003";
        let mine: Vec<&AuditEntry> = e
            .iter()
            .rev()
            .filter(|x| x.subject.as_deref() == Some(subject))
            .collect();
        assert!(mine.len() > 5, "{b:?}");

        let got = s.audit_for_subject(subject, 5).await.unwrap();
        assert_eq!(got.len(), 5, "{b:?}");
        assert_eq!(got.iter().collect::<Vec<_>>(), mine[..5].to_vec(), "{b:?}");
        assert!(got.windows(2).all(|w| w[0].seq > w[1].seq), "{b:?}");

        let got = s.audit_for_subject(subject, 1000).await.unwrap();
        assert_eq!(got.iter().collect::<Vec<_>>(), mine, "{b:?}");
        assert!(
            s.audit_for_subject(subject, 0).await.unwrap().is_empty(),
            "{b:?}"
        );
        assert!(
            s.audit_for_subject("sp_none", 10).await.unwrap().is_empty(),
            "{b:?}"
        );
        // A prefix is not a match.
        assert!(
            s.audit_for_subject("sp_000", 10).await.unwrap().is_empty(),
            "{b:?}"
        );
    }
}

/// 8.1, 7.1a: the entries of reads recorded through the journal (SQLite) are, once the call
/// returned, in every read of the log — its head, its pages, its hashes, a subject's trail —
/// chained in the order they were recorded and verifying.
#[tokio::test]
async fn c8_1_journaled_entries_are_in_every_read_of_the_log_at_once() {
    for db in both().await.unwrap() {
        let s = &*db.store;
        let b = s.backend();
        s.append_audit(&batch(0..3)).await.unwrap();
        for i in 3..40 {
            s.append_audit_journaled(batch(i..i + 1)).await.unwrap();
        }
        assert_eq!(s.audit_head().await.unwrap().size, 40, "{b:?}");
        s.append_audit_journaled(batch(40..45)).await.unwrap();
        let trail = s.audit_for_subject("sp_0003", 100).await.unwrap();
        let want: Vec<u64> = (0..45)
            .rev()
            .filter(|i| fields(*i).subject.as_deref() == Some("sp_0003"))
            .collect();
        assert_eq!(
            trail.iter().map(|e| e.seq).collect::<Vec<_>>(),
            want,
            "{b:?}"
        );
        s.append_audit_journaled(batch(45..50)).await.unwrap();
        assert_eq!(s.audit_entry_hashes(50).await.unwrap().len(), 50, "{b:?}");
        s.append_audit_journaled(batch(50..52)).await.unwrap();
        let all = all_entries(s).await;
        assert_eq!(
            all.iter().map(|e| e.fields()).collect::<Vec<_>>(),
            batch(0..52)
                .into_iter()
                .map(|mut f| {
                    f.categories.sort();
                    f.categories.dedup();
                    f
                })
                .collect::<Vec<_>>(),
            "{b:?}"
        );
        // An invalid entry is refused at once, and nothing of its append is recorded.
        let mut bad = batch(52..54);
        bad[1].actor = String::new();
        assert!(s.append_audit_journaled(bad).await.is_err(), "{b:?}");
        s.flush_audit().await.unwrap();
        assert_eq!(s.audit_head().await.unwrap().size, 52, "{b:?}");
        let report = verify(s, &[], &signer().public_key()).await;
        assert!(report.problem.is_none(), "{b:?}: {report:?}");
    }
}

#[tokio::test]
async fn c7_1a_audit_for_subject_pages_backwards_without_gaps_or_repeats() {
    for db in both().await.unwrap() {
        let s = &*db.store;
        let b = s.backend();
        let e = s.append_audit(&batch(0..200)).await.unwrap();
        let subject = "sp_0003";
        let mine: Vec<AuditEntry> = e
            .iter()
            .rev()
            .filter(|x| x.subject.as_deref() == Some(subject))
            .cloned()
            .collect();
        assert!(mine.len() > 7, "{b:?}");
        let mut paged = s.audit_for_subject(subject, 3).await.unwrap();
        while let Some(last) = paged.last().map(|x| x.seq) {
            let page = s.audit_for_subject_before(subject, last, 3).await.unwrap();
            if page.is_empty() {
                break;
            }
            assert!(page.len() <= 3, "{b:?}");
            assert!(page.iter().all(|x| x.seq < last), "{b:?}");
            paged.extend(page);
        }
        assert_eq!(paged, mine, "{b:?}");
        assert!(
            s.audit_for_subject_before(subject, 0, 10)
                .await
                .unwrap()
                .is_empty(),
            "{b:?}"
        );
        assert!(
            s.audit_for_subject_before(subject, u64::MAX, 0)
                .await
                .unwrap()
                .is_empty(),
            "{b:?}"
        );
    }
}

/// Deferred appends (the entries of reads, 8.1) chain exactly like durable ones, interleaved
/// with them and with flushes, and on SQLite leave the writer connection at
/// `synchronous=FULL` for every other write.
#[tokio::test]
async fn c8_1_deferred_appends_chain_with_durable_ones_and_restore_full_sync() {
    for db in both().await.unwrap() {
        let s = &*db.store;
        let b = s.backend();
        let key = signer().public_key();
        let mut next = 0u64;
        let mut all = Vec::new();
        for (i, n) in [1u64, 5, 2, 30, 1, 7].into_iter().enumerate() {
            let fields = batch(next..next + n);
            let out = if i % 2 == 0 {
                s.append_audit_deferred(fields).await.unwrap()
            } else {
                s.append_audit(&fields).await.unwrap()
            };
            assert_eq!(out.len() as u64, n, "{b:?}");
            assert_eq!(out.first().map(|x| x.seq), Some(next), "{b:?}");
            all.extend(out);
            next += n;
            if i == 2 {
                s.flush_audit().await.unwrap();
            }
        }
        assert!(
            s.append_audit_deferred(Vec::new())
                .await
                .unwrap()
                .is_empty(),
            "{b:?}"
        );
        s.flush_audit().await.unwrap();
        assert_eq!(s.audit_head().await.unwrap().size, next, "{b:?}");
        assert_eq!(all_entries(s).await, all, "{b:?}");
        assert!(verify(s, &[], &key).await.is_ok(), "{b:?}");
    }
}

/// SQLite: deferred appends (committed at `synchronous=NORMAL` by the audit writer thread's
/// own connection) never leave the store's sqlx writer, which every other write uses, below
/// `FULL`; a failed append leaves no entry behind and the next appends chain on.
#[tokio::test]
async fn c8_1_sqlite_writer_is_full_sync_again_after_a_deferred_append() {
    let dir = tempfile::tempdir().unwrap();
    let s = sqlite_in(dir.path()).await;
    let sync = |s: &derbes_store::SqliteStore| {
        let pool = s.pool().clone();
        async move {
            sqlx::query_scalar::<_, i64>("PRAGMA synchronous")
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    assert_eq!(sync(&s).await, 2);
    s.append_audit_deferred(batch(0..3)).await.unwrap();
    assert_eq!(sync(&s).await, 2, "back at FULL after a deferred append");
    s.append_audit(&batch(3..4)).await.unwrap();
    s.flush_audit().await.unwrap();
    assert_eq!(sync(&s).await, 2);
    assert_eq!(s.audit_head().await.unwrap().size, 4);
    // An append that fails after its BEGIN (an invalid entry) leaves nothing behind: no open
    // transaction, no NORMAL sync, no entry; the next appends chain on.
    let mut bad = batch(4..6);
    bad[1].actor = String::new();
    assert!(s.append_audit_deferred(bad.clone()).await.is_err());
    assert!(s.append_audit(&bad).await.is_err());
    assert_eq!(s.audit_head().await.unwrap().size, 4);
    assert_eq!(sync(&s).await, 2);
    s.append_audit_deferred(batch(4..6)).await.unwrap();
    s.append_audit(&batch(6..7)).await.unwrap();
    assert_eq!(s.audit_head().await.unwrap().size, 7);
    assert_eq!(sync(&s).await, 2);
    let all = s.audit_entries(0, 100).await.unwrap();
    let report = verify_log(all, &[], &[signer().public_key()]);
    assert!(report.is_ok(), "{report:?}");
}

#[tokio::test]
async fn c8_1_entry_hashes_and_pages_are_exact() {
    for db in both().await.unwrap() {
        let s = &*db.store;
        let b = s.backend();
        let e = s.append_audit(&batch(0..120)).await.unwrap();
        let hashes: Vec<[u8; 32]> = e.iter().map(|x| x.hash).collect();
        for n in [0u64, 1, 2, 37, 64, 119, 120] {
            let got = s.audit_entry_hashes(n).await.unwrap();
            assert_eq!(got.len() as u64, n, "{b:?}");
            assert_eq!(got, hashes[..n as usize], "{b:?}: first {n}");
        }
        assert_eq!(s.audit_entry_hashes(500).await.unwrap(), hashes, "{b:?}");

        // Pages of audit_entries.
        let page = s.audit_entries(10, 5).await.unwrap();
        assert_eq!(page, e[10..15].to_vec(), "{b:?}");
        assert_eq!(
            s.audit_entries(118, 10).await.unwrap(),
            e[118..].to_vec(),
            "{b:?}"
        );
        assert!(s.audit_entries(120, 10).await.unwrap().is_empty(), "{b:?}");
        assert!(s.audit_entries(0, 0).await.unwrap().is_empty(), "{b:?}");
        let mut paged = Vec::new();
        let mut from = 0;
        loop {
            let p = s.audit_entries(from, 33).await.unwrap();
            if p.is_empty() {
                break;
            }
            from = p[p.len() - 1].seq + 1;
            paged.extend(p);
        }
        assert_eq!(paged, e, "{b:?}");
    }
}

/// `limit`/`upto` are `u64`; "everything" (`u64::MAX`) is a natural argument and must not be
/// an error.
#[tokio::test]
async fn c8_1_audit_reads_accept_an_unbounded_limit() {
    let mut failures = Vec::new();
    for db in both().await.unwrap() {
        let s = &*db.store;
        let b = s.backend();
        let e = s.append_audit(&batch(0..10)).await.unwrap();
        match s.audit_entries(0, u64::MAX).await {
            Ok(all) => assert_eq!(all, e, "{b:?}"),
            Err(err) => failures.push(format!("{b:?}: audit_entries(0, u64::MAX): {err}")),
        }
        let hashes: Vec<[u8; 32]> = e.iter().map(|x| x.hash).collect();
        match s.audit_entry_hashes(u64::MAX).await {
            Ok(h) => assert_eq!(h, hashes, "{b:?}"),
            Err(err) => failures.push(format!("{b:?}: audit_entry_hashes(u64::MAX): {err}")),
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// A SQLite store in `dir` (created and migrated).
async fn sqlite_in(dir: &std::path::Path) -> derbes_store::SqliteStore {
    let url = format!("sqlite://{}", dir.join("d.db").display());
    let s = derbes_store::SqliteStore::open(
        &url,
        OpenOptions {
            create_if_missing: true,
        },
    )
    .await
    .unwrap();
    s.migrate().await.unwrap();
    s
}

/// 8.1 on SQLite: a flush (what makes the deferred entries of reads durable within 50 ms)
/// fsyncs the audit file's WAL and commits nothing, so it never needs the log's write lock:
/// it succeeds while another connection holds that lock, and leaves the WAL's bytes as they
/// were. (A flush that was an empty durable commit waited for the lock, and every read with
/// it.)
#[tokio::test]
async fn c8_1_sqlite_flush_syncs_the_wal_without_a_commit() {
    let dir = tempfile::tempdir().unwrap();
    let s = sqlite_in(dir.path()).await;
    let out = s.append_audit_deferred(batch(0..5)).await.unwrap();
    assert_eq!(out.len(), 5);
    let wal = {
        let mut p = s.audit_path().as_os_str().to_owned();
        p.push("-wal");
        std::path::PathBuf::from(p)
    };
    let before = std::fs::read(&wal).unwrap();
    assert!(!before.is_empty(), "the deferred commit is in the WAL file");

    // Another connection takes the audit file's write lock and keeps it.
    let other = hold_write_lock(s.audit_path()).await;
    // The store's busy timeout is 10 s: a flush that needed the lock would still be waiting.
    tokio::time::timeout(std::time::Duration::from_secs(5), s.flush_audit())
        .await
        .expect("the flush does not wait for the log's write lock")
        .unwrap();
    assert_eq!(
        std::fs::read(&wal).unwrap(),
        before,
        "a flush writes no frame"
    );
    let_go(other).await;

    s.flush_audit().await.unwrap();
    assert_eq!(s.audit_head().await.unwrap().size, 5);
    assert_eq!(all_entries(&s).await, out);
}

/// A plain connection to the SQLite file at `path` (the tests' way to doctor a file).
async fn connect_file(path: &std::path::Path) -> sqlx::SqliteConnection {
    sqlx::sqlite::SqliteConnectOptions::new()
        .filename(path)
        .connect()
        .await
        .unwrap()
}

/// A connection of its own to the SQLite file at `path`, holding its write lock.
async fn hold_write_lock(path: &std::path::Path) -> sqlx::SqliteConnection {
    let mut conn = connect_file(path).await;
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut conn)
        .await
        .unwrap();
    conn
}

/// Let go of a lock taken by [`hold_write_lock`] and close the connection.
async fn let_go(mut conn: sqlx::SqliteConnection) {
    sqlx::query("ROLLBACK").execute(&mut conn).await.unwrap();
    conn.close().await.unwrap();
}

/// A raw pool on a SQLite file, with the store's audit file attached as `audit` and its
/// subject index's file as `audit_index`.
async fn raw_sqlite(s: &derbes_store::SqliteStore) -> sqlx::SqlitePool {
    let audit = s.audit_path().display().to_string();
    let index = derbes_store::audit_index_file_of(s.audit_path())
        .display()
        .to_string();
    sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(1)
        .after_connect(move |conn, _| {
            let (audit, index) = (audit.clone(), index.clone());
            Box::pin(async move {
                sqlx::query("ATTACH DATABASE $1 AS audit")
                    .bind(audit)
                    .execute(&mut *conn)
                    .await?;
                sqlx::query("ATTACH DATABASE $1 AS audit_index")
                    .bind(index)
                    .execute(&mut *conn)
                    .await
                    .map(|_| ())
            })
        })
        .connect_with(s.pool().connect_options().as_ref().clone())
        .await
        .unwrap()
}

async fn count(pool: &sqlx::SqlitePool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

/// 8.1 on SQLite: the log lives in its own file (`d.audit.db`), so its commits do not touch
/// the subjects' file; the main file holds no log table after migration, and the readers see
/// the log under its plain names.
#[tokio::test]
async fn c8_1_sqlite_log_is_in_its_own_file_and_not_in_the_main_one() {
    let dir = tempfile::tempdir().unwrap();
    let s = sqlite_in(dir.path()).await;
    assert_eq!(s.audit_path(), dir.path().join("d.audit.db"));
    s.append_audit(&batch(0..5)).await.unwrap();
    checkpoint(&s, &signer()).await;
    let raw = raw_sqlite(&s).await;
    assert_eq!(
        count(
            &raw,
            "SELECT count(*) FROM main.sqlite_master WHERE name LIKE 'audit_%' AND name != 'audit_pending'"
        )
        .await,
        0
    );
    assert_eq!(
        count(&raw, "SELECT count(*) FROM audit.audit_entries").await,
        5
    );
    assert_eq!(
        count(&raw, "SELECT count(*) FROM audit.audit_checkpoints").await,
        1
    );
    assert_eq!(count(&raw, "SELECT size FROM audit.audit_head").await, 5);
    let report = verify(&s, &[], &signer().public_key()).await;
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(report.checkpoints_verified, 1);
    raw.close().await;
}

/// 8.1 on SQLite: entries a write staged in its own transaction (`audit_pending`) but that
/// never reached the audit file — a crash between the two commits — are appended when the
/// store is next migrated, exactly once, and the pending rows are then removed; entries
/// already appended are recognised and not appended again.
#[tokio::test]
async fn c8_1_sqlite_entries_staged_before_a_crash_are_appended_once_on_restart() {
    let dir = tempfile::tempdir().unwrap();
    let s = sqlite_in(dir.path()).await;
    s.append_audit(&batch(0..3)).await.unwrap();
    let raw = raw_sqlite(&s).await;
    // One staging whose append happened (left for the next staging to delete) and one lost.
    let appended = batch(3..5);
    s.append_audit(&appended).await.unwrap();
    let lost = batch(5..9);
    for staged in [&appended, &lost] {
        let mut blob = vec![0x01u8];
        blob.extend(postcard::to_allocvec(staged).unwrap());
        sqlx::query("INSERT INTO main.audit_pending (fields) VALUES ($1)")
            .bind(blob)
            .execute(&raw)
            .await
            .unwrap();
    }
    assert_eq!(s.audit_head().await.unwrap().size, 5);
    // "Restart": another store on the same files, migrated as `derbes serve` does.
    let url = format!("sqlite://{}", dir.path().join("d.db").display());
    for _ in 0..2 {
        let again = derbes_store::SqliteStore::open(&url, OpenOptions::default())
            .await
            .unwrap();
        again.migrate().await.unwrap();
        let all = all_entries(&again).await;
        assert_eq!(
            all.len(),
            9,
            "the lost staging appended once, the other not again"
        );
        let got: Vec<AuditFields> = all[5..].iter().map(|e| e.fields()).collect();
        let want: Vec<AuditFields> = lost.iter().map(normalised).collect();
        assert_eq!(got, want);
        assert_eq!(
            count(&raw, "SELECT count(*) FROM main.audit_pending").await,
            0
        );
        let report = verify(&again, &[], &signer().public_key()).await;
        assert!(report.is_ok(), "{report:?}");
    }
    raw.close().await;
}

/// The fields as the log stores them (categories sorted and de-duplicated).
fn normalised(f: &AuditFields) -> AuditFields {
    let mut f = f.clone();
    f.categories.sort();
    f.categories.dedup();
    f
}

/// 8.1 on SQLite, upgrade: a log an earlier version kept in the main file (its `audit_*`
/// tables) is moved into the audit file on migration — entries, head and checkpoints, the
/// chain still verifying — and the main file's tables are dropped. When both files hold
/// different logs, migration refuses rather than choose one.
#[tokio::test]
async fn c8_1_sqlite_upgrade_moves_a_log_from_the_main_file_into_the_audit_file() {
    let dir = tempfile::tempdir().unwrap();
    let s = sqlite_in(dir.path()).await;
    seed(&s, &signer()).await;
    let before = all_entries(&s).await;
    let raw = raw_sqlite(&s).await;
    // The earlier layout: the log's tables in the main file, the audit file empty.
    sqlx::raw_sql(include_str!("../migrations/sqlite/0002_audit.sql"))
        .execute(&raw)
        .await
        .unwrap();
    sqlx::raw_sql(
        "DELETE FROM main.audit_head;
         INSERT INTO main.audit_entries SELECT * FROM audit.audit_entries;
         INSERT INTO main.audit_head SELECT * FROM audit.audit_head;
         INSERT INTO main.audit_checkpoints SELECT * FROM audit.audit_checkpoints;
         DELETE FROM audit.audit_entries;
         DELETE FROM audit.audit_checkpoints;
         UPDATE audit.audit_head SET size = 0, last_hash = zeroblob(32), frontier = X'';",
    )
    .execute(&raw)
    .await
    .unwrap();
    s.migrate().await.unwrap();
    assert_eq!(all_entries(&s).await, before);
    let report = verify(&s, &[], &signer().public_key()).await;
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(report.checkpoints_verified, 2);
    assert_eq!(
        count(
            &raw,
            "SELECT count(*) FROM main.sqlite_master WHERE name = 'audit_entries'"
        )
        .await,
        0
    );
    assert_eq!(
        count(&raw, "SELECT count(*) FROM audit.audit_entries").await,
        250
    );

    // Two different logs: the main file's copy is one entry short of the audit file's.
    sqlx::raw_sql(include_str!("../migrations/sqlite/0002_audit.sql"))
        .execute(&raw)
        .await
        .unwrap();
    sqlx::raw_sql(
        "DELETE FROM main.audit_head;
         INSERT INTO main.audit_entries SELECT * FROM audit.audit_entries WHERE seq < 249;
         INSERT INTO main.audit_head (id, size, last_hash, frontier)
             SELECT 1, 249, hash, X'' FROM audit.audit_entries WHERE seq = 248;",
    )
    .execute(&raw)
    .await
    .unwrap();
    match s.migrate().await {
        Err(StoreError::Audit(msg)) => assert!(msg.contains("different audit logs"), "{msg}"),
        other => panic!("two logs were not refused: {other:?}"),
    }
    raw.close().await;
}

/// The entries of `subject` among `entries`, newest first.
fn newest_first_of(entries: &[AuditEntry], subject: &str) -> Vec<AuditEntry> {
    entries
        .iter()
        .rev()
        .filter(|x| x.subject.as_deref() == Some(subject))
        .cloned()
        .collect()
}

/// Page through `subject`'s entries `page` at a time, newest first.
async fn paged(s: &dyn Store, subject: &str, page: i64) -> Vec<AuditEntry> {
    let mut out = s.audit_for_subject(subject, page).await.unwrap();
    while let Some(last) = out.last().map(|x| x.seq) {
        let next = s
            .audit_for_subject_before(subject, last, page)
            .await
            .unwrap();
        if next.is_empty() {
            break;
        }
        out.extend(next);
    }
    out
}

/// 7.1a, 8.1: a subject's entries are found, newest first and paged without gaps, whether
/// the SQLite writer's upkeep has put them in the subject index yet (every 4,096 entries)
/// or they are still among the newest, unindexed ones; and after a reopen, which indexes
/// the rest. With the index's epochs as built (65,536 entries, so one epoch here) and with
/// epochs of 64 entries (a trail then spans some eighty of them, and its pages start and
/// end inside epochs).
#[tokio::test]
async fn c7_1a_subject_entries_are_found_in_and_beyond_the_subject_index() {
    for bits in [None, Some(6)] {
        subject_entries_in_and_beyond_the_index(bits).await;
    }
}

async fn subject_entries_in_and_beyond_the_index(epoch_bits: Option<i64>) {
    let dir = tempfile::tempdir().unwrap();
    let s = sqlite_in(dir.path()).await;
    if let Some(bits) = epoch_bits {
        // Set while the index is empty, as a new index file is made.
        let raw = raw_sqlite(&s).await;
        sqlx::query("UPDATE audit_index.audit_indexed SET epoch_bits = $1")
            .bind(bits)
            .execute(&raw)
            .await
            .unwrap();
        raw.close().await;
    }
    let mut all = Vec::new();
    for start in (0..5_000u64).step_by(250) {
        all.extend(
            s.append_audit_deferred(batch(start..start + 250))
                .await
                .unwrap(),
        );
    }
    let raw = raw_sqlite(&s).await;
    // The upkeep runs on the writer's thread after the 4,096th entry.
    let mut upto = 0;
    for _ in 0..200 {
        upto = count(&raw, "SELECT upto FROM audit_index.audit_indexed").await;
        if upto > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    // The index run asked for at the 4,096th entry may start only after the last of the 5,000
    // (the thread is scheduled late on a busy machine); the next is not due before 8,192, so
    // these 250 stay beyond the index either way.
    all.extend(s.append_audit_deferred(batch(5_000..5_250)).await.unwrap());
    assert!((4_096..=5_000).contains(&upto), "indexed up to {upto}");
    let subjects = count(
        &raw,
        "SELECT count(*) FROM audit.audit_entries WHERE subject IS NOT NULL AND seq < \
         (SELECT upto FROM audit_index.audit_indexed)",
    )
    .await;
    assert_eq!(
        count(&raw, "SELECT count(*) FROM audit_index.audit_subjects").await,
        subjects
    );
    // Each row in its entry's epoch.
    let bits = epoch_bits.unwrap_or(16);
    assert_eq!(
        count(
            &raw,
            &format!("SELECT count(*) FROM audit_index.audit_subjects WHERE epoch = seq >> {bits}")
        )
        .await,
        subjects
    );
    assert_eq!(
        count(
            &raw,
            "SELECT count(DISTINCT epoch) FROM audit_index.audit_subjects"
        )
        .await,
        (upto + (1 << bits) - 1) >> bits
    );
    // Queries by subject: indexed and unindexed entries alike.
    for subject in ["sp_0003", "sp_000a"] {
        let mine = newest_first_of(&all, subject);
        assert!(mine.len() > 300);
        assert!(mine.iter().any(|e| e.seq >= upto as u64));
        assert!(mine.iter().any(|e| e.seq < upto as u64));
        assert_eq!(s.audit_for_subject(subject, 100_000).await.unwrap(), mine);
        assert_eq!(s.audit_for_subject(subject, 5).await.unwrap(), mine[..5]);
        assert_eq!(paged(&s, subject, 37).await, mine);
        // A page that starts inside the unindexed entries and ends inside the indexed ones.
        let before = upto as u64 + 20;
        let expected: Vec<AuditEntry> = mine
            .iter()
            .filter(|e| e.seq < before)
            .take(30)
            .cloned()
            .collect();
        assert_eq!(
            s.audit_for_subject_before(subject, before, 30)
                .await
                .unwrap(),
            expected
        );
    }
    raw.close().await;
    drop(s);
    // Opening the file indexes whatever is left.
    let s = sqlite_in(dir.path()).await;
    let raw = raw_sqlite(&s).await;
    assert_eq!(
        count(&raw, "SELECT upto FROM audit_index.audit_indexed").await,
        5_250
    );
    assert_eq!(
        paged(&s, "sp_0003", 100).await,
        newest_first_of(&all, "sp_0003")
    );
    raw.close().await;
}

/// An audit file of an older layout — the subject index inside it (sessions 8–11), or an
/// index on `audit_entries` (before) — and no index file: on opening, the old index is dropped
/// from the audit file and the index file is built from the log; nothing else changes.
#[tokio::test]
async fn c8_1_sqlite_audit_file_of_an_older_layout_gets_its_index_file_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let s = sqlite_in(dir.path()).await;
    seed(&s, &signer()).await;
    let all = all_entries(&s).await;
    let audit_path = s.audit_path().to_path_buf();
    let index_path = derbes_store::audit_index_file_of(&audit_path);
    drop(s);
    let mut old = connect_file(&audit_path).await;
    sqlx::raw_sql(
        "CREATE TABLE audit_subjects (subject TEXT NOT NULL, seq INTEGER NOT NULL, \
           PRIMARY KEY (subject, seq)) WITHOUT ROWID;
         CREATE TABLE audit_indexed (id INTEGER PRIMARY KEY CHECK (id = 1), upto INTEGER NOT NULL);
         INSERT INTO audit_indexed (id, upto) VALUES (1, 0);
         CREATE INDEX audit_entries_subject ON audit_entries (subject, seq);",
    )
    .execute(&mut old)
    .await
    .unwrap();
    old.close().await.unwrap();
    for suffix in ["", "-wal", "-shm"] {
        let mut p = index_path.as_os_str().to_owned();
        p.push(suffix);
        let _ = std::fs::remove_file(p);
    }
    let s = sqlite_in(dir.path()).await;
    let raw = raw_sqlite(&s).await;
    assert_eq!(
        count(
            &raw,
            "SELECT count(*) FROM audit.sqlite_master \
             WHERE name IN ('audit_entries_subject', 'audit_subjects', 'audit_indexed')"
        )
        .await,
        0,
        "the old index is gone from the audit file"
    );
    assert_eq!(
        count(&raw, "SELECT upto FROM audit_index.audit_indexed").await,
        all.len() as i64
    );
    assert_eq!(
        count(&raw, "SELECT count(*) FROM audit_index.audit_subjects").await,
        all.iter().filter(|e| e.subject.is_some()).count() as i64
    );
    assert_eq!(all_entries(&s).await, all);
    assert_eq!(
        s.audit_for_subject("sp_0003", 1_000).await.unwrap(),
        newest_first_of(&all, "sp_0003")
    );
    let report = verify(&s, &[], &signer().public_key()).await;
    assert!(report.is_ok(), "{report:?}");
    raw.close().await;
}

/// 8.1: an index file of the layout before epochs (key `(subject, seq)`, sessions 12–22),
/// though up to date with the log, is dropped and filled anew in the epoch layout on
/// opening; queries by subject find every entry.
#[tokio::test]
async fn c8_1_sqlite_an_index_file_without_epochs_is_rebuilt_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let s = sqlite_in(dir.path()).await;
    let all = s.append_audit(&batch(0..300)).await.unwrap();
    let index_path = derbes_store::audit_index_file_of(s.audit_path());
    drop(s);
    let last = all.last().unwrap();
    let mut index = connect_file(&index_path).await;
    sqlx::raw_sql(
        "DROP TABLE audit_subjects; DROP TABLE audit_indexed;
         CREATE TABLE audit_subjects (subject TEXT NOT NULL, seq INTEGER NOT NULL, \
           PRIMARY KEY (subject, seq)) WITHOUT ROWID;
         CREATE TABLE audit_indexed (id INTEGER PRIMARY KEY CHECK (id = 1), \
           upto INTEGER NOT NULL, last_hash BLOB);",
    )
    .execute(&mut index)
    .await
    .unwrap();
    sqlx::query("INSERT INTO audit_indexed (id, upto, last_hash) VALUES (1, 300, $1)")
        .bind(last.hash.to_vec())
        .execute(&mut index)
        .await
        .unwrap();
    for e in all.iter().filter(|e| e.subject.is_some()) {
        sqlx::query("INSERT INTO audit_subjects (subject, seq) VALUES ($1, $2)")
            .bind(e.subject.as_deref())
            .bind(e.seq as i64)
            .execute(&mut index)
            .await
            .unwrap();
    }
    index.close().await.unwrap();
    let s = sqlite_in(dir.path()).await;
    let raw = raw_sqlite(&s).await;
    assert_eq!(
        count(&raw, "SELECT upto FROM audit_index.audit_indexed").await,
        300
    );
    assert_eq!(
        count(
            &raw,
            "SELECT count(*) FROM audit_index.audit_subjects WHERE epoch = seq >> 16"
        )
        .await,
        all.iter().filter(|e| e.subject.is_some()).count() as i64
    );
    assert_eq!(
        s.audit_for_subject("sp_0003", 1_000).await.unwrap(),
        newest_first_of(&all, "sp_0003")
    );
    raw.close().await;
}

/// The subject index is derived data: an index file that is not this log's — its last
/// indexed entry's hash differs (another log's index, a doctored row), or it claims more
/// entries than the log has (the log restored from an older backup) — is emptied and built
/// anew from the log on opening, so a query by subject never returns another subject's
/// entries.
#[tokio::test]
async fn c8_1_sqlite_a_stale_or_foreign_index_file_is_rebuilt_from_the_log() {
    for doctor in [
        "UPDATE audit_indexed SET last_hash = zeroblob(32)",
        "UPDATE audit_indexed SET upto = upto + 1000000",
    ] {
        let dir = tempfile::tempdir().unwrap();
        let s = sqlite_in(dir.path()).await;
        let all = s.append_audit(&batch(0..300)).await.unwrap();
        drop(s);
        // Reopening indexes the whole log.
        let s = sqlite_in(dir.path()).await;
        let raw = raw_sqlite(&s).await;
        assert_eq!(
            count(&raw, "SELECT upto FROM audit_index.audit_indexed").await,
            300
        );
        raw.close().await;
        let index_path = derbes_store::audit_index_file_of(s.audit_path());
        drop(s);
        // A row pointing sp_0003 at an entry of another subject, and the doctoring.
        let foreign = all
            .iter()
            .find(|e| e.subject.as_deref() != Some("sp_0003"))
            .unwrap();
        let mut index = connect_file(&index_path).await;
        sqlx::query(
            "INSERT INTO audit_subjects (epoch, subject, seq) \
             VALUES ($1 >> (SELECT epoch_bits FROM audit_indexed), 'sp_0003', $1)",
        )
        .bind(foreign.seq as i64)
        .execute(&mut index)
        .await
        .unwrap();
        sqlx::raw_sql(doctor).execute(&mut index).await.unwrap();
        index.close().await.unwrap();
        let s = sqlite_in(dir.path()).await;
        assert_eq!(
            s.audit_for_subject("sp_0003", 1_000).await.unwrap(),
            newest_first_of(&all, "sp_0003"),
            "{doctor}"
        );
        let raw = raw_sqlite(&s).await;
        assert_eq!(
            count(&raw, "SELECT upto FROM audit_index.audit_indexed").await,
            300,
            "{doctor}"
        );
        raw.close().await;
    }
}

/// Filling the subject index takes no lock an append needs: with another connection holding
/// the index file's write lock, 5,000 appends — past the upkeep after the 4,096th — all
/// commit, well inside the 10 s the indexer waits for that lock; once it is let go, the
/// index catches up. (With the index in the log's own file, each upkeep held the log's write
/// lock for 7–10 ms and every append meanwhile waited.)
#[tokio::test]
async fn c8_1_sqlite_appends_do_not_wait_for_the_subject_index() {
    let dir = tempfile::tempdir().unwrap();
    let s = sqlite_in(dir.path()).await;
    let index = hold_write_lock(&derbes_store::audit_index_file_of(s.audit_path())).await;
    let appends = async {
        for start in (0..5_000u64).step_by(250) {
            s.append_audit_deferred(batch(start..start + 250))
                .await
                .unwrap();
        }
        s.append_audit(&batch(5_000..5_001)).await.unwrap();
    };
    tokio::time::timeout(std::time::Duration::from_secs(8), appends)
        .await
        .expect("appends do not wait for the indexer");
    let_go(index).await;
    assert_eq!(s.audit_head().await.unwrap().size, 5_001);
    let raw = raw_sqlite(&s).await;
    let mut upto = 0;
    for _ in 0..400 {
        upto = count(&raw, "SELECT upto FROM audit_index.audit_indexed").await;
        if upto >= 4_096 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(upto >= 4_096, "indexed up to {upto}");
    raw.close().await;
}

/// Deferred appends from many tasks on several workers at once, some of them empty (the
/// entries of concurrent reads, 8.1): every one is written and answered within 30 s, none is
/// left waiting in the queue. (The one interleaving known to have stranded a job, a release
/// of the writing connection without a look at the queue, is too narrow to hit here on
/// purpose; `sqlite_audit`'s unit test
/// `c8_1_a_job_queued_while_an_empty_lead_holds_the_connection_is_written` forces it.)
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn c8_1_no_deferred_append_is_left_waiting_under_contention() {
    const TASKS: u64 = 48;
    const APPENDS: u64 = 150;
    for db in both().await.unwrap() {
        let b = db.store.backend();
        let mut handles = Vec::new();
        for t in 0..TASKS {
            let s = db.store.clone();
            handles.push(tokio::spawn(async move {
                for k in 0..APPENDS {
                    let f = AuditFields {
                        detail: Some(format!("t{t}_k{k}")),
                        ..fields(t * APPENDS + k)
                    };
                    let out = tokio::time::timeout(
                        std::time::Duration::from_secs(30),
                        s.append_audit_deferred(vec![f]),
                    )
                    .await
                    .expect("a deferred append was left waiting")
                    .unwrap();
                    assert_eq!(out.len(), 1);
                    if k % 8 == t % 8 {
                        // Empty leads: callers that find nothing to write.
                        s.append_audit_deferred(Vec::new()).await.unwrap();
                    }
                }
            }));
        }
        for h in handles {
            h.await.unwrap();
        }
        let entries = all_entries(&*db.store).await;
        assert_eq!(entries.len() as u64, TASKS * APPENDS, "{b:?}");
    }
}
