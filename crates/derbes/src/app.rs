//! Opening derbes from its configuration: the registry, the database (SQLite by default, in
//! the data folder), the key ring (generated on first start, mode 0600, never in the
//! database), and the vault over them.

use derbes_core::clock::{Clock, SystemClock};
use derbes_core::registry::Registry;
use derbes_crypto::{EnvKeyProvider, FileKeyProvider, KeyProvider, KeyRing, KEYS_ENV_VAR};
use derbes_service::audit::ReadAudit;
use derbes_service::vault::VaultOptions;
use derbes_service::{Actor, Call, NewSubjectInput, Source, SourceKind, ValueInput, Vault};
use derbes_store::{OpenOptions, Store};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A boxed error for the command line: printed as `error: …`.
pub type AnyError = Box<dyn std::error::Error + Send + Sync>;

/// Where derbes keeps its things.
#[derive(Debug, Clone, clap::Args)]
pub struct Common {
    /// Folder for the embedded database and the key file.
    #[arg(
        long,
        env = "DERBES_DATA_DIR",
        default_value = "derbes-data",
        global = true
    )]
    pub data_dir: PathBuf,
    /// Database URL: `sqlite:///path/derbes.db` or `postgres://user@host/db`.
    /// Default: SQLite in the data folder.
    #[arg(long, env = "DERBES_DATABASE", global = true)]
    pub database: Option<String>,
    /// Key file (default: keys.json in the data folder). The env var DERBES_KEYS, if set,
    /// holds the key ring instead (base64 of the key file).
    #[arg(long, env = "DERBES_KEY_FILE", global = true)]
    pub key_file: Option<PathBuf>,
    /// Registry file (the approved list of personal data, L-LIST). Default: the embedded one;
    /// `derbes registry export` writes it out for editing.
    #[arg(long, env = "DERBES_REGISTRY", global = true)]
    pub registry: Option<PathBuf>,
    /// The audit log's Ed25519 signing key (default: audit-signing.key in the data folder;
    /// created on first start, mode 0600).
    #[arg(long, env = "DERBES_AUDIT_KEY_FILE", global = true)]
    pub audit_key_file: Option<PathBuf>,
    /// Working-day calendar file (holidays, transferred days off) for legal deadlines.
    /// Default: the embedded Kazakhstan calendar; `derbes calendar export` writes it out.
    #[arg(long, env = "DERBES_CALENDAR", global = true)]
    pub calendar: Option<PathBuf>,
    /// The longest the audit entry of a read or search waits for its fsync, in ms (8.1). The
    /// entry is committed to the database's log before the answer either way; `0` makes each
    /// read wait for the disk too (one fsync per group commit; about half the read rate).
    #[arg(
        long,
        env = "DERBES_READ_AUDIT_FLUSH_MS",
        default_value_t = 50,
        global = true
    )]
    pub read_audit_flush_ms: u64,
}

impl Common {
    /// The database URL in force.
    pub fn database_url(&self) -> String {
        match &self.database {
            Some(url) => url.clone(),
            None => format!("sqlite://{}", self.data_dir.join("derbes.db").display()),
        }
    }

    /// The key file in force.
    pub fn key_path(&self) -> PathBuf {
        self.key_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("keys.json"))
    }

    /// The audit signing key file in force.
    pub fn audit_key_path(&self) -> PathBuf {
        self.audit_key_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("audit-signing.key"))
    }

    /// The database URL with any password removed, for messages.
    pub fn database_display(&self) -> String {
        redact_url(&self.database_url())
    }
}

/// Remove a password from a URL (`postgres://user:secret@host/db` → `postgres://user:***@host/db`).
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (authority, tail) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let tail = tail.split('?').next().unwrap_or("");
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or("");
            if userinfo.contains(':') {
                format!("{scheme}://{user}:***@{host}{tail}")
            } else {
                format!("{scheme}://{user}@{host}{tail}")
            }
        }
        None => format!("{scheme}://{authority}{tail}"),
    }
}

/// Load the registry: the file named, or the embedded default. Errors name the problem.
pub fn load_registry(path: Option<&Path>) -> Result<Registry, AnyError> {
    match path {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .map_err(|e| format!("cannot read registry file {}: {e}", p.display()))?;
            Registry::from_toml(&text)
                .map_err(|e| format!("registry file {} is invalid: {e}", p.display()).into())
        }
        None => Registry::embedded().map_err(|e| format!("embedded registry: {e}").into()),
    }
}

