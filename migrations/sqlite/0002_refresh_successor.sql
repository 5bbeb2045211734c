-- A refresh token is rotated when its successor exists: the successor row names its parent,
-- and a unique index on the parent lets a rotation be one INSERT that only the first of two
-- racing requests wins (instead of an UPDATE and an INSERT in a transaction).

-- Tokens rotated under the old scheme cannot be linked to their successors (only hashes are
-- stored); they could only be replayed, so they are retired.
UPDATE refresh_tokens SET revoked = TRUE WHERE rotated_at IS NOT NULL;
ALTER TABLE refresh_tokens DROP COLUMN rotated_at;
ALTER TABLE refresh_tokens ADD COLUMN parent_hash TEXT;
ALTER TABLE refresh_tokens ADD COLUMN issued_at INTEGER NOT NULL DEFAULT 0;
CREATE UNIQUE INDEX refresh_tokens_parent ON refresh_tokens (parent_hash);
