-- derbes vault schema, PostgreSQL. Instants are BIGINT microseconds since the Unix epoch (UTC).
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE subjects (
    id          BYTEA PRIMARY KEY,
    created_at  BIGINT NOT NULL,
    created_by  TEXT NOT NULL,
    kek_version BIGINT NOT NULL,
    wrapped_dek BYTEA NOT NULL,
    dek_version BIGINT NOT NULL,
    status      TEXT NOT NULL DEFAULT 'active'
);

CREATE TABLE subject_values (
    subject_id    BYTEA NOT NULL REFERENCES subjects(id),
    category      TEXT NOT NULL,
    seq           BIGINT NOT NULL,
    ciphertext    BYTEA NOT NULL,
    dek_version   BIGINT NOT NULL,
    source_kind   TEXT NOT NULL,
    source_name   TEXT,
    obtained_at   BIGINT NOT NULL,
    recorded_at   BIGINT NOT NULL,
    recorded_by   TEXT NOT NULL,
    purpose       TEXT NOT NULL,
    verification  TEXT,
    superseded_at BIGINT,
    change_kind   TEXT NOT NULL,
    PRIMARY KEY (subject_id, category, seq)
);

CREATE TABLE blind_indexes (
    subject_id BYTEA NOT NULL REFERENCES subjects(id),
    category   TEXT NOT NULL,
    hash       BYTEA NOT NULL,
    is_unique  BIGINT NOT NULL,
    PRIMARY KEY (subject_id, category)
);
CREATE INDEX blind_indexes_hash ON blind_indexes (hash);
CREATE UNIQUE INDEX blind_indexes_unique ON blind_indexes (category, hash) WHERE is_unique = 1;

CREATE TABLE api_keys (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    key_hash   BYTEA NOT NULL UNIQUE,
    purposes   TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);
