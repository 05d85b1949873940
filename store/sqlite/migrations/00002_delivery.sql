-- +goose Up

-- service_rules are the delivery targets of decisions. id is the number the
-- legacy API knows a rule by; AUTOINCREMENT keeps it from ever being reused.
-- secret and api_key are kept as given: the dispatcher needs them to sign
-- and to authenticate (the API never shows them). headers is a JSON object.
CREATE TABLE service_rules (
    id           INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    name         TEXT    NOT NULL UNIQUE,
    url          TEXT    NOT NULL,
    format       TEXT    NOT NULL,
    secret       TEXT    NOT NULL DEFAULT '',
    api_key      TEXT    NOT NULL DEFAULT '',
    timeout_ms   INTEGER NOT NULL,
    max_attempts INTEGER NOT NULL,
    headers      TEXT    NOT NULL DEFAULT '{}',
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
) STRICT;

-- An event with a webhook (the name of the service rule it must be delivered
-- to) is due at next_attempt_at until webhook_done_at is set; a worker that
-- claims it moves next_attempt_at to the end of its lease. publish_after is
-- the lease of the event-bus publisher on an unpublished event.
ALTER TABLE outbox ADD COLUMN webhook         TEXT;
ALTER TABLE outbox ADD COLUMN webhook_done_at INTEGER;
ALTER TABLE outbox ADD COLUMN last_error      TEXT;
ALTER TABLE outbox ADD COLUMN publish_after   INTEGER;

CREATE INDEX outbox_due ON outbox (next_attempt_at, seq) WHERE webhook IS NOT NULL AND webhook_done_at IS NULL;

-- +goose Down
DROP INDEX outbox_due;
ALTER TABLE outbox DROP COLUMN publish_after;
ALTER TABLE outbox DROP COLUMN last_error;
ALTER TABLE outbox DROP COLUMN webhook_done_at;
ALTER TABLE outbox DROP COLUMN webhook;
DROP TABLE service_rules;
