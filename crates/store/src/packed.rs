//! The packed form of a subject's current values (`subjects.vals`).
//!
//! A read of a subject is one row: the subject's wrapped data key and, in one blob, every
//! current value — each still its own AES-256-GCM ciphertext, bound to subject, category and
//! key version by its associated data — with the provenance the policy asks for beside it
//! (PRE-2: source, when obtained, when and by whom recorded, for which purpose; 2.2: version,
//! verification). The blob also keeps the blind-index hashes of the subject's searchable
//! values, so a correction can remove the old index entry without decrypting anything.
//!
//! Encoding: one format byte, then [postcard](https://docs.rs/postcard) of the format's
//! document. Provenance shared by the values recorded in one call (time, actor, purpose,
//! kind of change) is stored once and referred to by position.
//!
//! - **Format 2** (`0x02`, what [`encode`] writes): category codes, source kinds and kinds of
//!   change that are in [`WORDS`] are stored as their one-byte position there (any other
//!   text as itself), and a value's `obtained_at` as its distance before the recording time.
//!   A subject of 15 values packs about 370 bytes smaller than in format 1: at about 1,400
//!   bytes five rows share an 8 KiB page where four did ([`crate::SQLITE_PAGE_SIZE`];
//!   docs/benchmarks.md, run R).
//! - **Format 1** (`0x01`): every text in full and every time absolute. Rows written before
//!   format 2 keep it; [`decode`] reads both, and a row is rewritten in format 2 by its next
//!   change.
//!
//! Nothing here is secret or personal: ciphertexts, hashes, codes and times.

use crate::{
    BlindIndexRecord, FirstValue, StoreError, SubjectId, SubjectRecord, ValueRecord, INDEX_HASH_LEN,
};
use serde::{Deserialize, Serialize};

const FORMAT_V1: u8 = 0x01;
const FORMAT_V2: u8 = 0x02;

/// Words format 2 stores as their position in this list: the category codes of the default
/// registry (`crates/core/registry/default.toml`), the kinds of source (clause PRE-2) and the
/// kinds of change. **Append only**: a word's position is what rows on disk hold, so a word is
/// never removed or moved, and a new one goes at the end (at most 256). A category the
/// operator adds to the registry is stored as its text until it is listed here.
pub const WORDS: &[&str] = &[
    // Category codes (clause 2.1).
    "full_name",
    "birth_date",
    "email",
    "mobile_phone",
    "home_phone",
    "work_phone",
    "registration_address",
    "residence_address",
    "iin",
    "employer",
    "marital_status",
    "property_type",
    "bank_account",
    "salary_amount",
    "salary_day",
    "solvency_info",
    "id_document",
    "ip_address",
    "cookie_id",
    "user_agent",
    "visited_page",
    "isp_domain",
    "visit_time",
    // Kinds of source (PRE-2).
    "subject",
    "employee",
    "credit_bureau",
    "pension_centre",
    "other_organisation",
    "automatic",
    // Kinds of change (2.2).
    "create",
    "correct",
    "supplement",
];

/// A text of format 2: a word of [`WORDS`] by its position, or any other text as itself.
#[derive(Serialize)]
enum WordRef<'a> {
    Known(u8),
    Text(&'a str),
}

impl<'a> WordRef<'a> {
    fn of(text: &'a str) -> Self {
        WORDS
            .iter()
            .position(|w| *w == text)
            .and_then(|i| u8::try_from(i).ok())
            .map_or(WordRef::Text(text), WordRef::Known)
    }
}

#[derive(Deserialize)]
enum Word {
    Known(u8),
    Text(String),
}

impl Word {
    fn into_text(self) -> Result<String, StoreError> {
        match self {
            Word::Known(i) => WORDS
                .get(usize::from(i))
                .map(|w| (*w).to_string())
                .ok_or_else(malformed),
            Word::Text(t) => Ok(t),
        }
    }
}

// The owned structs below are what `decode` reads; the borrowed `…Ref` twins are what
// `encode` writes (no copy of a ciphertext or string). postcard is positional, so twins with
// the same fields in the same order and of the same serde types have the same encoding
// (checked by the round-trip property tests). Format 1's writing twins are kept for the
// tests only, which make rows as the versions before format 2 wrote them.

