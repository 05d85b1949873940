package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"approvald/approval"
)

// getIdempotency returns the record of principal's key, or nil when there is none.
func getIdempotency(ctx context.Context, q querier, principal, key string) (*approval.Idempotency, error) {
	var (
		rec       approval.Idempotency
		createdAt int64
	)
	err := q.QueryRowContext(ctx, `
		SELECT principal, key, body_hash, request_id, response, created_at
		FROM idempotency_keys WHERE principal = ? AND key = ?`, principal, key,
	).Scan(&rec.Principal, &rec.Key, &rec.BodyHash, &rec.RequestID, &rec.Response, &createdAt)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, nil
	case err != nil:
		return nil, internal("get idempotency key", err)
	}
	rec.CreatedAt = fromMicros(createdAt)
	return &rec, nil
}

// insertIdempotency stores rec.
func insertIdempotency(ctx context.Context, tx *sql.Tx, rec *approval.Idempotency) error {
	response := rec.Response
	if response == nil {
		response = []byte{} // the column is NOT NULL
	}
	_, err := tx.ExecContext(ctx, `
		INSERT INTO idempotency_keys (principal, key, body_hash, request_id, response, created_at)
		VALUES (?, ?, ?, ?, ?, ?)`,
		rec.Principal, rec.Key, rec.BodyHash, rec.RequestID, response, micros(rec.CreatedAt))
	if err != nil {
		return internal("insert idempotency key", err)
	}
	return nil
}

// DeleteIdempotencyBefore deletes the idempotency records created before t
// and returns how many there were. It returns an internal *approval.Error
// when the database fails.
func (s *Store) DeleteIdempotencyBefore(ctx context.Context, t time.Time) (int64, error) {
	return s.execCount(ctx, "delete idempotency keys", "DELETE FROM idempotency_keys WHERE created_at < ?", micros(t))
}
