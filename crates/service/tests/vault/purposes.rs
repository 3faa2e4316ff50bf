//! Clause 1.1 (every call names a known purpose; API keys limited to theirs) and clause 3.2
//! (minimisation: a purpose touches only its categories).

use crate::common::*;
use derbes_service::apikeys;
use derbes_service::{Actor, Call, NewSubjectInput, ServiceError};
use serde_json::json;

fn cats(view: &derbes_service::SubjectView) -> Vec<&str> {
    view.values.iter().map(|v| v.category.as_str()).collect()
}

#[tokio::test]
async fn c3_2_read_returns_only_categories_of_the_purpose() {
    for env in envs().await {
        let d = &demo(21, 1)[0];
        let id = env
            .vault
            .create_subject(&sys("contract"), input_of(d))
            .await
            .unwrap()
            .id;

        let stats = env
            .vault
            .read_subject(&sys("statistics"), id, None)
            .await
            .unwrap();
        // The demo subject holds birth_date, marital_status, salary_amount, salary_day of the
        // statistics map; nothing identifying.
        assert_eq!(
            cats(&stats),
            [
                "birth_date",
                "marital_status",
                "salary_amount",
                "salary_day"
            ],
            "[{}]",
            env.name()
        );
        let text = serde_json::to_string(&stats).unwrap();
        assert!(!text.contains(s(d, "iin")), "[{}]", env.name());
        assert!(!text.contains(&surname_of(d)), "[{}]", env.name());

        // Consent-based purposes (advertising, …) need the subject's grant (L-PURPOSE).
        let consent_based: Vec<&str> = env
            .registry
            .purposes()
            .values()
            .filter(|p| p.legal_basis == derbes_core::registry::LegalBasis::Consent)
            .map(|p| p.code.as_str())
            .collect();
        grant_consent(&env, id, &consent_based).await;
        let ads = env
            .vault
            .read_subject(&sys("advertising"), id, None)
            .await
            .unwrap();
        assert_eq!(cats(&ads), ["email", "mobile_phone"], "[{}]", env.name());
        assert_eq!(ads.purpose, "advertising");

        let settlements = env
            .vault
            .read_subject(&sys("settlements"), id, None)
            .await
            .unwrap();
        assert_eq!(
            cats(&settlements),
            ["bank_account", "full_name", "iin"],
            "[{}]",
            env.name()
        );

        // Every purpose returns exactly the held categories of its map.
        let held: Vec<&str> = derbes_demo::CATEGORIES.to_vec();
        for (code, purpose) in env.registry.purposes() {
            let view = env
                .vault
                .read_subject(&sys(code.as_str()), id, None)
                .await
                .unwrap();
            let mut expected: Vec<&str> = purpose
                .categories
                .iter()
                .map(|c| c.as_str())
                .filter(|c| held.contains(c))
                .collect();
            expected.sort_unstable();
            let mut got = cats(&view);
            got.sort_unstable();
            assert_eq!(got, expected, "[{}] purpose {}", env.name(), code.as_str());
        }

        // Asking for a subset of allowed categories returns only those.
        let only = env
            .vault
            .read_subject(&sys("contract"), id, Some(&["iin".to_string()]))
            .await
            .unwrap();
        assert_eq!(cats(&only), ["iin"]);
    }
}

#[tokio::test]
async fn c3_2_asking_for_a_category_outside_the_purpose_is_refused() {
    for env in envs().await {
        let d = &demo(22, 1)[0];
        let id = env
            .vault
            .create_subject(&sys("contract"), input_of(d))
            .await
            .unwrap()
            .id;
        let asked = [
            "iin".to_string(),
            "birth_date".to_string(),
            "full_name".to_string(),
        ];
        let e = err(
            &env,
            env.vault
                .read_subject(&sys("statistics"), id, Some(&asked))
                .await,
            "iin under statistics",
        );
        match e {
            ServiceError::CategoryNotAllowed(list) => {
                assert_eq!(list, ["full_name", "iin"], "[{}]", env.name())
            }
            other => panic!("[{}] {other:?}", env.name()),
        }
        // Web data is not part of the contract purpose either.
        let e = err(
            &env,
            env.vault
                .read_subject(&sys("contract"), id, Some(&["ip_address".to_string()]))
                .await,
            "ip under contract",
        );
        assert!(
            matches!(&e, ServiceError::CategoryNotAllowed(l) if l == &["ip_address"]),
            "[{}] {e:?}",
            env.name()
        );
        // History is minimised too.
        let e = err(
            &env,
            env.vault.history(&sys("advertising"), id, "iin").await,
            "history of iin under advertising",
        );
        assert!(
            matches!(e, ServiceError::CategoryNotAllowed(_)),
            "[{}] {e:?}",
            env.name()
        );
        // An unknown category is not silently ignored.
        let e = err(
            &env,
            env.vault
                .read_subject(&sys("contract"), id, Some(&["shoe_size".to_string()]))
                .await,
            "unknown category",
        );
        assert_eq!(problems(&e)[0].2, "unknown_category", "[{}]", env.name());
    }
}

