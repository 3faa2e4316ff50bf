//! `derbes`: one binary — the service, its maintenance commands and its benchmark.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
#![forbid(unsafe_code)]

mod access;
mod app;
mod audit;
mod bench;
mod bench_cabinet;
mod cabinet_cli;
mod consent_cli;

/// The process's allocator: mimalloc. A create or read allocates many small, short-lived
/// buffers on one thread and frees some on another (sqlx hands statement arguments to its
/// SQLite worker thread); glibc's malloc spent a fifth of the ingest's CPU in
/// `malloc_consolidate`/`unlink_chunk` and page faults (perf, docs/benchmarks.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
mod bench_notices;
mod employees;
mod notices;

use app::{AnyError, Common};
use clap::{Parser, Subcommand};
use derbes_service::apikeys;
use std::net::SocketAddr;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "derbes",
    version,
    about = "Personal-data vault of a Kazakhstan microfinance lender",
    long_about = "derbes keeps borrowers' personal data encrypted, used only for declared \
        purposes, and lets the lender prove it. With no configuration it runs on an embedded \
        SQLite database in ./derbes-data, generating its keys on first start."
)]
struct Cli {
    #[command(flatten)]
    common: Common,
    /// Log filter (tracing syntax), e.g. `info` or `derbes=debug,info`.
    #[arg(
        long,
        env = "DERBES_LOG",
        default_value = "info,sqlx=warn",
        global = true
    )]
    log: String,
    /// Log format: `text` or `json`.
    #[arg(long, env = "DERBES_LOG_FORMAT", default_value = "text", global = true)]
    log_format: String,
    #[command(flatten)]
    employees: employees::EmployeeArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP service (JSON API under /api/v1).
    Serve {
        /// Address to listen on.
        #[arg(long, env = "DERBES_LISTEN", default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// On an empty database, load this many fictional borrowers and create a demo API key.
        #[arg(long, num_args = 0..=1, default_missing_value = "300")]
        demo: Option<usize>,
        /// Create the SQLite file named by --database if it does not exist.
        #[arg(long)]
        create: bool,
        /// Sign an audit checkpoint this often (seconds), when the log has grown.
        #[arg(long, env = "DERBES_CHECKPOINT_EVERY", default_value_t = 60)]
        checkpoint_every: u64,
        /// Hours an unfinished application is kept before it is purged (6.2).
        #[arg(long, env = "DERBES_APPLICATION_TTL_HOURS", default_value_t = 24)]
        application_ttl_hours: u32,
        /// SMTP for policy-change notices (9.2): with a host, pending notice jobs are sent in
        /// the background.
        #[command(flatten)]
        smtp: notices::SmtpArgs,
        #[command(flatten)]
        access: access::AccessArgs,
        #[command(flatten)]
        cabinet: cabinet_cli::CabinetArgs,
    },
    /// Apply database migrations and exit.
    Migrate {
        /// Create the SQLite file named by --database if it does not exist.
        #[arg(long)]
        create: bool,
    },
    /// Master keys: list versions (never key material), rotate.
    Keys {
        #[command(subcommand)]
        action: KeysAction,
    },
    /// API keys of the lender's systems.
    Apikey {
        #[command(subcommand)]
        action: ApikeyAction,
    },
    /// Employee accounts: create (bootstrap the first administrator), list, disable, unlock.
    Employee {
        #[command(subcommand)]
        action: employees::EmployeeAction,
    },
    /// Load fictional borrowers (valid IINs, Kazakh and Russian names).
    Demo {
        /// How many.
        #[arg(long, default_value_t = 300)]
        count: usize,
        /// Seed (the same seed gives the same people; default: from the clock).
        #[arg(long)]
        seed: Option<u64>,
    },
    /// The registry: the approved list of personal data (L-LIST).
    Registry {
        #[command(subcommand)]
        action: RegistryAction,
    },
    /// The tamper-evident audit log: verify it, sign a checkpoint, make and check proofs.
    Audit {
        #[command(subcommand)]
        action: AuditAction,
    },
    /// The access policy (Cedar) and the detection rules: check, schema, export.
    Access {
        #[command(subcommand)]
        action: access::AccessAction,
    },
    /// Print the OpenAPI document (what docs/openapi.json holds).
    Openapi,
    /// Copy the SQLite database consistently while the service runs (VACUUM INTO), then
    /// check the copy. PostgreSQL: use pg_dump (see docs/operations.md).
    Backup {
        /// The new file to write.
        #[arg(long)]
        out: std::path::PathBuf,
    },
    /// Measure throughput against raw-database baselines (see docs/benchmarks.md).
    Bench(bench::BenchArgs),
    /// The privacy policy: publish a version, list versions, print one (PRE-1, 9.2).
    Policy {
        #[command(subcommand)]
        action: consent_cli::PolicyAction,
    },
    /// Applications through the site: purge unfinished ones that expired (6.2).
    Applications {
        #[command(subcommand)]
        action: consent_cli::ApplicationsAction,
    },
    /// The working-day calendar (--calendar FILE loads the operator's updated copy).
    Calendar {
        #[command(subcommand)]
        action: consent_cli::CalendarAction,
    },
    /// Policy-change notices by e-mail (9.2): enqueue, run, status, benchmark.
    Notices {
        #[command(subcommand)]
        action: notices::NoticesAction,
    },
}

