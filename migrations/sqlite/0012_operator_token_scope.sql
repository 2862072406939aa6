-- Operator API tokens: an optional tenant the token is limited to ('' = every
-- tenant of its operator) and a read-only flag (GET/HEAD only). Tokens
-- without an expiry (created before lifetimes existed) expire at created_at
-- plus PINGAUTH_OPERATOR_TOKEN_MAX_TTL (enforced in code).
ALTER TABLE operator_tokens ADD COLUMN tenant_id TEXT NOT NULL DEFAULT '';
ALTER TABLE operator_tokens ADD COLUMN read_only BOOLEAN NOT NULL DEFAULT FALSE;
