-- Scheduled rotation (issue 13): per project, every every_days days, inside
-- a daily UTC window [window_start, window_end) in whole hours (a window may
-- wrap past midnight: 22-02). No row: scheduled rotation is off.
-- next_due_at is when the scheduler next looks at the project; replicas
-- claim a due project with a conditional UPDATE of claimed_by/claimed_until
-- (a lease), so only one of them rotates it. last_* is the last attempt's
-- outcome (ok/failed) and its client-safe reason; never a secret.
CREATE TABLE rotation_policies (
    project_id      TEXT PRIMARY KEY REFERENCES projects(id) ON DELETE CASCADE,
    every_days      INTEGER NOT NULL,
    window_start    INTEGER NOT NULL,
    window_end      INTEGER NOT NULL,
    next_due_at     TIMESTAMPTZ NOT NULL,
    claimed_by      TEXT NOT NULL DEFAULT '',
    claimed_until   TIMESTAMPTZ,
    last_attempt_at TIMESTAMPTZ,
    last_outcome    TEXT NOT NULL DEFAULT '',
    last_error      TEXT NOT NULL DEFAULT '',
    updated_by      TEXT NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX rotation_policies_due_idx ON rotation_policies (next_due_at);
