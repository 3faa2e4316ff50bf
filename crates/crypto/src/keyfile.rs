//! The key file (`derbes-keys/1`) and its environment-variable form.
//!
//! ```json
//! { "format": "derbes-keys/1",
//!   "keks": [{ "version": 1, "created_at": "2025-03-01T09:00:00Z", "key": "<base64>" }],
//!   "current": 1,
//!   "index_root": "<base64>" }
//! ```
//!
//! The file is written atomically (temporary file in the same directory, `fsync`, rename,
//! `fsync` of the directory) and created with mode 0600 from the first instant. A file that
//! grants any permission to group or others is refused on load. `DERBES_KEYS` holds the
//! same JSON, base64-encoded. Buffers holding the encoded keys are wiped after use.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions, Permissions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::keyring::{Kek, KeyRing, MAX_KEY_VERSION};
use crate::prim::{fill_random, SecretKey, KEY_LEN};
use crate::CryptoError;

/// The `format` value of key files written by this version.
pub const KEY_FILE_FORMAT: &str = "derbes-keys/1";

/// Key files larger than this are refused unread (a real one is well under 1 KiB per key).
const MAX_KEY_FILE_LEN: u64 = 1 << 20;

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFileRepr {
    format: String,
    keks: Vec<KekRepr>,
    current: u32,
    index_root: Zeroizing<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KekRepr {
    version: u32,
    created_at: DateTime<Utc>,
    key: Zeroizing<String>,
}

fn decode_key(b64: &str, what: &str) -> Result<SecretKey, CryptoError> {
    // Room for a slightly longer value so that a wrong length is reported as such.
    let mut buf = Zeroizing::new([0u8; KEY_LEN + 3]);
    let n = B64
        .decode_slice(b64.trim().as_bytes(), buf.as_mut())
        .map_err(|_| CryptoError::invalid(format!("{what} is not 32 bytes of base64")))?;
    if n != KEY_LEN {
        return Err(CryptoError::invalid(format!(
            "{what} is not 32 bytes of base64"
        )));
    }
    let mut key = SecretKey::default();
    key.copy_from_slice(&buf[..KEY_LEN]);
    Ok(key)
}

fn json_error(e: &serde_json::Error) -> CryptoError {
    // serde_json's own message can quote the offending value; report only where and what kind.
    let kind = match e.classify() {
        serde_json::error::Category::Io => "unreadable",
        serde_json::error::Category::Syntax => "not valid JSON",
        serde_json::error::Category::Data => "not a derbes key file (wrong or missing fields)",
        serde_json::error::Category::Eof => "truncated JSON",
    };
    CryptoError::invalid(format!("{kind} at line {} column {}", e.line(), e.column()))
}

impl KeyRing {
    fn from_json(bytes: &[u8]) -> Result<KeyRing, CryptoError> {
        let repr: KeyFileRepr = serde_json::from_slice(bytes).map_err(|e| json_error(&e))?;
        if repr.format != KEY_FILE_FORMAT {
            return Err(CryptoError::invalid(format!(
                "format is not \"{KEY_FILE_FORMAT}\""
            )));
        }
        let mut keks = BTreeMap::new();
        for k in &repr.keks {
            if k.version == 0 || k.version > MAX_KEY_VERSION {
                return Err(CryptoError::invalid(format!(
                    "key version {} is out of range 1..={MAX_KEY_VERSION}",
                    k.version
                )));
            }
            let key = decode_key(&k.key, &format!("key of version {}", k.version))?;
            if keks
                .insert(k.version, Kek::new(k.created_at, key))
                .is_some()
            {
                return Err(CryptoError::invalid(format!(
                    "key version {} appears twice",
                    k.version
                )));
            }
        }
        if keks.is_empty() {
            return Err(CryptoError::invalid("no keys in \"keks\""));
        }
        if !keks.contains_key(&repr.current) {
            return Err(CryptoError::invalid(format!(
                "current version {} is not among the keys",
                repr.current
            )));
        }
        let index_root = decode_key(&repr.index_root, "index_root")?;
        Ok(KeyRing {
            keks,
            current: repr.current,
            index_root,
        })
    }

    fn to_json(&self) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let repr = KeyFileRepr {
            format: KEY_FILE_FORMAT.to_owned(),
            keks: self
                .keks
                .iter()
                .map(|(&version, kek)| KekRepr {
                    version,
                    created_at: kek.created_at,
                    key: Zeroizing::new(B64.encode(*kek.key)),
                })
                .collect(),
            current: self.current,
            index_root: Zeroizing::new(B64.encode(*self.index_root)),
        };
        // Reserve enough up front so the buffer never reallocates (a reallocation would
        // leave an unwiped copy behind).
        let mut out = Zeroizing::new(Vec::with_capacity(256 + 160 * self.keks.len()));
        serde_json::to_writer_pretty(&mut *out, &repr)
            .map_err(|_| CryptoError::invalid("the key ring could not be serialised"))?;
        out.push(b'\n');
        Ok(out)
    }

    /// Parses the value of `DERBES_KEYS`: the key-file JSON, base64-encoded (standard
    /// alphabet, padded; surrounding whitespace ignored).
    ///
    /// # Errors
    /// [`CryptoError::KeyFileInvalid`] if it is not base64 or not a valid key file.
    pub fn from_env_value(value: &str) -> Result<KeyRing, CryptoError> {
        let json = Zeroizing::new(
            B64.decode(value.trim())
                .map_err(|_| CryptoError::invalid("DERBES_KEYS is not valid base64"))?,
        );
        KeyRing::from_json(&json)
    }

    /// The value to put in `DERBES_KEYS` for this key ring (a secret: handle like the key
    /// file).
    ///
    /// # Errors
    /// [`CryptoError::KeyFileInvalid`] if serialisation fails (it does not in practice).
    pub fn to_env_value(&self) -> Result<Zeroizing<String>, CryptoError> {
        Ok(Zeroizing::new(B64.encode(&*self.to_json()?)))
    }

    /// Loads a key file, refusing one that group or others may access.
    ///
    /// # Errors
    /// [`CryptoError::KeyFileMissing`] if it does not exist,
    /// [`CryptoError::KeyFilePermissions`] if `mode & 0o077 != 0` (fix with `chmod 600`),
    /// [`CryptoError::KeyFileInvalid`] if it is not a valid `derbes-keys/1` file,
    /// [`CryptoError::Io`] for other I/O failures.
    pub fn load_file(path: impl AsRef<Path>) -> Result<KeyRing, CryptoError> {
        let path = path.as_ref();
        let mut file = match File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(CryptoError::KeyFileMissing {
                    location: format!("file {}", path.display()),
                })
            }
            Err(e) => return Err(CryptoError::io(path, e)),
        };
        // Check the file actually opened (fstat), not the path again.
        let meta = file.metadata().map_err(|e| CryptoError::io(path, e))?;
        if !meta.is_file() {
            return Err(CryptoError::invalid(format!(
                "{} is not a regular file",
                path.display()
            )));
        }
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(CryptoError::KeyFilePermissions {
                path: path.to_owned(),
                mode,
            });
        }
        if meta.len() > MAX_KEY_FILE_LEN {
            return Err(CryptoError::invalid("file is too large to be a key file"));
        }
        let cap = usize::try_from(meta.len()).unwrap_or(0).saturating_add(1);
        let mut bytes = Zeroizing::new(Vec::with_capacity(cap));
        (&mut file)
            .take(MAX_KEY_FILE_LEN + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| CryptoError::io(path, e))?;
        if bytes.len() as u64 > MAX_KEY_FILE_LEN {
            return Err(CryptoError::invalid("file is too large to be a key file"));
        }
        KeyRing::from_json(&bytes)
    }

    /// Writes the key file atomically with mode 0600, replacing any existing file (e.g.
    /// after [`KeyRing::rotate`]). Keep a backup of the key file: without it, every
    /// ciphertext is lost.
    ///
    /// # Errors
    /// [`CryptoError::Io`] if the directory is not writable or the disk fails;
    /// [`CryptoError::Rng`] if no temporary name can be drawn.
    pub fn save_file(&self, path: impl AsRef<Path>) -> Result<(), CryptoError> {
        write_atomic(path.as_ref(), &self.to_json()?, Mode::Replace).map(|_| ())
    }

    /// Writes the key file like [`KeyRing::save_file`] but only if no file exists at `path`
    /// (atomically: of two processes creating at once, exactly one wins). Returns `false`,
    /// writing nothing, if a file already exists.
    pub(crate) fn create_file(&self, path: &Path) -> Result<bool, CryptoError> {
        write_atomic(path, &self.to_json()?, Mode::CreateNew)
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Replace,
    CreateNew,
}

