-- +goose Up

-- The history of every request, filtered by actor, in the order it was
-- written (GET /v1/history?actor=): a range of this index, read in id order.
-- The unfiltered list walks the primary key; a request's entries are a
-- range of the (request_id, seq) unique index.
CREATE INDEX history_actor ON history (actor, id);

-- +goose Down
DROP INDEX history_actor;
