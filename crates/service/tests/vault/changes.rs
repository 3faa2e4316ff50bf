//! Clause 2.2 (verification results, IIN / birth date cross-check) and corrections and
//! supplements that keep history.

use crate::common::*;
use chrono::Duration;
use derbes_service::{
    NewSubjectInput, ServiceError, Source, SourceKind, SubjectView, ValueView, Verification,
    VerificationInput, VerificationStatus,
};
use serde_json::json;

fn value<'a>(view: &'a SubjectView, category: &str) -> &'a ValueView {
    view.values
        .iter()
        .find(|v| v.category == category)
        .unwrap_or_else(|| panic!("no {category} in the view"))
}

fn iin_check(view: &SubjectView) -> Option<Verification> {
    value(view, "birth_date").verification.clone()
}

#[tokio::test]
async fn c2_2_iin_birth_date_mismatch_is_flagged() {
    for env in envs().await {
        let contract = sys("contract");
        // 791028302728: born 1979-10-28.
        let iin = "791028302728";
        let stated_wrong = NewSubjectInput {
            values: vec![
                val("iin", json!(iin)),
                val("birth_date", json!("1979-10-25")),
            ],
        };
        let created = env
            .vault
            .create_subject(&contract, stated_wrong)
            .await
            .unwrap();
        let v = iin_check(&created).expect("a verification on the birth date");
        assert_eq!(v.status, VerificationStatus::Mismatch, "[{}]", env.name());
        assert_eq!(v.check, "iin_birth_date");
        assert_eq!(v.by, "automatic");
        assert_eq!(v.at, t0());
        let read = env
            .vault
            .read_subject(&contract, created.id, None)
            .await
            .unwrap();
        assert_eq!(iin_check(&read), Some(v.clone()), "[{}] stored", env.name());
        // A flag, never a silent correction: the stated date is kept as stated.
        assert_eq!(value(&read, "birth_date").value, json!("1979-10-25"));
        // The IIN itself carries no verification.
        assert_eq!(value(&read, "iin").verification, None);

        // A matching one is consistent.
        let right = NewSubjectInput {
            values: vec![
                val("iin", json!("061211600012")),
                val("birth_date", json!("2006-12-11")),
            ],
        };
        let ok = env.vault.create_subject(&contract, right).await.unwrap();
        let read_ok = env
            .vault
            .read_subject(&contract, ok.id, None)
            .await
            .unwrap();
        assert_eq!(
            iin_check(&read_ok).map(|v| v.status),
            Some(VerificationStatus::Consistent),
            "[{}]",
            env.name()
        );

        // Correcting the birth date to the IIN's clears the flag.
        env.clock.advance(Duration::minutes(10));
        let corrected = env
            .vault
            .correct_values(
                &contract,
                created.id,
                vec![val("birth_date", json!("1979-10-28"))],
            )
            .await
            .unwrap();
        assert_eq!(
            iin_check(&corrected).map(|v| v.status),
            Some(VerificationStatus::Consistent),
            "[{}]",
            env.name()
        );
        let read = env
            .vault
            .read_subject(&contract, created.id, None)
            .await
            .unwrap();
        let v = iin_check(&read).unwrap();
        assert_eq!(v.status, VerificationStatus::Consistent, "[{}]", env.name());
        assert_eq!(v.at, t0() + Duration::minutes(10));

        // Correcting the IIN to one with another birth date flags the (unchanged) birth date.
        env.clock.advance(Duration::minutes(10));
        let other_iin = any_iin("791029", 100);
        env.vault
            .correct_values(&contract, created.id, vec![val("iin", json!(other_iin))])
            .await
            .unwrap();
        let read = env
            .vault
            .read_subject(&contract, created.id, None)
            .await
            .unwrap();
        assert_eq!(
            iin_check(&read).map(|v| v.status),
            Some(VerificationStatus::Mismatch),
            "[{}] birth date flagged after the IIN changed",
            env.name()
        );

        // A demo subject with a deliberate mismatch is flagged; the others are consistent.
        let people = demo(61, 300);
        let odd = people
            .iter()
            .find(|d| derbes_demo::is_deliberate_mismatch(d))
            .expect("about 1 % of demo subjects");
        let normal = people
            .iter()
            .find(|d| !derbes_demo::is_deliberate_mismatch(d))
            .unwrap();
        for (d, status) in [
            (odd, VerificationStatus::Mismatch),
            (normal, VerificationStatus::Consistent),
        ] {
            let c = env
                .vault
                .create_subject(&contract, input_of(d))
                .await
                .unwrap();
            assert_eq!(
                iin_check(&c).map(|v| v.status),
                Some(status),
                "[{}]",
                env.name()
            );
        }
    }
}

