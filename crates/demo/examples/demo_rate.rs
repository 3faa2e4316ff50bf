//! Prints a few subjects and measures the generation rate.
//!
//! `cargo run --release -p derbes-demo --example demo_rate -- [count] [show]`

use std::time::Instant;

fn rate(label: &str, n: usize, secs: f64) {
    println!(
        "{label}: {n} subjects in {secs:.3} s = {:.0} subjects/s",
        n as f64 / secs
    );
}

fn main() {
    let mut args = std::env::args().skip(1);
    let count: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let show: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(3);
    for p in derbes_demo::generate(1, show) {
        let obj: serde_json::Map<String, serde_json::Value> = p
            .values
            .iter()
            .map(|(c, v)| ((*c).to_owned(), v.clone()))
            .collect();
        println!("{}", serde_json::Value::Object(obj));
    }
    // Kept in memory, as `generate` returns them (includes the kernel handing out fresh pages).
    let start = Instant::now();
    let people = derbes_demo::generate(1, count);
    rate(
        "generate (all kept)",
        people.len(),
        start.elapsed().as_secs_f64(),
    );
    drop(people);
    // Streamed, each subject dropped after use (as a loader that stores them one by one).
    for seed in 2..5 {
        let start = Instant::now();
        let mut n = 0usize;
        for p in derbes_demo::DemoGen::new(seed).take(count) {
            n += p.values.len() / 15;
        }
        rate(
            &format!("streamed, seed {seed}"),
            n,
            start.elapsed().as_secs_f64(),
        );
    }
}
