-- Policy-change notices (clause 9.2): one job per policy version, one delivery row per
-- subject. No e-mail address is stored here: the runner asks for it at send time. Errors
-- are short codes, never server text (which may quote an address).
CREATE TABLE notice_jobs (
    id             TEXT PRIMARY KEY,
    kind           TEXT NOT NULL,
    policy_version INTEGER NOT NULL,
    created_at     INTEGER NOT NULL,
    state          TEXT NOT NULL,
    completed_at   INTEGER,
    texts          TEXT NOT NULL,
    UNIQUE (kind, policy_version)
);

CREATE TABLE notice_deliveries (
    job_id          TEXT NOT NULL REFERENCES notice_jobs (id),
    subject_id      BLOB NOT NULL,
    status          TEXT NOT NULL,
    attempts        INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    claimed_at      INTEGER,
    last_error      TEXT,
    sent_at         INTEGER,
    message_id      TEXT,
    PRIMARY KEY (job_id, subject_id)
);
CREATE INDEX notice_deliveries_due ON notice_deliveries (job_id, status, next_attempt_at);
