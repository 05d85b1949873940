-- +goose Up

-- The notification an event calls for (approval.NotifyKind, '' for none),
-- the notifier's lease on planning it (notify_after, like publish_after) and
-- when it was planned. Events whose notification is not planned yet are
-- kept by DeleteOutboxBefore.
ALTER TABLE outbox ADD COLUMN notify       TEXT    NOT NULL DEFAULT '';
ALTER TABLE outbox ADD COLUMN notify_after INTEGER;
ALTER TABLE outbox ADD COLUMN notified_at  INTEGER;

CREATE INDEX outbox_unplanned ON outbox (seq) WHERE notify <> '' AND notified_at IS NULL;

-- Escalation: when the open stage opened, the rules escalated in it (a JSON
-- array of approval.Escalation) and when the next escalation is due.
ALTER TABLE approvals ADD COLUMN stage_opened_at    INTEGER;
ALTER TABLE approvals ADD COLUMN escalations        TEXT NOT NULL DEFAULT '[]';
ALTER TABLE approvals ADD COLUMN next_escalation_at INTEGER;

-- Due escalations, earliest first (2 = pending).
CREATE INDEX approvals_escalations ON approvals (next_escalation_at, id)
    WHERE status = 2 AND next_escalation_at IS NOT NULL;

-- notification_channels are the ways of sending notifications. email is the
-- SMTP settings (JSON, NULL for a chat channel); url a chat webhook ('' for
-- email).
CREATE TABLE notification_channels (
    name       TEXT    NOT NULL PRIMARY KEY,
    type       TEXT    NOT NULL,
    email      TEXT,
    url        TEXT    NOT NULL DEFAULT '',
    version    INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;

-- notification_routes send the notifications of some kinds (events, a JSON
-- array, every kind when empty) about the requests in scope to a channel.
CREATE TABLE notification_routes (
    id         INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    channel    TEXT    NOT NULL,
    events     TEXT    NOT NULL,
    scope      TEXT    NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;

CREATE INDEX notification_routes_channel ON notification_routes (channel);

-- contacts are where to reach principals and groups, by approval.Contact.Key
-- (the principal, or "group:<name>"); emails is a JSON array.
CREATE TABLE contacts (
    key        TEXT    NOT NULL PRIMARY KEY,
    principal  TEXT    NOT NULL DEFAULT '',
    group_name TEXT    NOT NULL DEFAULT '',
    email      TEXT    NOT NULL DEFAULT '',
    emails     TEXT    NOT NULL DEFAULT '[]',
    channel    TEXT    NOT NULL DEFAULT '',
    admin      INTEGER NOT NULL DEFAULT 0 CHECK (admin IN (0, 1)),
    source     TEXT    NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;

CREATE INDEX contacts_channel ON contacts (channel) WHERE channel <> '';
CREATE INDEX contacts_admin ON contacts (key) WHERE admin;

-- notification_mutes are the kinds (a JSON array) a principal does not want.
CREATE TABLE notification_mutes (
    principal TEXT NOT NULL PRIMARY KEY,
    kinds     TEXT NOT NULL
) STRICT;

-- delegations lend a delegator's review eligibility to a delegate from
-- starts_at until ends_at; delegator_groups is a JSON array.
CREATE TABLE delegations (
    id               TEXT    NOT NULL PRIMARY KEY,
    delegator        TEXT    NOT NULL,
    delegator_groups TEXT    NOT NULL,
    delegate         TEXT    NOT NULL,
    starts_at        INTEGER NOT NULL,
    ends_at          INTEGER NOT NULL,
    reason           TEXT    NOT NULL DEFAULT '',
    created_by       TEXT    NOT NULL,
    created_at       INTEGER NOT NULL,
    revoked_at       INTEGER,
    revoked_by       TEXT    NOT NULL DEFAULT ''
) STRICT;

CREATE INDEX delegations_delegate  ON delegations (delegate, ends_at);
CREATE INDEX delegations_delegator ON delegations (delegator, created_at);
CREATE INDEX delegations_created   ON delegations (created_at, id);

-- notifications is the queue of messages: one per key (request, version,
-- recipient, kind), sent in batches per target (channel, address).
CREATE TABLE notifications (
    id              INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    key             TEXT    NOT NULL UNIQUE,
    request_id      TEXT    NOT NULL,
    version         INTEGER NOT NULL,
    kind            TEXT    NOT NULL,
    recipient       TEXT    NOT NULL,
    channel         TEXT    NOT NULL,
    address         TEXT    NOT NULL DEFAULT '',
    data            BLOB    NOT NULL,
    created_at      INTEGER NOT NULL,
    due_at          INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error      TEXT    NOT NULL DEFAULT '',
    sent_at         INTEGER,
    failed_at       INTEGER
) STRICT;

-- The queued notifications of a target, oldest first; and those due.
CREATE INDEX notifications_queued ON notifications (channel, address, id)
    WHERE sent_at IS NULL AND failed_at IS NULL;
CREATE INDEX notifications_due ON notifications (next_attempt_at, due_at)
    WHERE sent_at IS NULL AND failed_at IS NULL;
CREATE INDEX notifications_request ON notifications (request_id, id);

-- +goose Down
DROP TABLE notifications;
DROP TABLE delegations;
DROP TABLE notification_mutes;
DROP TABLE contacts;
DROP TABLE notification_routes;
DROP TABLE notification_channels;
DROP INDEX approvals_escalations;
ALTER TABLE approvals DROP COLUMN next_escalation_at;
ALTER TABLE approvals DROP COLUMN escalations;
ALTER TABLE approvals DROP COLUMN stage_opened_at;
DROP INDEX outbox_unplanned;
ALTER TABLE outbox DROP COLUMN notified_at;
ALTER TABLE outbox DROP COLUMN notify_after;
ALTER TABLE outbox DROP COLUMN notify;
