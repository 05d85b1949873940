-- +goose Up

-- service_rules are the delivery targets of decisions. id is the number the
-- legacy API knows a rule by; an identity never hands a number out twice.
-- secret and api_key are kept as given: the dispatcher needs them to sign
-- and to authenticate (the API never shows them). headers is a JSON object.
CREATE TABLE service_rules (
    id           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name         text        NOT NULL,
    url          text        NOT NULL,
    format       text        NOT NULL,
    secret       text        NOT NULL DEFAULT '',
    api_key      text        NOT NULL DEFAULT '',
    timeout_ms   integer     NOT NULL,
    max_attempts integer     NOT NULL,
    headers      json        NOT NULL DEFAULT '{}',
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL,
    CONSTRAINT service_rules_name UNIQUE (name)
);

-- An event with a webhook (the name of the service rule it must be delivered
-- to) is due at next_attempt_at until webhook_done_at is set; a worker that
-- claims it moves next_attempt_at to the end of its lease. publish_after is
-- the lease of the event-bus publisher on an unpublished event.
ALTER TABLE outbox
    ADD COLUMN webhook         text,
    ADD COLUMN webhook_done_at timestamptz,
    ADD COLUMN last_error      text,
    ADD COLUMN publish_after   timestamptz;

CREATE INDEX outbox_due ON outbox (next_attempt_at, seq) WHERE webhook IS NOT NULL AND webhook_done_at IS NULL;

-- +goose Down
DROP INDEX outbox_due;
ALTER TABLE outbox
    DROP COLUMN publish_after,
    DROP COLUMN last_error,
    DROP COLUMN webhook_done_at,
    DROP COLUMN webhook;
DROP TABLE service_rules;
