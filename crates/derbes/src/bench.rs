//! `derbes bench`: derbes against raw-SQLite baselines, in one run, on fresh files in a
//! scratch folder (never the user's data folder). What each figure means, and what each
//! baseline does, is in docs/benchmarks.md.
//!
//! 1. Bulk ingest: the vault's ingest pipeline (validation, encryption and blind indexes on a
//!    worker thread for batch k+1 while SQLite writes batch k) against the same plaintext
//!    values inserted into plain tables without crypto or indexes, both in transactions of
//!    10,000 subjects.
//! 2. Reads by IIN: a purpose-checked lookup through the blind index with decryption of every
//!    allowed value, against a plain indexed select of the same rows.
//! 3. Durable single creates over HTTP at N concurrent clients (group commit), against one
//!    `synchronous=FULL` commit per subject.
//!
//! Performance is measured and printed, never asserted: a missed goal still exits 0. Errors
//! (including any HTTP create that is not answered 201) exit non-zero.

use crate::app::{demo_input, AnyError, Common};
use derbes_core::clock::{Clock, SystemClock};
use derbes_core::registry::Registry;
use derbes_crypto::{BlindIndexer, KeyRing};
use derbes_service::audit::ReadAudit;
use derbes_service::{apikeys, Actor, Call, NewSubjectInput, Vault, VaultOptions};
use derbes_store::{OpenOptions, SqliteStore, Store};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{QueryBuilder, Sqlite};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Subjects per transaction, on both sides of the ingest benchmark, unless `--transaction`
/// says otherwise (the vault's bulk load defaults to the same).
const BATCH: usize = 10000;
/// Rows per multi-row `INSERT` in the baselines (the store uses the same).
const ROWS_PER_INSERT: usize = 2000;
/// Connections each side reads through (the store's reader pool has 4).
const READ_POOL: u32 = 4;
/// Parts of subjects being prepared (validated, encrypted) at once during the ingest, on
/// tokio's blocking pool, while the writer writes earlier ones.
const PREPARE_AHEAD: usize = 2;
/// Subjects per part prepared by one task during the ingest (a transaction is [`BATCH`]).
const PART: usize = 1000;
/// Values of every demo subject.
const VALUES_PER_SUBJECT: usize = derbes_demo::CATEGORIES.len();
/// Seeds: the ingested people, the people created over HTTP (a different seed, so different
/// IINs), and the sample of IINs read.
const INGEST_SEED: u64 = 20_260_101;
const CREATE_SEED: u64 = 20_260_102;
const SAMPLE_SEED: u64 = 20_260_103;
/// Goals of the issue, as ratios derbes / baseline.
const GOAL_INGEST: f64 = 0.5;
const GOAL_READS: f64 = 0.5;
const GOAL_CREATES: f64 = 1.0;
/// Issue 3: reads with the audit log reach at least 70 % of reads without it.
const GOAL_AUDIT_COST: f64 = 0.7;

const DERBES_INGEST_DB: &str = "derbes-ingest.db";
const BASELINE_INGEST_DB: &str = "baseline-ingest.db";
/// The files of the ingest's further rounds (`--ingest-rounds`), made anew for each round.
const DERBES_ROUND_DB: &str = "derbes-ingest-round.db";
const BASELINE_ROUND_DB: &str = "baseline-ingest-round.db";
const DERBES_HTTP_DB: &str = "derbes-http.db";
const BASELINE_CREATE_DB: &str = "baseline-create.db";
const DB_FILES: [&str; 6] = [
    DERBES_INGEST_DB,
    BASELINE_INGEST_DB,
    DERBES_ROUND_DB,
    BASELINE_ROUND_DB,
    DERBES_HTTP_DB,
    BASELINE_CREATE_DB,
];

const BASELINE_SCHEMA: [&str; 2] = [
    "CREATE TABLE base_subjects (id INTEGER PRIMARY KEY, created_at INTEGER)",
    "CREATE TABLE base_values (subject_id INTEGER, category TEXT, value TEXT)",
];
const BASELINE_READ_INDEXES: [&str; 2] = [
    "CREATE INDEX base_values_lookup ON base_values (category, value)",
    "CREATE INDEX base_values_subject ON base_values (subject_id)",
];
const BASELINE_READ_SQL: &str = "SELECT v.category, v.value FROM base_values v \
     WHERE v.subject_id = (SELECT subject_id FROM base_values WHERE category = 'iin' AND value = $1)";

/// Benchmark options.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Subjects to bulk-ingest (15 values, 4 blind indexes each), on each side.
    #[arg(long, default_value_t = 100_000)]
    subjects: usize,
    /// Subjects per transaction of the ingest, the same on both sides.
    #[arg(long, default_value_t = BATCH)]
    transaction: usize,
    /// Rounds of the ingest (row 1): each round loads the same subjects into fresh files on both
    /// sides, the order alternating from round to round (the first round's baseline goes
    /// first; its store serves the reads); the figure is the median of the rounds' ratios, so
    /// a slow minute of a shared machine moves one round, not the figure.
    #[arg(long, default_value_t = 3)]
    ingest_rounds: usize,
    /// Reads by IIN (a random sample of the ingested subjects), on each side.
    #[arg(long, default_value_t = 20_000)]
    reads: usize,
    /// Single creates through the HTTP API, and baseline single commits.
    #[arg(long, default_value_t = 5_000)]
    creates: usize,
    /// Concurrent HTTP clients for the creates.
    #[arg(long, default_value_t = 32)]
    clients: usize,
    /// Concurrent reading tasks, on each side (as many as the HTTP clients by default: a
    /// server's reads arrive concurrently; each side reads through 4 connections).
    #[arg(long, default_value_t = 32)]
    read_tasks: usize,
    /// Rounds of the audit comparison (2b): each round reads the sample once with the audit
    /// log on and once off, the order alternating from round to round; the figure is the
    /// median of the rounds' ratios, so a slow minute of a shared machine moves one round, not
    /// the figure.
    #[arg(long, default_value_t = 5)]
    audit_rounds: usize,
    /// Scratch folder for the benchmark's SQLite files (default: a new folder in the system
    /// temp dir). Removed at the end unless --keep; a given folder is kept, only the files
    /// the benchmark made in it are removed.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Keep the scratch files.
    #[arg(long)]
    keep: bool,
    /// Run one benchmark only (`reads` still ingests first, untimed in the output).
    #[arg(long, value_enum)]
    only: Option<Only>,
    /// Also print the results as Markdown, for docs/benchmarks.md.
    #[arg(long)]
    markdown: bool,
    /// Run derbes with its audit log off, to measure what the audit costs. (derbes never runs
    /// like this in service: every action is recorded before its answer.)
    #[arg(long)]
    without_audit: bool,
}

/// Which benchmark to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Only {
    Ingest,
    Reads,
    Creates,
    /// The personal cabinet: "my data" and the JSON export (7.1a, 7.1b).
    Cabinet,
}

/// Run the benchmarks.
pub async fn run(_common: &Common, args: BenchArgs) -> Result<(), AnyError> {
    if args.subjects == 0 || args.creates == 0 || args.clients == 0 {
        return Err("--subjects, --creates and --clients must be at least 1".into());
    }
    let wants_reads = matches!(args.only, None | Some(Only::Reads));
    if wants_reads && (args.reads == 0 || args.reads > args.subjects) {
        return Err(
            "--reads must be between 1 and --subjects (a sample of the ingested set)".into(),
        );
    }
    let scratch = Scratch::new(args.dir.clone(), args.keep)?;
    let result = run_in(&scratch, &args).await;
    scratch.cleanup();
    result
}

