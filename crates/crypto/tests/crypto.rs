//! Integration tests of `derbes-crypto` through its public API only.

use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use chrono::{DateTime, TimeZone, Utc};
use derbes_crypto::{
    BlindIndexer, CryptoError, Dek, EnvKeyProvider, FieldAad, FileKeyProvider, KeyProvider,
    KeyRing, WrappedDek, FIELD_OVERHEAD, WRAPPED_DEK_LEN,
};
use proptest::prelude::*;

const ALICE: [u8; 16] = *b"subject-alice-01";
const BOB: [u8; 16] = *b"subject-bob---02";

fn t(day: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, day, 9, 0, 0).unwrap()
}

fn ring() -> KeyRing {
    KeyRing::generate(t(1)).unwrap()
}

fn is_integrity<T: std::fmt::Debug>(r: Result<T, CryptoError>) -> bool {
    matches!(r, Err(CryptoError::Integrity))
}

/// The raw key bytes stored in a saved key file (base64), for "never printed" checks.
fn saved_keys(ring: &KeyRing) -> Vec<Vec<u8>> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys.json");
    ring.save_file(&path).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let mut keys: Vec<String> = v["keks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["key"].as_str().unwrap().to_owned())
        .collect();
    keys.push(v["index_root"].as_str().unwrap().to_owned());
    keys.iter().map(|k| B64.decode(k).unwrap()).collect()
}

// ---- field encryption -------------------------------------------------------------

#[test]
fn c5_3_ciphertext_moved_to_other_subject_fails() {
    let ring = ring();
    let (dek, _) = ring.new_dek(&ALICE).unwrap();
    let blob = dek
        .encrypt(&FieldAad::new(&ALICE, "iin", 1), b"900101300123")
        .unwrap();
    // Same DEK, Bob's associated data.
    assert!(is_integrity(
        dek.decrypt(&FieldAad::new(&BOB, "iin", 1), &blob)
    ));
    // Bob's own DEK and associated data: the blob copied into Bob's row.
    let (bob_dek, _) = ring.new_dek(&BOB).unwrap();
    assert!(is_integrity(
        bob_dek.decrypt(&FieldAad::new(&BOB, "iin", 1), &blob)
    ));
    // Bob's DEK with Alice's associated data.
    assert!(is_integrity(
        bob_dek.decrypt(&FieldAad::new(&ALICE, "iin", 1), &blob)
    ));
    // And the right one still works.
    assert_eq!(
        &*dek
            .decrypt(&FieldAad::new(&ALICE, "iin", 1), &blob)
            .unwrap(),
        b"900101300123"
    );
}

#[test]
fn c5_3_ciphertext_moved_to_other_field_fails() {
    let ring = ring();
    let (dek, _) = ring.new_dek(&ALICE).unwrap();
    let phone = dek
        .encrypt(&FieldAad::new(&ALICE, "phone", 1), b"+77011234567")
        .unwrap();
    let email = dek
        .encrypt(&FieldAad::new(&ALICE, "email", 1), b"a@example.kz")
        .unwrap();
    // Swap the two blobs between fields.
    assert!(is_integrity(
        dek.decrypt(&FieldAad::new(&ALICE, "email", 1), &phone)
    ));
    assert!(is_integrity(
        dek.decrypt(&FieldAad::new(&ALICE, "phone", 1), &email)
    ));
    // Category strings that differ only by case or a trailing byte.
    for other in ["Phone", "phone ", "phon", "phone\0", ""] {
        assert!(is_integrity(
            dek.decrypt(&FieldAad::new(&ALICE, other, 1), &phone)
        ));
    }
}

#[test]
fn c5_3_ciphertext_under_other_dek_version_fails() {
    let ring = ring();
    let (dek, _) = ring.new_dek(&ALICE).unwrap();
    let blob = dek
        .encrypt(&FieldAad::new(&ALICE, "iban", 2), b"KZ86125KZT5004100100")
        .unwrap();
    for v in [0, 1, 3, u32::MAX] {
        assert!(is_integrity(
            dek.decrypt(&FieldAad::new(&ALICE, "iban", v), &blob)
        ));
    }
}

