//! Clause 8.1 and 3.2: every action on personal data, and every refusal, is on the
//! tamper-evident audit log — attributable (actor, purpose, rule), with categories and the
//! subject's pseudonym, never a value — and the log verifies against a signed checkpoint.

use crate::common::*;
use derbes_audit::{verify_log, Action, AuditSigner, Outcome};
use serde_json::json;

#[tokio::test]
async fn c8_1_every_action_and_refusal_is_audited_and_the_log_verifies() {
    for env in envs().await {
        let d = &demo(81, 1)[0];
        let created = env
            .vault
            .create_subject(&sys("contract"), input_of(d))
            .await
            .unwrap();
        let id = created.id;
        env.vault
            .read_subject(&sys("collection"), id, None)
            .await
            .unwrap();
        env.vault
            .find_subjects(&sys("identification"), "iin", &json!(s(d, "iin")), None)
            .await
            .unwrap();
        env.vault
            .correct_values(
                &sys("contract"),
                id,
                vec![val("employer", json!("ТОО «Алатау Сауда»"))],
            )
            .await
            .unwrap();
        // A refusal by minimisation (3.2: "refused and audited").
        let denied = env
            .vault
            .read_subject(&sys("advertising"), id, Some(&["iin".to_string()]))
            .await;
        assert!(denied.is_err());

        let log = env.db.store.audit_entries(0, 100).await.unwrap();
        let actions: Vec<(&str, Outcome)> =
            log.iter().map(|e| (e.action.as_str(), e.outcome)).collect();
        assert_eq!(
            actions,
            vec![
                (Action::CREATE.as_str(), Outcome::Allowed),
                (Action::READ.as_str(), Outcome::Allowed),
                (Action::SEARCH.as_str(), Outcome::Allowed),
                (Action::CORRECT.as_str(), Outcome::Allowed),
                (Action::READ.as_str(), Outcome::Denied),
            ],
            "[{}]",
            env.name()
        );
        let sid = id.to_string();
        assert!(log
            .iter()
            .all(|e| e.subject.as_deref() == Some(sid.as_str())));
        assert!(log.iter().all(|e| e.actor == "system:test"));
        assert_eq!(log[1].purpose.as_deref(), Some("collection"));
        assert!(log[1].categories.contains(&"mobile_phone".to_string()));
        assert!(!log[1].categories.contains(&"salary_amount".to_string()));
        assert!(log[1]
            .rule
            .as_deref()
            .unwrap()
            .starts_with("purpose:collection@registry:"));
        assert_eq!(log[3].categories, vec!["employer".to_string()]);
        assert_eq!(log[4].rule.as_deref(), Some("minimisation:3.2"));
        assert_eq!(log[4].categories, vec!["iin".to_string()]);

        // Never a personal value: nothing of the subject's data appears in any entry.
        let text = format!("{log:?}");
        for secret in secrets_of(d) {
            assert!(
                !text.contains(&secret),
                "[{}] audit holds a value",
                env.name()
            );
        }

        // Signed checkpoint over the head, and the whole log verifies against it.
        let signer = AuditSigner::generate();
        let cp = derbes_service::audit::sign_checkpoint(env.db.store.as_ref(), &signer, 1)
            .await
            .unwrap()
            .expect("a checkpoint");
        assert_eq!(cp.tree_size, 5);
        let report = verify_log(
            log.clone(),
            &env.db.store.checkpoints().await.unwrap(),
            &[signer.public_key()],
        );
        assert!(report.is_ok(), "[{}] {report:?}", env.name());
        // Nothing new: no second checkpoint.
        assert!(
            derbes_service::audit::sign_checkpoint(env.db.store.as_ref(), &signer, 2)
                .await
                .unwrap()
                .is_none()
        );

        // An inclusion proof of the denial verifies with the public key alone.
        let proof = derbes_service::audit::inclusion_proof(env.db.store.as_ref(), 4)
            .await
            .unwrap();
        let json = serde_json::to_string(&proof).unwrap();
        derbes_audit::verify_inclusion_json(&json, &[signer.public_key()]).unwrap();
        // …and fails with another key.
        assert!(derbes_audit::verify_inclusion_json(
            &json,
            &[AuditSigner::generate().public_key()]
        )
        .is_err());
    }
}

