package postgres

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"approvald/approval"
)

// outboxColumns are the columns of outbox in the order scanOutbox reads them.
const outboxColumns = "seq, id, type, request_id, version, data, created_at, webhook, trace_parent"

// claimDeliveriesQuery leases due deliveries, most overdue first, reading
// the partial index outbox_due, whose WHERE it repeats. FOR UPDATE SKIP
// LOCKED passes over the rows another claim is taking; one that another
// claim took since this statement's snapshot fails the recheck of
// next_attempt_at on the row's latest version. So no two claims, in this
// process or another, take the same row. MATERIALIZED makes the CTE run
// once, locking at most $4 rows.
const claimDeliveriesQuery = `
	WITH due AS MATERIALIZED (
		SELECT seq FROM outbox
		WHERE webhook IS NOT NULL AND webhook_done_at IS NULL AND next_attempt_at <= $2
			AND webhook <> ALL ($3::text[])
		ORDER BY next_attempt_at, seq LIMIT $4
		FOR UPDATE SKIP LOCKED)
	UPDATE outbox SET next_attempt_at = $1
	WHERE seq IN (SELECT seq FROM due)
	RETURNING ` + outboxColumns + ", attempts"

// claimUnpublishedQuery leases unpublished events, oldest first, from the
// partial index outbox_unpublished, as claimDeliveriesQuery does deliveries.
const claimUnpublishedQuery = `
	WITH due AS MATERIALIZED (
		SELECT seq FROM outbox
		WHERE published_at IS NULL AND (publish_after IS NULL OR publish_after <= $2)
		ORDER BY seq LIMIT $3
		FOR UPDATE SKIP LOCKED)
	UPDATE outbox SET publish_after = $1
	WHERE seq IN (SELECT seq FROM due)
	RETURNING ` + outboxColumns + ", attempts"

// Outbox returns up to limit (by default 50) outbox records with a sequence
// number greater than after, in order. It returns an internal
// *approval.Error when the database fails.
//
// Unlike on SQLite, where writes are serialized, transactions on PostgreSQL
// can commit in another order than the one they took sequence numbers in: a
// record may appear below a cursor that has already passed it. Outbox suits
// reading a settled outbox (tests, inspection); the delivery workers claim
// rows with FOR UPDATE SKIP LOCKED instead of following a cursor.
func (s *Store) Outbox(ctx context.Context, after int64, limit int) ([]approval.OutboxRecord, error) {
	return queryAll(ctx, s.pool, "outbox", scanOutbox,
		"SELECT "+outboxColumns+" FROM outbox WHERE seq > $1 ORDER BY seq LIMIT $2",
		after, limitOr(limit, defaultListLimit))
}

// LatestOutboxSeq returns the sequence number of the latest event: the
// highest stored or, when every event has been deleted, the last one the
// identity sequence handed out, so that a reader starting there sees the
// next event follow it; 0 before the first event. Numbers of transactions
// that roll back are never used, which leaves gaps a reader must allow
// for. It returns an internal *approval.Error when the database fails.
func (s *Store) LatestOutboxSeq(ctx context.Context) (int64, error) {
	var seq int64
	err := s.pool.QueryRow(ctx, `
		SELECT COALESCE((SELECT max(seq) FROM outbox),
			(SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM outbox_seq_seq))`,
	).Scan(&seq)
	if err != nil {
		return 0, internal("latest outbox seq", err)
	}
	return seq, nil
}

// ClaimDeliveries leases up to limit (by default 50) due webhook deliveries
// whose rule is not in skip, the most overdue first, until leaseUntil, and
// returns them in sequence order. Concurrent claims, by any number of
// Stores, never return the same delivery while its lease lasts. It returns
// an internal *approval.Error when the database fails.
func (s *Store) ClaimDeliveries(ctx context.Context, now, leaseUntil time.Time, skip []string, limit int) ([]approval.Claim, error) {
	if skip == nil {
		skip = []string{} // nil would be a NULL array, which no webhook is "<> ALL" of
	}
	return s.claim(ctx, "claim deliveries", claimDeliveriesQuery,
		leaseUntil, now, skip, limitOr(limit, defaultListLimit))
}

// ClaimUnpublished leases up to limit (by default 50) events not yet
// published and not leased at now, oldest first, until leaseUntil, as
// ClaimDeliveries does. It returns an internal *approval.Error when the
// database fails.
func (s *Store) ClaimUnpublished(ctx context.Context, now, leaseUntil time.Time, limit int) ([]approval.OutboxRecord, error) {
	claims, err := s.claim(ctx, "claim unpublished", claimUnpublishedQuery,
		leaseUntil, now, limitOr(limit, defaultListLimit))
	if err != nil {
		return nil, err
	}
	out := make([]approval.OutboxRecord, len(claims))
	for i, c := range claims {
		out[i] = c.OutboxRecord
	}
	return out, nil
}

// claim runs a claim statement in a write transaction and returns the rows
// it leased in sequence order (RETURNING has none).
func (s *Store) claim(ctx context.Context, op, query string, args ...any) ([]approval.Claim, error) {
	var out []approval.Claim
	err := s.write(ctx, op, func(tx pgx.Tx) (err error) {
		out, err = queryAll(ctx, tx, op, scanClaim, query, args...)
		return err
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b approval.Claim) int { return cmp.Compare(a.Seq, b.Seq) })
	return out, nil
}

