-- 0015: keyset order and indexed search of a project's end-users (issue 15).
--
-- The console and the API list a project's end-users ordered by (email, id)
-- (id is the primary key, so the order is total; end-users without an email
-- sort first) and page by keyset: WHERE project_id = ? AND (email, id) > (?, ?)
-- ORDER BY email, id LIMIT n+1, one range scan of this index however deep.
-- The searched columns after id do not change the order (id is unique); they
-- make the index covering for the search document below, so a search that
-- walks the list order (common and short searches: the first matches come
-- early) filters index entries alone (an index-only scan), never the table.
CREATE INDEX end_users_list_idx ON end_users(project_id, email, id, username, external_id, firstname, lastname);

-- Search is a case-insensitive LIKE over one search document per end-user,
--   lower(' ' || email || ' ' || username || ' ' || external_id || ' ' || firstname || ' ' || lastname)
-- (internal/enduser searchDoc spells the same expression), served by a
-- pg_trgm GIN index: substrings of 3+ characters use its trigrams, and the
-- 1-2 character word-prefix search ('% ab%') its padded word-start trigrams.
--
-- pg_trgm is a contrib extension. It is installed WITH SCHEMA public (an
-- extension lives in one schema per database; a deployment whose search_path
-- is another schema, or test schemas sharing one database, still find it), or
-- kept wherever it already is; the operator class is qualified by that schema.
-- Creating it needs the contrib package and a role allowed to create it: the
-- block fails the migration with a message saying so. Two migrations racing
-- to create it (two schemas of one database) is fine: the loser sees it.
--
-- The migration runner splits statements at a ';' ending a line, so no line
-- inside the DO block ends with one (statements end mid-line or the next line
-- starts with the ';').
DO $$
DECLARE ext_schema text
; BEGIN
    SELECT n.nspname INTO ext_schema FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm'
    ; IF ext_schema IS NULL THEN
        BEGIN
            CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public
        ; EXCEPTION
            WHEN unique_violation OR duplicate_object THEN NULL
            ; WHEN OTHERS THEN
                RAISE EXCEPTION 'migration 0015 needs the PostgreSQL extension pg_trgm, which could not be created (%): install the postgresql-contrib package on the database server, or have a superuser run CREATE EXTENSION pg_trgm WITH SCHEMA public in this database, then run pingauth again', SQLERRM
                    USING HINT = 'install postgresql-contrib, or run as a superuser: CREATE EXTENSION pg_trgm WITH SCHEMA public'
        ; END
        ; SELECT n.nspname INTO ext_schema FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm'
    ; END IF
    ; EXECUTE format('CREATE INDEX end_users_search_idx ON end_users USING gin ((lower('' '' || email || '' '' || username || '' '' || external_id || '' '' || firstname || '' '' || lastname)) %I.gin_trgm_ops)', ext_schema)
; END
$$;
