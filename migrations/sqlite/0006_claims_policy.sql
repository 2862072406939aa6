-- Claims policy (see internal/token/claims.go):
-- a tenant's deny-list of emails and domains that never appear in a token
-- (JSON array of normalised entries), and per IdP whether the issuer only
-- issues verified emails (default off: exchange mode passes `email` only
-- when the token says email_verified).
ALTER TABLE tenants ADD COLUMN email_denylist TEXT NOT NULL DEFAULT '[]';
ALTER TABLE idp_configs ADD COLUMN emails_verified BOOLEAN NOT NULL DEFAULT FALSE;
