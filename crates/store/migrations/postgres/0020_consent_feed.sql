-- The consent change feed (multi-process consent gate, L-PURPOSE, 7.1c).
-- Every derbes process keeps the consent ledger's current state in memory for the consent
-- gate. When another process on the same database records a decision (or purges an
-- application), this trigger tells every listener which subject changed; PostgreSQL
-- delivers the notification when the writing transaction commits, and never for a rolled-back
-- one. The channel is per schema, so two deployments in one database never mix. The payload
-- is the subject's pseudonymous id (hex), never a value.
CREATE FUNCTION derbes_consent_notify() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify(
        'derbes_consent_' || current_schema(),
        encode(COALESCE(NEW.subject_id, OLD.subject_id), 'hex')
    );
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER consent_events_notify
    AFTER INSERT OR DELETE ON consent_events
    FOR EACH ROW EXECUTE FUNCTION derbes_consent_notify();
