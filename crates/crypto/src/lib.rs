//! `derbes-crypto`: the key ring, envelope encryption of personal data, and blind indexes.
//!
//! Responsibilities (see `shared/spec/architecture.md`, "Keys and encryption"):
//!
//! - [`KeyRing`]: versioned 256-bit key-encryption keys (KEK) and the blind-index root key,
//!   loaded through a [`KeyProvider`] ([`FileKeyProvider`]: a 0600 key file created
//!   atomically; [`EnvKeyProvider`]: `DERBES_KEYS`). Key check values ([`KeyInfo`]) let the
//!   server refuse to start with the wrong keys.
//! - Envelope encryption: one [`Dek`] per subject, stored only as a [`WrappedDek`];
//!   destroying it crypto-shreds the subject, backups included. Rotation adds a KEK
//!   version and [`KeyRing::rewrap`]s DEKs without touching values (clause 5.6).
//! - Field values: AES-256-GCM with a random nonce and associated data ([`FieldAad`])
//!   binding subject, category and DEK version, so a ciphertext moved to another person or
//!   field fails with [`CryptoError::Integrity`] (clauses 5.1–5.3).
//! - [`BlindIndexer`]: HMAC-SHA256 blind indexes with per-category HKDF keys, for exact
//!   lookup of IIN, phone, e-mail and IBAN.
//!
//! Secrets are wiped from memory when dropped, no `Debug` or error message contains key
//! material or plaintext, and malformed input (truncated blobs, wrong format bytes, bad key
//! files) is an error, never a panic.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
#![forbid(unsafe_code)]

mod blind;
mod dek;
mod error;
mod keyfile;
mod keyring;
mod prim;
mod provider;

pub use blind::{BlindIndexer, BLIND_INDEX_LEN, MAX_CACHED_CATEGORIES};
pub use dek::{
    Dek, FieldAad, WrappedDek, FIELD_FORMAT_V1, FIELD_OVERHEAD, WRAPPED_DEK_FORMAT_V1,
    WRAPPED_DEK_LEN,
};
pub use error::CryptoError;
pub use keyfile::KEY_FILE_FORMAT;
pub use keyring::{KeyInfo, KeyRing, MAX_KEY_VERSION};
pub use provider::{EnvKeyProvider, FileKeyProvider, KeyProvider, KEYS_ENV_VAR};
pub use zeroize::Zeroizing;
