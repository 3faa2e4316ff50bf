//! Fixtures: a deterministic log with checkpoints at a fixed interval.

use derbes_audit::{
    Action, AuditSigner, Checkpoint, Entry, EntryFields, MerkleAccumulator, Outcome,
};

pub const T0: i64 = 1_767_225_600_000_000; // 2026-01-01T00:00:00Z in µs

/// A deterministic signer (tests only).
pub fn signer(seed: u8) -> AuditSigner {
    AuditSigner::from_bytes(&[seed; 32])
}

/// The fields of the `i`-th synthetic entry: a mix of actions, optional fields and
/// categories, like real traffic.
pub fn fields(i: u64) -> EntryFields {
    let actions = [
        Action::READ,
        Action::SEARCH,
        Action::CORRECT,
        Action::EXPORT,
        Action::CONSENT_GRANT,
        Action::LOGIN,
        Action::DENIED,
    ];
    let action = actions[(i % actions.len() as u64) as usize].clone();
    let mut f = EntryFields::new(
        T0 + i as i64 * 1_000,
        format!("employee:0193b2c4-7d1e-7a00-9f00-{:012x}", i % 17),
        action,
        if i % 11 == 3 {
            Outcome::Denied
        } else {
            Outcome::Allowed
        },
    );
    if i % 5 != 4 {
        f.subject = Some(format!(
            "sp_{:024x}",
            i.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 8
        ));
        f.purpose = Some("credit_scoring".into());
        f.categories = vec!["iin".into(), "phone".into(), "full_name".into()]
            .into_iter()
            .take(1 + (i % 3) as usize)
            .collect();
    }
    f.rule = Some(format!("role:underwriter/{}", i % 4));
    if i.is_multiple_of(7) {
        f.detail = Some("req=01HZX3V7K2".into());
    }
    f
}

/// Appends `n` synthetic entries after `log`'s last.
pub fn extend(log: &mut Vec<Entry>, n: u64) {
    for _ in 0..n {
        let i = log.len() as u64;
        let e = Entry::new_next(log.last(), fields(i)).unwrap();
        log.push(e);
    }
}

/// `n` entries.
pub fn entries(n: u64) -> Vec<Entry> {
    let mut log = Vec::with_capacity(n as usize);
    extend(&mut log, n);
    log
}

/// Checkpoints every `interval` entries up to `upto` (inclusive), signed by `signer`.
pub fn checkpoints(
    log: &[Entry],
    interval: u64,
    upto: u64,
    signer: &AuditSigner,
) -> Vec<Checkpoint> {
    let mut acc = MerkleAccumulator::new();
    let mut out = Vec::new();
    for e in log.iter().take(upto as usize) {
        acc.push_entry_hash(&e.hash);
        if acc.size().is_multiple_of(interval) {
            out.push(signer.sign(acc.size(), acc.root(), T0 + acc.size() as i64 * 1_000 + 1));
        }
    }
    out
}

/// The standard fixture: 1000 entries, checkpoints every 100 (at 100, 200, …, 1000).
pub fn fixture() -> (Vec<Entry>, Vec<Checkpoint>, AuditSigner) {
    let s = signer(7);
    let log = entries(1000);
    let cps = checkpoints(&log, 100, 1000, &s);
    (log, cps, s)
}

/// Recomputes every hash from `from` on, keeping the chain consistent (what an attacker
/// with database access but without the signing key can do).
pub fn rechain(log: &mut [Entry], from: usize) {
    for i in from..log.len() {
        log[i].seq = i as u64;
        log[i].prev_hash = if i == 0 { [0; 32] } else { log[i - 1].hash };
        log[i].hash = log[i].compute_hash();
    }
}
