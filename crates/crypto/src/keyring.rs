//! The key ring: versioned key-encryption keys (KEK) and the blind-index root key.
//!
//! One KEK version is current and wraps new DEKs; older versions stay to unwrap DEKs
//! wrapped before a rotation until they are rewrapped ([`KeyRing::rewrap`]), so keys rotate
//! without downtime and without re-encrypting field values (clause 5.6). The index root
//! key never leaves the key ring except as per-category HMAC keys inside a
//! [`BlindIndexer`]. Everything secret is wiped on drop and `Debug` shows versions only.

use std::collections::BTreeMap;
use std::fmt;

use aes_gcm::Aes256Gcm;
use chrono::{DateTime, Utc};
use hmac::Mac;
use serde::Serialize;

use crate::blind::BlindIndexer;
use crate::dek::{self, Dek, WrappedDek};
use crate::prim::{aes256gcm, hmac_sha256, random_key, SecretKey, KEY_LEN};
use crate::CryptoError;

/// Highest KEK version accepted, so a version always fits a signed 32-bit database column.
pub const MAX_KEY_VERSION: u32 = i32::MAX as u32;

const CHECK_VALUE_LABEL: &[u8] = b"derbes key check v1";

/// One KEK version: the raw key (for saving and check values) and its cached cipher.
pub(crate) struct Kek {
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) key: SecretKey,
    cipher: Aes256Gcm,
}

impl Kek {
    pub(crate) fn new(created_at: DateTime<Utc>, key: SecretKey) -> Self {
        let cipher = aes256gcm(&key);
        Kek {
            created_at,
            key,
            cipher,
        }
    }
}

/// What may be shown about one KEK version: never the key, only its check value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyInfo {
    /// The version number (from 1).
    pub version: u32,
    /// When it was generated.
    pub created_at: DateTime<Utc>,
    /// Whether new DEKs are wrapped under it.
    pub current: bool,
    /// Key check value: first 8 bytes, hex, of HMAC-SHA256(kek, "derbes key check v1").
    pub check_value: String,
}

/// The master keys of one derbes installation. See the module docs.
pub struct KeyRing {
    pub(crate) keks: BTreeMap<u32, Kek>,
    pub(crate) current: u32,
    pub(crate) index_root: SecretKey,
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyRing")
            .field("versions", &self.keks.keys().collect::<Vec<_>>())
            .field("current", &self.current)
            .finish_non_exhaustive()
    }
}

/// First 8 bytes (hex) of HMAC-SHA256(key, "derbes key check v1").
fn check_value_of(key: &[u8; KEY_LEN]) -> String {
    let mut mac = hmac_sha256(key);
    mac.update(CHECK_VALUE_LABEL);
    let out = mac.finalize().into_bytes();
    hex::encode(&out[..8])
}

impl KeyRing {
    /// A new key ring: KEK version 1 (current) and an index root key, all random.
    ///
    /// # Errors
    /// [`CryptoError::Rng`] if the OS random generator fails.
    pub fn generate(now: DateTime<Utc>) -> Result<KeyRing, CryptoError> {
        let mut keks = BTreeMap::new();
        keks.insert(1, Kek::new(now, random_key()?));
        Ok(KeyRing {
            keks,
            current: 1,
            index_root: random_key()?,
        })
    }

    /// Adds a new random KEK version, makes it current and returns its number. Older
    /// versions are kept to unwrap existing DEKs. The index root key is not rotated
    /// (that would need every blind index recomputed).
    ///
    /// # Errors
    /// [`CryptoError::Rng`] if the OS random generator fails;
    /// [`CryptoError::KeyFileInvalid`] if the version space ([`MAX_KEY_VERSION`]) is used up.
    pub fn rotate(&mut self, now: DateTime<Utc>) -> Result<u32, CryptoError> {
        let next = self
            .max_version()
            .checked_add(1)
            .filter(|v| *v <= MAX_KEY_VERSION)
            .ok_or_else(|| CryptoError::invalid("no key version left to rotate to"))?;
        self.keks.insert(next, Kek::new(now, random_key()?));
        self.current = next;
        Ok(next)
    }

    fn max_version(&self) -> u32 {
        self.keks.keys().next_back().copied().unwrap_or(0)
    }

    /// The version new DEKs are wrapped under.
    #[must_use]
    pub fn current_version(&self) -> u32 {
        self.current
    }

    /// All KEK versions, oldest first, with creation time and check value.
    #[must_use]
    pub fn versions(&self) -> Vec<KeyInfo> {
        self.keks
            .iter()
            .map(|(&version, kek)| KeyInfo {
                version,
                created_at: kek.created_at,
                current: version == self.current,
                check_value: check_value_of(&kek.key),
            })
            .collect()
    }

    /// The key check value of KEK `version` (16 hex digits), or `None` if absent. Safe to
    /// log and to store in the database, so the server can refuse to start with the wrong
    /// key file.
    #[must_use]
    pub fn check_value(&self, version: u32) -> Option<String> {
        self.keks.get(&version).map(|kek| check_value_of(&kek.key))
    }

    /// The key check value of the index root key (16 hex digits), same construction.
    #[must_use]
    pub fn index_check_value(&self) -> String {
        check_value_of(&self.index_root)
    }

    fn kek(&self, version: u32) -> Result<&Kek, CryptoError> {
        self.keks
            .get(&version)
            .ok_or(CryptoError::UnknownKeyVersion { version })
    }