async fn run_in(scratch: &Scratch, args: &BenchArgs) -> Result<(), AnyError> {
    if args.only == Some(Only::Cabinet) {
        let rows = crate::bench_cabinet::run(&scratch.dir).await?;
        if args.markdown {
            println!("\n| cabinet (50 values, 20 consents, 1,000 audit entries) | p50 ms | p99 ms |\n|---|---|---|\n{rows}");
        }
        return Ok(());
    }
    let machine = Machine::probe(&scratch.dir).await;
    println!(
        "derbes bench {} — SQLite, {} (UTC)",
        env!("CARGO_PKG_VERSION"),
        chrono::Utc::now().format("%Y-%m-%d %H:%M")
    );
    println!("machine: {}", machine.line());
    println!(
        "scratch: {}{}",
        scratch.dir.display(),
        if scratch.keep { " (kept)" } else { "" }
    );
    println!(
        "audit log: {}",
        if args.without_audit {
            "OFF (--without-audit: measuring its cost; derbes never runs like this)"
        } else {
            "on, as in service (every create and read is recorded before its answer)"
        }
    );

    let run_ingest = matches!(args.only, None | Some(Only::Ingest | Only::Reads));
    let show_ingest = matches!(args.only, None | Some(Only::Ingest));
    let run_reads = matches!(args.only, None | Some(Only::Reads));
    let run_creates = matches!(args.only, None | Some(Only::Creates));

    let mut rows: Vec<ResultRow> = Vec::new();
    let mut details: Vec<String> = Vec::new();
    let mut failed: Vec<String> = Vec::new();

    if run_ingest {
        let t = Instant::now();
        let data = IngestData::generate(args.subjects, args.transaction.max(1))?;
        println!(
            "generated {} ingest subjects in {:.1} s (not timed)",
            group(args.subjects as f64),
            t.elapsed().as_secs_f64()
        );
        let mut ingest =
            bench_ingest(scratch, data, !args.without_audit, args.transaction.max(1)).await?;
        println!("durability: {}", ingest.durability);
        if show_ingest {
            for round in 2..=args.ingest_rounds {
                let data = IngestData::generate(args.subjects, args.transaction.max(1))?;
                let rates = ingest_round(
                    scratch,
                    data,
                    !args.without_audit,
                    args.transaction.max(1),
                    round,
                )
                .await?;
                ingest.rounds.push(rates);
            }
            let (derbes, baseline, ratio) = ingest.medians();
            rows.push(ResultRow {
                name: format!(
                    "1. bulk ingest, {} subjects × {VALUES_PER_SUBJECT} values, 4 blind indexes, median of {} rounds (subjects/s)",
                    group(args.subjects as f64),
                    ingest.rounds.len()
                ),
                derbes,
                baseline,
                goal: GOAL_INGEST,
                ratio: Some(ratio),
            });
            details.push(ingest.detail());
        }
        if run_reads {
            let reads = bench_reads(&ingest, args, !args.without_audit).await?;
            if reads.derbes.failures + reads.baseline.failures + reads.store_only.failures > 0 {
                failed.push(format!(
                    "{} derbes reads, {} store-only reads and {} baseline reads did not return \
                     one subject with {VALUES_PER_SUBJECT} values",
                    reads.derbes.failures, reads.store_only.failures, reads.baseline.failures
                ));
            }
            rows.push(ResultRow {
                name: format!(
                    "2. reads by IIN, lookup + decrypt of all allowed values, {} tasks (reads/s)",
                    reads.tasks
                ),
                derbes: reads.derbes.rate(),
                baseline: reads.baseline.rate(),
                goal: GOAL_READS,
                ratio: None,
            });
            let (on, off, ratio) = reads.audit_on_off();
            rows.push(ResultRow {
                name: format!(
                    "2b. audit cost: reads with the audit log on vs off, same run, {} tasks, median of {} rounds (reads/s; baseline = off)",
                    reads.tasks,
                    reads.rounds.len()
                ),
                derbes: on,
                baseline: off,
                goal: GOAL_AUDIT_COST,
                ratio: Some(ratio),
            });
            rows.push(ResultRow {
                name: format!(
                    "2c. the same, each read waiting for its entry's fsync (--read-audit-flush-ms 0), {} tasks (reads/s; baseline = off)",
                    reads.tasks
                ),
                derbes: reads.strict.rate(),
                baseline: off,
                goal: GOAL_AUDIT_COST,
                ratio: None,
            });
            details.push(reads.detail());
        }
        ingest.close().await;
    }

    if run_creates {
        let t = Instant::now();
        let data = CreateData::generate(args.creates)?;
        println!(
            "generated {} create subjects in {:.1} s (not timed)",
            group(args.creates as f64),
            t.elapsed().as_secs_f64()
        );
        let creates = bench_creates(scratch, &data, args.clients, !args.without_audit).await?;
        println!("durability: {}", creates.durability);
        if creates.derbes.failures > 0 {
            failed.push(format!(
                "{} of {} HTTP creates were not answered 201 (first: {})",
                creates.derbes.failures,
                args.creates,
                creates.first_failure.as_deref().unwrap_or("?")
            ));
        }
        rows.push(ResultRow {
            name: format!(
                "3. durable single creates, HTTP, {} clients (creates/s)",
                args.clients
            ),
            derbes: creates.derbes.rate(),
            baseline: creates.baseline.rate(),
            goal: GOAL_CREATES,
            ratio: None,
        });
        details.push(creates.detail(args.clients));
    }

    println!();
    print_table(&rows);
    println!();
    for d in &details {
        println!("{d}");
    }
    if args.markdown {
        println!();
        print_markdown(&rows, &details, &machine, !args.without_audit);
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(failed.join("; ").into())
    }
}

// --- inputs ----------------------------------------------------------------------------

