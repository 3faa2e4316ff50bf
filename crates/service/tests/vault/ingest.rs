//! Bulk loads (`Vault::ingest`): parts prepared in parallel, written in transactions, every
//! subject encrypted and audited as a single create is (2.1, PRE-2, 8.1); a refused part
//! writes nothing of its transaction (3.2, "never a partial write").

use crate::common::*;
use derbes_audit::{Action, Outcome};
use derbes_service::{IngestOptions, ServiceError};
use serde_json::json;
use std::collections::BTreeSet;

fn small(transaction: usize, part: usize) -> IngestOptions {
    IngestOptions {
        transaction,
        part,
        workers: 2,
    }
}

#[tokio::test]
async fn c2_1_bulk_load_writes_every_subject_in_transactions_in_order_each_audited() {
    for env in envs().await {
        let people = demo(2101, 2_500);
        let inputs: Vec<_> = people.iter().map(input_of).collect();
        let report = env
            .vault
            .ingest(&sys("contract"), inputs, small(1_000, 300))
            .await
            .unwrap();
        assert_eq!(report.transactions, 3, "[{}]", env.name());
        assert_eq!(report.ids.len(), 2_500, "[{}]", env.name());
        assert_eq!(env.count().await, 2_500, "[{}]", env.name());
        // The ids come back in the order of the inputs: the i-th id is the i-th person.
        for i in [0, 299, 300, 999, 1_000, 1_777, 2_499] {
            let found = env
                .vault
                .find_subjects(
                    &sys("identification"),
                    "iin",
                    &json!(s(&people[i], "iin")),
                    None,
                )
                .await
                .unwrap();
            assert_eq!(found.len(), 1, "[{}] person {i}", env.name());
            assert_eq!(found[0].id, report.ids[i], "[{}] person {i}", env.name());
        }
        // Every subject has its create entry, attributed like a single create's.
        let log = env.db.store.audit_entries(0, 10_000).await.unwrap();
        let created: BTreeSet<String> = log
            .iter()
            .filter(|e| e.action.as_str() == Action::CREATE.as_str())
            .map(|e| {
                assert_eq!(e.outcome, Outcome::Allowed);
                assert_eq!(e.purpose.as_deref(), Some("contract"));
                e.subject.clone().unwrap()
            })
            .collect();
        let ids: BTreeSet<String> = report.ids.iter().map(|id| id.to_string()).collect();
        assert_eq!(created, ids, "[{}]", env.name());
    }
}

#[tokio::test]
async fn c2_1_bulk_load_refused_value_writes_nothing_of_its_transaction() {
    for env in envs().await {
        let people = demo(2102, 25);
        let mut inputs: Vec<_> = people.iter().map(input_of).collect();
        // Person 23 (in the third transaction of 10, in a part of 3 starting at 21) has an
        // IIN with a bad check digit.
        for v in &mut inputs[23].values {
            if v.category == "iin" {
                v.value = json!("900101300011");
            }
        }
        let e = err(
            &env,
            env.vault
                .ingest(&sys("contract"), inputs, small(10, 3))
                .await,
            "a load with an invalid IIN",
        );
        let items: Vec<_> = problems(&e).into_iter().map(|p| (p.0, p.2)).collect();
        assert_eq!(
            items,
            vec![(Some(23), "invalid_iin".to_string())],
            "[{}] the error names the input's position in the whole load",
            env.name()
        );
        // The two transactions before it are committed; nothing of the third.
        assert_eq!(env.count().await, 20, "[{}]", env.name());
        let log = env.db.store.audit_entries(0, 1_000).await.unwrap();
        let creates = log
            .iter()
            .filter(|e| e.action.as_str() == Action::CREATE.as_str())
            .count();
        assert_eq!(creates, 20, "[{}]", env.name());
        // The value is nowhere in the error's text.
        assert!(!format!("{e} {e:?}").contains("900101300011"));
    }
}

#[tokio::test]
async fn c3_2_bulk_load_under_a_purpose_that_lacks_a_category_is_refused_and_audited() {
    for env in envs().await {
        let inputs: Vec<_> = demo(2103, 5).iter().map(input_of).collect();
        let e = err(
            &env,
            env.vault
                .ingest(&sys("advertising"), inputs, small(10, 2))
                .await,
            "a load under advertising",
        );
        assert!(
            matches!(&e, ServiceError::CategoryNotAllowed(l) if l.iter().any(|c| c == "iin")),
            "[{}] {e:?}",
            env.name()
        );
        assert_eq!(env.count().await, 0, "[{}]", env.name());
        let log = env.db.store.audit_entries(0, 100).await.unwrap();
        let outcomes: Vec<_> = log
            .iter()
            .map(|e| (e.action.as_str().to_string(), e.outcome))
            .collect();
        assert_eq!(
            outcomes,
            vec![(Action::CREATE.as_str().to_string(), Outcome::Denied)],
            "[{}]",
            env.name()
        );
    }
}
