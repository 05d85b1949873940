-- +goose Up

-- The request fields of stored policies, dependencies and reminders.
-- depends_on is a JSON array of request ids; remind_after is nanoseconds;
-- next_reminder_at is unix microseconds like the other times.
ALTER TABLE approvals ADD COLUMN policy_source    TEXT    NOT NULL DEFAULT 'default';
ALTER TABLE approvals ADD COLUMN depends_on       TEXT    NOT NULL DEFAULT '[]';
ALTER TABLE approvals ADD COLUMN remind_after     INTEGER NOT NULL DEFAULT 0;
ALTER TABLE approvals ADD COLUMN next_reminder_at INTEGER;
ALTER TABLE approvals ADD COLUMN reason           TEXT    NOT NULL DEFAULT '';
-- blocked is Request.Index().Blocked: the policy is satisfied and only
-- dependencies keep the request pending.
ALTER TABLE approvals ADD COLUMN blocked          INTEGER NOT NULL DEFAULT 0 CHECK (blocked IN (0, 1));

-- Due reminders, earliest first (2 = pending). blocked is in the index so
-- that the query reads only the index.
CREATE INDEX approvals_reminders ON approvals (next_reminder_at, id, blocked)
    WHERE status = 2 AND next_reminder_at IS NOT NULL;
-- Pending requests held only by their dependencies, for the sweep that
-- resolves them.
CREATE INDEX approvals_blocked ON approvals (id) WHERE status = 2 AND blocked = 1;

-- policies are the stored, named policies. policy is JSON as the domain
-- encodes it; requests copy it when they are created.
CREATE TABLE policies (
    name        TEXT    NOT NULL PRIMARY KEY,
    description TEXT    NOT NULL DEFAULT '',
    policy      TEXT    NOT NULL,
    version     INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
) STRICT;

-- The stored policy of requests made for a rule that choose none; '' for
-- the server default. The store refuses a name that is not in policies,
-- and deleting a policy a rule names.
ALTER TABLE service_rules ADD COLUMN policy TEXT NOT NULL DEFAULT '';

-- The request index (approval.Request.Index), rewritten with every write of
-- a request and empty unless it is pending. approval_inbox holds one row per
-- reviewer key ("*", "p:<principal>", "g:<group>") whose review the open
-- stage still needs; an inbox reads one key's range, in id order.
CREATE TABLE approval_inbox (
    key        TEXT NOT NULL,
    request_id TEXT NOT NULL REFERENCES approvals (id),
    PRIMARY KEY (key, request_id)
) STRICT, WITHOUT ROWID;

-- The rows of one request, to rewrite them.
CREATE INDEX approval_inbox_request ON approval_inbox (request_id);

-- Principals who must not see the request in their inbox although a key
-- matches: those who reviewed it, and the requester unless self-review is allowed.
CREATE TABLE approval_excluded (
    request_id TEXT NOT NULL REFERENCES approvals (id),
    principal  TEXT NOT NULL,
    PRIMARY KEY (request_id, principal)
) STRICT, WITHOUT ROWID;

-- The dependencies of pending requests, and (by the second index) the
-- pending dependents of a request.
CREATE TABLE approval_deps (
    request_id TEXT NOT NULL REFERENCES approvals (id),
    depends_on TEXT NOT NULL,
    PRIMARY KEY (request_id, depends_on)
) STRICT, WITHOUT ROWID;

CREATE INDEX approval_deps_depends_on ON approval_deps (depends_on, request_id);

-- Requests created before this migration have no index rows. Their index
-- comes from their policy JSON, which SQL cannot evaluate: the store's Open
-- writes it (see backfillIndex) while this row is present, and deletes the
-- row in the same transaction. A request written later gets its rows with
-- that write in any case.
CREATE TABLE meta (
    key   TEXT NOT NULL PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;

INSERT INTO meta (key, value) VALUES ('backfill_index', '00005');

-- +goose Down
DROP TABLE meta;
DROP TABLE approval_deps;
DROP TABLE approval_excluded;
DROP TABLE approval_inbox;
ALTER TABLE service_rules DROP COLUMN policy;
DROP TABLE policies;
DROP INDEX approvals_blocked;
DROP INDEX approvals_reminders;
ALTER TABLE approvals DROP COLUMN blocked;
ALTER TABLE approvals DROP COLUMN reason;
ALTER TABLE approvals DROP COLUMN next_reminder_at;
ALTER TABLE approvals DROP COLUMN remind_after;
ALTER TABLE approvals DROP COLUMN depends_on;
ALTER TABLE approvals DROP COLUMN policy_source;
