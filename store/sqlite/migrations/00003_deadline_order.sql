-- +goose Up
-- Lists ordered by deadline (the legacy API's GET /requests) walk this
-- index instead of sorting every request.
CREATE INDEX approvals_deadline ON approvals (deadline, id);

-- +goose Down
DROP INDEX approvals_deadline;
