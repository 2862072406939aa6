-- Keyset pages of projects (issue 15): every project list orders by
-- (tenant_id, id) and resumes after the last row's key, one range scan of
-- this index per page. It replaces the tenant-only index (a prefix of it).
CREATE INDEX projects_tenant_id_idx ON projects(tenant_id, id);
DROP INDEX projects_tenant_idx;
-- Project search is a LIKE on lower(id || ' ' || name) (internal/project
-- searchDoc). SQLite has no trigram index for it: an embedded deployment's
-- project count is scanned (100k rows in tens of milliseconds); PostgreSQL
-- has projects_search_idx.
