//! Per-subject data keys (DEK) and field-value encryption (clauses 5.1–5.3).
//!
//! Every subject has one 256-bit DEK, stored only wrapped by a KEK (see
//! [`crate::KeyRing::new_dek`]). A field value is encrypted with AES-256-GCM under the
//! subject's DEK with a fresh random 96-bit nonce; the associated data ([`FieldAad`]) binds
//! the subject id, the category and the DEK version, so a ciphertext copied to another
//! person or another field fails to decrypt with [`CryptoError::Integrity`] (clause 5.3).
//! Destroying the wrapped DEK makes every copy of the subject's ciphertexts unreadable,
//! backups included (crypto-shredding).
//!
//! Blob layout (format 1): `0x01 || nonce (12 bytes) || ciphertext || tag (16 bytes)`.

use std::fmt;

use aes_gcm::aead::AeadInPlace;
use aes_gcm::{Aes256Gcm, Nonce, Tag};
use zeroize::Zeroizing;

use crate::prim::{aes256gcm, fill_nonce, KEY_LEN};
use crate::CryptoError;

/// Format byte of field blobs written by this version.
pub const FIELD_FORMAT_V1: u8 = 0x01;
/// Length of an AES-GCM nonce.
pub(crate) const NONCE_LEN: usize = 12;
/// Length of an AES-GCM tag.
pub(crate) const TAG_LEN: usize = 16;
/// Bytes a field blob adds to its plaintext: format byte, nonce and tag.
pub const FIELD_OVERHEAD: usize = 1 + NONCE_LEN + TAG_LEN;

const FIELD_DOMAIN: &[u8] = b"derbes/field/v1";

/// Associated data of one field value: whose value it is, what it is, under which DEK.
///
/// Encoded unambiguously as
/// `"derbes/field/v1" || subject_id (16) || u64be(len(category)) || category || u32be(dek_version)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldAad<'a> {
    /// The subject's pseudonymous id (16 bytes, e.g. a UUID).
    pub subject_id: &'a [u8; 16],
    /// The data category code (e.g. `iin`, `phone`).
    pub category: &'a str,
    /// Version of the subject's DEK the value is encrypted under.
    pub dek_version: u32,
}

impl<'a> FieldAad<'a> {
    /// Associated data for `category` of `subject_id` under DEK version `dek_version`.
    #[must_use]
    pub fn new(subject_id: &'a [u8; 16], category: &'a str, dek_version: u32) -> Self {
        FieldAad {
            subject_id,
            category,
            dek_version,
        }
    }

    /// The exact bytes authenticated with the ciphertext.
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        let cat = self.category.as_bytes();
        let mut out = Vec::with_capacity(FIELD_DOMAIN.len() + 16 + 8 + cat.len() + 4);
        out.extend_from_slice(FIELD_DOMAIN);
        out.extend_from_slice(self.subject_id);
        // usize -> u64 is lossless on every supported target.
        out.extend_from_slice(&(cat.len() as u64).to_be_bytes());
        out.extend_from_slice(cat);
        out.extend_from_slice(&self.dek_version.to_be_bytes());
        out
    }
}

/// A subject's data key, ready to encrypt and decrypt field values.
///
/// Holds only the keyed AES-256-GCM instance (built once, reused for every field); the raw
/// key bytes are wiped as soon as the instance exists, and the instance's key schedule is
/// wiped on drop. `Debug` prints no key material.
#[derive(Clone)]
pub struct Dek {
    cipher: Aes256Gcm,
}

impl fmt::Debug for Dek {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Dek { .. }")
    }
}

impl Dek {
    pub(crate) fn from_key(key: &[u8; KEY_LEN]) -> Self {
        Dek {
            cipher: aes256gcm(key),
        }
    }

    /// Encrypts one field value: `0x01 || nonce || ciphertext || tag`.
    ///
    /// # Errors
    /// [`CryptoError::Rng`] if the OS random generator fails, [`CryptoError::TooLarge`] for a
    /// value beyond the AES-GCM limit (about 64 GiB).
    pub fn encrypt(&self, aad: &FieldAad<'_>, plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let mut nonce = [0u8; NONCE_LEN];
        fill_nonce(&mut nonce)?;
        let aad = aad.encode();
        let mut out = Vec::with_capacity(plaintext.len().saturating_add(FIELD_OVERHEAD));
        out.push(FIELD_FORMAT_V1);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(plaintext);
        let tag = self
            .cipher
            .encrypt_in_place_detached(Nonce::from_slice(&nonce), &aad, &mut out[1 + NONCE_LEN..])
            .map_err(|_| CryptoError::TooLarge)?;
        out.extend_from_slice(&tag);
        Ok(out)
    }

