-- CIBA backchannel authentication requests (CIBA Core 1.0). The auth_req_id itself is never
-- stored: only its SHA-256 (id_hash). request_id is the separate, public id the user's devices
-- see. What the request asked is in data (JSON); what changes is in columns, each changed by
-- one statement guarded by the state, so a decision and a redemption each happen once.
CREATE TABLE ciba_requests (
    id_hash TEXT PRIMARY KEY,
    request_id TEXT NOT NULL UNIQUE,
    sub TEXT NOT NULL,
    data TEXT NOT NULL,
    state TEXT NOT NULL,
    poll_interval BIGINT NOT NULL,
    decided_at BIGINT,
    auth_time BIGINT,
    amr TEXT,
    sid TEXT,
    acr TEXT,
    expires_at BIGINT NOT NULL,
    -- Two jobs, each due at its *_at, claimed by one node at a time (*_at moves to the end of
    -- its lease), NULL once done or given up: reaching the user (the approval link by email and
    -- SMS) and notifying the client (ping and push).
    reach_at BIGINT,
    reach_attempts BIGINT NOT NULL DEFAULT 0,
    notify_at BIGINT,
    notify_attempts BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX ciba_requests_sub ON ciba_requests (sub, state);
CREATE INDEX ciba_requests_expires ON ciba_requests (expires_at);
CREATE INDEX ciba_requests_reach ON ciba_requests (reach_at);
CREATE INDEX ciba_requests_notify ON ciba_requests (notify_at);

-- A CIBA login_hint may be an email address or an E.164 phone number: both are looked up.
CREATE INDEX users_email ON users (((profile::jsonb) ->> 'email'));
CREATE INDEX users_phone ON users (((profile::jsonb) ->> 'phone_number'));
