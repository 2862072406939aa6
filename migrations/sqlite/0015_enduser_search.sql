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

-- Search is a case-insensitive match over one search document per end-user,
--   lower(' ' || email || ' ' || username || ' ' || external_id || ' ' || firstname || ' ' || lastname)
-- (internal/enduser searchDoc spells the same expression). SQLite has no
-- pg_trgm: the documents live in end_user_search, indexed by an FTS5 table
-- with the trigram tokenizer (external content, so the text is stored once),
-- and triggers on end_users keep both in step. Substrings of 3+ characters
-- are a trigram GLOB on the FTS table; shorter searches match word prefixes
-- while walking end_users_list_idx.
--
-- end_user_search has its own INTEGER PRIMARY KEY (seq) as the FTS rowid:
-- the implicit rowid of end_users (a TEXT primary key) may change on VACUUM.
CREATE TABLE end_user_search (
    seq     INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id TEXT NOT NULL UNIQUE,
    doc     TEXT NOT NULL
);
CREATE VIRTUAL TABLE end_user_search_fts USING fts5(doc, content='end_user_search', content_rowid='seq', tokenize='trigram case_sensitive 1');

INSERT INTO end_user_search (user_id, doc)
    SELECT id, lower(' ' || email || ' ' || username || ' ' || external_id || ' ' || firstname || ' ' || lastname) FROM end_users;
INSERT INTO end_user_search_fts (end_user_search_fts) VALUES ('rebuild');

-- The migration runner splits statements at a ';' ending a line, so the
-- statements inside each trigger end mid-line (the next line starts with ';').
CREATE TRIGGER end_users_search_insert AFTER INSERT ON end_users BEGIN
    INSERT INTO end_user_search (user_id, doc)
        VALUES (NEW.id, lower(' ' || NEW.email || ' ' || NEW.username || ' ' || NEW.external_id || ' ' || NEW.firstname || ' ' || NEW.lastname))
    ; INSERT INTO end_user_search_fts (rowid, doc) SELECT seq, doc FROM end_user_search WHERE user_id = NEW.id
; END;

CREATE TRIGGER end_users_search_update AFTER UPDATE OF id, email, username, external_id, firstname, lastname ON end_users BEGIN
    INSERT INTO end_user_search_fts (end_user_search_fts, rowid, doc) SELECT 'delete', seq, doc FROM end_user_search WHERE user_id = OLD.id
    ; UPDATE end_user_search SET user_id = NEW.id,
        doc = lower(' ' || NEW.email || ' ' || NEW.username || ' ' || NEW.external_id || ' ' || NEW.firstname || ' ' || NEW.lastname)
        WHERE user_id = OLD.id
    ; INSERT INTO end_user_search_fts (rowid, doc) SELECT seq, doc FROM end_user_search WHERE user_id = NEW.id
; END;

CREATE TRIGGER end_users_search_delete AFTER DELETE ON end_users BEGIN
    INSERT INTO end_user_search_fts (end_user_search_fts, rowid, doc) SELECT 'delete', seq, doc FROM end_user_search WHERE user_id = OLD.id
    ; DELETE FROM end_user_search WHERE user_id = OLD.id
; END;
