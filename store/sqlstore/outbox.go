package sqlstore

import (
	"cmp"
	"context"
	"slices"
	"time"

	"approvald/approval"
)

// OutboxColumns are the columns of outbox in the order scanOutbox reads
// them: what a Dialect's claims return, before attempts.
const OutboxColumns = "seq, id, type, request_id, version, data, created_at, webhook, trace_parent"

// Outbox returns up to limit (by default 50) outbox records with sequence
// numbers above after, in order. It returns an internal *approval.Error
// when the database fails. Where transactions commit concurrently
// (PostgreSQL), a record may appear below a cursor that has passed it:
// Outbox suits a settled outbox (tests, inspection); workers claim rows.
func (s *Store) Outbox(ctx context.Context, after int64, limit int) ([]approval.OutboxRecord, error) {
	return queryAll(ctx, s, s.db, "outbox", func(row Row, rec *approval.OutboxRecord) error { return s.scanOutbox(row, rec) },
		"SELECT "+OutboxColumns+" FROM outbox WHERE seq > $1 ORDER BY seq LIMIT $2", after, Limit(limit))
}

// LatestOutboxSeq returns the sequence number of the latest event: the
// highest stored or, when every event has been deleted, the highest handed
// out, so that the next event follows it; 0 before the first. (PostgreSQL
// never uses the numbers of transactions that roll back: there are gaps.)
// It returns an internal *approval.Error when the database fails.
func (s *Store) LatestOutboxSeq(ctx context.Context) (int64, error) {
	var seq int64
	if err := s.db.QueryRow(ctx, s.d.LatestOutboxSeq).Scan(&seq); err != nil {
		return 0, s.fail("latest outbox seq", err)
	}
	return seq, nil
}

// ClaimDeliveries leases up to limit (by default 50) due webhook deliveries
// whose rule is not in skip, the most overdue first, until leaseUntil, and
// returns them by sequence number. Concurrent claims never return the same
// delivery while its lease lasts. It returns an internal *approval.Error
// when the database fails.
func (s *Store) ClaimDeliveries(ctx context.Context, now, leaseUntil time.Time, skip []string, limit int) ([]approval.Claim, error) {
	if skip == nil {
		skip = []string{} // a NULL list would hold nothing, but say what is meant
	}
	return s.claim(ctx, "claim deliveries", s.d.ClaimDeliveries, leaseUntil, now, s.d.Array(skip), Limit(limit))
}

// ClaimUnpublished leases up to limit (by default 50) events not yet
// published nor leased at now, oldest first, until leaseUntil, as
// ClaimDeliveries does, with its errors.
func (s *Store) ClaimUnpublished(ctx context.Context, now, leaseUntil time.Time, limit int) ([]approval.OutboxRecord, error) {
	claims, err := s.claim(ctx, "claim unpublished", s.d.ClaimUnpublished, leaseUntil, now, Limit(limit))
	if err != nil {
		return nil, err
	}
	out := make([]approval.OutboxRecord, len(claims))
	for i, c := range claims {
		out[i] = c.OutboxRecord
	}
	return out, nil
}

