-- Client authentication by JWT (RFC 7523) and throttling of failed client authentication.

-- The secret of a client_secret_jwt client in usable form, since an HMAC cannot be checked
-- against a hash: sealed under FERRIAM_MASTER_KEY (AES-256-GCM) when it is set.
ALTER TABLE clients ADD COLUMN sealed_secret TEXT;

-- The SHA-256 of every client assertion's jti accepted so far, kept until the assertion
-- expires, so each is accepted once (SECURITY.md lesson 13).
CREATE TABLE client_assertion_jtis (
    jti_hash TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL
);
CREATE INDEX client_assertion_jtis_expires ON client_assertion_jtis (expires_at);

-- Failed client authentications per client_id and per source address (the SHA-256 of
-- "client:ID" or "ip:ADDRESS"), in a fixed window that starts with the first failure.
CREATE TABLE client_auth_failures (
    key_hash TEXT PRIMARY KEY,
    failures BIGINT NOT NULL,
    window_ends BIGINT NOT NULL
);
CREATE INDEX client_auth_failures_window ON client_auth_failures (window_ends);
