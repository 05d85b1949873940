package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"approvald/approval"
)

// apiKeyColumns are the columns of api_keys in the order scanAPIKey reads them.
const apiKeyColumns = "id, name, prefix, hash, scopes, groups, created_at, revoked_at"

// CreateAPIKey stores the new key k. It returns a KindConflict
// *approval.Error when a live (not revoked) key has the same name, and an
// internal one when the database fails, for instance on a duplicate id or hash.
func (s *Store) CreateAPIKey(ctx context.Context, k approval.APIKey) error {
	scopes, err := json.Marshal(k.Scopes)
	if err != nil {
		return internal("create api key", err)
	}
	groups, err := json.Marshal(k.Groups)
	if err != nil {
		return internal("create api key", err)
	}
	return s.write(ctx, "create api key", func(tx *sql.Tx) error {
		// Writes are serialized, so nothing can take the name between this
		// check and the insert; the unique index api_keys_live_name backs it.
		var taken bool
		err := tx.QueryRowContext(ctx,
			"SELECT EXISTS (SELECT 1 FROM api_keys WHERE name = ? AND revoked_at IS NULL)", k.Name,
		).Scan(&taken)
		switch {
		case err != nil:
			return internal("create api key", err)
		case taken:
			return approval.Errorf(approval.KindConflict, approval.CodeConflict, "an api key named %q exists", k.Name)
		}
		_, err = tx.ExecContext(ctx, `
			INSERT INTO api_keys (`+apiKeyColumns+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			k.ID, k.Name, k.Prefix, k.Hash, string(scopes), string(groups), micros(k.CreatedAt), nullMicros(k.RevokedAt))
		if err != nil {
			return internal("create api key", err)
		}
		return nil
	})
}

// APIKeyByHash returns the live (not revoked) key with the given hash. It
// returns a KindNotFound *approval.Error when there is none, and an internal
// one when the database fails.
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

// scanAPIKey reads one row of apiKeyColumns.
func scanAPIKey(row scanner) (approval.APIKey, error) {
	var (
		k              approval.APIKey
		scopes, groups string
		createdAt      int64
		revokedAt      sql.Null[int64]
	)
	if err := row.Scan(&k.ID, &k.Name, &k.Prefix, &k.Hash, &scopes, &groups, &createdAt, &revokedAt); err != nil {
		return k, err
	}
	if err := json.Unmarshal([]byte(scopes), &k.Scopes); err != nil {
		return k, fmt.Errorf("api key %s: scopes: %w", k.ID, err)
	}
	if err := json.Unmarshal([]byte(groups), &k.Groups); err != nil {
		return k, fmt.Errorf("api key %s: groups: %w", k.ID, err)
	}
	k.CreatedAt = fromMicros(createdAt)
	k.RevokedAt = fromNullMicros(revokedAt)
	return k, nil
}
