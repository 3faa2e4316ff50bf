-- The borrower's personal cabinet (clauses 7.1a-d, 5.4; L-RIGHTS, L-RIGHTS-DEADLINES).
-- Nothing personal is stored in clear: one-time codes as HMAC-SHA-256 under a server key,
-- session tokens as SHA-256, free text of requests and proposed values as AES-256-GCM
-- ciphertext under the subject's data key. A challenge for a phone that is not registered
-- is stored like any other (subject_id NULL), so the answer cannot tell them apart.
CREATE TABLE otp_challenges (
    id          TEXT PRIMARY KEY,
    subject_id  BLOB,
    code_hash   BLOB NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    attempts    INTEGER NOT NULL,
    used_at     INTEGER
);
CREATE INDEX otp_challenges_created ON otp_challenges (created_at);

CREATE TABLE subject_sessions (
    token_hash   BLOB PRIMARY KEY,
    subject_id   BLOB NOT NULL,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    revoked_at   INTEGER
);
CREATE INDEX subject_sessions_subject ON subject_sessions (subject_id);

-- Requests of a subject (7.1a, 7.1c, 7.1d; L-RIGHTS-DEADLINES): number Z-YYYY-NNNNNN,
-- unique per (year, seq).
CREATE TABLE subject_requests (
    id               TEXT PRIMARY KEY,
    year             INTEGER NOT NULL,
    seq              INTEGER NOT NULL,
    subject_id       BLOB NOT NULL,
    kind             TEXT NOT NULL,
    status           TEXT NOT NULL,
    body             BLOB NOT NULL,
    dek_version      INTEGER NOT NULL,
    category         TEXT,
    received_at      INTEGER NOT NULL,
    deadline_date    TEXT NOT NULL,
    deadline_at      INTEGER NOT NULL,
    calendar_version TEXT NOT NULL,
    updated_at       INTEGER NOT NULL,
    reason           TEXT,
    answer           BLOB,
    handled_by       TEXT,
    UNIQUE (year, seq)
);
CREATE INDEX subject_requests_subject ON subject_requests (subject_id);
CREATE INDEX subject_requests_status ON subject_requests (status, deadline_at);

-- The register of exports (clause 5.4: every export file is registered, hashed, traceable).
CREATE TABLE export_register (
    id         TEXT PRIMARY KEY,
    subject    TEXT NOT NULL,
    format     TEXT NOT NULL,
    sha256     BLOB NOT NULL,
    size       INTEGER NOT NULL,
    at         INTEGER NOT NULL,
    actor      TEXT NOT NULL,
    purpose    TEXT NOT NULL
);
CREATE INDEX export_register_subject ON export_register (subject, at);
