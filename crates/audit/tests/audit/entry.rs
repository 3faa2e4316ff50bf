//! Entries: validation (codes and pseudonyms only, clause 4.1–4.2), chaining, and the
//! canonical encoding (unambiguous: a decoder recovers every field; pinned by a golden
//! vector that `PROOFS.md` reproduces).

use derbes_audit::{Action, Entry, EntryError, EntryFields, Outcome, GENESIS_PREV_HASH};
use proptest::prelude::*;

use crate::support::{fields, T0};

fn golden() -> Entry {
    let mut f = EntryFields::new(T0, "employee:42", Action::READ, Outcome::Allowed);
    f.subject = Some("sp_7f3a".into());
    f.purpose = Some("credit_scoring".into());
    f.categories = vec!["phone".into(), "iin".into(), "phone".into()];
    f.rule = Some("role:underwriter".into());
    Entry::new_next(None, f).unwrap()
}

#[test]
fn l_protection_entry_chain_links_each_entry_to_the_one_before() {
    let a = Entry::new_next(None, fields(0)).unwrap();
    let b = Entry::new_next(Some(&a), fields(1)).unwrap();
    assert_eq!((a.seq, a.prev_hash), (0, GENESIS_PREV_HASH));
    assert_eq!((b.seq, b.prev_hash), (1, a.hash));
    assert!(a.hash_is_valid() && b.hash_is_valid());
    assert_ne!(a.hash, b.hash);
    assert_eq!(b.fields(), {
        let mut f = fields(1);
        f.categories.sort();
        f
    });
}

#[test]
fn c8_1_golden_entry_encoding_and_hash() {
    let e = golden();
    // Categories are sorted and de-duplicated on append.
    assert_eq!(e.categories, ["iin", "phone"]);
    assert_eq!(
        hex::encode(e.canonical_bytes()),
        concat!(
            "01",               // version
            "0000000000000000", // seq 0
            "0006474846204000", // at
            "0000000b",
            "656d706c6f7965653a3432", // actor "employee:42"
            "00000004",
            "72656164", // action "read"
            "01",
            "00000007",
            "73705f37663361", // subject "sp_7f3a"
            "01",
            "0000000e",
            "6372656469745f73636f72696e67", // purpose
            "00000002",                     // 2 categories
            "00000003",
            "69696e", // "iin"
            "00000005",
            "70686f6e65", // "phone"
            "01",
            "00000010",
            "726f6c653a756e646572777269746572", // rule
            "00000007",
            "616c6c6f776564", // outcome "allowed"
            "00",             // no detail
        )
    );
    assert_eq!(hex::encode(e.hash), GOLDEN_HASH);
}

/// Also printed in `PROOFS.md`; the Python verifier there reproduces it.
const GOLDEN_HASH: &str = "0525793af238f3d36bc6b1ae5d665f7a4c4894aba9dc0b3952997d370e829193";

#[test]
fn c4_1_plaintext_like_values_are_rejected() {
    let ok = fields(3);
    assert!(ok.validate().is_ok());
    type Change = fn(&mut EntryFields);
    let bad: Vec<(&str, Change)> = vec![
        ("actor", |f| f.actor = "Иван Петров".into()),
        ("actor", |f| f.actor = String::new()),
        ("actor", |f| f.actor = "a".repeat(257)),
        ("subject", |f| f.subject = Some("Ivan Petrov".into())),
        ("subject", |f| f.subject = Some(String::new())),
        ("purpose", |f| f.purpose = Some("line\nbreak".into())),
        ("categories", |f| {
            f.categories = vec!["ok".into(), "full name".into()]
        }),
        ("categories", |f| {
            f.categories = (0..65).map(|i| format!("c{i}")).collect()
        }),
        ("rule", |f| f.rule = Some("tab\there".into())),
        ("detail", |f| f.detail = Some("Алматы, ул. Абая 1".into())),
        ("detail", |f| f.detail = Some("x".repeat(1025))),
        ("action", |f| f.action = Action::from_stored("Read")),
    ];
    for (field, change) in bad {
        let mut f = ok.clone();
        change(&mut f);
        let err = Entry::new_next(None, f).unwrap_err();
        assert_eq!(err, EntryError::InvalidField { field }, "{field}");
        assert_eq!(err.code(), "audit.entry.invalid_field");
        assert!(!err.to_string().contains("Ivan"));
    }
    let mut f = ok.clone();
    f.detail = Some("x".repeat(1024));
    assert!(f.validate().is_ok());
}