/// A subject's values as the baseline stores them: (category, canonical JSON text).
type PlainRows = Vec<(&'static str, String)>;

struct IngestData {
    /// The vault's inputs, in transactions of `--transaction` subjects.
    chunks: Vec<Vec<NewSubjectInput>>,
    /// The same values for the baseline.
    plain: Vec<PlainRows>,
    /// Each subject's IIN.
    iins: Vec<String>,
}

impl IngestData {
    fn generate(n: usize, batch: usize) -> Result<IngestData, AnyError> {
        let mut gen = derbes_demo::DemoGen::new(INGEST_SEED);
        let mut chunks = Vec::with_capacity(n.div_ceil(batch));
        let mut plain = Vec::with_capacity(n);
        let mut iins = Vec::with_capacity(n);
        let mut chunk = Vec::with_capacity(batch);
        for _ in 0..n {
            let s = gen.next().ok_or("the demo generator ran out of people")?;
            iins.push(
                s.get_str("iin")
                    .ok_or("a demo subject has no IIN")?
                    .to_string(),
            );
            plain.push(plain_rows(&s)?);
            chunk.push(demo_input(s));
            if chunk.len() == batch {
                chunks.push(std::mem::replace(&mut chunk, Vec::with_capacity(batch)));
            }
        }
        if !chunk.is_empty() {
            chunks.push(chunk);
        }
        Ok(IngestData {
            chunks,
            plain,
            iins,
        })
    }
}

struct CreateData {
    /// JSON request bodies of `POST /api/v1/subjects`.
    bodies: Vec<Vec<u8>>,
    /// The same values for the baseline.
    plain: Vec<PlainRows>,
}

impl CreateData {
    fn generate(n: usize) -> Result<CreateData, AnyError> {
        let mut gen = derbes_demo::DemoGen::new(CREATE_SEED);
        let mut bodies = Vec::with_capacity(n);
        let mut plain = Vec::with_capacity(n);
        for _ in 0..n {
            let s = gen.next().ok_or("the demo generator ran out of people")?;
            plain.push(plain_rows(&s)?);
            let values: Vec<serde_json::Value> = s
                .values
                .iter()
                .map(|(category, value)| {
                    serde_json::json!({
                        "category": category,
                        "value": value,
                        "source": { "kind": "subject" },
                    })
                })
                .collect();
            bodies.push(serde_json::to_vec(
                &serde_json::json!({ "values": values }),
            )?);
        }
        Ok(CreateData { bodies, plain })
    }
}

fn plain_rows(s: &derbes_demo::DemoSubject) -> Result<PlainRows, AnyError> {
    s.values
        .iter()
        .map(|(c, v)| Ok((*c, serde_json::to_string(v)?)))
        .collect()
}

// --- databases -------------------------------------------------------------------------

/// The store's pragmas (see `SqliteStore::open`), for the baseline files.
fn baseline_options(path: &Path) -> SqliteConnectOptions {
    SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .busy_timeout(Duration::from_secs(10))
        .foreign_keys(true)
        .pragma("temp_store", "memory")
        .pragma("cache_size", "-65536")
        .page_size(derbes_store::SQLITE_PAGE_SIZE)
}

async fn baseline_pool(path: &Path, connections: u32) -> Result<SqlitePool, AnyError> {
    Ok(SqlitePoolOptions::new()
        .max_connections(connections)
        .min_connections(1)
        .connect_with(baseline_options(path))
        .await?)
}

async fn create_baseline_schema(pool: &SqlitePool) -> Result<(), AnyError> {
    for sql in BASELINE_SCHEMA {
        sqlx::query(sql).execute(pool).await?;
    }
    Ok(())
}

/// A fresh vault on a fresh SQLite file, with a fresh key ring.
async fn open_vault(
    path: &Path,
    audit: bool,
) -> Result<(Vault, SqliteStore, BlindIndexer), AnyError> {
    let (vault, store, indexer, _, _) = open_vault_twin(path, audit).await?;
    Ok((vault, store, indexer))
}

/// [`open_vault`], and a second vault on the same store and keys with the audit log the
/// other way round (for the same-run audit-cost comparison, issue 3), and a third with the
/// audit log on and every read waiting for its entry's fsync (`--read-audit-flush-ms 0`).
async fn open_vault_twin(
    path: &Path,
    audit: bool,
) -> Result<(Vault, SqliteStore, BlindIndexer, Vault, Vault), AnyError> {
    let url = format!("sqlite://{}", path.display());
    let store = SqliteStore::open(
        &url,
        OpenOptions {
            create_if_missing: true,
        },
    )
    .await?;
    store.migrate().await?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let keys = KeyRing::generate(clock.now())?;
    let indexer = keys.blind_indexer();
    let registry = Arc::new(Registry::embedded().map_err(|e| format!("embedded registry: {e}"))?);
    let keys = Arc::new(keys);
    let vault = Vault::open_with(
        Arc::new(store.clone()),
        keys.clone(),
        registry.clone(),
        clock.clone(),
        VaultOptions {
            audit,
            ..VaultOptions::default()
        },
    )
    .await?;
    let twin = Vault::open_with(
        Arc::new(store.clone()),
        keys.clone(),
        registry.clone(),
        clock.clone(),
        VaultOptions {
            audit: !audit,
            ..VaultOptions::default()
        },
    )
    .await?;
    let strict = Vault::open_with(
        Arc::new(store.clone()),
        keys,
        registry,
        clock,
        VaultOptions {
            audit: true,
            read_audit: ReadAudit::Durable,
        },
    )
    .await?;
    Ok((vault, store, indexer, twin, strict))
}

/// `synchronous` and `journal_mode` of a connection; refuses anything but FULL + WAL, on which
/// every figure here depends.
async fn durability(pool: &SqlitePool, what: &str) -> Result<String, AnyError> {
    let sync: i64 = sqlx::query_scalar("PRAGMA synchronous")
        .fetch_one(pool)
        .await?;
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(pool)
        .await?;
    let page: i64 = sqlx::query_scalar("PRAGMA page_size")
        .fetch_one(pool)
        .await?;
    let store_page = i64::from(derbes_store::SQLITE_PAGE_SIZE);
    if sync != 2 || !mode.eq_ignore_ascii_case("wal") || page != store_page {
        return Err(format!(
            "{what}: expected synchronous=2 (FULL), journal_mode=wal and page_size={store_page}, \
             found synchronous={sync}, journal_mode={mode} and page_size={page}"
        )
        .into());
    }
    Ok(format!(
        "{what} synchronous={sync} (FULL), journal_mode={mode}, page_size={page}"
    ))
}

/// Copy the whole WAL into the database file (`wal_checkpoint(FULL)`, retried while another
/// checkpoint holds the file), and how long that took. Each side's ingest ends with it, so
/// neither leaves copying for after its clock stops: the baseline's connection checkpoints
/// after its commits, derbes' checkpointer thread runs beside the writer, and larger
/// transactions leave more to copy at the end.
async fn checkpoint_all(pool: &SqlitePool) -> Result<Duration, AnyError> {
    let start = Instant::now();
    for _ in 0..1000 {
        let (busy, _, _): (i64, i64, i64) = sqlx::query_as("PRAGMA wal_checkpoint(FULL)")
            .fetch_one(pool)
            .await?;
        if busy == 0 {
            return Ok(start.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Err("the WAL could not be checkpointed: another connection kept it busy".into())
}

/// Bytes this process has passed to `write(2)` so far (`wchar` of /proc/self/io; 0 where
/// unavailable).
fn written_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/io")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("wchar:"))
                .and_then(|v| v.trim().parse().ok())
        })
        .unwrap_or(0)
}

/// CPU time (user + system, all threads) this process has used so far, from
/// /proc/self/stat (in clock ticks of 1/100 s, Linux's USER_HZ); zero where unavailable.
fn cpu_time() -> Duration {
    let ticks = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|t| {
            let after = t.rsplit_once(')')?.1;
            let f: Vec<&str> = after.split_whitespace().collect();
            let user: u64 = f.get(11)?.parse().ok()?;
            let system: u64 = f.get(12)?.parse().ok()?;
            Some(user + system)
        })
        .unwrap_or(0);
    Duration::from_millis(ticks * 10)
}

/// Load average over the last minute (other work on the machine skews every figure).
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|t| t.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

/// A progress line (the whole run takes a minute or two).
fn progress(what: &str) {
    println!("running {what} … (load average {})", load_average());
}

fn file_size(path: &Path) -> u64 {
    ["", "-wal"]
        .iter()
        .map(|suffix| {
            let mut p = path.as_os_str().to_owned();
            p.push(suffix);
            std::fs::metadata(PathBuf::from(p))
                .map(|m| m.len())
                .unwrap_or(0)
        })
        .sum()
}

// --- 1. ingest -------------------------------------------------------------------------

struct Ingest {
    subjects: usize,
    vault: Vault,
    /// The same store and keys with the audit log the other way round.
    twin: Vault,
    /// The same store and keys, audit on, each read waiting for its entry's fsync.
    strict: Vault,
    /// The vault's blind indexer (for the store-only read pass).
    indexer: BlindIndexer,
    derbes_time: Duration,
    /// Of each side's time, its final checkpoint.
    derbes_checkpoint: Duration,
    baseline_checkpoint: Duration,
    /// Busy time of the preparing threads, summed (validation, encryption, blind indexes).
    prepare_time: Duration,
    /// Time the bulk load spent writing (SQLite inserts + commit, waiting for the audit
    /// append).
    write_time: Duration,
    baseline: SqlitePool,
    baseline_time: Duration,
    derbes_bytes: u64,
    baseline_bytes: u64,
    /// Bytes the process passed to `write(2)` during each side's ingest (WAL + checkpoints).
    derbes_written: u64,
    baseline_written: u64,
    /// CPU time of the whole process (all threads) during each side.
    derbes_cpu: Duration,
    baseline_cpu: Duration,
    durability: String,
    iins: Vec<String>,
    /// Subjects per transaction, both sides.
    transaction: usize,
    /// Each round's rates, subjects/s (derbes, baseline); the first is the round above.
    rounds: Vec<(f64, f64)>,
}

impl Ingest {
    /// The medians of the rounds' derbes and baseline rates, and of their ratios.
    fn medians(&self) -> (f64, f64, f64) {
        let derbes = median(self.rounds.iter().map(|r| r.0).collect());
        let baseline = median(self.rounds.iter().map(|r| r.1).collect());
        let ratio = median(self.rounds.iter().map(|r| ratio_of(r.0, r.1)).collect());
        (derbes, baseline, ratio)
    }