#[derive(Subcommand)]
enum AuditAction {
    /// Check the whole log against the signed checkpoints; report the first bad entry.
    Verify {
        /// Extra public keys (base64) whose checkpoints are accepted, e.g. before a rotation.
        #[arg(long = "public-key")]
        public_keys: Vec<String>,
    },
    /// Sign a checkpoint of the current log now.
    Checkpoint,
    /// Print the audit public key (base64) and its id.
    PublicKey,
    /// Print an inclusion proof (JSON) of entry SEQ in the latest checkpoint.
    Proof {
        /// The entry's sequence number.
        seq: u64,
    },
    /// Print a consistency proof (JSON) between two checkpoint sizes.
    Consistency {
        /// Older tree size.
        old: u64,
        /// Newer tree size.
        new: u64,
    },
    /// Verify a proof file (inclusion or consistency) with only a public key — what a third
    /// party runs. Exit code 0 when it holds.
    VerifyProof {
        /// The audit public key, base64.
        #[arg(long = "public-key")]
        public_key: String,
        /// The proof JSON file.
        file: std::path::PathBuf,
    },
}

#[derive(Subcommand)]
enum KeysAction {
    /// Show key versions, creation times and check values.
    List,
    /// Add a new master-key version, make it current, and rewrap every subject's data key.
    Rotate,
}

#[derive(Subcommand)]
enum ApikeyAction {
    /// Create a key; the token is printed once.
    Create {
        /// A name, e.g. `loan-system`.
        #[arg(long)]
        name: String,
        /// Purposes the key may name (repeat or comma-separate).
        #[arg(long = "purpose", value_delimiter = ',', required = true)]
        purposes: Vec<String>,
    },
    /// List keys (never tokens).
    List,
    /// Revoke a key at once.
    Revoke {
        /// The key's id.
        id: String,
    },
}

#[derive(Subcommand)]
enum RegistryAction {
    /// Check a registry file (default: the one in force) and summarise it.
    Check {
        /// The file.
        file: Option<std::path::PathBuf>,
    },
    /// Print the embedded default registry, to start an edited copy from.
    Export,
}

