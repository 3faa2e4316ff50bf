//! Access-policy decision time, in process (goal: p99 ≤ 20 µs; docs/benchmarks.md).
//!
//! `cargo run --release -p derbes-access --example bench_access [-- N]`
//!
//! One realistic mix of requests (mostly call-centre and collector reads of the categories
//! their purposes map, some reveals, some out-of-map and unknown requests) is decided by:
//! - `compiled`  — `AccessPolicy::decide`, the table compiled from Cedar at load;
//! - `control`   — `AccessControl::decide`, the same behind the reload lock (what the vault calls);
//! - `cedar`     — `AccessPolicy::decide_with_cedar`, Cedar's authorizer on every request;
//! - `baseline`  — a `HashMap` lookup of a precomputed decision (the floor).
//!
//! Each call is timed on its own; p50/p99/p99.9/max are printed for each.

use derbes_access::{AccessControl, AccessPolicy, AccessRequest, Conditions, Decision, Role};
use derbes_core::registry::Registry;
use std::collections::HashMap;
use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

/// A tiny deterministic generator (xorshift64*), so runs are comparable.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

type Req = (Role, String, String, Conditions);

fn mix(registry: &Registry, n: usize) -> Vec<Req> {
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    // Role weights: call centre 35%, collector 30%, credit officer 25%, others 10%.
    let roles = [
        (Role::CallCentre, 35),
        (Role::Collector, 30),
        (Role::CreditOfficer, 25),
        (Role::Dpo, 4),
        (Role::SecurityOfficer, 4),
        (Role::Admin, 2),
    ];
    let typical: HashMap<Role, &[&str]> = HashMap::from([
        (Role::CallCentre, &["identification", "communication"][..]),
        (Role::Collector, &["collection"][..]),
        (
            Role::CreditOfficer,
            &["contract", "scoring", "identification"][..],
        ),
        (Role::Dpo, &["requests"][..]),
        (Role::SecurityOfficer, &["security"][..]),
        (Role::Admin, &["contract"][..]),
    ]);
    let purposes: Vec<String> = registry.purposes().keys().map(|p| p.to_string()).collect();
    let categories: Vec<String> = registry
        .categories()
        .keys()
        .map(|c| c.to_string())
        .collect();
    (0..n)
        .map(|_| {
            let mut w = rng.below(100);
            let role = roles
                .iter()
                .find(|(_, weight)| {
                    if w < *weight {
                        true
                    } else {
                        w -= weight;
                        false
                    }
                })
                .map_or(Role::Admin, |(r, _)| *r);
            let roll = rng.below(100);
            let purpose = if roll < 90 {
                let t = typical.get(&role).copied().unwrap_or(&["contract"]);
                t[rng.below(t.len())].to_string()
            } else if roll < 99 {
                purposes[rng.below(purposes.len())].clone()
            } else {
                "no_such_purpose".to_string()
            };
            let mapped: Vec<String> = registry
                .purpose(&purpose)
                .map(|p| p.categories.iter().map(|c| c.to_string()).collect())
                .unwrap_or_default();
            let category = if !mapped.is_empty() && rng.below(100) < 85 {
                mapped[rng.below(mapped.len())].clone()
            } else {
                categories[rng.below(categories.len())].clone()
            };
            let c = Conditions {
                contract_overdue: rng.below(100) < 40,
                reveal: rng.below(100) < 10,
                working_hours: rng.below(100) < 90,
            };
            (role, purpose, category, c)
        })
        .collect()
}

fn req(r: &Req) -> AccessRequest<'_> {
    AccessRequest {
        role: r.0,
        purpose: &r.1,
        category: &r.2,
        conditions: r.3,
    }
}

fn key(r: &Req) -> (Role, String, String, u8) {
    let c = r.3;
    (
        r.0,
        r.1.clone(),
        r.2.clone(),
        u8::from(c.contract_overdue) | (u8::from(c.reveal) << 1) | (u8::from(c.working_hours) << 2),
    )
}

fn measure<T>(name: &str, reqs: &[T], mut f: impl FnMut(&T) -> Decision) {
    // Warm up.
    for r in reqs.iter().take(10_000) {
        black_box(f(r));
    }
    let mut ns: Vec<u64> = Vec::with_capacity(reqs.len());
    let start = Instant::now();
    for r in reqs {
        let t = Instant::now();
        black_box(f(black_box(r)));
        ns.push(t.elapsed().as_nanos() as u64);
    }
    let total = start.elapsed();
    ns.sort_unstable();
    let q = |p: f64| ns[((ns.len() as f64 * p) as usize).min(ns.len() - 1)];
    println!(
        "{name:<9} {:>9} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>12.0}",
        ns.len(),
        q(0.50) as f64 / 1000.0,
        q(0.99) as f64 / 1000.0,
        q(0.999) as f64 / 1000.0,
        *ns.last().unwrap_or(&0) as f64 / 1000.0,
        ns.len() as f64 / total.as_secs_f64()
    );
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(200_000);
    let registry = Registry::embedded()?;
    let t = Instant::now();
    let policy = AccessPolicy::embedded(&registry)?;
    let load = t.elapsed();
    let control = AccessControl::open(None, Arc::new(registry.clone()))?;
    let reqs = mix(&registry, n);
    let cedar_n = std::cmp::min((n / 10).max(1000), reqs.len());
    let baseline: HashMap<(Role, String, String, u8), Decision> = reqs
        .iter()
        .map(|r| (key(r), policy.decide(&req(r))))
        .collect();

    println!(
        "access policy: {} rules, {} compiled decisions, load+compile {:.0} ms",
        policy.rule_ids().count(),
        policy.compiled_size(),
        load.as_secs_f64() * 1000.0
    );
    println!(
        "{:<9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>12}",
        "path", "requests", "p50 µs", "p99 µs", "p99.9 µs", "max µs", "decisions/s"
    );
    let keys: Vec<_> = reqs.iter().map(key).collect();
    measure("baseline", &keys, |k| {
        baseline.get(k).cloned().unwrap_or(Decision {
            effect: derbes_access::Effect::Deny,
            rule_id: String::new(),
        })
    });
    measure("compiled", &reqs, |r| policy.decide(&req(r)));
    measure("control", &reqs, |r| control.decide(&req(r)));
    measure("cedar", &reqs[..cedar_n], |r| {
        policy.decide_with_cedar(&req(r))
    });
    let mut disagree = 0;
    for r in &reqs[..cedar_n] {
        if policy.decide(&req(r)) != policy.decide_with_cedar(&req(r)) {
            disagree += 1;
        }
    }
    println!("compiled vs cedar disagreements on {cedar_n} requests: {disagree}");
    Ok(())
}
