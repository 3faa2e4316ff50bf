//! Finding subjects through blind indexes (clause 5.3: no plaintext in the database; 3.2: the
//! purpose must allow the category searched by).

use crate::common::*;
use derbes_service::ServiceError;
use serde_json::json;

#[tokio::test]
async fn c5_3_find_by_iin_phone_email_iban() {
    for env in envs().await {
        let contract = sys("contract");
        let people = demo(31, 3);
        let mut ids = Vec::new();
        for d in &people {
            ids.push(
                env.vault
                    .create_subject(&contract, input_of(d))
                    .await
                    .unwrap()
                    .id,
            );
        }
        let (d, id) = (&people[1], ids[1]);

        let one = |found: Vec<derbes_service::SubjectView>, how: &str| {
            assert_eq!(found.len(), 1, "[{}] {how}", env.name());
            assert_eq!(found[0].id, id, "[{}] {how}", env.name());
            assert_eq!(found[0].purpose, "contract");
            found
        };

        let found = one(
            env.vault
                .find_subjects(&contract, "iin", &json!(s(d, "iin")), None)
                .await
                .unwrap(),
            "iin",
        );
        assert!(found[0]
            .values
            .iter()
            .any(|v| v.category == "iin" && v.value == json!(s(d, "iin"))));

        // Phone typed "8 7xx xxx xx xx" finds the stored "+77xx…".
        let e164 = s(d, "mobile_phone");
        let n = e164.trim_start_matches("+7");
        let typed = format!("8 {} {} {} {}", &n[0..3], &n[3..6], &n[6..8], &n[8..10]);
        one(
            env.vault
                .find_subjects(&contract, "mobile_phone", &json!(typed), None)
                .await
                .unwrap(),
            "phone 8 …",
        );
        let typed = format!("+7({}){}", &n[0..3], &n[3..]);
        one(
            env.vault
                .find_subjects(&contract, "mobile_phone", &json!(typed), None)
                .await
                .unwrap(),
            "phone +7(…)",
        );

        // E-mail in any case.
        one(
            env.vault
                .find_subjects(
                    &contract,
                    "email",
                    &json!(s(d, "email").to_uppercase()),
                    None,
                )
                .await
                .unwrap(),
            "email upper case",
        );

        // IBAN with spaces, lower case.
        let iban = iban_of(d);
        let spaced: String = iban
            .to_ascii_lowercase()
            .chars()
            .enumerate()
            .flat_map(|(i, c)| {
                let sep = (i > 0 && i % 4 == 0).then_some(' ');
                sep.into_iter().chain(std::iter::once(c))
            })
            .collect();
        assert!(spaced.contains(' '));
        one(
            env.vault
                .find_subjects(&contract, "bank_account", &json!(spaced), None)
                .await
                .unwrap(),
            "iban with spaces",
        );

        // A value nobody holds finds nothing.
        let nobody = any_iin("850505", 1234);
        assert!(people.iter().all(|p| s(p, "iin") != nobody));
        let none = env
            .vault
            .find_subjects(&contract, "iin", &json!(nobody), None)
            .await
            .unwrap();
        assert!(none.is_empty(), "[{}]", env.name());

        // The result is minimised to the purpose, and to the categories asked for
        // (advertising is consent-based, L-PURPOSE: granted first).
        grant_consent(&env, id, &["advertising"]).await;
        let ads = env
            .vault
            .find_subjects(&sys("advertising"), "email", &json!(s(d, "email")), None)
            .await
            .unwrap();
        assert_eq!(ads.len(), 1);
        let cats: Vec<&str> = ads[0].values.iter().map(|v| v.category.as_str()).collect();
        assert_eq!(cats, ["email", "mobile_phone"], "[{}]", env.name());
        let only = env
            .vault
            .find_subjects(
                &contract,
                "iin",
                &json!(s(d, "iin")),
                Some(&["full_name".into()]),
            )
            .await
            .unwrap();
        let cats: Vec<&str> = only[0].values.iter().map(|v| v.category.as_str()).collect();
        assert_eq!(cats, ["full_name"], "[{}]", env.name());
    }
}

#[tokio::test]
async fn c5_3_find_returns_every_holder_of_a_non_unique_value() {
    for env in envs().await {
        let contract = sys("contract");
        let people = demo(32, 2);
        let shared = "family@example.kz";
        let mut ids = Vec::new();
        for d in &people {
            let mut input = input_of(d);
            for v in &mut input.values {
                if v.category == "email" {
                    v.value = json!(shared);
                }
            }
            ids.push(env.vault.create_subject(&contract, input).await.unwrap().id);
        }
        let mut found: Vec<_> = env
            .vault
            .find_subjects(&contract, "email", &json!("Family@Example.KZ"), None)
            .await
            .unwrap()
            .into_iter()
            .map(|v| v.id)
            .collect();
        found.sort();
        ids.sort();
        assert_eq!(found, ids, "[{}]", env.name());
    }
}

#[tokio::test]
async fn c3_2_search_by_non_searchable_category_or_outside_purpose_is_refused() {
    for env in envs().await {
        let contract = sys("contract");
        let d = &demo(33, 1)[0];
        env.vault
            .create_subject(&contract, input_of(d))
            .await
            .unwrap();

        let e = err(
            &env,
            env.vault
                .find_subjects(&contract, "full_name", d.get("full_name").unwrap(), None)
                .await,
            "by name",
        );
        assert!(
            matches!(e, ServiceError::NotSearchable),
            "[{}] {e:?}",
            env.name()
        );
        let e = err(
            &env,
            env.vault
                .find_subjects(&contract, "birth_date", &json!(s(d, "birth_date")), None)
                .await,
            "by birth date",
        );
        assert!(
            matches!(e, ServiceError::NotSearchable),
            "[{}] {e:?}",
            env.name()
        );

        // statistics may not touch the IIN, so it may not search by it either.
        let e = err(
            &env,
            env.vault
                .find_subjects(&sys("statistics"), "iin", &json!(s(d, "iin")), None)
                .await,
            "by iin under statistics",
        );
        assert!(
            matches!(&e, ServiceError::CategoryNotAllowed(l) if l == &["iin"]),
            "[{}] {e:?}",
            env.name()
        );
        // advertising may search by e-mail but not ask for the IIN back.
        let e = err(
            &env,
            env.vault
                .find_subjects(
                    &sys("advertising"),
                    "email",
                    &json!(s(d, "email")),
                    Some(&["iin".into()]),
                )
                .await,
            "asking iin back",
        );
        assert!(
            matches!(e, ServiceError::CategoryNotAllowed(_)),
            "[{}] {e:?}",
            env.name()
        );

        // Unknown category, invalid search value.
        let e = err(
            &env,
            env.vault
                .find_subjects(&contract, "passport_no", &json!("x"), None)
                .await,
            "unknown category",
        );
        assert_eq!(problems(&e)[0].2, "unknown_category", "[{}]", env.name());
        let e = err(
            &env,
            env.vault
                .find_subjects(&contract, "iin", &json!("900101300011"), None)
                .await,
            "bad iin",
        );
        assert_eq!(
            problems(&e),
            vec![(
                None,
                "iin".to_string(),
                "invalid_iin".to_string(),
                Some("iin_bad_check_digit".to_string())
            )],
            "[{}]",
            env.name()
        );
    }
}
