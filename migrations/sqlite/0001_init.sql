-- Foundation schema: tenants, projects, end-users, secret metadata, sealed
-- secret values (embedded backend only) and the audit log.
CREATE TABLE tenants (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    created_at  DATETIME NOT NULL,
    updated_at  DATETIME NOT NULL
);

CREATE TABLE projects (
    id                TEXT PRIMARY KEY,
    tenant_id         TEXT NOT NULL REFERENCES tenants(id) ON DELETE RESTRICT,
    name              TEXT NOT NULL,
    allowed_origins   TEXT NOT NULL DEFAULT '[]',
    token_ttl_seconds INTEGER NOT NULL DEFAULT 900,
    audience_base     TEXT NOT NULL DEFAULT '',
    status            TEXT NOT NULL DEFAULT 'active',
    created_at        DATETIME NOT NULL,
    updated_at        DATETIME NOT NULL
);
CREATE INDEX projects_tenant_idx ON projects(tenant_id);

CREATE TABLE end_users (
    id            TEXT PRIMARY KEY,
    project_id    TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    external_id   TEXT NOT NULL,
    email         TEXT NOT NULL DEFAULT '',
    username      TEXT NOT NULL DEFAULT '',
    firstname     TEXT NOT NULL DEFAULT '',
    lastname      TEXT NOT NULL DEFAULT '',
    password_hash TEXT NOT NULL DEFAULT '',
    attributes    TEXT NOT NULL DEFAULT '{}',
    roles         TEXT NOT NULL DEFAULT '[]',
    enabled       BOOLEAN NOT NULL DEFAULT TRUE,
    created_at    DATETIME NOT NULL,
    updated_at    DATETIME NOT NULL
);
CREATE UNIQUE INDEX end_users_external_idx ON end_users(project_id, external_id);
CREATE UNIQUE INDEX end_users_email_idx ON end_users(project_id, email) WHERE email <> '';
CREATE UNIQUE INDEX end_users_username_idx ON end_users(project_id, username) WHERE username <> '';

-- Metadata of every secret version; never the value.
CREATE TABLE secret_versions (
    project_id    TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    version       INTEGER NOT NULL,
    backend       TEXT NOT NULL,
    source        TEXT NOT NULL,
    created_by    TEXT NOT NULL,
    created_at    DATETIME NOT NULL,
    superseded_at DATETIME,
    grace_until   DATETIME,
    PRIMARY KEY (project_id, version)
);

-- Values of the embedded ("sealed") backend: AES-256-GCM ciphertext only.
CREATE TABLE sealed_secrets (
    project_id  TEXT NOT NULL,
    version     INTEGER NOT NULL,
    nonce       BLOB NOT NULL,
    ciphertext  BLOB NOT NULL,
    created_at  DATETIME NOT NULL,
    PRIMARY KEY (project_id, version)
);

CREATE TABLE audit_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at          DATETIME NOT NULL,
    actor       TEXT NOT NULL,
    tenant_id   TEXT NOT NULL DEFAULT '',
    project_id  TEXT NOT NULL DEFAULT '',
    action      TEXT NOT NULL,
    target      TEXT NOT NULL DEFAULT '',
    details     TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_events_tenant_idx ON audit_events(tenant_id, at);
CREATE INDEX audit_events_project_idx ON audit_events(project_id, at);
