//! The packed form of a subject's current values (`subjects.vals`).
//!
//! A read of a subject is one row: the subject's wrapped data key and, in one blob, every
//! current value — each still its own AES-256-GCM ciphertext, bound to subject, category and
//! key version by its associated data — with the provenance the policy asks for beside it
//! (PRE-2: source, when obtained, when and by whom recorded, for which purpose; 2.2: version,
//! verification). The blob also keeps the blind-index hashes of the subject's searchable
//! values, so a correction can remove the old index entry without decrypting anything.
//!
//! Encoding: one format byte (`0x01`) then [postcard](https://docs.rs/postcard) of
//! [`PackedV1`]. Provenance shared by the values recorded in one call (time, actor, purpose,
//! kind of change) is stored once and referred to by position.
//!
//! Nothing here is secret or personal: ciphertexts, hashes, codes and times.

use crate::{BlindIndexRecord, StoreError, SubjectId, ValueRecord, INDEX_HASH_LEN};
use serde::{Deserialize, Serialize};

const FORMAT_V1: u8 = 0x01;

// The owned structs below are what `decode` reads; the borrowed `…Ref` twins are what
// `encode` writes (no copy of a ciphertext or string). postcard is positional, so twins with
// the same fields in the same order and of the same serde types have the same encoding
// (checked by the round-trip property test).

#[derive(Serialize)]
struct ProvenanceRef<'a> {
    recorded_at: i64,
    recorded_by: &'a str,
    purpose: &'a str,
    change_kind: &'a str,
}

#[derive(Serialize)]
struct PackedValueRef<'a> {
    category: &'a str,
    seq: i64,
    #[serde(with = "serde_bytes")]
    ciphertext: &'a [u8],
    dek_version: u32,
    source_kind: &'a str,
    source_name: Option<&'a str>,
    obtained_at: i64,
    provenance: u32,
    verification: Option<&'a str>,
}

#[derive(Serialize)]
struct PackedIndexRef<'a> {
    category: &'a str,
    #[serde(with = "serde_bytes")]
    hash: &'a [u8],
    unique: bool,
}

#[derive(Serialize)]
struct PackedV1Ref<'a> {
    provenance: Vec<ProvenanceRef<'a>>,
    values: Vec<PackedValueRef<'a>>,
    indexes: Vec<PackedIndexRef<'a>>,
}

#[derive(Deserialize)]
struct Provenance {
    recorded_at: i64,
    recorded_by: String,
    purpose: String,
    change_kind: String,
}

#[derive(Deserialize)]
struct PackedValue {
    category: String,
    seq: i64,
    #[serde(with = "serde_bytes")]
    ciphertext: Vec<u8>,
    dek_version: u32,
    source_kind: String,
    source_name: Option<String>,
    obtained_at: i64,
    /// Index into [`PackedV1::provenance`].
    provenance: u32,
    verification: Option<String>,
}

#[derive(Deserialize)]
struct PackedIndex {
    category: String,
    #[serde(with = "serde_bytes")]
    hash: Vec<u8>,
    unique: bool,
}

#[derive(Deserialize)]
struct PackedV1 {
    provenance: Vec<Provenance>,
    values: Vec<PackedValue>,
    indexes: Vec<PackedIndex>,
}

/// A subject's current values and the blind-index entries that point at it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Current {
    /// Current values (`superseded_at` is `None`).
    pub values: Vec<ValueRecord>,
    /// The blind-index hashes of the searchable ones.
    pub indexes: Vec<BlindIndexRecord>,
}

impl Current {
    /// The current value of `category`, if any.
    pub fn value_mut(&mut self, category: &str) -> Option<&mut ValueRecord> {
        self.values.iter_mut().find(|v| v.category == category)
    }
}

fn malformed() -> StoreError {
    StoreError::Database(sqlx::Error::Protocol(
        "a subject's packed values are malformed".into(),
    ))
}

