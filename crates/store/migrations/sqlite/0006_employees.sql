-- Employees of the lender (clauses 4.3, 5.4, 8.1; L-PROTECTION): accounts, sessions, login
-- throttling, confidentiality undertakings and training acknowledgements. No plaintext
-- secret is stored: passwords as Argon2id PHC strings, TOTP secrets AES-256-GCM-encrypted
-- under a per-employee key wrapped by the master key, session tokens as SHA-256, throttling
-- keys as HMACs (so the login text of an unknown account is never stored).
CREATE TABLE employees (
    id               TEXT PRIMARY KEY,
    login            TEXT NOT NULL UNIQUE,
    display_name     TEXT NOT NULL,
    role             TEXT NOT NULL,
    password_hash    TEXT NOT NULL,
    totp_secret      BLOB,
    totp_key         BLOB,
    totp_kek_version INTEGER,
    totp_last_step   INTEGER,
    status           TEXT NOT NULL,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
);

CREATE TABLE employee_sessions (
    token_hash   BLOB PRIMARY KEY,
    employee_id  TEXT NOT NULL REFERENCES employees (id),
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    revoked_at   INTEGER,
    mfa_passed   INTEGER NOT NULL
);
CREATE INDEX employee_sessions_employee ON employee_sessions (employee_id);

CREATE TABLE login_throttle (
    key          BLOB PRIMARY KEY,
    window_start INTEGER NOT NULL,
    failures     INTEGER NOT NULL,
    locked_until INTEGER
);

CREATE TABLE employee_undertakings (
    id           TEXT PRIMARY KEY,
    employee_id  TEXT NOT NULL REFERENCES employees (id),
    text_version TEXT NOT NULL,
    signed_on    TEXT NOT NULL,
    expires_on   TEXT NOT NULL,
    recorded_by  TEXT NOT NULL,
    recorded_at  INTEGER NOT NULL
);
CREATE INDEX employee_undertakings_employee ON employee_undertakings (employee_id);

CREATE TABLE employee_trainings (
    id             TEXT PRIMARY KEY,
    employee_id    TEXT NOT NULL REFERENCES employees (id),
    course         TEXT NOT NULL,
    course_version TEXT NOT NULL,
    completed_on   TEXT NOT NULL,
    expires_on     TEXT,
    recorded_by    TEXT NOT NULL,
    recorded_at    INTEGER NOT NULL
);
CREATE INDEX employee_trainings_employee ON employee_trainings (employee_id);
