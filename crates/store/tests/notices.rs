//! Notice jobs and deliveries (clause 9.2), on SQLite and on PostgreSQL.

use derbes_store::notices::{DeliveryOutcome, NewNoticeJob};
use derbes_store::testing::both;
use derbes_store::{NewSubject, Store, SubjectRecord};
use std::collections::HashSet;
use std::sync::Arc;

fn sid(n: u16) -> [u8; 16] {
    let mut id = [0u8; 16];
    id[0] = 1;
    id[14..].copy_from_slice(&n.to_be_bytes());
    id
}

async fn subjects(store: &dyn Store, n: u16) {
    let batch: Vec<NewSubject> = (0..n)
        .map(|i| {
            NewSubject::new(
                SubjectRecord {
                    id: sid(i),
                    created_at: 5,
                    created_by: "system:test".into(),
                    kek_version: 1,
                    wrapped_dek: vec![9; 60],
                    dek_version: 1,
                    status: "active".into(),
                },
                &[],
                vec![],
            )
        })
        .collect();
    store.insert_subjects(&batch, &[]).await.unwrap();
}

fn job(id: &str, version: i64) -> NewNoticeJob {
    NewNoticeJob {
        id: id.into(),
        kind: "policy_change".into(),
        policy_version: version,
        created_at: 1_000,
        texts: "{}".into(),
    }
}

#[tokio::test]
async fn c9_2_enqueue_is_one_job_per_version_with_one_delivery_per_subject() {
    for db in both().await.unwrap() {
        let s = db.store.as_ref();
        subjects(s, 25).await;
        let (j, created) = s.enqueue_notice_job(&job("job-a", 3)).await.unwrap();
        assert!(created);
        assert_eq!((j.id.as_str(), j.state.as_str()), ("job-a", "open"));
        let c = s.notice_counts("job-a").await.unwrap();
        assert_eq!((c.pending, c.total()), (25, 25));
        // Publishing the same version again creates nothing.
        let (again, created) = s.enqueue_notice_job(&job("job-b", 3)).await.unwrap();
        assert!(!created);
        assert_eq!(again.id, "job-a");
        assert!(s.notice_job("job-b").await.unwrap().is_none());
        assert_eq!(s.notice_counts("job-a").await.unwrap().total(), 25);
        // Another version is another job.
        let (_, created) = s.enqueue_notice_job(&job("job-c", 4)).await.unwrap();
        assert!(created);
        let all = s.notice_jobs().await.unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(s.open_notice_jobs().await.unwrap()[0].id, "job-a");
    }
}

