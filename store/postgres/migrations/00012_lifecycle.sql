-- +goose Up

-- Statuses 10 (changes_requested) and 11 (revoked): the CHECK is loosened,
-- which every existing row satisfies.
ALTER TABLE approvals
    DROP CONSTRAINT approvals_status_check,
    ADD CONSTRAINT approvals_status_check CHECK (status BETWEEN 1 AND 11);

-- The requester's justification; the items (a JSON array of approval.Item);
-- the outcome item by item (NULL until decided); the request-changes
-- cycles; the revocation (NULL unless revoked).
ALTER TABLE approvals
    ADD COLUMN justification text    NOT NULL DEFAULT '',
    ADD COLUMN items         json    NOT NULL DEFAULT '[]',
    ADD COLUMN item_outcome  json,
    ADD COLUMN cycle         integer NOT NULL DEFAULT 0,
    ADD COLUMN revocation    json;

-- A stored policy's match (a CEL expression, '' for none) and priority.
ALTER TABLE policies
    ADD COLUMN match    text    NOT NULL DEFAULT '',
    ADD COLUMN priority integer NOT NULL DEFAULT 0;

-- Overdue requests are pending or sent back for changes: the sweeper reads
-- this index in deadline order (approvals_overdue, pending only, stays for
-- an older approvald during a rollout).
CREATE INDEX approvals_overdue_open ON approvals (deadline, id) WHERE status IN (2, 10) AND deadline IS NOT NULL;

-- +goose Down
DROP INDEX approvals_overdue_open;
ALTER TABLE policies
    DROP COLUMN priority,
    DROP COLUMN match;
ALTER TABLE approvals
    DROP COLUMN revocation,
    DROP COLUMN cycle,
    DROP COLUMN item_outcome,
    DROP COLUMN items,
    DROP COLUMN justification;
ALTER TABLE approvals
    DROP CONSTRAINT approvals_status_check,
    ADD CONSTRAINT approvals_status_check CHECK (status BETWEEN 1 AND 9) NOT VALID;
