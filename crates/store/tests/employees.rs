//! The employee store contract (clauses 4.3, 5.4), on SQLite and on PostgreSQL.

use derbes_store::testing::both;
use derbes_store::{EmployeeRecord, SessionRecord, StoreError, TrainingRecord, UndertakingRecord};

fn employee(id: &str, login: &str) -> EmployeeRecord {
    EmployeeRecord {
        id: id.into(),
        login: login.into(),
        display_name: "Test".into(),
        role: "credit_officer".into(),
        password_hash: "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaA".into(),
        totp_secret: Some(vec![1, 2, 3]),
        totp_key: Some(vec![4; 61]),
        totp_kek_version: Some(1),
        totp_last_step: None,
        status: "active".into(),
        created_at: 1,
        updated_at: 1,
    }
}

fn session(hash: u8, employee: &str, mfa: bool) -> SessionRecord {
    SessionRecord {
        token_hash: vec![hash; 32],
        employee_id: employee.into(),
        created_at: 10,
        last_seen_at: 10,
        expires_at: 1000,
        revoked_at: None,
        mfa_passed: mfa,
    }
}

#[tokio::test]
async fn c4_3_employees_round_trip_and_login_is_unique() {
    for db in both().await.unwrap() {
        let s = &db.store;
        let e = employee("e1", "aliya");
        s.insert_employee(&e).await.unwrap();
        assert_eq!(s.employee("e1").await.unwrap(), Some(e.clone()));
        assert_eq!(s.employee_by_login("aliya").await.unwrap(), Some(e.clone()));
        assert_eq!(s.employee_by_login("nobody").await.unwrap(), None);
        let dup = s.insert_employee(&employee("e2", "aliya")).await;
        assert!(matches!(dup, Err(StoreError::Conflict)), "{dup:?}");
        s.set_employee_role("e1", "collector", 5).await.unwrap();
        let got = s.employee("e1").await.unwrap().unwrap();
        assert_eq!((got.role.as_str(), got.updated_at), ("collector", 5));
        assert!(matches!(
            s.set_employee_role("nope", "admin", 5).await,
            Err(StoreError::NotFound)
        ));
        s.set_employee_totp("e1", &[9, 9], &[8; 61], 2, 6)
            .await
            .unwrap();
        let got = s.employee("e1").await.unwrap().unwrap();
        assert_eq!(got.totp_secret, Some(vec![9, 9]));
        assert_eq!(got.totp_kek_version, Some(2));
        s.set_employee_password("e1", "$argon2id$new", 7)
            .await
            .unwrap();
        assert_eq!(
            s.employee("e1").await.unwrap().unwrap().password_hash,
            "$argon2id$new"
        );
        s.insert_employee(&employee("e0", "bolat")).await.unwrap();
        let logins: Vec<String> = s
            .list_employees()
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.login)
            .collect();
        assert_eq!(logins, ["aliya", "bolat"], "{:?}", s.backend());
    }
}

#[tokio::test]
async fn totp_step_is_accepted_once_and_only_forward() {
    for db in both().await.unwrap() {
        let s = &db.store;
        s.insert_employee(&employee("e1", "aliya")).await.unwrap();
        assert!(s.use_totp_step("e1", 100).await.unwrap());
        assert!(!s.use_totp_step("e1", 100).await.unwrap(), "replay");
        assert!(!s.use_totp_step("e1", 99).await.unwrap(), "older step");
        assert!(s.use_totp_step("e1", 101).await.unwrap());
        // Re-enrolment forgets the last step (a new secret has new codes).
        s.set_employee_totp("e1", &[1], &[2; 61], 1, 5)
            .await
            .unwrap();
        assert!(s.use_totp_step("e1", 50).await.unwrap());
    }
}