#[cfg(test)]
#[derive(Serialize)]
struct ProvenanceRef<'a> {
    recorded_at: i64,
    recorded_by: &'a str,
    purpose: &'a str,
    change_kind: &'a str,
}

#[cfg(test)]
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

#[cfg(test)]
#[derive(Serialize)]
struct PackedIndexRef<'a> {
    category: &'a str,
    #[serde(with = "serde_bytes")]
    hash: &'a [u8],
    unique: bool,
}

#[cfg(test)]
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

#[derive(Serialize)]
struct ProvenanceV2Ref<'a> {
    recorded_at: i64,
    recorded_by: &'a str,
    purpose: &'a str,
    change_kind: WordRef<'a>,
}

#[derive(Serialize)]
struct PackedValueV2Ref<'a> {
    category: WordRef<'a>,
    seq: i64,
    #[serde(with = "serde_bytes")]
    ciphertext: &'a [u8],
    dek_version: u32,
    source_kind: WordRef<'a>,
    source_name: Option<&'a str>,
    provenance: u32,
    /// `recorded_at - obtained_at` (wrapping), microseconds.
    obtained_before: i64,
    verification: Option<&'a str>,
}

#[derive(Serialize)]
struct PackedIndexV2Ref<'a> {
    category: WordRef<'a>,
    #[serde(with = "serde_bytes")]
    hash: &'a [u8],
    unique: bool,
}

#[derive(Serialize)]
struct PackedV2Ref<'a> {
    provenance: Vec<ProvenanceV2Ref<'a>>,
    values: Vec<PackedValueV2Ref<'a>>,
    indexes: Vec<PackedIndexV2Ref<'a>>,
}

#[derive(Deserialize)]
struct ProvenanceV2 {
    recorded_at: i64,
    recorded_by: String,
    purpose: String,
    change_kind: Word,
}

#[derive(Deserialize)]
struct PackedValueV2 {
    category: Word,
    seq: i64,
    #[serde(with = "serde_bytes")]
    ciphertext: Vec<u8>,
    dek_version: u32,
    source_kind: Word,
    source_name: Option<String>,
    provenance: u32,
    obtained_before: i64,
    verification: Option<String>,
}

#[derive(Deserialize)]
struct PackedIndexV2 {
    category: Word,
    #[serde(with = "serde_bytes")]
    hash: Vec<u8>,
    unique: bool,
}

