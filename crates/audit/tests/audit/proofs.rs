//! Checkpoints and JSON proofs, verified the way a third party would: with the public key
//! only (clause 8.1; L-PROTECTION).

use derbes_audit::{
    checkpoint_text, key_id, parse_public_key, public_key_to_base64, verify_checkpoint,
    verify_checkpoint_json, verify_consistency_json, verify_inclusion_json, AuditSigner,
    Checkpoint, ConsistencyProof, Entry, InclusionProof, MerkleAccumulator, ProofError,
};
use serde_json::Value;

use crate::support::{fixture, signer, T0};

fn leaves(log: &[Entry]) -> Vec<[u8; 32]> {
    log.iter().map(Entry::leaf_hash).collect()
}

#[test]
fn c8_1_checkpoint_text_and_signature() {
    let s = signer(7);
    let root = [0xabu8; 32];
    let cp = s.sign(1000, root, T0);
    assert_eq!(
        cp.signed_text(),
        "derbes-audit-checkpoint/v1\n1000\nq6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s=\n1767225600000000\n"
    );
    assert_eq!(cp.signed_text(), checkpoint_text(1000, &root, T0));
    assert!(verify_checkpoint(&cp, &s.public_key()));
    assert!(!verify_checkpoint(&cp, &signer(8).public_key()));
    assert_eq!(cp.key_id, key_id(&s.public_key()));
    assert_eq!(cp.key_id.len(), 16);
    // Ed25519 is deterministic: the same inputs give the same checkpoint.
    assert_eq!(s.sign(1000, root, T0), cp);

    let json = serde_json::to_value(&cp).unwrap();
    assert_eq!(json["tree_size"], 1000);
    assert_eq!(json["root"], "q6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s=");
    assert_eq!(json["at"], T0);
    assert_eq!(json["key_id"], cp.key_id.as_str());
    let back = verify_checkpoint_json(&json.to_string(), &[s.public_key()]).unwrap();
    assert_eq!(back, cp);
}

#[test]
fn c5_6_signer_round_trips_and_hides_its_secret() {
    let s = AuditSigner::generate();
    let again = AuditSigner::from_bytes(&s.to_bytes());
    assert_eq!(again.public_key(), s.public_key());
    assert_eq!(again.key_id(), s.key_id());
    assert_ne!(AuditSigner::generate().public_key(), s.public_key());
    let dbg = format!("{s:?}");
    assert!(dbg.contains(s.key_id()));
    assert!(!dbg.contains(&hex::encode(*s.to_bytes())));
    // Public key text forms.
    let pk = s.public_key();
    assert_eq!(parse_public_key(&public_key_to_base64(&pk)).unwrap(), pk);
    assert_eq!(
        parse_public_key(&format!("  {}\n", hex::encode(pk.as_bytes()))).unwrap(),
        pk
    );
    assert!(matches!(
        parse_public_key("not a key"),
        Err(ProofError::Malformed(_))
    ));
}

#[test]
fn c8_1_inclusion_proof_json_verifies_with_the_public_key_only() {
    let (log, cps, s) = fixture();
    let l = leaves(&log);
    let pk = s.public_key();
    for (index, cp) in [
        (0u64, &cps[0]),
        (437, &cps[4]),
        (437, &cps[9]),
        (999, &cps[9]),
        (99, &cps[0]),
    ] {
        let proof = InclusionProof::build(&l, index, cp)
            .unwrap()
            .with_entry(log[index as usize].clone());
        let json = serde_json::to_string_pretty(&proof).unwrap();
        let v: Value = serde_json::from_str(&json).unwrap();
        for key in [
            "leaf_index",
            "tree_size",
            "leaf_hash",
            "audit_path",
            "checkpoint",
            "entry",
        ] {
            assert!(v.get(key).is_some(), "{key}");
        }
        assert_eq!(verify_inclusion_json(&json, &[pk]).unwrap(), proof);
        // Without the entry it still verifies (leaf hash only).
        let mut bare = proof.clone();
        bare.entry = None;
        let bare_json = serde_json::to_string(&bare).unwrap();
        assert!(!bare_json.contains("\"entry\""));
        assert!(verify_inclusion_json(&bare_json, &[pk]).is_ok());
    }
}

#[test]
fn c8_1_tampered_inclusion_proofs_are_rejected() {
    let (log, cps, s) = fixture();
    let l = leaves(&log);
    let keys = [s.public_key()];
    let good = InclusionProof::build(&l, 437, &cps[4])
        .unwrap()
        .with_entry(log[437].clone());
    type Change = fn(&mut InclusionProof);
    let cases: &[(Change, &str)] = &[
        (|p| p.leaf_index = 436, "audit.proof.entry_mismatch"),
        (|p| p.audit_path[2][5] ^= 1, "audit.proof.inclusion_failed"),
        (|p| p.leaf_hash[0] ^= 1, "audit.proof.entry_mismatch"),
        (|p| p.tree_size = 600, "audit.proof.size_mismatch"),
        (|p| p.checkpoint.root[0] ^= 1, "audit.proof.bad_signature"),
        (
            |p| p.checkpoint.tree_size = 501,
            "audit.proof.bad_signature",
        ),
        (
            |p| p.checkpoint.key_id = "0011223344556677".into(),
            "audit.proof.unknown_key",
        ),
        (
            |p| p.entry.as_mut().unwrap().purpose = Some("marketing".into()),
            "audit.proof.entry_mismatch",
        ),
        (
            |p| p.entry.as_mut().unwrap().hash[0] ^= 1,
            "audit.proof.entry_mismatch",
        ),
    ];
    for (change, code) in cases {
        let mut p = good.clone();
        change(&mut p);
        let json = serde_json::to_string(&p).unwrap();
        let err = verify_inclusion_json(&json, &keys).unwrap_err();
        assert_eq!(err.code(), *code, "{err}");
    }
    // Without the entry, a changed index is caught by the path.
    let mut p = good.clone();
    p.entry = None;
    p.leaf_index = 436;
    let err = verify_inclusion_json(&serde_json::to_string(&p).unwrap(), &keys).unwrap_err();
    assert_eq!(err, ProofError::InclusionFailed);
    // The proof for one checkpoint does not verify against a later one.
    let mut p = good.clone();
    p.checkpoint = cps[5].clone();
    p.tree_size = cps[5].tree_size;
    assert_eq!(p.verify(&keys), Err(ProofError::InclusionFailed));
    // Another key.
    assert_eq!(
        good.verify(&[signer(9).public_key()]),
        Err(ProofError::UnknownKey {
            key_id: s.key_id().to_owned()
        })
    );
    // Malformed JSON.
    for bad in ["", "{}", "[1,2]", r#"{"leaf_index":1}"#] {
        assert!(
            matches!(
                verify_inclusion_json(bad, &keys),
                Err(ProofError::Malformed(_))
            ),
            "{bad}"
        );
    }
    let mut v = serde_json::to_value(&good).unwrap();
    v["audit_path"][0] = Value::from("AAAA");
    assert!(matches!(
        verify_inclusion_json(&v.to_string(), &keys),
        Err(ProofError::Malformed(_))
    ));
}

