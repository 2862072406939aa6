-- TOTP second factor for operators (issue 12, item 3). The TOTP secret
-- itself lives in the secret backend (id "<operatorId>:totp", version
-- secret_version), never in SQL. enrolled_at is NULL while an enrolment is
-- started but not yet confirmed with a code; last_step is the last accepted
-- 30-second step (a code of that step or an earlier one is a replay);
-- failures counts consecutive wrong codes (reset by a good one).
CREATE TABLE operator_totp (
    operator_id     TEXT PRIMARY KEY REFERENCES operators(id) ON DELETE CASCADE,
    secret_version  INTEGER NOT NULL,
    enrolled_at     TIMESTAMPTZ,
    last_step       INTEGER NOT NULL DEFAULT 0,
    failures        INTEGER NOT NULL DEFAULT 0,
    last_failure_at TIMESTAMPTZ,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL
);
-- Recovery codes: SHA-256 (hex) of each high-entropy code, single use.
CREATE TABLE operator_recovery_codes (
    operator_id TEXT NOT NULL REFERENCES operators(id) ON DELETE CASCADE,
    code_hash   TEXT NOT NULL,
    used_at     TIMESTAMPTZ,
    created_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (operator_id, code_hash)
);
-- second_factor: the session passed the second factor (TOTP or a recovery
-- code, or enrolled TOTP during it). pending: password checked, code not
-- yet: such a session grants nothing but the code step of the sign-in.
ALTER TABLE operator_sessions ADD COLUMN second_factor BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE operator_sessions ADD COLUMN pending BOOLEAN NOT NULL DEFAULT FALSE;
-- Per-tenant enforcement: members must enrol TOTP before acting in the tenant.
ALTER TABLE tenants ADD COLUMN require_totp BOOLEAN NOT NULL DEFAULT FALSE;
