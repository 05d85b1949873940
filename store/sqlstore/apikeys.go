package sqlstore

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"approvald/approval"
)

// apiKeyColumns are the columns of api_keys in the order scanAPIKey reads
// them, and insertAPIKey writes them.
const apiKeyColumns = "id, name, prefix, hash, scopes, groups, origin, created_at, expires_at, last_used_at, revoked_at"

var insertKey = "INSERT INTO api_keys (" + apiKeyColumns + ") VALUES (" + params(11) + ")"

// touchInterval is how much older than the new time a key's last use must
// be for TouchAPIKey to write it.
const touchInterval = time.Minute

// CreateAPIKey implements [approval.Keys.CreateAPIKey]. An id that cannot
// be an id, or a duplicate id, is an internal error.
func (s *Store) CreateAPIKey(ctx context.Context, k approval.APIKey) error {
	return s.write(ctx, "create api key", func(tx Tx) error { return s.insertAPIKey(ctx, tx, "create api key", k) })
}

// ReplaceAPIKey implements [approval.Keys.ReplaceAPIKey].
func (s *Store) ReplaceAPIKey(ctx context.Context, oldID string, k approval.APIKey, t time.Time) error {
	const op = "replace api key"
	if !s.validID(oldID) {
		return approval.NotFound("api key")
	}
	return s.write(ctx, op, func(tx Tx) error {
		// The row lock makes a concurrent replacement of the same key wait,
		// then find it revoked.
		n, err := tx.Exec(ctx, "UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL", t, oldID)
		switch {
		case err != nil:
			return s.fail(op, err)
		case n == 0:
			return approval.NotFound("api key")
		}
		return s.insertAPIKey(ctx, tx, op, k)
	})
}

// insertAPIKey stores k in tx after checking that no live key has its name
// or hash. With one writer nothing can take either meanwhile; with
// concurrent ones the unique indexes api_keys_live_name and
// api_keys_live_hash make the insert wait for a transaction that did, and
// fail, which is a conflict too.
func (s *Store) insertAPIKey(ctx context.Context, tx Tx, op string, k approval.APIKey) error {
	if !s.validID(k.ID) {
		return s.fail(op, fmt.Errorf("key id %q is not a canonical UUID", k.ID))
	}
	scopes, err := json.Marshal(k.Scopes)
	groups, err2 := json.Marshal(k.Groups)
	if err := errors.Join(err, err2); err != nil {
		return s.fail(op, err)
	}
	if err := s.liveKeyConflict(ctx, tx, op, k.Name, k.Hash, nil); err != nil {
		return err
	}
	_, err = tx.Exec(ctx, insertKey,
		k.ID, k.Name, k.Prefix, k.Hash, string(scopes), string(groups), cmp.Or(k.Origin, approval.KeyOriginAPI),
		k.CreatedAt, k.ExpiresAt, k.LastUsedAt, k.RevokedAt)
	return s.keyError(op, k.Name, err)
}