fn init_logging(filter: &str, format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    if format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(&cli.log, &cli.log_format);
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), AnyError> {
    let common = cli.common;
    match cli.command {
        Command::Serve {
            listen,
            demo,
            create,
            checkpoint_every,
            application_ttl_hours,
            smtp,
            access,
            cabinet,
        } => {
            serve(
                &common,
                &cli.employees,
                ServeOptions {
                    listen,
                    demo,
                    create,
                    checkpoint_every,
                    application_ttl_hours,
                    smtp,
                    access,
                    cabinet,
                },
            )
            .await
        }
        Command::Policy { action } => consent_cli::policy(&common, action).await,
        Command::Applications { action } => consent_cli::applications(&common, action).await,
        Command::Calendar { action } => consent_cli::calendar(&common, action),
        Command::Notices { action } => notices::run(&common, action).await,
        Command::Access { action } => access::run(&common, action),
        Command::Audit { action } => audit::run(&common, action).await,
        Command::Migrate { create } => {
            app::open_store(&common, create).await?;
            println!("migrations applied to {}", common.database_display());
            Ok(())
        }
        Command::Keys { action } => keys(&common, action).await,
        Command::Apikey { action } => apikey(&common, action).await,
        Command::Employee { action } => employees::run(&common, &cli.employees, action).await,
        Command::Demo { count, seed } => {
            let opened = app::open(&common, false).await?;
            if opened.created_keys {
                println!(
                    "generated a new key ring in {} (mode 0600) — back it up",
                    common.key_path().display()
                );
            }
            let seed = seed
                .unwrap_or_else(|| chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0) as u64);
            let n = app::load_demo(&opened.vault, seed, count).await?.len();
            println!("loaded {n} fictional borrowers (seed {seed})");
            Ok(())
        }
        Command::Registry { action } => match action {
            RegistryAction::Export => {
                print!("{}", derbes_core::registry::EMBEDDED_TOML);
                Ok(())
            }
            RegistryAction::Check { file } => {
                let path = file.or(common.registry.clone());
                let r = app::load_registry(path.as_deref())?;
                println!(
                    "registry {} is valid: {} categories, {} purposes, {} banks",
                    r.version(),
                    r.categories().len(),
                    r.purposes().len(),
                    r.banks().len()
                );
                Ok(())
            }
        },
        Command::Openapi => {
            print!("{}", derbes_web::openapi_json());
            Ok(())
        }
        Command::Bench(args) => bench::run(&common, args).await,
        Command::Backup { out } => backup(&common, &out).await,
    }
}

/// What `derbes serve` was asked for.
struct ServeOptions {
    listen: SocketAddr,
    demo: Option<usize>,
    create: bool,
    checkpoint_every: u64,
    application_ttl_hours: u32,
    smtp: notices::SmtpArgs,
    access: access::AccessArgs,
    cabinet: cabinet_cli::CabinetArgs,
}