// claim runs a claim statement and returns the rows it leased by sequence
// number (RETURNING has no order).
func (s *Store) claim(ctx context.Context, op, query string, args ...any) ([]approval.Claim, error) {
	var out []approval.Claim
	err := s.write(ctx, op, func(tx Tx) (err error) {
		out, err = queryAll(ctx, s, tx, op, func(row Row, c *approval.Claim) error {
			err := s.scanOutbox(row, &c.OutboxRecord, &c.Attempts)
			c.Rule = c.Webhook
			return err
		}, query, args...)
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
// one transaction. A finished delivery stays finished, whatever a late
// outcome says. It returns the request when fn ran (else nil); fn's error
// unchanged, writing nothing; a KindNotFound *approval.Error for an unknown
// sequence number; and an internal one when the database fails.
func (s *Store) FinishDelivery(ctx context.Context, res approval.DeliveryResult, fn func(*approval.Request) (approval.Change, error)) (*approval.Request, error) {
	var done, next *time.Time
	if res.Done {
		done = new(approval.TruncateTime(time.Now()))
	} else {
		next = &res.NextAttempt
	}
	var out *approval.Request
	err := s.change(ctx, "finish delivery", func(tx Tx) error {
		var requestID string
		err := tx.QueryRow(ctx, `
			UPDATE outbox SET attempts = $1, last_error = NULLIF($2, ''),
				webhook_done_at = COALESCE(webhook_done_at, $3),
				next_attempt_at = COALESCE($4, next_attempt_at)
			WHERE seq = $5 RETURNING request_id`,
			res.Attempts, res.LastError, done, next, res.Seq,
		).Scan(&requestID)
		if err != nil || fn == nil {
			return s.found("finish delivery", "outbox event", err)
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
	_, err := s.exec(ctx, "mark published",
		"UPDATE outbox SET published_at = COALESCE(published_at, $1) WHERE "+s.d.In("seq", "$2"), now, s.d.Array(seqs))
	return err
}

// DeleteOutboxBefore deletes the events created before t whose delivery is
// finished (or that have none) and, when published is true, that were
// published; it returns how many. It returns an internal *approval.Error
// when the database fails.
func (s *Store) DeleteOutboxBefore(ctx context.Context, t time.Time, published bool) (int64, error) {
	return s.exec(ctx, "delete outbox", `
		DELETE FROM outbox
		WHERE created_at < $1 AND (webhook IS NULL OR webhook_done_at IS NOT NULL)
			AND (NOT $2 OR published_at IS NOT NULL)`, t, published)
}

// scanOutbox reads the OutboxColumns of row into rec, and the columns after
// them into more.
func (s *Store) scanOutbox(row Row, rec *approval.OutboxRecord, more ...any) error {
	var (
		data    string
		webhook *string
	)
	err := row.Scan(append([]any{&rec.Seq, &rec.ID, &rec.Type, &rec.RequestID, &rec.Version, &data,
		s.d.Time(&rec.CreatedAt), &webhook, &rec.TraceParent}, more...)...)
	rec.Data = []byte(data)
	if webhook != nil {
		rec.Webhook = *webhook
	}
	return err
}

// PendingDelivery returns the state of request requestID's unfinished
// webhook delivery, or nil when none is under way. It returns an internal
// *approval.Error when the database fails.
func (s *Store) PendingDelivery(ctx context.Context, requestID string) (*approval.Delivery, error) {
	if !s.validID(requestID) {
		return nil, nil
	}
	var (
		d       approval.Delivery
		lastErr *string
	)
	err := s.db.QueryRow(ctx, `
		SELECT attempts, last_error, next_attempt_at FROM outbox
		WHERE request_id = $1 AND webhook IS NOT NULL AND webhook_done_at IS NULL
		ORDER BY seq DESC LIMIT 1`, requestID).Scan(&d.Attempts, &lastErr, s.d.NullTime(&d.NextAttempt))
	switch {
	case noRows(err):
		return nil, nil
	case err != nil:
		return nil, s.fail("pending delivery", err)
	}
	if lastErr != nil {
		d.LastError = *lastErr
	}
	return &d, nil
}

// OutboxStats counts the unfinished deliveries and finds when the oldest
// was decided. It returns an internal *approval.Error when the database fails.
func (s *Store) OutboxStats(ctx context.Context) (approval.OutboxStats, error) {
	var (
		st     approval.OutboxStats
		oldest *time.Time
	)
	err := s.db.QueryRow(ctx, `
		SELECT count(*), min(created_at) FROM outbox
		WHERE webhook IS NOT NULL AND webhook_done_at IS NULL`).Scan(&st.Undelivered, s.d.NullTime(&oldest))
	if err != nil {
		return st, s.fail("outbox stats", err)
	}
	if oldest != nil {
		st.OldestUndelivered = *oldest
	}
	return st, nil
}
