//! The SQL both back ends share. SQLite and PostgreSQL accept the same statements here
//! (`$N` placeholders, numbered in order of first use; `RETURNING`; `ON CONFLICT`), so each
//! statement is written once; only how it is sent and how its rows are read differ.

/// The user columns, in the order `User` is read from them.
macro_rules! user_columns {
    () => {
        "sub, username, password_hash, disabled, profile, created_at, updated_at"
    };
}

/// Counts changes to the client registrations (see `ClientStore::client_set_version`).
pub const BUMP_CLIENT_VERSION: &str =
    "INSERT INTO settings (name, value) VALUES ('clients_version', '1') ON CONFLICT (name) \
     DO UPDATE SET value = CAST(CAST(settings.value AS BIGINT) + 1 AS TEXT)";

pub const INSERT_SETTING: &str =
    "INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING";
pub const SETTING: &str = "SELECT value FROM settings WHERE name = $1";

pub const INSERT_USER: &str = concat!(
    "INSERT INTO users (",
    user_columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7)"
);
pub const USER_BY_USERNAME: &str = concat!(
    "SELECT ",
    user_columns!(),
    " FROM users WHERE username = $1"
);
pub const USER_BY_SUB: &str = concat!("SELECT ", user_columns!(), " FROM users WHERE sub = $1");
pub const LIST_USERS: &str = concat!("SELECT ", user_columns!(), " FROM users ORDER BY username");
pub const SET_USER_DISABLED: &str = "UPDATE users SET disabled = $1, updated_at = $2, \
     failed_logins = 0, locked_until = NULL, lock_seconds = 0 WHERE sub = $3";
pub const DELETE_USER_SESSIONS: &str = "DELETE FROM sessions WHERE sub = $1";
pub const REVOKE_USER_REFRESH_TOKENS: &str =
    "UPDATE refresh_tokens SET revoked = TRUE WHERE sub = $1";
pub const SET_PASSWORD_HASH: &str =
    "UPDATE users SET password_hash = $1, updated_at = $2 WHERE sub = $3";
/// The length of the lock an attempt that reaches the limit ($1) sets: the first ($2), or twice
/// the last one, at most $3.
macro_rules! next_lock {
    () => {
        "(CASE WHEN lock_seconds = 0 THEN $2 WHEN lock_seconds * 2 > $3 THEN $3 \
         ELSE lock_seconds * 2 END)"
    };
}
/// Reserves an attempt ($4 is now, $5 the user) unless the account is locked: the attempt that
/// makes `$1` consecutive failures, and every one after it until a success, locks the account,
/// each lock twice as long as the one before.
pub const RESERVE_LOGIN_ATTEMPT: &str = concat!(
    "UPDATE users SET failed_logins = failed_logins + 1, ",
    "lock_seconds = CASE WHEN failed_logins + 1 >= $1 THEN ",
    next_lock!(),
    " ELSE lock_seconds END, ",
    "locked_until = CASE WHEN failed_logins + 1 >= $1 THEN $4 + ",
    next_lock!(),
    " ELSE locked_until END ",
    "WHERE sub = $5 AND (locked_until IS NULL OR locked_until <= $4) RETURNING failed_logins"
);
pub const CLEAR_LOGIN_FAILURES: &str =
    "UPDATE users SET failed_logins = 0, locked_until = NULL, lock_seconds = 0 WHERE sub = $1";
/// Deleting a user: what is theirs first, then the user (one transaction).
pub const DELETE_USER: [&str; 4] = [
    "DELETE FROM sessions WHERE sub = $1",
    "DELETE FROM consents WHERE sub = $1",
    "DELETE FROM refresh_tokens WHERE sub = $1",
    "DELETE FROM users WHERE sub = $1",
];

pub const INSERT_CLIENT: &str = "INSERT INTO clients (client_id, secret_hash, settings, \
     created_at, sealed_secret) VALUES ($1, $2, $3, $4, $5)";
pub const CLIENT: &str =
    "SELECT secret_hash, sealed_secret, settings FROM clients WHERE client_id = $1";
pub const LIST_CLIENTS: &str = "SELECT settings FROM clients ORDER BY created_at, client_id";
/// Deleting a client: what is theirs first, then the client (one transaction).
pub const DELETE_CLIENT: [&str; 3] = [
    "DELETE FROM consents WHERE client_id = $1",
    "DELETE FROM refresh_tokens WHERE client_id = $1",
    "DELETE FROM clients WHERE client_id = $1",
];
pub const SET_CLIENT_SECRET: &str = "UPDATE clients SET secret_hash = $1, sealed_secret = $2 \
     WHERE client_id = $3 AND secret_hash IS NOT NULL";
