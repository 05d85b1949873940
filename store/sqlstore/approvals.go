package sqlstore

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"approvald/approval"
)

// ApprovalColumns are the columns of approvals in the order scanApproval
// reads them: what a Dialect's lists of requests select.
const ApprovalColumns = "id, " + approvalFixed + ", " + approvalMutable

// selectApproval reads a request; Store.lockApproval, locking its row.
const selectApproval = "SELECT " + ApprovalColumns + " FROM approvals WHERE id = $1"

// approvalFixed are the columns set at create, which updates leave alone;
// approvalMutable the others, in the order of approvalValues, which adds
// blocked (from the request's Index: written, never read).
const (
	approvalFixed   = "requester, created_at, subject, policy_request"
	approvalMutable = `title, description, payload, service_rule, deadline, policy, status, previous_status,
	comment, reviews, delivery, version, updated_at, decided_at, history_head, policy_source, depends_on,
	remind_after, next_reminder_at, outcome, content_digest, reason, stage_opened_at, escalations,
	next_escalation_at, justification, items, item_outcome, cycle, revocation`
)

// The statements that write a change: insertApproval takes the request's
// id and approvalFixed, then approvalValues; updateApproval approvalValues,
// then the id and the version it was loaded at (which guards against a bug
// that would let the row change since); insertHistory an entry's
// entryColumns.
var (
	insertApproval = "INSERT INTO approvals (id, " + approvalFixed + ", " + approvalMutable + ", blocked) VALUES (" + params(36) + ")"
	updateApproval = "UPDATE approvals SET " + assign(approvalMutable+", blocked") + " WHERE id = $32 AND version = $33"
	insertHistory  = "INSERT INTO history (" + entryColumns + ") VALUES (" + params(8) + ")"
	insertOutbox   = "INSERT INTO outbox (id, type, request_id, version, data, created_at, webhook, next_attempt_at, trace_parent, notify) VALUES (" + params(10) + ")"
)

