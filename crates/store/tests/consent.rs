//! The consent store contract on SQLite and PostgreSQL: immutable policy versions enforced
//! by the database itself, the version in force by time, the append-only ledger, and the
//! purge of an open application (PRE-1, 6.2, 9.2).

use derbes_store::consent::{ApplicationRecord, ConsentEventRecord, PolicyVersionRecord};
use derbes_store::testing::both;
use derbes_store::{
    BlindIndexRecord, NewSubject, PgStore, SqliteStore, Store, StoreError, SubjectRecord,
    ValueRecord, INDEX_HASH_LEN,
};

fn version(published_at: i64, effective_at: i64) -> PolicyVersionRecord {
    PolicyVersionRecord {
        number: 0,
        published_at,
        effective_at,
        significant: false,
        operator_name: "MFO".into(),
        operator_bin: "123456789012".into(),
        text_ru: "текст".into(),
        text_kk: "мәтін".into(),
        text_en: None,
        content_hash: vec![7; 32],
        published_by: "system:test".into(),
    }
}

fn subject(n: u8) -> NewSubject {
    subject_with_iin_hash(n, n)
}

fn subject_with_iin_hash(n: u8, iin_hash: u8) -> NewSubject {
    let mut id = [0u8; 16];
    id[0] = 2;
    id[15] = n;
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
        &[ValueRecord {
            subject_id: id,
            category: "iin".into(),
            seq: 1,
            ciphertext: vec![n; 40],
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
        }],
        vec![BlindIndexRecord {
            category: "iin".into(),
            hash: vec![iin_hash; INDEX_HASH_LEN],
            unique: true,
        }],
    )
}

fn consent(s: &NewSubject, scope: &str, decision: &str, version: i64) -> ConsentEventRecord {
    ConsentEventRecord {
        id: format!("c-{scope}-{decision}-{}", s.subject.id[15]),
        subject_id: s.subject.id,
        scope: scope.into(),
        decision: decision.into(),
        at: 20,
        policy_version: version,
        lang: "kk".into(),
        channel: "web_form".into(),
        evidence: Some(vec![1, 2, 3]),
        dek_version: 1,
        valid_until: None,
        operator_name: "MFO".into(),
        operator_bin: "123456789012".into(),
        third_party: true,
        cross_border: false,
        publication: false,
        categories: "iin".into(),
        recorded_by: "api_key:test".into(),
        request_id: None,
    }
}

/// Run raw SQL on the database behind a fresh store (tamper tests).
async fn raw(url: &str, store: &dyn Store, sql: &str) -> Result<u64, sqlx::Error> {
    match store.backend() {
        derbes_store::Backend::Sqlite => {
            let s = SqliteStore::open(url, Default::default()).await.unwrap();
            sqlx::query(sql)
                .execute(s.pool())
                .await
                .map(|r| r.rows_affected())
        }
        derbes_store::Backend::Postgres => {
            let s = PgStore::open(url).await.unwrap();
            sqlx::query(sql)
                .execute(s.pool())
                .await
                .map(|r| r.rows_affected())
        }
    }
}

#[tokio::test]
async fn c9_2_policy_versions_numbered_and_immutable_in_the_database() {
    for db in both().await.unwrap() {
        let s = db.store.as_ref();
        let name = s.backend().as_str();
        assert_eq!(
            s.insert_policy_version(&version(100, 100)).await.unwrap(),
            1
        );
        assert_eq!(
            s.insert_policy_version(&version(200, 500)).await.unwrap(),
            2
        );
        // The database itself refuses to change or remove a published version.
        for sql in [
            "UPDATE policy_versions SET text_ru = 'changed' WHERE number = 1",
            "UPDATE policy_versions SET significant = 1 WHERE number = 2",
            "DELETE FROM policy_versions WHERE number = 1",
        ] {
            assert!(
                raw(&db.url, s, sql).await.is_err(),
                "{name}: {sql} succeeded"
            );
        }
        assert_eq!(s.policy_version(1).await.unwrap().unwrap().text_ru, "текст");
        assert_eq!(s.policy_versions().await.unwrap().len(), 2, "{name}");
        // Effective before published is refused by a CHECK.
        assert!(s.insert_policy_version(&version(300, 299)).await.is_err());
        // The version in force by time: version 2 takes effect at 500 (9.2).
        assert!(s.current_policy_version(99).await.unwrap().is_none());
        assert_eq!(
            s.current_policy_version(499).await.unwrap().unwrap().number,
            1
        );
        assert_eq!(
            s.current_policy_version(500).await.unwrap().unwrap().number,
            2
        );
    }
}

#[tokio::test]
async fn c6_2_application_purge_removes_every_row_of_the_subject() {
    for db in both().await.unwrap() {
        let s = db.store.as_ref();
        let name = s.backend().as_str();
        s.insert_policy_version(&version(1, 1)).await.unwrap();
        let a = subject(1);
        let keep = subject(2);
        let app = |sub: &NewSubject, id: &str| ApplicationRecord {
            id: id.into(),
            subject_id: sub.subject.id,
            status: "open".into(),
            created_at: 10,
            expires_at: 1000,
            updated_at: 10,
            created_by: "api_key:test".into(),
        };
        s.insert_application(
            &a,
            &app(&a, "app-1"),
            &[consent(&a, "policy", "granted", 1)],
        )
        .await
        .unwrap();
        s.insert_application(
            &keep,
            &app(&keep, "app-2"),
            &[consent(&keep, "policy", "granted", 1)],
        )
        .await
        .unwrap();
        // A duplicate unique index value makes the whole application fail: nothing stored.
        let dup = subject_with_iin_hash(3, 1);
        let err = s
            .insert_application(
                &dup,
                &app(&dup, "app-3"),
                &[consent(&dup, "policy", "granted", 1)],
            )
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Conflict), "{name}: {err:?}");
        assert!(s.subject(&dup.subject.id).await.unwrap().is_none());
        assert!(s.consent_events(&dup.subject.id).await.unwrap().is_empty());

        assert_eq!(s.expired_applications(999, 10).await.unwrap().len(), 0);
        assert_eq!(s.expired_applications(1000, 10).await.unwrap().len(), 2);
        s.set_application_status("app-2", "open", "submitted", 20)
            .await
            .unwrap();
        assert_eq!(s.purge_application("app-2").await.unwrap(), None, "{name}");
        assert_eq!(
            s.purge_application("app-1").await.unwrap(),
            Some(a.subject.id)
        );
        let hex_id: String = a.subject.id.iter().map(|b| format!("{b:02x}")).collect();
        for table in [
            "subjects",
            "value_history",
            "unique_index",
            "shared_index",
            "consent_events",
            "applications",
        ] {
            let col = if table == "subjects" {
                "id"
            } else {
                "subject_id"
            };
            let sql = match s.backend() {
                derbes_store::Backend::Sqlite => {
                    format!("DELETE FROM {table} WHERE {col} = X'{hex_id}'")
                }
                derbes_store::Backend::Postgres => {
                    format!("DELETE FROM {table} WHERE {col} = '\\x{hex_id}'::bytea")
                }
            };
            // Nothing left to delete: the purge removed every row.
            assert_eq!(raw(&db.url, s, &sql).await.unwrap(), 0, "{name}: {table}");
        }
        assert!(s.subject(&keep.subject.id).await.unwrap().is_some());
        assert_eq!(
            s.subject_language(&keep.subject.id)
                .await
                .unwrap()
                .as_deref(),
            Some("kk")
        );
    }
}