    fn detail(&self) -> String {
        let per = |d: Duration| d.as_secs_f64() * 1e6 / self.subjects as f64;
        let rounds: Vec<String> = self
            .rounds
            .iter()
            .map(|(d, b)| format!("{} / {} ({:.2}×)", group(*d), group(*b), ratio_of(*d, *b)))
            .collect();
        format!(
            "ingest rounds (subjects/s, derbes / baseline; odd rounds start with the baseline, \
             even ones with derbes; fresh files each round): {}; median ratio {:.2}×.\n        \
             round 1: derbes {} subjects in {:.2} s, of which the final checkpoint {:.2} s \
             ({:.0} µs/subject of CPU, all threads); preparing (validation, encryption, blind indexes; parts of {PART}, up to {PREPARE_AHEAD} at once, time summed) {:.1} \
             µs/subject; waiting for the store (each transaction's last part and commit, \
             audit appends; earlier parts are written while later ones are prepared) {:.1} \
             µs/subject; \
             file {} MiB, {} MiB written (WAL + checkpoints).\n        baseline {:.2} s, of \
             which the final checkpoint {:.2} s ({:.0} µs/subject of CPU); file {} MiB, {} MiB written. Both in transactions of {}.",
            rounds.join(", "),
            self.medians().2,
            group(self.subjects as f64),
            self.derbes_time.as_secs_f64(),
            self.derbes_checkpoint.as_secs_f64(),
            per(self.derbes_cpu),
            per(self.prepare_time),
            per(self.write_time),
            self.derbes_bytes >> 20,
            self.derbes_written >> 20,
            self.baseline_time.as_secs_f64(),
            self.baseline_checkpoint.as_secs_f64(),
            per(self.baseline_cpu),
            self.baseline_bytes >> 20,
            self.baseline_written >> 20,
            group(self.transaction as f64),
        )
    }

    async fn close(self) {
        self.vault.shutdown().await;
        self.twin.shutdown().await;
        self.strict.shutdown().await;
        self.baseline.close().await;
    }
}

async fn bench_ingest(
    scratch: &Scratch,
    data: IngestData,
    audit: bool,
    transaction: usize,
) -> Result<Ingest, AnyError> {
    let IngestData {
        chunks,
        plain,
        iins,
    } = data;
    let subjects = plain.len();

    // Baseline first: plain tables, no crypto, no secondary indexes.
    let base_path = scratch.file(BASELINE_INGEST_DB);
    let (base, base_durability) = baseline_side(&base_path, &plain, transaction, "").await?;
    drop(plain);
    let baseline_bytes = file_size(&base_path);

    // derbes: the vault's pipeline.
    let path = scratch.file(DERBES_INGEST_DB);
    let d = derbes_side(&path, chunks, subjects, audit, transaction, "").await?;
    let derbes_bytes = file_size(&path);

    // Read side of the baseline: a pool of as many connections as the store's readers.
    let baseline = baseline_pool(&base_path, READ_POOL).await?;
    Ok(Ingest {
        subjects,
        rounds: vec![(rate(subjects, d.run.time), rate(subjects, base.time))],
        vault: d.vault,
        twin: d.twin,
        strict: d.strict,
        indexer: d.indexer,
        derbes_time: d.run.time,
        derbes_checkpoint: d.run.checkpoint,
        baseline_checkpoint: base.checkpoint,
        prepare_time: d.prepare,
        write_time: d.write,
        baseline,
        baseline_time: base.time,
        derbes_bytes,
        baseline_bytes,
        derbes_written: d.run.written,
        baseline_written: base.written,
        derbes_cpu: d.run.cpu,
        baseline_cpu: base.cpu,
        durability: format!("{}; {base_durability}", d.durability),
        iins,
        transaction,
    })
}

/// One side's timed ingest: its time (load and final checkpoint), the bytes the process
/// wrote and the CPU it used meanwhile.
struct SideRun {
    time: Duration,
    /// Of `time`, the final checkpoint (the WAL's last frames copied into the file).
    checkpoint: Duration,
    written: u64,
    cpu: Duration,
}

/// The baseline's ingest into a fresh file at `path`; returns it and the file's durability
/// settings. `round` labels the progress line.
async fn baseline_side(
    path: &Path,
    plain: &[PlainRows],
    transaction: usize,
    round: &str,
) -> Result<(SideRun, String), AnyError> {
    let baseline = baseline_pool(path, 1).await?;
    create_baseline_schema(&baseline).await?;
    let durability = durability(&baseline, "baselines").await?;
    progress(&format!("ingest{round}: baseline"));
    let (io, cpu) = (written_bytes(), cpu_time());
    let load = ingest_baseline(&baseline, plain, transaction).await?;
    let checkpoint = checkpoint_all(&baseline).await?;
    let run = SideRun {
        time: load + checkpoint,
        checkpoint,
        written: written_bytes().saturating_sub(io),
        cpu: cpu_time().saturating_sub(cpu),
    };
    baseline.close().await;
    Ok((run, durability))
}

/// derbes' side of an ingest round: the vaults on the store at `path`, and the timings.
struct DerbesSide {
    vault: Vault,
    twin: Vault,
    strict: Vault,
    indexer: BlindIndexer,
    durability: String,
    run: SideRun,
    prepare: Duration,
    write: Duration,
}

/// derbes' ingest of `chunks` (`subjects` in all) into a fresh store at `path`.
async fn derbes_side(
    path: &Path,
    chunks: Vec<Vec<NewSubjectInput>>,
    subjects: usize,
    audit: bool,
    transaction: usize,
    round: &str,
) -> Result<DerbesSide, AnyError> {
    let (vault, store, indexer, twin, strict) = open_vault_twin(path, audit).await?;
    let durability = durability(store.pool(), "derbes store").await?;
    progress(&format!("ingest{round}: derbes"));
    let (io, cpu) = (written_bytes(), cpu_time());
    let (load, prepare, write) = ingest_derbes(&vault, chunks, transaction).await?;
    let checkpoint = checkpoint_all(store.pool()).await?;
    let run = SideRun {
        time: load + checkpoint,
        checkpoint,
        written: written_bytes().saturating_sub(io),
        cpu: cpu_time().saturating_sub(cpu),
    };
    if vault.store().count_subjects().await? != subjects as i64 {
        return Err("the vault does not hold every ingested subject".into());
    }
    Ok(DerbesSide {
        vault,
        twin,
        strict,
        indexer,
        durability,
        run,
        prepare,
        write,
    })
}

/// Shut down a round's vaults (their store's threads end with the last handle); returns
/// derbes' time.
async fn finish(d: DerbesSide) -> Duration {
    d.vault.shutdown().await;
    d.twin.shutdown().await;
    d.strict.shutdown().await;
    d.run.time
}

/// A further ingest round (`--ingest-rounds`): the same subjects into fresh files on both
/// sides, derbes first in even rounds; the files are removed afterwards. Returns the rates
/// (derbes, baseline), subjects/s.
async fn ingest_round(
    scratch: &Scratch,
    data: IngestData,
    audit: bool,
    transaction: usize,
    round: usize,
) -> Result<(f64, f64), AnyError> {
    let IngestData { chunks, plain, .. } = data;
    let subjects = plain.len();
    let label = format!(" round {round}");
    let (base_path, path) = (
        scratch.file(BASELINE_ROUND_DB),
        scratch.file(DERBES_ROUND_DB),
    );
    // derbes' vaults and store threads are shut down before the baseline runs after them, as
    // the baseline's pool is closed before derbes runs after it.
    let (derbes_time, base) = if round.is_multiple_of(2) {
        let d = derbes_side(&path, chunks, subjects, audit, transaction, &label).await?;
        let derbes_time = finish(d).await;
        let base = baseline_side(&base_path, &plain, transaction, &label).await?;
        (derbes_time, base.0)
    } else {
        let base = baseline_side(&base_path, &plain, transaction, &label).await?;
        let d = derbes_side(&path, chunks, subjects, audit, transaction, &label).await?;
        (finish(d).await, base.0)
    };
    scratch.remove(DERBES_ROUND_DB);
    scratch.remove(BASELINE_ROUND_DB);
    Ok((rate(subjects, derbes_time), rate(subjects, base.time)))
}

