-- Access tokens revoked before their expiry (RFC 7009), found by the SHA-256 of their jti.
-- A row is needed only while the token would still be accepted: the purge deletes it once the
-- token has expired.
CREATE TABLE revoked_access_tokens (
    jti_hash TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL
);
CREATE INDEX revoked_access_tokens_expires ON revoked_access_tokens (expires_at);
