//! Tampering with the stored log, as someone with write access to the database but without
//! the signing key would: every change must be detected, at the right first seq and kind
//! (clause 8.1: the log cannot be altered unnoticed; 5.1–5.3: modification, destruction and
//! reordering are detected; L-PROTECTION).

use derbes_audit::{
    verify_log, Action, Checkpoint, CheckpointRef, Entry, Outcome, ProblemKind, VerifyReport,
};

use crate::support::{checkpoints, entries, extend, fixture, rechain, signer, T0};

fn verify(log: &[Entry], cps: &[Checkpoint], keys: &[derbes_audit::VerifyingKey]) -> VerifyReport {
    verify_log(log.iter().cloned(), cps, keys)
}

#[track_caller]
fn assert_problem(report: &VerifyReport, seq: u64, kind: ProblemKind) {
    let p = report
        .problem
        .as_ref()
        .unwrap_or_else(|| panic!("no problem reported: {report:?}"));
    assert_eq!((p.seq, p.kind), (seq, kind), "{p}");
}

#[test]
fn c8_1_intact_log_verifies() {
    let (log, cps, s) = fixture();
    let r = verify(&log, &cps, &[s.public_key()]);
    assert!(r.is_ok(), "{:?}", r.problem);
    assert_eq!(r.entries, 1000);
    assert_eq!(r.checkpoints, 10);
    assert_eq!(r.checkpoints_verified, 10);
    assert_eq!(r.last_checkpoint_size, Some(1000));
    assert_eq!(r.unsigned_tail, 0);
    assert_eq!(r.root, cps[9].root);
}

#[test]
fn c8_1_empty_log_and_empty_checkpoint_verify() {
    let s = signer(1);
    let r = verify(&[], &[], &[s.public_key()]);
    assert!(r.is_ok());
    assert_eq!(
        (r.entries, r.unsigned_tail, r.last_checkpoint_size),
        (0, 0, None)
    );
    assert_eq!(r.root, derbes_audit::empty_root());
    let cp0 = s.sign(0, derbes_audit::empty_root(), T0);
    let r = verify(&[], &[cp0], &[s.public_key()]);
    assert!(r.is_ok(), "{:?}", r.problem);
    assert_eq!(r.last_checkpoint_size, Some(0));
}

#[test]
fn c8_1_changed_field_is_detected() {
    let (log, cps, s) = fixture();
    let keys = [s.public_key()];
    type Change = fn(&mut Entry);
    let changes: &[(&str, Change)] = &[
        ("at", |e| e.at += 1),
        ("actor", |e| e.actor = "employee:someone-else".into()),
        ("action", |e| e.action = Action::SEARCH),
        ("action_unknown", |e| {
            e.action = Action::from_stored("read ")
        }),
        ("subject", |e| e.subject = Some("sp_other".into())),
        ("subject_removed", |e| e.subject = None),
        ("purpose", |e| e.purpose = Some("marketing".into())),
        ("categories_added", |e| {
            e.categories.push("biometric".into())
        }),
        ("categories_cleared", |e| e.categories.clear()),
        ("categories_reordered", |e| e.categories.reverse()),
        ("rule", |e| e.rule = Some("role:admin/0".into())),
        ("outcome", |e| e.outcome = Outcome::Error),
        ("detail", |e| e.detail = Some("req=other".into())),
        ("hash", |e| e.hash[31] ^= 1),
    ];
    for (name, change) in changes {
        let mut t = log.clone();
        let before = t[437].clone();
        change(&mut t[437]);
        assert_ne!(t[437], before, "{name} changed nothing");
        let r = verify(&t, &cps, &keys);
        assert_problem(&r, 437, ProblemKind::HashMismatch);
        assert_eq!(r.entries, 437, "{name}");
        assert_eq!(r.checkpoints_verified, 4, "{name}");
    }
}

#[test]
fn c8_1_changed_prev_hash_breaks_the_link() {
    let (mut log, cps, s) = fixture();
    log[437].prev_hash[0] ^= 0x80;
    assert_problem(
        &verify(&log, &cps, &[s.public_key()]),
        437,
        ProblemKind::BrokenLink,
    );
}