#[tokio::test]
async fn c2_2_record_verification_stores_a_bureau_verification() {
    for env in envs().await {
        let contract = sys("contract");
        let d = &demo(62, 1)[0];
        let id = env
            .vault
            .create_subject(&contract, input_of(d))
            .await
            .unwrap()
            .id;
        env.clock.advance(Duration::hours(2));
        let v = env
            .vault
            .record_verification(
                &contract,
                id,
                "iin",
                VerificationInput {
                    status: VerificationStatus::Verified,
                    source: Source {
                        kind: SourceKind::CreditBureau,
                        name: Some("ПКБ".into()),
                    },
                    note: Some("report 2026-0042".into()),
                },
            )
            .await
            .unwrap();
        assert_eq!(v.status, VerificationStatus::Verified);
        assert_eq!(v.check, "source_check");
        assert_eq!(v.by, "credit_bureau:ПКБ");
        assert_eq!(v.at, t0() + Duration::hours(2));
        let read = env.vault.read_subject(&contract, id, None).await.unwrap();
        assert_eq!(
            value(&read, "iin").verification,
            Some(v),
            "[{}]",
            env.name()
        );

        // A bureau with no name, a long note, an empty category, an unknown subject, or a
        // category outside the purpose are refused.
        let bureau = |name: Option<&str>, note: Option<String>| VerificationInput {
            status: VerificationStatus::Mismatch,
            source: Source {
                kind: SourceKind::CreditBureau,
                name: name.map(str::to_string),
            },
            note,
        };
        let e = err(
            &env,
            env.vault
                .record_verification(&contract, id, "iin", bureau(None, None))
                .await,
            "nameless",
        );
        assert_eq!(problems(&e)[0].2, "invalid_source", "[{}]", env.name());
        let e = err(
            &env,
            env.vault
                .record_verification(
                    &contract,
                    id,
                    "iin",
                    bureau(Some("ПКБ"), Some("x".repeat(201))),
                )
                .await,
            "long note",
        );
        assert_eq!(problems(&e)[0].2, "invalid_note", "[{}]", env.name());
        let e = err(
            &env,
            env.vault
                .record_verification(&contract, id, "solvency_info", bureau(Some("ПКБ"), None))
                .await,
            "no value",
        );
        assert!(
            matches!(e, ServiceError::ValueMissing(ref c) if c == "solvency_info"),
            "[{}] {e:?}",
            env.name()
        );
        let e = err(
            &env,
            env.vault
                .record_verification(
                    &contract,
                    uuid::Uuid::now_v7(),
                    "iin",
                    bureau(Some("ПКБ"), None),
                )
                .await,
            "no subject",
        );
        assert!(
            matches!(e, ServiceError::SubjectNotFound),
            "[{}] {e:?}",
            env.name()
        );
        let e = err(
            &env,
            env.vault
                .record_verification(&sys("statistics"), id, "iin", bureau(Some("ПКБ"), None))
                .await,
            "outside purpose",
        );
        assert!(
            matches!(e, ServiceError::CategoryNotAllowed(_)),
            "[{}] {e:?}",
            env.name()
        );
        // The stored verification is unchanged by the refused ones.
        let read = env.vault.read_subject(&contract, id, None).await.unwrap();
        assert_eq!(
            value(&read, "iin").verification.as_ref().map(|v| v.status),
            Some(VerificationStatus::Verified)
        );
    }
}

