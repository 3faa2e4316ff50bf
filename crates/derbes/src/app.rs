//! Opening derbes from its configuration: the registry, the database (SQLite by default, in
//! the data folder), the key ring (generated on first start, mode 0600, never in the
//! database), and the vault over them.

use derbes_core::clock::{Clock, SystemClock};
use derbes_core::registry::Registry;
use derbes_crypto::{EnvKeyProvider, FileKeyProvider, KeyProvider, KeyRing, KEYS_ENV_VAR};
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
    let vault = Vault::open(store, keys.clone(), Arc::new(registry), clock)
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
pub async fn load_demo(vault: &Vault, seed: u64, count: usize) -> Result<usize, AnyError> {
    let call = Call::new(Actor::System("demo"), "contract");
    let mut gen = derbes_demo::DemoGen::new(seed);
    let mut done = 0;
    while done < count {
        let n = (count - done).min(1000);
        let batch: Vec<NewSubjectInput> = (&mut gen).take(n).map(demo_input).collect();
        vault
            .create_subjects(&call, batch)
            .await
            .map_err(|e| format!("loading demo data: {e}"))?;
        done += n;
    }
    Ok(done)
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
