-- derbes vault schema, SQLite. Instants are INTEGER microseconds since the Unix epoch (UTC).
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- A data subject (borrower). The id is a UUIDv7 (time-ordered) and is the subject's pseudonym.
-- The subject's data key is stored only wrapped by a master key that is never in the database.
-- `vals` holds the subject's CURRENT values, packed (see crates/store/src/packed.rs): each value
-- is its own AES-256-GCM ciphertext with its provenance (source, times, actor, purpose, version,
-- verification) beside it. One row per subject keeps a read to one row; earlier versions of a
-- value move to `value_history` when it is corrected (2.2: never a silent overwrite).
CREATE TABLE subjects (
    id          BLOB NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL,
    created_by  TEXT NOT NULL,
    kek_version INTEGER NOT NULL,
    wrapped_dek BLOB NOT NULL,
    dek_version INTEGER NOT NULL,
    status      TEXT NOT NULL DEFAULT 'active',
    vals        BLOB NOT NULL
);

-- Superseded versions of values, one row each (the current version is in subjects.vals).
CREATE TABLE value_history (
    subject_id    BLOB NOT NULL REFERENCES subjects(id),
    category      TEXT NOT NULL,
    seq           INTEGER NOT NULL,
    ciphertext    BLOB NOT NULL,
    dek_version   INTEGER NOT NULL,
    source_kind   TEXT NOT NULL,
    source_name   TEXT,
    obtained_at   INTEGER NOT NULL,
    recorded_at   INTEGER NOT NULL,
    recorded_by   TEXT NOT NULL,
    purpose       TEXT NOT NULL,
    verification  TEXT,
    superseded_at INTEGER NOT NULL,
    change_kind   TEXT NOT NULL,
    PRIMARY KEY (subject_id, category, seq)
) WITHOUT ROWID;

-- Blind indexes: HMAC of the normalised current value of a searchable category. Categories
-- whose value at most one subject may hold (IIN, mobile phone) are keyed by the hash alone, so
-- the primary key is the uniqueness check; the others (e-mail, IBAN) may be shared.
CREATE TABLE unique_index (
    category   TEXT NOT NULL,
    hash       BLOB NOT NULL,
    subject_id BLOB NOT NULL REFERENCES subjects(id),
    PRIMARY KEY (category, hash)
) WITHOUT ROWID;

CREATE TABLE shared_index (
    category   TEXT NOT NULL,
    hash       BLOB NOT NULL,
    subject_id BLOB NOT NULL REFERENCES subjects(id),
    PRIMARY KEY (category, hash, subject_id)
) WITHOUT ROWID;

-- API keys of the lender's systems: only a SHA-256 of the 256-bit random token is kept.
CREATE TABLE api_keys (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    key_hash   BLOB NOT NULL UNIQUE,
    purposes   TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);
