-- Policy-change notices (clause 9.2). See the SQLite migration.
CREATE TABLE notice_jobs (
    id             TEXT PRIMARY KEY,
    kind           TEXT NOT NULL,
    policy_version BIGINT NOT NULL,
    created_at     BIGINT NOT NULL,
    state          TEXT NOT NULL,
    completed_at   BIGINT,
    texts          TEXT NOT NULL,
    UNIQUE (kind, policy_version)
);

CREATE TABLE notice_deliveries (
    job_id          TEXT NOT NULL REFERENCES notice_jobs (id),
    subject_id      BYTEA NOT NULL,
    status          TEXT NOT NULL,
    attempts        BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    claimed_at      BIGINT,
    last_error      TEXT,
    sent_at         BIGINT,
    message_id      TEXT,
    PRIMARY KEY (job_id, subject_id)
);
CREATE INDEX notice_deliveries_due ON notice_deliveries (job_id, status, next_attempt_at);