pub const UPDATE_CLIENT: &str = "UPDATE clients SET settings = $1 WHERE client_id = $2";
pub const CLIENT_SET_VERSION: &str = "SELECT value FROM settings WHERE name = 'clients_version'";

/// Accepts a client assertion's jti once: a row still alive makes the insert change nothing.
/// An expired row (not purged yet) is taken over.
pub const USE_ASSERTION_JTI: &str = "INSERT INTO client_assertion_jtis (jti_hash, expires_at) \
     VALUES ($1, $2) ON CONFLICT (jti_hash) DO UPDATE SET expires_at = excluded.expires_at \
     WHERE client_assertion_jtis.expires_at <= $3";
/// The failures counted in the current windows of two keys (a client_id's and an address's).
pub const AUTH_FAILURES: &str = "SELECT key_hash, failures, window_ends FROM \
     client_auth_failures WHERE key_hash IN ($1, $2) AND window_ends > $3";
/// Counts one failure in one statement, so parallel failures each get their own number: a
/// window that has ended starts again at 1 and ends at `$2`.
pub const COUNT_AUTH_FAILURE: &str = "INSERT INTO client_auth_failures \
     (key_hash, failures, window_ends) VALUES ($1, 1, $2) ON CONFLICT (key_hash) DO UPDATE SET \
     failures = CASE WHEN client_auth_failures.window_ends <= $3 THEN 1 \
     ELSE client_auth_failures.failures + 1 END, \
     window_ends = CASE WHEN client_auth_failures.window_ends <= $3 THEN excluded.window_ends \
     ELSE client_auth_failures.window_ends END RETURNING failures, window_ends";

pub const KEYS: &str = "SELECT kid, alg, private_pkcs8, created_at, retired_at FROM keys \
     ORDER BY created_at, kid";
pub const INSERT_KEY: &str = "INSERT INTO keys (kid, alg, private_pkcs8, created_at, retired_at) \
     VALUES ($1, $2, $3, $4, $5)";
pub const RETIRE_KEY: &str =
    "UPDATE keys SET retired_at = $1 WHERE kid = $2 AND retired_at IS NULL";
pub const KEY_SET_VERSION: &str = "SELECT COUNT(*), CAST(COUNT(retired_at) AS BIGINT) FROM keys";

/// A session begins when the user authenticates, so its `created_at` is its `auth_time`.
pub const INSERT_SESSION: &str = "INSERT INTO sessions (id_hash, sid, sub, auth_time, amr, \
     expires_at, idp, factors, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $4)";
pub const SESSION: &str =
    "SELECT sid, sub, auth_time, amr, expires_at, idp, factors FROM sessions \
     WHERE id_hash = $1 AND expires_at > $2";
pub const DELETE_SESSION: &str = "DELETE FROM sessions WHERE id_hash = $1";

pub const SAVE_INTERACTION: &str = "INSERT INTO interactions (id_hash, data, expires_at) \
     VALUES ($1, $2, $3) ON CONFLICT (id_hash) \
     DO UPDATE SET data = excluded.data, expires_at = excluded.expires_at";
pub const INTERACTION: &str =
    "SELECT data FROM interactions WHERE id_hash = $1 AND expires_at > $2";
pub const DELETE_INTERACTION: &str = "DELETE FROM interactions WHERE id_hash = $1";
/// Reads and deletes in one statement, so two requests cannot both take it.
pub const TAKE_INTERACTION: &str =
    "DELETE FROM interactions WHERE id_hash = $1 AND expires_at > $2 RETURNING data";

pub const CONSENT: &str = "SELECT scope FROM consents WHERE sub = $1 AND client_id = $2";
pub const SAVE_CONSENT: &str = "INSERT INTO consents (sub, client_id, scope, updated_at) \
     VALUES ($1, $2, $3, $4) ON CONFLICT (sub, client_id) \
     DO UPDATE SET scope = excluded.scope, updated_at = excluded.updated_at";

pub const INSERT_CODE: &str = "INSERT INTO codes (code_hash, grant_id, sub, data, expires_at) \
     VALUES ($1, $2, $3, $4, $5)";