/// Pack current values (their `subject_id` and `superseded_at` are implied) and indexes.
/// Values are stored in category order, the order [`decode`] returns them in.
pub fn encode(values: &[ValueRecord], indexes: &[BlindIndexRecord]) -> Vec<u8> {
    let mut provenance: Vec<ProvenanceRef<'_>> = Vec::with_capacity(1);
    let mut packed = Vec::with_capacity(values.len());
    let mut sorted: Vec<&ValueRecord> = values.iter().collect();
    sorted.sort_by(|a, b| a.category.cmp(&b.category));
    let mut size = 64;
    for v in sorted {
        let position = provenance.iter().position(|p| {
            p.recorded_at == v.recorded_at
                && p.recorded_by == v.recorded_by
                && p.purpose == v.purpose
                && p.change_kind == v.change_kind
        });
        let position = match position {
            Some(i) => i,
            None => {
                provenance.push(ProvenanceRef {
                    recorded_at: v.recorded_at,
                    recorded_by: &v.recorded_by,
                    purpose: &v.purpose,
                    change_kind: &v.change_kind,
                });
                size += 16 + v.recorded_by.len() + v.purpose.len() + v.change_kind.len();
                provenance.len() - 1
            }
        };
        size += 32
            + v.category.len()
            + v.ciphertext.len()
            + v.source_kind.len()
            + v.source_name.as_ref().map_or(0, String::len)
            + v.verification.as_ref().map_or(0, String::len);
        packed.push(PackedValueRef {
            category: &v.category,
            seq: v.seq,
            ciphertext: &v.ciphertext,
            dek_version: v.dek_version,
            source_kind: &v.source_kind,
            source_name: v.source_name.as_deref(),
            obtained_at: v.obtained_at,
            provenance: u32::try_from(position).unwrap_or(u32::MAX),
            verification: v.verification.as_deref(),
        });
    }
    let doc = PackedV1Ref {
        provenance,
        values: packed,
        indexes: indexes
            .iter()
            .map(|i| {
                size += 8 + i.category.len() + i.hash.len();
                PackedIndexRef {
                    category: &i.category,
                    hash: &i.hash,
                    unique: i.unique,
                }
            })
            .collect(),
    };
    let mut out = Vec::with_capacity(size);
    out.push(FORMAT_V1);
    // Serialising strings and byte slices into a Vec cannot fail.
    match postcard::to_extend(&doc, out) {
        Ok(v) => v,
        Err(_) => vec![FORMAT_V1],
    }
}

