-- +goose Up

-- The requester's justification; the items (a JSON array of approval.Item);
-- the outcome item by item (JSON, NULL until decided); the request-changes
-- cycles; the revocation (JSON, NULL unless revoked).
ALTER TABLE approvals ADD COLUMN justification TEXT    NOT NULL DEFAULT '';
ALTER TABLE approvals ADD COLUMN items         TEXT    NOT NULL DEFAULT '[]';
ALTER TABLE approvals ADD COLUMN item_outcome  TEXT;
ALTER TABLE approvals ADD COLUMN cycle         INTEGER NOT NULL DEFAULT 0;
ALTER TABLE approvals ADD COLUMN revocation    TEXT;

-- A stored policy's match (a CEL expression, '' for none) and priority.
ALTER TABLE policies ADD COLUMN match    TEXT    NOT NULL DEFAULT '';
ALTER TABLE policies ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;

-- Statuses 10 (changes_requested) and 11 (revoked). SQLite cannot alter a
-- CHECK constraint, and rebuilding approvals would mean dropping the table
-- every other one references; loosening a CHECK changes nothing on disk,
-- so the table's definition is edited in place (the procedure SQLite
-- documents for it, "ALTER TABLE" section 7). It comes after the ALTER
-- TABLEs, which place a new column by the definition's length as last
-- loaded; RESET reloads it on this connection, and the ALTER TABLEs'
-- change of the schema cookie makes the others reload it.
PRAGMA writable_schema = ON;
UPDATE sqlite_schema SET sql = replace(sql, 'CHECK (status BETWEEN 1 AND 9)', 'CHECK (status BETWEEN 1 AND 11)')
    WHERE type = 'table' AND name = 'approvals';
PRAGMA writable_schema = RESET;

-- Overdue requests are pending or sent back for changes: the sweeper reads
-- this index in deadline order (approvals_overdue, pending only, stays for
-- an older approvald during a rollout).
CREATE INDEX approvals_overdue_open ON approvals (deadline, id, status) WHERE status IN (2, 10) AND deadline IS NOT NULL;

-- +goose Down
DROP INDEX approvals_overdue_open;
ALTER TABLE policies DROP COLUMN priority;
ALTER TABLE policies DROP COLUMN match;
ALTER TABLE approvals DROP COLUMN revocation;
ALTER TABLE approvals DROP COLUMN cycle;
ALTER TABLE approvals DROP COLUMN item_outcome;
ALTER TABLE approvals DROP COLUMN items;
ALTER TABLE approvals DROP COLUMN justification;
PRAGMA writable_schema = ON;
UPDATE sqlite_schema SET sql = replace(sql, 'CHECK (status BETWEEN 1 AND 11)', 'CHECK (status BETWEEN 1 AND 9)')
    WHERE type = 'table' AND name = 'approvals';
PRAGMA writable_schema = RESET;
