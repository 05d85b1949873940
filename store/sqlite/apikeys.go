package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"approvald/approval"
)

// apiKeyColumns are the columns of api_keys in the order scanAPIKey reads them.
const apiKeyColumns = "id, name, prefix, hash, scopes, groups, origin, created_at, expires_at, last_used_at, revoked_at"

// touchInterval is how much older than the new time a key's last use must
// be for TouchAPIKey to write it.
const touchInterval = time.Minute

// CreateAPIKey stores the new key k, an empty Origin as
// approval.KeyOriginAPI. It returns a KindConflict *approval.Error when a
// live (not revoked) key has the same name or hash, and an internal one
// when the database fails, for instance on a duplicate id.
func (s *Store) CreateAPIKey(ctx context.Context, k approval.APIKey) error {
	return s.write(ctx, "create api key", func(tx *sql.Tx) error {
		return insertAPIKey(ctx, tx, "create api key", k)
	})
}

// ReplaceAPIKey revokes the live key oldID at t and stores k as
// CreateAPIKey does, in one transaction. It returns a KindNotFound
// *approval.Error, and writes nothing, when oldID is not a live key; a
// KindConflict one when another live key has k's name or hash; and an
// internal one when the database fails.
func (s *Store) ReplaceAPIKey(ctx context.Context, oldID string, k approval.APIKey, t time.Time) error {
	const op = "replace api key"
	return s.write(ctx, op, func(tx *sql.Tx) error {
		n, err := execTx(ctx, tx, op,
			"UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", micros(t), oldID)
		switch {
		case err != nil:
			return err
		case n == 0:
			return approval.NotFound("api key")
		}
		return insertAPIKey(ctx, tx, op, k)
	})
}

// insertAPIKey stores k in tx after checking that no live key has its name
// or hash. Writes are serialized, so nothing can take either between the
// check and the insert; the unique indexes api_keys_live_name and
// api_keys_live_hash back it.
func insertAPIKey(ctx context.Context, tx *sql.Tx, op string, k approval.APIKey) error {
	scopes, err := json.Marshal(k.Scopes)
	if err != nil {
		return internal(op, err)
	}
	groups, err := json.Marshal(k.Groups)
	if err != nil {
		return internal(op, err)
	}
	if err := liveKeyConflict(ctx, tx, op, k.Name, k.Hash, ""); err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `
		INSERT INTO api_keys (`+apiKeyColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		k.ID, k.Name, k.Prefix, k.Hash, string(scopes), string(groups), cmp.Or(k.Origin, approval.KeyOriginAPI),
		micros(k.CreatedAt), nullMicros(k.ExpiresAt), nullMicros(k.LastUsedAt), nullMicros(k.RevokedAt))
	if err != nil {
		return internal(op, err)
	}
	return nil
}

// liveKeyConflict returns a KindConflict *approval.Error when a live key
// other than the key except holds the name (unless name is "") or the hash.
func liveKeyConflict(ctx context.Context, tx *sql.Tx, op, name, hash, except string) error {
	var nameTaken, hashTaken bool
	err := tx.QueryRowContext(ctx, `
		SELECT
			EXISTS (SELECT 1 FROM api_keys WHERE name = ? AND revoked_at IS NULL AND id <> ?),
			EXISTS (SELECT 1 FROM api_keys WHERE hash = ? AND revoked_at IS NULL AND id <> ?)`,
		name, except, hash, except,
	).Scan(&nameTaken, &hashTaken)
	switch {
	case err != nil:
		return internal(op, err)
	case nameTaken && name != "":
		return approval.Errorf(approval.KindConflict, approval.CodeConflict, "an api key named %q exists", name)
	case hashTaken:
		return approval.Errorf(approval.KindConflict, approval.CodeConflict, "another live api key has the same secret")
	}
	return nil
}