// keyError returns err, of op writing a key named name: a KindConflict
// *approval.Error when another live key holds the name or the hash, as
// fail does otherwise.
func (s *Store) keyError(op, name string, err error) error {
	switch {
	case s.unique(err, "api_keys_live_name"):
		return nameTaken(name)
	case s.unique(err, "api_keys_live_hash"):
		return errHashTaken
	}
	return s.fail(op, err)
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
func (s *Store) liveKeyConflict(ctx context.Context, tx Tx, op, name, hash string, except any) error {
	var nameIsTaken, hashIsTaken bool
	err := tx.QueryRow(ctx, `
		SELECT
			EXISTS (SELECT 1 FROM api_keys WHERE name = $1 AND revoked_at IS NULL AND id IS DISTINCT FROM $3),
			EXISTS (SELECT 1 FROM api_keys WHERE hash = $2 AND revoked_at IS NULL AND id IS DISTINCT FROM $3)`,
		name, hash, except,
	).Scan(&nameIsTaken, &hashIsTaken)
	switch {
	case err != nil:
		return s.fail(op, err)
	case nameIsTaken && name != "":
		return nameTaken(name)
	case hashIsTaken:
		return errHashTaken
	}
	return nil
}

// APIKeyByHash implements [approval.Keys.APIKeyByHash].
func (s *Store) APIKeyByHash(ctx context.Context, hash string) (*approval.APIKey, error) {
	var k approval.APIKey
	err := s.scanAPIKey(s.db.QueryRow(ctx, "SELECT "+apiKeyColumns+" FROM api_keys WHERE hash = $1 AND revoked_at IS NULL", hash), &k)
	if err != nil {
		return nil, s.found("api key by hash", "api key", err)
	}
	return &k, nil
}

// ListAPIKeys implements [approval.Keys.ListAPIKeys].
func (s *Store) ListAPIKeys(ctx context.Context) ([]approval.APIKey, error) {
	return queryAll(ctx, s, s.db, "list api keys", s.scanAPIKey, "SELECT "+apiKeyColumns+" FROM api_keys ORDER BY created_at, id")
}

// RevokeAPIKey implements [approval.Keys.RevokeAPIKey]; a key revoked
// before keeps its first revocation time.
func (s *Store) RevokeAPIKey(ctx context.Context, id string, t time.Time) error {
	if !s.validID(id) {
		return approval.NotFound("api key")
	}
	n, err := s.exec(ctx, "revoke api key", "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2", t, id)
	if err == nil && n == 0 {
		return approval.NotFound("api key")
	}
	return err
}

// TouchAPIKey implements [approval.Keys.TouchAPIKey]: a key whose last use
// is recent is neither written nor locked.
func (s *Store) TouchAPIKey(ctx context.Context, id string, t time.Time) error {
	if !s.validID(id) {
		return nil
	}
	_, err := s.exec(ctx, "touch api key", `
		UPDATE api_keys SET last_used_at = $1
		WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $3)`,
		t, id, t.Add(-touchInterval))
	return err
}

// RotateAPIKey implements [approval.Keys.RotateAPIKey]. Where the database
// tells which unique index a write violates, it is one statement;
// elsewhere a check that no live key has the hash comes first.
func (s *Store) RotateAPIKey(ctx context.Context, id, hash, prefix string, t time.Time) (*approval.APIKey, error) {
	const op = "rotate api key"
	if !s.validID(id) {
		return nil, approval.NotFound("api key")
	}
	var k approval.APIKey
	err := s.write(ctx, op, func(tx Tx) error {
		if s.d.UniqueViolation == nil {
			if err := s.liveKeyConflict(ctx, tx, op, "", hash, id); err != nil {
				return err
			}
		}
		err := s.scanAPIKey(tx.QueryRow(ctx, `
			UPDATE api_keys SET hash = $1, prefix = $2, last_used_at = NULL
			WHERE id = $3 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $4)
			RETURNING `+apiKeyColumns, hash, prefix, id, t), &k)
		if noRows(err) {
			return approval.NotFound("api key")
		}
		return s.keyError(op, "", err)
	})
	if err != nil {
		return nil, err
	}
	return &k, nil
}

// scanAPIKey reads one row of apiKeyColumns into k.
func (s *Store) scanAPIKey(row Row, k *approval.APIKey) error {
	var scopes, groups string
	if err := row.Scan(&k.ID, &k.Name, &k.Prefix, &k.Hash, &scopes, &groups, &k.Origin, s.d.Time(&k.CreatedAt),
		s.d.NullTime(&k.ExpiresAt), s.d.NullTime(&k.LastUsedAt), s.d.NullTime(&k.RevokedAt)); err != nil {
		return err
	}
	if err := errors.Join(unmarshal("scopes", &scopes, &k.Scopes), unmarshal("groups", &groups, &k.Groups)); err != nil {
		return fmt.Errorf("api key %s: %w", k.ID, err)
	}
	return nil
}
