//! Blind indexes: exact-match lookup of IIN, phone, e-mail, IBAN without storing them in
//! clear.
//!
//! `index(category, normalized) = HMAC-SHA256(k_cat, normalized)` with
//! `k_cat = HKDF-SHA256(ikm = index root key, salt = "derbes/blind-index/v1", info = category)`.
//! The index root key lives only in the key file, never in the database: IINs and phone
//! numbers have so little entropy that anyone holding the key can enumerate them, so the key
//! is as secret as the KEK. Normalising the value (see `derbes-core`) is the caller's job.
//!
//! What the vault stores and looks up is [`BlindIndexer::blind_index`]: the first
//! [`BLIND_INDEX_LEN`] bytes (128 bits) of that HMAC, as truncated HMAC-SHA256 is used
//! wherever a tag need not be 256 bits (RFC 2104 §5, NIST SP 800-107 §5.3.3). At 128 bits two
//! different values of a category share an index with probability about n²/2¹²⁹ for n values
//! (below 10⁻²² for a hundred million), and half the bytes make the index tables, rewritten by
//! every bulk transaction, about a third smaller (docs/benchmarks.md, run Q). The full 32
//! bytes ([`BlindIndexer::index`]) serve the other keyed lookups (rate-limit and CSRF keys).
//!
//! The keyed HMAC state of each category is derived once and cached; each call clones it
//! (two precomputed SHA-256 states), so an index costs two compression calls for short
//! values. At most [`MAX_CACHED_CATEGORIES`] categories are cached, so arbitrary category
//! strings cannot grow memory without bound (beyond that, keys are derived per call).
//!
//! Limitation: the cached HMAC states are key-equivalent and the `hmac`/`sha2` 0.10 crates
//! cannot wipe them; they are freed when the last clone of the indexer is dropped.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::prim::{hkdf_sha256, hmac_sha256, SecretKey, KEY_LEN};

const INDEX_SALT: &[u8] = b"derbes/blind-index/v1";

/// Bytes of a stored blind index: the leading 128 bits of the HMAC.
pub const BLIND_INDEX_LEN: usize = 16;

/// How many categories' keys a [`BlindIndexer`] keeps.
pub const MAX_CACHED_CATEGORIES: usize = 256;

/// Computes blind indexes. Clone it freely: clones share one key and one cache.
#[derive(Clone)]
pub struct BlindIndexer {
    inner: Arc<Inner>,
}

struct Inner {
    root: SecretKey,
    cache: RwLock<HashMap<String, Hmac<Sha256>>>,
}

impl fmt::Debug for BlindIndexer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cached = self
            .inner
            .cache
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len();
        f.debug_struct("BlindIndexer")
            .field("cached_categories", &cached)
            .finish_non_exhaustive()
    }
}

impl BlindIndexer {
    pub(crate) fn new(root: &[u8; KEY_LEN]) -> Self {
        let mut copy = SecretKey::default();
        copy.copy_from_slice(root);
        BlindIndexer {
            inner: Arc::new(Inner {
                root: copy,
                cache: RwLock::new(HashMap::new()),
            }),
        }
    }

    fn derive(&self, category: &str) -> Hmac<Sha256> {
        let k_cat = hkdf_sha256(INDEX_SALT, &self.inner.root, category.as_bytes());
        hmac_sha256(&k_cat)
    }

    /// The keyed HMAC for `category`, from the cache or freshly derived (and cached).
    fn keyed(&self, category: &str) -> Hmac<Sha256> {
        if let Some(mac) = self
            .inner
            .cache
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(category)
        {
            return mac.clone();
        }
        let mac = self.derive(category);
        let mut cache = self
            .inner
            .cache
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if cache.len() < MAX_CACHED_CATEGORIES {
            cache
                .entry(category.to_owned())
                .or_insert_with(|| mac.clone());
        }
        mac
    }

    /// The blind index of an already normalised value in `category`.
    #[must_use]
    pub fn index(&self, category: &str, normalized: &str) -> [u8; 32] {
        let mut mac = self.keyed(category);
        mac.update(normalized.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// The stored blind index of an already normalised value in `category`: the first
    /// [`BLIND_INDEX_LEN`] bytes of [`BlindIndexer::index`].
    #[must_use]
    pub fn blind_index(&self, category: &str, normalized: &str) -> [u8; BLIND_INDEX_LEN] {
        let full = self.index(category, normalized);
        let mut out = [0u8; BLIND_INDEX_LEN];
        out.copy_from_slice(&full[..BLIND_INDEX_LEN]);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hkdf::Hkdf;

    fn reference(root: &[u8; 32], category: &str, value: &str) -> [u8; 32] {
        let mut k = [0u8; 32];
        Hkdf::<Sha256>::new(Some(b"derbes/blind-index/v1"), root)
            .expand(category.as_bytes(), &mut k)
            .unwrap();
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&k).unwrap();
        mac.update(value.as_bytes());
        mac.finalize().into_bytes().into()
    }

    #[test]
    fn matches_the_documented_construction() {
        let root = [9u8; 32];
        let ix = BlindIndexer::new(&root);
        for (cat, v) in [("iin", "900101300123"), ("phone", "+77011234567"), ("", "")] {
            assert_eq!(ix.index(cat, v), reference(&root, cat, v));
            // Second call comes from the cache.
            assert_eq!(ix.index(cat, v), reference(&root, cat, v));
        }
    }

    #[test]
    fn c5_3_blind_index_is_the_hmacs_first_128_bits() {
        let root = [5u8; 32];
        let ix = BlindIndexer::new(&root);
        for (cat, v) in [("iin", "900101300123"), ("email", "a@b.kz"), ("", "")] {
            let full = reference(&root, cat, v);
            assert_eq!(ix.blind_index(cat, v), full[..BLIND_INDEX_LEN]);
        }
        // Keyed per category and per root key, as the full HMAC is.
        assert_ne!(ix.blind_index("iin", "1"), ix.blind_index("email", "1"));
        let other = BlindIndexer::new(&[6u8; 32]);
        assert_ne!(ix.blind_index("iin", "1"), other.blind_index("iin", "1"));
    }

    #[test]
    fn cache_is_bounded_and_results_unchanged() {
        let root = [3u8; 32];
        let ix = BlindIndexer::new(&root);
        for i in 0..MAX_CACHED_CATEGORIES + 50 {
            let cat = format!("c{i}");
            assert_eq!(ix.index(&cat, "x"), reference(&root, &cat, "x"));
        }
        assert_eq!(ix.inner.cache.read().unwrap().len(), MAX_CACHED_CATEGORIES);
        let cat = format!("c{}", MAX_CACHED_CATEGORIES + 10);
        assert_eq!(ix.index(&cat, "y"), reference(&root, &cat, "y"));
    }

    #[test]
    fn debug_shows_no_key() {
        let root = [0xabu8; 32];
        let ix = BlindIndexer::new(&root);
        let _ = ix.index("iin", "1");
        let dbg = format!("{ix:?}");
        assert_eq!(dbg, "BlindIndexer { cached_categories: 1, .. }");
    }
}
