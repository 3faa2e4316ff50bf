//! `derbes notices …`: policy-change notices by e-mail (clause 9.2) — enqueue, run (resume),
//! status, and the benchmark against a local SMTP sink.

use crate::app::{self, AnyError, Common};
use derbes_core::clock::{Clock, SystemClock};
use derbes_notify::{
    ConsentLanguage, JobStatus, NoticeTexts, Notifier, RunOptions, SmtpSettings, TextsInput,
    TlsMode, VaultRecipients,
};
use derbes_service::Vault;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// SMTP settings, by flags or environment. The password is never printed or logged.
#[derive(Debug, Clone, clap::Args)]
pub struct SmtpArgs {
    /// SMTP server host. Without it no notice is sent (`serve` then runs no notice jobs).
    #[arg(long, env = "DERBES_SMTP_HOST")]
    pub smtp_host: Option<String>,
    /// SMTP port (default: 25 for `none`, 587 for `starttls`, 465 for `tls`).
    #[arg(long, env = "DERBES_SMTP_PORT")]
    pub smtp_port: Option<u16>,
    /// TLS mode: `starttls` (required), `tls` (implicit, port 465) or `none` (a local relay).
    #[arg(long, env = "DERBES_SMTP_TLS", default_value = "starttls")]
    pub smtp_tls: String,
    /// The sender address of the notices.
    #[arg(long, env = "DERBES_SMTP_FROM")]
    pub smtp_from: Option<String>,
    /// The sender's display name.
    #[arg(long, env = "DERBES_SMTP_FROM_NAME")]
    pub smtp_from_name: Option<String>,
    /// SMTP user name (with --smtp-password).
    #[arg(long, env = "DERBES_SMTP_USER")]
    pub smtp_user: Option<String>,
    /// SMTP password; prefer the environment variable. Never printed.
    #[arg(long, env = "DERBES_SMTP_PASSWORD", hide_env_values = true)]
    pub smtp_password: Option<String>,
    /// Most SMTP connections open at once.
    #[arg(long, env = "DERBES_SMTP_CONNECTIONS", default_value_t = 16)]
    pub smtp_connections: u32,
    /// Attempts per notice before it is marked failed.
    #[arg(long, env = "DERBES_NOTICE_MAX_ATTEMPTS", default_value_t = 6)]
    pub notice_max_attempts: i64,
    /// Wait after the first failed attempt (seconds); doubled after each further one.
    #[arg(long, env = "DERBES_NOTICE_BACKOFF", default_value_t = 60)]
    pub notice_backoff: i64,
}

impl SmtpArgs {
    /// The settings, or `None` when no host is configured.
    pub fn settings(&self) -> Result<Option<SmtpSettings>, AnyError> {
        let Some(host) = self.smtp_host.clone() else {
            return Ok(None);
        };
        let tls: TlsMode = self
            .smtp_tls
            .parse()
            .map_err(|_| "--smtp-tls must be starttls, tls or none")?;
        let port = self.smtp_port.unwrap_or(match tls {
            TlsMode::None => 25,
            TlsMode::StartTls => 587,
            TlsMode::Tls => 465,
        });
        let from = self
            .smtp_from
            .clone()
            .ok_or("--smtp-from (DERBES_SMTP_FROM) is required with --smtp-host")?;
        Ok(Some(SmtpSettings {
            host,
            port,
            tls,
            from,
            from_name: self.smtp_from_name.clone(),
            username: self.smtp_user.clone(),
            password: self.smtp_password.clone(),
            connections: self.smtp_connections.max(1),
            timeout: Duration::from_secs(30),
        }))
    }

    /// Run options from the flags.
    pub fn options(&self) -> RunOptions {
        RunOptions {
            concurrency: (self.smtp_connections.max(1) as usize) * 2,
            max_attempts: self.notice_max_attempts.max(1),
            backoff_base: chrono::Duration::seconds(self.notice_backoff.max(1)),
            ..RunOptions::default()
        }
    }
}

