-- Blind indexes are stored as the first 16 bytes (128 bits) of their HMAC-SHA256, not all 32
-- (see crates/crypto/src/blind.rs): the index tables, which every bulk transaction rewrites
-- because their keys are random, shrink by about a third. Rows of `subjects.vals` packed
-- before this keep 32-byte copies, which the store reads as their first 16 bytes.
UPDATE unique_index SET hash = substring(hash FROM 1 FOR 16) WHERE length(hash) > 16;
UPDATE shared_index SET hash = substring(hash FROM 1 FOR 16) WHERE length(hash) > 16;