#[test]
fn integrity_error_message_carries_no_data() {
    let ring = ring();
    let (dek, _) = ring.new_dek(&ALICE).unwrap();
    let blob = dek
        .encrypt(&FieldAad::new(&ALICE, "iin", 1), b"900101300123")
        .unwrap();
    let err = dek
        .decrypt(&FieldAad::new(&BOB, "iin", 1), &blob)
        .unwrap_err();
    assert_eq!(err.code(), "integrity");
    assert_eq!(
        err.to_string(),
        "ciphertext does not belong to this subject/field"
    );
    assert!(!format!("{err:?}").contains("900101300123"));
}

#[test]
fn every_single_bit_flip_fails() {
    let ring = ring();
    let (dek, _) = ring.new_dek(&ALICE).unwrap();
    let aad = FieldAad::new(&ALICE, "phone", 1);
    let blob = dek.encrypt(&aad, b"+77011234567").unwrap();
    for bit in 0..blob.len() * 8 {
        let mut bad = blob.clone();
        bad[bit / 8] ^= 1 << (bit % 8);
        assert!(is_integrity(dek.decrypt(&aad, &bad)), "bit {bit}");
    }
}

#[test]
fn every_truncation_and_extension_fails_without_panic() {
    let ring = ring();
    let (dek, _) = ring.new_dek(&ALICE).unwrap();
    let aad = FieldAad::new(&ALICE, "email", 1);
    let blob = dek.encrypt(&aad, b"a@example.kz").unwrap();
    for n in 0..blob.len() {
        assert!(is_integrity(dek.decrypt(&aad, &blob[..n])), "len {n}");
        assert!(is_integrity(dek.decrypt(&aad, &blob[blob.len() - n..])));
    }
    let mut longer = blob.clone();
    longer.push(0);
    assert!(is_integrity(dek.decrypt(&aad, &longer)));
}

// ---- DEK wrapping and rotation -------------------------------------------------------

#[test]
fn wrap_unwrap_round_trip() {
    let ring = ring();
    let (dek, wrapped) = ring.new_dek(&ALICE).unwrap();
    assert_eq!(wrapped.kek_version, 1);
    assert_eq!(wrapped.bytes.len(), WRAPPED_DEK_LEN);
    let aad = FieldAad::new(&ALICE, "iin", 1);
    let blob = dek.encrypt(&aad, b"900101300123").unwrap();
    let again = ring.unwrap_dek(&ALICE, &wrapped).unwrap();
    assert_eq!(&*again.decrypt(&aad, &blob).unwrap(), b"900101300123");
}

#[test]
fn wrapped_dek_of_other_subject_fails() {
    let ring = ring();
    let (_, wrapped) = ring.new_dek(&ALICE).unwrap();
    assert!(is_integrity(ring.unwrap_dek(&BOB, &wrapped)));
    assert!(is_integrity(ring.rewrap(&BOB, &wrapped)));
}

#[test]
fn wrapped_dek_under_other_key_ring_fails() {
    let (_, wrapped) = ring().new_dek(&ALICE).unwrap();
    assert!(is_integrity(ring().unwrap_dek(&ALICE, &wrapped)));
}

#[test]
fn wrapped_dek_bit_flips_and_truncations_fail() {
    let ring = ring();
    let (_, wrapped) = ring.new_dek(&ALICE).unwrap();
    for bit in 0..wrapped.bytes.len() * 8 {
        let mut bad = wrapped.clone();
        bad.bytes[bit / 8] ^= 1 << (bit % 8);
        assert!(is_integrity(ring.unwrap_dek(&ALICE, &bad)), "bit {bit}");
    }
    for n in 0..wrapped.bytes.len() {
        let bad = WrappedDek {
            kek_version: 1,
            bytes: wrapped.bytes[..n].to_vec(),
        };
        assert!(is_integrity(ring.unwrap_dek(&ALICE, &bad)));
    }
}