/// Open (creating on first start) the store and apply migrations.
pub async fn open_store(common: &Common, create: bool) -> Result<Arc<dyn Store>, AnyError> {
    let default_sqlite = common.database.is_none();
    if default_sqlite {
        create_private_dir(&common.data_dir)?;
    }
    let store = derbes_store::open(
        &common.database_url(),
        OpenOptions {
            create_if_missing: default_sqlite || create,
        },
    )
    .await
    .map_err(|e| format!("cannot open database {}: {e}", common.database_display()))?;
    store
        .migrate()
        .await
        .map_err(|e| format!("migrating {}: {e}", common.database_display()))?;
    Ok(store)
}

fn create_private_dir(dir: &Path) -> Result<(), AnyError> {
    use std::os::unix::fs::DirBuilderExt;
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| format!("cannot create data folder {}: {e}", dir.display()))?;
    }
    Ok(())
}

/// Load the key ring (from `DERBES_KEYS`, or the key file; generated if missing and
/// `create` — which callers allow only for a database that holds no data yet, so a mistyped
/// key path never leaves a stray new key file behind). Returns it and whether it was just
/// generated.
pub fn load_keys(
    common: &Common,
    clock: &dyn Clock,
    create: bool,
) -> Result<(KeyRing, bool), AnyError> {
    if std::env::var_os(KEYS_ENV_VAR).is_some() {
        let keys = EnvKeyProvider::new(KEYS_ENV_VAR)
            .load()
            .map_err(|e| format!("key ring from {KEYS_ENV_VAR}: {e}"))?;
        return Ok((keys, false));
    }
    let path = common.key_path();
    if let Some(parent) = path.parent() {
        if !parent.as_os_str().is_empty() {
            create_private_dir(parent)?;
        }
    }
    if !create && !path.exists() {
        return Err(format!(
            "key file {} does not exist: give the right --key-file (or DERBES_KEYS); a new key \
             ring is generated only by `serve` or `demo` on a database that holds no data yet",
            path.display()
        )
        .into());
    }
    let provider = FileKeyProvider {
        path: path.clone(),
        create_if_missing: create,
    };
    let (keys, created) = provider
        .load_or_create(clock.now())
        .map_err(|e| format!("key file {}: {e}", path.display()))?;
    Ok((keys, created))
}

/// Everything `serve` and the other commands need.
pub struct Opened {
    /// The vault.
    pub vault: Vault,
    /// Whether the key ring was generated just now (first start).
    pub created_keys: bool,
    /// The key ring (shared with the vault; the employee service seals TOTP secrets with it).
    pub keys: Arc<KeyRing>,
}

/// Open registry, store, keys and vault.
pub async fn open(common: &Common, create: bool) -> Result<Opened, AnyError> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let registry = load_registry(common.registry.as_deref())?;
    let store = open_store(common, create).await?;
    let fresh = store
        .get_meta(derbes_service::vault::KEY_CHECK_META)
        .await
        .map_err(|e| format!("reading {}: {e}", common.database_display()))?
        .is_none();
    let (keys, created_keys) = load_keys(common, clock.as_ref(), fresh)?;
    let keys = Arc::new(keys);
    let read_audit = match common.read_audit_flush_ms {
        0 => ReadAudit::Durable,
        ms => ReadAudit::Deferred {
            flush: std::time::Duration::from_millis(ms),
        },
    };
    let options = VaultOptions {
        audit: true,
        read_audit,
    };
    let vault = Vault::open_with(store, keys.clone(), Arc::new(registry), clock, options)
        .await
        .map_err(|e| {
            format!(
                "cannot open the vault: {e} (is {} the key file this database was made with?)",
                common.key_path().display()
            )
        })?;
    Ok(Opened {
        vault,
        created_keys,
        keys,
    })
}

/// Turn a demo subject into the API's input (source: the subject, obtained now).
pub fn demo_input(s: derbes_demo::DemoSubject) -> NewSubjectInput {
    NewSubjectInput {
        values: s
            .values
            .into_iter()
            .map(|(category, value)| ValueInput {
                category: category.to_string(),
                value,
                source: Source {
                    kind: SourceKind::Subject,
                    name: None,
                },
                obtained_at: None,
            })
            .collect(),
    }
}