/// Marks a code used and returns it with its user (only if that user is enabled) in the same
/// statement, saving the grant a round trip. RETURNING cannot join, so each user column is a
/// scalar subquery.
pub const REDEEM_CODE: &str = concat!(
    "UPDATE codes SET consumed_at = $1 WHERE code_hash = $2 AND consumed_at IS NULL RETURNING data, ",
    "(SELECT u.sub FROM users u WHERE u.sub = codes.sub AND u.disabled = FALSE) AS sub, ",
    "(SELECT u.username FROM users u WHERE u.sub = codes.sub AND u.disabled = FALSE) AS username, ",
    "(SELECT u.password_hash FROM users u WHERE u.sub = codes.sub AND u.disabled = FALSE) AS password_hash, ",
    "(SELECT u.disabled FROM users u WHERE u.sub = codes.sub AND u.disabled = FALSE) AS disabled, ",
    "(SELECT u.profile FROM users u WHERE u.sub = codes.sub AND u.disabled = FALSE) AS profile, ",
    "(SELECT u.created_at FROM users u WHERE u.sub = codes.sub AND u.disabled = FALSE) AS created_at, ",
    "(SELECT u.updated_at FROM users u WHERE u.sub = codes.sub AND u.disabled = FALSE) AS updated_at",
);
/// The grant of a code that could not be redeemed: it was used before (a replay).
pub const CODE_GRANT: &str = "SELECT grant_id FROM codes WHERE code_hash = $1";

pub const INSERT_REFRESH: &str = "INSERT INTO refresh_tokens (token_hash, grant_id, client_id, \
     sub, data, expires_at, issued_at) VALUES ($1, $2, $3, $4, $5, $6, $7)";
/// A refresh token with its user (only if enabled), in one statement. A token of a revoked
/// grant is revoked even if it was inserted after the revocation ran (a rotation or code
/// exchange racing a replay). A token is rotated when a successor names it as its parent.
pub const REFRESH: &str = concat!(
    "SELECT r.data, r.issued_at, s.issued_at AS rotated_at, (r.revoked OR EXISTS ",
    "(SELECT 1 FROM revoked_grants g WHERE g.grant_id = r.grant_id)) AS revoked, ",
    "u.sub, u.username, u.password_hash, u.disabled, u.profile, u.created_at, u.updated_at ",
    "FROM refresh_tokens r LEFT JOIN refresh_tokens s ON s.parent_hash = r.token_hash ",
    "LEFT JOIN users u ON u.sub = r.sub AND u.disabled = FALSE WHERE r.token_hash = $1",
);
/// Rotation in one statement: the unique index on parent_hash (and the primary key) make the
/// second of two racing rotations insert nothing. The WHERE clause also keeps SQLite's upsert
/// syntax unambiguous after INSERT … SELECT.
pub const ROTATE_REFRESH: &str = "INSERT INTO refresh_tokens (token_hash, parent_hash, grant_id, \
     client_id, sub, data, expires_at, issued_at) \
     SELECT $1, $2, $3, $4, $5, $6, $7, $8 FROM refresh_tokens r \
     WHERE r.token_hash = $2 AND r.revoked = FALSE \
     AND NOT EXISTS (SELECT 1 FROM revoked_grants g WHERE g.grant_id = r.grant_id) \
     ON CONFLICT DO NOTHING";
/// Revoking a grant (one transaction).
pub const REVOKE_GRANT: [&str; 2] = [
    "UPDATE refresh_tokens SET revoked = TRUE WHERE grant_id = $1",
    "INSERT INTO revoked_grants (grant_id, expires_at) VALUES ($1, $2) \
     ON CONFLICT (grant_id) DO UPDATE SET expires_at = excluded.expires_at",
];
/// The user of a token, if enabled, and only while neither the token's grant (`$2`) nor the
/// token itself (`$3`, the hash of its jti) is revoked: one statement for userinfo and
/// introspection.
pub const ACTIVE_SUBJECT: &str = concat!(
    "SELECT ",
    user_columns!(),
    " FROM users WHERE sub = $1 AND disabled = FALSE ",
    "AND NOT EXISTS (SELECT 1 FROM revoked_grants WHERE grant_id = $2) ",
    "AND NOT EXISTS (SELECT 1 FROM revoked_access_tokens WHERE jti_hash = $3)"
);
/// Revoking one access token: remembered until it expires; revoking it again changes nothing.
pub const REVOKE_ACCESS_TOKEN: &str =
    "INSERT INTO revoked_access_tokens (jti_hash, expires_at) VALUES ($1, $2) \
     ON CONFLICT (jti_hash) DO NOTHING";