#[tokio::test]
async fn disabling_revokes_every_session_in_the_same_transaction() {
    for db in both().await.unwrap() {
        let s = &db.store;
        s.insert_employee(&employee("e1", "aliya")).await.unwrap();
        s.insert_employee(&employee("e2", "bolat")).await.unwrap();
        s.insert_session(&session(1, "e1", true)).await.unwrap();
        s.insert_session(&session(2, "e1", false)).await.unwrap();
        s.insert_session(&session(3, "e2", true)).await.unwrap();
        assert_eq!(s.set_employee_status("e1", "active", 20).await.unwrap(), 0);
        assert_eq!(
            s.set_employee_status("e1", "disabled", 21).await.unwrap(),
            2
        );
        for h in [1u8, 2] {
            assert_eq!(
                s.session(&[h; 32]).await.unwrap().unwrap().revoked_at,
                Some(21)
            );
        }
        assert_eq!(s.session(&[3; 32]).await.unwrap().unwrap().revoked_at, None);
        assert!(matches!(
            s.set_employee_status("nope", "disabled", 1).await,
            Err(StoreError::NotFound)
        ));
        s.touch_session(&[3; 32], 50).await.unwrap();
        s.touch_session(&[3; 32], 40).await.unwrap(); // never moves back
        assert_eq!(s.session(&[3; 32]).await.unwrap().unwrap().last_seen_at, 50);
        assert!(s.session(&[3; 32]).await.unwrap().unwrap().mfa_passed);
        s.revoke_session(&[3; 32], 60).await.unwrap();
        s.revoke_session(&[3; 32], 70).await.unwrap(); // the first revocation stays
        assert_eq!(
            s.session(&[3; 32]).await.unwrap().unwrap().revoked_at,
            Some(60)
        );
        s.insert_session(&session(4, "e2", true)).await.unwrap();
        assert_eq!(s.revoke_sessions_of("e2", 80).await.unwrap(), 1);
    }
}

#[tokio::test]
async fn throttle_counts_in_a_window_locks_and_clears() {
    for db in both().await.unwrap() {
        let s = &db.store;
        let k = [7u8; 32];
        assert_eq!(s.throttle(&k).await.unwrap(), None);
        for n in 1..=3 {
            let t = s.record_failure(&k, 100 + n, 0).await.unwrap();
            assert_eq!((t.failures, t.window_start), (n, 101));
        }
        // The window started at 101; a floor at or after it restarts the count.
        let t = s.record_failure(&k, 500, 101).await.unwrap();
        assert_eq!((t.failures, t.window_start), (1, 500));
        s.lock_key(&k, 501, 900).await.unwrap();
        let t = s.throttle(&k).await.unwrap().unwrap();
        assert_eq!((t.failures, t.locked_until), (0, Some(900)));
        s.clear_throttle(&k).await.unwrap();
        assert_eq!(s.throttle(&k).await.unwrap(), None);
    }
}

#[tokio::test]
async fn c4_3_c5_4_undertakings_and_trainings_newest_first() {
    for db in both().await.unwrap() {
        let s = &db.store;
        s.insert_employee(&employee("e1", "aliya")).await.unwrap();
        for (id, signed) in [("u1", "2025-01-10"), ("u2", "2026-01-10")] {
            s.insert_undertaking(&UndertakingRecord {
                id: id.into(),
                employee_id: "e1".into(),
                text_version: "nda-1".into(),
                signed_on: signed.into(),
                expires_on: "2027-01-10".into(),
                recorded_by: "system:test".into(),
                recorded_at: 3,
            })
            .await
            .unwrap();
        }
        let u: Vec<String> = s
            .undertakings_of("e1")
            .await
            .unwrap()
            .into_iter()
            .map(|u| u.id)
            .collect();
        assert_eq!(u, ["u2", "u1"]);
        let orphan = s
            .insert_undertaking(&UndertakingRecord {
                id: "u3".into(),
                employee_id: "nobody".into(),
                text_version: "nda-1".into(),
                signed_on: "2026-01-01".into(),
                expires_on: "2027-01-01".into(),
                recorded_by: "system:test".into(),
                recorded_at: 3,
            })
            .await;
        assert!(matches!(orphan, Err(StoreError::NotFound)), "{orphan:?}");
        let t = TrainingRecord {
            id: "t1".into(),
            employee_id: "e1".into(),
            course: "pd-protection".into(),
            course_version: "2026".into(),
            completed_on: "2026-02-01".into(),
            expires_on: None,
            recorded_by: "system:test".into(),
            recorded_at: 4,
        };
        s.insert_training(&t).await.unwrap();
        assert_eq!(s.trainings_of("e1").await.unwrap(), vec![t]);
        assert!(s.trainings_of("e2").await.unwrap().is_empty());
    }
}