async fn serve(
    common: &Common,
    employee_args: &employees::EmployeeArgs,
    options: ServeOptions,
) -> Result<(), AnyError> {
    let ServeOptions {
        listen,
        demo,
        create,
        checkpoint_every,
        application_ttl_hours,
        smtp,
        access: access_args,
        cabinet: cabinet_args,
    } = options;
    let access_args = &access_args;
    let smtp_settings = smtp.settings()?;
    let opened = app::open(common, create).await?;
    let staff = employees::open(&opened, employee_args).await?;
    let vault = opened.vault;
    // 7.1a: the cabinet must be able to say how long every category is kept.
    vault.registry().check_retention_complete()?;
    let (signer, created_signer) = app::load_audit_signer(common, true)?;
    if created_signer {
        println!(
            "generated the audit signing key {} (mode 0600); public key {}",
            common.audit_key_path().display(),
            derbes_audit::public_key_to_base64(&signer.public_key())
        );
    }
    if opened.created_keys {
        println!(
            "generated a new key ring in {} (mode 0600) — back it up: without it the data cannot be read",
            common.key_path().display()
        );
    }
    let consent = consent_cli::consent_service(common, vault.clone(), application_ttl_hours)?;
    if let Some(count) = demo {
        if vault.store().count_subjects().await? == 0 {
            let ids = app::load_demo(&vault, 1, count).await?;
            let n = ids.len();
            let purposes: Vec<String> = vault
                .registry()
                .purposes()
                .keys()
                .map(|p| p.as_str().to_string())
                .collect();
            let (info, token) = apikeys::create(
                vault.store().as_ref(),
                vault.registry(),
                "demo",
                &purposes,
                vault.now(),
            )
            .await?;
            println!("demo: loaded {n} fictional borrowers");
            println!("demo: API key {} (all purposes): {token}", info.id);
            app::load_demo_extras(&vault, &consent, &staff, &ids).await?;
        } else {
            println!("demo: the database is not empty; no demo data loaded");
        }
    }
    let (access_control, incidents, hours) = access::security(
        access_args,
        vault.registry(),
        vault.store().clone(),
        std::sync::Arc::new(derbes_core::clock::SystemClock),
        Some(std::sync::Arc::new(staff.clone())),
    )?;
    // Clauses 4.1, 5.3–5.5: employee reads pass the access policy, and every employee
    // access is reported to detection.
    vault.install_access_guard(derbes_service::AccessGuard::new(
        access_control.clone(),
        hours,
        Some(incidents.clone()),
    ));
    let state = derbes_web::AppState::new(vault.clone())?
        .with_audit_key(
            signer.key_id().to_string(),
            derbes_audit::public_key_to_base64(&signer.public_key()),
        )
        .with_consent(consent.clone())
        .with_employees(staff.clone())
        .with_access(access_control)
        .with_incidents(incidents.clone());
    let state = match cabinet_args.cabinet(consent.clone(), demo.is_some())? {
        Some(cabinet) => state.with_cabinet(cabinet),
        None => state,
    };
    // Unfinished applications leave nothing behind once their time runs out (6.2).
    let purger = tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
        loop {
            tick.tick().await;
            if let Err(e) = consent.purge_expired_applications().await {
                tracing::error!(code = e.code(), "purging expired applications failed");
            }
        }
    });
    let signer = std::sync::Arc::new(signer);
    let checkpoints = {
        let store = vault.store().clone();
        let signer = signer.clone();
        let every = std::time::Duration::from_secs(checkpoint_every.max(1));
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.tick().await;
            loop {
                tick.tick().await;
                let now = chrono::Utc::now().timestamp_micros();
                if let Err(e) =
                    derbes_service::audit::sign_checkpoint(store.as_ref(), &signer, now).await
                {
                    tracing::error!(code = e.code(), "signing an audit checkpoint failed");
                }
            }
        })
    };
    let notice_runner = match &smtp_settings {
        Some(settings) => {
            let n = notices::notifier(&vault, settings, smtp.options())?;
            println!(
                "policy-change notices: sending pending jobs through {}:{}",
                settings.host, settings.port
            );
            Some(tokio::spawn(async move {
                n.run_until(
                    std::time::Duration::from_secs(30),
                    std::future::pending::<()>(),
                )
                .await;
            }))
        }
        None => None,
    };
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    let addr = listener.local_addr()?;
    println!(
        "derbes {} listening on http://{addr} ({}: {})",
        env!("CARGO_PKG_VERSION"),
        vault.store().backend().as_str(),
        common.database_display()
    );
    println!("API: http://{addr}/api/v1/health — OpenAPI: http://{addr}/api/v1/openapi.json");
    derbes_web::serve(listener, state, shutdown_signal()).await?;
    checkpoints.abort();
    purger.abort();
    staff.shutdown().await;
    if let Some(runner) = notice_runner {
        // An interrupted delivery stays claimed and is resumed after its lease (at-least-once).
        runner.abort();
    }
    incidents.shutdown().await;
    vault.shutdown().await;
    let now = chrono::Utc::now().timestamp_micros();
    if let Err(e) =
        derbes_service::audit::sign_checkpoint(vault.store().as_ref(), &signer, now).await
    {
        tracing::error!(code = e.code(), "signing the final audit checkpoint failed");
    }
    println!("derbes stopped");
    Ok(())
}

