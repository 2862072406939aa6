-- Keyset pages of projects (issue 15): every project list orders by
-- (tenant_id, id) and resumes after the last row's key, one range scan of
-- this index per page. It replaces the tenant-only index (a prefix of it).
CREATE INDEX projects_tenant_id_idx ON projects(tenant_id, id);
DROP INDEX projects_tenant_idx;
-- Project search (id or name contains the text, case-insensitive) is a LIKE
-- on lower(id || ' ' || name) (internal/project searchDoc), served by a
-- pg_trgm GIN index; the extension is there since 0015, in whichever schema
-- holds it, which qualifies the operator class. No line of the DO block
-- ends with ';' (the migration runner splits statements there).
DO $$
DECLARE ext_schema text
; BEGIN
    SELECT n.nspname INTO ext_schema FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm'
    ; EXECUTE format('CREATE INDEX projects_search_idx ON projects USING gin ((lower(id || '' '' || name)) %I.gin_trgm_ops)', ext_schema)
; END
$$;
