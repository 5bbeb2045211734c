-- The audit trail (`ferriam audit`): one row per sign-in, factor, enrolment, lockout and logout,
-- with the rule that decided it. Rows older than the `audit_retention` setting are purged.
CREATE TABLE audit_events (
    id BIGSERIAL PRIMARY KEY,
    at BIGINT NOT NULL,
    event TEXT NOT NULL,
    outcome TEXT NOT NULL,
    sub TEXT,
    client_id TEXT,
    ip TEXT,
    idp TEXT,
    rule TEXT,
    factors TEXT NOT NULL DEFAULT '[]',
    reason TEXT
);
CREATE INDEX audit_events_at ON audit_events (at);
CREATE INDEX audit_events_sub_at ON audit_events (sub, at);
