-- The audit file's subject index (SQLite only; see crates/store/src/sqlite_audit.rs).
-- An index on audit_entries (subject, seq) puts every append's key on a random page of the
-- index, so each small group commit wrote one more 4 kB page per entry. The index is kept
-- here instead, filled in batches by the log's writer thread: entries from `upto` on are
-- not in it yet, and queries by subject read those from audit_entries directly (a short
-- scan of the log's newest entries).
CREATE TABLE audit_subjects (
    subject TEXT NOT NULL,
    seq     INTEGER NOT NULL,
    PRIMARY KEY (subject, seq)
) WITHOUT ROWID;

CREATE TABLE audit_indexed (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    upto INTEGER NOT NULL
);
INSERT INTO audit_indexed (id, upto) VALUES (1, 0);

DROP INDEX IF EXISTS audit_entries_subject;
