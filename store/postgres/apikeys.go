package postgres

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

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
// when k's id is not a canonical UUID or the database fails, for instance
// on a duplicate id.
func (s *Store) CreateAPIKey(ctx context.Context, k approval.APIKey) error {
	return s.write(ctx, "create api key", func(tx pgx.Tx) error {
		return insertAPIKey(ctx, tx, "create api key", k)
	})
}

// ReplaceAPIKey revokes the live key oldID at t and stores k as
// CreateAPIKey does, in one transaction. It returns a KindNotFound
// *approval.Error, and writes nothing, when oldID is not a live key (or not
// a UUID); a KindConflict one when another live key has k's name or hash;
// and an internal one when the database fails.
func (s *Store) ReplaceAPIKey(ctx context.Context, oldID string, k approval.APIKey, t time.Time) error {
	const op = "replace api key"
	if !validID(oldID) {
		return approval.NotFound("api key")
	}
	return s.write(ctx, op, func(tx pgx.Tx) error {
		// The row lock makes a concurrent replacement of the same key wait,
		// then find it revoked.
		tag, err := tx.Exec(ctx,
			"UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL", t, oldID)
		switch {
		case err != nil:
			return internal(op, err)
		case tag.RowsAffected() == 0:
			return approval.NotFound("api key")
		}
		return insertAPIKey(ctx, tx, op, k)
	})
}

// insertAPIKey stores k in tx after checking that no live key has its name
// or hash. A concurrent transaction may take either between the check and
// the insert; the unique indexes api_keys_live_name and api_keys_live_hash
// then make the insert wait for it and fail, which is a conflict too.
func insertAPIKey(ctx context.Context, tx pgx.Tx, op string, k approval.APIKey) error {
	if !validID(k.ID) {
		return internal(op, fmt.Errorf("key id %q is not a canonical UUID", k.ID))
	}
	scopes, err := json.Marshal(k.Scopes)
	if err != nil {
		return internal(op, err)
	}
	groups, err := json.Marshal(k.Groups)
	if err != nil {
		return internal(op, err)
	}
	if err := liveKeyConflict(ctx, tx, op, k.Name, k.Hash, nil); err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `
		INSERT INTO api_keys (`+apiKeyColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		k.ID, k.Name, k.Prefix, k.Hash, string(scopes), string(groups), cmp.Or(k.Origin, approval.KeyOriginAPI),
		k.CreatedAt, k.ExpiresAt, k.LastUsedAt, k.RevokedAt)
	switch {
	case isUniqueViolation(err, "api_keys_live_name"):
		return nameTaken(k.Name)
	case isUniqueViolation(err, "api_keys_live_hash"):
		return errHashTaken
	case err != nil:
		return internal(op, err)
	}
	return nil
}

// nameTaken is the error of a name held by another live key.
func nameTaken(name string) error {
	return approval.Errorf(approval.KindConflict, approval.CodeConflict, "an api key named %q exists", name)
}

// errHashTaken is the error of a hash held by another live key.
var errHashTaken = approval.Errorf(approval.KindConflict, approval.CodeConflict, "another live api key has the same secret")

// liveKeyConflict returns a KindConflict *approval.Error when a live key
// other than the key except (nil: none) holds the name (unless name is "")
// or the hash.
func liveKeyConflict(ctx context.Context, tx pgx.Tx, op, name, hash string, except *string) error {
	var nameIsTaken, hashIsTaken bool
	err := tx.QueryRow(ctx, `
		SELECT
			EXISTS (SELECT 1 FROM api_keys WHERE name = $1 AND revoked_at IS NULL AND id IS DISTINCT FROM $3::uuid),
			EXISTS (SELECT 1 FROM api_keys WHERE hash = $2 AND revoked_at IS NULL AND id IS DISTINCT FROM $3::uuid)`,
		name, hash, except,
	).Scan(&nameIsTaken, &hashIsTaken)
	switch {
	case err != nil:
		return internal(op, err)
	case nameIsTaken && name != "":
		return nameTaken(name)
	case hashIsTaken:
		return errHashTaken
	}
	return nil
}

// APIKeyByHash returns the live (not revoked) key with the given hash,
// expired or not. It returns a KindNotFound *approval.Error when there is
// none, and an internal one when the database fails.
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

// TouchAPIKey sets the last use of the key with the given id to t when it
// is unset or more than a minute before t; an unknown id, or one that is
// not a UUID, changes nothing. A key whose last use is recent is neither
// written nor locked. It returns an internal *approval.Error when the
// database fails.
func (s *Store) TouchAPIKey(ctx context.Context, id string, t time.Time) error {
	if !validID(id) {
		return nil
	}
	_, err := s.execCount(ctx, "touch api key", `
		UPDATE api_keys SET last_used_at = $1
		WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $3)`,
		t, id, t.Add(-touchInterval))
	return err
}

// RotateAPIKey replaces the hash and prefix of the key with the given id,
// which must be live at t (not revoked, not expired), clears its last use
// and returns it, in one statement. It returns a KindNotFound
// *approval.Error when there is no such key (or the id is not a UUID), a
// KindConflict one when another live key has the hash, and an internal one
// when the database fails.
func (s *Store) RotateAPIKey(ctx context.Context, id, hash, prefix string, t time.Time) (*approval.APIKey, error) {
	const op = "rotate api key"
	if !validID(id) {
		return nil, approval.NotFound("api key")
	}
	var k approval.APIKey
	err := s.write(ctx, op, func(tx pgx.Tx) error {
		row := tx.QueryRow(ctx, `
			UPDATE api_keys SET hash = $1, prefix = $2, last_used_at = NULL
			WHERE id = $3 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $4)
			RETURNING `+apiKeyColumns,
			hash, prefix, id, t)
		var err error
		k, err = scanAPIKey(row)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			return approval.NotFound("api key")
		case isUniqueViolation(err, "api_keys_live_hash"):
			return errHashTaken
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
		expiresAt, lastUsedAt, revokedAt *time.Time
	)
	if err := row.Scan(&k.ID, &k.Name, &k.Prefix, &k.Hash, &scopes, &groups, &k.Origin,
		&k.CreatedAt, &expiresAt, &lastUsedAt, &revokedAt); err != nil {
		return k, err
	}
	if err := json.Unmarshal([]byte(scopes), &k.Scopes); err != nil {
		return k, fmt.Errorf("api key %s: scopes: %w", k.ID, err)
	}
	if err := json.Unmarshal([]byte(groups), &k.Groups); err != nil {
		return k, fmt.Errorf("api key %s: groups: %w", k.ID, err)
	}
	k.CreatedAt = k.CreatedAt.UTC()
	k.ExpiresAt = nullUTC(expiresAt)
	k.LastUsedAt = nullUTC(lastUsedAt)
	k.RevokedAt = nullUTC(revokedAt)
	return k, nil
}