#[tokio::test]
async fn c2_2_correction_keeps_history() {
    for env in envs().await {
        let contract = sys("contract");
        let d = &demo(63, 1)[0];
        let id = env
            .vault
            .create_subject(&contract, input_of(d))
            .await
            .unwrap()
            .id;
        let t1 = t0() + Duration::days(1);
        env.clock.set(t1);
        let new_address = "г. Алматы, ул. Абая, д. 150, кв. 12";
        let bureau = Source {
            kind: SourceKind::CreditBureau,
            name: Some("ГКБ".into()),
        };
        let answer = env
            .vault
            .correct_values(
                &contract,
                id,
                vec![derbes_service::ValueInput {
                    category: "residence_address".into(),
                    value: json!(new_address),
                    source: bureau.clone(),
                    obtained_at: Some(t1 - Duration::hours(1)),
                }],
            )
            .await
            .unwrap();
        // The answer shows what was written.
        assert_eq!(answer.values.len(), 1, "[{}]", env.name());
        assert_eq!(answer.values[0].category, "residence_address");
        assert_eq!(answer.values[0].version, 2);
        assert_eq!(answer.values[0].change, "correct");

        let h = env
            .vault
            .history(&contract, id, "residence_address")
            .await
            .unwrap();
        assert_eq!(h.len(), 2, "[{}]", env.name());
        assert_eq!(h[0].version, 1);
        assert_eq!(h[0].value, json!(s(d, "residence_address")));
        assert_eq!(h[0].change, "create");
        assert_eq!(
            h[0].superseded_at,
            Some(t1),
            "[{}] old one superseded",
            env.name()
        );
        assert_eq!(h[0].source, from_subject());
        assert_eq!(h[1].version, 2);
        assert_eq!(h[1].value, json!(new_address));
        assert_eq!(h[1].change, "correct");
        assert_eq!(h[1].superseded_at, None);
        assert_eq!(h[1].source, bureau);
        assert_eq!(h[1].obtained_at, t1 - Duration::hours(1));
        assert_eq!(h[1].recorded_at, t1);

        // A read shows only the current value.
        let read = env.vault.read_subject(&contract, id, None).await.unwrap();
        let cur = value(&read, "residence_address");
        assert_eq!(cur.value, json!(new_address));
        assert_eq!(cur.version, 2);
        assert_eq!(read.values.len(), derbes_demo::CATEGORIES.len());

        // A third version.
        env.clock.set(t1 + Duration::days(1));
        env.vault
            .correct_values(
                &contract,
                id,
                vec![val(
                    "residence_address",
                    json!(s(d, "registration_address")),
                )],
            )
            .await
            .unwrap();
        let h = env
            .vault
            .history(&contract, id, "residence_address")
            .await
            .unwrap();
        let versions: Vec<(i64, bool)> = h
            .iter()
            .map(|v| (v.version, v.superseded_at.is_some()))
            .collect();
        assert_eq!(
            versions,
            [(1, true), (2, true), (3, false)],
            "[{}]",
            env.name()
        );
    }
}

#[tokio::test]
async fn c2_2_correcting_empty_or_supplementing_filled_is_refused() {
    for env in envs().await {
        let contract = sys("contract");
        let d = &demo(64, 1)[0];
        let id = env
            .vault
            .create_subject(&contract, input_of(d))
            .await
            .unwrap()
            .id;

        // solvency_info is not in demo subjects.
        let e = err(
            &env,
            env.vault
                .correct_values(
                    &contract,
                    id,
                    vec![val("solvency_info", json!("нет долгов"))],
                )
                .await,
            "correct empty",
        );
        assert!(
            matches!(e, ServiceError::ValueMissing(ref c) if c == "solvency_info"),
            "[{}] {e:?}",
            env.name()
        );
        let e = err(
            &env,
            env.vault
                .supplement_values(
                    &contract,
                    id,
                    vec![val("email", json!("second@example.kz"))],
                )
                .await,
            "supplement filled",
        );
        assert!(
            matches!(e, ServiceError::ValueExists(ref c) if c == "email"),
            "[{}] {e:?}",
            env.name()
        );
        // A mixed request is all or nothing: the valid supplement is not written either.
        let e = err(
            &env,
            env.vault
                .supplement_values(
                    &contract,
                    id,
                    vec![
                        val("property_type", json!("rented")),
                        val("email", json!("second@example.kz")),
                    ],
                )
                .await,
            "mixed supplement",
        );
        assert!(
            matches!(e, ServiceError::ValueExists(_)),
            "[{}] {e:?}",
            env.name()
        );
        assert!(env
            .vault
            .history(&contract, id, "property_type")
            .await
            .unwrap()
            .is_empty());
        let h = env.vault.history(&contract, id, "email").await.unwrap();
        assert_eq!(h.len(), 1, "[{}]", env.name());

        // A supplement of an empty category works.
        let added = env
            .vault
            .supplement_values(&contract, id, vec![val("property_type", json!("rented"))])
            .await
            .unwrap();
        assert_eq!(added.values[0].change, "supplement");
        assert_eq!(added.values[0].version, 1);

        // Unknown subject.
        let e = err(
            &env,
            env.vault
                .correct_values(
                    &contract,
                    uuid::Uuid::now_v7(),
                    vec![val("email", json!("a@example.kz"))],
                )
                .await,
            "unknown subject",
        );
        assert!(
            matches!(e, ServiceError::SubjectNotFound),
            "[{}] {e:?}",
            env.name()
        );
        // Invalid value in a correction: nothing written.
        let e = err(
            &env,
            env.vault
                .correct_values(&contract, id, vec![val("iin", json!("900101300011"))])
                .await,
            "bad iin",
        );
        assert_eq!(problems(&e)[0].2, "invalid_iin");
        assert_eq!(
            env.vault.history(&contract, id, "iin").await.unwrap().len(),
            1
        );
    }
}

