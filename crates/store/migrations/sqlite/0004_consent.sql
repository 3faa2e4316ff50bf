-- Versioned policy, consent ledger, loan obligations, withdrawal requests, application
-- channel (PRE-1, 2.1, 6.1, 6.2, 7.1c, 7.1d, 9.2; L-CONSENT-1..3). SQLite.
-- Personal values appear only as ciphertext under the subject's data key (consent evidence,
-- offer terms); everything else is codes, pseudonymous ids and instants (µs, UTC).

-- A published policy version: immutable (triggers below refuse UPDATE and DELETE), with a
-- SHA-256 content hash over its texts, times, flag and operator (9.2, PRE-1).
CREATE TABLE policy_versions (
    number        INTEGER PRIMARY KEY,
    published_at  INTEGER NOT NULL,
    effective_at  INTEGER NOT NULL,
    significant   INTEGER NOT NULL,
    operator_name TEXT NOT NULL,
    operator_bin  TEXT NOT NULL,
    text_ru       TEXT NOT NULL,
    text_kk       TEXT NOT NULL,
    text_en       TEXT,
    content_hash  BLOB NOT NULL,
    published_by  TEXT NOT NULL,
    CHECK (effective_at >= published_at)
);
CREATE TRIGGER policy_versions_no_update BEFORE UPDATE ON policy_versions
BEGIN SELECT RAISE(ABORT, 'policy versions are immutable'); END;
CREATE TRIGGER policy_versions_no_delete BEFORE DELETE ON policy_versions
BEGIN SELECT RAISE(ABORT, 'policy versions are immutable'); END;

-- The consent ledger (L-CONSENT-1/2): one row per decision, never updated. The state of a
-- (subject, scope) is its latest row. scope = 'policy' or a consent-based purpose code.
CREATE TABLE consent_events (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    id             TEXT NOT NULL UNIQUE,
    subject_id     BLOB NOT NULL REFERENCES subjects(id),
    scope          TEXT NOT NULL,
    decision       TEXT NOT NULL,
    at             INTEGER NOT NULL,
    policy_version INTEGER NOT NULL REFERENCES policy_versions(number),
    lang           TEXT NOT NULL,
    channel        TEXT NOT NULL,
    evidence       BLOB,
    dek_version    INTEGER NOT NULL,
    valid_until    INTEGER,
    operator_name  TEXT NOT NULL,
    operator_bin   TEXT NOT NULL,
    third_party    INTEGER NOT NULL,
    cross_border   INTEGER NOT NULL,
    publication    INTEGER NOT NULL,
    categories     TEXT NOT NULL,
    recorded_by    TEXT NOT NULL,
    request_id     TEXT
);
CREATE INDEX consent_events_subject ON consent_events (subject_id, seq);

-- Applications through the site (6.1, 6.2): an open application is purged (subject, values,
-- indexes, consents, the row itself) when abandoned or when it expires unfinished.
CREATE TABLE applications (
    id         TEXT PRIMARY KEY,
    subject_id BLOB NOT NULL REFERENCES subjects(id),
    status     TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    created_by TEXT NOT NULL
);
CREATE INDEX applications_open ON applications (status, expires_at);

-- Loan obligations reported by the lender's loan system (2.1 offer; 7.1c). Ids are the loan
-- system's own references (codes, not personal data).
CREATE TABLE loan_applications (
    id          TEXT PRIMARY KEY,
    subject_id  BLOB NOT NULL REFERENCES subjects(id),
    status      TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    recorded_by TEXT NOT NULL
);
CREATE INDEX loan_applications_subject ON loan_applications (subject_id);

CREATE TABLE loan_offers (
    id             TEXT PRIMARY KEY,
    subject_id     BLOB NOT NULL REFERENCES subjects(id),
    application_id TEXT REFERENCES loan_applications(id),
    sent_at        INTEGER NOT NULL,
    accepted_at    INTEGER,
    terms          BLOB NOT NULL,
    dek_version    INTEGER NOT NULL,
    recorded_by    TEXT NOT NULL
);
CREATE INDEX loan_offers_subject ON loan_offers (subject_id);

CREATE TABLE loan_contracts (
    id           TEXT PRIMARY KEY,
    subject_id   BLOB NOT NULL REFERENCES subjects(id),
    offer_id     TEXT REFERENCES loan_offers(id),
    concluded_at INTEGER NOT NULL,
    status       TEXT NOT NULL,
    status_at    INTEGER NOT NULL,
    recorded_by  TEXT NOT NULL
);
CREATE INDEX loan_contracts_subject ON loan_contracts (subject_id);

CREATE TABLE loan_contract_events (
    contract_id TEXT NOT NULL REFERENCES loan_contracts(id),
    seq         INTEGER NOT NULL,
    status      TEXT NOT NULL,
    at          INTEGER NOT NULL,
    cessionary  TEXT,
    recorded_by TEXT NOT NULL,
    PRIMARY KEY (contract_id, seq)
);

-- Withdrawal requests (7.1c, L-CONSENT-3): accepted or refused with a reason, with the
-- legal deadline (15 working days) on the calendar version in force.
CREATE TABLE withdrawal_requests (
    id               TEXT PRIMARY KEY,
    subject_id       BLOB NOT NULL REFERENCES subjects(id),
    received_at      INTEGER NOT NULL,
    channel          TEXT NOT NULL,
    lang             TEXT NOT NULL,
    outcome          TEXT NOT NULL,
    reason           TEXT,
    open_contracts   TEXT NOT NULL,
    deadline_date    TEXT NOT NULL,
    deadline_at      INTEGER NOT NULL,
    calendar_version TEXT NOT NULL,
    recorded_by      TEXT NOT NULL
);
CREATE INDEX withdrawal_requests_subject ON withdrawal_requests (subject_id, received_at);
