-- The upstream identity provider a session was signed in through (`ferriam idp` name), NULL for
-- the local form: the sign-in policy and the audit trail read it.
ALTER TABLE sessions ADD COLUMN idp TEXT;
