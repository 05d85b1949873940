-- +goose Up

-- The W3C traceparent of the change that made an event ('' when it was not
-- traced), so that the event's delivery can be linked to that trace.
ALTER TABLE outbox ADD COLUMN trace_parent TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE outbox DROP COLUMN trace_parent;
