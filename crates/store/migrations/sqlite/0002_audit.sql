-- Tamper-evident audit log (clauses 8.1, 5.5; L-PROTECTION). Entries are hash-chained and
-- folded into an RFC 6962 Merkle tree; signed checkpoints fix the tree's root at a size.
-- Codes and pseudonyms only, never personal values.
CREATE TABLE audit_entries (
    seq        INTEGER PRIMARY KEY,
    at         INTEGER NOT NULL,
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL,
    subject    TEXT,
    purpose    TEXT,
    categories TEXT NOT NULL,
    rule       TEXT,
    outcome    TEXT NOT NULL,
    detail     TEXT,
    prev_hash  BLOB NOT NULL,
    hash       BLOB NOT NULL
);
CREATE INDEX audit_entries_subject ON audit_entries (subject, seq);

-- The head of the log: its size, last hash and the Merkle frontier (the roots of the perfect
-- subtrees, 32 bytes each), so appending and checkpointing never re-read the whole log.
CREATE TABLE audit_head (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    size      INTEGER NOT NULL,
    last_hash BLOB NOT NULL,
    frontier  BLOB NOT NULL
);
INSERT INTO audit_head (id, size, last_hash, frontier) VALUES (1, 0, zeroblob(32), X'');

CREATE TABLE audit_checkpoints (
    tree_size INTEGER NOT NULL,
    root      BLOB NOT NULL,
    at        INTEGER NOT NULL,
    key_id    TEXT NOT NULL,
    signature BLOB NOT NULL,
    PRIMARY KEY (tree_size, key_id)
);
