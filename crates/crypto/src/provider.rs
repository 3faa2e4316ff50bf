//! Where the key ring comes from: the [`KeyProvider`] seam, with a key file and an
//! environment variable as the two built-in sources. An external KMS (e.g. HashiCorp Vault
//! transit) is another implementation of the same trait.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use zeroize::Zeroizing;

use crate::{CryptoError, KeyRing};

/// Default name of the environment variable read by [`EnvKeyProvider`].
pub const KEYS_ENV_VAR: &str = "DERBES_KEYS";

/// A source of the key ring.
pub trait KeyProvider: Send + Sync {
    /// Loads the key ring.
    ///
    /// # Errors
    /// Whatever the source reports; see [`CryptoError`].
    fn load(&self) -> Result<KeyRing, CryptoError>;
}

/// Keys from a `derbes-keys/1` file (see [`KeyRing::load_file`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileKeyProvider {
    /// The key file.
    pub path: PathBuf,
    /// Generate and write a new key ring (mode 0600) if the file does not exist. Meant for
    /// the first start of a new installation only: on an installation with data, a missing
    /// key file must stop the server, not be replaced by new keys.
    pub create_if_missing: bool,
}

impl FileKeyProvider {
    /// A provider for `path` that never creates the file.
    #[must_use]
    pub fn new(path: impl Into<PathBuf>) -> Self {
        FileKeyProvider {
            path: path.into(),
            create_if_missing: false,
        }
    }

    /// Loads the key file, or, if it is missing and `create_if_missing` is set, generates a
    /// key ring dated `now` and writes it (creating missing parent directories with mode
    /// 0700). Returns the key ring and whether it was created. If another process creates
    /// the file at the same moment, its keys are loaded and returned instead (`false`).
    ///
    /// # Errors
    /// As [`KeyRing::load_file`] and [`KeyRing::save_file`].
    pub fn load_or_create(&self, now: DateTime<Utc>) -> Result<(KeyRing, bool), CryptoError> {
        match KeyRing::load_file(&self.path) {
            Ok(ring) => Ok((ring, false)),
            Err(CryptoError::KeyFileMissing { .. }) if self.create_if_missing => {
                if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    use std::os::unix::fs::DirBuilderExt;
                    std::fs::DirBuilder::new()
                        .recursive(true)
                        .mode(0o700)
                        .create(dir)
                        .map_err(|e| CryptoError::io(dir, e))?;
                }
                let ring = KeyRing::generate(now)?;
                if ring.create_file(&self.path)? {
                    Ok((ring, true))
                } else {
                    Ok((KeyRing::load_file(&self.path)?, false))
                }
            }
            Err(e) => Err(e),
        }
    }
}

impl KeyProvider for FileKeyProvider {
    /// Loads the file; if `create_if_missing` is set, creates it dated by the system clock
    /// (call [`FileKeyProvider::load_or_create`] to pass the time from a `Clock`).
    fn load(&self) -> Result<KeyRing, CryptoError> {
        if self.create_if_missing {
            self.load_or_create(Utc::now()).map(|(ring, _)| ring)
        } else {
            KeyRing::load_file(&self.path)
        }
    }
}

/// Keys from an environment variable holding the base64-encoded key-file JSON (see
/// [`KeyRing::from_env_value`]). Note that the process environment keeps its copy of the
/// value; only this crate's copy is wiped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvKeyProvider {
    /// The variable name, [`KEYS_ENV_VAR`] by default.
    pub var: String,
}

impl Default for EnvKeyProvider {
    fn default() -> Self {
        EnvKeyProvider {
            var: KEYS_ENV_VAR.to_owned(),
        }
    }
}

impl EnvKeyProvider {
    /// A provider reading `var`.
    #[must_use]
    pub fn new(var: impl Into<String>) -> Self {
        EnvKeyProvider { var: var.into() }
    }
}

impl KeyProvider for EnvKeyProvider {
    fn load(&self) -> Result<KeyRing, CryptoError> {
        match std::env::var(&self.var) {
            Ok(value) => KeyRing::from_env_value(&Zeroizing::new(value)),
            Err(std::env::VarError::NotPresent) => Err(CryptoError::KeyFileMissing {
                location: format!("environment variable {} is not set", self.var),
            }),
            Err(std::env::VarError::NotUnicode(_)) => Err(CryptoError::invalid(format!(
                "environment variable {} is not valid UTF-8",
                self.var
            ))),
        }
    }
}