#[test]
fn c8_1_changed_field_with_its_hash_recomputed_breaks_the_next_link() {
    let (mut log, cps, s) = fixture();
    log[437].purpose = Some("marketing".into());
    log[437].hash = log[437].compute_hash();
    assert_problem(
        &verify(&log, &cps, &[s.public_key()]),
        438,
        ProblemKind::BrokenLink,
    );
}

#[test]
fn c8_1_rewritten_and_rechained_entries_fail_the_next_checkpoint() {
    let (mut log, cps, s) = fixture();
    log[437].outcome = Outcome::Allowed;
    log[437].detail = Some("covered-up".into());
    rechain(&mut log, 437);
    let r = verify(&log, &cps, &[s.public_key()]);
    // The chain itself is consistent again; only the signed root of 500 reveals it, and the
    // rewrite lies in 400..500.
    assert_problem(&r, 400, ProblemKind::CheckpointRootMismatch);
    let p = r.problem.unwrap();
    assert_eq!(
        p.checkpoint,
        Some(CheckpointRef {
            index: 4,
            tree_size: 500
        })
    );
    assert_eq!(r.entries, 500);
    assert_eq!(r.checkpoints_verified, 4);
}

#[test]
fn c5_1_deleted_entry_is_detected() {
    let (log, cps, s) = fixture();
    let keys = [s.public_key()];
    for idx in [0usize, 1, 437, 500, 998] {
        let mut t = log.clone();
        t.remove(idx);
        let r = verify(&t, &cps, &keys);
        assert_problem(&r, idx as u64, ProblemKind::Gap);
        assert_eq!(r.problem.unwrap().found_seq, Some(idx as u64 + 1));
    }
    // The last entry: the checkpoint at 1000 covers it.
    let mut t = log.clone();
    t.pop();
    let r = verify(&t, &cps, &keys);
    assert_problem(&r, 999, ProblemKind::CheckpointBeyondLog);
    assert_eq!(
        r.problem.unwrap().checkpoint,
        Some(CheckpointRef {
            index: 9,
            tree_size: 1000
        })
    );
}

#[test]
fn c5_1_deleted_entry_with_renumbered_and_rechained_tail_fails_the_checkpoint() {
    let (mut log, cps, s) = fixture();
    log.remove(437);
    rechain(&mut log, 437);
    let r = verify(&log, &cps, &[s.public_key()]);
    assert_problem(&r, 400, ProblemKind::CheckpointRootMismatch);
}

#[test]
fn c5_1_deleted_range_is_detected() {
    let (mut log, cps, s) = fixture();
    log.drain(300..350);
    let r = verify(&log, &cps, &[s.public_key()]);
    assert_problem(&r, 300, ProblemKind::Gap);
    assert_eq!(r.problem.unwrap().found_seq, Some(350));
}

#[test]
fn c5_1_swapped_entries_are_detected() {
    let (log, cps, s) = fixture();
    let keys = [s.public_key()];
    // Neighbours, and far apart (even across a checkpoint).
    for (a, b) in [(437usize, 438usize), (437, 612), (0, 999)] {
        let mut t = log.clone();
        t.swap(a, b);
        let r = verify(&t, &cps, &keys);
        assert_problem(&r, a as u64, ProblemKind::Reordered);
        assert_eq!(r.problem.unwrap().found_seq, Some(b as u64));
    }
}

#[test]
fn c5_1_swapped_contents_under_kept_seq_numbers_are_detected() {
    // Reordering by exchanging rows' contents while each row keeps its seq column.
    let (mut log, cps, s) = fixture();
    let (a, b) = (437usize, 612usize);
    let (mut ea, mut eb) = (log[a].clone(), log[b].clone());
    std::mem::swap(&mut ea.seq, &mut eb.seq);
    log[a] = eb;
    log[b] = ea;
    // Row 437 now holds 612's fields and links: its prev_hash is not 436's hash.
    assert_problem(
        &verify(&log, &cps, &[s.public_key()]),
        437,
        ProblemKind::BrokenLink,
    );
}

#[test]
fn c5_1_duplicated_entry_is_detected() {
    let (mut log, cps, s) = fixture();
    let copy = log[437].clone();
    log.insert(438, copy);
    let r = verify(&log, &cps, &[s.public_key()]);
    assert_problem(&r, 438, ProblemKind::Reordered);
    assert_eq!(r.problem.unwrap().found_seq, Some(437));
}

