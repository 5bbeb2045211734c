-- One-time codes sent by email or SMS during a sign-in. The code itself is never stored: only
-- its HMAC-SHA256 under a server key. attempts and sends are counted here, in one statement
-- each, so the limits hold across nodes; used makes a code single use.
CREATE TABLE otp_challenges (
    id_hash TEXT PRIMARY KEY,
    code_mac TEXT NOT NULL,
    factor TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    sends BIGINT NOT NULL DEFAULT 1,
    used BIGINT NOT NULL DEFAULT 0,
    expires_at BIGINT NOT NULL
);
CREATE INDEX otp_challenges_expires ON otp_challenges (expires_at);