/// Temp file (0600, `O_EXCL`) in the target's directory → write → fsync → rename (or
/// hard-link for create-only) → fsync directory. Returns whether `path` now holds `bytes`.
fn write_atomic(path: &Path, bytes: &[u8], mode: Mode) -> Result<bool, CryptoError> {
    let name = path.file_name().ok_or_else(|| {
        CryptoError::io(
            path,
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "key file path has no file name",
            ),
        )
    })?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut suffix = [0u8; 8];
    fill_random(&mut suffix)?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".{}.tmp", hex::encode(suffix)));
    let tmp = dir.join(tmp_name);

    let result = write_tmp_then_publish(&tmp, path, bytes, mode);
    // The temp file is gone after a rename; after a hard link or a failure, remove it.
    if mode == Mode::CreateNew || result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    let published = result?;
    if published {
        File::open(&dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| CryptoError::io(&dir, e))?;
    }
    Ok(published)
}

fn write_tmp_then_publish(
    tmp: &Path,
    path: &Path,
    bytes: &[u8],
    mode: Mode,
) -> Result<bool, CryptoError> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(tmp)
        .map_err(|e| CryptoError::io(tmp, e))?;
    // The umask can only remove bits from 0600; set it exactly so the owner can read it back.
    file.set_permissions(Permissions::from_mode(0o600))
        .map_err(|e| CryptoError::io(tmp, e))?;
    file.write_all(bytes).map_err(|e| CryptoError::io(tmp, e))?;
    file.sync_all().map_err(|e| CryptoError::io(tmp, e))?;
    drop(file);
    match mode {
        Mode::Replace => {
            fs::rename(tmp, path).map_err(|e| CryptoError::io(path, e))?;
            Ok(true)
        }
        Mode::CreateNew => match fs::hard_link(tmp, path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(CryptoError::io(path, e)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 3, 1, 9, 0, 0).unwrap()
    }

    fn json_with(f: impl FnOnce(&mut serde_json::Value)) -> Vec<u8> {
        let ring = KeyRing::generate(now()).unwrap();
        let mut v: serde_json::Value = serde_json::from_slice(&ring.to_json().unwrap()).unwrap();
        f(&mut v);
        serde_json::to_vec(&v).unwrap()
    }

    fn invalid(bytes: &[u8]) -> String {
        let err = KeyRing::from_json(bytes).unwrap_err();
        assert_eq!(err.code(), "key_file_invalid", "{err}");
        err.to_string()
    }

    #[test]
    fn json_round_trip() {
        let mut ring = KeyRing::generate(now()).unwrap();
        ring.rotate(now()).unwrap();
        let back = KeyRing::from_json(&ring.to_json().unwrap()).unwrap();
        assert_eq!(back.versions(), ring.versions());
        assert_eq!(back.index_check_value(), ring.index_check_value());
        let v: serde_json::Value = serde_json::from_slice(&ring.to_json().unwrap()).unwrap();
        assert_eq!(v["format"], "derbes-keys/1");
        assert_eq!(v["current"], 2);
        assert_eq!(v["keks"][0]["version"], 1);
        assert_eq!(v["keks"][0]["created_at"], "2025-03-01T09:00:00Z");
    }

    #[test]
    fn rejects_bad_documents_without_quoting_them() {
        // 29 bytes of base64: looks like a key, is not one.
        let secretish = "c2VjcmV0LWtleS1tYXRlcmlhbC1kby1ub3QtcHI=";
        let cases: Vec<Vec<u8>> = vec![
            b"".to_vec(),
            b"{".to_vec(),
            b"[]".to_vec(),
            format!("{{\"format\": \"{secretish}\"}}").into_bytes(),
            json_with(|v| v["format"] = "derbes-keys/2".into()),
            json_with(|v| v["current"] = 7.into()),
            json_with(|v| v["keks"] = serde_json::json!([])),
            json_with(|v| v["keks"][0]["version"] = 0.into()),
            json_with(|v| v["keks"][0]["version"] = (u64::from(MAX_KEY_VERSION) + 1).into()),
            json_with(|v| v["keks"][0]["version"] = secretish.into()),
            json_with(|v| v["keks"][0]["key"] = secretish.into()),
            json_with(|v| v["keks"][0]["key"] = "AAAA".into()),
            json_with(|v| v["keks"][0]["key"] = "!!not base64!!".into()),
            json_with(|v| v["index_root"] = secretish.into()),
            json_with(|v| v["extra"] = secretish.into()),
            json_with(|v| {
                let k = v["keks"][0].clone();
                v["keks"].as_array_mut().unwrap().push(k);
            }),
        ];
        for bytes in cases {
            let msg = invalid(&bytes);
            assert!(!msg.contains(secretish), "{msg}");
            assert!(!msg.contains("c2VjcmV0"), "{msg}");
        }
    }

    #[test]
    fn env_value_round_trip_and_errors() {
        let ring = KeyRing::generate(now()).unwrap();
        let env = ring.to_env_value().unwrap();
        let back = KeyRing::from_env_value(&format!("  {}\n", &*env)).unwrap();
        assert_eq!(back.versions(), ring.versions());
        let err = KeyRing::from_env_value("not base64 !").unwrap_err();
        assert_eq!(err.code(), "key_file_invalid");
        let err = KeyRing::from_env_value(&B64.encode("{}")).unwrap_err();
        assert_eq!(err.code(), "key_file_invalid");
    }

    #[test]
    fn create_file_does_not_replace() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys.json");
        let a = KeyRing::generate(now()).unwrap();
        let b = KeyRing::generate(now()).unwrap();
        assert!(a.create_file(&path).unwrap());
        assert!(!b.create_file(&path).unwrap());
        let loaded = KeyRing::load_file(&path).unwrap();
        assert_eq!(loaded.check_value(1), a.check_value(1));
        // No temporary files left behind.
        let names: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1);
    }

    #[test]
    fn save_into_missing_dir_is_io_error() {
        let dir = tempfile::tempdir().unwrap();
        let ring = KeyRing::generate(now()).unwrap();
        let err = ring
            .save_file(dir.path().join("nope").join("keys.json"))
            .unwrap_err();
        assert_eq!(err.code(), "io");
    }
}