async fn ingest_baseline(
    pool: &SqlitePool,
    plain: &[PlainRows],
    transaction: usize,
) -> Result<Duration, AnyError> {
    let now = chrono::Utc::now().timestamp_micros();
    let start = Instant::now();
    for (k, chunk) in plain.chunks(transaction).enumerate() {
        let first = (k * transaction) as i64 + 1;
        let mut tx = pool.begin().await?;
        for from in (0..chunk.len()).step_by(ROWS_PER_INSERT) {
            let ids = from..chunk.len().min(from + ROWS_PER_INSERT);
            let mut qb = QueryBuilder::<Sqlite>::new("INSERT INTO base_subjects (id, created_at) ");
            qb.push_values(ids, |mut b, i| {
                b.push_bind(first + i as i64).push_bind(now);
            });
            qb.build().execute(&mut *tx).await?;
        }
        let values: Vec<(i64, &str, &str)> = chunk
            .iter()
            .enumerate()
            .flat_map(|(i, rows)| {
                rows.iter()
                    .map(move |(c, v)| (first + i as i64, *c, v.as_str()))
            })
            .collect();
        for part in values.chunks(ROWS_PER_INSERT) {
            let mut qb = QueryBuilder::<Sqlite>::new(
                "INSERT INTO base_values (subject_id, category, value) ",
            );
            qb.push_values(part, |mut b, (id, c, v)| {
                b.push_bind(*id).push_bind(*c).push_bind(*v);
            });
            qb.build().execute(&mut *tx).await?;
        }
        tx.commit().await?;
    }
    Ok(start.elapsed())
}

/// The vault's bulk load ([`Vault::ingest`]): parts of [`PART`] subjects prepared on the
/// blocking pool, [`PREPARE_AHEAD`] at once, while the writer writes earlier ones in
/// transactions of `transaction` subjects.
async fn ingest_derbes(
    vault: &Vault,
    chunks: Vec<Vec<NewSubjectInput>>,
    transaction: usize,
) -> Result<(Duration, Duration, Duration), AnyError> {
    let call = Call::new(Actor::System("bench"), "contract");
    let options = derbes_service::IngestOptions {
        transaction,
        part: PART,
        workers: PREPARE_AHEAD,
    };
    let start = Instant::now();
    let report = vault
        .ingest(&call, chunks.into_iter().flatten(), options)
        .await?;
    let took = start.elapsed();
    Ok((took, report.prepare, report.write))
}

// --- 2. reads --------------------------------------------------------------------------

/// Wall-clock and process CPU time from a start.
struct Stopwatch {
    wall: Instant,
    cpu: Duration,
}

impl Stopwatch {
    fn start() -> Stopwatch {
        Stopwatch {
            wall: Instant::now(),
            cpu: cpu_time(),
        }
    }
}

/// Throughput and latencies of one side.
struct Timed {
    ops: usize,
    time: Duration,
    /// CPU time of the whole process (all threads, client and server alike) meanwhile.
    cpu: Duration,
    /// Sorted.
    latencies: Vec<Duration>,
    failures: usize,
}

impl Timed {
    fn new(start: &Stopwatch, mut latencies: Vec<Duration>, failures: usize) -> Timed {
        let time = start.wall.elapsed();
        let cpu = cpu_time().saturating_sub(start.cpu);
        latencies.sort_unstable();
        Timed {
            ops: latencies.len(),
            time,
            cpu,
            latencies,
            failures,
        }
    }

    fn rate(&self) -> f64 {
        rate(self.ops, self.time)
    }

    /// CPU µs per operation.
    fn cpu_per_op(&self) -> String {
        if self.ops == 0 {
            return "-".into();
        }
        format!("{:.0} µs", self.cpu.as_secs_f64() * 1e6 / self.ops as f64)
    }

    fn pct(&self, p: usize) -> String {
        Timed::pct_of(&self.latencies, p)
    }

    /// The `p`th percentile of `sorted` latencies, printed in milliseconds.
    fn pct_of(sorted: &[Duration], p: usize) -> String {
        let n = sorted.len();
        if n == 0 {
            return "-".into();
        }
        let i = (n * p / 100).min(n - 1);
        let d = sorted.get(i).copied().unwrap_or_default();
        format!("{:.2} ms", d.as_secs_f64() * 1e3)
    }
}

/// The median of `xs` (the mean of the middle two for an even count; 0 for none).
fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    match (xs.get(n / 2), n % 2) {
        (None, _) => 0.0,
        (Some(&m), 1) => m,
        (Some(&m), _) => (m + xs.get(n / 2 - 1).copied().unwrap_or(m)) / 2.0,
    }
}

/// `a / b`, 0 when `b` is not positive.
fn ratio_of(a: f64, b: f64) -> f64 {
    if b > 0.0 {
        a / b
    } else {
        0.0
    }
}

struct Reads {
    tasks: usize,
    derbes: Timed,
    /// The audit comparison's rounds: (audit on, audit off), each one pass over the sample;
    /// the main side and the twin vault (same store, same keys, audit log the other way
    /// round) take turns going first.
    rounds: Vec<(Timed, Timed)>,
    /// The same reads with the audit log on and each read waiting for its entry's fsync.
    strict: Timed,
    baseline: Timed,
    /// The store's part of a derbes read alone: the blind-index lookup with its rows decoded,
    /// nothing decrypted, no purpose check.
    store_only: Timed,
}

impl Reads {
    /// The audit comparison: the median read rate with the audit log on and off, and the
    /// median of the rounds' ratios (the figure of 2b).
    fn audit_on_off(&self) -> (f64, f64, f64) {
        let on = median(self.rounds.iter().map(|(on, _)| on.rate()).collect());
        let off = median(self.rounds.iter().map(|(_, off)| off.rate()).collect());
        let ratio = median(
            self.rounds
                .iter()
                .map(|(on, off)| ratio_of(on.rate(), off.rate()))
                .collect(),
        );
        (on, off, ratio)
    }

    fn detail(&self) -> String {
        let (_, off, ratio) = self.audit_on_off();
        let rounds: Vec<String> = self
            .rounds
            .iter()
            .map(|(on, off)| {
                format!(
                    "{} / {} ({:.2}×; CPU per read {} / {})",
                    group(on.rate()),
                    group(off.rate()),
                    ratio_of(on.rate(), off.rate()),
                    on.cpu_per_op(),
                    off.cpu_per_op(),
                )
            })
            .collect();
        let p99 = |pick: fn(&(Timed, Timed)) -> &Timed| {
            let mut all: Vec<Duration> = self
                .rounds
                .iter()
                .flat_map(|r| pick(r).latencies.iter().copied())
                .collect();
            all.sort_unstable();
            Timed::pct_of(&all, 99)
        };
        format!(
            "{}\n        audit cost (same run, same store, same sample, {} rounds, on and off \
             taking turns to go first): reads/s with the audit log on / off per round: {}; \
             p99 {} vs {}; median ratio {:.2}× (goal ≥ {GOAL_AUDIT_COST:.2}×: the audit costs at \
             most 30 %).",
            self.detail_main(),
            self.rounds.len(),
            rounds.join(", "),
            p99(|r| &r.0),
            p99(|r| &r.1),
            ratio,
        ) + &format!(
            "\n        with every read waiting for its entry's fsync (--read-audit-flush-ms 0): {} \
             reads/s, p99 {} ({:.2}× of audit off).",
            group(self.strict.rate()),
            self.strict.pct(99),
            ratio_of(self.strict.rate(), off),
        )
    }

    fn detail_main(&self) -> String {
        format!(
            "reads: {} IINs sampled from the ingested set, split over {} concurrent \
             tasks on each side, each side reading through {READ_POOL} connections; derbes p50 {} p99 {}, {} of CPU per read; baseline p50 {} \
             p99 {}, {} of CPU per read; wrong answers: derbes {}, baseline {}.\n        \
             Where derbes' time goes: the store's lookup alone (blind index hash computed \
             beforehand, rows decoded, nothing decrypted) runs at {} reads/s, p50 {}, {} of \
             CPU per read.",
            group(self.derbes.ops as f64),
            self.tasks,
            self.derbes.pct(50),
            self.derbes.pct(99),
            self.derbes.cpu_per_op(),
            self.baseline.pct(50),
            self.baseline.pct(99),
            self.baseline.cpu_per_op(),
            self.derbes.failures,
            self.baseline.failures,
            group(self.store_only.rate()),
            self.store_only.pct(50),
            self.store_only.cpu_per_op(),
        )
    }
}