#[test]
fn c8_1_consistency_proof_json_verifies_and_rejects_rewritten_history() {
    let (log, cps, s) = fixture();
    let l = leaves(&log);
    let keys = [s.public_key()];
    for (a, b) in [(0usize, 9usize), (2, 7), (4, 4), (6, 9)] {
        let proof = ConsistencyProof::build(&l, &cps[a], &cps[b]).unwrap();
        let json = serde_json::to_string(&proof).unwrap();
        let v: Value = serde_json::from_str(&json).unwrap();
        assert!(v["old"].is_object() && v["new"].is_object() && v["proof"].is_array());
        assert_eq!(verify_consistency_json(&json, &keys).unwrap(), proof);
    }
    let good = ConsistencyProof::build(&l, &cps[2], &cps[7]).unwrap();
    let mut p = good.clone();
    p.proof[0][0] ^= 1;
    assert_eq!(p.verify(&keys), Err(ProofError::ConsistencyFailed));
    let mut p = good.clone();
    p.old.root[0] ^= 1;
    assert_eq!(
        p.verify(&keys),
        Err(ProofError::BadSignature { which: "old" })
    );
    let mut p = good.clone();
    p.new.signature[0] ^= 1;
    assert_eq!(
        p.verify(&keys),
        Err(ProofError::BadSignature { which: "new" })
    );
    let mut p = good.clone();
    std::mem::swap(&mut p.old, &mut p.new);
    assert_eq!(p.verify(&keys), Err(ProofError::SizeMismatch));

    // A signer who rewrites history and signs the new root: the signatures are genuine but
    // the two checkpoints are not consistent, whatever proof is offered.
    let mut forged_log = log.clone();
    forged_log[150].detail = Some("covered-up".into());
    crate::support::rechain(&mut forged_log, 150);
    let fl = leaves(&forged_log);
    let mut acc = MerkleAccumulator::new();
    for x in &fl[..800] {
        acc.push(*x);
    }
    let forged_800 = s.sign(800, acc.root(), T0 + 9);
    let p = ConsistencyProof::build(&fl, &cps[2], &forged_800).unwrap();
    assert_eq!(p.verify(&keys), Err(ProofError::ConsistencyFailed));
    let p = ConsistencyProof {
        old: cps[2].clone(),
        new: forged_800,
        proof: good.proof.clone(),
    };
    assert_eq!(p.verify(&keys), Err(ProofError::ConsistencyFailed));
}

#[test]
fn c8_1_checkpoint_json_rejects_bad_lengths() {
    let s = signer(7);
    let cp: Checkpoint = s.sign(5, [1; 32], T0);
    let mut v = serde_json::to_value(&cp).unwrap();
    v["signature"] = Value::from(derbes_audit::b64::encode(&[0u8; 63]));
    assert!(matches!(
        verify_checkpoint_json(&v.to_string(), &[s.public_key()]),
        Err(ProofError::Malformed(_))
    ));
}

/// Writes sample proofs for the Python verifier in `PROOFS.md` when `DERBES_AUDIT_SAMPLES`
/// names a directory (run by hand; see `PROOFS.md`).
#[test]
fn c8_1_write_samples_for_the_external_verifier() {
    let Ok(dir) = std::env::var("DERBES_AUDIT_SAMPLES") else {
        return;
    };
    let (log, cps, s) = fixture();
    let l = leaves(&log);
    let dir = std::path::Path::new(&dir);
    std::fs::write(
        dir.join("public_key.txt"),
        public_key_to_base64(&s.public_key()),
    )
    .unwrap();
    let inc = InclusionProof::build(&l, 437, &cps[9])
        .unwrap()
        .with_entry(log[437].clone());
    std::fs::write(
        dir.join("inclusion.json"),
        serde_json::to_string_pretty(&inc).unwrap(),
    )
    .unwrap();
    let con = ConsistencyProof::build(&l, &cps[2], &cps[9]).unwrap();
    std::fs::write(
        dir.join("consistency.json"),
        serde_json::to_string_pretty(&con).unwrap(),
    )
    .unwrap();
    let mut bad = inc.clone();
    bad.audit_path[1][0] ^= 1;
    std::fs::write(
        dir.join("inclusion_bad.json"),
        serde_json::to_string_pretty(&bad).unwrap(),
    )
    .unwrap();
}
