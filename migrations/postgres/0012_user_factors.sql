-- Enrolled second factors that need a secret (TOTP): the secret sealed under FERRIAM_MASTER_KEY
-- when it is set, and the last time step accepted, so that a code is accepted once.
CREATE TABLE user_factors (
    sub TEXT NOT NULL REFERENCES users (sub) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    secret TEXT NOT NULL,
    last_used_step BIGINT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (sub, kind)
);
