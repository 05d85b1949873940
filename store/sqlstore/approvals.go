package sqlstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"approvald/approval"
)

// ApprovalColumns are the columns of approvals in the order scanApproval
// reads them: what a Dialect's statement that lists requests selects.
const ApprovalColumns = `id, title, description, payload, requester, service_rule, deadline,
	policy, status, previous_status, comment, reviews, delivery, version,
	created_at, updated_at, decided_at, history_head,
	policy_source, depends_on, remind_after, next_reminder_at, reason,
	subject, outcome, content_digest, policy_request`

// CreateApproval stores the new request r with its history entry, outbox
// event and index rows, and idem when it is not nil, in one transaction. If
// an idempotency record for idem's principal and key exists, it writes
// nothing and returns that record; otherwise it returns nil. Of concurrent
// creates under one key, exactly one stores its request and the others get
// its record. It returns an internal *approval.Error when r's id cannot be
// an id (not a canonical UUID on PostgreSQL) or the database fails.
func (s *Store) CreateApproval(ctx context.Context, r *approval.Request, ch approval.Change, idem *approval.Idempotency) (*approval.Idempotency, error) {
	const op = "create approval"
	if !s.validID(r.ID) {
		return nil, s.fail(op, fmt.Errorf("request id %q is not a canonical UUID", r.ID))
	}
	ix := r.Index()
	values, err := approvalValues(r, ix)
	if err != nil {
		return nil, s.fail(op, err)
	}
	// The columns after content_digest are those fixed at create, which
	// UpdateApproval leaves alone.
	stmts, err := s.changeStmts(Stmt{SQL: `
		INSERT INTO approvals (
			title, description, payload, service_rule, deadline,
			policy, status, previous_status, comment, reviews, delivery,
			version, updated_at, decided_at, history_head,
			policy_source, depends_on, remind_after, next_reminder_at, reason, outcome, blocked,
			content_digest,
			id, requester, created_at, subject, policy_request
		) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28)`,
		Args: append(values, r.ID, r.Requester, r.CreatedAt, r.Subject, policyRequestValue(r)),
	}, r.ID, nil, ix, ch)
	if err != nil {
		return nil, s.fail(op, err)
	}
	if idem == nil {
		// One round trip on PostgreSQL: a pipelined batch runs as one
		// implicit transaction.
		n, err := s.db.Batch(ctx, op, stmts)
		if err := s.changeError(op, n, err); err != nil {
			return nil, err
		}
		s.db.Changed()
		return nil, nil
	}
	var found *approval.Idempotency
	err = s.write(ctx, op, func(tx Tx) error {
		found = nil
		prev, err := s.claimIdempotency(ctx, tx, idem)
		if err != nil {
			return err
		}
		if prev != nil {
			found = prev
			return errRollback
		}
		n, err := tx.Batch(ctx, stmts)
		return s.changeError(op, n, err)
	})
	if err != nil {
		return nil, err
	}
	if found == nil {
		s.db.Changed()
	}
	return found, nil
}

// GetApproval returns the request with the given id. It returns a
// KindNotFound *approval.Error when there is none, or id cannot be an id,
// and an internal one when the database fails.
func (s *Store) GetApproval(ctx context.Context, id string) (*approval.Request, error) {
	return s.getApproval(ctx, s.db, id, "")
}

// ListApprovals returns up to f.Limit (by default 50) requests matching f,
// newest first, with ids below f.Before when it is set. It returns a
// KindInvalid *approval.Error when f.Before cannot be an id (not a
// canonical UUID on PostgreSQL), and an internal one when the database fails.
func (s *Store) ListApprovals(ctx context.Context, f approval.Filter) ([]*approval.Request, error) {
	if f.Before != "" && !s.validID(f.Before) {
		return nil, errInvalidCursor
	}
	query, args := s.d.ListApprovals(f)
	return queryAll(ctx, s, s.db, "list approvals", s.scanApproval, query, args...)
}

// errInvalidCursor is the error of a list cursor that cannot be an id.
var errInvalidCursor = approval.Errorf(approval.KindInvalid, approval.CodeValidation, "invalid cursor")

// Where returns the conditions of f but its statuses, adding their
// arguments to a.
func Where(f approval.Filter, a *Args) []string {
	var where []string
	if f.Requester != "" {
		where = append(where, "requester = "+a.Add(f.Requester))
	}
	if f.ServiceRule != "" {
		where = append(where, "service_rule = "+a.Add(f.ServiceRule))
	}
	if f.Subject != "" {
		// The partial index approvals_subject holds only subjects that are
		// not empty; a parameter does not tell the planner that this one is
		// not (a generic plan cannot know it), so the list says so itself.
		where = append(where, "subject = "+a.Add(f.Subject), "subject <> ''")
	}
	if f.Before != "" {
		// SQLite compares ids as text; for canonical UUIDs that is the
		// order of PostgreSQL's uuid values.
		where = append(where, "id < "+a.Add(f.Before))
	}
	return where
}

