-- derbes vault schema, SQLite. Instants are INTEGER microseconds since the Unix epoch (UTC).
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- A data subject (borrower). The id is a UUIDv7 (time-ordered) and is the subject's pseudonym.
-- The subject's data key is stored only wrapped by a master key that is never in the database.
CREATE TABLE subjects (
    id          BLOB PRIMARY KEY,
    created_at  INTEGER NOT NULL,
    created_by  TEXT NOT NULL,
    kek_version INTEGER NOT NULL,
    wrapped_dek BLOB NOT NULL,
    dek_version INTEGER NOT NULL,
    status      TEXT NOT NULL DEFAULT 'active'
) WITHOUT ROWID;

-- One row per value version. (subject_id, category, seq) clusters a subject's values together;
-- the current value of a category is the row with superseded_at IS NULL.
CREATE TABLE subject_values (
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
    superseded_at INTEGER,
    change_kind   TEXT NOT NULL,
    PRIMARY KEY (subject_id, category, seq)
) WITHOUT ROWID;

-- Blind indexes: HMAC of the normalised current value, one per (subject, searchable category).
CREATE TABLE blind_indexes (
    subject_id BLOB NOT NULL REFERENCES subjects(id),
    category   TEXT NOT NULL,
    hash       BLOB NOT NULL,
    is_unique  INTEGER NOT NULL,
    PRIMARY KEY (subject_id, category)
) WITHOUT ROWID;
CREATE INDEX blind_indexes_hash ON blind_indexes (hash);
CREATE UNIQUE INDEX blind_indexes_unique ON blind_indexes (category, hash) WHERE is_unique = 1;

-- API keys of the lender's systems: only a SHA-256 of the 256-bit random token is kept.
CREATE TABLE api_keys (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    key_hash   BLOB NOT NULL UNIQUE,
    purposes   TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);
