//! One audit record ([`Entry`]), its canonical binary encoding and its place in the hash
//! chain.
//!
//! Responsibilities:
//!
//! - [`Action`] (an open, `String`-backed set of snake_case codes with known constants) and
//!   [`Outcome`].
//! - [`EntryFields`]: what the caller supplies; [`EntryFields::validate`] keeps every field a
//!   short ASCII code (no spaces, no control characters, no Cyrillic), so free-text personal
//!   data such as a name or an address cannot be written into the log by mistake
//!   (clause 4.1–4.2: entries carry pseudonyms and codes, never plaintext values).
//! - [`Entry`]: a record with its `seq`, `prev_hash` and `hash`;
//!   [`Entry::canonical_bytes`] is the unambiguous encoding documented in `PROOFS.md`, and
//!   `hash = SHA-256("derbes/audit/entry/v1" || prev_hash || canonical_bytes)` chains each
//!   entry to the one before it (clause 8.1, L-PROTECTION).

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::b64;
use crate::error::EntryError;

/// Domain-separation prefix of the entry hash.
pub const ENTRY_HASH_DOMAIN: &[u8] = b"derbes/audit/entry/v1";

/// First byte of [`Entry::canonical_bytes`]: the encoding version.
pub const ENTRY_ENCODING_VERSION: u8 = 1;

/// `prev_hash` of the first entry (seq 0): 32 zero bytes.
pub const GENESIS_PREV_HASH: [u8; 32] = [0u8; 32];

/// Longest accepted text field, in bytes.
pub const MAX_FIELD_LEN: usize = 256;

/// Longest accepted `detail`, in bytes.
pub const MAX_DETAIL_LEN: usize = 1024;

/// Most categories one entry may name.
pub const MAX_CATEGORIES: usize = 64;

/// What was done. An open set: the constants below are the known actions, and
/// [`Action::new`] accepts any other snake_case code (`[a-z0-9_]`, starting with a letter).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Action(Cow<'static, str>);