    /// A fresh random DEK for `subject_id`, and the same key wrapped under the current KEK
    /// (store the [`WrappedDek`], keep the [`Dek`] in memory only).
    ///
    /// # Errors
    /// [`CryptoError::Rng`] if the OS random generator fails.
    pub fn new_dek(&self, subject_id: &[u8; 16]) -> Result<(Dek, WrappedDek), CryptoError> {
        let key = random_key()?;
        let kek = self.kek(self.current)?;
        let wrapped = dek::wrap(&kek.cipher, self.current, subject_id, &key)?;
        Ok((Dek::from_key(&key), wrapped))
    }

    /// Unwraps the DEK of `subject_id`.
    ///
    /// # Errors
    /// [`CryptoError::UnknownKeyVersion`] if the KEK version is not in the ring;
    /// [`CryptoError::Integrity`] if the wrapped key was altered, truncated, or belongs to
    /// another subject or key version.
    pub fn unwrap_dek(
        &self,
        subject_id: &[u8; 16],
        wrapped: &WrappedDek,
    ) -> Result<Dek, CryptoError> {
        let kek = self.kek(wrapped.kek_version)?;
        let key = dek::unwrap(&kek.cipher, subject_id, wrapped)?;
        Ok(Dek::from_key(&key))
    }

    /// Re-encrypts a wrapped DEK under the current KEK without touching any field value
    /// (the DEK itself is unchanged). A DEK already under the current version is rewrapped
    /// too (fresh nonce); callers that want to skip it compare `kek_version` with
    /// [`KeyRing::current_version`].
    ///
    /// # Errors
    /// As [`KeyRing::unwrap_dek`], plus [`CryptoError::Rng`].
    pub fn rewrap(
        &self,
        subject_id: &[u8; 16],
        wrapped: &WrappedDek,
    ) -> Result<WrappedDek, CryptoError> {
        let old = self.kek(wrapped.kek_version)?;
        let key = dek::unwrap(&old.cipher, subject_id, wrapped)?;
        let new = self.kek(self.current)?;
        dek::wrap(&new.cipher, self.current, subject_id, &key)
    }

    /// A blind indexer keyed from this ring's index root key. Cheap to clone and share
    /// between threads; build it once at start-up.
    #[must_use]
    pub fn blind_indexer(&self) -> BlindIndexer {
        BlindIndexer::new(&self.index_root)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use chrono::TimeZone;

    fn t(day: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 3, day, 9, 0, 0).unwrap()
    }

    #[test]
    fn generate_then_rotate() {
        let mut ring = KeyRing::generate(t(1)).unwrap();
        assert_eq!(ring.current_version(), 1);
        assert_eq!(ring.rotate(t(2)).unwrap(), 2);
        assert_eq!(ring.rotate(t(3)).unwrap(), 3);
        let v = ring.versions();
        assert_eq!(v.iter().map(|k| k.version).collect::<Vec<_>>(), [1, 2, 3]);
        assert_eq!(v.iter().filter(|k| k.current).count(), 1);
        assert!(v[2].current);
        assert_eq!(v[1].created_at, t(2));
        assert_ne!(v[0].check_value, v[1].check_value);
    }

    #[test]
    fn rotate_refuses_past_max_version() {
        let mut ring = KeyRing::generate(t(1)).unwrap();
        let kek = ring.keks.remove(&1).unwrap();
        ring.keks.insert(MAX_KEY_VERSION, kek);
        ring.current = MAX_KEY_VERSION;
        let err = ring.rotate(t(2)).unwrap_err();
        assert_eq!(err.code(), "key_file_invalid");
        assert_eq!(ring.current_version(), MAX_KEY_VERSION);
    }

    #[test]
    fn check_value_is_hmac_prefix() {
        let ring = KeyRing::generate(t(1)).unwrap();
        let key: [u8; 32] = *ring.keks[&1].key;
        let mut mac = <hmac::Hmac<sha2::Sha256> as Mac>::new_from_slice(&key).unwrap();
        mac.update(b"derbes key check v1");
        let want = hex::encode(&mac.finalize().into_bytes()[..8]);
        assert_eq!(ring.check_value(1).unwrap(), want);
        assert_eq!(want.len(), 16);
        assert_eq!(ring.check_value(2), None);
        assert_ne!(ring.index_check_value(), want);
        assert_eq!(ring.index_check_value().len(), 16);
    }

    #[test]
    fn keyring_debug_has_no_key_bytes() {
        let mut ring = KeyRing::generate(t(1)).unwrap();
        ring.rotate(t(2)).unwrap();
        let dbg = format!("{ring:?} {ring:#?}");
        assert_eq!(
            format!("{ring:?}"),
            "KeyRing { versions: [1, 2], current: 2, .. }"
        );
        let b64 = base64::engine::general_purpose::STANDARD;
        let keys: Vec<[u8; 32]> = ring
            .keks
            .values()
            .map(|k| *k.key)
            .chain([*ring.index_root])
            .collect();
        for key in keys {
            assert!(!dbg.contains(&hex::encode(key)));
            assert!(!dbg.contains(&hex::encode_upper(key)));
            assert!(!dbg.contains(&b64.encode(key)));
            assert!(!dbg.contains(&format!("{:?}", key)));
        }
    }
}
