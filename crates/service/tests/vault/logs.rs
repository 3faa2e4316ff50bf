//! Clauses 4.1–4.2: no personal data in logs or error messages.

use crate::common::*;
use derbes_service::apikeys;
use derbes_service::{Actor, Call, NewSubjectInput, ServiceError};
use serde_json::json;

fn leaks(text: &str, secrets: &[String]) -> Vec<String> {
    secrets
        .iter()
        .filter(|s| !s.is_empty() && text.contains(s.as_str()))
        .cloned()
        .collect()
}

#[tokio::test]
async fn c4_1_no_personal_data_in_logs_or_errors() {
    let mut secrets = Vec::new();
    let mut errors: Vec<ServiceError> = Vec::new();
    // Runs on the test thread and, through the global capture, on every other thread too.
    for env in envs().await {
        let contract = sys("contract");
        let people = demo(91, 6);
        for d in &people {
            secrets.extend(secrets_of(d));
        }
        let bad_iin = "900101300011".to_string();
        let bad_iban = "KZ86125KZT5004100101".to_string();
        let bad_phone = "+1 212 555 0123".to_string();
        let bad_email = "ivanov.petr@@mail.example".to_string();
        secrets.extend([
            bad_iin.clone(),
            bad_iban.clone(),
            "2125550123".into(),
            bad_email.clone(),
        ]);

        // Creates, reads, searches.
        let a = env
            .vault
            .create_subject(&contract, input_of(&people[0]))
            .await
            .unwrap()
            .id;
        let b = env
            .vault
            .create_subject(&contract, input_of(&people[1]))
            .await
            .unwrap()
            .id;
        env.vault
            .create_subjects(&contract, people[2..4].iter().map(input_of).collect())
            .await
            .unwrap();
        env.vault.read_subject(&contract, a, None).await.unwrap();
        for (cat, v) in [
            ("iin", json!(s(&people[1], "iin"))),
            ("email", json!(s(&people[1], "email").to_uppercase())),
            ("mobile_phone", json!(s(&people[1], "mobile_phone"))),
            ("bank_account", json!(iban_of(&people[1]))),
        ] {
            env.vault
                .find_subjects(&contract, cat, &v, None)
                .await
                .unwrap();
        }
        env.vault
            .correct_values(
                &contract,
                b,
                vec![val("email", json!(s(&people[4], "email")))],
            )
            .await
            .unwrap();

        // Invalid inputs and refusals.
        let mut provoke = |r: Result<(), ServiceError>| match r {
            Ok(()) => panic!("[{}] expected an error", env.name()),
            Err(e) => errors.push(e),
        };
        let bad = NewSubjectInput {
            values: vec![
                val("iin", json!(bad_iin)),
                val("bank_account", json!(bad_iban)),
                val("mobile_phone", json!(bad_phone)),
                val("email", json!(bad_email)),
                val(
                    "full_name",
                    json!({"surname": surname_of(&people[5]), "given": "1"}),
                ),
            ],
        };
        provoke(
            env.vault
                .create_subject(&contract, bad.clone())
                .await
                .map(|_| ()),
        );
        provoke(
            env.vault
                .create_subjects(&contract, vec![input_of(&people[5]), bad])
                .await
                .map(|_| ()),
        );
        let dup = input_of(&people[0]);
        provoke(
            env.vault
                .create_subject(&contract, dup.clone())
                .await
                .map(|_| ()),
        );
        provoke(
            env.vault
                .create_subjects(&contract, vec![dup])
                .await
                .map(|_| ()),
        );
        provoke(
            env.vault
                .find_subjects(&contract, "iin", &json!(bad_iin), None)
                .await
                .map(|_| ()),
        );
        provoke(
            env.vault
                .find_subjects(
                    &sys("statistics"),
                    "iin",
                    &json!(s(&people[0], "iin")),
                    None,
                )
                .await
                .map(|_| ()),
        );
        provoke(
            env.vault
                .find_subjects(
                    &contract,
                    "full_name",
                    &json!({"surname": surname_of(&people[0]), "given": "Ерлан"}),
                    None,
                )
                .await
                .map(|_| ()),
        );
        provoke(
            env.vault
                .create_subject(&sys("advertising"), input_of(&people[5]))
                .await
                .map(|_| ()),
        );
        provoke(
            env.vault
                .correct_values(&contract, a, vec![val("iin", json!(s(&people[1], "iin")))])
                .await
                .map(|_| ()),
        );
        provoke(
            env.vault
                .supplement_values(
                    &contract,
                    a,
                    vec![val("email", json!(s(&people[5], "email")))],
                )
                .await
                .map(|_| ()),
        );
        let key_actor = Actor::ApiKey {
            id: "k1".into(),
            name: "site".into(),
            purposes: vec!["advertising".into()],
        };
        provoke(
            env.vault
                .read_subject(&Call::new(key_actor, "contract"), a, None)
                .await
                .map(|_| ()),
        );
        provoke(
            apikeys::authenticate(
                env.db.store.as_ref(),
                &format!("drb_{}", s(&people[0], "iin")),
            )
            .await
            .map(|_| ()),
        );

        // A tamper case: the IIN ciphertexts of A and B swapped.
        let raw = Raw::connect(&env.db).await;
        let ct_a = raw.ciphertext(a, "iin").await;
        let ct_b = raw.ciphertext(b, "iin").await;
        raw.set_ciphertext(a, "iin", &ct_b).await;
        raw.set_ciphertext(b, "iin", &ct_a).await;
        provoke(env.vault.read_subject(&contract, a, None).await.map(|_| ()));
        provoke(
            env.vault
                .find_subjects(&contract, "iin", &json!(s(&people[0], "iin")), None)
                .await
                .map(|_| ()),
        );
        raw.close().await;
    }

    assert!(errors.len() >= 28, "{} errors provoked", errors.len());
    assert!(
        errors.iter().any(|e| matches!(e, ServiceError::Integrity)),
        "the tamper case was provoked"
    );
    for e in &errors {
        for text in [
            format!("{e}"),
            format!("{e:?}"),
            serde_json::to_string(&problems_of(e)).unwrap(),
        ] {
            let found = leaks(&text, &secrets);
            assert!(
                found.is_empty(),
                "error {} leaks personal data: {text}",
                e.code()
            );
        }
    }

    let logs = captured();
    // The capture works: the tamper case is logged (by its code, without the value), and so
    // are the database drivers' statements.
    assert!(
        logs.contains("integrity"),
        "the log capture saw the integrity failure"
    );
    assert!(
        logs.contains("sqlx"),
        "the log capture saw the database layer"
    );
    let found = leaks(&logs, &secrets);
    assert!(
        found.is_empty(),
        "the logs contain {} personal value(s)",
        found.len()
    );
}

fn problems_of(e: &ServiceError) -> Vec<derbes_service::FieldProblem> {
    match e {
        ServiceError::InvalidValues(ps) => ps.clone(),
        _ => Vec::new(),
    }
}
