//! Small primitives shared by the modules: OS randomness, HMAC-SHA256 with a 256-bit key,
//! HKDF-SHA256 to one 256-bit key, AES-256-GCM construction. Nothing here panics.

use aes_gcm::{Aes256Gcm, KeyInit};
use hkdf::Hkdf;
use hmac::Hmac;
use rand::rngs::OsRng;
use rand::RngCore;
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::CryptoError;

/// Length of every key in this crate (KEK, DEK, index root): 256 bits.
pub(crate) const KEY_LEN: usize = 32;

/// A 256-bit secret, wiped when dropped.
pub(crate) type SecretKey = Zeroizing<[u8; KEY_LEN]>;

/// Fills `buf` from the operating system's CSPRNG.
pub(crate) fn fill_random(buf: &mut [u8]) -> Result<(), CryptoError> {
    OsRng.try_fill_bytes(buf).map_err(|_| CryptoError::Rng)
}

/// Fills `buf` with a fresh nonce from this thread's CSPRNG (rand's `ThreadRng`: ChaCha12,
/// seeded from the operating system and reseeded from it periodically). A nonce must never
/// repeat under a key and should be unpredictable; it needs no system call of its own, which
/// at 15 values a subject was a measurable part of encrypting one. Keys still come from the
/// OS generator ([`random_key`]).
pub(crate) fn fill_nonce(buf: &mut [u8]) -> Result<(), CryptoError> {
    rand::thread_rng()
        .try_fill_bytes(buf)
        .map_err(|_| CryptoError::Rng)
}

/// A fresh random 256-bit key.
pub(crate) fn random_key() -> Result<SecretKey, CryptoError> {
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    fill_random(key.as_mut())?;
    Ok(key)
}

/// AES-256-GCM keyed with `key`. The key schedule is wiped on drop (`aes/zeroize`).
pub(crate) fn aes256gcm(key: &[u8; KEY_LEN]) -> Aes256Gcm {
    Aes256Gcm::new(key.into())
}

/// HMAC-SHA256 keyed with a 256-bit key.
///
/// RFC 2104 pads a key shorter than the hash block (64 bytes) with zeros, so handing the
/// padded block to the fixed-size constructor is the same MAC as `new_from_slice(key)`,
/// without a failure path to handle (tested below against `new_from_slice`).
pub(crate) fn hmac_sha256(key: &[u8; KEY_LEN]) -> Hmac<Sha256> {
    let mut block = Zeroizing::new([0u8; 64]);
    block[..KEY_LEN].copy_from_slice(key);
    <Hmac<Sha256> as KeyInit>::new((&*block).into())
}

/// HKDF-SHA256 (RFC 5869) to a single 256-bit output key.
#[allow(
    clippy::expect_used,
    reason = "HKDF-SHA256 can expand to 255 * 32 bytes; 32 bytes never fails"
)]
pub(crate) fn hkdf_sha256(salt: &[u8], ikm: &[u8; KEY_LEN], info: &[u8]) -> SecretKey {
    let hk = Hkdf::<Sha256>::new(Some(salt), ikm);
    let mut okm = Zeroizing::new([0u8; KEY_LEN]);
    hk.expand(info, okm.as_mut())
        .expect("32-byte HKDF-SHA256 output is always valid");
    okm
}

#[cfg(test)]
mod tests {
    use super::*;
    use hmac::Mac;

    #[test]
    fn hmac_helper_matches_new_from_slice() {
        let key = [0x5au8; KEY_LEN];
        let mut a = hmac_sha256(&key);
        let mut b = <Hmac<Sha256> as Mac>::new_from_slice(&key).unwrap();
        a.update(b"some message");
        b.update(b"some message");
        assert_eq!(a.finalize().into_bytes(), b.finalize().into_bytes());
    }

    #[test]
    fn hmac_helper_matches_simple_hmac() {
        // A second, independent HMAC construction from the same crate.
        let key = [7u8; KEY_LEN];
        let mut a = hmac_sha256(&key);
        let mut b = <hmac::SimpleHmac<Sha256> as Mac>::new_from_slice(&key).unwrap();
        a.update(b"derbes");
        b.update(b"derbes");
        assert_eq!(a.finalize().into_bytes(), b.finalize().into_bytes());
    }

    #[test]
    fn hkdf_rfc5869_case_1_prefix() {
        // The crate against RFC 5869 A.1 (22-byte IKM), then our 32-byte-IKM helper against
        // the crate.
        let ikm = [0x0bu8; 22];
        let salt: Vec<u8> = (0x00u8..=0x0c).collect();
        let info: Vec<u8> = (0xf0u8..=0xf9).collect();
        let hk = Hkdf::<Sha256>::new(Some(&salt), &ikm);
        let mut okm = [0u8; 42];
        hk.expand(&info, &mut okm).unwrap();
        assert_eq!(
            hex::encode(okm),
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"
        );

        let ikm32 = [0x0bu8; KEY_LEN];
        let ours = hkdf_sha256(&salt, &ikm32, &info);
        let mut theirs = [0u8; KEY_LEN];
        Hkdf::<Sha256>::new(Some(&salt), &ikm32)
            .expand(&info, &mut theirs)
            .unwrap();
        assert_eq!(*ours, theirs);
    }

    #[test]
    fn random_keys_differ() {
        assert_ne!(*random_key().unwrap(), *random_key().unwrap());
    }
}