#[test]
fn unwrap_with_missing_version_is_unknown_key_version() {
    let ring = ring();
    let (_, mut wrapped) = ring.new_dek(&ALICE).unwrap();
    wrapped.kek_version = 9;
    let err = ring.unwrap_dek(&ALICE, &wrapped).unwrap_err();
    assert!(matches!(err, CryptoError::UnknownKeyVersion { version: 9 }));
    assert_eq!(err.code(), "unknown_key_version");
    let err = ring.rewrap(&ALICE, &wrapped).unwrap_err();
    assert_eq!(err.code(), "unknown_key_version");
}

#[test]
fn c5_6_rotate_then_rewrap_keeps_values_readable() {
    let mut ring = ring();
    let (dek, old) = ring.new_dek(&ALICE).unwrap();
    let aad = FieldAad::new(&ALICE, "phone", 1);
    let blob = dek.encrypt(&aad, b"+77011234567").unwrap();

    assert_eq!(ring.rotate(t(2)).unwrap(), 2);
    assert_eq!(ring.current_version(), 2);
    // Old wrapping still unwraps (version 1 is kept).
    let via_old = ring.unwrap_dek(&ALICE, &old).unwrap();
    assert_eq!(&*via_old.decrypt(&aad, &blob).unwrap(), b"+77011234567");
    // Rewrap to the current KEK; the field value is untouched and still decrypts.
    let new = ring.rewrap(&ALICE, &old).unwrap();
    assert_eq!(new.kek_version, 2);
    assert_ne!(new.bytes, old.bytes);
    let via_new = ring.unwrap_dek(&ALICE, &new).unwrap();
    assert_eq!(&*via_new.decrypt(&aad, &blob).unwrap(), b"+77011234567");
    // New DEKs go under version 2.
    assert_eq!(ring.new_dek(&BOB).unwrap().1.kek_version, 2);
    // A wrapping relabelled to another version is refused.
    let relabeled = WrappedDek {
        kek_version: 1,
        bytes: new.bytes.clone(),
    };
    assert!(is_integrity(ring.unwrap_dek(&ALICE, &relabeled)));
}

#[test]
fn versions_and_check_values() {
    let mut ring = ring();
    ring.rotate(t(5)).unwrap();
    let infos = ring.versions();
    assert_eq!(infos.len(), 2);
    assert_eq!((infos[0].version, infos[0].current), (1, false));
    assert_eq!((infos[1].version, infos[1].current), (2, true));
    assert_eq!(infos[1].created_at, t(5));
    for info in &infos {
        assert_eq!(info.check_value.len(), 16);
        assert!(info.check_value.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(
            ring.check_value(info.version).as_deref(),
            Some(&*info.check_value)
        );
    }
    assert_eq!(ring.check_value(3), None);
    assert_ne!(ring.index_check_value(), infos[0].check_value);
    // Other key ring, other check values.
    assert_ne!(
        KeyRing::generate(t(1)).unwrap().check_value(1),
        ring.check_value(1)
    );
}

// ---- key file and providers ----------------------------------------------------------

#[test]
fn key_file_round_trip_with_mode_0600() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys.json");
    let mut ring = ring();
    ring.rotate(t(2)).unwrap();
    ring.save_file(&path).unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);

    let loaded = KeyRing::load_file(&path).unwrap();
    assert_eq!(loaded.versions(), ring.versions());
    assert_eq!(loaded.index_check_value(), ring.index_check_value());
    let (_, wrapped) = ring.new_dek(&ALICE).unwrap();
    loaded.unwrap_dek(&ALICE, &wrapped).unwrap();
    assert_eq!(
        loaded.blind_indexer().index("iin", "900101300123"),
        ring.blind_indexer().index("iin", "900101300123")
    );

    // Saving over an existing file (after a rotation) keeps 0600 and leaves no temp file.
    ring.rotate(t(3)).unwrap();
    ring.save_file(&path).unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert_eq!(KeyRing::load_file(&path).unwrap().current_version(), 3);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);

    let text = std::fs::read_to_string(&path).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["format"], "derbes-keys/1");
    assert_eq!(v["current"], 3);
}

