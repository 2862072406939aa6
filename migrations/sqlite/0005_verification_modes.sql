-- Verification modes (issue 7): per-project modes, server-to-server API keys,
-- the site's IdP for token exchange, identity mappings, per-user overrides and
-- blocks, and the end-user role rules enforced by the Casbin role gate.
CREATE TABLE project_auth_modes (
    project_id  TEXT PRIMARY KEY REFERENCES projects(id) ON DELETE CASCADE,
    modes       TEXT NOT NULL DEFAULT '["password"]',
    updated_by  TEXT NOT NULL DEFAULT '',
    updated_at  DATETIME NOT NULL
);

-- API keys: only the SHA-256 of the full key is stored; id is the public key id.
CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,
    project_id   TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    name         TEXT NOT NULL DEFAULT '',
    secret_hash  TEXT NOT NULL,
    created_by   TEXT NOT NULL DEFAULT '',
    created_at   DATETIME NOT NULL,
    last_used_at DATETIME,
    revoked_at   DATETIME,
    revoked_by   TEXT NOT NULL DEFAULT ''
);
CREATE INDEX api_keys_project_idx ON api_keys(project_id);

-- The site's identity provider; an HS secret lives in the secret backend
-- under "<projectId>:idp" (hs_secret_version), never here.
CREATE TABLE idp_configs (
    project_id        TEXT PRIMARY KEY REFERENCES projects(id) ON DELETE CASCADE,
    issuer            TEXT NOT NULL,
    jwks_url          TEXT NOT NULL DEFAULT '',
    audiences         TEXT NOT NULL DEFAULT '[]',
    algorithms        TEXT NOT NULL DEFAULT '[]',
    leeway_seconds    INTEGER NOT NULL DEFAULT 60,
    hs_secret_version INTEGER NOT NULL DEFAULT 0,
    updated_by        TEXT NOT NULL DEFAULT '',
    updated_at        DATETIME NOT NULL
);

CREATE TABLE identity_mappings (
    project_id      TEXT PRIMARY KEY REFERENCES projects(id) ON DELETE CASCADE,
    id_claim        TEXT NOT NULL DEFAULT 'sub',
    prefix          TEXT NOT NULL DEFAULT '',
    firstname_claim TEXT NOT NULL DEFAULT '',
    lastname_claim  TEXT NOT NULL DEFAULT '',
    email_claim     TEXT NOT NULL DEFAULT '',
    roles_claim     TEXT NOT NULL DEFAULT '',
    attributes      TEXT NOT NULL DEFAULT '["*"]',
    updated_by      TEXT NOT NULL DEFAULT '',
    updated_at      DATETIME NOT NULL
);

CREATE TABLE identity_overrides (
    project_id  TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    external_id TEXT NOT NULL,
    force_id    TEXT NOT NULL DEFAULT '',
    attributes  TEXT NOT NULL DEFAULT '{}',
    blocked     BOOLEAN NOT NULL DEFAULT FALSE,
    note        TEXT NOT NULL DEFAULT '',
    updated_by  TEXT NOT NULL DEFAULT '',
    created_at  DATETIME NOT NULL,
    updated_at  DATETIME NOT NULL,
    PRIMARY KEY (project_id, external_id)
);