#[test]
fn c8_1_actions_are_an_open_set_of_snake_case_codes() {
    assert_eq!(
        Action::new("consent_withdraw").unwrap(),
        Action::CONSENT_WITHDRAW
    );
    assert!(Action::new("consent_withdraw").unwrap().is_known());
    let custom = Action::new("biometric_match").unwrap();
    assert!(!custom.is_known());
    assert_eq!(custom.as_str(), "biometric_match");
    for bad in ["", "Read", "1read", "read-all", "read all", &"a".repeat(65)] {
        assert!(Action::new(bad).is_err(), "{bad}");
    }
    let codes: std::collections::HashSet<_> = Action::KNOWN.iter().map(Action::as_str).collect();
    assert_eq!(codes.len(), Action::KNOWN.len());
    for a in Action::KNOWN {
        assert_eq!(Action::new(a.as_str()).as_ref(), Ok(a));
    }
}

#[test]
fn c8_1_entry_json_round_trips() {
    let e = golden();
    let json = serde_json::to_value(&e).unwrap();
    assert_eq!(json["action"], "read");
    assert_eq!(json["outcome"], "allowed");
    assert_eq!(json["detail"], serde_json::Value::Null);
    assert_eq!(
        json["prev_hash"],
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
    );
    let back: Entry = serde_json::from_value(json).unwrap();
    assert_eq!(back, e);
    assert_eq!(Outcome::parse("denied"), Some(Outcome::Denied));
    assert_eq!(Outcome::parse("maybe"), None);
}

// ---- unambiguity: the canonical encoding decodes back to the same fields ----

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        if self.0.len() < n {
            return None;
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Some(a)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }
    fn u32(&mut self) -> Option<u32> {
        self.take(4)
            .map(|b| u32::from_be_bytes(b.try_into().unwrap()))
    }
    fn u64(&mut self) -> Option<u64> {
        self.take(8)
            .map(|b| u64::from_be_bytes(b.try_into().unwrap()))
    }
    fn str(&mut self) -> Option<String> {
        let n = self.u32()? as usize;
        String::from_utf8(self.take(n)?.to_vec()).ok()
    }
    fn opt(&mut self) -> Option<Option<String>> {
        match self.u8()? {
            0 => Some(None),
            1 => Some(Some(self.str()?)),
            _ => None,
        }
    }
}

fn decode(bytes: &[u8]) -> Option<(u64, EntryFields)> {
    let mut r = Reader(bytes);
    if r.u8()? != 1 {
        return None;
    }
    let seq = r.u64()?;
    let at = r.u64()? as i64;
    let actor = r.str()?;
    let action = Action::from_stored(r.str()?);
    let subject = r.opt()?;
    let purpose = r.opt()?;
    let n = r.u32()?;
    let categories = (0..n).map(|_| r.str()).collect::<Option<Vec<_>>>()?;
    let rule = r.opt()?;
    let outcome = Outcome::parse(&r.str()?)?;
    let detail = r.opt()?;
    r.0.is_empty().then_some((
        seq,
        EntryFields {
            at,
            actor,
            action,
            subject,
            purpose,
            categories,
            rule,
            outcome,
            detail,
        },
    ))
}

fn code() -> impl Strategy<Value = String> {
    "[a-z0-9:_./=-]{1,20}"
}

fn arb_fields() -> impl Strategy<Value = EntryFields> {
    (
        any::<i64>(),
        code(),
        prop::sample::select(Action::KNOWN.to_vec()),
        prop::option::of(code()),
        prop::option::of(code()),
        prop::collection::vec(code(), 0..5),
        prop::option::of(code()),
        prop::sample::select(vec![Outcome::Allowed, Outcome::Denied, Outcome::Error]),
        prop::option::of(code()),
    )
        .prop_map(
            |(at, actor, action, subject, purpose, categories, rule, outcome, detail)| {
                EntryFields {
                    at,
                    actor,
                    action,
                    subject,
                    purpose,
                    categories,
                    rule,
                    outcome,
                    detail,
                }
            },
        )
}

proptest! {
    #[test]
    fn c8_1_canonical_encoding_is_unambiguous(f in arb_fields(), seq in any::<u64>()) {
        let mut e = Entry::new_next(None, f).unwrap();
        e.seq = seq;
        let (dseq, df) = decode(&e.canonical_bytes()).expect("decodes");
        prop_assert_eq!(dseq, seq);
        prop_assert_eq!(df, e.fields());
    }

    #[test]
    fn c8_1_distinct_fields_give_distinct_hashes(a in arb_fields(), b in arb_fields()) {
        let ea = Entry::new_next(None, a).unwrap();
        let eb = Entry::new_next(None, b).unwrap();
        prop_assert_eq!(ea.fields() == eb.fields(), ea.hash == eb.hash);
    }
}