#[tokio::test]
async fn c8_1_a_refused_unknown_purpose_is_audited_without_echoing_it() {
    for env in envs().await {
        let r = env
            .vault
            .read_subject(&sys("no such purpose"), uuid::Uuid::now_v7(), None)
            .await;
        assert!(r.is_err());
        let log = env.db.store.audit_entries(0, 10).await.unwrap();
        assert_eq!(log.len(), 1, "[{}]", env.name());
        assert_eq!(log[0].outcome, Outcome::Denied);
        assert_eq!(log[0].rule.as_deref(), Some("unknown_purpose:1.1"));
        // The purpose text is not a code (it has spaces): it is not stored.
        assert_eq!(log[0].purpose, None);
    }
}

/// Clause 8.1 under both read-audit modes ([`ReadAudit`]): when a read or a search answers,
/// its entry is already committed — another connection sees it — whether the read waited for
/// the fsync (`Durable`) or not (`Deferred`); concurrent reads and corrections, grouped into
/// deferred and durable commits, still chain into one log that verifies.
#[tokio::test]
async fn c8_1_read_entries_are_committed_before_the_answer_in_both_modes() {
    use derbes_service::audit::ReadAudit;
    use derbes_service::VaultOptions;
    use std::time::Duration;
    for env in envs().await {
        let d = &demo(82, 1)[0];
        let id = env
            .vault
            .create_subject(&sys("contract"), input_of(d))
            .await
            .unwrap()
            .id;
        for mode in [
            ReadAudit::Durable,
            ReadAudit::Deferred {
                flush: Duration::from_millis(5),
            },
        ] {
            let vault = derbes_service::Vault::open_with(
                env.db.store.clone(),
                env.keys.clone(),
                env.registry.clone(),
                env.clock.clone(),
                VaultOptions {
                    audit: true,
                    read_audit: mode,
                },
            )
            .await
            .unwrap();
            // One at a time: the entry is on the log when the answer is back.
            for _ in 0..5 {
                let before = env.db.store.audit_head().await.unwrap().size;
                vault
                    .read_subject(&sys("collection"), id, None)
                    .await
                    .unwrap();
                let after = env.db.store.audit_head().await.unwrap().size;
                assert_eq!(after, before + 1, "[{}] {mode:?}", env.name());
                let last = env.db.store.audit_entries(before, 1).await.unwrap();
                assert_eq!(last[0].action, Action::READ, "[{}]", env.name());
            }
            // Concurrently, reads and searches mixed with corrections.
            let start = env.db.store.audit_head().await.unwrap().size;
            let mut tasks = Vec::new();
            for i in 0..24 {
                let v = vault.clone();
                let iin = s(d, "iin").to_string();
                tasks.push(tokio::spawn(async move {
                    match i % 3 {
                        0 => v
                            .read_subject(&sys("collection"), id, None)
                            .await
                            .map(|_| ()),
                        1 => v
                            .find_subjects(&sys("identification"), "iin", &json!(iin), None)
                            .await
                            .map(|_| ()),
                        _ => v
                            .correct_values(
                                &sys("contract"),
                                id,
                                vec![val("employer", json!(format!("ТОО «Сауда {i}»")))],
                            )
                            .await
                            .map(|_| ()),
                    }
                }));
            }
            for t in tasks {
                t.await.unwrap().unwrap();
            }
            vault.shutdown().await;
            let head = env.db.store.audit_head().await.unwrap().size;
            assert_eq!(head, start + 24, "[{}] {mode:?}", env.name());
        }
        let signer = AuditSigner::generate();
        let entries = env.db.store.audit_entries(0, 10_000).await.unwrap();
        let report = verify_log(entries, &[], &[signer.public_key()]);
        assert!(report.is_ok(), "[{}] {report:?}", env.name());
    }
}