    /// Decrypts a blob written by [`Dek::encrypt`] with the same associated data.
    ///
    /// # Errors
    /// [`CryptoError::Integrity`] if the blob is truncated, has an unknown format byte, was
    /// altered in any bit, or belongs to another subject, category or DEK version.
    pub fn decrypt(
        &self,
        aad: &FieldAad<'_>,
        blob: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let parts = split_blob(blob)?;
        let aad = aad.encode();
        let mut buf = Zeroizing::new(parts.body.to_vec());
        self.cipher
            .decrypt_in_place_detached(
                Nonce::from_slice(parts.nonce),
                &aad,
                buf.as_mut_slice(),
                Tag::from_slice(parts.tag),
            )
            .map_err(|_| CryptoError::Integrity)?;
        Ok(buf)
    }
}

/// The parts of a format-1 field blob.
struct BlobParts<'a> {
    nonce: &'a [u8],
    body: &'a [u8],
    tag: &'a [u8],
}

/// Splits `0x01 || nonce || body || tag`, rejecting anything else without panicking.
fn split_blob(blob: &[u8]) -> Result<BlobParts<'_>, CryptoError> {
    let (&format, rest) = blob.split_first().ok_or(CryptoError::Integrity)?;
    if format != FIELD_FORMAT_V1 || rest.len() < NONCE_LEN + TAG_LEN {
        return Err(CryptoError::Integrity);
    }
    let (nonce, rest) = rest.split_at(NONCE_LEN);
    let (body, tag) = rest.split_at(rest.len() - TAG_LEN);
    Ok(BlobParts { nonce, body, tag })
}

/// A DEK encrypted ("wrapped") under one version of the KEK; safe to store beside the
/// subject. `bytes` is `0x01 || nonce (12) || AES-256-GCM(kek, dek) (32) || tag (16)`, with
/// associated data `"derbes/dek/v1" || subject_id || u32be(kek_version)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrappedDek {
    /// The KEK version that wrapped it.
    pub kek_version: u32,
    /// The wrapped key, [`WRAPPED_DEK_LEN`] bytes.
    pub bytes: Vec<u8>,
}

/// Format byte of wrapped DEKs written by this version.
pub const WRAPPED_DEK_FORMAT_V1: u8 = 0x01;
/// Length of [`WrappedDek::bytes`].
pub const WRAPPED_DEK_LEN: usize = 1 + NONCE_LEN + KEY_LEN + TAG_LEN;

const DEK_DOMAIN: &[u8] = b"derbes/dek/v1";

fn dek_aad(subject_id: &[u8; 16], kek_version: u32) -> [u8; DEK_DOMAIN.len() + 16 + 4] {
    let mut aad = [0u8; DEK_DOMAIN.len() + 16 + 4];
    let (domain, rest) = aad.split_at_mut(DEK_DOMAIN.len());
    domain.copy_from_slice(DEK_DOMAIN);
    let (subject, version) = rest.split_at_mut(16);
    subject.copy_from_slice(subject_id);
    version.copy_from_slice(&kek_version.to_be_bytes());
    aad
}

/// Wraps `dek` under `kek` (version `kek_version`) for `subject_id`.
pub(crate) fn wrap(
    kek: &Aes256Gcm,
    kek_version: u32,
    subject_id: &[u8; 16],
    dek: &[u8; KEY_LEN],
) -> Result<WrappedDek, CryptoError> {
    let mut nonce = [0u8; NONCE_LEN];
    fill_nonce(&mut nonce)?;
    let mut bytes = Vec::with_capacity(WRAPPED_DEK_LEN);
    bytes.push(WRAPPED_DEK_FORMAT_V1);
    bytes.extend_from_slice(&nonce);
    bytes.extend_from_slice(dek);
    let tag = kek
        .encrypt_in_place_detached(
            Nonce::from_slice(&nonce),
            &dek_aad(subject_id, kek_version),
            &mut bytes[1 + NONCE_LEN..],
        )
        .map_err(|_| CryptoError::TooLarge)?;
    bytes.extend_from_slice(&tag);
    Ok(WrappedDek { kek_version, bytes })
}

