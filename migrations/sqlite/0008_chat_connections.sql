-- Chat-server connections (issue 13): how pingauth reaches the chat server
-- to regenerate a project's shared secret (the chat server accepts only
-- secrets it generates itself) and to probe tokens. One per tenant (used by
-- its projects) and optionally one per project (overrides the tenant's).
-- The credential (a dashboard user's password or session token) is kept in
-- the secret backend under credential_version; never in SQL.
CREATE TABLE chat_connections (
    scope              TEXT NOT NULL,
    scope_id           TEXT NOT NULL,
    base_url           TEXT NOT NULL,
    auth               TEXT NOT NULL,
    email              TEXT NOT NULL DEFAULT '',
    credential_version INTEGER NOT NULL,
    updated_by         TEXT NOT NULL,
    updated_at         DATETIME NOT NULL,
    PRIMARY KEY (scope, scope_id)
);
