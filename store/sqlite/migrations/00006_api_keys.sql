-- +goose Up

-- API keys gain an expiry, the time of their last use and their origin:
-- 'api' (created through the API), 'bootstrap' (the admin key from
-- APPROVALD_ADMIN_KEY or generated at the first start) or 'file' (synced
-- from a secret file). expires_at and last_used_at are unix microseconds
-- like the other times; NULL is never.
--
-- A hash is now unique among live keys only: a key synced from a file whose
-- scopes changed is revoked and stored again with the same hash. SQLite
-- cannot drop the UNIQUE constraint of a column, so the table is rebuilt.
CREATE TABLE api_keys_v6 (
    id           TEXT    NOT NULL PRIMARY KEY,
    name         TEXT    NOT NULL,
    prefix       TEXT    NOT NULL,
    hash         TEXT    NOT NULL,
    scopes       TEXT    NOT NULL,
    groups       TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    revoked_at   INTEGER,
    expires_at   INTEGER,
    last_used_at INTEGER,
    origin       TEXT    NOT NULL DEFAULT 'api' CHECK (origin IN ('api', 'bootstrap', 'file'))
) STRICT;

-- The admin keys stored so far are the bootstrap key and its predecessors.
INSERT INTO api_keys_v6 (id, name, prefix, hash, scopes, groups, created_at, revoked_at, origin)
SELECT id, name, prefix, hash, scopes, groups, created_at, revoked_at,
       CASE WHEN name = 'admin' THEN 'bootstrap' ELSE 'api' END
FROM api_keys;

DROP TABLE api_keys;
ALTER TABLE api_keys_v6 RENAME TO api_keys;

-- A name may be reused once the key holding it is revoked; so may a hash.
CREATE UNIQUE INDEX api_keys_live_name ON api_keys (name) WHERE revoked_at IS NULL;
CREATE UNIQUE INDEX api_keys_live_hash ON api_keys (hash) WHERE revoked_at IS NULL;

-- +goose Down

-- Every hash becomes unique again: of the keys sharing one, only the live
-- key, or else the newest, is kept.
DELETE FROM api_keys WHERE revoked_at IS NOT NULL AND EXISTS (
    SELECT 1 FROM api_keys o
    WHERE o.hash = api_keys.hash AND o.id <> api_keys.id AND (o.revoked_at IS NULL OR o.id > api_keys.id)
);

CREATE TABLE api_keys_v5 (
    id         TEXT    NOT NULL PRIMARY KEY,
    name       TEXT    NOT NULL,
    prefix     TEXT    NOT NULL,
    hash       TEXT    NOT NULL UNIQUE,
    scopes     TEXT    NOT NULL,
    groups     TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
) STRICT;

INSERT INTO api_keys_v5 (id, name, prefix, hash, scopes, groups, created_at, revoked_at)
SELECT id, name, prefix, hash, scopes, groups, created_at, revoked_at FROM api_keys;

DROP TABLE api_keys;
ALTER TABLE api_keys_v5 RENAME TO api_keys;

CREATE UNIQUE INDEX api_keys_live_name ON api_keys (name) WHERE revoked_at IS NULL;