#[test]
fn key_file_readable_by_others_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys.json");
    ring().save_file(&path).unwrap();
    for mode in [0o644, 0o640, 0o604, 0o660, 0o601, 0o610] {
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        let err = KeyRing::load_file(&path).unwrap_err();
        assert_eq!(err.code(), "key_file_permissions", "mode {mode:o}");
        assert!(err.to_string().contains("chmod 600"), "{err}");
    }
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o400)).unwrap();
    KeyRing::load_file(&path).unwrap();
}

#[test]
fn missing_key_file_is_key_file_missing() {
    let dir = tempfile::tempdir().unwrap();
    let err = KeyRing::load_file(dir.path().join("absent.json")).unwrap_err();
    assert_eq!(err.code(), "key_file_missing");
    let err = FileKeyProvider::new(dir.path().join("absent.json"))
        .load()
        .unwrap_err();
    assert_eq!(err.code(), "key_file_missing");
    assert!(!dir.path().join("absent.json").exists());
}

#[test]
fn garbage_key_file_is_invalid() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys.json");
    std::fs::write(&path, b"{\"format\": \"derbes-keys/1\"").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    assert_eq!(
        KeyRing::load_file(&path).unwrap_err().code(),
        "key_file_invalid"
    );
    // A directory is not a key file.
    let sub = dir.path().join("dir");
    std::fs::create_dir(&sub).unwrap();
    std::fs::set_permissions(&sub, std::fs::Permissions::from_mode(0o700)).unwrap();
    assert!(KeyRing::load_file(&sub).is_err());
}

#[test]
fn file_provider_creates_once_with_mode_0600() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data").join("keys.json");
    let provider = FileKeyProvider {
        path: path.clone(),
        create_if_missing: true,
    };
    let (first, created) = provider.load_or_create(t(1)).unwrap();
    assert!(created);
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(
        std::fs::metadata(path.parent().unwrap())
            .unwrap()
            .permissions()
            .mode()
            & 0o077,
        0
    );
    let (second, created) = provider.load_or_create(t(2)).unwrap();
    assert!(!created);
    assert_eq!(second.versions(), first.versions());
    assert_eq!(
        provider.load().unwrap().check_value(1),
        first.check_value(1)
    );
}

#[test]
fn env_provider_reads_base64_json() {
    let ring = ring();
    let value = ring.to_env_value().unwrap();
    let back = KeyRing::from_env_value(&value).unwrap();
    assert_eq!(back.versions(), ring.versions());
    // The same JSON as the key file, base64-encoded.
    let json = B64.decode(value.as_bytes()).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(v["format"], "derbes-keys/1");

    let var = "DERBES_KEYS_TEST_UNSET_4F2A";
    let err = EnvKeyProvider::new(var).load().unwrap_err();
    assert_eq!(err.code(), "key_file_missing");
    assert!(err.to_string().contains(var));
    assert_eq!(EnvKeyProvider::default().var, "DERBES_KEYS");
    let err = KeyRing::from_env_value("%%%").unwrap_err();
    assert_eq!(err.code(), "key_file_invalid");
}

#[test]
fn providers_are_object_safe() {
    let providers: Vec<Box<dyn KeyProvider>> = vec![
        Box::new(FileKeyProvider::new("/nonexistent/derbes/keys.json")),
        Box::new(EnvKeyProvider::new("DERBES_KEYS_TEST_UNSET_9C1B")),
    ];
    for p in providers {
        assert_eq!(p.load().unwrap_err().code(), "key_file_missing");
    }
}

// ---- blind indexes --------------------------------------------------------------------

#[test]
fn blind_index_is_deterministic_and_separated() {
    let ring = ring();
    let ix = ring.blind_indexer();
    let a = ix.index("iin", "900101300123");
    assert_eq!(a, ix.index("iin", "900101300123"));
    assert_eq!(a, ring.blind_indexer().index("iin", "900101300123"));
    assert_eq!(a, ix.clone().index("iin", "900101300123"));
    // Per category, per value, per key ring.
    assert_ne!(a, ix.index("phone", "900101300123"));
    assert_ne!(a, ix.index("iin", "900101300124"));
    assert_ne!(
        a,
        KeyRing::generate(t(1))
            .unwrap()
            .blind_indexer()
            .index("iin", "900101300123")
    );
    // Rotating the KEK does not change blind indexes.
    let mut ring = ring;
    ring.rotate(t(2)).unwrap();
    assert_eq!(a, ring.blind_indexer().index("iin", "900101300123"));
}

