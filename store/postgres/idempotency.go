package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"approvald/approval"
)

// claimAttempts bounds how often claimIdempotency tries again when the
// record it collided with is deleted before it can read it.
const claimAttempts = 3

// claimIdempotency inserts rec, unless its principal's key has a record
// already; then it returns that record and inserts nothing. It returns nil
// when it inserted rec.
//
// The insert comes first in CreateApproval's transaction so that concurrent
// creates under one key cannot both store a request: while the first holds
// the key, the others' inserts wait for its transaction to end; if it
// commits, they insert nothing and, in READ COMMITTED, their next statement
// sees its record.
func claimIdempotency(ctx context.Context, tx pgx.Tx, rec *approval.Idempotency) (*approval.Idempotency, error) {
	response := rec.Response
	if response == nil {
		response = []byte{} // the column is NOT NULL
	}
	for range claimAttempts {
		tag, err := tx.Exec(ctx, `
			INSERT INTO idempotency_keys (principal, key, body_hash, request_id, response, created_at)
			VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (principal, key) DO NOTHING`,
			rec.Principal, rec.Key, rec.BodyHash, rec.RequestID, response, rec.CreatedAt)
		if err != nil {
			return nil, internal("insert idempotency key", err)
		}
		if tag.RowsAffected() == 1 {
			return nil, nil
		}
		prev, err := getIdempotency(ctx, tx, rec.Principal, rec.Key)
		if err != nil || prev != nil {
			return prev, err
		}
		// DeleteIdempotencyBefore removed the record in between: claim the
		// key again.
	}
	return nil, internal("insert idempotency key", errors.New("the conflicting record keeps disappearing"))
}

// getIdempotency returns the record of principal's key, or nil when there is none.
func getIdempotency(ctx context.Context, q querier, principal, key string) (*approval.Idempotency, error) {
	var rec approval.Idempotency
	err := q.QueryRow(ctx, `
		SELECT principal, key, body_hash, request_id, response, created_at
		FROM idempotency_keys WHERE principal = $1 AND key = $2`, principal, key,
	).Scan(&rec.Principal, &rec.Key, &rec.BodyHash, &rec.RequestID, &rec.Response, &rec.CreatedAt)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil, nil
	case err != nil:
		return nil, internal("get idempotency key", err)
	}
	rec.CreatedAt = rec.CreatedAt.UTC()
	return &rec, nil
}

// DeleteIdempotencyBefore deletes the idempotency records created before t
// and returns how many there were. It returns an internal *approval.Error
// when the database fails.
func (s *Store) DeleteIdempotencyBefore(ctx context.Context, t time.Time) (int64, error) {
	return s.execCount(ctx, "delete idempotency keys", "DELETE FROM idempotency_keys WHERE created_at < $1", t)
}