#[tokio::test]
async fn c3_2_writing_a_category_outside_the_purpose_is_refused_and_nothing_is_written() {
    for env in envs().await {
        let d = &demo(23, 2);
        // communication may hold contact channels, never the IIN.
        let mut input = NewSubjectInput {
            values: vec![
                val("mobile_phone", json!(s(&d[0], "mobile_phone"))),
                val("iin", json!(s(&d[0], "iin"))),
                val("salary_amount", json!(10_000_000)),
            ],
        };
        let e = err(
            &env,
            env.vault
                .create_subject(&sys("communication"), input.clone())
                .await,
            "iin under communication",
        );
        match &e {
            ServiceError::CategoryNotAllowed(list) => {
                assert_eq!(list, &["iin", "salary_amount"], "[{}]", env.name())
            }
            other => panic!("[{}] {other:?}", env.name()),
        }
        let e = err(
            &env,
            env.vault
                .create_subjects(&sys("communication"), vec![input.clone()])
                .await,
            "bulk iin under communication",
        );
        assert!(
            matches!(e, ServiceError::CategoryNotAllowed(_)),
            "[{}] {e:?}",
            env.name()
        );
        assert_eq!(env.count().await, 0, "[{}] nothing written", env.name());

        // On an existing subject: supplements and corrections are minimised as well.
        input.values.retain(|v| v.category == "mobile_phone");
        let id = env
            .vault
            .create_subject(&sys("communication"), input)
            .await
            .unwrap()
            .id;
        let e = err(
            &env,
            env.vault
                .supplement_values(
                    &sys("communication"),
                    id,
                    vec![val("iin", json!(s(&d[1], "iin")))],
                )
                .await,
            "supplement iin under communication",
        );
        assert!(
            matches!(e, ServiceError::CategoryNotAllowed(_)),
            "[{}] {e:?}",
            env.name()
        );
        let e = err(
            &env,
            env.vault
                .correct_values(
                    &sys("statistics"),
                    id,
                    vec![val("mobile_phone", json!(s(&d[1], "mobile_phone")))],
                )
                .await,
            "correct phone under statistics",
        );
        assert!(
            matches!(e, ServiceError::CategoryNotAllowed(_)),
            "[{}] {e:?}",
            env.name()
        );
        let all = env
            .vault
            .read_subject(&sys("contract"), id, None)
            .await
            .unwrap();
        assert_eq!(cats(&all), ["mobile_phone"], "[{}]", env.name());
        assert_eq!(all.values[0].value, json!(s(&d[0], "mobile_phone")));
        let h = env
            .vault
            .history(&sys("contract"), id, "mobile_phone")
            .await
            .unwrap();
        assert_eq!(h.len(), 1, "[{}] no new version", env.name());
        assert_eq!(env.count().await, 1);
    }
}

#[tokio::test]
async fn c1_1_unknown_purpose_is_refused() {
    for env in envs().await {
        let d = &demo(24, 1)[0];
        for purpose in ["", "marketing", "CONTRACT", "contract ", "statistics;"] {
            let call = sys(purpose);
            let e = err(
                &env,
                env.vault.create_subject(&call, input_of(d)).await,
                "create",
            );
            assert!(
                matches!(e, ServiceError::UnknownPurpose),
                "[{}] {purpose:?}: {e:?}",
                env.name()
            );
            let e = err(
                &env,
                env.vault
                    .read_subject(&call, uuid::Uuid::now_v7(), None)
                    .await,
                "read",
            );
            assert!(
                matches!(e, ServiceError::UnknownPurpose),
                "[{}] {purpose:?}: {e:?}",
                env.name()
            );
            let e = err(
                &env,
                env.vault
                    .find_subjects(&call, "iin", &json!(s(d, "iin")), None)
                    .await,
                "find",
            );
            assert!(
                matches!(e, ServiceError::UnknownPurpose),
                "[{}] {purpose:?}: {e:?}",
                env.name()
            );
        }
        assert_eq!(env.count().await, 0);
    }
}