#[derive(Deserialize)]
struct PackedV2 {
    provenance: Vec<ProvenanceV2>,
    values: Vec<PackedValueV2>,
    indexes: Vec<PackedIndexV2>,
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

/// The values in category order (the order [`decode`] returns them in), each with the
/// position of its provenance — recording time, actor, purpose, kind of change — among the
/// distinct ones, which come first, in the order first seen.
fn by_provenance(values: &[ValueRecord]) -> (Vec<&ValueRecord>, Vec<(&ValueRecord, u32)>) {
    let mut origins: Vec<&ValueRecord> = Vec::with_capacity(1);
    let mut sorted: Vec<&ValueRecord> = values.iter().collect();
    sorted.sort_by(|a, b| a.category.cmp(&b.category));
    let placed = sorted
        .into_iter()
        .map(|v| {
            let same = |p: &&ValueRecord| {
                p.recorded_at == v.recorded_at
                    && p.recorded_by == v.recorded_by
                    && p.purpose == v.purpose
                    && p.change_kind == v.change_kind
            };
            let position = origins.iter().position(same).unwrap_or_else(|| {
                origins.push(v);
                origins.len() - 1
            });
            (v, u32::try_from(position).unwrap_or(u32::MAX))
        })
        .collect();
    (origins, placed)
}

/// Room for a packed row of values whose texts (ciphertext, source name, verification) take
/// `texts` bytes each, and `indexes` blind indexes: the texts and about what the rest takes.
fn room(texts: impl ExactSizeIterator<Item = usize>, indexes: usize) -> usize {
    64 + 32 * texts.len() + texts.sum::<usize>() + 48 * indexes
}

/// Pack current values (their `subject_id` and `superseded_at` are implied) and indexes, in
/// format 2. Values are stored in category order, the order [`decode`] returns them in.
pub fn encode(values: &[ValueRecord], indexes: &[BlindIndexRecord]) -> Vec<u8> {
    let (origins, placed) = by_provenance(values);
    let doc = PackedV2Ref {
        provenance: origins
            .iter()
            .map(|p| ProvenanceV2Ref {
                recorded_at: p.recorded_at,
                recorded_by: &p.recorded_by,
                purpose: &p.purpose,
                change_kind: WordRef::of(&p.change_kind),
            })
            .collect(),
        values: placed
            .iter()
            .map(|(v, provenance)| PackedValueV2Ref {
                category: WordRef::of(&v.category),
                seq: v.seq,
                ciphertext: &v.ciphertext,
                dek_version: v.dek_version,
                source_kind: WordRef::of(&v.source_kind),
                source_name: v.source_name.as_deref(),
                provenance: *provenance,
                // The value's provenance has its recording time.
                obtained_before: v.recorded_at.wrapping_sub(v.obtained_at),
                verification: v.verification.as_deref(),
            })
            .collect(),
        indexes: index_refs(indexes),
    };
    let texts = values.iter().map(|v| {
        v.ciphertext.len()
            + v.source_name.as_ref().map_or(0, String::len)
            + v.verification.as_ref().map_or(0, String::len)
    });
    write_v2(&doc, room(texts, indexes.len()))
}

/// [`encode`] of `subject`'s first values, recorded with it (at its `created_at`, by its
/// `created_by`, for `purpose`; seq 1, kind of change `create`, its data-key generation), from
/// borrowed texts: the same bytes as [`encode`] of the same values as [`ValueRecord`]s (a
/// test holds the two to that).
pub fn encode_first(
    subject: &SubjectRecord,
    purpose: &str,
    values: &[FirstValue<'_>],
    indexes: &[BlindIndexRecord],
) -> Vec<u8> {
    let at = subject.created_at;
    let mut sorted: Vec<&FirstValue<'_>> = values.iter().collect();
    sorted.sort_by(|a, b| a.category.cmp(b.category));
    let doc = PackedV2Ref {
        provenance: if values.is_empty() {
            Vec::new()
        } else {
            vec![ProvenanceV2Ref {
                recorded_at: at,
                recorded_by: &subject.created_by,
                purpose,
                change_kind: WordRef::of("create"),
            }]
        },
        values: sorted
            .into_iter()
            .map(|v| PackedValueV2Ref {
                category: WordRef::of(v.category),
                seq: 1,
                ciphertext: v.ciphertext,
                dek_version: subject.dek_version,
                source_kind: WordRef::of(v.source_kind),
                source_name: v.source_name,
                provenance: 0,
                obtained_before: at.wrapping_sub(v.obtained_at),
                verification: v.verification,
            })
            .collect(),
        indexes: index_refs(indexes),
    };
    let texts = values.iter().map(|v| {
        v.ciphertext.len() + v.source_name.map_or(0, str::len) + v.verification.map_or(0, str::len)
    });
    write_v2(&doc, room(texts, indexes.len()))
}

/// The indexes as format 2 packs them.
fn index_refs(indexes: &[BlindIndexRecord]) -> Vec<PackedIndexV2Ref<'_>> {
    indexes
        .iter()
        .map(|i| PackedIndexV2Ref {
            category: WordRef::of(&i.category),
            hash: &i.hash,
            unique: i.unique,
        })
        .collect()
}

/// The format byte, then `doc` in postcard, in a vector of `capacity` bytes to begin with.
fn write_v2(doc: &PackedV2Ref<'_>, capacity: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(capacity);
    out.push(FORMAT_V2);
    // Serialising strings and byte slices into a Vec cannot fail.
    match postcard::to_extend(doc, out) {
        Ok(v) => v,
        Err(_) => vec![FORMAT_V2],
    }
}

/// [`encode`] as format 1 wrote it (rows packed before format 2), for the tests.
#[cfg(test)]
fn encode_v1(values: &[ValueRecord], indexes: &[BlindIndexRecord]) -> Vec<u8> {
    let (origins, placed) = by_provenance(values);
    let doc = PackedV1Ref {
        provenance: origins
            .iter()
            .map(|p| ProvenanceRef {
                recorded_at: p.recorded_at,
                recorded_by: &p.recorded_by,
                purpose: &p.purpose,
                change_kind: &p.change_kind,
            })
            .collect(),
        values: placed
            .iter()
            .map(|(v, provenance)| PackedValueRef {
                category: &v.category,
                seq: v.seq,
                ciphertext: &v.ciphertext,
                dek_version: v.dek_version,
                source_kind: &v.source_kind,
                source_name: v.source_name.as_deref(),
                obtained_at: v.obtained_at,
                provenance: *provenance,
                verification: v.verification.as_deref(),
            })
            .collect(),
        indexes: indexes
            .iter()
            .map(|i| PackedIndexRef {
                category: &i.category,
                hash: &i.hash,
                unique: i.unique,
            })
            .collect(),
    };
    let mut out = vec![FORMAT_V1];
    out = postcard::to_extend(&doc, out).unwrap();
    out
}

/// Unpack what [`encode`] wrote for subject `id` (format 2), or format 1 of a row packed
/// before it.
///
/// # Errors
/// [`StoreError::Database`] when the bytes are not a packed record of a known format.
pub fn decode(id: &SubjectId, bytes: &[u8]) -> Result<Current, StoreError> {
    let (format, body) = bytes.split_first().ok_or_else(malformed)?;
    let (values, indexes) = match *format {
        FORMAT_V2 => decode_v2(id, body)?,
        FORMAT_V1 => decode_v1(id, body)?,
        _ => return Err(malformed()),
    };
    let indexes = indexes
        .into_iter()
        .map(|mut i| {
            // A row packed before migration 0022 keeps the full 32-byte HMAC; the index
            // tables hold its first 16 bytes since.
            i.hash.truncate(INDEX_HASH_LEN);
            i
        })
        .collect();
    Ok(Current { values, indexes })
}

type Unpacked = (Vec<ValueRecord>, Vec<BlindIndexRecord>);

fn decode_v2(id: &SubjectId, body: &[u8]) -> Result<Unpacked, StoreError> {
    let doc: PackedV2 = postcard::from_bytes(body).map_err(|_| malformed())?;
    let mut provenance = Vec::with_capacity(doc.provenance.len());
    for p in doc.provenance {
        provenance.push(Provenance {
            recorded_at: p.recorded_at,
            recorded_by: p.recorded_by,
            purpose: p.purpose,
            change_kind: p.change_kind.into_text()?,
        });
    }
    let mut values = Vec::with_capacity(doc.values.len());
    for v in doc.values {
        let p = usize::try_from(v.provenance)
            .ok()
            .and_then(|i| provenance.get(i))
            .ok_or_else(malformed)?;
        values.push(ValueRecord {
            subject_id: *id,
            category: v.category.into_text()?,
            seq: v.seq,
            ciphertext: v.ciphertext,
            dek_version: v.dek_version,
            source_kind: v.source_kind.into_text()?,
            source_name: v.source_name,
            obtained_at: p.recorded_at.wrapping_sub(v.obtained_before),
            recorded_at: p.recorded_at,
            recorded_by: p.recorded_by.clone(),
            purpose: p.purpose.clone(),
            verification: v.verification,
            superseded_at: None,
            change_kind: p.change_kind.clone(),
        });
    }
    let mut indexes = Vec::with_capacity(doc.indexes.len());
    for i in doc.indexes {
        indexes.push(BlindIndexRecord {
            category: i.category.into_text()?,
            hash: i.hash,
            unique: i.unique,
        });
    }
    Ok((values, indexes))
}

fn decode_v1(id: &SubjectId, body: &[u8]) -> Result<Unpacked, StoreError> {
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
        .map(|i| BlindIndexRecord {
            category: i.category,
            hash: i.hash,
            unique: i.unique,
        })
        .collect();
    Ok((values, indexes))
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
            obtained_at: at.wrapping_sub(5),
            recorded_at: at,
            recorded_by: by.into(),
            purpose: "contract".into(),
            verification: None,
            superseded_at: None,
            change_kind: "create".into(),
        }
    }

    /// A drawn word: the listed word at its position in [`WORDS`], or another text.
    fn word((i, other, listed): &(usize, String, bool)) -> String {
        if *listed {
            WORDS[*i].to_string()
        } else {
            other.clone()
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

        /// PRE-2: format 2 stores words of [`WORDS`] by position and other texts in full, and
        /// `obtained_at` relative to the recording time; whatever mix of both is packed, and
        /// whatever the two times (wrapping arithmetic), comes back exactly.
        #[test]
        fn pre2_format_2_round_trips_listed_and_other_words_and_any_times(
            picks in proptest::collection::vec((0usize..WORDS.len(), "[a-z_]{1,20}", any::<bool>()), 1..20),
            kinds in proptest::collection::vec((0usize..WORDS.len(), "[a-z_]{1,12}", any::<bool>()), 20),
            obtained in proptest::collection::vec(any::<i64>(), 20),
            at in any::<i64>(),
            change in (0usize..WORDS.len(), "[a-z]{1,10}", any::<bool>()),
        ) {
            let mut values: Vec<ValueRecord> = Vec::new();
            for (n, pick) in picks.iter().enumerate() {
                let category = word(pick);
                if values.iter().any(|v| v.category == category) {
                    continue;
                }
                let mut v = value(&category, n as i64 + 1, vec![n as u8; 30], at, "system:x");
                v.source_kind = word(&kinds[n]);
                v.obtained_at = obtained[n];
                v.change_kind = word(&change);
                values.push(v);
            }
            let indexes: Vec<BlindIndexRecord> = values
                .iter()
                .map(|v| BlindIndexRecord { category: v.category.clone(), hash: vec![3; INDEX_HASH_LEN], unique: v.seq % 2 == 0 })
                .collect();
            let packed = encode(&values, &indexes);
            prop_assert_eq!(packed[0], FORMAT_V2);
            let back = decode(&[7; 16], &packed).unwrap();
            values.sort_by(|a, b| a.category.cmp(&b.category));
            prop_assert_eq!(back.values, values);
            prop_assert_eq!(back.indexes, indexes);
        }

        /// PRE-2: a new subject's first values packed from borrowed texts
        /// ([`encode_first`], what a create and the bulk load write) are the very bytes
        /// [`encode`] makes of the same values as records — listed words or not, sources
        /// named or not, verified or not, in any order given — and read back as those records.
        #[test]
        fn pre2_first_values_pack_as_their_records_do(
            picks in proptest::collection::vec((0usize..WORDS.len(), "[a-z_]{1,20}", any::<bool>()), 0..20),
            kinds in proptest::collection::vec((0usize..WORDS.len(), "[a-z_]{1,12}", any::<bool>()), 20),
            names in proptest::collection::vec(proptest::option::of("[A-Za-z ]{1,30}"), 20),
            checks in proptest::collection::vec(proptest::option::of("\\{[a-z:\"]{0,30}\\}"), 20),
            cts in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..80), 20),
            obtained in proptest::collection::vec(any::<i64>(), 20),
            at in any::<i64>(),
            by in "[a-z:0-9-]{1,40}",
            purpose in "[a-z_]{1,24}",
            dek_version in 1u32..5,
        ) {
            let mut records: Vec<ValueRecord> = Vec::new();
            for (n, pick) in picks.iter().enumerate() {
                let category = word(pick);
                if records.iter().any(|v| v.category == category) {
                    continue;
                }
                let mut v = value(&category, 1, cts[n].clone(), at, &by);
                v.purpose = purpose.clone();
                v.dek_version = dek_version;
                v.source_kind = word(&kinds[n]);
                v.source_name = names[n].clone();
                v.verification = checks[n].clone();
                v.obtained_at = obtained[n];
                records.push(v);
            }
            let firsts: Vec<FirstValue<'_>> = records
                .iter()
                .map(|v| FirstValue {
                    category: &v.category,
                    ciphertext: &v.ciphertext,
                    source_kind: &v.source_kind,
                    source_name: v.source_name.as_deref(),
                    obtained_at: v.obtained_at,
                    verification: v.verification.as_deref(),
                })
                .collect();
            let indexes: Vec<BlindIndexRecord> = records
                .iter()
                .take(4)
                .map(|v| BlindIndexRecord { category: v.category.clone(), hash: vec![3; INDEX_HASH_LEN], unique: v.category.len() % 2 == 0 })
                .collect();
            let subject = SubjectRecord {
                id: [7; 16],
                created_at: at,
                created_by: by.clone(),
                kek_version: 1,
                wrapped_dek: Vec::new(),
                dek_version,
                status: "active".into(),
            };
            let packed = encode_first(&subject, &purpose, &firsts, &indexes);
            prop_assert_eq!(&packed, &encode(&records, &indexes));
            let back = decode(&[7; 16], &packed).unwrap();
            records.sort_by(|a, b| a.category.cmp(&b.category));
            prop_assert_eq!(back.values, records);
            prop_assert_eq!(back.indexes, indexes);
        }

        /// PRE-2: rows packed in format 1, before format 2, read back as they were written.
        #[test]
        fn pre2_rows_packed_in_format_1_still_read(
            cats in proptest::collection::vec("[a-z_]{1,20}", 0..16),
            at in any::<i64>(),
            obtained in any::<i64>(),
        ) {
            let values: Vec<ValueRecord> = cats
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let mut v = value(c, i as i64 + 1, vec![i as u8; 20], at, "employee:e1");
                    v.obtained_at = obtained;
                    v
                })
                .collect();
            let indexes = vec![BlindIndexRecord { category: "email".into(), hash: vec![5; INDEX_HASH_LEN], unique: false }];
            let old = encode_v1(&values, &indexes);
            prop_assert_eq!(old[0], FORMAT_V1);
            let back = decode(&[7; 16], &old).unwrap();
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
        let back = decode(&[7; 16], &encode_v1(&[], &old)).unwrap();
        assert_eq!(back.indexes[0].hash, full[..INDEX_HASH_LEN]);
    }

    #[test]
    fn unknown_format_is_refused() {
        let mut packed = encode(&[value("iin", 1, vec![1, 2], 5, "x")], &[]);
        packed[0] = 0x03;
        assert!(decode(&[7; 16], &packed).is_err());
        assert!(decode(&[7; 16], &[]).is_err());
    }

    /// A word's position in [`WORDS`] is what rows on disk hold: the list as format 2 shipped
    /// it must stay its beginning (words are only ever appended).
    #[test]
    fn pre2_words_keep_their_positions() {
        // Format 2's list as it shipped, frozen: never edit this line, only append to WORDS.
        const SHIPPED: &str = "full_name birth_date email mobile_phone home_phone work_phone registration_address residence_address iin employer marital_status property_type bank_account salary_amount salary_day solvency_info id_document ip_address cookie_id user_agent visited_page isp_domain visit_time subject employee credit_bureau pension_centre other_organisation automatic create correct supplement";
        let shipped: Vec<&str> = SHIPPED.split(' ').collect();
        assert!(WORDS.starts_with(&shipped));
        assert!(WORDS.len() <= 256);
        let mut seen = std::collections::HashSet::new();
        assert!(
            WORDS.iter().all(|w| seen.insert(*w)),
            "a word is listed twice"
        );
    }

    /// A position past the end of [`WORDS`] is a malformed row, not a panic or a wrong word.
    #[test]
    fn a_word_position_past_the_list_is_refused() {
        let row = |word: u8| {
            let doc = PackedV2Ref {
                provenance: vec![ProvenanceV2Ref {
                    recorded_at: 5,
                    recorded_by: "x",
                    purpose: "contract",
                    change_kind: WordRef::Known(29),
                }],
                values: vec![PackedValueV2Ref {
                    category: WordRef::Known(word),
                    seq: 1,
                    ciphertext: &[1, 2],
                    dek_version: 1,
                    source_kind: WordRef::Text("subject"),
                    source_name: None,
                    provenance: 0,
                    obtained_before: 0,
                    verification: None,
                }],
                indexes: vec![],
            };
            postcard::to_extend(&doc, vec![FORMAT_V2]).unwrap()
        };
        let listed = u8::try_from(WORDS.len() - 1).unwrap();
        let back = decode(&[7; 16], &row(listed)).unwrap();
        assert_eq!(back.values[0].category, WORDS[WORDS.len() - 1]);
        assert_eq!(back.values[0].source_kind, "subject");
        assert!(decode(&[7; 16], &row(listed + 1)).is_err());
        assert!(decode(&[7; 16], &row(u8::MAX)).is_err());
    }

    /// The bytes of both formats, pinned: rows on disk keep these layouts whatever the structs
    /// above become. Format 1 is what the versions before format 2 wrote (the `…Ref` structs
    /// of format 1 are theirs, unchanged); format 2 what [`encode`] writes.
    #[test]
    fn pre2_both_formats_decode_from_pinned_bytes() {
        let at = 1_790_000_000_000_000;
        let mut iin = value("iin", 1, vec![0xAA; 3], at, "api_key:k");
        iin.obtained_at = at - 1_000_000;
        let mut custom = value("pet_name", 2, vec![0xBB; 2], at, "api_key:k");
        custom.source_kind = "credit_bureau".into();
        custom.source_name = Some("ПКБ".into());
        custom.verification = Some("{}".into());
        let values = vec![iin, custom];
        let indexes = vec![BlindIndexRecord {
            category: "iin".into(),
            hash: vec![0xCC; INDEX_HASH_LEN],
            unique: true,
        }];
        const V1: &str = "01018080afa2dbffad06096170695f6b65793a6b08636f6e747261637406637265617465020369696e0203aaaaaa01077375626a6563740080f7b4a1dbffad060000087065745f6e616d650402bbbb010d6372656469745f6275726561750106d09fd09ad091f6ffaea2dbffad060001027b7d010369696e10cccccccccccccccccccccccccccccccc01";
        const V2: &str = "02018080afa2dbffad06096170695f6b65793a6b08636f6e7472616374001d0200080203aaaaaa010017000080897a0001087065745f6e616d650402bbbb0100190106d09fd09ad091000a01027b7d01000810cccccccccccccccccccccccccccccccc01";
        let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        let v1 = encode_v1(&values, &indexes);
        let v2 = encode(&values, &indexes);
        assert_eq!(hex(&v1), V1);
        assert_eq!(hex(&v2), V2);
        let mut sorted = values.clone();
        sorted.sort_by(|a, b| a.category.cmp(&b.category));
        for bytes in [v1, v2] {
            let back = decode(&[7; 16], &bytes).unwrap();
            assert_eq!(back.values, sorted);
            assert_eq!(back.indexes, indexes);
        }
    }

    /// What format 2 saves on a subject like the demo's: 15 values recorded in one call, four
    /// of them indexed. Format 1 spelled out every category and source and stored absolute
    /// times.
    #[test]
    fn pre2_format_2_packs_a_typical_subject_at_least_300_bytes_smaller() {
        let at = 1_790_000_000_000_000;
        let values: Vec<ValueRecord> = WORDS[..15]
            .iter()
            .map(|c| {
                let mut v = value(
                    c,
                    1,
                    vec![0; 60],
                    at,
                    "api_key:0192f0c4-1111-7222-8333-444455556666",
                );
                v.obtained_at = at;
                v
            })
            .collect();
        let indexes: Vec<BlindIndexRecord> = ["iin", "mobile_phone", "email", "bank_account"]
            .iter()
            .map(|c| BlindIndexRecord {
                category: (*c).into(),
                hash: vec![1; INDEX_HASH_LEN],
                unique: true,
            })
            .collect();
        let (v1, v2) = (
            encode_v1(&values, &indexes).len(),
            encode(&values, &indexes).len(),
        );
        assert!(v1 >= v2 + 300, "format 1: {v1} bytes, format 2: {v2}");
    }
}
