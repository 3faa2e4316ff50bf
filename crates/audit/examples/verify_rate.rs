//! Clause 8.1 measurement (a benchmark, not a test): whole-log verification over 1,000,000
//! synthetic entries with a checkpoint every 1,000, beside the raw SHA-256 throughput of the
//! same entry-hash input bytes, measured in the same run.
//!
//! `cargo run --release -p derbes-audit --example verify_rate`
//!
//! `derbes audit verify` prints the same pair of figures for a real log.

use std::time::Instant;

use derbes_audit::{verify_log, Entry, MerkleAccumulator};
use sha2::{Digest, Sha256};

#[path = "../tests/audit/support.rs"]
#[allow(dead_code)]
mod support;

use support::{fields, signer, T0};

fn main() {
    const N: u64 = 1_000_000;
    const INTERVAL: u64 = 1_000;
    let s = signer(7);
    let t = Instant::now();
    let mut log: Vec<Entry> = Vec::with_capacity(N as usize);
    let mut acc = MerkleAccumulator::new();
    let mut cps = Vec::new();
    for i in 0..N {
        let e = Entry::new_next(log.last(), fields(i)).unwrap();
        acc.push_entry_hash(&e.hash);
        log.push(e);
        if acc.size().is_multiple_of(INTERVAL) {
            cps.push(s.sign(acc.size(), acc.root(), T0 + i as i64));
        }
    }
    let build = t.elapsed();

    // The exact bytes the entry hashes cover, laid out once.
    let mut bytes = Vec::new();
    let mut ends = Vec::with_capacity(N as usize);
    for e in &log {
        e.write_hash_input(&mut bytes);
        ends.push(bytes.len());
    }
    let total = bytes.len() as f64;

    let t = Instant::now();
    let mut start = 0;
    let mut x = 0u8;
    for &end in &ends {
        let d = Sha256::digest(&bytes[start..end]);
        x ^= d[0];
        start = end;
    }
    let raw = t.elapsed().as_secs_f64();
    std::hint::black_box(x);

    let t = Instant::now();
    let report = verify_log(log, &cps, &[s.public_key()]);
    let verify = t.elapsed().as_secs_f64();
    assert!(report.is_ok(), "{:?}", report.problem);
    assert_eq!(
        (report.entries, report.checkpoints_verified),
        (N, cps.len())
    );

    let n = N as f64;
    println!(
        "entries: {N}, checkpoints: {} (every {INTERVAL}), built in {:.2} s",
        cps.len(),
        build.as_secs_f64()
    );
    println!(
        "entry-hash input: {:.1} MB, {:.1} bytes/entry",
        total / 1e6,
        total / n
    );
    println!(
        "derbes audit verify: {:.3} s = {:.0} entries/s ({:.0} MB/s of entry bytes)",
        verify,
        n / verify,
        total / verify / 1e6
    );
    println!(
        "raw SHA-256 of the same bytes: {:.3} s = {:.0} entries/s ({:.0} MB/s)",
        raw,
        n / raw,
        total / raw / 1e6
    );
}
