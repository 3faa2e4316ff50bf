-- The audit log moves to a file of its own (derbes.audit.db, see sqlite_audit.rs): its
-- commits then do not make the readers of this file drop their page caches. A write whose
-- entries must commit with it stages them here, in its own transaction, and appends them to
-- the audit file after its commit; rows left by a crash in between are appended on the next
-- start. `fields` is a format byte and postcard of the entries' fields (codes, never values).
CREATE TABLE audit_pending (
    id     INTEGER PRIMARY KEY AUTOINCREMENT,
    fields BLOB NOT NULL
);