#[test]
fn blind_indexer_is_shared_across_threads() {
    fn assert_send_sync<T: Send + Sync + Clone>() {}
    assert_send_sync::<BlindIndexer>();
    assert_send_sync::<Dek>();
    fn assert_send_sync_only<T: Send + Sync>() {}
    assert_send_sync_only::<KeyRing>();

    let ix = ring().blind_indexer();
    let want = ix.index("phone", "+77011234567");
    let shared = Arc::new(ix);
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let ix = BlindIndexer::clone(&shared);
            std::thread::spawn(move || {
                let mut last = [0u8; 32];
                for _ in 0..1000 {
                    last = ix.index("phone", "+77011234567");
                    let _ = ix.index(&format!("cat{i}"), "x");
                }
                last
            })
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap(), want);
    }
}

// ---- nothing secret in Debug -------------------------------------------------------------

#[test]
fn debug_output_contains_no_key_bytes() {
    let mut ring = ring();
    ring.rotate(t(2)).unwrap();
    let (dek, wrapped) = ring.new_dek(&ALICE).unwrap();
    let ix = ring.blind_indexer();
    let _ = ix.index("iin", "1");
    let dbg = format!("{ring:?}\n{ring:#?}\n{dek:?}\n{dek:#?}\n{ix:?}\n{wrapped:?}");
    for key in saved_keys(&ring) {
        assert_eq!(key.len(), 32);
        for needle in [
            B64.encode(&key),
            hex::encode(&key),
            hex::encode_upper(&key),
            format!("{key:?}"),
        ] {
            assert!(!dbg.contains(&needle), "Debug leaks a key: {dbg}");
        }
    }
    assert!(format!("{ring:?}").contains("versions: [1, 2]"));
}

// ---- properties ------------------------------------------------------------------------

fn shared_dek() -> &'static (Dek, [u8; 16]) {
    use std::sync::OnceLock;
    static DEK: OnceLock<(Dek, [u8; 16])> = OnceLock::new();
    DEK.get_or_init(|| (ring().new_dek(&ALICE).unwrap().0, ALICE))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn prop_round_trip(
        plaintext in proptest::collection::vec(any::<u8>(), 0..2048),
        category in ".*",
        subject in any::<[u8; 16]>(),
        version in any::<u32>(),
    ) {
        let (dek, _) = shared_dek();
        let aad = FieldAad::new(&subject, &category, version);
        let blob = dek.encrypt(&aad, &plaintext).unwrap();
        prop_assert_eq!(blob.len(), plaintext.len() + FIELD_OVERHEAD);
        prop_assert_eq!(&*dek.decrypt(&aad, &blob).unwrap(), &plaintext);
    }

    #[test]
    fn prop_other_aad_fails(
        plaintext in proptest::collection::vec(any::<u8>(), 0..256),
        cat_a in "[a-z_]{0,12}",
        cat_b in "[a-z_]{0,12}",
        subj_a in any::<[u8; 16]>(),
        subj_b in any::<[u8; 16]>(),
        ver_a in any::<u32>(),
        ver_b in any::<u32>(),
    ) {
        prop_assume!((&cat_a, subj_a, ver_a) != (&cat_b, subj_b, ver_b));
        let (dek, _) = shared_dek();
        let blob = dek.encrypt(&FieldAad::new(&subj_a, &cat_a, ver_a), &plaintext).unwrap();
        let err = dek.decrypt(&FieldAad::new(&subj_b, &cat_b, ver_b), &blob).unwrap_err();
        prop_assert_eq!(err.code(), "integrity");
    }

    #[test]
    fn prop_single_bit_flip_fails(
        plaintext in proptest::collection::vec(any::<u8>(), 0..256),
        bit in any::<usize>(),
    ) {
        let (dek, subject) = shared_dek();
        let aad = FieldAad::new(subject, "phone", 1);
        let mut blob = dek.encrypt(&aad, &plaintext).unwrap();
        let bit = bit % (blob.len() * 8);
        blob[bit / 8] ^= 1 << (bit % 8);
        prop_assert!(is_integrity(dek.decrypt(&aad, &blob)));
    }

    #[test]
    fn prop_arbitrary_input_never_panics(blob in proptest::collection::vec(any::<u8>(), 0..128)) {
        let (dek, subject) = shared_dek();
        let aad = FieldAad::new(subject, "iin", 1);
        prop_assert!(is_integrity(dek.decrypt(&aad, &blob)));
        let ring = ring();
        let wrapped = WrappedDek { kek_version: 1, bytes: blob.clone() };
        prop_assert!(is_integrity(ring.unwrap_dek(subject, &wrapped)));
        prop_assert!(KeyRing::from_env_value(&String::from_utf8_lossy(&blob)).is_err());
        prop_assert!(KeyRing::from_env_value(&B64.encode(&blob)).is_err());
    }

    #[test]
    fn prop_blind_index_deterministic_and_category_separated(
        cat_a in ".{0,16}",
        cat_b in ".{0,16}",
        value in ".{0,32}",
    ) {
        let ix = blind();
        prop_assert_eq!(ix.index(&cat_a, &value), ix.index(&cat_a, &value));
        if cat_a != cat_b {
            prop_assert_ne!(ix.index(&cat_a, &value), ix.index(&cat_b, &value));
        }
    }
}

