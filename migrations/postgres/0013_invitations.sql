-- Operator invitations (issue 12): a tenant admin invites an email to a
-- tenant role; the invitee accepts through a one-time link (a new person sets
-- their own password, an existing account signs in as itself). Only the
-- SHA-256 of the link's 32-byte random token is stored.
CREATE TABLE invitations (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    email       TEXT NOT NULL,
    role        TEXT NOT NULL,
    token_hash  TEXT NOT NULL,
    invited_by  TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL,
    accepted_at TIMESTAMPTZ,
    accepted_by TEXT NOT NULL DEFAULT '',
    revoked_at  TIMESTAMPTZ
);
CREATE UNIQUE INDEX invitations_token_idx ON invitations(token_hash);
CREATE INDEX invitations_tenant_idx ON invitations(tenant_id, created_at);