// APIKeyByHash returns the live (not revoked) key with the given hash,
// expired or not. It returns a KindNotFound *approval.Error when there is
// none, and an internal one when the database fails.
func (s *Store) APIKeyByHash(ctx context.Context, hash string) (*approval.APIKey, error) {
	row := s.reader.QueryRowContext(ctx,
		"SELECT "+apiKeyColumns+" FROM api_keys WHERE hash = ? AND revoked_at IS NULL", hash)
	k, err := scanAPIKey(row)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, approval.NotFound("api key")
	case err != nil:
		return nil, internal("api key by hash", err)
	}
	return &k, nil
}

// ListAPIKeys returns every key, revoked ones included, oldest first. It
// returns an internal *approval.Error when the database fails.
func (s *Store) ListAPIKeys(ctx context.Context) ([]approval.APIKey, error) {
	return queryAll(ctx, s.reader, "list api keys", scanAPIKey,
		"SELECT "+apiKeyColumns+" FROM api_keys ORDER BY created_at, id")
}

// RevokeAPIKey marks the key with the given id revoked at t; a key revoked
// before keeps its first revocation time. It returns a KindNotFound
// *approval.Error for an unknown id, and an internal one when the database fails.
func (s *Store) RevokeAPIKey(ctx context.Context, id string, t time.Time) error {
	return s.write(ctx, "revoke api key", func(tx *sql.Tx) error {
		n, err := execTx(ctx, tx, "revoke api key",
			"UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?", micros(t), id)
		switch {
		case err != nil:
			return err
		case n == 0:
			return approval.NotFound("api key")
		}
		return nil
	})
}

// TouchAPIKey sets the last use of the key with the given id to t when it
// is unset or more than a minute before t; an unknown id changes nothing.
// It returns an internal *approval.Error when the database fails.
func (s *Store) TouchAPIKey(ctx context.Context, id string, t time.Time) error {
	_, err := s.execCount(ctx, "touch api key", `
		UPDATE api_keys SET last_used_at = ?
		WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)`,
		micros(t), id, micros(t.Add(-touchInterval)))
	return err
}

// RotateAPIKey replaces the hash and prefix of the key with the given id,
// which must be live at t (not revoked, not expired), clears its last use
// and returns it. It returns a KindNotFound *approval.Error when there is
// no such key, a KindConflict one when another live key has the hash, and
// an internal one when the database fails.
func (s *Store) RotateAPIKey(ctx context.Context, id, hash, prefix string, t time.Time) (*approval.APIKey, error) {
	const op = "rotate api key"
	var k approval.APIKey
	err := s.write(ctx, op, func(tx *sql.Tx) error {
		if err := liveKeyConflict(ctx, tx, op, "", hash, id); err != nil {
			return err
		}
		row := tx.QueryRowContext(ctx, `
			UPDATE api_keys SET hash = ?, prefix = ?, last_used_at = NULL
			WHERE id = ? AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)
			RETURNING `+apiKeyColumns,
			hash, prefix, id, micros(t))
		var err error
		k, err = scanAPIKey(row)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return approval.NotFound("api key")
		case err != nil:
			return internal(op, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &k, nil
}

// scanAPIKey reads one row of apiKeyColumns.
func scanAPIKey(row scanner) (approval.APIKey, error) {
	var (
		k                                approval.APIKey
		scopes, groups                   string
		createdAt                        int64
		expiresAt, lastUsedAt, revokedAt sql.Null[int64]
	)
	if err := row.Scan(&k.ID, &k.Name, &k.Prefix, &k.Hash, &scopes, &groups, &k.Origin,
		&createdAt, &expiresAt, &lastUsedAt, &revokedAt); err != nil {
		return k, err
	}
	if err := json.Unmarshal([]byte(scopes), &k.Scopes); err != nil {
		return k, fmt.Errorf("api key %s: scopes: %w", k.ID, err)
	}
	if err := json.Unmarshal([]byte(groups), &k.Groups); err != nil {
		return k, fmt.Errorf("api key %s: groups: %w", k.ID, err)
	}
	k.CreatedAt = fromMicros(createdAt)
	k.ExpiresAt = fromNullMicros(expiresAt)
	k.LastUsedAt = fromNullMicros(lastUsedAt)
	k.RevokedAt = fromNullMicros(revokedAt)
	return k, nil
}