fn blind() -> &'static BlindIndexer {
    use std::sync::OnceLock;
    static IX: OnceLock<BlindIndexer> = OnceLock::new();
    IX.get_or_init(|| ring().blind_indexer())
}

// ---- ad-hoc throughput (run with --release --ignored --nocapture; asserts no timing) ----

#[test]
#[ignore = "measurement, not a test: cargo test --release -p derbes-crypto -- --ignored --nocapture"]
fn measure_throughput() {
    use std::hint::black_box;
    use std::time::Instant;

    let ring = ring();
    let ix = ring.blind_indexer();
    let cats = ["iin", "phone", "email", "iban"];
    let values: Vec<String> = (0..100_000u32).map(|i| format!("9001013{i:05}")).collect();
    let _ = ix.index("iin", "warm-up");
    let start = Instant::now();
    for v in &values {
        for c in cats {
            black_box(ix.index(c, v));
        }
    }
    let el = start.elapsed();
    println!(
        "blind index: 400000 calls in {el:?} ({:.0} ns/call)",
        el.as_nanos() as f64 / 400_000.0
    );

    let (dek, wrapped) = ring.new_dek(&ALICE).unwrap();
    let aad = FieldAad::new(&ALICE, "phone", 1);
    let pt = [0x42u8; 64];
    let n = 200_000;
    let start = Instant::now();
    let mut blob = Vec::new();
    for _ in 0..n {
        blob = black_box(dek.encrypt(&aad, &pt).unwrap());
    }
    let el = start.elapsed();
    println!(
        "encrypt 64 B: {:.0} ns/op",
        el.as_nanos() as f64 / f64::from(n)
    );
    let start = Instant::now();
    for _ in 0..n {
        black_box(dek.decrypt(&aad, &blob).unwrap());
    }
    let el = start.elapsed();
    println!(
        "decrypt 64 B: {:.0} ns/op",
        el.as_nanos() as f64 / f64::from(n)
    );

    let n = 100_000;
    let start = Instant::now();
    for _ in 0..n {
        black_box(ring.unwrap_dek(&ALICE, &wrapped).unwrap());
    }
    let el = start.elapsed();
    println!(
        "unwrap_dek (incl. AES key schedule): {:.0} ns/op",
        el.as_nanos() as f64 / f64::from(n)
    );
    let start = Instant::now();
    for _ in 0..n {
        black_box(ring.new_dek(&ALICE).unwrap());
    }
    let el = start.elapsed();
    println!("new_dek: {:.0} ns/op", el.as_nanos() as f64 / f64::from(n));
}
