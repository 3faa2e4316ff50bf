//! CLI of the versioned policy, the application channel and the working-day calendar:
//! `derbes policy publish FILE…`, `policy list`, `policy show`, `applications purge-expired`,
//! `calendar check`, `calendar deadline` (PRE-1, 6.2, 9.2; L-CONSENT-3 deadlines).

use crate::app::{self, AnyError, Common};
use clap::Subcommand;
use derbes_core::calendar::WorkCalendar;
use derbes_core::registry::Lang;
use derbes_service::consent_service::{ConsentService, ConsentSettings, PublishInput};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// `derbes policy …`
#[derive(Subcommand)]
pub enum PolicyAction {
    /// Publish a new policy version from text files, one per language. The language is
    /// the last part of the file's name before the extension: `policy.ru.txt`,
    /// `policy-kk.md`, `en.txt`. Russian and Kazakh are required, English optional.
    Publish {
        /// The text files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// When the version takes effect (RFC 3339); default: on publication (9.2).
        #[arg(long)]
        effective_at: Option<chrono::DateTime<chrono::Utc>>,
        /// Flag the change "especially significant": subjects with an e-mail are notified
        /// (9.2) — a notice job is enqueued at once; `derbes serve --smtp-host …` or
        /// `derbes notices run` sends it.
        #[arg(long, requires = "notice_url")]
        significant: bool,
        /// Where subjects read the new version (the link in the notice e-mail).
        #[arg(long, env = "DERBES_POLICY_URL")]
        notice_url: Option<String>,
        /// The operator's name, as the consent states it (L-CONSENT-2).
        #[arg(
            long,
            env = "DERBES_OPERATOR_NAME",
            default_value = "ТОО «Микрофинансовая организация «Express Аванс»"
        )]
        operator_name: String,
        /// The operator's BIN (12 digits).
        #[arg(long, env = "DERBES_OPERATOR_BIN")]
        operator_bin: String,
    },
    /// List published versions.
    List,
    /// Print a version's text (default: the one in force).
    Show {
        /// Version number.
        number: Option<i64>,
        /// Language: ru, kk or en.
        #[arg(long, default_value = "ru")]
        lang: String,
    },
}

/// `derbes applications …`
#[derive(Subcommand)]
pub enum ApplicationsAction {
    /// Delete every unfinished application whose time ran out, with all its data (6.2).
    PurgeExpired,
}

/// `derbes calendar …`
#[derive(Subcommand)]
pub enum CalendarAction {
    /// Check a calendar file (default: the one in force) and summarise it.
    Check {
        /// The file.
        file: Option<PathBuf>,
    },
    /// Print the embedded calendar, to start an updated copy from (--calendar FILE).
    Export,
    /// The deadline of a term of N working days started on a date (default 15: withdrawal).
    Deadline {
        /// Start date, YYYY-MM-DD (Almaty).
        from: chrono::NaiveDate,
        /// Working days.
        #[arg(long, default_value_t = 15)]
        days: u32,
    },
}

/// The calendar in force: `--calendar FILE` (DERBES_CALENDAR), else the embedded one.
pub fn load_calendar(path: Option<&Path>) -> Result<WorkCalendar, AnyError> {
    match path {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .map_err(|e| format!("cannot read calendar file {}: {e}", p.display()))?;
            WorkCalendar::from_toml(&text)
                .map_err(|e| format!("calendar file {} is invalid: {e}", p.display()).into())
        }
        None => WorkCalendar::embedded_kz().map_err(|e| format!("embedded calendar: {e}").into()),
    }
}

/// The consent service over a vault, with the calendar in force.
pub fn consent_service(
    common: &Common,
    vault: derbes_service::Vault,
    application_ttl_hours: u32,
) -> Result<ConsentService, AnyError> {
    let calendar = load_calendar(common.calendar.as_deref())?;
    Ok(ConsentService::new(
        vault,
        Arc::new(calendar),
        ConsentSettings {
            application_ttl: chrono::Duration::hours(i64::from(application_ttl_hours.max(1))),
        },
    ))
}

fn lang_of_file(path: &Path) -> Result<Lang, AnyError> {
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default();
    let last = stem.rsplit(['.', '-', '_']).next().unwrap_or_default();
    Lang::parse(last).map_err(|_| {
        format!(
            "{}: cannot tell the language from the file name (use e.g. policy.ru.txt, policy.kk.txt, policy.en.txt)",
            path.display()
        )
        .into()
    })
}

