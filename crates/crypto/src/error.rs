//! The one error type of the crate, with stable machine-readable codes.
//!
//! Messages are written for an operator. They never contain key material, plaintext or
//! ciphertext: only paths, key version numbers, file modes and fixed reasons.

use std::io;
use std::path::PathBuf;

/// Everything that can go wrong in `derbes-crypto`.
///
/// Use [`CryptoError::code`] for a stable code (API problem types, metrics, tests); the
/// `Display` text is for people and may change.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CryptoError {
    /// A ciphertext (field blob or wrapped DEK) failed authentication: it was altered,
    /// truncated, has an unknown format byte, or belongs to another subject, field, key
    /// version or key. Deliberately one variant with one message, so nothing is learnt
    /// about which check failed.
    #[error("ciphertext does not belong to this subject/field")]
    Integrity,

    /// A wrapped DEK names a KEK version that is not in the key ring.
    #[error("key version {version} is not in the key ring")]
    UnknownKeyVersion {
        /// The version asked for.
        version: u32,
    },

    /// No keys where they were expected (no key file, or the environment variable unset).
    #[error("keys not found: {location}")]
    KeyFileMissing {
        /// Where the keys were looked for, e.g. `file /var/lib/derbes/keys.json`.
        location: String,
    },

    /// The key file is readable by group or others.
    #[error(
        "key file {} has mode {mode:03o}, which lets group or others access it; \
         run `chmod 600 {}` and check who may have copied it",
        .path.display(),
        .path.display()
    )]
    KeyFilePermissions {
        /// The key file.
        path: PathBuf,
        /// Its permission bits (`mode & 0o777`).
        mode: u32,
    },

    /// The key file (or `DERBES_KEYS` value) is not a valid `derbes-keys/1` document.
    #[error("key file is invalid: {reason}")]
    KeyFileInvalid {
        /// What is wrong, without quoting the content.
        reason: String,
    },

    /// An operating-system I/O error on a key file or its directory.
    #[error("I/O error on {}: {source}", .path.display())]
    Io {
        /// The file or directory concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },

    /// The operating system's random number generator failed.
    #[error("the operating system random number generator failed")]
    Rng,

    /// The plaintext (or associated data) is beyond what AES-GCM can encrypt under one
    /// nonce (about 64 GiB).
    #[error("value too large to encrypt")]
    TooLarge,
}

impl CryptoError {
    /// A stable, lower-case code for this error: `integrity`, `unknown_key_version`,
    /// `key_file_missing`, `key_file_permissions`, `key_file_invalid`, `io`, `rng`,
    /// `too_large`.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            CryptoError::Integrity => "integrity",
            CryptoError::UnknownKeyVersion { .. } => "unknown_key_version",
            CryptoError::KeyFileMissing { .. } => "key_file_missing",
            CryptoError::KeyFilePermissions { .. } => "key_file_permissions",
            CryptoError::KeyFileInvalid { .. } => "key_file_invalid",
            CryptoError::Io { .. } => "io",
            CryptoError::Rng => "rng",
            CryptoError::TooLarge => "too_large",
        }
    }

    pub(crate) fn invalid(reason: impl Into<String>) -> Self {
        CryptoError::KeyFileInvalid {
            reason: reason.into(),
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        CryptoError::Io {
            path: path.into(),
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_stable() {
        let cases: Vec<(CryptoError, &str)> = vec![
            (CryptoError::Integrity, "integrity"),
            (
                CryptoError::UnknownKeyVersion { version: 3 },
                "unknown_key_version",
            ),
            (
                CryptoError::KeyFileMissing {
                    location: "file /x".into(),
                },
                "key_file_missing",
            ),
            (
                CryptoError::KeyFilePermissions {
                    path: "/x".into(),
                    mode: 0o644,
                },
                "key_file_permissions",
            ),
            (CryptoError::invalid("bad"), "key_file_invalid"),
            (CryptoError::io("/x", io::Error::other("boom")), "io"),
            (CryptoError::Rng, "rng"),
            (CryptoError::TooLarge, "too_large"),
        ];
        for (err, code) in cases {
            assert_eq!(err.code(), code);
        }
    }

    #[test]
    fn integrity_message_is_fixed() {
        assert_eq!(
            CryptoError::Integrity.to_string(),
            "ciphertext does not belong to this subject/field"
        );
    }

    #[test]
    fn permissions_message_says_chmod_600() {
        let err = CryptoError::KeyFilePermissions {
            path: "/etc/derbes/keys.json".into(),
            mode: 0o644,
        };
        let msg = err.to_string();
        assert!(msg.contains("chmod 600 /etc/derbes/keys.json"), "{msg}");
        assert!(msg.contains("644"), "{msg}");
    }
}