// FinishDelivery records the outcome res of a delivery attempt and, when fn
// is not nil, applies fn to the event's request as UpdateApproval does, in
// one transaction, which it runs again (fn included) after a serialization
// failure or a deadlock. A finished delivery stays finished, whatever a
// late outcome says. It returns the request as it is afterwards when fn ran
// (nil otherwise); fn's error unchanged, after which nothing is written; a
// KindNotFound *approval.Error for an unknown sequence number; and an
// internal one when the database fails.
func (s *Store) FinishDelivery(ctx context.Context, res approval.DeliveryResult, fn func(*approval.Request) (approval.Change, error)) (*approval.Request, error) {
	var done, next *time.Time
	if res.Done {
		done = new(approval.TruncateTime(time.Now()))
	} else {
		next = &res.NextAttempt
	}
	var out *approval.Request
	err := s.change(ctx, "finish delivery", func(tx pgx.Tx) error {
		out = nil
		var requestID string
		err := tx.QueryRow(ctx, `
			UPDATE outbox SET attempts = $1, last_error = NULLIF($2, ''),
				webhook_done_at = COALESCE(webhook_done_at, $3),
				next_attempt_at = COALESCE($4, next_attempt_at)
			WHERE seq = $5 RETURNING request_id`,
			res.Attempts, res.LastError, done, next, res.Seq,
		).Scan(&requestID)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			return approval.NotFound("outbox event")
		case err != nil:
			return internal("finish delivery", err)
		}
		if fn == nil {
			return nil
		}
		out, _, err = s.applyChange(ctx, tx, requestID, fn)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// MarkPublished records that the events with the sequence numbers seqs were
// published at now; an event keeps its first publication time. It returns
// an internal *approval.Error when the database fails.
func (s *Store) MarkPublished(ctx context.Context, seqs []int64, now time.Time) error {
	if len(seqs) == 0 {
		return nil
	}
	_, err := s.execCount(ctx, "mark published",
		"UPDATE outbox SET published_at = COALESCE(published_at, $1) WHERE seq = ANY ($2)", now, seqs)
	return err
}

// DeleteOutboxBefore deletes the events created before t that have no
// webhook delivery or a finished one and, when published is true, that were
// published, and returns how many there were. It returns an internal
// *approval.Error when the database fails.
func (s *Store) DeleteOutboxBefore(ctx context.Context, t time.Time, published bool) (int64, error) {
	return s.execCount(ctx, "delete outbox", `
		DELETE FROM outbox
		WHERE created_at < $1 AND (webhook IS NULL OR webhook_done_at IS NOT NULL)
			AND (NOT $2 OR published_at IS NOT NULL)`, t, published)
}

// scanOutbox reads one row of outboxColumns.
func scanOutbox(row scanner) (approval.OutboxRecord, error) {
	var rec approval.OutboxRecord
	err := scanOutboxInto(row, &rec)
	return rec, err
}

// scanClaim reads one row of outboxColumns and attempts.
func scanClaim(row scanner) (approval.Claim, error) {
	var c approval.Claim
	err := scanOutboxInto(row, &c.OutboxRecord, &c.Attempts)
	c.Rule = c.Webhook
	return c, err
}

// scanOutboxInto reads the outboxColumns of row into rec, and the columns
// after them into more.
func scanOutboxInto(row scanner, rec *approval.OutboxRecord, more ...any) error {
	var (
		data    string
		webhook *string
	)
	err := row.Scan(append([]any{&rec.Seq, &rec.ID, &rec.Type, &rec.RequestID, &rec.Version, &data, &rec.CreatedAt, &webhook, &rec.TraceParent}, more...)...)
	rec.Data = []byte(data)
	rec.CreatedAt = rec.CreatedAt.UTC()
	if webhook != nil {
		rec.Webhook = *webhook
	}
	return err
}

// PendingDelivery returns the state of request requestID's unfinished
// webhook delivery, or nil when none is under way (or requestID is not a
// UUID). It returns an internal *approval.Error when the database fails.
func (s *Store) PendingDelivery(ctx context.Context, requestID string) (*approval.Delivery, error) {
	if !validID(requestID) {
		return nil, nil
	}
	var (
		attempts int
		lastErr  *string
		next     *time.Time
	)
	err := s.pool.QueryRow(ctx, `
		SELECT attempts, last_error, next_attempt_at FROM outbox
		WHERE request_id = $1 AND webhook IS NOT NULL AND webhook_done_at IS NULL
		ORDER BY seq DESC LIMIT 1`, requestID).Scan(&attempts, &lastErr, &next)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil, nil
	case err != nil:
		return nil, internal("pending delivery", err)
	}
	d := &approval.Delivery{Attempts: attempts, NextAttempt: nullUTC(next)}
	if lastErr != nil {
		d.LastError = *lastErr
	}
	return d, nil
}

// OutboxStats counts the deliveries to service rules not finished yet and
// finds when the oldest was decided. It returns an internal
// *approval.Error when the database fails.
func (s *Store) OutboxStats(ctx context.Context) (approval.OutboxStats, error) {
	var (
		st     approval.OutboxStats
		oldest *time.Time
	)
	err := s.pool.QueryRow(ctx, `
		SELECT count(*), min(created_at) FROM outbox
		WHERE webhook IS NOT NULL AND webhook_done_at IS NULL`).Scan(&st.Undelivered, &oldest)
	if err != nil {
		return st, internal("outbox stats", err)
	}
	if oldest != nil {
		st.OldestUndelivered = oldest.UTC()
	}
	return st, nil
}

// PoolStats returns the connection pool's statistics in database/sql's
// terms, so that one collector reads both stores.
func (s *Store) PoolStats() map[string]sql.DBStats {
	st := s.pool.Stat()
	return map[string]sql.DBStats{"pool": {
		MaxOpenConnections: int(st.MaxConns()),
		OpenConnections:    int(st.TotalConns()),
		InUse:              int(st.AcquiredConns()),
		Idle:               int(st.IdleConns()),
		WaitCount:          st.EmptyAcquireCount(),
		WaitDuration:       st.EmptyAcquireWaitTime(),
	}}
}
