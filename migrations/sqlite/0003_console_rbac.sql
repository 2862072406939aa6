-- Operator console: operator accounts, server-side sessions (only the SHA-256
-- of the session token is stored), operator API tokens (hashed) and the Casbin
-- policy table (RBAC with domains = tenants).
CREATE TABLE operators (
    id            TEXT PRIMARY KEY,
    email         TEXT NOT NULL,
    name          TEXT NOT NULL DEFAULT '',
    password_hash TEXT NOT NULL,
    disabled      BOOLEAN NOT NULL DEFAULT FALSE,
    created_at    DATETIME NOT NULL,
    updated_at    DATETIME NOT NULL,
    last_login_at DATETIME
);
CREATE UNIQUE INDEX operators_email_idx ON operators(email);

CREATE TABLE operator_sessions (
    token_hash   TEXT PRIMARY KEY,
    operator_id  TEXT NOT NULL REFERENCES operators(id) ON DELETE CASCADE,
    created_at   DATETIME NOT NULL,
    expires_at   DATETIME NOT NULL,
    last_seen_at DATETIME NOT NULL
);
CREATE INDEX operator_sessions_operator_idx ON operator_sessions(operator_id);
CREATE INDEX operator_sessions_expiry_idx ON operator_sessions(expires_at);

CREATE TABLE operator_tokens (
    id           TEXT PRIMARY KEY,
    operator_id  TEXT NOT NULL REFERENCES operators(id) ON DELETE CASCADE,
    name         TEXT NOT NULL DEFAULT '',
    token_hash   TEXT NOT NULL,
    created_at   DATETIME NOT NULL,
    expires_at   DATETIME,
    last_used_at DATETIME
);
CREATE UNIQUE INDEX operator_tokens_hash_idx ON operator_tokens(token_hash);
CREATE INDEX operator_tokens_operator_idx ON operator_tokens(operator_id);

CREATE TABLE casbin_rule (
    id    INTEGER PRIMARY KEY AUTOINCREMENT,
    ptype TEXT NOT NULL,
    v0    TEXT NOT NULL DEFAULT '',
    v1    TEXT NOT NULL DEFAULT '',
    v2    TEXT NOT NULL DEFAULT '',
    v3    TEXT NOT NULL DEFAULT '',
    v4    TEXT NOT NULL DEFAULT '',
    v5    TEXT NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX casbin_rule_unique_idx ON casbin_rule(ptype, v0, v1, v2, v3, v4, v5);