/// Load `count` fictional borrowers (seeded) in transactions of 1,000.
pub async fn load_demo(
    vault: &Vault,
    seed: u64,
    count: usize,
) -> Result<Vec<uuid::Uuid>, AnyError> {
    let call = Call::new(Actor::System("demo"), "contract");
    // Generated as the load goes (memory stays bounded for any count).
    let inputs = derbes_demo::DemoGen::new(seed).take(count).map(demo_input);
    let report = vault
        .ingest(&call, inputs, derbes_service::IngestOptions::default())
        .await
        .map_err(|e| format!("loading demo data: {e}"))?;
    if report.ids.len() < count {
        return Err("the demo generator ran out of people".into());
    }
    Ok(report.ids)
}

/// The lender's published policy (the seed text, Russian and Kazakh interleaved as it came
/// from the PDF), shipped for the demo.
const DEMO_POLICY: &str = include_str!("../../demo/data/privacy-policy-ru-kk.txt");

/// Split the interleaved seed policy into its Russian and Kazakh texts: blocks (separated by
/// blank lines) with letters only Kazakh has (ә ғ қ ң ө ұ ү һ і) are Kazakh, the rest Russian.
/// Good enough for demo data; a lender publishes its own files with `derbes policy publish`.
pub fn split_demo_policy(text: &str) -> (String, String) {
    const KK: &[char] = &[
        'ә', 'ғ', 'қ', 'ң', 'ө', 'ұ', 'ү', 'һ', 'і', 'Ә', 'Ғ', 'Қ', 'Ң', 'Ө', 'Ұ', 'Ү', 'Һ', 'І',
    ];
    let (mut ru, mut kk) = (Vec::new(), Vec::new());
    let mut last_kk = false;
    for block in text.split("\n \n").flat_map(|b| b.split("\n\n")) {
        let joined = block
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        if joined.is_empty() {
            continue;
        }
        let has_cyrillic = joined
            .chars()
            .any(|c| matches!(c, 'а'..='я' | 'А'..='Я' | 'ё' | 'Ё'));
        let is_kk = if joined.contains(KK) {
            true
        } else if has_cyrillic {
            false
        } else {
            last_kk
        };
        last_kk = is_kk;
        if is_kk {
            kk.push(joined)
        } else {
            ru.push(joined)
        }
    }
    (ru.join("\n\n"), kk.join("\n\n"))
}

/// Demo employees: one per role, each with a current confidentiality undertaking (4.3) —
/// except the administrator, who needs none — so the console can be tried at once.
pub const DEMO_STAFF: &[(&str, &str, &str)] = &[
    ("demo.admin", "Әкімші Демо", "admin"),
    ("demo.credit", "Айгүл Несиеқызы", "credit_officer"),
    ("demo.collector", "Ерлан Өндірісов", "collector"),
    ("demo.callcentre", "Динара Байланысова", "call_centre"),
    ("demo.security", "Марат Қорғанов", "security_officer"),
    ("demo.dpo", "Сәуле Дербесова", "dpo"),
];

/// Publish the demo policy, report contracts for the first demo borrowers (some overdue, so a
/// collector sees contacts), and create the demo employees. Prints what a user needs to log
/// in; the passwords and TOTP secrets are shown once, as for any new account.
pub async fn load_demo_extras(
    vault: &Vault,
    consent: &derbes_service::ConsentService,
    staff: &derbes_service::employees::Employees,
    subjects: &[uuid::Uuid],
) -> Result<(), AnyError> {
    use derbes_service::consent_service::{ContractInput, ContractStatus, PublishInput};
    let (text_ru, text_kk) = split_demo_policy(DEMO_POLICY);
    let v = consent
        .publish_policy(
            "system:demo",
            PublishInput {
                text_ru,
                text_kk,
                text_en: None,
                effective_at: None,
                significant: false,
                operator_name: "ТОО «Микрофинансовая организация «Express Аванс»".into(),
                operator_bin: "100140005679".into(),
            },
        )
        .await
        .map_err(|e| format!("publishing the demo policy: {e}"))?;
    println!("demo: published policy version {} (ru, kk)", v.number);
    let call = Call::new(Actor::System("demo"), "contract");
    for (i, id) in subjects.iter().take(20).enumerate() {
        let status = if i % 2 == 0 {
            ContractStatus::Active
        } else {
            ContractStatus::Overdue
        };
        consent
            .report_contract(
                &call,
                ContractInput {
                    id: format!("DEMO-{:04}", i + 1),
                    subject: *id,
                    offer_id: None,
                    concluded_at: None,
                    status: Some(status),
                },
            )
            .await
            .map_err(|e| format!("demo contracts: {e}"))?;
    }
    println!("demo: 20 contracts (10 active, 10 overdue) for the first 20 borrowers");
    // The first two fictional borrowers (seed 1, as loaded): one with an active loan, one
    // overdue — to try the cabinet (`/cabinet`, code printed by the console SMS sink).
    for (i, d) in derbes_demo::generate(1, 2).iter().enumerate() {
        if let Some(phone) = d.get_str("mobile_phone") {
            let state = if i == 0 { "active" } else { "overdue" };
            println!("demo: fictional borrower with an {state} loan, cabinet login phone {phone}");
        }
    }
    let by = Actor::System("demo");
    let today = derbes_core::calendar::to_almaty(vault.now()).date_naive();
    let in_a_year = today + chrono::Duration::days(365);
    println!("demo: employees for the console (password, then a TOTP code from the secret):");
    for (login, name, role) in DEMO_STAFF {
        let made = staff
            .create(
                &by,
                derbes_service::employees::NewEmployee {
                    login: (*login).into(),
                    display_name: (*name).into(),
                    role: (*role).into(),
                },
            )
            .await
            .map_err(|e| format!("demo employee {login}: {e}"))?;
        if *role != "admin" {
            staff
                .record_undertaking(
                    &by,
                    &made.employee.id.to_string(),
                    derbes_service::employees::UndertakingInput {
                        text_version: "nda-demo".into(),
                        signed_on: today,
                        expires_on: in_a_year,
                    },
                )
                .await
                .map_err(|e| format!("demo undertaking {login}: {e}"))?;
        }
        println!(
            "  {login:<16} {role:<17} password {}  TOTP secret {}",
            made.password, made.totp.secret
        );
    }
    Ok(())
}

