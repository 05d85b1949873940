-- +goose Up

-- approvals holds the current state of every request. Times are unix
-- microseconds (UTC); policy, reviews and delivery are JSON as the domain
-- encodes them; history_head is the hash of the request's latest history entry.
CREATE TABLE approvals (
    id              TEXT    NOT NULL PRIMARY KEY, -- UUIDv7, so ids sort by creation time
    title           TEXT    NOT NULL,
    description     TEXT    NOT NULL DEFAULT '',
    payload         TEXT    NOT NULL,
    requester       TEXT    NOT NULL,
    service_rule    TEXT    NOT NULL DEFAULT '',
    deadline        INTEGER,
    policy          TEXT    NOT NULL,
    status          INTEGER NOT NULL CHECK (status BETWEEN 1 AND 9),
    previous_status INTEGER,
    comment         TEXT    NOT NULL DEFAULT '',
    reviews         TEXT    NOT NULL DEFAULT '[]',
    delivery        TEXT,
    version         INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    decided_at      INTEGER,
    history_head    TEXT    NOT NULL
) STRICT;

CREATE INDEX approvals_status       ON approvals (status, id);
CREATE INDEX approvals_requester    ON approvals (requester, id);
CREATE INDEX approvals_service_rule ON approvals (service_rule, id);
-- Only pending requests with a deadline can become overdue (2 = pending).
-- It holds id too, so that the overdue query reads only the index.
CREATE INDEX approvals_overdue ON approvals (deadline, id) WHERE status = 2 AND deadline IS NOT NULL;

-- history is append-only. id orders every entry of every request; seq is the
-- entry's number within its request (the version the change produced). changes
-- keeps the exact bytes the entry's hash covers.
CREATE TABLE history (
    id         INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    request_id TEXT    NOT NULL REFERENCES approvals (id),
    seq        INTEGER NOT NULL,
    actor      TEXT    NOT NULL,
    action     TEXT    NOT NULL,
    changes    TEXT    NOT NULL,
    at         INTEGER NOT NULL,
    prev_hash  TEXT    NOT NULL,
    hash       TEXT    NOT NULL,
    UNIQUE (request_id, seq)
) STRICT;

-- outbox holds one event per change, in commit order (seq). AUTOINCREMENT
-- keeps seq from ever being reused, so a consumer's cursor stays valid.
CREATE TABLE outbox (
    seq             INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    id              TEXT    NOT NULL UNIQUE, -- the event id receivers dedupe on
    type            TEXT    NOT NULL,
    request_id      TEXT    NOT NULL REFERENCES approvals (id),
    version         INTEGER NOT NULL,
    data            TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    published_at    INTEGER,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER
) STRICT;

CREATE INDEX outbox_unpublished ON outbox (seq) WHERE published_at IS NULL;

-- idempotency_keys remembers the response to a create made with an
-- Idempotency-Key, per principal.
CREATE TABLE idempotency_keys (
    principal  TEXT    NOT NULL,
    key        TEXT    NOT NULL,
    body_hash  TEXT    NOT NULL,
    request_id TEXT    NOT NULL,
    response   BLOB    NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (principal, key)
) STRICT;

CREATE INDEX idempotency_keys_created_at ON idempotency_keys (created_at);

-- api_keys holds service credentials; only the hash of a secret is stored.
-- scopes and groups are JSON arrays.
CREATE TABLE api_keys (
    id         TEXT    NOT NULL PRIMARY KEY,
    name       TEXT    NOT NULL,
    prefix     TEXT    NOT NULL,
    hash       TEXT    NOT NULL UNIQUE,
    scopes     TEXT    NOT NULL,
    groups     TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
) STRICT;

-- A name may be reused once the key holding it is revoked.
CREATE UNIQUE INDEX api_keys_live_name ON api_keys (name) WHERE revoked_at IS NULL;

-- +goose Down
DROP TABLE api_keys;
DROP TABLE idempotency_keys;
DROP TABLE outbox;
DROP TABLE history;
DROP TABLE approvals;
