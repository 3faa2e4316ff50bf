//! `derbes notices bench`: policy-change notices per second to a local SMTP sink, beside the
//! sink's own accept rate for the same messages from a minimal raw SMTP client loop, in the
//! same run (docs/benchmarks.md).
//!
//! The notice run is the real thing: a fresh database (SQLite in a temporary folder, or a
//! fresh PostgreSQL schema), borrowers created through the vault, one job enqueued, and the
//! runner claiming deliveries, reading each address through the vault (decryption and an
//! audit entry per read), sending by lettre over pooled connections and recording each
//! result.

use crate::app::AnyError;
use derbes_core::clock::{Clock, SystemClock};
use derbes_core::registry::Registry;
use derbes_crypto::KeyRing;
use derbes_notify::sink::{raw_blast, Sink};
use derbes_notify::{
    enqueue_policy_change, DefaultLanguage, NoticeTexts, Notifier, RunOptions, SmtpSettings,
    VaultRecipients,
};
use derbes_service::{Actor, Call, Vault};
use std::sync::Arc;
use std::time::Instant;

/// Options of the notice benchmark.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchNoticesArgs {
    /// Notices (borrowers with an e-mail address) to send.
    #[arg(long, default_value_t = 5000)]
    pub count: usize,
    /// `sqlite` (a temporary file) or `postgres` (a fresh schema of DERBES_TEST_PG).
    #[arg(long, default_value = "sqlite")]
    pub backend: String,
    /// SMTP connections (the runner's pool and the raw client's).
    #[arg(long, default_value_t = 16)]
    pub connections: u32,
    /// SMTP transactions in flight at once.
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
}

/// Dot-stuff a message for the raw client (a line starting with `.` gets another) and drop
/// its final line break (the client sends `CRLF . CRLF`).
fn dot_stuff(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 16);
    let mut line_start = true;
    for &b in data {
        if line_start && b == b'.' {
            out.push(b'.');
        }
        out.push(b);
        line_start = b == b'\n';
    }
    while out.ends_with(b"\r\n") {
        out.truncate(out.len() - 2);
    }
    out
}

/// Run the benchmark and print the figures.
pub async fn run(args: BenchNoticesArgs) -> Result<(), AnyError> {
    let db = match args.backend.as_str() {
        "sqlite" => derbes_store::testing::fresh_sqlite().await?,
        "postgres" => derbes_store::testing::fresh_pg().await?,
        _ => return Err("--backend must be sqlite or postgres".into()),
    };
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let keys = Arc::new(KeyRing::generate(clock.now())?);
    let registry = Arc::new(Registry::embedded()?);
    let vault = Vault::open(db.store.clone(), keys, registry, clock.clone()).await?;

    println!(
        "notices bench: {} borrowers on {}, {} SMTP connections, {} in flight",
        args.count, args.backend, args.connections, args.concurrency
    );
    let call = Call::new(Actor::System("bench"), "contract");
    let mut made = 0usize;
    let people = derbes_demo::generate(20_260_401, args.count);
    for chunk in people.chunks(derbes_service::vault::MAX_BULK) {
        let inputs = chunk
            .iter()
            .enumerate()
            .map(|(i, d)| {
                let mut input = crate::app::demo_input(d.clone());
                input.values.retain(|v| v.category != "email");
                input.values.push(derbes_service::ValueInput {
                    category: "email".into(),
                    value: format!("bench.{}@post.example.kz", made + i).into(),
                    source: derbes_service::Source {
                        kind: derbes_service::SourceKind::Subject,
                        name: None,
                    },
                    obtained_at: None,
                });
                input
            })
            .collect();
        vault.create_subjects(&call, inputs).await?;
        made += chunk.len();
    }

    let sink = Sink::start().await?;
    let texts = NoticeTexts::standard(1, "https://mfo.example.kz/policy/1")?;
    let (job, _) = enqueue_policy_change(db.store.as_ref(), clock.as_ref(), &texts).await?;
    let mut smtp = SmtpSettings::local(sink.addr().port(), "privacy@mfo.example.kz");
    smtp.connections = args.connections;
    let notifier = Notifier::new(
        db.store.clone(),
        Arc::new(VaultRecipients::new(vault.clone())),
        Arc::new(DefaultLanguage),
        clock.clone(),
        &smtp,
        RunOptions {
            concurrency: args.concurrency.max(1),
            ..RunOptions::default()
        },
    )?;

    sink.reset_timing();
    let start = Instant::now();
    let report = notifier.run_job(&job.id.to_string()).await?;
    let runner_secs = start.elapsed().as_secs_f64();
    let sink_span = sink.accept_span().map(|d| d.as_secs_f64()).unwrap_or(0.0);
    let messages = sink.messages();
    let mut rcpts: Vec<&str> = messages
        .iter()
        .flat_map(|m| m.rcpt_to.iter().map(String::as_str))
        .collect();
    rcpts.sort_unstable();
    rcpts.dedup();
    if report.sent as usize != args.count || rcpts.len() != args.count {
        return Err(format!(
            "expected {} notices, {} recorded as sent, {} distinct recipients at the sink",
            args.count,
            report.sent,
            rcpts.len()
        )
        .into());
    }

    // The sink's own accept rate for the same messages, from a minimal raw client.
    let sample = messages
        .first()
        .map(|m| dot_stuff(&m.data))
        .ok_or("no message received")?;
    sink.set_recording(false);
    sink.reset_timing();
    let blast = raw_blast(
        sink.addr(),
        &sample,
        args.count as u64,
        u64::from(args.connections),
    )
    .await?;
    let raw_secs = blast.elapsed.as_secs_f64();
    let runner_rate = report.sent as f64 / runner_secs.max(1e-9);
    let raw_rate = blast.accepted as f64 / raw_secs.max(1e-9);
    println!(
        "message size: {} bytes; every notice reached the sink once ({} recipients)",
        sample.len(),
        rcpts.len()
    );
    println!(
        "notice runner : {:>6} sent in {:>7.3} s = {:>8.0} msg/s (sink saw them over {:.3} s)",
        report.sent, runner_secs, runner_rate, sink_span
    );
    println!(
        "raw SMTP loop : {:>6} sent in {:>7.3} s = {:>8.0} msg/s (the sink's accept rate)",
        blast.accepted, raw_secs, raw_rate
    );
    println!(
        "ratio runner / sink: {:.2}; goal ≥ 500 msg/s: {}",
        runner_rate / raw_rate.max(1e-9),
        if runner_rate >= 500.0 {
            "met"
        } else {
            "NOT met"
        }
    );
    vault.shutdown().await;
    sink.stop();
    Ok(())
}