pub const ACCESS_TOKEN_REVOKED: &str =
    "SELECT jti_hash FROM revoked_access_tokens WHERE jti_hash = $1";

/// The purge, one statement per table with a lifetime: `$1` the cutoff, `$2` the batch size.
/// Each comes with how many seconds before now its cutoff lies: consumed codes are kept a
/// little past their expiry so that a late replay is still recognised and its grant revoked.
pub const PURGE: [(&str, i64); 11] = [
    (
        "DELETE FROM otp_challenges WHERE id_hash IN \
         (SELECT id_hash FROM otp_challenges WHERE expires_at < $1 LIMIT $2)",
        0,
    ),
    (
        "DELETE FROM codes WHERE code_hash IN \
         (SELECT code_hash FROM codes WHERE expires_at < $1 LIMIT $2)",
        600,
    ),
    (
        "DELETE FROM sessions WHERE id_hash IN \
         (SELECT id_hash FROM sessions WHERE expires_at < $1 LIMIT $2)",
        0,
    ),
    (
        "DELETE FROM interactions WHERE id_hash IN \
         (SELECT id_hash FROM interactions WHERE expires_at < $1 LIMIT $2)",
        0,
    ),
    (
        "DELETE FROM refresh_tokens WHERE token_hash IN \
         (SELECT token_hash FROM refresh_tokens WHERE expires_at < $1 LIMIT $2)",
        0,
    ),
    (
        "DELETE FROM revoked_grants WHERE grant_id IN \
         (SELECT grant_id FROM revoked_grants WHERE expires_at < $1 LIMIT $2)",
        0,
    ),
    (
        "DELETE FROM revoked_access_tokens WHERE jti_hash IN \
         (SELECT jti_hash FROM revoked_access_tokens WHERE expires_at < $1 LIMIT $2)",
        0,
    ),
    (
        "DELETE FROM client_assertion_jtis WHERE jti_hash IN \
         (SELECT jti_hash FROM client_assertion_jtis WHERE expires_at < $1 LIMIT $2)",
        0,
    ),
    (
        "DELETE FROM client_auth_failures WHERE key_hash IN \
         (SELECT key_hash FROM client_auth_failures WHERE window_ends < $1 LIMIT $2)",
        0,
    ),
    (
        "DELETE FROM signin_limits WHERE key_hash IN \
         (SELECT key_hash FROM signin_limits WHERE forget_at < $1 LIMIT $2)",
        0,
    ),
    (
        "DELETE FROM ciba_requests WHERE id_hash IN \
         (SELECT id_hash FROM ciba_requests WHERE expires_at < $1 LIMIT $2)",
        0,
    ),
];

/// Counts changes to the upstream identity providers (see `UpstreamStore::upstream_set_version`).
pub const BUMP_UPSTREAM_VERSION: &str =
    "INSERT INTO settings (name, value) VALUES ('upstreams_version', '1') ON CONFLICT (name) \
     DO UPDATE SET value = CAST(CAST(settings.value AS BIGINT) + 1 AS TEXT)";
pub const UPSTREAM_SET_VERSION: &str =
    "SELECT value FROM settings WHERE name = 'upstreams_version'";
pub const INSERT_UPSTREAM: &str =
    "INSERT INTO upstreams (name, settings, created_at) VALUES ($1, $2, $3)";
pub const UPSTREAM: &str = "SELECT settings FROM upstreams WHERE name = $1";
pub const LIST_UPSTREAMS: &str = "SELECT settings FROM upstreams ORDER BY name";
pub const DELETE_UPSTREAM: &str = "DELETE FROM upstreams WHERE name = $1";
pub const INSERT_UPSTREAM_LINK: &str = "INSERT INTO upstream_links (issuer, subject, sub, \
     upstream, created_at) VALUES ($1, $2, $3, $4, $5)";
pub const UPSTREAM_LINK: &str = "SELECT issuer, subject, sub, upstream, created_at \
     FROM upstream_links WHERE issuer = $1 AND subject = $2";
pub const UPSTREAM_LINKS_OF: &str = "SELECT issuer, subject, sub, upstream, created_at \
     FROM upstream_links WHERE sub = $1 ORDER BY created_at, issuer, subject";
