-- Chat-server sync jobs (issue 13): a durable outbox of what pingauth must
-- make the chat server agree with. kind 'ban': a blocked end-user (override
-- blocked) is banned on the chat server under the visitor _id its tokens
-- carried (POST /projects/<id>/ban), an unblocked one is unbanned; one row
-- per (project, visitor id) holding the desired state, the chat server's
-- ban _id, attempts, the last error (a safe message, never a credential)
-- and the next attempt. kind 'rotation_store' (visitor_id ''): the chat
-- server switched to a new secret that pingauth could not store; the row
-- marks the project degraded. The secret itself is never in SQL (the
-- retrying instance keeps it in memory only). generation grows with every
-- new desired state so a worker's late result never overwrites a newer one.
CREATE TABLE chat_sync_jobs (
    project_id      TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    kind            TEXT NOT NULL,
    visitor_id      TEXT NOT NULL,
    tenant_id       TEXT NOT NULL,
    external_id     TEXT NOT NULL DEFAULT '',
    desired         TEXT NOT NULL,
    ban_id          TEXT NOT NULL DEFAULT '',
    state           TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT NOT NULL DEFAULT '',
    generation      INTEGER NOT NULL DEFAULT 1,
    requested_by    TEXT NOT NULL DEFAULT '',
    next_attempt_at TIMESTAMPTZ NOT NULL,
    synced_at       TIMESTAMPTZ,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (project_id, kind, visitor_id)
);

CREATE INDEX chat_sync_jobs_due ON chat_sync_jobs (state, next_attempt_at);
CREATE INDEX chat_sync_jobs_tenant ON chat_sync_jobs (tenant_id, state);