/// Load the audit checkpoint signing key, creating it (mode 0600, atomically) when `create`
/// and it does not exist. Returns it and whether it was created.
pub fn load_audit_signer(
    common: &Common,
    create: bool,
) -> Result<(derbes_audit::AuditSigner, bool), AnyError> {
    use base64::Engine;
    use std::io::Write;
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
    let path = common.audit_key_path();
    let b64 = base64::engine::general_purpose::STANDARD;
    if path.exists() {
        let meta = std::fs::metadata(&path)?;
        if meta.mode() & 0o077 != 0 {
            return Err(format!(
                "audit key file {} is readable by others: chmod 600 {}",
                path.display(),
                path.display()
            )
            .into());
        }
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("audit key file {}: {e}", path.display()))?;
        let bytes = derbes_crypto::Zeroizing::new(
            b64.decode(text.trim())
                .map_err(|_| format!("audit key file {} is not base64", path.display()))?,
        );
        let secret: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| format!("audit key file {} does not hold 32 bytes", path.display()))?;
        return Ok((derbes_audit::AuditSigner::from_bytes(&secret), false));
    }
    if !create {
        return Err(format!("audit key file {} does not exist", path.display()).into());
    }
    if let Some(parent) = path.parent() {
        if !parent.as_os_str().is_empty() {
            create_private_dir(parent)?;
        }
    }
    let signer = derbes_audit::AuditSigner::generate();
    let text = derbes_crypto::Zeroizing::new(b64.encode(signer.to_bytes().as_slice()));
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(|e| format!("creating audit key file {}: {e}", tmp.display()))?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, &path)?;
    Ok((signer, true))
}

#[cfg(test)]
mod tests {

    #[test]
    fn pre_1_demo_policy_splits_into_russian_and_kazakh() {
        let (ru, kk) = super::split_demo_policy(super::DEMO_POLICY);
        assert!(
            ru.contains("Политика в отношении обработки"),
            "{}",
            &ru[..200]
        );
        assert!(kk.contains("дербес деректерді өңдеуге"), "{}", &kk[..200]);
        for c in ['ә', 'қ', 'ң', 'ө', 'ұ', 'ү', 'і'] {
            assert!(kk.contains(c), "Kazakh text lacks {c}");
            assert!(!ru.contains(c), "Russian text holds {c}");
        }
        assert!(
            ru.len() > 10_000 && kk.len() > 10_000,
            "{} {}",
            ru.len(),
            kk.len()
        );
    }

    use super::redact_url;

    #[test]
    fn c4_1_database_password_never_printed() {
        assert_eq!(
            redact_url("postgres://app:s3cret@db.local:5432/derbes?sslmode=require"),
            "postgres://app:***@db.local:5432/derbes"
        );
        assert_eq!(
            redact_url("postgres://postgres@127.0.0.1/test"),
            "postgres://postgres@127.0.0.1/test"
        );
        assert_eq!(redact_url("sqlite:///x/derbes.db"), "sqlite:///x/derbes.db");
    }
}
