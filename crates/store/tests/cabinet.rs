//! The cabinet store contract on SQLite and PostgreSQL (7.1b, 7.1a, 5.4;
//! L-RIGHTS-DEADLINES): one-time challenges counted and used once, sessions revoked,
//! requests numbered per year and moved only from allowed statuses, the export register.

use derbes_store::cabinet::{
    ExportRecord, OtpRecord, RequestUpdate, SubjectRequestRecord, SubjectSessionRecord,
};
use derbes_store::testing::both;

fn request(id: &str, subject: [u8; 16], year: i64) -> SubjectRequestRecord {
    SubjectRequestRecord {
        id: id.into(),
        year,
        seq: 0,
        subject_id: subject,
        kind: "correction".into(),
        status: "received".into(),
        body: vec![1, 2, 3],
        dek_version: 1,
        category: Some("employer".into()),
        received_at: 100,
        deadline_date: "2026-11-26".into(),
        deadline_at: 200,
        calendar_version: "kz-2026".into(),
        updated_at: 100,
        reason: None,
        answer: None,
        handled_by: None,
    }
}

#[tokio::test]
async fn c7_1b_otp_challenges_counted_and_used_once() {
    for db in both().await.unwrap() {
        let s = db.store.as_ref();
        let name = s.backend().as_str();
        let c = OtpRecord {
            id: "ch-1".into(),
            subject_id: Some([7; 16]),
            code_hash: vec![9; 32],
            created_at: 10,
            expires_at: 20,
            attempts: 0,
            used_at: None,
        };
        s.insert_otp(&c).await.unwrap();
        s.insert_otp(&OtpRecord {
            id: "ch-unknown".into(),
            subject_id: None,
            ..c.clone()
        })
        .await
        .unwrap();
        assert_eq!(s.otp("ch-unknown").await.unwrap().unwrap().subject_id, None);
        assert_eq!(
            s.otp_attempt("ch-1").await.unwrap().unwrap().attempts,
            1,
            "{name}"
        );
        assert_eq!(s.otp_attempt("ch-1").await.unwrap().unwrap().attempts, 2);
        assert!(s.use_otp("ch-1", 15).await.unwrap());
        assert!(!s.use_otp("ch-1", 16).await.unwrap(), "{name}: once");
        assert!(
            s.otp_attempt("ch-1").await.unwrap().is_none(),
            "used: no more attempts"
        );
        assert!(s.otp_attempt("nope").await.unwrap().is_none());
        assert_eq!(s.purge_otps(11).await.unwrap(), 2);
        assert!(s.otp("ch-1").await.unwrap().is_none());
    }
}

#[tokio::test]
async fn c7_1b_subject_sessions_touch_and_revoke() {
    for db in both().await.unwrap() {
        let s = db.store.as_ref();
        let rec = SubjectSessionRecord {
            token_hash: vec![1; 32],
            subject_id: [3; 16],
            created_at: 1,
            last_seen_at: 1,
            expires_at: 100,
            revoked_at: None,
        };
        s.insert_subject_session(&rec).await.unwrap();
        s.touch_subject_session(&rec.token_hash, 5).await.unwrap();
        assert_eq!(
            s.subject_session(&rec.token_hash)
                .await
                .unwrap()
                .unwrap()
                .last_seen_at,
            5
        );
        s.revoke_subject_session(&rec.token_hash, 6).await.unwrap();
        s.revoke_subject_session(&rec.token_hash, 7).await.unwrap();
        assert_eq!(
            s.subject_session(&rec.token_hash)
                .await
                .unwrap()
                .unwrap()
                .revoked_at,
            Some(6)
        );
        assert!(s.subject_session(&[2; 32]).await.unwrap().is_none());
    }
}