#[tokio::test]
async fn c9_2_claim_finish_and_retry_schedule() {
    for db in both().await.unwrap() {
        let s = db.store.as_ref();
        subjects(s, 6).await;
        s.enqueue_notice_job(&job("j", 1)).await.unwrap();
        let claimed = s.claim_notice_deliveries("j", 1_000, 4).await.unwrap();
        assert_eq!(claimed.len(), 4);
        assert!(claimed.iter().all(|c| c.attempts == 1));
        let c = s.notice_counts("j").await.unwrap();
        assert_eq!((c.pending, c.sending), (2, 4));
        let ids: Vec<[u8; 16]> = claimed.iter().map(|c| c.subject_id).collect();
        s.finish_notice_deliveries(
            "j",
            &[
                DeliveryOutcome::Sent {
                    subject_id: ids[0],
                    message_id: "<m0@x>".into(),
                    at: 1_001,
                },
                DeliveryOutcome::Retry {
                    subject_id: ids[1],
                    code: "smtp_451".into(),
                    next_attempt_at: 61_000,
                },
                DeliveryOutcome::Failed {
                    subject_id: ids[2],
                    code: "smtp_550".into(),
                },
                DeliveryOutcome::SkippedNoEmail { subject_id: ids[3] },
            ],
        )
        .await
        .unwrap();
        // A result for a row that is not `sending` changes nothing.
        s.finish_notice_deliveries(
            "j",
            &[DeliveryOutcome::Failed {
                subject_id: ids[0],
                code: "late".into(),
            }],
        )
        .await
        .unwrap();
        let c = s.notice_counts("j").await.unwrap();
        assert_eq!(
            (c.pending, c.sending, c.sent, c.failed, c.skipped_no_email),
            (3, 0, 1, 1, 1)
        );
        let sent = s.notice_deliveries("j", Some("sent"), 10).await.unwrap();
        assert_eq!(sent[0].message_id.as_deref(), Some("<m0@x>"));
        assert_eq!(sent[0].sent_at, Some(1_001));
        // The retried one is not due before its time.
        let now_due = s.claim_notice_deliveries("j", 2_000, 10).await.unwrap();
        assert_eq!(now_due.len(), 2);
        assert!(!now_due.iter().any(|c| c.subject_id == ids[1]));
        assert_eq!(s.next_notice_attempt("j").await.unwrap(), Some(61_000));
        // Released (not attempted): back to pending, the attempt not counted.
        s.finish_notice_deliveries(
            "j",
            &now_due
                .iter()
                .map(|c| DeliveryOutcome::Released {
                    subject_id: c.subject_id,
                })
                .collect::<Vec<_>>(),
        )
        .await
        .unwrap();
        let later = s.claim_notice_deliveries("j", 61_000, 10).await.unwrap();
        assert_eq!(later.len(), 3);
        let retried = later.iter().find(|c| c.subject_id == ids[1]).unwrap();
        assert_eq!(retried.attempts, 2);
        assert!(later
            .iter()
            .filter(|c| c.subject_id != ids[1])
            .all(|c| c.attempts == 1));
        let errors = s.notice_error_counts("j").await.unwrap();
        assert_eq!(errors, vec![("failed".into(), "smtp_550".into(), 1)]);
        assert!(!s.complete_notice_job("j", 70_000).await.unwrap());
        s.finish_notice_deliveries(
            "j",
            &later
                .iter()
                .map(|c| DeliveryOutcome::Sent {
                    subject_id: c.subject_id,
                    message_id: "<m@x>".into(),
                    at: 61_001,
                })
                .collect::<Vec<_>>(),
        )
        .await
        .unwrap();
        assert!(s.complete_notice_job("j", 70_000).await.unwrap());
        let j = s.notice_job("j").await.unwrap().unwrap();
        assert_eq!((j.state.as_str(), j.completed_at), ("done", Some(70_000)));
        assert!(s.open_notice_jobs().await.unwrap().is_empty());
    }
}

#[tokio::test]
async fn c9_2_stale_claims_of_a_dead_runner_are_released_after_the_lease() {
    for db in both().await.unwrap() {
        let s = db.store.as_ref();
        subjects(s, 3).await;
        s.enqueue_notice_job(&job("j", 1)).await.unwrap();
        assert_eq!(
            s.claim_notice_deliveries("j", 1_000, 2)
                .await
                .unwrap()
                .len(),
            2
        );
        // A claim younger than the lease stays with its runner.
        assert_eq!(
            s.release_stale_notice_claims("j", 1_000, 5_000)
                .await
                .unwrap(),
            0
        );
        assert_eq!(
            s.release_stale_notice_claims("j", 1_001, 5_000)
                .await
                .unwrap(),
            2
        );
        let rows = s.notice_deliveries("j", Some("pending"), 10).await.unwrap();
        assert_eq!(rows.len(), 3);
        let released: Vec<_> = rows.iter().filter(|r| r.attempts == 1).collect();
        assert_eq!(released.len(), 2);
        assert!(released
            .iter()
            .all(|r| r.last_error.as_deref() == Some("interrupted") && r.next_attempt_at == 5_000));
    }
}

#[tokio::test]
async fn c9_2_concurrent_runners_never_claim_the_same_delivery() {
    for db in both().await.unwrap() {
        let store: Arc<dyn Store> = db.store.clone();
        subjects(store.as_ref(), 300).await;
        store.enqueue_notice_job(&job("j", 1)).await.unwrap();
        let mut tasks = Vec::new();
        for _ in 0..4 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                let mut mine = Vec::new();
                loop {
                    let got = store.claim_notice_deliveries("j", 1_000, 7).await.unwrap();
                    if got.is_empty() {
                        return mine;
                    }
                    mine.extend(got.into_iter().map(|c| c.subject_id));
                }
            }));
        }
        let mut seen = HashSet::new();
        let mut n = 0;
        for t in tasks {
            for id in t.await.unwrap() {
                n += 1;
                assert!(seen.insert(id), "a delivery was claimed twice");
            }
        }
        assert_eq!((n, seen.len()), (300, 300));
    }
}
