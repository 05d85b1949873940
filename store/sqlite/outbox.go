package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"slices"
	"time"

	"approvald/approval"
)

// outboxColumns are the columns of outbox in the order scanOutbox reads them.
const outboxColumns = "seq, id, type, request_id, version, data, created_at, webhook, trace_parent"

// claimDeliveriesQuery leases due deliveries from the partial index
// outbox_due, whose WHERE it repeats, most overdue first. The single writer
// connection runs one claim at a time, so two claims never take one row.
const claimDeliveriesQuery = `
	UPDATE outbox SET next_attempt_at = ?
	WHERE seq IN (
		SELECT seq FROM outbox INDEXED BY outbox_due
		WHERE webhook IS NOT NULL AND webhook_done_at IS NULL AND next_attempt_at <= ?
			AND webhook NOT IN (SELECT value FROM json_each(?))
		ORDER BY next_attempt_at, seq LIMIT ?)
	RETURNING ` + outboxColumns + ", attempts"

// claimUnpublishedQuery leases unpublished events, oldest first, from the
// partial index outbox_unpublished.
const claimUnpublishedQuery = `
	UPDATE outbox SET publish_after = ?
	WHERE seq IN (
		SELECT seq FROM outbox INDEXED BY outbox_unpublished
		WHERE published_at IS NULL AND (publish_after IS NULL OR publish_after <= ?)
		ORDER BY seq LIMIT ?)
	RETURNING ` + outboxColumns + ", attempts"

// Outbox returns up to limit (by default 50) outbox records with a sequence
// number greater than after, in order. It returns an internal
// *approval.Error when the database fails.
func (s *Store) Outbox(ctx context.Context, after int64, limit int) ([]approval.OutboxRecord, error) {
	return queryAll(ctx, s.reader, "outbox", scanOutbox,
		"SELECT "+outboxColumns+" FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?",
		after, limitOr(limit, defaultListLimit))
}

// LatestOutboxSeq returns the sequence number of the latest event: the
// highest stored or, when every event has been deleted, the highest ever
// stored (which AUTOINCREMENT keeps in sqlite_sequence), so that a reader
// starting there sees the next event follow it without a gap; 0 before the
// first event. It returns an internal *approval.Error when the database
// fails.
func (s *Store) LatestOutboxSeq(ctx context.Context) (int64, error) {
	var seq int64
	err := s.reader.QueryRowContext(ctx, `
		SELECT COALESCE((SELECT max(seq) FROM outbox), (SELECT seq FROM sqlite_sequence WHERE name = 'outbox'), 0)`,
	).Scan(&seq)
	if err != nil {
		return 0, internal("latest outbox seq", err)
	}
	return seq, nil
}

// ClaimDeliveries leases up to limit (by default 50) due webhook deliveries
// whose rule is not in skip, the most overdue first, until leaseUntil, and
// returns them in sequence order. It returns an internal *approval.Error
// when the database fails.
func (s *Store) ClaimDeliveries(ctx context.Context, now, leaseUntil time.Time, skip []string, limit int) ([]approval.Claim, error) {
	if skip == nil {
		skip = []string{} // json_each of null is no rows, but say what is meant
	}
	list, err := json.Marshal(skip)
	if err != nil {
		return nil, internal("claim deliveries", err)
	}
	return s.claim(ctx, "claim deliveries", claimDeliveriesQuery,
		micros(leaseUntil), micros(now), string(list), limitOr(limit, defaultListLimit))
}

