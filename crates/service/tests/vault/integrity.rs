//! Clause 5.3: values are bound to their subject and field; a database altered behind the
//! service's back fails loudly and never hands out another person's data.

use crate::common::*;
use derbes_service::ServiceError;
use serde_json::json;
use uuid::Uuid;

async fn two(env: &Env, seed: u64) -> (Vec<derbes_demo::DemoSubject>, Uuid, Uuid) {
    let people = demo(seed, 2);
    let a = env
        .vault
        .create_subject(&sys("contract"), input_of(&people[0]))
        .await
        .unwrap()
        .id;
    let b = env
        .vault
        .create_subject(&sys("contract"), input_of(&people[1]))
        .await
        .unwrap()
        .id;
    // Reads under `advertising` below need the subjects' consent (L-PURPOSE).
    grant_consent(env, a, &["advertising"]).await;
    grant_consent(env, b, &["advertising"]).await;
    (people, a, b)
}

/// Reading `id` must fail with `Integrity` and must not contain `forbidden`.
async fn assert_integrity(env: &Env, id: Uuid, categories: Option<&[String]>, forbidden: &str) {
    match env
        .vault
        .read_subject(&sys("contract"), id, categories)
        .await
    {
        Err(ServiceError::Integrity) => {}
        Err(e) => panic!("[{}] expected Integrity, got {e:?}", env.name()),
        Ok(view) => {
            let text = serde_json::to_string(&view).unwrap();
            panic!(
                "[{}] tampered read succeeded (leaks the other person's value: {})",
                env.name(),
                text.contains(forbidden)
            )
        }
    }
}

#[tokio::test]
async fn c5_3_ciphertext_swapped_between_subjects_fails_loudly() {
    for env in envs().await {
        let (people, a, b) = two(&env, 71).await;
        let raw = Raw::connect(&env.db).await;
        let ct_a = raw.ciphertext(a, "iin").await;
        let ct_b = raw.ciphertext(b, "iin").await;
        // The database never holds the IIN in plaintext.
        for ct in [&ct_a, &ct_b] {
            for d in &people {
                let iin = s(d, "iin").as_bytes();
                assert!(!ct.windows(iin.len()).any(|w| w == iin), "[{}]", env.name());
            }
        }
        raw.set_ciphertext(a, "iin", &ct_b).await;
        raw.set_ciphertext(b, "iin", &ct_a).await;
        assert_integrity(&env, a, None, s(&people[1], "iin")).await;
        assert_integrity(&env, b, None, s(&people[0], "iin")).await;
        assert_integrity(&env, a, Some(&["iin".into()]), s(&people[1], "iin")).await;
        // History of the tampered category fails too.
        let h = env.vault.history(&sys("contract"), a, "iin").await;
        assert!(
            matches!(h, Err(ServiceError::Integrity)),
            "[{}] {h:?}",
            env.name()
        );
        // Search by B's IIN lands on A's row (the index still points at B, whose row now holds
        // A's ciphertext): it must fail, not return anything.
        let found = env
            .vault
            .find_subjects(&sys("contract"), "iin", &json!(s(&people[1], "iin")), None)
            .await;
        assert!(
            matches!(found, Err(ServiceError::Integrity)),
            "[{}] {found:?}",
            env.name()
        );
        // Categories not touched still read under a purpose that does not include the IIN.
        let ads = env
            .vault
            .read_subject(&sys("advertising"), a, None)
            .await
            .unwrap();
        assert_eq!(ads.values.len(), 2);

        // Put them back: everything reads again (the failure was the tamper, not the keys).
        raw.set_ciphertext(a, "iin", &ct_a).await;
        raw.set_ciphertext(b, "iin", &ct_b).await;
        let read = env
            .vault
            .read_subject(&sys("contract"), a, None)
            .await
            .unwrap();
        assert!(read
            .values
            .iter()
            .any(|v| v.value == json!(s(&people[0], "iin"))));
        raw.close().await;
    }
}