async fn backup(common: &Common, out: &std::path::Path) -> Result<(), AnyError> {
    let url = common.database_url();
    if !url.starts_with("sqlite:") {
        return Err(
            "backup copies SQLite databases; for PostgreSQL use pg_dump -Fc \
                    (docs/operations.md)"
                .into(),
        );
    }
    let store = derbes_store::SqliteStore::open(&url, Default::default())
        .await
        .map_err(|e| format!("cannot open database {}: {e}", common.database_display()))?;
    store
        .backup_into(out)
        .await
        .map_err(|e| format!("backup to {} failed: {e}", out.display()))?;
    let copy =
        derbes_store::SqliteStore::open(&format!("sqlite://{}", out.display()), Default::default())
            .await?;
    use derbes_store::Store;
    let check: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(copy.pool())
        .await?;
    if check != "ok" {
        return Err(format!("the copy failed its integrity check: {check}").into());
    }
    let audit_copy = copy.audit_path().to_path_buf();
    let check: String = sqlx::query_scalar("PRAGMA audit.integrity_check")
        .fetch_one(copy.reader())
        .await?;
    if check != "ok" {
        return Err(format!("the audit log's copy failed its integrity check: {check}").into());
    }
    let n = copy.count_subjects().await?;
    let entries = copy.audit_head().await?.size;
    println!(
        "backup written to {} ({n} subjects) and {} ({entries} audit entries), integrity ok; \
         back up the key file separately",
        out.display(),
        audit_copy.display()
    );
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

async fn keys(common: &Common, action: KeysAction) -> Result<(), AnyError> {
    let clock = derbes_core::clock::SystemClock;
    match action {
        KeysAction::List => {
            let (keys, _) = app::load_keys(common, &clock, false)?;
            println!("version  current  created                    check value");
            for k in keys.versions() {
                println!(
                    "{:<8} {:<8} {:<26} {}",
                    k.version,
                    if k.current { "yes" } else { "" },
                    k.created_at.format("%Y-%m-%d %H:%M:%S UTC"),
                    k.check_value
                );
            }
            println!("index key check value: {}", keys.index_check_value());
            Ok(())
        }
        KeysAction::Rotate => {
            if std::env::var_os(derbes_crypto::KEYS_ENV_VAR).is_some() {
                return Err(
                    "the key ring comes from DERBES_KEYS: rotate the key file it was made \
                     from, then update the variable"
                        .into(),
                );
            }
            let path = common.key_path();
            let mut keys = derbes_crypto::KeyRing::load_file(&path)
                .map_err(|e| format!("key file {}: {e}", path.display()))?;
            let version = keys.rotate(chrono::Utc::now())?;
            keys.save_file(&path)?;
            println!("master key version {version} is now current");
            let opened = app::open(common, false).await?;
            let n = opened.vault.rewrap_all().await?;
            println!("rewrapped {n} subjects' data keys under version {version}");
            Ok(())
        }
    }
}

async fn apikey(common: &Common, action: ApikeyAction) -> Result<(), AnyError> {
    let registry = app::load_registry(common.registry.as_deref())?;
    let store = app::open_store(common, false).await?;
    match action {
        ApikeyAction::Create { name, purposes } => {
            let (info, token) = apikeys::create(
                store.as_ref(),
                &registry,
                &name,
                &purposes,
                chrono::Utc::now(),
            )
            .await?;
            println!("created API key {} ({})", info.id, info.name);
            println!("purposes: {}", info.purposes.join(", "));
            println!("token (shown once; send as `Authorization: Bearer <token>`):");
            println!("{token}");
        }
        ApikeyAction::List => {
            for k in apikeys::list(store.as_ref()).await? {
                println!(
                    "{}  {:<20} {:<8} {}",
                    k.id,
                    k.name,
                    if k.revoked_at.is_some() {
                        "revoked"
                    } else {
                        "active"
                    },
                    k.purposes.join(",")
                );
            }
        }
        ApikeyAction::Revoke { id } => {
            apikeys::revoke(store.as_ref(), &id, chrono::Utc::now())
                .await
                .map_err(|_| format!("no active API key with id {id}"))?;
            println!("revoked {id}");
        }
    }
    Ok(())
}