#[tokio::test]
async fn l_rights_deadlines_requests_numbered_per_year_and_status_guarded() {
    for db in both().await.unwrap() {
        let s = db.store.as_ref();
        let name = s.backend().as_str();
        assert_eq!(
            s.insert_subject_request(&request("r1", [1; 16], 2026))
                .await
                .unwrap(),
            1
        );
        assert_eq!(
            s.insert_subject_request(&request("r2", [2; 16], 2026))
                .await
                .unwrap(),
            2
        );
        assert_eq!(
            s.insert_subject_request(&request("r3", [1; 16], 2027))
                .await
                .unwrap(),
            1
        );
        let r1 = s.subject_request("r1").await.unwrap().unwrap();
        assert_eq!(r1.number(), "Z-2026-000001", "{name}");
        assert_eq!(s.subject_requests_of(&[1; 16]).await.unwrap().len(), 2);
        assert_eq!(
            s.subject_requests(Some("received"), 10)
                .await
                .unwrap()
                .len(),
            3
        );
        assert_eq!(s.subject_requests(None, 2).await.unwrap().len(), 2);
        let up = |status: &str, from: &[&str]| RequestUpdate {
            status: status.into(),
            from: from.iter().map(|s| s.to_string()).collect(),
            reason: None,
            answer: Some(vec![5, 5]),
            handled_by: "employee:x".into(),
            at: 150,
        };
        assert!(s
            .update_subject_request("r1", &up("in_progress", &["received"]))
            .await
            .unwrap());
        assert!(!s
            .update_subject_request("r1", &up("in_progress", &["received"]))
            .await
            .unwrap());
        let mut refuse = up("refused", &["received", "in_progress"]);
        refuse.reason = Some("no_ground".into());
        assert!(s.update_subject_request("r1", &refuse).await.unwrap());
        let r1 = s.subject_request("r1").await.unwrap().unwrap();
        assert_eq!(r1.status, "refused");
        assert_eq!(r1.reason.as_deref(), Some("no_ground"));
        assert_eq!(r1.answer, Some(vec![5, 5]));
        assert_eq!(r1.handled_by.as_deref(), Some("employee:x"));
        assert!(matches!(
            s.update_subject_request("nope", &refuse).await,
            Err(derbes_store::StoreError::NotFound)
        ));
    }
}

#[tokio::test]
async fn c5_4_export_register_keeps_hash_and_maker() {
    for db in both().await.unwrap() {
        let s = db.store.as_ref();
        for (i, f) in ["json", "pdf"].iter().enumerate() {
            s.insert_export(
                &ExportRecord {
                    id: format!("e{i}"),
                    subject: "0190-subject".into(),
                    format: f.to_string(),
                    sha256: vec![i as u8; 32],
                    size: 1000 + i as i64,
                    at: 10 + i as i64,
                    actor: "subject:0190-subject".into(),
                    purpose: "requests".into(),
                },
                &[],
            )
            .await
            .unwrap();
        }
        let list = s.exports_of("0190-subject").await.unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(list[1].format, "pdf");
        assert_eq!(list[1].sha256, vec![1; 32]);
        assert!(s.exports_of("other").await.unwrap().is_empty());
    }
}

/// An export's register row and its audit entry commit together (5.4, 8.1): a registered
/// export is on the log, and an export that cannot be registered (a duplicate id) leaves no
/// entry either — on both databases.
#[tokio::test]
async fn c5_4_c8_1_export_register_and_its_audit_entry_are_one_transaction() {
    for db in both().await.unwrap() {
        let s = db.store.as_ref();
        let b = s.backend();
        let record = ExportRecord {
            id: "exp-1".into(),
            subject: "0191-subject".into(),
            format: "json".into(),
            sha256: vec![7; 32],
            size: 10,
            at: 20,
            actor: "subject:0191-subject".into(),
            purpose: "requests".into(),
        };
        let entry = derbes_audit::EntryFields::new(
            20,
            "subject:0191-subject",
            derbes_audit::Action::EXPORT,
            derbes_audit::Outcome::Allowed,
        );
        s.insert_export(&record, std::slice::from_ref(&entry))
            .await
            .unwrap();
        assert_eq!(s.audit_head().await.unwrap().size, 1, "{b:?}");
        assert_eq!(s.exports_of("0191-subject").await.unwrap().len(), 1);
        // The same id again: refused, and no second entry.
        assert!(s
            .insert_export(&record, std::slice::from_ref(&entry))
            .await
            .is_err());
        assert_eq!(s.audit_head().await.unwrap().size, 1, "{b:?}");
        assert_eq!(s.exports_of("0191-subject").await.unwrap().len(), 1);
    }
}
