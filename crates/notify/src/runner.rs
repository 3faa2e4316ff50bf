//! Sending a job's notices by SMTP (lettre's async transport on tokio, with a connection
//! pool), with retries and exponential back-off, resumable at any point.
//!
//! # Delivery guarantee
//! Each delivery is claimed (`sending`, the attempt counted) in the database *before* its SMTP
//! transaction and marked `sent` right after the server's `250` (results are committed in
//! small groups as they arrive). So:
//! - a delivery is never lost: until it is `sent`, `failed` or `skipped_no_email` it is
//!   `pending` or `sending`, and a `sending` claim whose runner died is released back to
//!   `pending` after [`RunOptions::claim_lease`];
//! - a message the server answered with `250` is never sent again: the claim guarantees no
//!   second runner picks the delivery up meanwhile;
//! - a server that fails *before* its `250` (refusal, `421`, a closed connection, a timeout)
//!   gets the message again later, which is what SMTP asks for.
//!
//! One window cannot be closed by any SMTP client: the server took the whole message but its
//! `250` never arrived (the connection broke after the final dot), or the runner died between
//! the `250` and the commit of `sent`. There this runner chooses **at-least-once**: the
//! delivery is retried. A duplicate is then possible, and it carries the *same* Message-ID
//! (derived from job and subject, [`message_id`]), so receiving systems and mail clients can
//! recognise it. Losing a legally relevant notice is worse than a rare duplicate.

use crate::recipients::{Recipients, SubjectLanguage};
use crate::texts::NoticeTexts;
use crate::NotifyError;
use chrono::{DateTime, Utc};
use derbes_core::clock::{from_micros, to_micros, Clock};
use derbes_core::registry::Lang;
use derbes_store::notices::{ClaimedDelivery, DeliveryOutcome};
use derbes_store::{Store, SubjectId};
use futures_util::StreamExt;
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::transport::smtp::PoolConfig;
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use sha2::{Digest, Sha256};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How the SMTP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// Plain text (a relay on the same host or network only).
    None,
    /// Plain connect, then `STARTTLS`, required (port 587).
    StartTls,
    /// TLS from the first byte (port 465).
    Tls,
}

impl FromStr for TlsMode {
    type Err = NotifyError;
    fn from_str(s: &str) -> Result<TlsMode, NotifyError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "none" | "plain" => Ok(TlsMode::None),
            "starttls" => Ok(TlsMode::StartTls),
            "tls" | "smtps" | "wrapper" => Ok(TlsMode::Tls),
            _ => Err(NotifyError::Settings("smtp_tls_mode")),
        }
    }
}

/// Where and how to send. `Debug` never prints the password.
#[derive(Clone)]
pub struct SmtpSettings {
    /// Server host name.
    pub host: String,
    /// Server port.
    pub port: u16,
    /// TLS mode.
    pub tls: TlsMode,
    /// The sender address (`From`).
    pub from: String,
    /// The sender's display name.
    pub from_name: Option<String>,
    /// User name, if the server needs authentication.
    pub username: Option<String>,
    /// Password. Never logged.
    pub password: Option<String>,
    /// Most connections open at once.
    pub connections: u32,
    /// Timeout of each SMTP command.
    pub timeout: Duration,
}

impl std::fmt::Debug for SmtpSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("username", &self.username.as_ref().map(|_| "<set>"))
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("connections", &self.connections)
            .finish_non_exhaustive()
    }
}

impl SmtpSettings {
    /// Plain SMTP to a server on this machine (tests, benchmarks, a local relay).
    pub fn local(port: u16, from: &str) -> SmtpSettings {
        SmtpSettings {
            host: "127.0.0.1".into(),
            port,
            tls: TlsMode::None,
            from: from.into(),
            from_name: None,
            username: None,
            password: None,
            connections: 16,
            timeout: Duration::from_secs(30),
        }
    }
}

/// Most results committed in one transaction.
const MAX_RESULTS: usize = 256;

/// How a run behaves.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Deliveries claimed per database round trip.
    pub batch: i64,
    /// SMTP transactions in flight at once.
    pub concurrency: usize,
    /// Attempts before a delivery is `failed`.
    pub max_attempts: i64,
    /// Back-off after the first failed attempt; doubled after each further one.
    pub backoff_base: chrono::Duration,
    /// The longest back-off.
    pub backoff_max: chrono::Duration,
    /// A `sending` claim older than this is taken to belong to a runner that died.
    pub claim_lease: chrono::Duration,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            batch: 500,
            concurrency: 32,
            max_attempts: 6,
            backoff_base: chrono::Duration::minutes(1),
            backoff_max: chrono::Duration::hours(6),
            claim_lease: chrono::Duration::minutes(10),
        }
    }
}

