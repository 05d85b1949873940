-- +goose Up

-- The notification an event calls for (approval.NotifyKind, '' for none),
-- the notifier's lease on planning it (notify_after, like publish_after) and
-- when it was planned. Events whose notification is not planned yet are
-- kept by DeleteOutboxBefore.
ALTER TABLE outbox
    ADD COLUMN notify       text        NOT NULL DEFAULT '',
    ADD COLUMN notify_after timestamptz,
    ADD COLUMN notified_at  timestamptz;

CREATE INDEX outbox_unplanned ON outbox (seq) WHERE notify <> '' AND notified_at IS NULL;

-- Escalation: when the open stage opened, the rules escalated in it (a JSON
-- array of approval.Escalation) and when the next escalation is due.
ALTER TABLE approvals
    ADD COLUMN stage_opened_at    timestamptz,
    ADD COLUMN escalations        json        NOT NULL DEFAULT '[]',
    ADD COLUMN next_escalation_at timestamptz;

-- Due escalations, earliest first (2 = pending).
CREATE INDEX approvals_escalations ON approvals (next_escalation_at, id)
    WHERE status = 2 AND next_escalation_at IS NOT NULL;

-- notification_channels are the ways of sending notifications. email is the
-- SMTP settings (NULL for a chat channel); url a chat webhook ('' for email).
CREATE TABLE notification_channels (
    name       text        NOT NULL PRIMARY KEY,
    type       text        NOT NULL,
    email      json,
    url        text        NOT NULL DEFAULT '',
    version    bigint      NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);

-- notification_routes send the notifications of some kinds (events, a JSON
-- array, every kind when empty) about the requests in scope to a channel.
CREATE TABLE notification_routes (
    id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    channel    text        NOT NULL,
    events     json        NOT NULL,
    scope      text        NOT NULL,
    created_at timestamptz NOT NULL
);

CREATE INDEX notification_routes_channel ON notification_routes (channel);

-- contacts are where to reach principals and groups, by approval.Contact.Key
-- (the principal, or "group:<name>"); emails is a JSON array.
CREATE TABLE contacts (
    key        text        NOT NULL PRIMARY KEY,
    principal  text        NOT NULL DEFAULT '',
    group_name text        NOT NULL DEFAULT '',
    email      text        NOT NULL DEFAULT '',
    emails     json        NOT NULL DEFAULT '[]',
    channel    text        NOT NULL DEFAULT '',
    admin      boolean     NOT NULL DEFAULT false,
    source     text        NOT NULL,
    updated_at timestamptz NOT NULL
);

CREATE INDEX contacts_channel ON contacts (channel) WHERE channel <> '';
CREATE INDEX contacts_admin ON contacts (key) WHERE admin;

-- notification_mutes are the kinds (a JSON array) a principal does not want.
CREATE TABLE notification_mutes (
    principal text NOT NULL PRIMARY KEY,
    kinds     json NOT NULL
);

-- delegations lend a delegator's review eligibility to a delegate from
-- starts_at until ends_at; delegator_groups is a JSON array.
CREATE TABLE delegations (
    id               uuid        NOT NULL PRIMARY KEY,
    delegator        text        NOT NULL,
    delegator_groups json        NOT NULL,
    delegate         text        NOT NULL,
    starts_at        timestamptz NOT NULL,
    ends_at          timestamptz NOT NULL,
    reason           text        NOT NULL DEFAULT '',
    created_by       text        NOT NULL,
    created_at       timestamptz NOT NULL,
    revoked_at       timestamptz,
    revoked_by       text        NOT NULL DEFAULT ''
);

CREATE INDEX delegations_delegate  ON delegations (delegate, ends_at);
CREATE INDEX delegations_delegator ON delegations (delegator, created_at);
CREATE INDEX delegations_created   ON delegations (created_at, id);

-- notifications is the queue of messages: one per key (request, version,
-- recipient, kind), sent in batches per target (channel, address).
CREATE TABLE notifications (
    id              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    key             text        NOT NULL,
    request_id      uuid        NOT NULL,
    version         bigint      NOT NULL,
    kind            text        NOT NULL,
    recipient       text        NOT NULL,
    channel         text        NOT NULL,
    address         text        NOT NULL DEFAULT '',
    data            bytea       NOT NULL,
    created_at      timestamptz NOT NULL,
    due_at          timestamptz NOT NULL,
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    last_error      text        NOT NULL DEFAULT '',
    sent_at         timestamptz,
    failed_at       timestamptz,
    CONSTRAINT notifications_key UNIQUE (key)
);

-- The queued notifications of a target, oldest first; and those due.
CREATE INDEX notifications_queued ON notifications (channel, address, id)
    WHERE sent_at IS NULL AND failed_at IS NULL;
CREATE INDEX notifications_due ON notifications (next_attempt_at, due_at)
    WHERE sent_at IS NULL AND failed_at IS NULL;
CREATE INDEX notifications_request ON notifications (request_id, id);

-- +goose Down
DROP TABLE notifications, delegations, notification_mutes, contacts, notification_routes, notification_channels;
DROP INDEX approvals_escalations;
ALTER TABLE approvals
    DROP COLUMN next_escalation_at,
    DROP COLUMN escalations,
    DROP COLUMN stage_opened_at;
DROP INDEX outbox_unplanned;
ALTER TABLE outbox
    DROP COLUMN notified_at,
    DROP COLUMN notify_after,
    DROP COLUMN notify;
