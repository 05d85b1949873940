-- +goose Up

-- A request's subject, the requester's reference for what it is about
-- (fixed at create; '' for none), and its outcome, what the service that
-- acted on the approval reported it did: json like payload (the exact
-- bytes written), NULL until then.
ALTER TABLE approvals
    ADD COLUMN subject text NOT NULL DEFAULT '',
    ADD COLUMN outcome json;

-- Lists by subject, newest first. Most requests have none; the lists
-- repeat the WHERE so that a generic plan may read the index too.
CREATE INDEX approvals_subject ON approvals (subject, id DESC) WHERE subject <> '';

-- gateway_calls is the log of the calls of the CR8TOR gateway routes,
-- append-only. '' and 0 stand for what a call did not have (a caller, a
-- route, a run, an upstream answer, an error detail, an approval request).
-- id comes from an identity sequence, which never hands out a number twice.
CREATE TABLE gateway_calls (
    id               bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at               timestamptz NOT NULL,
    caller           text        NOT NULL,
    route            text        NOT NULL,
    project_name     text        NOT NULL,
    start_time       text        NOT NULL,
    upstream_status  integer     NOT NULL,
    status           integer     NOT NULL,
    duration_us      bigint      NOT NULL,
    detail           text        NOT NULL,
    approval_request text        NOT NULL
);

-- The calls of one project, or one run of it, newest first. The primary
-- key serves the unfiltered list.
CREATE INDEX gateway_calls_run ON gateway_calls (project_name, start_time, id DESC);

-- +goose Down
DROP TABLE gateway_calls;
DROP INDEX approvals_subject;
ALTER TABLE approvals
    DROP COLUMN outcome,
    DROP COLUMN subject;