impl RunOptions {
    /// The wait after the `attempts`-th failed attempt: `base · 2^(attempts−1)`, capped.
    pub fn backoff(&self, attempts: i64) -> chrono::Duration {
        let exp = u32::try_from((attempts - 1).clamp(0, 30)).unwrap_or(0);
        let factor = 1i32.checked_shl(exp).unwrap_or(i32::MAX);
        self.backoff_base
            .checked_mul(factor)
            .map_or(self.backoff_max, |d| d.min(self.backoff_max))
    }
}

/// What one pass over a job did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct PassReport {
    /// The job.
    pub job_id: String,
    /// Stale claims of a dead runner released back to `pending` at the start.
    pub released_stale: u64,
    /// SMTP transactions (and lookups) started.
    pub attempted: u64,
    /// Accepted by the server.
    pub sent: u64,
    /// Failed transiently, due again later.
    pub retried: u64,
    /// Given up.
    pub failed: u64,
    /// No e-mail address.
    pub skipped_no_email: u64,
    /// Why the pass stopped before running out of due deliveries (`server_unavailable`).
    pub stopped: Option<&'static str>,
    /// Whether every delivery of the job is final now.
    pub done: bool,
}

/// The deterministic Message-ID of the notice of `job` to `subject`: a hash of both, so a
/// retried message carries the same id and no subject id leaves in clear.
pub fn message_id(job: &str, subject: &SubjectId, domain: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"derbes-notice\0");
    h.update(job.as_bytes());
    h.update([0]);
    h.update(subject);
    let digest = h.finalize();
    format!("<notice.{}@{domain}>", hex::encode(&digest[..16]))
}

enum Class {
    /// A permanent refusal (5xx): retrying will not help.
    Permanent,
    /// A transient refusal of this message (4xx other than 421).
    Transient,
    /// The server is unreachable or going away (connection, timeout, TLS, 421).
    Unavailable,
}

fn classify(e: &lettre::transport::smtp::Error) -> (String, Class) {
    if let Some(code) = e.status() {
        let n = code.to_string();
        let class = if e.is_permanent() {
            Class::Permanent
        } else if n == "421" {
            Class::Unavailable
        } else {
            Class::Transient
        };
        return (format!("smtp_{n}"), class);
    }
    if e.is_timeout() {
        ("smtp_timeout".into(), Class::Unavailable)
    } else if e.is_tls() {
        ("smtp_tls".into(), Class::Unavailable)
    } else {
        ("smtp_connection".into(), Class::Unavailable)
    }
}

/// Sends notice jobs. Cheap to share behind an `Arc`.
pub struct Notifier {
    store: Arc<dyn Store>,
    recipients: Arc<dyn Recipients>,
    languages: Arc<dyn SubjectLanguage>,
    clock: Arc<dyn Clock>,
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    domain: String,
    opts: RunOptions,
}

struct JobCtx {
    id: String,
    texts: NoticeTexts,
}

impl Notifier {
    /// A notifier over a store, with the recipient and language sources, a clock, and SMTP
    /// settings.
    pub fn new(
        store: Arc<dyn Store>,
        recipients: Arc<dyn Recipients>,
        languages: Arc<dyn SubjectLanguage>,
        clock: Arc<dyn Clock>,
        smtp: &SmtpSettings,
        opts: RunOptions,
    ) -> Result<Notifier, NotifyError> {
        let address: Address = smtp
            .from
            .parse()
            .map_err(|_| NotifyError::Settings("smtp_from"))?;
        let domain = address.domain().to_string();
        let from = Mailbox::new(smtp.from_name.clone(), address);
        let pool = PoolConfig::new()
            .max_size(smtp.connections.max(1))
            .idle_timeout(Duration::from_secs(60));
        let tls = match smtp.tls {
            TlsMode::None => Tls::None,
            TlsMode::StartTls => Tls::Required(
                TlsParameters::new(smtp.host.clone())
                    .map_err(|_| NotifyError::Settings("smtp_tls"))?,
            ),
            TlsMode::Tls => Tls::Wrapper(
                TlsParameters::new(smtp.host.clone())
                    .map_err(|_| NotifyError::Settings("smtp_tls"))?,
            ),
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&smtp.host)
            .port(smtp.port)
            .tls(tls)
            .timeout(Some(smtp.timeout))
            .hello_name(ClientId::Domain(domain.clone()))
            .pool_config(pool);
        match (&smtp.username, &smtp.password) {
            (Some(u), Some(p)) => {
                builder = builder.credentials(Credentials::new(u.clone(), p.clone()));
            }
            (None, None) => {}
            _ => return Err(NotifyError::Settings("smtp_credentials")),
        }
        Ok(Notifier {
            store,
            recipients,
            languages,
            clock,
            transport: builder.build(),
            from,
            domain,
            opts,
        })
    }

