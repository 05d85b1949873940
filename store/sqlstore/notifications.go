package sqlstore

import (
	"cmp"
	"context"
	"slices"
	"time"

	"approvald/approval"
)

// NotificationColumns are the columns of notifications in the order
// scanNotification reads them: what a Dialect's ClaimNotifications returns.
const NotificationColumns = `id, key, request_id, version, kind, recipient, channel, address, data, created_at, due_at,
	attempts, next_attempt_at, last_error, sent_at, failed_at`

// insertNotification (a var: params is a function) queues a notification unless one of its key is queued.
var insertNotification = `INSERT INTO notifications
	(key, request_id, version, kind, recipient, channel, address, data, created_at, due_at, next_attempt_at)
	VALUES (` + params(11) + ") ON CONFLICT (key) DO NOTHING"

// ClaimUnplanned implements [approval.Notifications.ClaimUnplanned] on the
// workers' DB, as ClaimUnpublished does.
func (s *Store) ClaimUnplanned(ctx context.Context, now, leaseUntil time.Time, limit int) ([]approval.OutboxRecord, error) {
	return records(s.claim(ctx, "claim unplanned", s.d.ClaimUnplanned, leaseUntil, now, Limit(limit)))
}

// PlanNotifications implements [approval.Notifications.PlanNotifications].
// A notification whose NextAttempt is zero may go out with its target's
// next batch at once (its next attempt is its creation); nil Data is
// stored as empty. An event keeps its first planning time.
func (s *Store) PlanNotifications(ctx context.Context, seqs []int64, ns []approval.Notification, now time.Time) error {
	const op = "plan notifications"
	t := approval.TruncateTime
	stmts := make([]Stmt, 0, len(ns)+1)
	for _, n := range ns {
		data := n.Data
		if data == nil {
			data = []byte{}
		}
		stmts = append(stmts, Stmt{SQL: insertNotification, Args: []any{n.Key, n.RequestID, n.Version, string(n.Kind), n.Recipient,
			n.Channel, n.Address, data, t(n.CreatedAt), t(n.DueAt), t(cmp.Or(n.NextAttempt, n.CreatedAt))}})
	}
	if len(seqs) > 0 {
		stmts = append(stmts, Stmt{SQL: "UPDATE outbox SET notified_at = COALESCE(notified_at, $1) WHERE " + s.d.In("seq", "$2"),
			Args: []any{t(now), s.d.Array(seqs)}})
	}
	if len(stmts) == 0 {
		return nil
	}
	return s.change(ctx, op, func(tx Tx) error {
		_, err := tx.Batch(ctx, stmts)
		return s.fail(op, err)
	})
}

// ClaimNotifications implements [approval.Notifications.ClaimNotifications]
// on the workers' DB, returning the notifications by id.
func (s *Store) ClaimNotifications(ctx context.Context, now, leaseUntil time.Time, targets, perTarget int) ([]approval.Notification, error) {
	const op = "claim notifications"
	var out []approval.Notification
	err := writeOn(ctx, s.deliveries, op, func(tx Tx) (err error) {
		out, err = queryAll(ctx, s, tx, op, s.scanNotification, s.d.ClaimNotifications, leaseUntil, now, Limit(targets), Limit(perTarget))
		return err
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b approval.Notification) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

// FinishNotifications implements [approval.Notifications.FinishNotifications]:
// each attempt counts; a sent notification gets its sending time and no
// error, one given up its time of failure and the error, any other its
// next attempt and the error. A notification sent or given up already
// stays as it is. A zero res.At is now.
func (s *Store) FinishNotifications(ctx context.Context, res approval.NotificationResult) error {
	if len(res.IDs) == 0 {
		return nil
	}
	at := approval.TruncateTime(cmp.Or(res.At, time.Now()))
	set, args := "next_attempt_at = $1, last_error = $2", []any{approval.TruncateTime(res.NextAttempt), res.LastError}
	switch {
	case res.Sent:
		set, args = "sent_at = $1, last_error = $2", []any{at, ""}
	case res.GiveUp:
		set, args = "failed_at = $1, last_error = $2", []any{at, res.LastError}
	}
	_, err := s.exec(ctx, "finish notifications", "UPDATE notifications SET "+set+", attempts = attempts + 1 WHERE "+
		s.d.In("id", "$3")+" AND sent_at IS NULL AND failed_at IS NULL", append(args, s.d.Array(res.IDs))...)
	return err
}

// ListNotifications implements [approval.Notifications.ListNotifications]
// (newest meaning highest id). A RequestID that cannot be an id selects none.
func (s *Store) ListNotifications(ctx context.Context, f approval.NotificationFilter) ([]approval.Notification, error) {
	if f.RequestID != "" && !s.validID(f.RequestID) {
		return nil, nil
	}
	var q Query
	q.Cond(f.RequestID != "", "request_id =", f.RequestID)
	q.Cond(f.Before != 0, "id <", f.Before)
	if f.Failed {
		q.Conds = append(q.Conds, "failed_at IS NOT NULL")
	}
	if f.Pending {
		q.Conds = append(q.Conds, "sent_at IS NULL AND failed_at IS NULL")
	}
	query := "SELECT " + NotificationColumns + " FROM notifications" + q.Where() + " ORDER BY id DESC LIMIT " + q.Add(Limit(f.Limit))
	return queryAll(ctx, s, s.db, "list notifications", s.scanNotification, query, q.Args...)
}

// NotificationStats implements [approval.Notifications.NotificationStats]:
// the notifications neither sent nor given up (and when the oldest was
// queued), and those given up, as far as DeleteNotificationsBefore left them.
func (s *Store) NotificationStats(ctx context.Context) (approval.NotificationStats, error) {
	var (
		st     approval.NotificationStats
		oldest *time.Time
	)
	err := s.db.QueryRow(ctx, `SELECT count(*), min(created_at) FROM notifications WHERE sent_at IS NULL AND failed_at IS NULL`).
		Scan(&st.Pending, s.d.NullTime(&oldest))
	if err == nil {
		err = s.db.QueryRow(ctx, "SELECT count(*) FROM notifications WHERE failed_at IS NOT NULL").Scan(&st.Failed)
	}
	if err != nil {
		return st, s.fail("notification stats", err)
	}
	if oldest != nil {
		st.OldestPending = *oldest
	}
	return st, nil
}

// DeleteNotificationsBefore implements
// [approval.Notifications.DeleteNotificationsBefore], returning how many it
// deleted.
func (s *Store) DeleteNotificationsBefore(ctx context.Context, t time.Time) (int64, error) {
	return s.exec(ctx, "delete notifications", "DELETE FROM notifications WHERE sent_at < $1 OR failed_at < $1", t)
}

// scanNotification reads a row of NotificationColumns into n.
func (s *Store) scanNotification(row Row, n *approval.Notification) error {
	var kind string
	err := row.Scan(&n.ID, &n.Key, &n.RequestID, &n.Version, &kind, &n.Recipient, &n.Channel, &n.Address, &n.Data,
		s.d.Time(&n.CreatedAt), s.d.Time(&n.DueAt), &n.Attempts, s.d.Time(&n.NextAttempt), &n.LastError,
		s.d.NullTime(&n.SentAt), s.d.NullTime(&n.FailedAt))
	n.Kind = approval.NotifyKind(kind)
	return err
}
