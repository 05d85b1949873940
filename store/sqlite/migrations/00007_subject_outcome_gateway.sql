-- +goose Up

-- A request's subject, the requester's reference for what it is about
-- (fixed at create; '' for none), and its outcome, what the service that
-- acted on the approval reported it did: JSON as the domain encodes it,
-- NULL until then.
ALTER TABLE approvals ADD COLUMN subject TEXT NOT NULL DEFAULT '';
ALTER TABLE approvals ADD COLUMN outcome TEXT;

-- Lists by subject, newest first. Most requests have none; the lists
-- repeat the WHERE so that SQLite may read the index.
CREATE INDEX approvals_subject ON approvals (subject, id) WHERE subject <> '';

-- gateway_calls is the log of the calls of the CR8TOR gateway routes,
-- append-only. at is unix microseconds like the other times; '' and 0 stand
-- for what a call did not have (a caller, a route, a run, an upstream
-- answer, an error detail, an approval request). AUTOINCREMENT keeps ids
-- from ever being reused, so a cursor stays valid.
CREATE TABLE gateway_calls (
    id               INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    at               INTEGER NOT NULL,
    caller           TEXT    NOT NULL,
    route            TEXT    NOT NULL,
    project_name     TEXT    NOT NULL,
    start_time       TEXT    NOT NULL,
    upstream_status  INTEGER NOT NULL,
    status           INTEGER NOT NULL,
    duration_us      INTEGER NOT NULL,
    detail           TEXT    NOT NULL,
    approval_request TEXT    NOT NULL
) STRICT;

-- The calls of one project, or one run of it, newest first. The primary
-- key serves the unfiltered list.
CREATE INDEX gateway_calls_run ON gateway_calls (project_name, start_time, id);

-- +goose Down
DROP TABLE gateway_calls;
DROP INDEX approvals_subject;
ALTER TABLE approvals DROP COLUMN outcome;
ALTER TABLE approvals DROP COLUMN subject;