    /// The options in force.
    pub fn options(&self) -> &RunOptions {
        &self.opts
    }

    /// One pass over every open job, oldest first.
    pub async fn run_open_jobs(&self) -> Result<Vec<PassReport>, NotifyError> {
        let mut out = Vec::new();
        for job in self.store.open_notice_jobs().await? {
            let report = self.run_job(&job.id).await?;
            let stopped = report.stopped.is_some();
            out.push(report);
            if stopped {
                break;
            }
        }
        Ok(out)
    }

    /// One pass over a job: release a dead runner's stale claims, then send every delivery
    /// that is due now, until none is left or the server is unavailable. Deliveries that
    /// failed transiently are due later (back-off) and wait for a later pass.
    pub async fn run_job(&self, job_id: &str) -> Result<PassReport, NotifyError> {
        let job = self
            .store
            .notice_job(job_id)
            .await?
            .ok_or(NotifyError::JobNotFound)?;
        let mut report = PassReport {
            job_id: job.id.clone(),
            ..PassReport::default()
        };
        if job.state == "done" {
            report.done = true;
            return Ok(report);
        }
        let ctx = JobCtx {
            id: job.id.clone(),
            texts: NoticeTexts::from_stored(job.policy_version, &job.texts)?,
        };
        let now = self.clock.now();
        report.released_stale = self
            .store
            .release_stale_notice_claims(
                &ctx.id,
                to_micros(now - self.opts.claim_lease),
                to_micros(now),
            )
            .await?;
        let halt = AtomicBool::new(false);
        // Results go to a writer that commits whatever has arrived while its previous commit
        // ran (group commit), so SMTP transactions keep going during database commits.
        let (tx, mut rx) = tokio::sync::mpsc::channel::<DeliveryOutcome>(4 * MAX_RESULTS);
        let producer = async {
            // Moved in: the writer sees the end of the results when this block ends.
            let tx = tx;
            loop {
                let claimed = self
                    .store
                    .claim_notice_deliveries(&ctx.id, to_micros(self.clock.now()), self.opts.batch)
                    .await?;
                if claimed.is_empty() {
                    return Ok(false);
                }
                let mut results = futures_util::stream::iter(claimed)
                    .map(|d| self.attempt(&ctx, d, &halt))
                    .buffer_unordered(self.opts.concurrency.max(1));
                while let Some(outcome) = results.next().await {
                    if tx.send(outcome).await.is_err() {
                        // The writer failed; its error is returned.
                        return Ok(false);
                    }
                }
                if halt.load(Ordering::SeqCst) {
                    return Ok::<bool, NotifyError>(true);
                }
            }
        };
        let writer = async {
            let mut tally = PassReport::default();
            let mut buf = Vec::with_capacity(MAX_RESULTS);
            while let Some(first) = rx.recv().await {
                buf.push(first);
                while buf.len() < MAX_RESULTS {
                    match rx.try_recv() {
                        Ok(o) => buf.push(o),
                        Err(_) => break,
                    }
                }
                for o in &buf {
                    match o {
                        DeliveryOutcome::Sent { .. } => tally.sent += 1,
                        DeliveryOutcome::Retry { .. } => tally.retried += 1,
                        DeliveryOutcome::Failed { .. } => tally.failed += 1,
                        DeliveryOutcome::SkippedNoEmail { .. } => tally.skipped_no_email += 1,
                        DeliveryOutcome::Released { .. } => continue,
                    }
                    tally.attempted += 1;
                }
                self.store.finish_notice_deliveries(&ctx.id, &buf).await?;
                buf.clear();
            }
            Ok::<PassReport, NotifyError>(tally)
        };
        let (stopped, tally) = tokio::join!(producer, writer);
        let tally = tally?;
        if stopped? {
            report.stopped = Some("server_unavailable");
        }
        report.attempted = tally.attempted;
        report.sent = tally.sent;
        report.retried = tally.retried;
        report.failed = tally.failed;
        report.skipped_no_email = tally.skipped_no_email;
        report.done = self
            .store
            .complete_notice_job(&ctx.id, to_micros(self.clock.now()))
            .await?;
        tracing::info!(
            job = %ctx.id,
            sent = report.sent,
            retried = report.retried,
            failed = report.failed,
            skipped_no_email = report.skipped_no_email,
            released_stale = report.released_stale,
            stopped = report.stopped.unwrap_or(""),
            done = report.done,
            "notice pass finished"
        );
        Ok(report)
    }

