-- The sign-in abuse limits (src/signin/limits.rs): per client address, per account and per
-- code destination, keyed by the SHA-256 of "kind:value". hits counts events in a fixed window
-- that starts with the first; reaching the limit blocks the key until blocked_until, for
-- block_seconds, which doubles for the next block within the back-off memory. forget_at is
-- when the row may be purged. Every change is one atomic statement.
CREATE TABLE signin_limits (
    key_hash TEXT PRIMARY KEY,
    hits BIGINT NOT NULL,
    window_ends BIGINT NOT NULL,
    blocked_until BIGINT NOT NULL,
    block_seconds BIGINT NOT NULL,
    forget_at BIGINT NOT NULL
);
CREATE INDEX signin_limits_forget ON signin_limits (forget_at);

-- The length of the account's current password lock: it doubles with each failure after a
-- lock has ended, and a success clears it.
ALTER TABLE users ADD COLUMN lock_seconds BIGINT NOT NULL DEFAULT 0;
