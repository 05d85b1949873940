-- +goose Up

-- approvals holds the current state of every request. payload, policy,
-- reviews and delivery are JSON as the domain encodes them, in columns of
-- type json (not jsonb), which keep the exact bytes written: the API returns
-- them as they are. history_head is the hash of the request's latest history
-- entry.
CREATE TABLE approvals (
    id              uuid        NOT NULL PRIMARY KEY, -- UUIDv7, so ids sort by creation time
    title           text        NOT NULL,
    description     text        NOT NULL DEFAULT '',
    payload         json        NOT NULL,
    requester       text        NOT NULL,
    service_rule    text        NOT NULL DEFAULT '',
    deadline        timestamptz,
    policy          json        NOT NULL,
    status          smallint    NOT NULL CHECK (status BETWEEN 1 AND 9),
    previous_status smallint,
    comment         text        NOT NULL DEFAULT '',
    reviews         json        NOT NULL DEFAULT '[]',
    delivery        json,
    version         bigint      NOT NULL,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    decided_at      timestamptz,
    history_head    text        NOT NULL
);

-- Lists filter on one of these and page newest first (id DESC).
CREATE INDEX approvals_status       ON approvals (status, id DESC);
CREATE INDEX approvals_requester    ON approvals (requester, id DESC);
CREATE INDEX approvals_service_rule ON approvals (service_rule, id DESC);
-- Only pending requests with a deadline can become overdue (2 = pending).
-- It holds id too, so that the overdue query reads only the index, in order.
CREATE INDEX approvals_overdue ON approvals (deadline, id) WHERE status = 2 AND deadline IS NOT NULL;

-- history is append-only. id orders every entry of every request; seq is the
-- entry's number within its request (the version the change produced).
-- changes is text, not json, because the entry's hash covers its exact bytes.
CREATE TABLE history (
    id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    request_id uuid        NOT NULL REFERENCES approvals (id),
    seq        bigint      NOT NULL,
    actor      text        NOT NULL,
    action     text        NOT NULL,
    changes    text        NOT NULL,
    at         timestamptz NOT NULL,
    prev_hash  text        NOT NULL,
    hash       text        NOT NULL,
    CONSTRAINT history_request_seq UNIQUE (request_id, seq)
);

-- outbox holds one event per change. seq comes from an identity sequence,
-- which never hands out a number twice; unlike on SQLite, transactions may
-- commit out of seq order, so the delivery workers claim unpublished rows
-- with FOR UPDATE SKIP LOCKED rather than follow a cursor.
CREATE TABLE outbox (
    seq             bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id              uuid        NOT NULL UNIQUE, -- the event id receivers dedupe on
    type            text        NOT NULL,
    request_id      uuid        NOT NULL REFERENCES approvals (id),
    version         bigint      NOT NULL,
    data            json        NOT NULL,
    created_at      timestamptz NOT NULL,
    published_at    timestamptz,
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz
);

CREATE INDEX outbox_unpublished ON outbox (seq) WHERE published_at IS NULL;

-- idempotency_keys remembers the response to a create made with an
-- Idempotency-Key, per principal.
CREATE TABLE idempotency_keys (
    principal  text        NOT NULL,
    key        text        NOT NULL,
    body_hash  text        NOT NULL,
    request_id uuid        NOT NULL,
    response   bytea       NOT NULL,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (principal, key)
);

CREATE INDEX idempotency_keys_created_at ON idempotency_keys (created_at);

-- api_keys holds service credentials; only the hash of a secret is stored.
-- scopes and groups are JSON arrays.
CREATE TABLE api_keys (
    id         uuid        NOT NULL PRIMARY KEY,
    name       text        NOT NULL,
    prefix     text        NOT NULL,
    hash       text        NOT NULL UNIQUE,
    scopes     json        NOT NULL,
    groups     json        NOT NULL,
    created_at timestamptz NOT NULL,
    revoked_at timestamptz
);

-- A name may be reused once the key holding it is revoked.
CREATE UNIQUE INDEX api_keys_live_name ON api_keys (name) WHERE revoked_at IS NULL;

-- +goose Down
DROP TABLE api_keys;
DROP TABLE idempotency_keys;
DROP TABLE outbox;
DROP TABLE history;
DROP TABLE approvals;
