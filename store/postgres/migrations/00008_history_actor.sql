-- +goose Up

-- The history of every request, filtered by actor, in the order it was
-- written (GET /v1/history?actor=): a range of this index, read in id order.
-- The unfiltered list walks the primary key; a request's entries are a
-- range of history_request_seq.
--
-- Building it holds off writes to history for as long as it takes (seconds
-- at a million requests). Where that matters, create it beforehand with
--   CREATE INDEX CONCURRENTLY history_actor ON history (actor, id);
-- and this migration finds it there.
CREATE INDEX IF NOT EXISTS history_actor ON history (actor, id);

-- +goose Down
DROP INDEX history_actor;
