-- Logout: when each session began (for `ferriam user sessions`), which clients received a code
-- or tokens in each session (so a logout knows whom to notify), and the durable queue of
-- back-channel logout deliveries that any node may send.

-- Sessions are created when the user authenticates, so auth_time is when older rows began.
ALTER TABLE sessions ADD COLUMN created_at INTEGER NOT NULL DEFAULT 0;
UPDATE sessions SET created_at = auth_time;
CREATE INDEX sessions_sub ON sessions (sub);
CREATE INDEX sessions_sid ON sessions (sid);

CREATE TABLE session_clients (
    sid TEXT NOT NULL,
    client_id TEXT NOT NULL,
    -- The session's expiry, so the purge removes the row with its session.
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (sid, client_id)
);
CREATE INDEX session_clients_expires ON session_clients (expires_at);

-- One logout notification for one client. The logout token is signed when it is sent, so no
-- token is stored. next_attempt_at doubles as a lease: claiming a row moves it into the future,
-- so a node that dies mid-send leaves the row to be retried by any node.
CREATE TABLE backchannel_deliveries (
    id TEXT PRIMARY KEY,
    client_id TEXT NOT NULL,
    sid TEXT NOT NULL,
    sub TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX backchannel_deliveries_due ON backchannel_deliveries (next_attempt_at);