// ListByDeadline returns up to limit requests in any of statuses (all when
// empty), by deadline ascending with requests without one last, then by
// id, after skipping offset. It returns an internal *approval.Error when the
// database fails.
func (s *Store) ListByDeadline(ctx context.Context, statuses []approval.Status, offset, limit int) ([]*approval.Request, error) {
	var a Args
	query := "SELECT " + ApprovalColumns + " FROM approvals"
	if len(statuses) > 0 {
		query += " WHERE " + s.d.In("status", a.Add(s.d.Array(statusCodes(statuses))))
	}
	query += " ORDER BY deadline NULLS LAST, id LIMIT " + a.Add(Limit(limit)) + " OFFSET " + a.Add(max(offset, 0))
	return queryAll(ctx, s, s.db, "list approvals by deadline", s.scanApproval, query, a...)
}

// statusCodes returns the numbers of statuses, as stored.
func statusCodes(statuses []approval.Status) []int16 {
	out := make([]int16, len(statuses))
	for i, st := range statuses {
		out[i] = int16(st)
	}
	return out
}

// UpdateApproval loads the request with the given id, locking its row, and
// calls fn with it, in one write transaction. Unless fn returns an error or
// a zero Change, it stores the changed request, the history entry and the
// outbox event of the Change, and brings the request's index rows up to
// date. It returns the request as it is afterwards; fn's error unchanged; a
// KindNotFound *approval.Error for an unknown id, or one that cannot be an
// id; and an internal one when the database fails.
//
// When the database aborts the transaction in a conflict (PostgreSQL: a
// serialization failure or a deadlock), it runs again, loading the request
// afresh: fn may be called more than once, and must not have effects
// outside the request it is given.
func (s *Store) UpdateApproval(ctx context.Context, id string, fn func(*approval.Request) (approval.Change, error)) (*approval.Request, error) {
	if !s.validID(id) {
		return nil, approval.NotFound("approval request")
	}
	var (
		out   *approval.Request
		wrote bool
	)
	err := s.write(ctx, "update approval", func(tx Tx) (err error) {
		out, wrote, err = s.applyChange(ctx, tx, id, fn)
		if err == nil && !wrote {
			return errRollback
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if wrote {
		s.db.Changed()
	}
	return out, nil
}

// applyChange loads request id in tx, locking its row, and calls fn with
// it; unless fn returns an error or a zero Change, it stores the changed
// request, the history entry and the outbox event, and updates the index
// rows. It returns the request as it is afterwards and whether it wrote
// anything. UpdateApproval and FinishDelivery share it.
func (s *Store) applyChange(ctx context.Context, tx Tx, id string, fn func(*approval.Request) (approval.Change, error)) (*approval.Request, bool, error) {
	const op = "update approval"
	// The row lock serializes changes to one request: another change to it
	// waits here until this transaction ends. With one writer, nothing
	// else runs meanwhile.
	r, err := s.getApproval(ctx, tx, id, s.lock("UPDATE"))
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
	// The version check guards against a bug that would let the row change
	// since it was loaded.
	before, ix := loaded.Index(), r.Index()
	values, err := approvalValues(r, ix)
	if err != nil {
		return nil, false, s.fail(op, err)
	}
	stmts, err := s.changeStmts(Stmt{SQL: `
		UPDATE approvals SET
			title = $1, description = $2, payload = $3, service_rule = $4, deadline = $5,
			policy = $6, status = $7, previous_status = $8, comment = $9, reviews = $10, delivery = $11,
			version = $12, updated_at = $13, decided_at = $14, history_head = $15,
			policy_source = $16, depends_on = $17, remind_after = $18, next_reminder_at = $19, reason = $20, outcome = $21, blocked = $22,
			content_digest = $23
		WHERE id = $24 AND version = $25`,
		Args: append(values, loaded.ID, loaded.Version),
	}, id, &before, ix, ch)
	if err != nil {
		return nil, false, s.fail(op, err)
	}
	n, err := tx.Batch(ctx, stmts)
	if err := s.changeError(op, n, err); err != nil {
		return nil, false, err
	}
	return r, true, nil
}

// changeStmts returns the writes of a state change, to be sent in one
// round trip: row, the statement that writes the request's row; the
// history entry; the outbox event under a new event id (due for delivery
// at once when it has a webhook); and the changes to the index rows of
// request id from before to after (see indexStmts).
func (s *Store) changeStmts(row Stmt, id string, before *approval.Index, after approval.Index, ch approval.Change) ([]Stmt, error) {
	eventID, err := uuid.NewV7()
	if err != nil {
		return nil, err
	}
	e, ev := ch.Entry, ch.Event
	var webhook *string
	var due *time.Time
	if ev.Webhook != "" {
		webhook, due = &ev.Webhook, &e.At
	}
	stmts := []Stmt{row, {SQL: `
		INSERT INTO history (request_id, seq, actor, action, changes, at, prev_hash, hash)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		Args: []any{e.RequestID, e.Seq, e.Actor, string(e.Action), string(e.Changes), e.At, e.PrevHash, e.Hash},
	}, {SQL: `
		INSERT INTO outbox (id, type, request_id, version, data, created_at, webhook, next_attempt_at, trace_parent)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		Args: []any{eventID.String(), ev.Type, ev.RequestID, ev.Version, string(ev.Data), e.At, webhook, due, ev.TraceParent},
	}}
	return s.indexStmts(stmts, id, before, after), nil
}

// changeError checks the outcome of changeStmts, rows changed n or err: the
// row statement must touch exactly one row, and a second history entry
// with the same sequence number, which applyChange's row lock rules out,
// is a conflict rather than a failure.
func (s *Store) changeError(op string, n []int64, err error) error {
	switch {
	case s.unique(err, "history_request_seq"):
		return &approval.Error{
			Kind: approval.KindConflict, Code: approval.CodeConflict,
			Message: "the request was changed concurrently; try again",
			Err:     fmt.Errorf("insert history: %w", err),
		}
	case err != nil:
		return s.fail(op, err)
	case n[0] != 1:
		return s.fail(op, fmt.Errorf("%d request rows written, want 1", n[0]))
	}
	return nil
}

// getApproval reads one request through q, with the locking clause lock.
func (s *Store) getApproval(ctx context.Context, q Querier, id, lock string) (*approval.Request, error) {
	if !s.validID(id) {
		return nil, approval.NotFound("approval request")
	}
	r, err := s.scanApproval(q.QueryRow(ctx, "SELECT "+ApprovalColumns+" FROM approvals WHERE id = $1"+lock, id))
	switch {
	case isNoRows(err):
		return nil, approval.NotFound("approval request")
	case err != nil:
		return nil, s.fail("get approval", err)
	}
	return r, nil
}

// scanApproval reads one row of ApprovalColumns.
func (s *Store) scanApproval(row Row) (*approval.Request, error) {
	var (
		r                                   approval.Request
		payload, policy, reviews, dependsOn string
		delivery, outcome, policyRequest    *string
		status                              int16
		previousStatus                      *int16
		remindAfter                         int64
	)
	t, nt := s.d.Time, s.d.NullTime
	err := row.Scan(&r.ID, &r.Title, &r.Description, &payload, &r.Requester, &r.ServiceRule, nt(&r.Deadline),
		&policy, &status, &previousStatus, &r.Comment, &reviews, &delivery, &r.Version,
		t(&r.CreatedAt), t(&r.UpdatedAt), nt(&r.DecidedAt), &r.HistoryHead,
		&r.PolicySource, &dependsOn, &remindAfter, nt(&r.NextReminderAt), &r.Reason,
		&r.Subject, &outcome, &r.Digest, &policyRequest)
	if err != nil {
		return nil, err
	}
	r.Payload = json.RawMessage(payload)
	if outcome != nil {
		r.Outcome = json.RawMessage(*outcome)
	}
	r.RemindAfter = approval.Duration(remindAfter)
	r.Status = approval.Status(status)
	if previousStatus != nil {
		st := approval.Status(*previousStatus)
		r.PreviousStatus = &st
	}
	err = errors.Join(
		unmarshal(policy, &r.Policy, "policy"),
		unmarshal(reviews, &r.Reviews, "reviews"),
		unmarshal(dependsOn, &r.DependsOn, "depends_on"))
	if policyRequest != nil && err == nil {
		err = unmarshal(*policyRequest, &r.PolicyRequest, "policy_request")
	}
	if delivery != nil && err == nil {
		r.Delivery = new(approval.Delivery)
		err = unmarshal(*delivery, r.Delivery, "delivery")
	}
	if err != nil {
		return nil, fmt.Errorf("request %s: %w", r.ID, err)
	}
	if len(r.DependsOn) == 0 {
		r.DependsOn = nil // none is nil, however stored
	}
	return &r, nil
}

// unmarshal decodes the JSON of column into v.
func unmarshal(s string, v any, column string) error {
	if err := json.Unmarshal([]byte(s), v); err != nil {
		return fmt.Errorf("%s: %w", column, err)
	}
	return nil
}

// approvalValues are the stored values of r's mutable columns, in the order
// of the INSERT and UPDATE statements above; ix is r.Index(), whose Blocked
// is stored beside them. JSON goes as a string, which both drivers send as
// it is, so that PostgreSQL's json columns keep its exact bytes. The
// dependencies are a JSON array, "[]" when none; the outcome is NULL until
// one is recorded.
func approvalValues(r *approval.Request, ix approval.Index) ([]any, error) {
	policy, err := json.Marshal(r.Policy)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	dependsOn := []byte("[]")
	if len(r.DependsOn) > 0 {
		if dependsOn, err = json.Marshal(r.DependsOn); err != nil {
			return nil, fmt.Errorf("depends_on: %w", err)
		}
	}
	reviews, err := json.Marshal(r.Reviews)
	if err != nil {
		return nil, fmt.Errorf("reviews: %w", err)
	}
	var delivery *string
	if r.Delivery != nil {
		b, err := json.Marshal(r.Delivery)
		if err != nil {
			return nil, fmt.Errorf("delivery: %w", err)
		}
		delivery = new(string(b))
	}
	var previousStatus *int16
	if r.PreviousStatus != nil {
		previousStatus = new(int16(*r.PreviousStatus))
	}
	var outcome *string
	if len(r.Outcome) > 0 {
		outcome = new(string(r.Outcome))
	}
	return []any{
		r.Title, r.Description, string(r.Payload), r.ServiceRule, r.Deadline,
		string(policy), int16(r.Status), previousStatus, r.Comment, string(reviews), delivery,
		r.Version, r.UpdatedAt, r.DecidedAt, r.HistoryHead,
		r.PolicySource, string(dependsOn), int64(r.RemindAfter), r.NextReminderAt, r.Reason, outcome, ix.Blocked,
		r.Digest,
	}, nil
}

// policyRequestValue is the stored policy_request of r: NULL when the
// requester asked for nothing.
func policyRequestValue(r *approval.Request) *string {
	if r.PolicyRequest.IsZero() {
		return nil
	}
	b, _ := json.Marshal(r.PolicyRequest) // a policy always encodes
	return new(string(b))
}

// Overdue returns the ids of up to limit (by default 50) pending requests
// whose deadline is at or before now, earliest deadline first. It returns an
// internal *approval.Error when the database fails.
func (s *Store) Overdue(ctx context.Context, now time.Time, limit int) ([]string, error) {
	return queryAll(ctx, s, s.db, "overdue", scanString, s.d.Overdue, now, Limit(limit))
}

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
func (s *Store) claimIdempotency(ctx context.Context, tx Tx, rec *approval.Idempotency) (*approval.Idempotency, error) {
	const op = "insert idempotency key"
	response := rec.Response
	if response == nil {
		response = []byte{} // the column is NOT NULL
	}
	for range claimAttempts {
		n, err := tx.Exec(ctx, `
			INSERT INTO idempotency_keys (principal, key, body_hash, request_id, response, created_at)
			VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (principal, key) DO NOTHING`,
			rec.Principal, rec.Key, rec.BodyHash, rec.RequestID, response, rec.CreatedAt)
		if err != nil || n == 1 {
			return nil, s.fail(op, err)
		}
		var prev approval.Idempotency
		err = tx.QueryRow(ctx, `
			SELECT principal, key, body_hash, request_id, response, created_at
			FROM idempotency_keys WHERE principal = $1 AND key = $2`, rec.Principal, rec.Key,
		).Scan(&prev.Principal, &prev.Key, &prev.BodyHash, &prev.RequestID, &prev.Response, s.d.Time(&prev.CreatedAt))
		switch {
		case err == nil:
			return &prev, nil
		case !isNoRows(err):
			return nil, s.fail("get idempotency key", err)
		}
		// DeleteIdempotencyBefore removed the record in between: claim the
		// key again.
	}
	return nil, s.fail(op, errors.New("the conflicting record keeps disappearing"))
}

// DeleteIdempotencyBefore deletes the idempotency records created before t
// and returns how many there were. It returns an internal *approval.Error
// when the database fails.
func (s *Store) DeleteIdempotencyBefore(ctx context.Context, t time.Time) (int64, error) {
	return s.exec(ctx, "delete idempotency keys", "DELETE FROM idempotency_keys WHERE created_at < $1", t)
}