macro_rules! actions {
    ($($(#[$doc:meta])* $name:ident = $code:literal;)*) => {
        impl Action {
            $($(#[$doc])* pub const $name: Action = Action(Cow::Borrowed($code));)*

            /// Every known action, in declaration order.
            pub const KNOWN: &'static [Action] = &[$(Action::$name),*];
        }
    };
}

actions! {
    /// Personal data was read (the entry's `categories` say which).
    READ = "read";
    /// A search over personal data (by blind index, filter, …).
    SEARCH = "search";
    /// A subject or a value was created.
    CREATE = "create";
    /// A value was corrected.
    CORRECT = "correct";
    /// A value was supplemented.
    SUPPLEMENT = "supplement";
    /// A value was verified against a source.
    VERIFY = "verify";
    /// Data left the vault (export file, subject download).
    EXPORT = "export";
    /// Data was transferred to a registered third party.
    TRANSFER = "transfer";
    /// Processing was blocked.
    BLOCK = "block";
    /// Processing was unblocked.
    UNBLOCK = "unblock";
    /// A subject's data was destroyed (crypto-shredded).
    DESTROY = "destroy";
    /// A subject's data was depersonalised.
    DEPERSONALISE = "depersonalise";
    /// Consent was given.
    CONSENT_GRANT = "consent_grant";
    /// Consent was withdrawn.
    CONSENT_WITHDRAW = "consent_withdraw";
    /// A successful login.
    LOGIN = "login";
    /// A failed login.
    LOGIN_FAILED = "login_failed";
    /// A logout or session end.
    LOGOUT = "logout";
    /// A login or client address was locked after repeated failures.
    LOCKOUT = "lockout";
    /// An employee account was created.
    EMPLOYEE_CREATE = "employee_create";
    /// An employee account was disabled, suspended or re-activated (`detail`: the status).
    EMPLOYEE_STATUS = "employee_status";
    /// An administrator lifted a login lockout.
    EMPLOYEE_UNLOCK = "employee_unlock";
    /// An employee's TOTP second factor was (re-)enrolled.
    TOTP_ENROLL = "totp_enroll";
    /// A confidentiality undertaking was recorded (clause 4.3).
    UNDERTAKING = "undertaking";
    /// A staff-training acknowledgement was recorded (clause 5.4).
    TRAINING = "training";
    /// The processing policy (or a policy version) changed.
    POLICY_CHANGE = "policy_change";
    /// A role, permission or employee undertaking changed.
    ROLE_CHANGE = "role_change";
    /// A key was rotated.
    KEY_ROTATE = "key_rotate";
    /// A request was denied by policy.
    DENIED = "denied";
    /// An incident was raised or changed state.
    INCIDENT = "incident";
    /// A backup was taken or restored.
    BACKUP = "backup";
    /// A checkpoint of this log was signed.
    CHECKPOINT = "checkpoint";
    /// The log itself was verified.
    AUDIT_VERIFY = "audit_verify";
}

impl Action {
    /// An action code: 1..=64 bytes of `[a-z0-9_]`, starting with a letter.
    pub fn new(code: impl Into<String>) -> Result<Action, EntryError> {
        let code = code.into();
        let ok = !code.is_empty()
            && code.len() <= 64
            && code.as_bytes()[0].is_ascii_lowercase()
            && code
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !ok {
            return Err(EntryError::InvalidField { field: "action" });
        }
        Ok(Action::KNOWN
            .iter()
            .find(|a| a.as_str() == code)
            .cloned()
            .unwrap_or(Action(Cow::Owned(code))))
    }

    /// An action exactly as stored, without validation: for loading existing rows, whose
    /// integrity the hash chain decides.
    pub fn from_stored(code: impl Into<String>) -> Action {
        Action(Cow::Owned(code.into()))
    }

    /// The snake_case code.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is one of [`Action::KNOWN`].
    pub fn is_known(&self) -> bool {
        Action::KNOWN.iter().any(|a| a.as_str() == self.as_str())
    }
}

impl fmt::Debug for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Action({})", self.as_str())
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How the action ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Done, as allowed by the rule named in the entry.
    Allowed,
    /// Refused by the rule named in the entry.
    Denied,
    /// Failed for a technical reason (`detail` holds the error code).
    Error,
}

impl Outcome {
    /// `allowed`, `denied` or `error` (also the bytes in the canonical encoding).
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Allowed => "allowed",
            Outcome::Denied => "denied",
            Outcome::Error => "error",
        }
    }

    /// Parses [`Outcome::as_str`].
    pub fn parse(s: &str) -> Option<Outcome> {
        match s {
            "allowed" => Some(Outcome::Allowed),
            "denied" => Some(Outcome::Denied),
            "error" => Some(Outcome::Error),
            _ => None,
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The caller-supplied part of an entry; [`Entry::new_next`] adds `seq`, `prev_hash` and
/// `hash`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryFields {
    /// When, in microseconds since the Unix epoch (UTC).
    pub at: i64,
    /// Who: `employee:<id>`, `api_key:<id>`, `subject:<pseudonym>`, `system:<name>`.
    pub actor: String,
    /// What.
    pub action: Action,
    /// Whose data: the subject's pseudonymous id only.
    pub subject: Option<String>,
    /// The purpose code the action was done for.
    pub purpose: Option<String>,
    /// The personal-data category codes touched (sorted and de-duplicated on append).
    pub categories: Vec<String>,
    /// The rule (policy clause, role permission) that allowed or denied the action.
    pub rule: Option<String>,
    /// How it ended.
    pub outcome: Outcome,
    /// Further codes (error code, export id, count); never values.
    pub detail: Option<String>,
}

/// Checks one text field: non-empty, at most `max` bytes, printable ASCII without spaces.
fn check_code(field: &'static str, value: &str, max: usize) -> Result<(), EntryError> {
    if value.is_empty() || value.len() > max || !value.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(EntryError::InvalidField { field });
    }
    Ok(())
}

impl EntryFields {
    /// A minimal set of fields: no subject, purpose, categories, rule or detail.
    pub fn new(at: i64, actor: impl Into<String>, action: Action, outcome: Outcome) -> Self {
        EntryFields {
            at,
            actor: actor.into(),
            action,
            subject: None,
            purpose: None,
            categories: Vec::new(),
            rule: None,
            outcome,
            detail: None,
        }
    }

    /// Checks every field is a short code: 1..=256 bytes (`detail`: 1024) of printable ASCII
    /// without spaces; the action is a valid [`Action`] code; at most 64 categories.
    pub fn validate(&self) -> Result<(), EntryError> {
        check_code("actor", &self.actor, MAX_FIELD_LEN)?;
        Action::new(self.action.as_str())?;
        if let Some(s) = &self.subject {
            check_code("subject", s, MAX_FIELD_LEN)?;
        }
        if let Some(p) = &self.purpose {
            check_code("purpose", p, MAX_FIELD_LEN)?;
        }
        if self.categories.len() > MAX_CATEGORIES {
            return Err(EntryError::InvalidField {
                field: "categories",
            });
        }
        for c in &self.categories {
            check_code("categories", c, MAX_FIELD_LEN)?;
        }
        if let Some(r) = &self.rule {
            check_code("rule", r, MAX_FIELD_LEN)?;
        }
        if let Some(d) = &self.detail {
            check_code("detail", d, MAX_DETAIL_LEN)?;
        }
        Ok(())
    }
}

/// One audit record, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Position in the log: 0-based and dense.
    pub seq: u64,
    /// When, in microseconds since the Unix epoch (UTC).
    pub at: i64,
    /// Who.
    pub actor: String,
    /// What.
    pub action: Action,
    /// Whose data (pseudonymous id).
    pub subject: Option<String>,
    /// For which purpose.
    pub purpose: Option<String>,
    /// Which categories.
    pub categories: Vec<String>,
    /// Which rule decided.
    pub rule: Option<String>,
    /// How it ended.
    pub outcome: Outcome,
    /// Further codes.
    pub detail: Option<String>,
    /// `hash` of the entry before (32 zero bytes for seq 0).
    #[serde(with = "b64::fixed")]
    pub prev_hash: [u8; 32],
    /// `SHA-256("derbes/audit/entry/v1" || prev_hash || canonical_bytes)`.
    #[serde(with = "b64::fixed")]
    pub hash: [u8; 32],
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    // Fields are limited to MAX_DETAIL_LEN bytes by `EntryFields::validate`; a stored field
    // longer than u32::MAX bytes cannot exist, so saturating here never merges two encodings
    // of valid entries.
    let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(bytes);
}

fn put_opt(out: &mut Vec<u8>, value: Option<&str>) {
    match value {
        None => out.push(0),
        Some(v) => {
            out.push(1);
            put_bytes(out, v.as_bytes());
        }
    }
}

impl Entry {
    /// The next entry after `prev` (`None`: the first entry, seq 0): validates `fields`,
    /// sorts and de-duplicates the categories, and computes `seq`, `prev_hash` and `hash`.
    pub fn new_next(prev: Option<&Entry>, fields: EntryFields) -> Result<Entry, EntryError> {
        Entry::new_after(prev.map(|p| (p.seq, p.hash)), fields)
    }

    /// [`Entry::new_next`] from the previous entry's sequence number and hash alone (what a
    /// log's head keeps).
    pub fn new_after(
        prev: Option<(u64, [u8; 32])>,
        fields: EntryFields,
    ) -> Result<Entry, EntryError> {
        fields.validate()?;
        let (seq, prev_hash) = match prev {
            None => (0, GENESIS_PREV_HASH),
            Some((seq, hash)) => (seq.checked_add(1).ok_or(EntryError::SeqOverflow)?, hash),
        };
        let mut categories = fields.categories;
        categories.sort_unstable();
        categories.dedup();
        let mut entry = Entry {
            seq,
            at: fields.at,
            actor: fields.actor,
            action: fields.action,
            subject: fields.subject,
            purpose: fields.purpose,
            categories,
            rule: fields.rule,
            outcome: fields.outcome,
            detail: fields.detail,
            prev_hash,
            hash: [0u8; 32],
        };
        entry.hash = entry.compute_hash();
        Ok(entry)
    }

    /// The caller-supplied fields of this entry.
    pub fn fields(&self) -> EntryFields {
        EntryFields {
            at: self.at,
            actor: self.actor.clone(),
            action: self.action.clone(),
            subject: self.subject.clone(),
            purpose: self.purpose.clone(),
            categories: self.categories.clone(),
            rule: self.rule.clone(),
            outcome: self.outcome,
            detail: self.detail.clone(),
        }
    }

    /// Appends the canonical encoding (see `PROOFS.md`) to `out`:
    ///
    /// ```text
    /// u8 version (=1) | u64 seq | i64 at | str actor | str action | opt subject
    /// | opt purpose | u32 n, n × str categories | opt rule | str outcome | opt detail
    /// ```
    ///
    /// Integers are big-endian; `str` is a u32 byte length then UTF-8 bytes; `opt` is a byte
    /// 0 (absent) or 1 followed by a `str`. `prev_hash` and `hash` are not part of it.
    pub fn write_canonical(&self, out: &mut Vec<u8>) {
        out.push(ENTRY_ENCODING_VERSION);
        out.extend_from_slice(&self.seq.to_be_bytes());
        out.extend_from_slice(&self.at.to_be_bytes());
        put_bytes(out, self.actor.as_bytes());
        put_bytes(out, self.action.as_str().as_bytes());
        put_opt(out, self.subject.as_deref());
        put_opt(out, self.purpose.as_deref());
        let n = u32::try_from(self.categories.len()).unwrap_or(u32::MAX);
        out.extend_from_slice(&n.to_be_bytes());
        for c in &self.categories {
            put_bytes(out, c.as_bytes());
        }
        put_opt(out, self.rule.as_deref());
        put_bytes(out, self.outcome.as_str().as_bytes());
        put_opt(out, self.detail.as_deref());
    }

    /// The canonical encoding as a new vector (see [`Entry::write_canonical`]).
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(128);
        self.write_canonical(&mut out);
        out
    }

    /// Appends the exact SHA-256 input of the entry hash to `out`:
    /// `"derbes/audit/entry/v1" || prev_hash || canonical_bytes`.
    pub fn write_hash_input(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(ENTRY_HASH_DOMAIN);
        out.extend_from_slice(&self.prev_hash);
        self.write_canonical(out);
    }

    /// Recomputes the hash from the fields and `prev_hash` (ignores the stored `hash`).
    pub fn compute_hash(&self) -> [u8; 32] {
        let mut buf = Vec::with_capacity(192);
        self.compute_hash_with(&mut buf)
    }

    /// [`Entry::compute_hash`] reusing `buf` as scratch space (cleared first).
    pub fn compute_hash_with(&self, buf: &mut Vec<u8>) -> [u8; 32] {
        buf.clear();
        self.write_hash_input(buf);
        Sha256::digest(buf.as_slice()).into()
    }

    /// Whether the stored `hash` matches the fields and `prev_hash`.
    pub fn hash_is_valid(&self) -> bool {
        self.compute_hash() == self.hash
    }

    /// The Merkle leaf hash of this entry: `SHA-256(0x00 || hash)`.
    pub fn leaf_hash(&self) -> [u8; 32] {
        crate::merkle::leaf_hash(&self.hash)
    }
}
