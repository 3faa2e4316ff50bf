//! Benchmark: the in-process consent check for (subject, purpose), warm, against a plain
//! `HashMap` lookup measured in the same run (goal: p99 ≤ 2 µs; docs/benchmarks.md).
//!
//! `cargo run --release -p derbes-service --example consent_check [SUBJECTS] [CHECKS]`
//!
//! The ledger holds SUBJECTS subjects (default 200,000), each with two or three grants of
//! consent-based purposes and every tenth one withdrawn; CHECKS random checks (default
//! 1,000,000) are timed one by one with `Instant` (whose own cost, measured, is printed and
//! included in both columns alike).

use derbes_core::registry::Registry;
use derbes_service::ConsentLedger;
use derbes_store::consent::ConsentEventRecord;
use rand::{Rng, SeedableRng};
use std::collections::HashMap;
use std::hint::black_box;
use std::time::Instant;

fn event(subject: [u8; 16], scope: &str, decision: &str) -> ConsentEventRecord {
    ConsentEventRecord {
        id: String::new(),
        subject_id: subject,
        scope: scope.into(),
        decision: decision.into(),
        at: 0,
        policy_version: 1,
        lang: "ru".into(),
        channel: "api".into(),
        evidence: None,
        dek_version: 1,
        valid_until: None,
        operator_name: String::new(),
        operator_bin: String::new(),
        third_party: false,
        cross_border: false,
        publication: false,
        categories: String::new(),
        recorded_by: String::new(),
        request_id: None,
    }
}

fn percentiles(mut ns: Vec<u32>) -> (u32, u32, u32) {
    ns.sort_unstable();
    let at = |q: f64| ns[((ns.len() as f64 - 1.0) * q) as usize];
    (at(0.5), at(0.99), at(0.999))
}

fn main() {
    let mut args = std::env::args().skip(1);
    let subjects: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(200_000);
    let checks: usize = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let registry = Registry::embedded().expect("registry");
    let purposes = [
        "advertising",
        "bureau_check",
        "automated_decision",
        "publication",
    ];
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let ids: Vec<[u8; 16]> = (0..subjects).map(|_| rng.gen()).collect();
    let mut events = Vec::with_capacity(subjects * 4);
    for (i, id) in ids.iter().enumerate() {
        events.push(event(*id, "policy", "granted"));
        events.push(event(*id, purposes[i % 3], "granted"));
        events.push(event(*id, purposes[(i + 1) % 3], "granted"));
        if i % 10 == 0 {
            events.push(event(*id, "policy", "withdrawn"));
        }
    }
    let t = Instant::now();
    let ledger = ConsentLedger::from_events(events.iter());
    let build = t.elapsed();
    let baseline: HashMap<[u8; 16], u64> = ids.iter().map(|id| (*id, 0b11)).collect();
    let defs: Vec<_> = purposes
        .iter()
        .map(|p| registry.purpose(p).expect("purpose"))
        .collect();
    let picks: Vec<(usize, usize)> = (0..checks)
        .map(|_| (rng.gen_range(0..subjects), rng.gen_range(0..purposes.len())))
        .collect();

    // Warm up both.
    for &(s, p) in picks.iter().take(100_000) {
        black_box(ledger.is_granted(&ids[s], purposes[p], 1));
        black_box(baseline.get(&ids[s]));
    }
    let mut empty = Vec::with_capacity(checks);
    for _ in 0..checks {
        let t = Instant::now();
        empty.push(t.elapsed().as_nanos() as u32);
    }
    let mut base = Vec::with_capacity(checks);
    let mut check = Vec::with_capacity(checks);
    let mut gate = Vec::with_capacity(checks);
    let mut granted = 0usize;
    for &(s, p) in &picks {
        let id = &ids[s];
        let t = Instant::now();
        let b = black_box(baseline.get(black_box(id))).is_some_and(|m| m & (1 << (p % 2)) != 0);
        base.push(t.elapsed().as_nanos() as u32);
        let t = Instant::now();
        let g = black_box(ledger.is_granted(black_box(id), purposes[p], 1));
        check.push(t.elapsed().as_nanos() as u32);
        let t = Instant::now();
        let ok = black_box(ledger.gate(defs[p], black_box(id), 1)).is_ok();
        gate.push(t.elapsed().as_nanos() as u32);
        granted += usize::from(g && ok && b);
    }
    let (e50, e99, _) = percentiles(empty);
    let (b50, b99, b999) = percentiles(base);
    let (c50, c99, c999) = percentiles(check);
    let (g50, g99, g999) = percentiles(gate);
    println!(
        "consent check: {subjects} subjects in the ledger ({} held in memory, built in {:.0} ms), {checks} random checks",
        ledger.len(),
        build.as_secs_f64() * 1000.0
    );
    println!("timer alone (Instant::now + elapsed): p50 {e50} ns, p99 {e99} ns (included below)");
    println!(
        "{:<46} {:>8} {:>8} {:>8}",
        "", "p50 ns", "p99 ns", "p99.9 ns"
    );
    println!(
        "{:<46} {:>8} {:>8} {:>8}",
        "baseline: HashMap<[u8;16], u64>::get", b50, b99, b999
    );
    println!(
        "{:<46} {:>8} {:>8} {:>8}",
        "ConsentLedger::is_granted(subject, purpose)", c50, c99, c999
    );
    println!(
        "{:<46} {:>8} {:>8} {:>8}",
        "ConsentLedger::gate(purpose def, subject)", g50, g99, g999
    );
    println!(
        "goal p99 <= 2000 ns: {} ({granted} of {checks} checks granted)",
        if g99 <= 2000 && c99 <= 2000 {
            "met"
        } else {
            "NOT met"
        }
    );
}
