-- Upstream identity providers (`ferriam idp ...`) and the accounts linked to them.
-- An upstream's settings are one JSON document; its client secret inside it is sealed under
-- FERRIAM_MASTER_KEY when that is set. Changes bump the 'upstreams_version' setting.
CREATE TABLE upstreams (
    name TEXT PRIMARY KEY,
    settings TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

-- A local account is linked to an upstream account by (upstream issuer, upstream sub) only,
-- never by an email address (SECURITY.md R46).
CREATE TABLE upstream_links (
    issuer TEXT NOT NULL,
    subject TEXT NOT NULL,
    sub TEXT NOT NULL REFERENCES users (sub) ON DELETE CASCADE,
    upstream TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (issuer, subject)
);
CREATE INDEX upstream_links_sub ON upstream_links (sub);