async fn bench_reads(ingest: &Ingest, args: &BenchArgs, audit: bool) -> Result<Reads, AnyError> {
    let (n, tasks) = (args.reads, args.read_tasks.max(1));
    let sample: Vec<&String> = sample_indexes(ingest.iins.len(), n, SAMPLE_SEED)
        .into_iter()
        .filter_map(|i| ingest.iins.get(i))
        .collect();
    // What each side is given: the API's JSON value, and the baseline's stored JSON text.
    let for_derbes: Arc<Vec<serde_json::Value>> = Arc::new(
        sample
            .iter()
            .map(|iin| serde_json::Value::String((*iin).clone()))
            .collect(),
    );
    let for_baseline: Arc<Vec<String>> = Arc::new(
        for_derbes
            .iter()
            .map(serde_json::to_string)
            .collect::<Result<_, _>>()?,
    );

    for sql in BASELINE_READ_INDEXES {
        sqlx::query(sql).execute(&ingest.baseline).await?;
    }
    sqlx::query("ANALYZE").execute(&ingest.baseline).await?;

    progress("reads: baseline");
    let baseline = {
        let start = Stopwatch::start();
        let mut handles = Vec::with_capacity(tasks);
        for t in 0..tasks {
            let pool = ingest.baseline.clone();
            let keys = for_baseline.clone();
            handles.push(tokio::spawn(async move {
                let mut lat = Vec::with_capacity(keys.len() / tasks + 1);
                let mut bad = 0usize;
                for key in keys.iter().skip(t).step_by(tasks) {
                    let t0 = Instant::now();
                    let rows: Vec<(String, String)> = sqlx::query_as(BASELINE_READ_SQL)
                        .bind(key.as_str())
                        .fetch_all(&pool)
                        .await?;
                    lat.push(t0.elapsed());
                    if rows.len() != VALUES_PER_SUBJECT {
                        bad += 1;
                    }
                }
                Ok::<_, AnyError>((lat, bad))
            }));
        }
        let (lat, bad) = join_timed(handles).await?;
        Timed::new(&start, lat, bad)
    };

    // One untimed pass first, so neither side of the audit comparison pays the page cache's
    // and the connections' warm-up.
    progress("reads: derbes warm-up (untimed)");
    derbes_reads(&ingest.vault, &for_derbes, tasks).await?;
    progress("reads: derbes");
    let derbes = derbes_reads(&ingest.vault, &for_derbes, tasks).await?;
    // Issue 3: what the audit log costs, in the same run — the main vault and the twin vault
    // (same store, same keys, audit the other way round) in rounds, taking turns to go first,
    // so a machine that drifts from minute to minute weighs on both sides alike.
    let n_rounds = args.audit_rounds.max(1);
    let mut rounds = Vec::with_capacity(n_rounds);
    for round in 0..n_rounds {
        progress(&format!("reads: audit on vs off, round {}", round + 1));
        let (first, second) = if round % 2 == 0 {
            (&ingest.vault, &ingest.twin)
        } else {
            (&ingest.twin, &ingest.vault)
        };
        let a = derbes_reads(first, &for_derbes, tasks).await?;
        let b = derbes_reads(second, &for_derbes, tasks).await?;
        let (main, twin) = if round % 2 == 0 { (a, b) } else { (b, a) };
        rounds.push(if audit { (main, twin) } else { (twin, main) });
    }
    progress("reads: derbes, audit on, each read waiting for its fsync");
    let strict = derbes_reads(&ingest.strict, &for_derbes, tasks).await?;
    // The store's share of a derbes read: the same lookups without the service around them.
    let registry = ingest.vault.registry();
    let def = registry
        .category("iin")
        .ok_or("the registry has no iin category")?;
    let hashes: Arc<Vec<Vec<u8>>> = Arc::new(
        for_derbes
            .iter()
            .map(|v| {
                let key = def
                    .parse_value(v)
                    .map_err(|e| format!("a sampled IIN does not parse: {e}"))?
                    .blind_key()
                    .ok_or("an IIN has no blind key")?;
                Ok::<_, AnyError>(ingest.indexer.blind_index("iin", &key).to_vec())
            })
            .collect::<Result<_, _>>()?,
    );
    progress("reads: derbes store only");
    let store_only = {
        let start = Stopwatch::start();
        let mut handles = Vec::with_capacity(tasks);
        for t in 0..tasks {
            let store = ingest.vault.store().clone();
            let keys = hashes.clone();
            handles.push(tokio::spawn(async move {
                let mut lat = Vec::with_capacity(keys.len() / tasks + 1);
                let mut bad = 0usize;
                for key in keys.iter().skip(t).step_by(tasks) {
                    let t0 = Instant::now();
                    let found = store.load_by_index("iin", key).await?;
                    lat.push(t0.elapsed());
                    let ok = found.len() == 1
                        && found
                            .first()
                            .is_some_and(|(_, values)| values.len() == VALUES_PER_SUBJECT);
                    if !ok {
                        bad += 1;
                    }
                }
                Ok::<_, AnyError>((lat, bad))
            }));
        }
        let (lat, bad) = join_timed(handles).await?;
        Timed::new(&start, lat, bad)
    };
    Ok(Reads {
        tasks,
        derbes,
        rounds,
        strict,
        baseline,
        store_only,
    })
}

/// One pass of purpose-checked reads by IIN through `vault`, over `tasks` concurrent tasks.
async fn derbes_reads(
    vault: &Vault,
    keys: &Arc<Vec<serde_json::Value>>,
    tasks: usize,
) -> Result<Timed, AnyError> {
    let start = Stopwatch::start();
    let mut handles = Vec::with_capacity(tasks);
    for t in 0..tasks {
        let vault = vault.clone();
        let keys = keys.clone();
        handles.push(tokio::spawn(async move {
            let call = Call::new(Actor::System("bench"), "contract");
            let mut lat = Vec::with_capacity(keys.len() / tasks + 1);
            let mut bad = 0usize;
            for key in keys.iter().skip(t).step_by(tasks) {
                let t0 = Instant::now();
                let found = vault.find_subjects(&call, "iin", key, None).await?;
                lat.push(t0.elapsed());
                let ok = found.len() == 1
                    && found
                        .first()
                        .is_some_and(|s| s.values.len() == VALUES_PER_SUBJECT);
                if !ok {
                    bad += 1;
                }
            }
            Ok::<_, AnyError>((lat, bad))
        }));
    }
    let (lat, bad) = join_timed(handles).await?;
    Ok(Timed::new(&start, lat, bad))
}

type TaskResult = Result<(Vec<Duration>, usize), AnyError>;

async fn join_timed(
    handles: Vec<tokio::task::JoinHandle<TaskResult>>,
) -> Result<(Vec<Duration>, usize), AnyError> {
    let mut all = Vec::new();
    let mut bad = 0;
    for h in handles {
        let (lat, b) = h.await??;
        all.extend(lat);
        bad += b;
    }
    Ok((all, bad))
}

// --- 3. creates ------------------------------------------------------------------------

struct Creates {
    derbes: Timed,
    baseline: Timed,
    first_failure: Option<String>,
    durability: String,
}

impl Creates {
    fn detail(&self, clients: usize) -> String {
        format!(
            "creates: derbes {} POST /api/v1/subjects from {clients} concurrent clients (one \
             shared HTTP/1.1 client, keep-alive, in-process server), each answered after its \
             commit (and its audit entry's, unless --without-audit); HTTP latency p50 {} \
             p99 {}; {} of CPU per create (client and server); failures {}.\n        baseline {} transactions (1 subject row + \
             {VALUES_PER_SUBJECT} value rows each, one writer); commit latency p50 {} p99 {}; \
             {} of CPU per commit.",
            group(self.derbes.ops as f64),
            self.derbes.pct(50),
            self.derbes.pct(99),
            self.derbes.cpu_per_op(),
            self.derbes.failures,
            group(self.baseline.ops as f64),
            self.baseline.pct(50),
            self.baseline.pct(99),
            self.baseline.cpu_per_op(),
        )
    }
}