// ClaimUnpublished leases up to limit (by default 50) events not yet
// published and not leased at now, oldest first, until leaseUntil. It
// returns an internal *approval.Error when the database fails.
func (s *Store) ClaimUnpublished(ctx context.Context, now, leaseUntil time.Time, limit int) ([]approval.OutboxRecord, error) {
	claims, err := s.claim(ctx, "claim unpublished", claimUnpublishedQuery,
		micros(leaseUntil), micros(now), limitOr(limit, defaultListLimit))
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
	err := s.write(ctx, op, func(tx *sql.Tx) (err error) {
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
// one write transaction. A finished delivery stays finished, whatever a late
// outcome says. It returns the request as it is afterwards when fn ran
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
	err := s.change(ctx, "finish delivery", func(tx *sql.Tx) error {
		var requestID string
		err := tx.QueryRowContext(ctx, `
			UPDATE outbox SET attempts = ?, last_error = NULLIF(?, ''),
				webhook_done_at = COALESCE(webhook_done_at, ?),
				next_attempt_at = COALESCE(?, next_attempt_at)
			WHERE seq = ? RETURNING request_id`,
			res.Attempts, res.LastError, nullMicros(done), nullMicros(next), res.Seq,
		).Scan(&requestID)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return approval.NotFound("outbox event")
		case err != nil:
			return internal("finish delivery", err)
		case fn == nil:
			return nil
		}
		out, _, err = applyChange(ctx, tx, requestID, fn)
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
	list, err := json.Marshal(seqs)
	if err != nil {
		return internal("mark published", err)
	}
	_, err = s.execCount(ctx, "mark published", `
		UPDATE outbox SET published_at = COALESCE(published_at, ?)
		WHERE seq IN (SELECT value FROM json_each(?))`, micros(now), string(list))
	return err
}

// DeleteOutboxBefore deletes the events created before t that have no
// webhook delivery or a finished one and, when published is true, that were
// published, and returns how many there were. It returns an internal
// *approval.Error when the database fails.
func (s *Store) DeleteOutboxBefore(ctx context.Context, t time.Time, published bool) (int64, error) {
	return s.execCount(ctx, "delete outbox", `
		DELETE FROM outbox
		WHERE created_at < ? AND (webhook IS NULL OR webhook_done_at IS NOT NULL)
			AND (NOT ? OR published_at IS NOT NULL)`, micros(t), published)
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
		data      string
		createdAt int64
		webhook   sql.Null[string]
	)
	err := row.Scan(append([]any{&rec.Seq, &rec.ID, &rec.Type, &rec.RequestID, &rec.Version, &data, &createdAt, &webhook, &rec.TraceParent}, more...)...)
	rec.Data = []byte(data)
	rec.CreatedAt = fromMicros(createdAt)
	rec.Webhook = webhook.V
	return err
}

// PendingDelivery returns the state of request requestID's unfinished
// webhook delivery, or nil when none is under way. It returns an internal
// *approval.Error when the database fails.
func (s *Store) PendingDelivery(ctx context.Context, requestID string) (*approval.Delivery, error) {
	var (
		attempts int
		lastErr  sql.Null[string]
		next     sql.Null[int64]
	)
	err := s.reader.QueryRowContext(ctx, `
		SELECT attempts, last_error, next_attempt_at FROM outbox
		WHERE request_id = ? AND webhook IS NOT NULL AND webhook_done_at IS NULL
		ORDER BY seq DESC LIMIT 1`, requestID).Scan(&attempts, &lastErr, &next)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, nil
	case err != nil:
		return nil, internal("pending delivery", err)
	}
	return &approval.Delivery{Attempts: attempts, LastError: lastErr.V, NextAttempt: fromNullMicros(next)}, nil
}

// OutboxStats counts the deliveries to service rules not finished yet and
// finds when the oldest was decided. It returns an internal
// *approval.Error when the database fails.
func (s *Store) OutboxStats(ctx context.Context) (approval.OutboxStats, error) {
	var (
		st     approval.OutboxStats
		oldest sql.Null[int64]
	)
	err := s.reader.QueryRowContext(ctx, `
		SELECT count(*), min(created_at) FROM outbox
		WHERE webhook IS NOT NULL AND webhook_done_at IS NULL`).Scan(&st.Undelivered, &oldest)
	if err != nil {
		return st, internal("outbox stats", err)
	}
	if oldest.Valid {
		st.OldestUndelivered = fromMicros(oldest.V)
	}
	return st, nil
}

// PoolStats returns the statistics of the writer and the reader pools.
func (s *Store) PoolStats() map[string]sql.DBStats {
	return map[string]sql.DBStats{"writer": s.writer.Stats(), "reader": s.reader.Stats()}
}