/// Unpack what [`encode`] wrote for subject `id`.
///
/// # Errors
/// [`StoreError::Database`] when the bytes are not a packed record of a known format.
pub fn decode(id: &SubjectId, bytes: &[u8]) -> Result<Current, StoreError> {
    let (format, body) = bytes.split_first().ok_or_else(malformed)?;
    if *format != FORMAT_V1 {
        return Err(malformed());
    }
    let doc: PackedV1 = postcard::from_bytes(body).map_err(|_| malformed())?;
    let mut values = Vec::with_capacity(doc.values.len());
    for v in doc.values {
        let p = usize::try_from(v.provenance)
            .ok()
            .and_then(|i| doc.provenance.get(i))
            .ok_or_else(malformed)?;
        values.push(ValueRecord {
            subject_id: *id,
            category: v.category,
            seq: v.seq,
            ciphertext: v.ciphertext,
            dek_version: v.dek_version,
            source_kind: v.source_kind,
            source_name: v.source_name,
            obtained_at: v.obtained_at,
            recorded_at: p.recorded_at,
            recorded_by: p.recorded_by.clone(),
            purpose: p.purpose.clone(),
            verification: v.verification,
            superseded_at: None,
            change_kind: p.change_kind.clone(),
        });
    }
    let indexes = doc
        .indexes
        .into_iter()
        .map(|mut i| {
            // A row packed before migration 0022 keeps the full 32-byte HMAC; the index
            // tables hold its first 16 bytes since.
            i.hash.truncate(INDEX_HASH_LEN);
            BlindIndexRecord {
                category: i.category,
                hash: i.hash,
                unique: i.unique,
            }
        })
        .collect();
    Ok(Current { values, indexes })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn value(cat: &str, seq: i64, ct: Vec<u8>, at: i64, by: &str) -> ValueRecord {
        ValueRecord {
            subject_id: [7; 16],
            category: cat.into(),
            seq,
            ciphertext: ct,
            dek_version: 1,
            source_kind: "subject".into(),
            source_name: None,
            obtained_at: at - 5,
            recorded_at: at,
            recorded_by: by.into(),
            purpose: "contract".into(),
            verification: None,
            superseded_at: None,
            change_kind: "create".into(),
        }
    }

    proptest! {
        /// Whatever is packed comes back exactly (property test over random records).
        #[test]
        fn round_trip(
            cats in proptest::collection::vec("[a-z_]{1,20}", 0..20),
            cts in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..80), 20),
            at in any::<i64>(),
            by in "[a-z:0-9-]{1,40}",
            seqs in proptest::collection::vec(1i64..1000, 20),
            name in proptest::option::of("[A-Za-z ]{1,30}"),
            verification in proptest::option::of("\\{[a-z:\"]{0,30}\\}"),
        ) {
            let values: Vec<ValueRecord> = cats
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let mut v = value(c, seqs[i], cts[i].clone(), at.wrapping_add(i as i64 % 3), &by);
                    v.source_name = name.clone();
                    v.verification = verification.clone();
                    if i % 2 == 0 { v.change_kind = "correct".into(); }
                    v
                })
                .collect();
            let indexes = vec![BlindIndexRecord { category: "iin".into(), hash: vec![9; INDEX_HASH_LEN], unique: true }];
            let back = decode(&[7; 16], &encode(&values, &indexes)).unwrap();
            let mut sorted = values.clone();
            sorted.sort_by(|a, b| a.category.cmp(&b.category));
            prop_assert_eq!(back.values, sorted);
            prop_assert_eq!(back.indexes, indexes);
        }

        /// Garbage never panics: it decodes to an error or to some records.
        #[test]
        fn garbage_is_an_error_not_a_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = decode(&[1; 16], &bytes);
        }
    }

    #[test]
    fn shared_provenance_is_stored_once() {
        let by = "api_key:0192f0c4-1111-7222-8333-444455556666";
        let many: Vec<ValueRecord> = (0..15)
            .map(|i| {
                value(
                    &format!("cat{i}"),
                    1,
                    vec![0; 40],
                    1_700_000_000_000_000,
                    by,
                )
            })
            .collect();
        let packed = encode(&many, &[]);
        let occurrences = packed
            .windows(by.len())
            .filter(|w| *w == by.as_bytes())
            .count();
        assert_eq!(occurrences, 1);
    }

    /// A row packed before migration 0022 (32-byte index hashes) reads back with the first 16
    /// bytes of each, as the index tables hold them since, so a correction finds and removes
    /// the old index entry.
    #[test]
    fn c5_3_index_hashes_of_rows_packed_before_0022_read_as_their_first_16_bytes() {
        let full: Vec<u8> = (0u8..32).collect();
        let old = vec![BlindIndexRecord {
            category: "iin".into(),
            hash: full.clone(),
            unique: true,
        }];
        let back = decode(&[7; 16], &encode(&[], &old)).unwrap();
        assert_eq!(back.indexes[0].hash, full[..INDEX_HASH_LEN]);
    }

    #[test]
    fn unknown_format_is_refused() {
        let mut packed = encode(&[value("iin", 1, vec![1, 2], 5, "x")], &[]);
        packed[0] = 0x02;
        assert!(decode(&[7; 16], &packed).is_err());
        assert!(decode(&[7; 16], &[]).is_err());
    }
}