#[test]
fn c5_1_inserted_forged_entry_is_detected() {
    let (mut log, cps, s) = fixture();
    // A well-formed entry chained after 437, with the rest of the log renumbered and rechained.
    let forged = Entry::new_next(Some(&log[437]), crate::support::fields(5000)).unwrap();
    log.insert(438, forged);
    let r = verify(&log, &cps, &[s.public_key()]);
    assert_problem(&r, 439, ProblemKind::Reordered); // seq 438 appears twice
    rechain(&mut log, 438);
    let r = verify(&log, &cps, &[s.public_key()]);
    assert_problem(&r, 400, ProblemKind::CheckpointRootMismatch);
}

#[test]
fn c5_1_truncated_tail_past_a_checkpoint_is_detected() {
    let (log, cps, s) = fixture();
    let keys = [s.public_key()];
    for (keep, cp_index) in [(950usize, 9usize), (900, 9), (850, 8), (1, 0), (0, 0)] {
        let r = verify(&log[..keep], &cps, &keys);
        assert_problem(&r, keep as u64, ProblemKind::CheckpointBeyondLog);
        let p = r.problem.unwrap();
        assert_eq!(p.checkpoint.map(|c| c.index), Some(cp_index), "keep {keep}");
        assert_eq!(r.entries, keep as u64);
    }
}

#[test]
fn c5_1_truncated_unsigned_tail_is_reported_and_caught_by_a_later_checkpoint() {
    // 1037 entries, checkpoints up to 1000: the last 37 are linked but not yet signed.
    let s = signer(7);
    let keys = [s.public_key()];
    let mut log = entries(1000);
    let cps = checkpoints(&log, 100, 1000, &s);
    extend(&mut log, 37);
    let r = verify(&log, &cps, &keys);
    assert!(r.is_ok());
    assert_eq!(
        (r.entries, r.last_checkpoint_size, r.unsigned_tail),
        (1037, Some(1000), 37)
    );

    // Cutting the unsigned tail cannot be told from a log that never had it: the log alone
    // only shows a shorter unsigned tail.
    let r = verify(&log[..1010], &cps, &keys);
    assert!(r.is_ok());
    assert_eq!(r.unsigned_tail, 10);

    // Once a checkpoint covers the tail (the next scheduled one, or a copy kept outside the
    // database), the cut is caught.
    let later = checkpoints(&log, 1037, 1037, &s);
    assert_eq!(later.len(), 1);
    let mut with_later = cps.clone();
    with_later.push(later[0].clone());
    assert!(verify(&log, &with_later, &keys).is_ok());
    let r = verify(&log[..1010], &with_later, &keys);
    assert_problem(&r, 1010, ProblemKind::CheckpointBeyondLog);

    // Same for cutting entries together with the checkpoints that covered them: only a
    // checkpoint kept elsewhere reveals it.
    let r = verify(&log[..750], &cps[..7], &keys);
    assert!(r.is_ok());
    let r = verify(&log[..750], &[cps[6].clone(), cps[9].clone()], &keys);
    assert_problem(&r, 750, ProblemKind::CheckpointBeyondLog);
}

#[test]
fn c8_1_replaced_checkpoint_root_is_detected() {
    let (log, mut cps, s) = fixture();
    cps[4].root = cps[3].root;
    let r = verify(&log, &cps, &[s.public_key()]);
    assert_problem(&r, 400, ProblemKind::CheckpointBadSignature);
    assert_eq!(
        r.problem.unwrap().checkpoint,
        Some(CheckpointRef {
            index: 4,
            tree_size: 500
        })
    );
}

