-- Refresh credentials (issue 16): a password sign-in made through the widget
-- SDK may ask for an opaque refresh credential, exchanged at
-- POST /auth/<projectId>/refresh for a new widget token without the password.
--
-- Per project: how long a password sign-in is remembered (seconds; 0 turns
-- refresh credentials off). Existing projects get the default of 30 days;
-- nothing changes for clients that do not ask for a credential.
ALTER TABLE projects ADD COLUMN refresh_ttl_seconds INTEGER NOT NULL DEFAULT 2592000;
-- When an operator last set the end-user's password (not a transparent
-- rehash): refresh credentials issued before it are refused.
ALTER TABLE end_users ADD COLUMN password_changed_at DATETIME;

-- One row per credential ever issued. A family is one password sign-in and
-- its rotations: every use marks the presented row used and inserts its
-- successor; presenting a used row revokes the whole family. Only the
-- SHA-256 of the credential's 256-bit secret is stored; the id is public.
-- Successors keep the family's expires_at (the refresh TTL is counted from
-- the password sign-in).
CREATE TABLE refresh_tokens (
    id          TEXT PRIMARY KEY,
    family_id   TEXT NOT NULL,
    project_id  TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    end_user_id TEXT NOT NULL REFERENCES end_users(id) ON DELETE CASCADE,
    hash        TEXT NOT NULL,
    created_at  DATETIME NOT NULL,
    expires_at  DATETIME NOT NULL,
    used_at     DATETIME,
    revoked_at  DATETIME,
    reason      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens(family_id);
CREATE INDEX refresh_tokens_user_idx ON refresh_tokens(project_id, end_user_id);
CREATE INDEX refresh_tokens_expires_idx ON refresh_tokens(expires_at);
