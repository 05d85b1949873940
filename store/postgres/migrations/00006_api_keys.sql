-- +goose Up

-- API keys gain an expiry, the time of their last use and their origin:
-- 'api' (created through the API), 'bootstrap' (the admin key from
-- APPROVALD_ADMIN_KEY or generated at the first start) or 'file' (synced
-- from a secret file). NULL times are never.
ALTER TABLE api_keys
    ADD COLUMN expires_at   timestamptz,
    ADD COLUMN last_used_at timestamptz,
    ADD COLUMN origin       text NOT NULL DEFAULT 'api' CHECK (origin IN ('api', 'bootstrap', 'file'));

-- The admin keys stored so far are the bootstrap key and its predecessors.
UPDATE api_keys SET origin = 'bootstrap' WHERE name = 'admin';

-- A hash is now unique among live keys only: a key synced from a file whose
-- scopes changed is revoked and stored again with the same hash.
ALTER TABLE api_keys DROP CONSTRAINT api_keys_hash_key;
CREATE UNIQUE INDEX api_keys_live_hash ON api_keys (hash) WHERE revoked_at IS NULL;

-- +goose Down

-- Every hash becomes unique again: of the keys sharing one, only the live
-- key, or else the newest, is kept.
DELETE FROM api_keys k WHERE revoked_at IS NOT NULL AND EXISTS (
    SELECT 1 FROM api_keys o
    WHERE o.hash = k.hash AND o.id <> k.id AND (o.revoked_at IS NULL OR o.id > k.id)
);
DROP INDEX api_keys_live_hash;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_hash_key UNIQUE (hash);
ALTER TABLE api_keys
    DROP COLUMN origin,
    DROP COLUMN last_used_at,
    DROP COLUMN expires_at;
