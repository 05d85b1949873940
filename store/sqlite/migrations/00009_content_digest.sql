-- +goose Up

-- The digest of a request's content as of its last change (reviews record
-- the digest they saw; '' for requests stored before digests, which get
-- one at their next change), and what the requester asked of the policy at
-- create (a stored policy's name and an inline policy of extra
-- requirements, JSON; NULL for nothing), kept to resolve the policy afresh
-- when the request moves to another service rule.
ALTER TABLE approvals ADD COLUMN content_digest TEXT NOT NULL DEFAULT '';
ALTER TABLE approvals ADD COLUMN policy_request TEXT;

-- One row at most, written and deleted by the readiness probe that runs
-- after a write failed for want of room: it needs pages as real writes do.
CREATE TABLE readiness_probe (
    id     INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    filler BLOB    NOT NULL
);

-- +goose Down
DROP TABLE readiness_probe;
ALTER TABLE approvals DROP COLUMN policy_request;
ALTER TABLE approvals DROP COLUMN content_digest;
