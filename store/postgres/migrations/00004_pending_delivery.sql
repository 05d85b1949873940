-- +goose Up
-- A request's unfinished delivery, shown on reads of an acknowledged request.
CREATE INDEX outbox_pending_by_request ON outbox (request_id, seq)
    WHERE webhook IS NOT NULL AND webhook_done_at IS NULL;

-- +goose Down
DROP INDEX outbox_pending_by_request;
