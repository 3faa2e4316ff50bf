//! Unique values (one subject per IIN / mobile number) and group commit of concurrent creates.

use crate::common::*;
use derbes_service::{NewSubjectInput, ServiceError};
use serde_json::json;

/// `d`'s input with the IIN of `other`.
fn with_iin(d: &derbes_demo::DemoSubject, iin: &str) -> NewSubjectInput {
    let mut input = input_of(d);
    for v in &mut input.values {
        if v.category == "iin" {
            v.value = json!(iin);
        }
    }
    // Keep the birth date consistent, it does not matter here.
    input.values.retain(|v| v.category != "birth_date");
    input
}

#[tokio::test]
async fn c2_1_duplicate_iin_is_refused_and_not_stored() {
    for env in envs().await {
        let contract = sys("contract");
        let people = demo(41, 3);
        let first = env
            .vault
            .create_subject(&contract, input_of(&people[0]))
            .await
            .unwrap();
        assert_eq!(env.count().await, 1);

        let dup = with_iin(&people[1], s(&people[0], "iin"));
        let e = err(
            &env,
            env.vault.create_subject(&contract, dup.clone()).await,
            "dup iin",
        );
        assert!(
            matches!(e, ServiceError::SubjectExists),
            "[{}] {e:?}",
            env.name()
        );
        assert_eq!(
            env.count().await,
            1,
            "[{}] the second is not stored",
            env.name()
        );

        // The same through the bulk path: all or nothing.
        let e = err(
            &env,
            env.vault
                .create_subjects(&contract, vec![input_of(&people[2]), dup])
                .await,
            "bulk dup iin",
        );
        assert!(
            matches!(e, ServiceError::SubjectExists),
            "[{}] {e:?}",
            env.name()
        );
        assert_eq!(env.count().await, 1, "[{}] bulk wrote nothing", env.name());

        // Two of the same IIN inside one bulk request.
        let twice = vec![
            input_of(&people[2]),
            with_iin(&people[1], s(&people[2], "iin")),
        ];
        let e = err(
            &env,
            env.vault.create_subjects(&contract, twice).await,
            "dup in bulk",
        );
        assert!(
            matches!(e, ServiceError::SubjectExists),
            "[{}] {e:?}",
            env.name()
        );
        assert_eq!(env.count().await, 1);

        // The mobile number is unique as well (cabinet login).
        let mut same_phone = input_of(&people[1]);
        for v in &mut same_phone.values {
            if v.category == "mobile_phone" {
                v.value = json!(s(&people[0], "mobile_phone"));
            }
        }
        let e = err(
            &env,
            env.vault.create_subject(&contract, same_phone).await,
            "dup phone",
        );
        assert!(
            matches!(e, ServiceError::SubjectExists),
            "[{}] {e:?}",
            env.name()
        );

        // The first subject is intact and is the only one found by its IIN.
        let found = env
            .vault
            .find_subjects(&contract, "iin", &json!(s(&people[0], "iin")), None)
            .await
            .unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].id, first.id);
        assert_eq!(env.count().await, 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn c5_3_concurrent_creates_are_all_committed_and_readable() {
    for env in envs().await {
        let contract = sys("contract");
        let people = demo(42, 64);
        let mut tasks = Vec::new();
        for d in people.clone() {
            let vault = env.vault.clone();
            let call = contract.clone();
            tasks.push(tokio::spawn(async move {
                vault.create_subject(&call, input_of(&d)).await
            }));
        }
        let mut ids = Vec::new();
        for t in tasks {
            ids.push(t.await.unwrap().unwrap().id);
        }
        assert_eq!(env.count().await, 64, "[{}]", env.name());
        for (d, id) in people.iter().zip(&ids) {
            let read = env.vault.read_subject(&contract, *id, None).await.unwrap();
            let iin = read.values.iter().find(|v| v.category == "iin").unwrap();
            assert_eq!(iin.value, json!(s(d, "iin")), "[{}]", env.name());
            let found = env
                .vault
                .find_subjects(&contract, "iin", &json!(s(d, "iin")), None)
                .await
                .unwrap();
            assert_eq!(found.len(), 1);
            assert_eq!(found[0].id, *id);
        }
        env.vault.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn c5_3_one_concurrent_duplicate_fails_alone() {
    for env in envs().await {
        let contract = sys("contract");
        let mut total = 0;
        // A few rounds, the duplicate at different places among the concurrent creates.
        // One generator run, so no value repeats between rounds.
        let everyone = demo(43, 3 * 64);
        for (round, dup_at) in [(0usize, 63usize), (1, 32), (2, 11)] {
            let people = &everyone[round * 64..(round + 1) * 64];
            // Subject `dup_at` carries the IIN of subject 10 (its phone, e-mail, IBAN are its
            // own).
            let mut inputs: Vec<NewSubjectInput> = people.iter().map(input_of).collect();
            inputs[dup_at] = with_iin(&people[dup_at], s(&people[10], "iin"));
            let mut tasks = Vec::new();
            for input in inputs {
                let vault = env.vault.clone();
                let call = contract.clone();
                tasks.push(tokio::spawn(async move {
                    vault.create_subject(&call, input).await
                }));
            }
            let mut ok = 0;
            let mut exists = 0;
            for (i, t) in tasks.into_iter().enumerate() {
                match t.await.unwrap() {
                    Ok(_) => ok += 1,
                    Err(ServiceError::SubjectExists) => {
                        assert!(i == 10 || i == dup_at, "[{}] item {i} failed", env.name());
                        exists += 1
                    }
                    Err(e) => panic!("[{}] item {i}: {e:?}", env.name()),
                }
            }
            assert_eq!((ok, exists), (63, 1), "[{}] round {round}", env.name());
            total += 63;
            assert_eq!(env.count().await, total);
            let found = env
                .vault
                .find_subjects(&contract, "iin", &json!(s(&people[10], "iin")), None)
                .await
                .unwrap();
            assert_eq!(found.len(), 1, "[{}]", env.name());
        }
    }
}

#[tokio::test]
async fn c5_3_bulk_create_writes_all_in_one_go() {
    for env in envs().await {
        let contract = sys("contract");
        let people = demo(44, 50);
        let ids = env
            .vault
            .create_subjects(&contract, people.iter().map(input_of).collect())
            .await
            .unwrap();
        assert_eq!(ids.len(), 50);
        assert_eq!(env.count().await, 50, "[{}]", env.name());
        for (d, id) in people.iter().zip(&ids).step_by(7) {
            let found = env
                .vault
                .find_subjects(&contract, "email", &json!(s(d, "email")), None)
                .await
                .unwrap();
            assert_eq!(found.len(), 1);
            assert_eq!(found[0].id, *id, "[{}]", env.name());
        }
    }
}