#[tokio::test]
async fn c5_3_ciphertext_moved_between_fields_fails() {
    for env in envs().await {
        let (people, a, _b) = two(&env, 72).await;
        let raw = Raw::connect(&env.db).await;
        // Home and work phones have the same kind: a swap would parse fine if not bound.
        let home = raw.ciphertext(a, "home_phone").await;
        let work = raw.ciphertext(a, "work_phone").await;
        raw.set_ciphertext(a, "home_phone", &work).await;
        raw.set_ciphertext(a, "work_phone", &home).await;
        assert_integrity(
            &env,
            a,
            Some(&["home_phone".into()]),
            s(&people[0], "work_phone"),
        )
        .await;
        assert_integrity(
            &env,
            a,
            Some(&["work_phone".into()]),
            s(&people[0], "home_phone"),
        )
        .await;
        raw.set_ciphertext(a, "home_phone", &home).await;
        raw.set_ciphertext(a, "work_phone", &work).await;

        // The IIN copied over the e-mail.
        let iin = raw.ciphertext(a, "iin").await;
        raw.set_ciphertext(a, "email", &iin).await;
        assert_integrity(&env, a, Some(&["email".into()]), s(&people[0], "iin")).await;
        let ads = env.vault.read_subject(&sys("advertising"), a, None).await;
        assert!(
            matches!(ads, Err(ServiceError::Integrity)),
            "[{}] {ads:?}",
            env.name()
        );

        // One flipped bit.
        let mut flipped = raw.ciphertext(a, "full_name").await;
        let mid = flipped.len() / 2;
        flipped[mid] ^= 1;
        raw.set_ciphertext(a, "full_name", &flipped).await;
        assert_integrity(&env, a, Some(&["full_name".into()]), "").await;
        raw.close().await;
    }
}

#[tokio::test]
async fn c5_3_wrapped_dek_swapped_between_subjects_fails() {
    for env in envs().await {
        let (people, a, b) = two(&env, 73).await;
        let raw = Raw::connect(&env.db).await;
        let dek_a = raw.wrapped_dek(a).await;
        let dek_b = raw.wrapped_dek(b).await;
        // Swapping the data keys and all values would be a full swap; swap only the keys.
        raw.set_wrapped_dek(a, &dek_b).await;
        raw.set_wrapped_dek(b, &dek_a).await;
        assert_integrity(&env, a, None, s(&people[1], "iin")).await;
        assert_integrity(&env, b, None, s(&people[0], "iin")).await;
        // Even a purpose that reads one harmless category.
        let stats = env.vault.read_subject(&sys("statistics"), a, None).await;
        assert!(
            matches!(stats, Err(ServiceError::Integrity)),
            "[{}] {stats:?}",
            env.name()
        );
        let found = env
            .vault
            .find_subjects(&sys("contract"), "iin", &json!(s(&people[0], "iin")), None)
            .await;
        assert!(
            matches!(found, Err(ServiceError::Integrity)),
            "[{}] {found:?}",
            env.name()
        );
        let h = env.vault.history(&sys("contract"), a, "email").await;
        assert!(
            matches!(h, Err(ServiceError::Integrity)),
            "[{}] {h:?}",
            env.name()
        );
        // A write needs the key too: refused, nothing written.
        let w = env
            .vault
            .correct_values(
                &sys("contract"),
                a,
                vec![val("email", json!("new@example.kz"))],
            )
            .await;
        assert!(
            matches!(w, Err(ServiceError::Integrity)),
            "[{}] {w:?}",
            env.name()
        );
        raw.set_wrapped_dek(a, &dek_a).await;
        raw.set_wrapped_dek(b, &dek_b).await;
        let h = env
            .vault
            .history(&sys("contract"), a, "email")
            .await
            .unwrap();
        assert_eq!(h.len(), 1, "[{}]", env.name());
        raw.close().await;
    }
}

#[tokio::test]
async fn c5_3_blind_index_pointed_at_another_subject_never_returns_them() {
    for env in envs().await {
        let (people, a, b) = two(&env, 74).await;
        let raw = Raw::connect(&env.db).await;
        let contract = sys("contract");
        let iin_a = s(&people[0], "iin");

        // A's IIN hash now belongs to B.
        let hash_a = raw.index_hash(a, "iin").await;
        raw.delete_index(a, "iin").await;
        raw.set_index_hash(b, "iin", &hash_a).await;
        let found = env
            .vault
            .find_subjects(&contract, "iin", &json!(iin_a), None)
            .await;
        match found {
            Err(ServiceError::Integrity) => {}
            Ok(v) if v.is_empty() => {}
            Ok(v) => panic!(
                "[{}] search by A's IIN returned {} subject(s), B among them: {}",
                env.name(),
                v.len(),
                v.iter().any(|x| x.id == b)
            ),
            Err(e) => panic!("[{}] {e:?}", env.name()),
        }

        // The same through a non-unique index (e-mail): A's e-mail hash added to B.
        let email_a = s(&people[0], "email");
        let hash_email_a = raw.index_hash(a, "email").await;
        raw.set_index_hash(b, "email", &hash_email_a).await;
        let found = env
            .vault
            .find_subjects(&sys("advertising"), "email", &json!(email_a), None)
            .await;
        match found {
            Err(ServiceError::Integrity) => {}
            Ok(v) => assert!(
                v.iter().all(|x| x.id == a),
                "[{}] search by A's e-mail returned B",
                env.name()
            ),
            Err(e) => panic!("[{}] {e:?}", env.name()),
        }
        raw.close().await;
    }
}