// CreateApproval implements [approval.Requests.CreateApproval]: of
// concurrent creates under one idempotency key, one stores its request and
// the others get its record. An id that cannot be an id is an internal
// error.
func (s *Store) CreateApproval(ctx context.Context, r *approval.Request, ch approval.Change, idem *approval.Idempotency) (*approval.Idempotency, error) {
	const op = "create approval"
	if !s.validID(r.ID) {
		return nil, s.fail(op, fmt.Errorf("request id %q is not a canonical UUID", r.ID))
	}
	var policyRequest *string // NULL when the requester asked for nothing
	if !r.PolicyRequest.IsZero() {
		b, _ := json.Marshal(r.PolicyRequest) // a policy always encodes
		policyRequest = new(string(b))
	}
	stmts, err := s.changeStmts(insertApproval, []any{r.ID, r.Requester, r.CreatedAt, r.Subject, policyRequest}, r, nil, ch)
	switch {
	case err != nil:
		return nil, s.fail(op, err)
	case idem == nil:
		// One round trip on PostgreSQL: a pipelined batch runs as one
		// implicit transaction.
		n, err := s.db.WriteBatch(ctx, op, stmts)
		if err = s.changeError(op, n, err); err == nil {
			s.db.Changed()
		}
		return nil, err
	}
	var found *approval.Idempotency
	err = s.write(ctx, op, func(tx Tx) (err error) {
		if found, err = s.claimIdempotency(ctx, tx, idem); err != nil || found != nil {
			return cmp.Or(err, errRollback) // a record exists: write nothing
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

// GetApproval implements [approval.Requests.GetApproval].
func (s *Store) GetApproval(ctx context.Context, id string) (*approval.Request, error) {
	return s.getApproval(ctx, s.db, id, false)
}

// ListApprovals implements [approval.Requests.ListApprovals]. A cursor
// f.Before that cannot be an id is a KindInvalid *approval.Error.
func (s *Store) ListApprovals(ctx context.Context, f approval.Filter) ([]*approval.Request, error) {
	if f.Before != "" && !s.validID(f.Before) {
		return nil, errInvalidCursor
	}
	query, args := s.d.ListApprovals(f)
	return queryAll(ctx, s, s.db, "list approvals", s.scanApproval, query, args...)
}

var errInvalidCursor = approval.Errorf(approval.KindInvalid, approval.CodeValidation, "invalid cursor")

// Where returns the conditions of f but its statuses, with their
// arguments.
func Where(f approval.Filter) Query {
	var q Query
	// SQLite compares ids as text: for canonical UUIDs, the order of
	// PostgreSQL's uuid values.
	q.Cond(f.Requester != "", "requester =", f.Requester)
	q.Cond(f.ServiceRule != "", "service_rule =", f.ServiceRule)
	q.Cond(f.Subject != "", "subject =", f.Subject)
	q.Cond(f.Before != "", "id <", f.Before)
	if f.Subject != "" {
		// The partial index approvals_subject holds the subjects that are
		// not empty; a parameter (a generic plan) does not tell the planner.
		q.Conds = append(q.Conds, "subject <> ''")
	}
	return q
}

// ListByDeadline implements [approval.Requests.ListByDeadline].
func (s *Store) ListByDeadline(ctx context.Context, statuses []approval.Status, offset, limit int) ([]*approval.Request, error) {
	var q Query
	if len(statuses) > 0 {
		q.Conds = append(q.Conds, s.d.In("status", q.Add(s.d.Array(Codes(statuses)))))
	}
	query := "SELECT " + ApprovalColumns + " FROM approvals" + q.Where() +
		" ORDER BY deadline NULLS LAST, id LIMIT " + q.Add(Limit(limit)) + " OFFSET " + q.Add(max(offset, 0))
	return queryAll(ctx, s, s.db, "list approvals by deadline", s.scanApproval, query, q.Args...)
}

// Codes returns the stored codes of statuses.
func Codes(statuses []approval.Status) []int16 {
	codes := make([]int16, len(statuses))
	for i, st := range statuses {
		codes[i] = int16(st)
	}
	return codes
}

// UpdateApproval implements [approval.Requests.UpdateApproval]: fn runs
// with the request's row locked and its dependencies' statuses loaded, and again, on the request loaded afresh,
// when the transaction runs again after a conflict (PostgreSQL: a
// serialization failure, a deadlock).
func (s *Store) UpdateApproval(ctx context.Context, id string, fn func(*approval.Request) (approval.Change, error)) (*approval.Request, error) {
	if !s.validID(id) {
		return nil, approval.NotFound("approval request")
	}
	var (
		out   *approval.Request
		wrote bool
	)
	err := s.write(ctx, "update approval", func(tx Tx) (err error) {
		if out, wrote, err = s.applyChange(ctx, tx, id, fn); err == nil && !wrote {
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

// applyChange is UpdateApproval's (and FinishDelivery's) work in tx: it
// returns the request as it is afterwards and whether it wrote anything.
func (s *Store) applyChange(ctx context.Context, tx Tx, id string, fn func(*approval.Request) (approval.Change, error)) (*approval.Request, bool, error) {
	// The row lock serializes changes to one request: another change to it
	// waits here until this transaction ends.
	r, err := s.getApproval(ctx, tx, id, true)
	if err != nil {
		return nil, false, err
	}
	if len(r.DependsOn) > 0 {
		deps, err := s.statuses(ctx, tx, r.DependsOn)
		if err != nil {
			return nil, false, err
		}
		r.SetDependencies(deps)
	}
	loaded := r.Clone() // what to return if fn changes nothing
	ch, err := fn(r)
	if err != nil || ch.IsZero() {
		return loaded, false, err
	}
	before := loaded.Index()
	stmts, err := s.changeStmts(updateApproval, nil, r, &before, ch, loaded.ID, loaded.Version)
	if err != nil {
		return nil, false, s.fail("update approval", err)
	}
	n, err := tx.Batch(ctx, stmts)
	return r, true, s.changeError("update approval", n, err)
}

// changeStmts returns the writes of change ch to request r, to be sent in
// one round trip: the statement query of the request's row, with the
// arguments head, approvalValues and tail; the history entry; the outbox
// event under a new event id (due for delivery at once when it has a
// webhook); and the changes to the index from before (nil for a new
// request) to r's (see indexStmts).
func (s *Store) changeStmts(query string, head []any, r *approval.Request, before *approval.Index, ch approval.Change, tail ...any) ([]Stmt, error) {
	ix := r.Index()
	values, err := approvalValues(r, ix)
	if err != nil {
		return nil, err
	}
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
	args := append(append(slices.Grow(head, len(values)+len(tail)), values...), tail...)
	stmts := append(make([]Stmt, 0, 3+2*len(indexTables)), Stmt{SQL: query, Args: args},
		Stmt{SQL: insertHistory, Args: []any{e.RequestID, e.Seq, e.Actor, string(e.Action), string(e.Changes), e.At, e.PrevHash, e.Hash}},
		Stmt{SQL: insertOutbox, Args: []any{eventID.String(), ev.Type, ev.RequestID, ev.Version, string(ev.Data), e.At, webhook, due, ev.TraceParent, string(ev.Notify)}})
	return s.indexStmts(stmts, r.ID, before, ix), nil
}

// changeError checks the outcome of changeStmts, n rows changed or err: the
// request's row must be one, and a second history entry with the same
// number, which applyChange's row lock rules out, is a conflict.
func (s *Store) changeError(op string, n []int64, err error) error {
	switch {
	case s.unique(err, "history_request_seq"):
		return &approval.Error{Kind: approval.KindConflict, Code: approval.CodeConflict,
			Message: "the request was changed concurrently; try again", Err: fmt.Errorf("insert history: %w", err)}
	case err == nil && n[0] != 1:
		err = fmt.Errorf("%d request rows written, want 1", n[0])
	}
	return s.fail(op, err)
}

// getApproval reads one request through q, locking its row when lock is set.
func (s *Store) getApproval(ctx context.Context, q Querier, id string, lock bool) (*approval.Request, error) {
	var r *approval.Request
	if !s.validID(id) {
		return nil, approval.NotFound("approval request")
	}
	query := selectApproval
	if lock {
		query = s.lockApproval
	}
	if err := s.scanApproval(q.QueryRow(ctx, query, id), &r); err != nil {
		return nil, s.found("get approval", "approval request", err)
	}
	return r, nil
}

// scanApproval reads a row of ApprovalColumns into a new request *out.
func (s *Store) scanApproval(row Row, out **approval.Request) error {
	var (
		r                                   approval.Request
		payload, policy, reviews, dependsOn string
		escalations, items                  string
		delivery, outcome, policyRequest    *string
		itemOutcome, revocation             *string
		status                              int16
		previousStatus                      *int16
		remindAfter                         int64
	)
	t, nt := s.d.Time, s.d.NullTime
	err := row.Scan(&r.ID, &r.Requester, t(&r.CreatedAt), &r.Subject, &policyRequest,
		&r.Title, &r.Description, &payload, &r.ServiceRule, nt(&r.Deadline), &policy, &status, &previousStatus,
		&r.Comment, &reviews, &delivery, &r.Version, t(&r.UpdatedAt), nt(&r.DecidedAt), &r.HistoryHead, &r.PolicySource,
		&dependsOn, &remindAfter, nt(&r.NextReminderAt), &outcome, &r.Digest, &r.Reason,
		nt(&r.StageOpenedAt), &escalations, nt(&r.NextEscalationAt), &r.Justification, &items, &itemOutcome, &r.Cycle, &revocation)
	if err != nil {
		return err
	}
	r.Payload, r.RemindAfter, r.Status = json.RawMessage(payload), approval.Duration(remindAfter), approval.Status(status)
	if outcome != nil {
		r.Outcome = json.RawMessage(*outcome)
	}
	if previousStatus != nil {
		r.PreviousStatus = new(approval.Status(*previousStatus))
	}
	if delivery != nil {
		r.Delivery = new(approval.Delivery)
	}
	if itemOutcome != nil {
		r.ItemOutcome = new(approval.ItemOutcome)
	}
	if revocation != nil {
		r.Revocation = new(approval.Revocation)
	}
	if err := errors.Join(unmarshal("policy", &policy, &r.Policy), unmarshal("reviews", &reviews, &r.Reviews),
		unmarshal("depends_on", &dependsOn, &r.DependsOn), unmarshal("policy_request", policyRequest, &r.PolicyRequest),
		unmarshal("delivery", delivery, r.Delivery), unmarshal("escalations", &escalations, &r.Escalations),
		unmarshal("items", &items, &r.Items), unmarshal("item_outcome", itemOutcome, r.ItemOutcome),
		unmarshal("revocation", revocation, r.Revocation)); err != nil {
		return fmt.Errorf("request %s: %w", r.ID, err)
	}
	if len(r.DependsOn) == 0 {
		r.DependsOn = nil // none is nil, however stored
	}
	if len(r.Escalations) == 0 {
		r.Escalations = nil // likewise
	}
	if len(r.Items) == 0 {
		r.Items = nil // likewise
	}
	*out = &r
	return nil
}

// unmarshal decodes the JSON *s of column into v; nothing for nil.
func unmarshal(column string, s *string, v any) error {
	if s == nil {
		return nil
	}
	if err := json.Unmarshal([]byte(*s), v); err != nil {
		return fmt.Errorf("%s: %w", column, err)
	}
	return nil
}

// approvalValues are the stored values of r's approvalMutable columns and
// of blocked, from ix, r's Index. JSON goes as a string, which PostgreSQL's
// json columns keep byte for byte. The dependencies and the escalations are
// arrays, "[]" for none, and so are the items; the outcome, the item
// outcome and the revocation are NULL until one is recorded.
func approvalValues(r *approval.Request, ix approval.Index) ([]any, error) {
	var err error
	encode := func(column string, v any) string {
		b, e := json.Marshal(v)
		if e != nil && err == nil {
			err = fmt.Errorf("%s: %w", column, e)
		}
		return string(b)
	}
	dependsOn, escalations, items := "[]", "[]", "[]"
	if len(r.DependsOn) > 0 {
		dependsOn = encode("depends_on", r.DependsOn)
	}
	if len(r.Escalations) > 0 {
		escalations = encode("escalations", r.Escalations)
	}
	if len(r.Items) > 0 {
		items = encode("items", r.Items)
	}
	var delivery, outcome, itemOutcome, revocation *string
	if r.Delivery != nil {
		delivery = new(encode("delivery", r.Delivery))
	}
	if len(r.Outcome) > 0 {
		outcome = new(string(r.Outcome))
	}
	if r.ItemOutcome != nil {
		itemOutcome = new(encode("item_outcome", r.ItemOutcome))
	}
	if r.Revocation != nil {
		revocation = new(encode("revocation", r.Revocation))
	}
	var previousStatus *int16
	if r.PreviousStatus != nil {
		previousStatus = new(int16(*r.PreviousStatus))
	}
	return []any{
		r.Title, r.Description, string(r.Payload), r.ServiceRule, r.Deadline, encode("policy", r.Policy), int16(r.Status), previousStatus,
		r.Comment, encode("reviews", r.Reviews), delivery, r.Version, r.UpdatedAt, r.DecidedAt, r.HistoryHead, r.PolicySource,
		dependsOn, int64(r.RemindAfter), r.NextReminderAt, outcome, r.Digest, r.Reason,
		r.StageOpenedAt, escalations, r.NextEscalationAt, r.Justification, items, itemOutcome, r.Cycle, revocation, ix.Blocked,
	}, err
}

// Overdue implements [approval.Requests.Overdue], earliest first.
func (s *Store) Overdue(ctx context.Context, now time.Time, limit int) ([]string, error) {
	return queryAll(ctx, s, s.db, "overdue", scanString, s.d.Overdue, now, Limit(limit))
}

// claimIdempotency inserts rec, unless its principal's key has a record
// already, which it returns instead; nil when it inserted rec. The insert
// comes first in CreateApproval's transaction so that concurrent creates
// under one key cannot both store a request: while the first holds the key,
// the others' inserts wait for its transaction to end; if it commits, they
// insert nothing and, in READ COMMITTED, their next statement sees its
// record. When that record is deleted (DeleteIdempotencyBefore) before it
// can be read, the key is claimed again, three times at most.
func (s *Store) claimIdempotency(ctx context.Context, tx Tx, rec *approval.Idempotency) (*approval.Idempotency, error) {
	response := rec.Response
	if response == nil {
		response = []byte{} // the column is NOT NULL
	}
	for range 3 {
		n, err := tx.Exec(ctx, `INSERT INTO idempotency_keys (principal, key, body_hash, request_id, response, created_at)
			VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (principal, key) DO NOTHING`,
			rec.Principal, rec.Key, rec.BodyHash, rec.RequestID, response, rec.CreatedAt)
		if err != nil || n == 1 {
			return nil, s.fail("insert idempotency key", err)
		}
		prev := new(approval.Idempotency)
		err = tx.QueryRow(ctx, `SELECT principal, key, body_hash, request_id, response, created_at
			FROM idempotency_keys WHERE principal = $1 AND key = $2`, rec.Principal, rec.Key,
		).Scan(&prev.Principal, &prev.Key, &prev.BodyHash, &prev.RequestID, &prev.Response, s.d.Time(&prev.CreatedAt))
		if !noRows(err) { // found, or failed
			return prev, s.fail("get idempotency key", err)
		}
	}
	return nil, s.fail("insert idempotency key", errors.New("the conflicting record keeps disappearing"))
}

// DeleteIdempotencyBefore implements
// [approval.Requests.DeleteIdempotencyBefore], returning how many it deleted.
func (s *Store) DeleteIdempotencyBefore(ctx context.Context, t time.Time) (int64, error) {
	return s.exec(ctx, "delete idempotency keys", "DELETE FROM idempotency_keys WHERE created_at < $1", t)
}
