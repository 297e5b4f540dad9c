-- A lone transition on SQLite is one text from BEGIN to COMMIT (docs/DECISIONS.md): when its
-- ticket's versioned update changed no row (the version moved), the text must fail right
-- there, before anything else of it is written or committed. Inserting `changes()` into this
-- view does that: its trigger refuses a 0 and writes nothing otherwise (no page is touched).
CREATE VIEW conflict_guard AS SELECT 0 AS changed;
CREATE TRIGGER conflict_guard_refuses INSTEAD OF INSERT ON conflict_guard
WHEN NEW.changed = 0
BEGIN
    SELECT RAISE(ABORT, 'linli: version conflict');
END;