#[tokio::test]
async fn c2_2_corrected_iin_is_found_by_the_new_one_only() {
    for env in envs().await {
        let contract = sys("contract");
        let people = demo(65, 2);
        let d = &people[0];
        let id = env
            .vault
            .create_subject(&contract, input_of(d))
            .await
            .unwrap()
            .id;
        let other_id = env
            .vault
            .create_subject(&contract, input_of(&people[1]))
            .await
            .unwrap()
            .id;
        let old = s(d, "iin").to_string();
        let new = any_iin(&old[0..6], 9000);
        assert_ne!(new, old);
        env.vault
            .correct_values(&contract, id, vec![val("iin", json!(new))])
            .await
            .unwrap();
        let by_old = env
            .vault
            .find_subjects(&contract, "iin", &json!(old), None)
            .await
            .unwrap();
        assert!(
            by_old.is_empty(),
            "[{}] old IIN still finds the subject",
            env.name()
        );
        let by_new = env
            .vault
            .find_subjects(&contract, "iin", &json!(new), None)
            .await
            .unwrap();
        assert_eq!(by_new.len(), 1, "[{}]", env.name());
        assert_eq!(by_new[0].id, id);

        // The freed IIN may be used by a new subject; a taken one may not be corrected to.
        let e = err(
            &env,
            env.vault
                .correct_values(&contract, other_id, vec![val("iin", json!(new))])
                .await,
            "correct to a taken IIN",
        );
        assert!(
            matches!(e, ServiceError::UniqueValueTaken),
            "[{}] {e:?}",
            env.name()
        );
        let still = env
            .vault
            .read_subject(&contract, other_id, Some(&["iin".into()]))
            .await
            .unwrap();
        assert_eq!(still.values[0].value, json!(s(&people[1], "iin")));
        assert_eq!(
            env.vault
                .history(&contract, other_id, "iin")
                .await
                .unwrap()
                .len(),
            1
        );
        let reuse = NewSubjectInput {
            values: vec![val("iin", json!(old))],
        };
        env.vault.create_subject(&contract, reuse).await.unwrap();
        assert_eq!(env.count().await, 3);

        // Correcting the phone moves its index too.
        let old_phone = s(d, "mobile_phone").to_string();
        let new_phone = "+77000000001";
        env.vault
            .correct_values(
                &contract,
                id,
                vec![val("mobile_phone", json!("8 700 000 00 01"))],
            )
            .await
            .unwrap();
        assert!(env
            .vault
            .find_subjects(&contract, "mobile_phone", &json!(old_phone), None)
            .await
            .unwrap()
            .is_empty());
        let by_phone = env
            .vault
            .find_subjects(&contract, "mobile_phone", &json!(new_phone), None)
            .await
            .unwrap();
        assert_eq!(by_phone.len(), 1, "[{}]", env.name());
        assert_eq!(by_phone[0].id, id);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn c2_2_concurrent_corrections_of_one_value_keep_one_current_version() {
    for env in envs().await {
        let contract = sys("contract");
        let d = &demo(66, 1)[0];
        let id = env
            .vault
            .create_subject(&contract, input_of(d))
            .await
            .unwrap()
            .id;
        let mut tasks = Vec::new();
        for i in 0..12 {
            let vault = env.vault.clone();
            let call = contract.clone();
            tasks.push(tokio::spawn(async move {
                vault
                    .correct_values(
                        &call,
                        id,
                        vec![val("email", json!(format!("n{i}@example.kz")))],
                    )
                    .await
            }));
        }
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        let h = env.vault.history(&contract, id, "email").await.unwrap();
        let versions: Vec<i64> = h.iter().map(|v| v.version).collect();
        assert_eq!(versions, (1..=13).collect::<Vec<_>>(), "[{}]", env.name());
        let current: Vec<_> = h.iter().filter(|v| v.superseded_at.is_none()).collect();
        assert_eq!(
            current.len(),
            1,
            "[{}] exactly one current value",
            env.name()
        );
        assert_eq!(current[0].version, 13);
        // The index follows the current value only.
        let found = env
            .vault
            .find_subjects(&contract, "email", &current[0].value, None)
            .await
            .unwrap();
        assert_eq!(found.len(), 1, "[{}]", env.name());
        for old in h.iter().filter(|v| v.superseded_at.is_some()) {
            let found = env
                .vault
                .find_subjects(&contract, "email", &old.value, None)
                .await
                .unwrap();
            assert!(
                found.is_empty(),
                "[{}] a superseded e-mail still finds",
                env.name()
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn c2_2_concurrent_supplements_of_one_category_only_one_wins() {
    for env in envs().await {
        let contract = sys("contract");
        let d = &demo(67, 1)[0];
        let id = env
            .vault
            .create_subject(&contract, input_of(d))
            .await
            .unwrap()
            .id;
        let choices = [
            "rented",
            "own_house",
            "own_apartment",
            "other",
            "with_relatives",
        ];
        let mut tasks = Vec::new();
        for c in choices {
            let vault = env.vault.clone();
            let call = contract.clone();
            tasks.push(tokio::spawn(async move {
                vault
                    .supplement_values(&call, id, vec![val("property_type", json!(c))])
                    .await
            }));
        }
        let mut won = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(_) => won += 1,
                Err(ServiceError::ValueExists(c)) => assert_eq!(c, "property_type"),
                Err(e) => panic!("[{}] {e:?}", env.name()),
            }
        }
        assert_eq!(won, 1, "[{}]", env.name());
        let h = env
            .vault
            .history(&contract, id, "property_type")
            .await
            .unwrap();
        assert_eq!(h.len(), 1, "[{}]", env.name());
    }
}

#[tokio::test]
async fn c2_2_supplemented_birth_date_is_checked_against_the_held_iin() {
    for env in envs().await {
        let contract = sys("contract");
        let created = env
            .vault
            .create_subject(
                &contract,
                NewSubjectInput {
                    values: vec![val("iin", json!("061211600012"))],
                },
            )
            .await
            .unwrap();
        let answer = env
            .vault
            .supplement_values(
                &contract,
                created.id,
                vec![val("birth_date", json!("2006-12-12"))],
            )
            .await
            .unwrap();
        assert_eq!(
            iin_check(&answer).map(|v| v.status),
            Some(VerificationStatus::Mismatch),
            "[{}]",
            env.name()
        );
    }
}

#[tokio::test]
async fn c2_2_unknown_subject_is_not_found() {
    for env in envs().await {
        let contract = sys("contract");
        let nobody = uuid::Uuid::now_v7();
        let e = err(
            &env,
            env.vault.read_subject(&contract, nobody, None).await,
            "read",
        );
        assert!(
            matches!(e, ServiceError::SubjectNotFound),
            "[{}] {e:?}",
            env.name()
        );
        let e = err(
            &env,
            env.vault.history(&contract, nobody, "iin").await,
            "history",
        );
        assert!(
            matches!(e, ServiceError::SubjectNotFound),
            "[{}] {e:?}",
            env.name()
        );
        let e = err(
            &env,
            env.vault
                .supplement_values(
                    &contract,
                    nobody,
                    vec![val("property_type", json!("rented"))],
                )
                .await,
            "supplement",
        );
        assert!(
            matches!(e, ServiceError::SubjectNotFound),
            "[{}] {e:?}",
            env.name()
        );
    }
}
