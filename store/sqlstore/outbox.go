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
const OutboxColumns = "seq, id, type, request_id, version, data, created_at, COALESCE(webhook, ''), trace_parent, notify"

// Outbox implements [approval.Deliveries.Outbox]: it suits a settled
// outbox (tests, inspection); workers claim rows.
func (s *Store) Outbox(ctx context.Context, after int64, limit int) ([]approval.OutboxRecord, error) {
	return queryAll(ctx, s, s.db, "outbox", func(row Row, rec *approval.OutboxRecord) error { return s.scanOutbox(row, rec) },
		"SELECT "+OutboxColumns+" FROM outbox WHERE seq > $1 ORDER BY seq LIMIT $2", after, Limit(limit))
}

// LatestOutboxSeq implements [approval.Deliveries.LatestOutboxSeq]: when
// every event has been deleted, the highest handed out, so that the next
// event follows it. (PostgreSQL never uses the numbers of transactions that
// roll back: there are gaps.)
func (s *Store) LatestOutboxSeq(ctx context.Context) (int64, error) {
	var seq int64
	if err := s.db.QueryRow(ctx, s.d.LatestOutboxSeq).Scan(&seq); err != nil {
		return 0, s.fail("latest outbox seq", err)
	}
	return seq, nil
}

// ClaimDeliveries implements [approval.Deliveries.ClaimDeliveries]: it
// leases the most overdue first and returns them by sequence number.
func (s *Store) ClaimDeliveries(ctx context.Context, now, leaseUntil time.Time, skip []string, limit int) ([]approval.Claim, error) {
	if skip == nil {
		skip = []string{} // a NULL list would hold nothing, but say what is meant
	}
	return s.claim(ctx, "claim deliveries", s.d.ClaimDeliveries, leaseUntil, now, s.d.Array(skip), Limit(limit))
}

// ClaimUnpublished implements [approval.Deliveries.ClaimUnpublished].
func (s *Store) ClaimUnpublished(ctx context.Context, now, leaseUntil time.Time, limit int) ([]approval.OutboxRecord, error) {
	return records(s.claim(ctx, "claim unpublished", s.d.ClaimUnpublished, leaseUntil, now, Limit(limit)))
}

// records returns the outbox records of claims, or err.
func records(claims []approval.Claim, err error) ([]approval.OutboxRecord, error) {
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
	err := writeOn(ctx, s.deliveries, op, func(tx Tx) (err error) {
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

// FinishDelivery implements [approval.Deliveries.FinishDelivery]. A
// finished delivery stays finished, whatever a late outcome says; fn's
// error is returned unchanged, and nothing written.
func (s *Store) FinishDelivery(ctx context.Context, res approval.DeliveryResult, fn func(*approval.Request) (approval.Change, error)) (*approval.Request, error) {
	var done, next *time.Time
	if res.Done {
		done = new(approval.TruncateTime(time.Now()))
	} else {
		next = &res.NextAttempt
	}
	var out *approval.Request
	err := writeOn(ctx, s.deliveries, "finish delivery", func(tx Tx) error {
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
	s.db.Changed()
	return out, nil
}

// MarkPublished implements [approval.Deliveries.MarkPublished]; an event
// keeps its first publication time.
func (s *Store) MarkPublished(ctx context.Context, seqs []int64, now time.Time) error {
	if len(seqs) == 0 {
		return nil
	}
	_, err := s.exec(ctx, "mark published",
		"UPDATE outbox SET published_at = COALESCE(published_at, $1) WHERE "+s.d.In("seq", "$2"), now, s.d.Array(seqs))
	return err
}

// DeleteOutboxBefore implements [approval.Deliveries.DeleteOutboxBefore],
// returning how many it deleted. An event whose notification is not planned
// yet stays too, so that the notifier still finds it.
func (s *Store) DeleteOutboxBefore(ctx context.Context, t time.Time, published bool) (int64, error) {
	return s.exec(ctx, "delete outbox", `
		DELETE FROM outbox
		WHERE created_at < $1 AND (webhook IS NULL OR webhook_done_at IS NOT NULL)
			AND (NOT $2 OR published_at IS NOT NULL) AND (notify = '' OR notified_at IS NOT NULL)`, t, published)
}

// scanOutbox reads the OutboxColumns of row into rec, and the columns after
// them into more.
func (s *Store) scanOutbox(row Row, rec *approval.OutboxRecord, more ...any) error {
	var data, notify string
	err := row.Scan(append([]any{&rec.Seq, &rec.ID, &rec.Type, &rec.RequestID, &rec.Version, &data,
		s.d.Time(&rec.CreatedAt), &rec.Webhook, &rec.TraceParent, &notify}, more...)...)
	rec.Data, rec.Notify = []byte(data), approval.NotifyKind(notify)
	return err
}

// PendingDelivery implements [approval.Deliveries.PendingDelivery].
func (s *Store) PendingDelivery(ctx context.Context, requestID string) (*approval.Delivery, error) {
	if !s.validID(requestID) {
		return nil, nil
	}
	var d approval.Delivery
	err := s.db.QueryRow(ctx, `
		SELECT attempts, COALESCE(last_error, ''), next_attempt_at FROM outbox
		WHERE request_id = $1 AND webhook IS NOT NULL AND webhook_done_at IS NULL
		ORDER BY seq DESC LIMIT 1`, requestID).Scan(&d.Attempts, &d.LastError, s.d.NullTime(&d.NextAttempt))
	switch {
	case noRows(err):
		return nil, nil
	case err != nil:
		return nil, s.fail("pending delivery", err)
	}
	return &d, nil
}

// OutboxStats implements [approval.Deliveries.OutboxStats].
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
