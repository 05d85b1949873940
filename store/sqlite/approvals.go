package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"approvald/approval"
)

// defaultListLimit is the page size of ListApprovals when the filter sets none.
const defaultListLimit = 50

// approvalColumns are the columns of approvals in the order scanApproval reads them.
const approvalColumns = `id, title, description, payload, requester, service_rule, deadline,
	policy, status, previous_status, comment, reviews, delivery, version,
	created_at, updated_at, decided_at, history_head,
	policy_source, depends_on, remind_after, next_reminder_at, reason,
	subject, outcome, content_digest, policy_request`

// CreateApproval stores the new request r with its history entry, outbox
// event and index rows, and idem when it is not nil, in one transaction. If
// an idempotency record for idem's principal and key exists, it writes
// nothing and returns that record; otherwise it returns nil. It returns an
// internal *approval.Error when the database fails.
func (s *Store) CreateApproval(ctx context.Context, r *approval.Request, ch approval.Change, idem *approval.Idempotency) (*approval.Idempotency, error) {
	var found *approval.Idempotency
	err := s.write(ctx, "create approval", func(tx *sql.Tx) error {
		if idem != nil {
			prev, err := getIdempotency(ctx, tx, idem.Principal, idem.Key)
			if err != nil || prev != nil {
				found = prev
				return err
			}
		}
		if err := insertApproval(ctx, tx, r); err != nil {
			return err
		}
		if err := insertChange(ctx, tx, ch); err != nil {
			return err
		}
		if idem != nil {
			return insertIdempotency(ctx, tx, idem)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if found == nil {
		s.changed()
	}
	return found, nil
}

// GetApproval returns the request with the given id. It returns a
// KindNotFound *approval.Error when there is none, and an internal one when
// the database fails.
func (s *Store) GetApproval(ctx context.Context, id string) (*approval.Request, error) {
	return getApproval(ctx, s.reader, id)
}

// ListApprovals returns up to f.Limit (by default 50) requests matching f,
// newest first, with ids below f.Before when it is set. It returns an
// internal *approval.Error when the database fails.
func (s *Store) ListApprovals(ctx context.Context, f approval.Filter) ([]*approval.Request, error) {
	query, args := listQuery(f)
	return queryAll(ctx, s.reader, "list approvals", scanApproval, query, args...)
}

// listQuery returns the query of ListApprovals for f, with its arguments.
func listQuery(f approval.Filter) (string, []any) {
	var where []string
	var args []any
	if len(f.Statuses) > 0 {
		where = append(where, "status IN ("+placeholders(len(f.Statuses))+")")
		for _, st := range f.Statuses {
			args = append(args, int(st))
		}
	}
	if f.Requester != "" {
		where = append(where, "requester = ?")
		args = append(args, f.Requester)
	}
	if f.ServiceRule != "" {
		where = append(where, "service_rule = ?")
		args = append(args, f.ServiceRule)
	}
	from := "approvals"
	if f.Subject != "" {
		// A subject has few requests, so its range of approvals_subject,
		// read in id order, beats any other index; SQLite, without
		// statistics, might pick another. The partial index is usable
		// only with its WHERE repeated.
		from = "approvals INDEXED BY approvals_subject"
		where = append(where, "subject = ?", "subject <> ''")
		args = append(args, f.Subject)
	}
	if f.Before != "" {
		where = append(where, "id < ?")
		args = append(args, f.Before)
	}
	query := "SELECT " + approvalColumns + " FROM " + from
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += " ORDER BY id DESC LIMIT ?"
	return query, append(args, limitOr(f.Limit, defaultListLimit))
}

// ListByDeadline returns up to limit requests in any of statuses (all when
// empty), by deadline ascending with requests without one last, then by
// id, after skipping offset. It returns an internal *approval.Error when the
// database fails.
func (s *Store) ListByDeadline(ctx context.Context, statuses []approval.Status, offset, limit int) ([]*approval.Request, error) {
	query := "SELECT " + approvalColumns + " FROM approvals"
	var args []any
	if len(statuses) > 0 {
		query += " WHERE status IN (" + placeholders(len(statuses)) + ")"
		for _, st := range statuses {
			args = append(args, int(st))
		}
	}
	query += " ORDER BY deadline IS NULL, deadline, id LIMIT ? OFFSET ?"
	args = append(args, limitOr(limit, defaultListLimit), max(offset, 0))
	return queryAll(ctx, s.reader, "list approvals by deadline", scanApproval, query, args...)
}

// UpdateApproval loads the request with the given id and calls fn with it,
// in one write transaction. Unless fn returns an error or a zero Change, it
// stores the changed request, the history entry and the outbox event of the
// Change, and brings its index rows up to date. It returns the request as it
// is afterwards; fn's error unchanged; a KindNotFound *approval.Error for an
// unknown id; and an internal one when the database fails.
func (s *Store) UpdateApproval(ctx context.Context, id string, fn func(*approval.Request) (approval.Change, error)) (*approval.Request, error) {
	var (
		out   *approval.Request
		wrote bool
	)
	err := s.write(ctx, "update approval", func(tx *sql.Tx) (err error) {
		out, wrote, err = applyChange(ctx, tx, id, fn)
		return err
	})
	if err != nil {
		return nil, err
	}
	if wrote {
		s.changed()
	}
	return out, nil
}

// applyChange loads request id in tx and calls fn with it; unless fn
// returns an error or a zero Change, it stores the changed request, the
// history entry and the outbox event, and updates the index rows. It
// returns the request as it is afterwards and whether it wrote anything.
// UpdateApproval and FinishDelivery share it.
func applyChange(ctx context.Context, tx *sql.Tx, id string, fn func(*approval.Request) (approval.Change, error)) (*approval.Request, bool, error) {
	r, err := getApproval(ctx, tx, id)
	if err != nil {
		return nil, false, err
	}
	loaded := r.Clone() // what to return if fn changes nothing
	ch, err := fn(r)
	switch {
	case err != nil:
		return nil, false, err
	case ch.IsZero():
		return loaded, false, nil
	}
	if err := updateApproval(ctx, tx, loaded, r); err != nil {
		return nil, false, err
	}
	if err := insertChange(ctx, tx, ch); err != nil {
		return nil, false, err
	}
	return r, true, nil
}

// getApproval reads one request through q.
func getApproval(ctx context.Context, q querier, id string) (*approval.Request, error) {
	row := q.QueryRowContext(ctx, "SELECT "+approvalColumns+" FROM approvals WHERE id = ?", id)
	r, err := scanApproval(row)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, approval.NotFound("approval request")
	case err != nil:
		return nil, internal("get approval", err)
	}
	return r, nil
}

// scanApproval reads one row of approvalColumns.
func scanApproval(row scanner) (*approval.Request, error) {
	var (
		r                                   approval.Request
		payload, policy, reviews, dependsOn string
		delivery, outcome, policyRequest    sql.Null[string]
		deadline, decidedAt, nextReminderAt sql.Null[int64]
		previousStatus                      sql.Null[int64]
		createdAt, updatedAt, remindAfter   int64
	)
	err := row.Scan(&r.ID, &r.Title, &r.Description, &payload, &r.Requester, &r.ServiceRule, &deadline,
		&policy, &r.Status, &previousStatus, &r.Comment, &reviews, &delivery, &r.Version,
		&createdAt, &updatedAt, &decidedAt, &r.HistoryHead,
		&r.PolicySource, &dependsOn, &remindAfter, &nextReminderAt, &r.Reason,
		&r.Subject, &outcome, &r.Digest, &policyRequest)
	if err != nil {
		return nil, err
	}
	r.Payload = json.RawMessage(payload)
	if outcome.Valid {
		r.Outcome = json.RawMessage(outcome.V)
	}
	r.Deadline = fromNullMicros(deadline)
	r.DecidedAt = fromNullMicros(decidedAt)
	r.NextReminderAt = fromNullMicros(nextReminderAt)
	r.RemindAfter = approval.Duration(remindAfter)
	r.CreatedAt = fromMicros(createdAt)
	r.UpdatedAt = fromMicros(updatedAt)
	if previousStatus.Valid {
		st := approval.Status(previousStatus.V)
		r.PreviousStatus = &st
	}
	if err := json.Unmarshal([]byte(policy), &r.Policy); err != nil {
		return nil, fmt.Errorf("request %s: policy: %w", r.ID, err)
	}
	if err := json.Unmarshal([]byte(reviews), &r.Reviews); err != nil {
		return nil, fmt.Errorf("request %s: reviews: %w", r.ID, err)
	}
	if r.DependsOn, err = decodeDependsOn(dependsOn); err != nil {
		return nil, fmt.Errorf("request %s: depends_on: %w", r.ID, err)
	}
	if policyRequest.Valid {
		if err := json.Unmarshal([]byte(policyRequest.V), &r.PolicyRequest); err != nil {
			return nil, fmt.Errorf("request %s: policy_request: %w", r.ID, err)
		}
	}
	if delivery.Valid {
		r.Delivery = new(approval.Delivery)
		if err := json.Unmarshal([]byte(delivery.V), r.Delivery); err != nil {
			return nil, fmt.Errorf("request %s: delivery: %w", r.ID, err)
		}
	}
	return &r, nil
}

// approvalValues are the stored values of r's mutable columns, in the order
// of the INSERT and UPDATE statements below; ix is r.Index(), whose Blocked
// is stored beside them. The outcome is NULL until one is recorded.
func approvalValues(r *approval.Request, ix approval.Index) ([]any, error) {
	policy, err := json.Marshal(r.Policy)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	dependsOn, err := encodeDependsOn(r.DependsOn)
	if err != nil {
		return nil, fmt.Errorf("depends_on: %w", err)
	}
	reviews, err := json.Marshal(r.Reviews)
	if err != nil {
		return nil, fmt.Errorf("reviews: %w", err)
	}
	var delivery sql.Null[string]
	if r.Delivery != nil {
		b, err := json.Marshal(r.Delivery)
		if err != nil {
			return nil, fmt.Errorf("delivery: %w", err)
		}
		delivery = sql.Null[string]{V: string(b), Valid: true}
	}
	var previousStatus sql.Null[int64]
	if r.PreviousStatus != nil {
		previousStatus = sql.Null[int64]{V: int64(*r.PreviousStatus), Valid: true}
	}
	var outcome sql.Null[string]
	if len(r.Outcome) > 0 {
		outcome = sql.Null[string]{V: string(r.Outcome), Valid: true}
	}
	return []any{
		r.Title, r.Description, string(r.Payload), r.ServiceRule, nullMicros(r.Deadline),
		string(policy), int(r.Status), previousStatus, r.Comment, string(reviews), delivery,
		r.Version, micros(r.UpdatedAt), nullMicros(r.DecidedAt), r.HistoryHead,
		r.PolicySource, dependsOn, int64(r.RemindAfter), nullMicros(r.NextReminderAt), r.Reason, outcome, ix.Blocked,
		r.Digest,
	}, nil
}

// encodeDependsOn returns ids as stored: a JSON array, "[]" when empty.
func encodeDependsOn(ids []string) (string, error) {
	if len(ids) == 0 {
		return "[]", nil
	}
	b, err := json.Marshal(ids)
	return string(b), err
}

// decodeDependsOn returns the ids stored as s; none is nil, however stored.
func decodeDependsOn(s string) ([]string, error) {
	var ids []string
	if err := json.Unmarshal([]byte(s), &ids); err != nil || len(ids) == 0 {
		return nil, err
	}
	return ids, nil
}

// policyRequestValue is the stored policy_request of r: NULL when the
// requester asked for nothing.
func policyRequestValue(r *approval.Request) sql.Null[string] {
	if r.PolicyRequest.IsZero() {
		return sql.Null[string]{}
	}
	b, _ := json.Marshal(r.PolicyRequest) // a policy always encodes
	return sql.Null[string]{V: string(b), Valid: true}
}

// insertApproval inserts the new request r and its index rows. The columns
// after blocked are those fixed at create, which updateApproval leaves alone.
func insertApproval(ctx context.Context, tx *sql.Tx, r *approval.Request) error {
	ix := r.Index()
	values, err := approvalValues(r, ix)
	if err != nil {
		return internal("insert approval", err)
	}
	_, err = tx.ExecContext(ctx, `
		INSERT INTO approvals (
			title, description, payload, service_rule, deadline,
			policy, status, previous_status, comment, reviews, delivery,
			version, updated_at, decided_at, history_head,
			policy_source, depends_on, remind_after, next_reminder_at, reason, outcome, blocked,
			content_digest,
			id, requester, created_at, subject, policy_request
		) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		append(values, r.ID, r.Requester, micros(r.CreatedAt), r.Subject, policyRequestValue(r))...)
	if err != nil {
		return internal("insert approval", err)
	}
	return writeIndex(ctx, tx, r.ID, nil, ix)
}

// updateApproval stores r over the row of loaded, the request as it was
// loaded, at its version, and rewrites the index rows that changed. Inside
// the write transaction nothing else can have changed the row; the version
// check guards against a bug that would.
func updateApproval(ctx context.Context, tx *sql.Tx, loaded, r *approval.Request) error {
	ix := r.Index()
	values, err := approvalValues(r, ix)
	if err != nil {
		return internal("update approval", err)
	}
	id, version := loaded.ID, loaded.Version
	res, err := tx.ExecContext(ctx, `
		UPDATE approvals SET
			title = ?, description = ?, payload = ?, service_rule = ?, deadline = ?,
			policy = ?, status = ?, previous_status = ?, comment = ?, reviews = ?, delivery = ?,
			version = ?, updated_at = ?, decided_at = ?, history_head = ?,
			policy_source = ?, depends_on = ?, remind_after = ?, next_reminder_at = ?, reason = ?, outcome = ?, blocked = ?,
			content_digest = ?
		WHERE id = ? AND version = ?`,
		append(values, id, version)...)
	if err != nil {
		return internal("update approval", err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return internal("update approval", fmt.Errorf("request %s at version %d: %d rows updated (%v)", id, version, n, err))
	}
	before := loaded.Index()
	return writeIndex(ctx, tx, id, &before, ix)
}

// insertChange appends ch's history entry and its outbox event, under a new
// event id. An event with a webhook is due for delivery at once.
func insertChange(ctx context.Context, tx *sql.Tx, ch approval.Change) error {
	e := ch.Entry
	_, err := tx.ExecContext(ctx, `
		INSERT INTO history (request_id, seq, actor, action, changes, at, prev_hash, hash)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		e.RequestID, e.Seq, e.Actor, string(e.Action), string(e.Changes), micros(e.At), e.PrevHash, e.Hash)
	if err != nil {
		return internal("insert history", err)
	}
	id, err := uuid.NewV7()
	if err != nil {
		return internal("insert outbox", err)
	}
	ev := ch.Event
	var webhook sql.Null[string]
	var due sql.Null[int64]
	if ev.Webhook != "" {
		webhook = sql.Null[string]{V: ev.Webhook, Valid: true}
		due = sql.Null[int64]{V: micros(e.At), Valid: true}
	}
	_, err = tx.ExecContext(ctx, `
		INSERT INTO outbox (id, type, request_id, version, data, created_at, webhook, next_attempt_at, trace_parent)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		id.String(), ev.Type, ev.RequestID, ev.Version, string(ev.Data), micros(e.At), webhook, due, ev.TraceParent)
	if err != nil {
		return internal("insert outbox", err)
	}
	return nil
}

// History returns the history entries of request id in order. It returns a
// KindNotFound *approval.Error for an unknown id (every stored request has
// at least its creation entry), and an internal one when the database fails.
func (s *Store) History(ctx context.Context, id string) ([]approval.HistoryEntry, error) {
	out, err := queryAll(ctx, s.reader, "history", scanEntry, `
		SELECT request_id, seq, actor, action, changes, at, prev_hash, hash
		FROM history WHERE request_id = ? ORDER BY seq`, id)
	if err == nil && len(out) == 0 {
		return nil, approval.NotFound("approval request")
	}
	return out, err
}

// scanEntry reads one history entry.
func scanEntry(row scanner) (approval.HistoryEntry, error) {
	var (
		e       approval.HistoryEntry
		changes string
		at      int64
	)
	err := row.Scan(&e.RequestID, &e.Seq, &e.Actor, &e.Action, &changes, &at, &e.PrevHash, &e.Hash)
	e.Changes = json.RawMessage(changes)
	e.At = fromMicros(at)
	return e, err
}

// overdueQuery selects overdue requests from the partial index
// approvals_overdue; its WHERE repeats the index's (2 is pending). Without
// statistics SQLite would rather use approvals_status and scan every pending
// request; INDEXED BY also makes a schema change that drops the index an
// error instead of a slow sweep.
const overdueQuery = `
	SELECT id FROM approvals INDEXED BY approvals_overdue
	WHERE status = 2 AND deadline IS NOT NULL AND deadline <= ?
	ORDER BY deadline, id LIMIT ?`

// Overdue returns the ids of up to limit (by default 50) pending requests
// whose deadline is at or before now, earliest deadline first. It returns an
// internal *approval.Error when the database fails.
func (s *Store) Overdue(ctx context.Context, now time.Time, limit int) ([]string, error) {
	return queryAll(ctx, s.reader, "overdue", scanString, overdueQuery, micros(now), limitOr(limit, defaultListLimit))
}

// placeholders returns n comma-separated question marks.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}