    /// The first instant a pending delivery of any open job is due.
    pub async fn next_due(&self) -> Result<Option<DateTime<Utc>>, NotifyError> {
        let mut next: Option<i64> = None;
        for job in self.store.open_notice_jobs().await? {
            if let Some(t) = self.store.next_notice_attempt(&job.id).await? {
                next = Some(next.map_or(t, |n| n.min(t)));
            }
        }
        Ok(next.map(from_micros))
    }

    fn retry_or_fail(&self, d: &ClaimedDelivery, code: String) -> DeliveryOutcome {
        if d.attempts >= self.opts.max_attempts {
            DeliveryOutcome::Failed {
                subject_id: d.subject_id,
                code,
            }
        } else {
            DeliveryOutcome::Retry {
                subject_id: d.subject_id,
                code,
                next_attempt_at: to_micros(self.clock.now() + self.opts.backoff(d.attempts)),
            }
        }
    }

    async fn attempt(
        &self,
        job: &JobCtx,
        d: ClaimedDelivery,
        halt: &AtomicBool,
    ) -> DeliveryOutcome {
        let subject_id = d.subject_id;
        if halt.load(Ordering::SeqCst) {
            return DeliveryOutcome::Released { subject_id };
        }
        let email = match self.recipients.email(&subject_id).await {
            Ok(Some(e)) => e,
            Ok(None) => return DeliveryOutcome::SkippedNoEmail { subject_id },
            Err(e @ crate::RecipientError::SubjectGone) => {
                return DeliveryOutcome::Failed {
                    subject_id,
                    code: e.code().to_string(),
                }
            }
            Err(e) => return self.retry_or_fail(&d, e.code().to_string()),
        };
        let lang = match self.languages.language(&subject_id).await {
            Ok(l) => l,
            Err(e) => return self.retry_or_fail(&d, e.code().to_string()),
        };
        let message_id = message_id(&job.id, &subject_id, &self.domain);
        let Some(message) = self.build(job, &email, lang, &message_id) else {
            return DeliveryOutcome::Failed {
                subject_id,
                code: "address_rejected".into(),
            };
        };
        if halt.load(Ordering::SeqCst) {
            return DeliveryOutcome::Released { subject_id };
        }
        match self.transport.send(message).await {
            Ok(_) => DeliveryOutcome::Sent {
                subject_id,
                message_id,
                at: to_micros(self.clock.now()),
            },
            Err(e) => {
                let (code, class) = classify(&e);
                match class {
                    Class::Permanent => DeliveryOutcome::Failed { subject_id, code },
                    Class::Transient => self.retry_or_fail(&d, code),
                    Class::Unavailable => {
                        halt.store(true, Ordering::SeqCst);
                        self.retry_or_fail(&d, code)
                    }
                }
            }
        }
    }

    fn build(
        &self,
        job: &JobCtx,
        email: &derbes_core::email::Email,
        lang: Lang,
        message_id: &str,
    ) -> Option<Message> {
        let (text, used) = job.texts.for_lang(lang);
        let to = Address::new(email.local_part(), email.domain()).ok()?;
        let mut message = Message::builder()
            .from(self.from.clone())
            .to(Mailbox::new(None, to))
            .subject(text.subject.clone())
            .message_id(Some(message_id.to_string()))
            .date(std::time::SystemTime::from(self.clock.now()))
            .header(ContentType::TEXT_PLAIN)
            .body(text.body.clone())
            .ok()?;
        let headers = message.headers_mut();
        headers.insert_raw(HeaderValue::new(
            HeaderName::new_from_ascii_str("Content-Language"),
            used.as_str().to_string(),
        ));
        headers.insert_raw(HeaderValue::new(
            HeaderName::new_from_ascii_str("X-Policy-Version"),
            job.texts.version().to_string(),
        ));
        Some(message)
    }

    /// Run every open job now and then until `stop` resolves: a pass, then a wait of
    /// `poll` (or until the next retry is due, if sooner).
    pub async fn run_until(&self, poll: Duration, stop: impl std::future::Future<Output = ()>) {
        tokio::pin!(stop);
        loop {
            if let Err(e) = self.run_open_jobs().await {
                tracing::error!(code = e.code(), "notice run failed");
            }
            tokio::select! {
                _ = &mut stop => return,
                _ = tokio::time::sleep(poll) => {}
            }
        }
    }
}
