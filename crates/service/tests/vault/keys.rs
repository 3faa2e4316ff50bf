//! Clauses 5.3 and 5.6: the vault refuses the wrong keys, and master keys rotate without
//! losing any subject.

use crate::common::*;
use derbes_crypto::KeyRing;
use derbes_service::ServiceError;
use serde_json::json;
use std::sync::Arc;

#[tokio::test]
async fn c5_3_other_key_ring_is_refused_same_is_accepted() {
    for env in envs().await {
        let contract = sys("contract");
        let d = &demo(81, 1)[0];
        let id = env
            .vault
            .create_subject(&contract, input_of(d))
            .await
            .unwrap()
            .id;

        let stranger = Arc::new(KeyRing::generate(t0()).unwrap());
        match env.reopen(stranger).await {
            Err(ServiceError::KeyMismatch(_)) => {}
            Err(e) => panic!("[{}] expected KeyMismatch, got {e:?}", env.name()),
            Ok(_) => panic!("[{}] a vault opened with foreign keys", env.name()),
        }
        // The refused attempt did not overwrite the stored key check.
        let again = env.reopen(env.keys.clone()).await.unwrap();
        let read = again.read_subject(&contract, id, None).await.unwrap();
        assert!(read.values.iter().any(|v| v.value == json!(s(d, "iin"))));
        // A copy of the same keys (as loaded from the key file) is the same key ring.
        let copy = KeyRing::from_env_value(&env.keys.to_env_value().unwrap()).unwrap();
        let third = env.reopen(Arc::new(copy)).await.unwrap();
        let found = third
            .find_subjects(&contract, "iin", &json!(s(d, "iin")), None)
            .await
            .unwrap();
        assert_eq!(found.len(), 1, "[{}]", env.name());
        again.shutdown().await;
        third.shutdown().await;
    }
}

#[tokio::test]
async fn c5_3_store_with_subjects_but_no_key_check_is_refused() {
    for env in envs().await {
        env.vault
            .create_subject(&sys("contract"), input_of(&demo(82, 1)[0]))
            .await
            .unwrap();
        // Lose the key check (e.g. a restored table without `meta`).
        let raw = Raw::connect(&env.db).await;
        match &raw {
            Raw::Sqlite(p) => {
                sqlx::query("DELETE FROM meta WHERE key = 'key_check'")
                    .execute(p)
                    .await
                    .unwrap();
            }
            Raw::Pg(p) => {
                sqlx::query("DELETE FROM meta WHERE key = 'key_check'")
                    .execute(p)
                    .await
                    .unwrap();
            }
        }
        raw.close().await;
        let r = env.reopen(env.keys.clone()).await;
        assert!(
            matches!(r, Err(ServiceError::KeyMismatch(_))),
            "[{}]",
            env.name()
        );
    }
}

#[tokio::test]
async fn c5_6_rotate_and_rewrap_keeps_every_subject_readable() {
    for env in envs().await {
        let contract = sys("contract");
        let people = demo(83, 20);
        let ids = env
            .vault
            .create_subjects(&contract, people.iter().map(input_of).collect())
            .await
            .unwrap();

        // Rotate a copy of the key ring and save it as the key file would be.
        let dir = std::env::temp_dir().join(format!("derbes_svc_keys_{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("keys.json");
        let mut rotated = KeyRing::from_env_value(&env.keys.to_env_value().unwrap()).unwrap();
        assert_eq!(rotated.rotate(t0()).unwrap(), 2);
        rotated.save_file(&path).unwrap();
        let loaded = Arc::new(KeyRing::load_file(&path).unwrap());
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(loaded.current_version(), 2);

        let vault = env.reopen(loaded.clone()).await.unwrap();
        // Before the rewrap, old subjects read through key version 1 still in the ring.
        vault.read_subject(&contract, ids[0], None).await.unwrap();
        let n = vault.rewrap_all().await.unwrap();
        assert_eq!(n, 20, "[{}]", env.name());
        assert_eq!(
            vault.rewrap_all().await.unwrap(),
            0,
            "[{}] nothing left",
            env.name()
        );
        assert!(env
            .db
            .store
            .subjects_wrapped_below(2, 100)
            .await
            .unwrap()
            .is_empty());

        for (d, id) in people.iter().zip(&ids) {
            let read = vault.read_subject(&contract, *id, None).await.unwrap();
            let iin = read.values.iter().find(|v| v.category == "iin").unwrap();
            assert_eq!(iin.value, json!(s(d, "iin")), "[{}]", env.name());
        }
        // Search still works (the index key is not rotated).
        let found = vault
            .find_subjects(&contract, "iin", &json!(s(&people[5], "iin")), None)
            .await
            .unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].id, ids[5]);
        // New subjects get the new key version and read as well.
        let new = vault
            .create_subject(&contract, input_of(&demo(84, 1)[0]))
            .await
            .unwrap();
        vault.read_subject(&contract, new.id, None).await.unwrap();

        // The old key ring (version 1 only) is now refused: it cannot unwrap anything.
        let old = env.reopen(env.keys.clone()).await;
        assert!(
            matches!(old, Err(ServiceError::KeyMismatch(_))),
            "[{}]",
            env.name()
        );
        vault.shutdown().await;
    }
}