#[test]
fn c8_1_replaced_checkpoint_signature_is_detected() {
    let (log, cps, s) = fixture();
    let keys = [s.public_key()];
    let mut t = cps.clone();
    t[4].signature[10] ^= 1;
    assert_problem(
        &verify(&log, &t, &keys),
        400,
        ProblemKind::CheckpointBadSignature,
    );
    // A genuine signature, but of another checkpoint.
    let mut t = cps.clone();
    t[4].signature = t[5].signature;
    assert_problem(
        &verify(&log, &t, &keys),
        400,
        ProblemKind::CheckpointBadSignature,
    );
    // Changed time or size under the original signature.
    let mut t = cps.clone();
    t[4].at += 1;
    assert_problem(
        &verify(&log, &t, &keys),
        400,
        ProblemKind::CheckpointBadSignature,
    );
    let mut t = cps.clone();
    t[0].tree_size = 99;
    assert_problem(
        &verify(&log, &t, &keys),
        0,
        ProblemKind::CheckpointBadSignature,
    );
}

#[test]
fn c8_1_checkpoint_signed_by_another_key_is_detected() {
    let (mut log, cps, s) = fixture();
    let keys = [s.public_key()];
    let mallory = signer(66);
    // Rewrite history and re-sign every checkpoint with another key.
    log[437].detail = Some("covered-up".into());
    rechain(&mut log, 437);
    let forged = checkpoints(&log, 100, 1000, &mallory);
    assert_problem(
        &verify(&log, &forged, &keys),
        0,
        ProblemKind::CheckpointUnknownKey,
    );
    // Replace just the checkpoints from 500 on.
    let mut mixed = cps[..4].to_vec();
    mixed.extend_from_slice(&forged[4..]);
    let r = verify(&log, &mixed, &keys);
    assert_problem(&r, 400, ProblemKind::CheckpointUnknownKey);
    // …even when claiming the genuine key id.
    for cp in &mut mixed[4..] {
        cp.key_id = s.key_id().to_owned();
    }
    assert_problem(
        &verify(&log, &mixed, &keys),
        400,
        ProblemKind::CheckpointBadSignature,
    );
}

#[test]
fn c5_6_rotated_keys_verify_with_all_public_keys() {
    let old = signer(1);
    let new = signer(2);
    let log = entries(1000);
    let mut cps = checkpoints(&log, 100, 500, &old);
    cps.extend(checkpoints(&log, 100, 1000, &new).into_iter().skip(5));
    let r = verify(&log, &cps, &[old.public_key(), new.public_key()]);
    assert!(r.is_ok(), "{:?}", r.problem);
    assert_eq!(r.checkpoints_verified, 10);
    // The retired key must still be supplied.
    assert_problem(
        &verify(&log, &cps, &[new.public_key()]),
        0,
        ProblemKind::CheckpointUnknownKey,
    );
}

#[test]
fn c8_1_checkpoints_out_of_order_are_detected() {
    let (log, mut cps, s) = fixture();
    cps.swap(4, 5);
    let r = verify(&log, &cps, &[s.public_key()]);
    // 600 came first and verified; then 500 goes backwards.
    assert_problem(&r, 600, ProblemKind::CheckpointsNotIncreasing);
    assert_eq!(
        r.problem.unwrap().checkpoint,
        Some(CheckpointRef {
            index: 5,
            tree_size: 500
        })
    );
    // Two checkpoints of the same size (re-signed after a rotation) are fine.
    let (log, mut cps, s) = fixture();
    let again = s.sign(cps[4].tree_size, cps[4].root, cps[4].at + 5);
    cps.insert(5, again);
    assert!(verify(&log, &cps, &[s.public_key()]).is_ok());
}

#[test]
fn c8_1_changed_seq_is_detected() {
    let (mut log, cps, s) = fixture();
    log[437].seq = 9_999;
    let r = verify(&log, &cps, &[s.public_key()]);
    assert_problem(&r, 437, ProblemKind::Gap);
    assert_eq!(r.problem.unwrap().found_seq, Some(9_999));
}

#[test]
fn c8_1_problem_report_holds_no_entry_values() {
    let (mut log, cps, s) = fixture();
    log[437].purpose = Some("marketing".into());
    let r = verify(&log, &cps, &[s.public_key()]);
    let json = serde_json::to_string(&r).unwrap();
    assert!(json.contains("\"kind\":\"hash_mismatch\""), "{json}");
    assert!(
        !json.contains("marketing") && !json.contains("employee:"),
        "{json}"
    );
    assert_eq!(r.problem.unwrap().to_string(), "hash_mismatch at seq 437");
}
