package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"approvald/approval"
)

// apiKeyColumns are the columns of api_keys in the order scanAPIKey reads them.
const apiKeyColumns = "id, name, prefix, hash, scopes, groups, created_at, revoked_at"

// CreateAPIKey stores the new key k. It returns a KindConflict
// *approval.Error when a live (not revoked) key has the same name, and an
// internal one when k's id is not a canonical UUID or the database fails,
// for instance on a duplicate id or hash.
func (s *Store) CreateAPIKey(ctx context.Context, k approval.APIKey) error {
	if !validID(k.ID) {
		return internal("create api key", fmt.Errorf("key id %q is not a canonical UUID", k.ID))
	}
	scopes, err := json.Marshal(k.Scopes)
	if err != nil {
		return internal("create api key", err)
	}
	groups, err := json.Marshal(k.Groups)
	if err != nil {
		return internal("create api key", err)
	}
	nameTaken := approval.Errorf(approval.KindConflict, approval.CodeConflict, "an api key named %q exists", k.Name)
	return s.write(ctx, "create api key", func(tx pgx.Tx) error {
		var taken bool
		err := tx.QueryRow(ctx,
			"SELECT EXISTS (SELECT 1 FROM api_keys WHERE name = $1 AND revoked_at IS NULL)", k.Name,
		).Scan(&taken)
		switch {
		case err != nil:
			return internal("create api key", err)
		case taken:
			return nameTaken
		}
		_, err = tx.Exec(ctx, `
			INSERT INTO api_keys (`+apiKeyColumns+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			k.ID, k.Name, k.Prefix, k.Hash, string(scopes), string(groups), k.CreatedAt, k.RevokedAt)
		switch {
		case isUniqueViolation(err, "api_keys_live_name"):
			// A concurrent create took the name after the check above.
			return nameTaken
		case err != nil:
			return internal("create api key", err)
		}
		return nil
	})
}

// APIKeyByHash returns the live (not revoked) key with the given hash. It
// returns a KindNotFound *approval.Error when there is none, and an internal
// one when the database fails.
func (s *Store) APIKeyByHash(ctx context.Context, hash string) (*approval.APIKey, error) {
	row := s.pool.QueryRow(ctx,
		"SELECT "+apiKeyColumns+" FROM api_keys WHERE hash = $1 AND revoked_at IS NULL", hash)
	k, err := scanAPIKey(row)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil, approval.NotFound("api key")
	case err != nil:
		return nil, internal("api key by hash", err)
	}
	return &k, nil
}

// ListAPIKeys returns every key, revoked ones included, oldest first. It
// returns an internal *approval.Error when the database fails.
func (s *Store) ListAPIKeys(ctx context.Context) ([]approval.APIKey, error) {
	return queryAll(ctx, s.pool, "list api keys", scanAPIKey,
		"SELECT "+apiKeyColumns+" FROM api_keys ORDER BY created_at, id")
}

// RevokeAPIKey marks the key with the given id revoked at t; a key revoked
// before keeps its first revocation time. It returns a KindNotFound
// *approval.Error for an unknown id, or one that is not a UUID, and an
// internal one when the database fails.
func (s *Store) RevokeAPIKey(ctx context.Context, id string, t time.Time) error {
	if !validID(id) {
		return approval.NotFound("api key")
	}
	return s.write(ctx, "revoke api key", func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx,
			"UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2", t, id)
		switch {
		case err != nil:
			return internal("revoke api key", err)
		case tag.RowsAffected() == 0:
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
		revokedAt      *time.Time
	)
	if err := row.Scan(&k.ID, &k.Name, &k.Prefix, &k.Hash, &scopes, &groups, &k.CreatedAt, &revokedAt); err != nil {
		return k, err
	}
	if err := json.Unmarshal([]byte(scopes), &k.Scopes); err != nil {
		return k, fmt.Errorf("api key %s: scopes: %w", k.ID, err)
	}
	if err := json.Unmarshal([]byte(groups), &k.Groups); err != nil {
		return k, fmt.Errorf("api key %s: groups: %w", k.ID, err)
	}
	k.CreatedAt = k.CreatedAt.UTC()
	k.RevokedAt = nullUTC(revokedAt)
	return k, nil
}