/// `derbes policy …`
pub async fn policy(common: &Common, action: PolicyAction) -> Result<(), AnyError> {
    let opened = app::open(common, false).await?;
    let service = consent_service(common, opened.vault.clone(), 24)?;
    match action {
        PolicyAction::Publish {
            files,
            effective_at,
            significant,
            notice_url,
            operator_name,
            operator_bin,
        } => {
            let (mut ru, mut kk, mut en) = (None, None, None);
            for f in &files {
                let text = std::fs::read_to_string(f)
                    .map_err(|e| format!("cannot read {}: {e}", f.display()))?;
                let slot = match lang_of_file(f)? {
                    Lang::Ru => &mut ru,
                    Lang::Kk => &mut kk,
                    Lang::En => &mut en,
                };
                if slot.replace(text).is_some() {
                    return Err(format!("two files for the language of {}", f.display()).into());
                }
            }
            let (Some(text_ru), Some(text_kk)) = (ru, kk) else {
                return Err("a policy version needs a Russian and a Kazakh text".into());
            };
            let v = service
                .publish_policy(
                    "system:cli",
                    PublishInput {
                        text_ru,
                        text_kk,
                        text_en: en,
                        effective_at,
                        significant,
                        operator_name,
                        operator_bin,
                    },
                )
                .await
                .map_err(|e| format!("publishing failed: {e}"))?;
            println!(
                "published policy version {} (languages {}; effective {}; significant: {}; sha256 {})",
                v.number,
                v.languages.join(", "),
                v.effective_at.to_rfc3339(),
                if v.significant { "yes" } else { "no" },
                v.content_hash
            );
            if let (true, Some(url)) = (v.significant, notice_url) {
                // 9.2: a significant change is notified to every subject with an e-mail.
                let texts = derbes_notify::NoticeTexts::standard(v.number, &url)?;
                let (job, _) = derbes_notify::enqueue_policy_change(
                    opened.vault.store().as_ref(),
                    &derbes_core::clock::SystemClock,
                    &texts,
                )
                .await?;
                println!(
                    "enqueued notice job {} for policy version {}: {} subjects",
                    job.id, v.number, job.counts.total
                );
            }
        }
        PolicyAction::List => {
            let now = opened.vault.now();
            for v in service.policy_versions().await? {
                println!(
                    "{:<4} published {}  effective {}  {:<11} {}  {}",
                    v.number,
                    v.published_at.format("%Y-%m-%d %H:%M"),
                    v.effective_at.format("%Y-%m-%d %H:%M"),
                    if v.significant { "significant" } else { "" },
                    if v.effective_at <= now {
                        "in effect"
                    } else {
                        "pending"
                    },
                    v.content_hash
                );
            }
        }
        PolicyAction::Show { number, lang } => {
            let lang = Lang::parse(&lang).map_err(|_| "language must be ru, kk or en")?;
            let v = match number {
                Some(n) => service.policy_record(n).await?,
                None => service.current_policy_record().await?,
            };
            if !ConsentService::policy_hash_ok(&v) {
                return Err(format!("version {} does not match its content hash", v.number).into());
            }
            let t = ConsentService::policy_text(&v, lang);
            println!("{}", t.text);
        }
    }
    opened.vault.shutdown().await;
    Ok(())
}

/// `derbes applications …`
pub async fn applications(common: &Common, action: ApplicationsAction) -> Result<(), AnyError> {
    let opened = app::open(common, false).await?;
    let service = consent_service(common, opened.vault.clone(), 24)?;
    match action {
        ApplicationsAction::PurgeExpired => {
            let n = service.purge_expired_applications().await?;
            println!("purged {n} expired unfinished applications");
        }
    }
    opened.vault.shutdown().await;
    Ok(())
}

/// `derbes calendar …`
pub fn calendar(common: &Common, action: CalendarAction) -> Result<(), AnyError> {
    match action {
        CalendarAction::Export => {
            print!("{}", derbes_core::calendar::EMBEDDED_KZ_TOML);
        }
        CalendarAction::Check { file } => {
            let path = file.or(common.calendar.clone());
            let c = load_calendar(path.as_deref())?;
            let years: Vec<String> = c.covered_years().map(|y| y.to_string()).collect();
            println!(
                "calendar {} is valid; covered years: {}",
                c.version(),
                years.join(", ")
            );
        }
        CalendarAction::Deadline { from, days } => {
            let c = load_calendar(common.calendar.as_deref())?;
            println!("{}", c.add_working_days(from, days));
        }
    }
    Ok(())
}
