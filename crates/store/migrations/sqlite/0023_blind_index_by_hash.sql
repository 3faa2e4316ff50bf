-- Blind-index rows are keyed by their hash alone (unique_index) or by hash and subject
-- (shared_index): the category column goes. Each category's HMAC key is its own (HKDF with the
-- category as info, crates/crypto/src/blind.rs), so a hash already names its category; two
-- categories share a 128-bit hash with probability about n²/2¹²⁹. The rows shrink from about
-- 50 to 36 bytes, and each lookup or insert compares one 16-byte key instead of a text and
-- then a key: the index tables, which every bulk transaction rewrites because their keys are
-- random, were the largest part of its writer's work (docs/benchmarks.md, run S).
CREATE TABLE unique_index_0023 (
    hash       BLOB NOT NULL PRIMARY KEY,
    subject_id BLOB NOT NULL REFERENCES subjects(id)
) WITHOUT ROWID;
INSERT INTO unique_index_0023 (hash, subject_id) SELECT hash, subject_id FROM unique_index;
DROP TABLE unique_index;
ALTER TABLE unique_index_0023 RENAME TO unique_index;

CREATE TABLE shared_index_0023 (
    hash       BLOB NOT NULL,
    subject_id BLOB NOT NULL REFERENCES subjects(id),
    PRIMARY KEY (hash, subject_id)
) WITHOUT ROWID;
INSERT INTO shared_index_0023 (hash, subject_id) SELECT hash, subject_id FROM shared_index;
DROP TABLE shared_index;
ALTER TABLE shared_index_0023 RENAME TO shared_index;
