-- Incidents of unauthorised access (clause 5.5; L-PROTECTION), raised by detection rules
-- over employees' accesses. One open incident per (rule, employee) gathers further evidence
-- in its timeline. The nullable columns at the end are placeholders for the breach workflow
-- (L-BREACH-REGULATOR: notify the authorised body within 1 working day; L-BREACH-MFO).
-- Codes, pseudonyms and counts only; a free-text note lives only in incident_events.detail.
CREATE TABLE incidents (
    id                    TEXT PRIMARY KEY,
    rule                  TEXT NOT NULL,
    employee              TEXT NOT NULL,
    severity              TEXT NOT NULL CHECK (severity IN ('low', 'medium', 'high')),
    status                TEXT NOT NULL CHECK (status IN ('open', 'acknowledged', 'closed')),
    opened_at             INTEGER NOT NULL,
    discovered_at         INTEGER NOT NULL,
    updated_at            INTEGER NOT NULL,
    acknowledged_at       INTEGER,
    acknowledged_by       TEXT,
    closed_at             INTEGER,
    closed_by             TEXT,
    affected_subjects     INTEGER NOT NULL DEFAULT 0,
    regulator_deadline_at INTEGER,
    regulator_notified_at INTEGER,
    subjects_notified_at  INTEGER
);
CREATE UNIQUE INDEX incidents_one_open ON incidents (rule, employee) WHERE status <> 'closed';
CREATE INDEX incidents_by_status ON incidents (status, opened_at);

-- The timeline: raised, evidence, auto_suspended, acknowledged, note, closed, …
CREATE TABLE incident_events (
    incident_id TEXT NOT NULL REFERENCES incidents (id),
    seq         INTEGER NOT NULL,
    at          INTEGER NOT NULL,
    kind        TEXT NOT NULL,
    actor       TEXT NOT NULL,
    detail      TEXT,
    PRIMARY KEY (incident_id, seq)
);

-- Subjects (pseudonyms) whose data the incident concerns: the affected subjects a breach
-- notice must identify (L-BREACH-REGULATOR).
CREATE TABLE incident_subjects (
    incident_id   TEXT NOT NULL REFERENCES incidents (id),
    subject       TEXT NOT NULL,
    first_seen_at INTEGER NOT NULL,
    PRIMARY KEY (incident_id, subject)
);