/// Unwraps to the raw DEK; the caller has looked up the KEK for `wrapped.kek_version`.
pub(crate) fn unwrap(
    kek: &Aes256Gcm,
    subject_id: &[u8; 16],
    wrapped: &WrappedDek,
) -> Result<Zeroizing<[u8; KEY_LEN]>, CryptoError> {
    if wrapped.bytes.len() != WRAPPED_DEK_LEN || wrapped.bytes[0] != WRAPPED_DEK_FORMAT_V1 {
        return Err(CryptoError::Integrity);
    }
    let nonce = &wrapped.bytes[1..1 + NONCE_LEN];
    let tag = &wrapped.bytes[1 + NONCE_LEN + KEY_LEN..];
    let mut dek = Zeroizing::new([0u8; KEY_LEN]);
    dek.copy_from_slice(&wrapped.bytes[1 + NONCE_LEN..1 + NONCE_LEN + KEY_LEN]);
    kek.decrypt_in_place_detached(
        Nonce::from_slice(nonce),
        &dek_aad(subject_id, wrapped.kek_version),
        dek.as_mut_slice(),
        Tag::from_slice(tag),
    )
    .map_err(|_| CryptoError::Integrity)?;
    Ok(dek)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prim::random_key;

    const S1: [u8; 16] = [1; 16];
    const S2: [u8; 16] = [2; 16];

    fn dek() -> (Dek, Zeroizing<[u8; KEY_LEN]>) {
        let key = random_key().unwrap();
        (Dek::from_key(&key), key)
    }

    #[test]
    fn aad_encoding_is_unambiguous() {
        // Moving bytes between category and version must change the encoding.
        let a = FieldAad::new(&S1, "ab", 1).encode();
        let b = FieldAad::new(&S1, "a", 1).encode();
        assert_ne!(a, b);
        assert!(a.starts_with(b"derbes/field/v1"));
        assert_eq!(a.len(), 15 + 16 + 8 + 2 + 4);
    }

    #[test]
    fn blob_layout() {
        let (dek, _) = dek();
        let aad = FieldAad::new(&S1, "phone", 1);
        let blob = dek.encrypt(&aad, b"+77011234567").unwrap();
        assert_eq!(blob[0], FIELD_FORMAT_V1);
        assert_eq!(blob.len(), 12 + FIELD_OVERHEAD);
        assert_eq!(&*dek.decrypt(&aad, &blob).unwrap(), b"+77011234567");
        // Random nonce: two encryptions differ.
        assert_ne!(blob, dek.encrypt(&aad, b"+77011234567").unwrap());
    }

    #[test]
    fn empty_plaintext_round_trips() {
        let (dek, _) = dek();
        let aad = FieldAad::new(&S1, "note", 0);
        let blob = dek.encrypt(&aad, b"").unwrap();
        assert_eq!(blob.len(), FIELD_OVERHEAD);
        assert!(dek.decrypt(&aad, &blob).unwrap().is_empty());
    }

    #[test]
    fn wrong_format_byte_is_integrity() {
        let (dek, _) = dek();
        let aad = FieldAad::new(&S1, "iin", 1);
        let mut blob = dek.encrypt(&aad, b"900101300123").unwrap();
        for f in [0x00, 0x02, 0xff] {
            blob[0] = f;
            assert!(matches!(
                dek.decrypt(&aad, &blob),
                Err(CryptoError::Integrity)
            ));
        }
    }

    #[test]
    fn dek_debug_has_no_key_bytes() {
        let (dek, key) = dek();
        let dbg = format!("{dek:?} {dek:#?}");
        assert_eq!(format!("{dek:?}"), "Dek { .. }");
        assert!(!dbg.contains(&hex::encode(*key)));
        use base64::Engine;
        assert!(!dbg.contains(&base64::engine::general_purpose::STANDARD.encode(*key)));
    }

    #[test]
    fn wrap_layout_and_binding() {
        let kek_key = random_key().unwrap();
        let kek = aes256gcm(&kek_key);
        let dek_key = random_key().unwrap();
        let w = wrap(&kek, 3, &S1, &dek_key).unwrap();
        assert_eq!(w.bytes.len(), WRAPPED_DEK_LEN);
        assert_eq!(w.bytes[0], WRAPPED_DEK_FORMAT_V1);
        assert_eq!(*unwrap(&kek, &S1, &w).unwrap(), *dek_key);
        // Other subject, other claimed version: refused.
        assert!(matches!(unwrap(&kek, &S2, &w), Err(CryptoError::Integrity)));
        let relabeled = WrappedDek {
            kek_version: 4,
            ..w.clone()
        };
        assert!(matches!(
            unwrap(&kek, &S1, &relabeled),
            Err(CryptoError::Integrity)
        ));
        // Every truncation and extension: refused, no panic.
        for n in 0..w.bytes.len() {
            let t = WrappedDek {
                kek_version: 3,
                bytes: w.bytes[..n].to_vec(),
            };
            assert!(matches!(unwrap(&kek, &S1, &t), Err(CryptoError::Integrity)));
        }
        let mut longer = w.clone();
        longer.bytes.push(0);
        assert!(matches!(
            unwrap(&kek, &S1, &longer),
            Err(CryptoError::Integrity)
        ));
    }
}