/// `derbes notices …`.
#[derive(Debug, clap::Subcommand)]
pub enum NoticesAction {
    /// Progress of notice jobs: deliveries per status, error codes, summary.
    Status {
        /// One job's id (default: every job).
        job: Option<String>,
        /// Print JSON (the API's shape) instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Send the due notices of every open job (resumes interrupted jobs).
    Run {
        #[command(flatten)]
        smtp: SmtpArgs,
        /// Keep going until every job is done, waiting for retries that are not due yet.
        #[arg(long)]
        wait: bool,
    },
    /// Enqueue the notice of a significant policy version (once per version).
    Enqueue {
        /// The policy version.
        #[arg(long)]
        version: i64,
        /// A JSON file `{"ru": {"subject", "body"}, "kk": {…}, "en": {…}}`; every body names
        /// the version.
        #[arg(long, conflicts_with = "url")]
        texts: Option<PathBuf>,
        /// Use the standard texts with this link to the new version.
        #[arg(long)]
        url: Option<String>,
    },
    /// Measure notices/s to a local SMTP sink beside the sink's own accept rate.
    Bench(crate::bench_notices::BenchNoticesArgs),
}

fn print_status(s: &JobStatus) {
    println!("{}", s.summary());
    if let Some(next) = s.next_attempt_at {
        println!(
            "  next attempt due {}",
            next.format("%Y-%m-%d %H:%M:%S UTC")
        );
    }
    for e in &s.errors {
        println!("  {:<8} {:<24} {}", e.status, e.code, e.count);
    }
}

/// A notifier over an opened vault.
pub fn notifier(
    vault: &Vault,
    smtp: &SmtpSettings,
    opts: RunOptions,
) -> Result<Notifier, AnyError> {
    Ok(Notifier::new(
        vault.store().clone(),
        Arc::new(VaultRecipients::new(vault.clone())),
        Arc::new(ConsentLanguage::new(vault.store().clone())),
        Arc::new(SystemClock),
        smtp,
        opts,
    )?)
}

/// Run `derbes notices …`.
pub async fn run(common: &Common, action: NoticesAction) -> Result<(), AnyError> {
    match action {
        NoticesAction::Status { job, json } => {
            let store = app::open_store(common, false).await?;
            let statuses = match job {
                Some(id) => {
                    let id = derbes_notify::parse_job_id(&id)
                        .map_err(|_| format!("no notice job {id}"))?;
                    vec![derbes_notify::job_status(store.as_ref(), id)
                        .await
                        .map_err(|e| match e {
                            derbes_notify::NotifyError::JobNotFound => {
                                format!("no notice job {id}")
                            }
                            other => other.to_string(),
                        })?]
                }
                None => derbes_notify::job_statuses(store.as_ref()).await?,
            };
            if json {
                println!("{}", serde_json::to_string_pretty(&statuses)?);
            } else if statuses.is_empty() {
                println!("no notice jobs");
            } else {
                for s in &statuses {
                    print_status(s);
                }
            }
            Ok(())
        }
        NoticesAction::Enqueue {
            version,
            texts,
            url,
        } => {
            let texts = match (texts, url) {
                (Some(path), None) => {
                    let raw = std::fs::read_to_string(&path)
                        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                    let input: TextsInput = serde_json::from_str(&raw)
                        .map_err(|e| format!("{} is not a texts file: {e}", path.display()))?;
                    NoticeTexts::new(version, input)?
                }
                (None, Some(url)) => NoticeTexts::standard(version, &url)?,
                _ => return Err("give --texts FILE or --url URL".into()),
            };
            let store = app::open_store(common, false).await?;
            let (status, created) =
                derbes_notify::enqueue_policy_change(store.as_ref(), &SystemClock, &texts).await?;
            if created {
                println!(
                    "enqueued notice job {} for policy version {version}: {} subjects",
                    status.id, status.counts.total
                );
            } else {
                println!(
                    "policy version {version} already has notice job {} (nothing new enqueued)",
                    status.id
                );
            }
            Ok(())
        }
        NoticesAction::Run { smtp, wait } => {
            let settings = smtp
                .settings()?
                .ok_or("--smtp-host (DERBES_SMTP_HOST) is required to send notices")?;
            let opened = app::open(common, false).await?;
            let n = notifier(&opened.vault, &settings, smtp.options())?;
            loop {
                for r in n.run_open_jobs().await? {
                    println!(
                        "job {}: {} sent, {} to retry, {} failed, {} without e-mail{}{}",
                        r.job_id,
                        r.sent,
                        r.retried,
                        r.failed,
                        r.skipped_no_email,
                        if r.released_stale > 0 {
                            format!(", {} interrupted claims resumed", r.released_stale)
                        } else {
                            String::new()
                        },
                        match r.stopped {
                            Some(why) => format!(" — stopped: {why}"),
                            None if r.done => " — done".to_string(),
                            None => String::new(),
                        }
                    );
                }
                let next = n.next_due().await?;
                match (wait, next) {
                    (true, Some(at)) => {
                        let secs = (at - SystemClock.now()).num_seconds().clamp(1, 300);
                        tokio::time::sleep(Duration::from_secs(secs as u64)).await;
                    }
                    _ => break,
                }
            }
            opened.vault.shutdown().await;
            for s in derbes_notify::job_statuses(opened.vault.store().as_ref()).await? {
                if s.state == "open" {
                    print_status(&s);
                }
            }
            Ok(())
        }
        NoticesAction::Bench(args) => crate::bench_notices::run(args).await,
    }
}
