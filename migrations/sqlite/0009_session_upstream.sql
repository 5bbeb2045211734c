-- The upstream identity provider a session was signed in through (`ferriam idp` name), NULL for
-- the local form, and the second factors proved in it (a JSON list such as ["email"]): the
-- sign-in policy and the audit trail read them, and a client whose rule asks for more than a
-- session proved gets a new sign-in instead of single sign-on.
ALTER TABLE sessions ADD COLUMN idp TEXT;
ALTER TABLE sessions ADD COLUMN factors TEXT NOT NULL DEFAULT '[]';
