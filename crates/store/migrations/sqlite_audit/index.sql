-- The audit log's subject index (SQLite only; see crates/store/src/sqlite_audit.rs), in a
-- file of its own beside the log: derbes.audit.db -> derbes.audit.index.db.
--
-- An index on audit_entries (subject, seq) puts every append's key on a random page of the
-- index, so each small group commit wrote one more 4 kB page per entry. The index is kept
-- here instead, filled in batches by the log's writer thread: entries from `upto` on are
-- not in it yet, and queries by subject read those from audit_entries directly (a short
-- scan of the log's newest entries). In its own file, filling it takes no lock that an
-- append needs. It holds nothing the log does not: a missing, stale or foreign index file
-- is rebuilt from the log (`last_hash` is the hash of entry `upto - 1` when it was filled).
--
-- Keyed by epoch first (an epoch: 2^epoch_bits consecutive entries of the log, seq >>
-- epoch_bits), so a fill adds to the newest epoch's part of the tree only: its pages stay
-- few and cached, however long the log grows, where a key of (subject, seq) alone put each
-- new entry on a random page of the whole index. A query by subject seeks once per epoch.
-- `epoch_bits` is fixed when the file is made (the index is emptied before it may change).
CREATE TABLE IF NOT EXISTS audit_subjects (
    epoch   INTEGER NOT NULL,
    subject TEXT NOT NULL,
    seq     INTEGER NOT NULL,
    PRIMARY KEY (epoch, subject, seq)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS audit_indexed (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    upto       INTEGER NOT NULL,
    last_hash  BLOB,
    epoch_bits INTEGER NOT NULL DEFAULT 16 CHECK (epoch_bits BETWEEN 0 AND 62)
);
INSERT OR IGNORE INTO audit_indexed (id, upto, last_hash) VALUES (1, 0, NULL);