async fn bench_creates(
    scratch: &Scratch,
    data: &CreateData,
    clients: usize,
    audit: bool,
) -> Result<Creates, AnyError> {
    // Baseline first: one synchronous=FULL transaction per subject.
    let pool = baseline_pool(&scratch.file(BASELINE_CREATE_DB), 1).await?;
    create_baseline_schema(&pool).await?;
    let base_durability = durability(&pool, "baseline").await?;
    progress("creates: baseline");
    let baseline = creates_baseline(&pool, &data.plain).await?;
    pool.close().await;

    // derbes: the real HTTP server on a fresh vault.
    let (vault, store, _) = open_vault(&scratch.file(DERBES_HTTP_DB), audit).await?;
    let store_durability = durability(store.pool(), "derbes store").await?;
    let (_key, token) = apikeys::create(
        vault.store().as_ref(),
        vault.registry(),
        "bench",
        &["contract".to_string()],
        vault.now(),
    )
    .await?;
    let state = derbes_web::AppState::new(vault.clone())?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(derbes_web::serve(listener, state, async move {
        let _ = stopped.await;
    }));
    progress("creates: derbes over HTTP");
    let outcome = creates_http(
        &format!("http://{addr}/api/v1/subjects?purpose=contract"),
        &format!("Bearer {token}"),
        data,
        clients,
    )
    .await;
    let _ = stop.send(());
    server.await??;
    let (derbes, first_failure) = outcome?;
    let held = vault.store().count_subjects().await?;
    vault.shutdown().await;
    if derbes.failures == 0 && held != data.bodies.len() as i64 {
        return Err(format!(
            "{} creates were answered 201 but the vault holds {held} subjects",
            data.bodies.len()
        )
        .into());
    }
    Ok(Creates {
        derbes,
        baseline,
        first_failure,
        durability: format!("{store_durability}; {base_durability}"),
    })
}

async fn creates_baseline(pool: &SqlitePool, plain: &[PlainRows]) -> Result<Timed, AnyError> {
    let now = chrono::Utc::now().timestamp_micros();
    let mut lat = Vec::with_capacity(plain.len());
    let start = Stopwatch::start();
    for (i, rows) in plain.iter().enumerate() {
        let t0 = Instant::now();
        let id = i as i64 + 1;
        let mut tx = pool.begin().await?;
        sqlx::query("INSERT INTO base_subjects (id, created_at) VALUES ($1, $2)")
            .bind(id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        let mut qb =
            QueryBuilder::<Sqlite>::new("INSERT INTO base_values (subject_id, category, value) ");
        qb.push_values(rows, |mut b, (c, v)| {
            b.push_bind(id).push_bind(*c).push_bind(v.as_str());
        });
        qb.build().execute(&mut *tx).await?;
        tx.commit().await?;
        lat.push(t0.elapsed());
    }
    Ok(Timed::new(&start, lat, 0))
}

type HttpOutcome = (Vec<Duration>, usize, Option<String>);

async fn creates_http(
    url: &str,
    auth: &str,
    data: &CreateData,
    clients: usize,
) -> Result<(Timed, Option<String>), AnyError> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(clients)
        .build()?;
    let bodies = Arc::new(data.bodies.clone());
    let next = Arc::new(AtomicUsize::new(0));
    let url: Arc<str> = url.into();
    let auth: Arc<str> = auth.into();
    let start = Stopwatch::start();
    let mut handles = Vec::with_capacity(clients);
    for _ in 0..clients {
        let (client, bodies, next) = (client.clone(), bodies.clone(), next.clone());
        let (url, auth) = (url.clone(), auth.clone());
        handles.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut failures = 0usize;
            let mut first: Option<String> = None;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(body) = bodies.get(i) else { break };
                let t0 = Instant::now();
                let sent = client
                    .post(&*url)
                    .header(reqwest::header::AUTHORIZATION, &*auth)
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(body.clone())
                    .send()
                    .await;
                let problem = match sent {
                    Ok(res) => {
                        let status = res.status();
                        let text = res.bytes().await;
                        match text {
                            Ok(_) if status == reqwest::StatusCode::CREATED => None,
                            Ok(b) => Some(format!(
                                "HTTP {status}: {}",
                                String::from_utf8_lossy(&b)
                                    .chars()
                                    .take(300)
                                    .collect::<String>()
                            )),
                            Err(e) => Some(format!("HTTP {status}, body not read: {e}")),
                        }
                    }
                    Err(e) => Some(format!("request failed: {e}")),
                };
                lat.push(t0.elapsed());
                if let Some(p) = problem {
                    failures += 1;
                    first.get_or_insert(p);
                }
            }
            (lat, failures, first)
        }));
    }
    let mut lat = Vec::with_capacity(data.bodies.len());
    let mut failures = 0;
    let mut first = None;
    for h in handles {
        let (l, f, p): HttpOutcome = h.await?;
        lat.extend(l);
        failures += f;
        if first.is_none() {
            first = p;
        }
    }
    Ok((Timed::new(&start, lat, failures), first))
}

// --- output ----------------------------------------------------------------------------

struct ResultRow {
    name: String,
    derbes: f64,
    baseline: f64,
    goal: f64,
    /// The row's ratio when it is not `derbes / baseline` (rows 1 and 2b: the median of their
    /// rounds' ratios, while `derbes` and `baseline` are the median rates).
    ratio: Option<f64>,
}

impl ResultRow {
    fn ratio(&self) -> f64 {
        self.ratio
            .unwrap_or_else(|| ratio_of(self.derbes, self.baseline))
    }

    fn met(&self) -> &'static str {
        if self.ratio() >= self.goal {
            "yes"
        } else {
            "NO"
        }
    }

    fn cells(&self) -> [String; 6] {
        [
            self.name.clone(),
            group(self.derbes),
            group(self.baseline),
            format!("{:.2}×", self.ratio()),
            format!("≥ {:.2}×", self.goal),
            self.met().to_string(),
        ]
    }
}

const HEADER: [&str; 6] = ["benchmark", "derbes", "baseline", "ratio", "goal", "met?"];