#[tokio::test]
async fn c1_1_api_key_limited_to_its_purposes() {
    for env in envs().await {
        let store = env.db.store.as_ref();
        let (info, token) = apikeys::create(
            store,
            &env.registry,
            "loan-system",
            &["contract".to_string(), "scoring".to_string()],
            t0(),
        )
        .await
        .unwrap();
        assert_eq!(info.purposes, ["contract", "scoring"]);
        assert!(token.starts_with("drb_"));

        let actor = apikeys::authenticate(store, &token).await.unwrap();
        assert_eq!(
            actor,
            Actor::ApiKey {
                id: info.id.clone(),
                name: "loan-system".into(),
                purposes: vec!["contract".into(), "scoring".into()],
            }
        );
        let d = &demo(25, 1)[0];
        let id = env
            .vault
            .create_subject(&Call::new(actor.clone(), "contract"), input_of(d))
            .await
            .unwrap()
            .id;
        // Its own other purpose works and is minimised.
        let scoring = env
            .vault
            .read_subject(&Call::new(actor.clone(), "scoring"), id, None)
            .await
            .unwrap();
        assert!(!cats(&scoring).contains(&"full_name"));

        // Another purpose, known to the registry, is not permitted.
        for purpose in ["advertising", "statistics", "collection"] {
            let call = Call::new(actor.clone(), purpose);
            let e = err(&env, env.vault.read_subject(&call, id, None).await, "read");
            assert!(
                matches!(e, ServiceError::PurposeNotPermitted),
                "[{}] {e:?}",
                env.name()
            );
            let e = err(
                &env,
                env.vault
                    .create_subject(&call, input_of(&demo(26, 1)[0]))
                    .await,
                "create",
            );
            assert!(
                matches!(e, ServiceError::PurposeNotPermitted),
                "[{}] {e:?}",
                env.name()
            );
            let e = err(
                &env,
                env.vault
                    .find_subjects(&call, "email", &json!(s(d, "email")), None)
                    .await,
                "find",
            );
            assert!(
                matches!(e, ServiceError::PurposeNotPermitted),
                "[{}] {e:?}",
                env.name()
            );
        }
        assert_eq!(env.count().await, 1);

        // Revoked: the token no longer authenticates.
        apikeys::revoke(store, &info.id, t0()).await.unwrap();
        let e = err(&env, apikeys::authenticate(store, &token).await, "revoked");
        assert!(
            matches!(e, ServiceError::Unauthenticated),
            "[{}] {e:?}",
            env.name()
        );
        let listed = apikeys::list(store).await.unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].revoked_at, Some(t0()));

        // Random and malformed tokens.
        let (_, other) = apikeys::create(store, &env.registry, "site", &["contract".into()], t0())
            .await
            .unwrap();
        let mut flipped = other.clone().into_bytes();
        let last = flipped.len() - 1;
        flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
        let flipped = String::from_utf8(flipped).unwrap();
        let long = format!("drb_{}", "A".repeat(200));
        for bad in [
            "",
            "drb_",
            "drb_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            flipped.as_str(),
            &other[4..],
            &format!("Bearer {other}"),
            &format!("{other} "),
            long.as_str(),
            "drb_ä€",
        ] {
            let e = err(&env, apikeys::authenticate(store, bad).await, "bad token");
            assert!(
                matches!(e, ServiceError::Unauthenticated),
                "[{}] {bad:?}: {e:?}",
                env.name()
            );
        }
        assert!(apikeys::authenticate(store, &other).await.is_ok());

        // Keys cannot be made for unknown purposes or without any.
        assert!(matches!(
            apikeys::create(store, &env.registry, "x", &["marketing".into()], t0()).await,
            Err(apikeys::ApiKeyError::UnknownPurpose(_))
        ));
        assert!(matches!(
            apikeys::create(store, &env.registry, "x", &[], t0()).await,
            Err(apikeys::ApiKeyError::NoPurpose)
        ));
    }
}
