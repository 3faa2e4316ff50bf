-- Tamper-evident audit log (clauses 8.1, 5.5; L-PROTECTION). See the SQLite migration.
CREATE TABLE audit_entries (
    seq        BIGINT PRIMARY KEY,
    at         BIGINT NOT NULL,
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL,
    subject    TEXT,
    purpose    TEXT,
    categories TEXT NOT NULL,
    rule       TEXT,
    outcome    TEXT NOT NULL,
    detail     TEXT,
    prev_hash  BYTEA NOT NULL,
    hash       BYTEA NOT NULL
);
CREATE INDEX audit_entries_subject ON audit_entries (subject, seq);

CREATE TABLE audit_head (
    id        BIGINT PRIMARY KEY CHECK (id = 1),
    size      BIGINT NOT NULL,
    last_hash BYTEA NOT NULL,
    frontier  BYTEA NOT NULL
);
INSERT INTO audit_head (id, size, last_hash, frontier)
VALUES (1, 0, decode(repeat('00', 32), 'hex'), ''::bytea);

CREATE TABLE audit_checkpoints (
    tree_size BIGINT NOT NULL,
    root      BYTEA NOT NULL,
    at        BIGINT NOT NULL,
    key_id    TEXT NOT NULL,
    signature BYTEA NOT NULL,
    PRIMARY KEY (tree_size, key_id)
);