fn print_table(rows: &[ResultRow]) {
    let cells: Vec<[String; 6]> = rows.iter().map(ResultRow::cells).collect();
    let mut width = HEADER.map(|h| h.chars().count());
    for r in &cells {
        for (w, c) in width.iter_mut().zip(r.iter()) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |r: &[String]| {
        let mut s = String::new();
        for (i, (c, w)) in r.iter().zip(width.iter()).enumerate() {
            if i > 0 {
                s.push_str(" | ");
            }
            let pad = w.saturating_sub(c.chars().count());
            if i == 0 {
                s.push_str(c);
                s.push_str(&" ".repeat(pad));
            } else {
                s.push_str(&" ".repeat(pad));
                s.push_str(c);
            }
        }
        s
    };
    println!("{}", line(&HEADER.map(String::from)));
    println!(
        "{}",
        width
            .iter()
            .map(|w| "-".repeat(*w))
            .collect::<Vec<_>>()
            .join("-+-")
    );
    for r in &cells {
        println!("{}", line(r));
    }
}

fn print_markdown(rows: &[ResultRow], details: &[String], machine: &Machine, audit: bool) {
    println!("Machine: {}", machine.line());
    println!();
    println!(
        "Audit log: {}.",
        if audit {
            "on (as in service)"
        } else {
            "off (`--without-audit`)"
        }
    );
    println!();
    println!("| {} |", HEADER.join(" | "));
    println!("|---|---:|---:|---:|---:|:---:|");
    for r in rows {
        println!("| {} |", r.cells().join(" | "));
    }
    println!();
    for d in details {
        let flat: Vec<&str> = d.split_whitespace().collect();
        println!("- {}", flat.join(" "));
    }
}

fn rate(ops: usize, time: Duration) -> f64 {
    let secs = time.as_secs_f64();
    if secs > 0.0 {
        ops as f64 / secs
    } else {
        0.0
    }
}

/// A whole number with thousands separators: 12345.6 → "12,346".
fn group(x: f64) -> String {
    let digits = format!("{:.0}", x.max(0.0));
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

// --- sampling --------------------------------------------------------------------------

/// SplitMix64: a small fixed-seed generator, so the sample is the same on every run.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// `k` distinct indexes of `0..n`, in random order (a partial Fisher–Yates shuffle).
fn sample_indexes(n: usize, k: usize, seed: u64) -> Vec<usize> {
    let mut rng = SplitMix(seed);
    let mut idx: Vec<usize> = (0..n).collect();
    let k = k.min(n);
    for i in 0..k {
        let j = i + (rng.next() % (n - i) as u64) as usize;
        idx.swap(i, j);
    }
    idx.truncate(k);
    idx
}

// --- scratch folder and machine --------------------------------------------------------

struct Scratch {
    dir: PathBuf,
    /// Whether the benchmark made the folder (then it removes it too).
    created: bool,
    keep: bool,
}

impl Scratch {
    fn new(dir: Option<PathBuf>, keep: bool) -> Result<Scratch, AnyError> {
        let (dir, created) = match dir {
            Some(d) => {
                let created = !d.exists();
                std::fs::create_dir_all(&d)
                    .map_err(|e| format!("cannot create {}: {e}", d.display()))?;
                (d, created)
            }
            None => {
                let nanos = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0);
                let d = std::env::temp_dir()
                    .join(format!("derbes-bench-{}-{nanos}", std::process::id()));
                std::fs::create_dir(&d)
                    .map_err(|e| format!("cannot create {}: {e}", d.display()))?;
                (d, true)
            }
        };
        let dir = dir.canonicalize().unwrap_or(dir);
        let scratch = Scratch { dir, created, keep };
        for name in DB_FILES {
            for path in scratch.paths(name) {
                if path.exists() {
                    return Err(format!(
                        "{} already exists: the benchmark needs fresh files (remove it, or \
                         choose another --dir)",
                        path.display()
                    )
                    .into());
                }
            }
        }
        Ok(scratch)
    }

    fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// The files of the SQLite database `name` (derbes' stores: with the audit log's files).
    fn paths(&self, name: &str) -> Vec<PathBuf> {
        derbes_store::sqlite_files_of(&self.dir.join(name))
    }

    /// Remove the files of the database `name` (a round's, before the next round).
    fn remove(&self, name: &str) {
        for path in self.paths(name) {
            let _ = std::fs::remove_file(path);
        }
    }

    fn cleanup(&self) {
        if self.keep {
            println!("kept the benchmark's files in {}", self.dir.display());
            return;
        }
        for name in DB_FILES {
            self.remove(name);
        }
        if self.created {
            let _ = std::fs::remove_dir(&self.dir);
        }
    }
}

struct Machine {
    cpus: usize,
    cpu_model: String,
    memory: String,
    kernel: String,
    rustc: String,
    filesystem: String,
    sqlite: String,
    load: String,
}

impl Machine {
    async fn probe(dir: &Path) -> Machine {
        let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
        let cpuinfo = read("/proc/cpuinfo");
        let field = |text: &str, key: &str| -> Option<String> {
            text.lines()
                .find(|l| l.split(':').next().is_some_and(|k| k.trim() == key))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        };
        let cpu_model = field(&cpuinfo, "model name").unwrap_or_else(|| "unknown CPU".into());
        let memory = field(&read("/proc/meminfo"), "MemTotal")
            .and_then(|v| v.split_whitespace().next().map(str::to_string))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map(|kb| format!("{:.1} GiB RAM", kb / 1024.0 / 1024.0))
            .unwrap_or_else(|| "unknown RAM".into());
        let kernel = format!("Linux {}", read("/proc/sys/kernel/osrelease").trim());
        let rustc = std::process::Command::new("rustc")
            .arg("--version")
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_else(|| "rustc unknown".into());
        Machine {
            cpus: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(0),
            cpu_model,
            memory,
            kernel,
            rustc,
            filesystem: filesystem_of(dir, &read("/proc/mounts")),
            sqlite: sqlite_version().await,
            load: load_average(),
        }
    }

    fn line(&self) -> String {
        let mut s = String::new();
        let _ = write!(
            s,
            "{} CPUs ({}), {}, {}, {} (on PATH), SQLite {}, scratch on {}; load average \
             {} at start",
            self.cpus,
            self.cpu_model,
            self.memory,
            self.kernel,
            self.rustc,
            self.sqlite,
            self.filesystem,
            self.load
        );
        s
    }
}

/// The version of the SQLite linked in (an in-memory connection).
async fn sqlite_version() -> String {
    let version = async {
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect("sqlite::memory:")
            .await?;
        let v: String = sqlx::query_scalar("SELECT sqlite_version()")
            .fetch_one(&pool)
            .await?;
        pool.close().await;
        Ok::<String, sqlx::Error>(v)
    };
    version.await.unwrap_or_else(|_| "?".into())
}

/// The filesystem type (and device) of the mount holding `dir`, from /proc/mounts.
fn filesystem_of(dir: &Path, mounts: &str) -> String {
    let unescape = |s: &str| {
        s.replace("\\040", " ")
            .replace("\\011", "\t")
            .replace("\\012", "\n")
            .replace("\\134", "\\")
    };
    let mut best: Option<(usize, String)> = None;
    for line in mounts.lines() {
        let mut f = line.split_whitespace();
        let (Some(dev), Some(mount), Some(kind)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        let mount = unescape(mount);
        if dir.starts_with(&mount) && best.as_ref().is_none_or(|(len, _)| mount.len() >= *len) {
            best = Some((mount.len(), format!("{kind} ({dev} at {mount})")));
        }
    }
    best.map(|(_, s)| s)
        .unwrap_or_else(|| "unknown filesystem".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_is_distinct_and_fixed() {
        let a = sample_indexes(1000, 100, 7);
        let b = sample_indexes(1000, 100, 7);
        assert_eq!(a, b);
        let mut s = a.clone();
        s.sort_unstable();
        s.dedup();
        assert_eq!(s.len(), 100);
        assert!(a.iter().all(|&i| i < 1000));
    }

    #[test]
    fn numbers_are_grouped() {
        assert_eq!(group(0.0), "0");
        assert_eq!(group(999.4), "999");
        assert_eq!(group(1234.0), "1,234");
        assert_eq!(group(1_234_567.0), "1,234,567");
    }

    /// 2b's figure is the median of its rounds' ratios: one slow round (a busy minute of a
    /// shared machine) does not move it.
    #[test]
    fn audit_cost_is_the_median_round() {
        assert_eq!(median(vec![]), 0.0);
        assert_eq!(median(vec![0.7]), 0.7);
        assert_eq!(median(vec![0.9, 0.1, 0.7]), 0.7);
        assert_eq!(median(vec![0.8, 0.6, 0.2, 0.7, 0.75]), 0.7);
        assert_eq!(median(vec![0.6, 0.8]), 0.7);
        assert_eq!(ratio_of(3.0, 4.0), 0.75);
        assert_eq!(ratio_of(3.0, 0.0), 0.0);
        let row = ResultRow {
            name: "2b".into(),
            derbes: 9.0,
            baseline: 10.0,
            goal: GOAL_AUDIT_COST,
            ratio: Some(0.6),
        };
        assert_eq!(row.ratio(), 0.6);
        assert_eq!(row.met(), "NO");
        let plain = ResultRow { ratio: None, ..row };
        assert_eq!(plain.ratio(), 0.9);
        assert_eq!(plain.met(), "yes");
    }

    #[test]
    fn filesystem_is_the_longest_mount() {
        let mounts = "/dev/vda / ext4 rw 0 0\ntmpfs /tmp tmpfs rw 0 0\n";
        assert!(filesystem_of(Path::new("/tmp/x"), mounts).starts_with("tmpfs"));
        assert!(filesystem_of(Path::new("/work/x"), mounts).starts_with("ext4"));
    }
}
