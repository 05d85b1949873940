package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

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
// nothing and returns that record; otherwise it returns nil. Of concurrent
// creates under one key, exactly one stores its request and the others get
// its record. It returns an internal *approval.Error when r's id is not a
// canonical UUID or the database fails.
func (s *Store) CreateApproval(ctx context.Context, r *approval.Request, ch approval.Change, idem *approval.Idempotency) (*approval.Idempotency, error) {
	if !validID(r.ID) {
		return nil, internal("create approval", fmt.Errorf("request id %q is not a canonical UUID", r.ID))
	}
	b, err := s.changeBatch(insertApproval(r), ch)
	if err != nil {
		return nil, internal("create approval", err)
	}
	if idem == nil {
		// One round trip: a pipelined batch runs as one implicit transaction.
		if err := sendChange(ctx, s.pool, b, "create approval"); err != nil {
			return nil, err
		}
		s.changed()
		return nil, nil
	}
	var found *approval.Idempotency
	err = s.write(ctx, "create approval", func(tx pgx.Tx) error {
		found = nil
		prev, err := claimIdempotency(ctx, tx, idem)
		if err != nil {
			return err
		}
		if prev != nil {
			found = prev
			return errRollback
		}
		return sendChange(ctx, tx, b, "create approval")
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
// KindNotFound *approval.Error when there is none, or id is not a UUID, and
// an internal one when the database fails.
func (s *Store) GetApproval(ctx context.Context, id string) (*approval.Request, error) {
	return getApproval(ctx, s.pool, id, "")
}

// ListApprovals returns up to f.Limit (by default 50) requests matching f,
// newest first, with ids below f.Before when it is set. It returns a
// KindInvalid *approval.Error when f.Before is not a canonical UUID, and an
// internal one when the database fails.
func (s *Store) ListApprovals(ctx context.Context, f approval.Filter) ([]*approval.Request, error) {
	query, args, err := listQuery(f)
	if err != nil {
		return nil, err
	}
	return queryAll(ctx, s.pool, "list approvals", scanApproval, query, args...)
}

// listQuery returns the query of ListApprovals for f, with its arguments,
// or the error of an invalid cursor.
func listQuery(f approval.Filter) (string, []any, error) {
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if f.Requester != "" {
		where = append(where, "requester = "+arg(f.Requester))
	}
	if f.ServiceRule != "" {
		where = append(where, "service_rule = "+arg(f.ServiceRule))
	}
	if f.Subject != "" {
		// The partial index approvals_subject holds only subjects that
		// are not empty; a generic plan cannot tell that of a parameter.
		where = append(where, "subject = "+arg(f.Subject), "subject <> ''")
	}
	if f.Before != "" {
		// SQLite compares ids as text; for canonical UUIDs that is the
		// order of uuid values, and no other cursor is ever handed out.
		if !validID(f.Before) {
			return "", nil, approval.Errorf(approval.KindInvalid, approval.CodeValidation, "invalid cursor")
		}
		where = append(where, "id < "+arg(f.Before))
	}
	limit := arg(limitOr(f.Limit, defaultListLimit))
	selectWhere := func(extra ...string) string {
		q := "SELECT " + approvalColumns + " FROM approvals"
		if conds := append(extra, where...); len(conds) > 0 {
			q += " WHERE " + strings.Join(conds, " AND ")
		}
		return q + " ORDER BY id DESC LIMIT " + limit
	}
	var query string
	switch {
	case len(f.Statuses) == 0:
		query = selectWhere()
	case len(f.Statuses) == 1:
		query = selectWhere("status = " + arg(int16(f.Statuses[0])))
	case f.Subject != "":
		// A subject has few requests: one range of approvals_subject,
		// filtered by status, reads them all.
		codes := make([]int16, len(f.Statuses))
		for i, st := range f.Statuses {
			codes[i] = int16(st)
		}
		query = selectWhere("status = ANY(" + arg(codes) + ")")
	default:
		// One index range per status, merged: each branch reads at most
		// limit rows of (status, id DESC), however rare the statuses are.
		parts := make([]string, len(f.Statuses))
		for i, st := range f.Statuses {
			parts[i] = "(" + selectWhere("status = "+arg(int16(st))) + ")"
		}
		query = "SELECT " + approvalColumns + " FROM (" + strings.Join(parts, " UNION ALL ") +
			") AS page ORDER BY id DESC LIMIT " + limit
	}
	return query, args, nil
}

// ListByDeadline returns up to limit requests in any of statuses (all when
// empty), by deadline ascending with requests without one last, then by
// id, after skipping offset. It returns an internal *approval.Error when the
// database fails.
func (s *Store) ListByDeadline(ctx context.Context, statuses []approval.Status, offset, limit int) ([]*approval.Request, error) {
	query := "SELECT " + approvalColumns + " FROM approvals"
	args := []any{limitOr(limit, defaultListLimit), max(offset, 0)}
	if len(statuses) > 0 {
		codes := make([]int16, len(statuses))
		for i, st := range statuses {
			codes[i] = int16(st)
		}
		query += " WHERE status = ANY($3)"
		args = append(args, codes)
	}
	query += " ORDER BY deadline ASC NULLS LAST, id LIMIT $1 OFFSET $2"
	return queryAll(ctx, s.pool, "list approvals by deadline", scanApproval, query, args...)
}

// UpdateApproval loads the request with the given id, locking its row, and
// calls fn with it, in one transaction. Unless fn returns an error or a zero
// Change, it stores the changed request, the history entry and the outbox
// event of the Change, and brings the request's index rows up to date. It
// returns the request as it is afterwards; fn's error unchanged; a
// KindNotFound *approval.Error for an unknown id, or one that is not a
// UUID; and an internal one when the database fails.
//
// When PostgreSQL aborts the transaction with a serialization failure or a
// deadlock, UpdateApproval runs it again, loading the request afresh: fn may
// be called more than once, and must not have effects outside the request
// it is given.
func (s *Store) UpdateApproval(ctx context.Context, id string, fn func(*approval.Request) (approval.Change, error)) (*approval.Request, error) {
	if !validID(id) {
		return nil, approval.NotFound("approval request")
	}
	var (
		out   *approval.Request
		wrote bool
	)
	err := s.write(ctx, "update approval", func(tx pgx.Tx) (err error) {
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
		s.changed()
	}
	return out, nil
}

// applyChange loads request id in tx, locking its row, and calls fn with
// it; unless fn returns an error or a zero Change, it stores the changed
// request, the history entry and the outbox event, and updates the index
// rows. It returns the request as it is afterwards and whether it wrote
// anything. UpdateApproval and FinishDelivery share it.
func (s *Store) applyChange(ctx context.Context, tx pgx.Tx, id string, fn func(*approval.Request) (approval.Change, error)) (*approval.Request, bool, error) {
	// The row lock serializes changes to one request: another change to it
	// waits here until this transaction ends.
	r, err := getApproval(ctx, tx, id, "FOR UPDATE")
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
	b, err := s.changeBatch(updateApproval(loaded, r), ch)
	if err != nil {
		return nil, false, internal("update approval", err)
	}
	if err := sendChange(ctx, tx, b, "update approval"); err != nil {
		return nil, false, err
	}
	return r, true, nil
}

// getApproval reads one request through q, with the locking clause lock
// ("FOR UPDATE") when it is not empty.
func getApproval(ctx context.Context, q querier, id, lock string) (*approval.Request, error) {
	if !validID(id) {
		return nil, approval.NotFound("approval request")
	}
	row := q.QueryRow(ctx, "SELECT "+approvalColumns+" FROM approvals WHERE id = $1 "+lock, id)
	r, err := scanApproval(row)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
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
		delivery, outcome, policyRequest    *string
		deadline, decidedAt, nextReminderAt *time.Time
		status                              int16
		previousStatus                      *int16
		remindAfter                         int64
	)
	err := row.Scan(&r.ID, &r.Title, &r.Description, &payload, &r.Requester, &r.ServiceRule, &deadline,
		&policy, &status, &previousStatus, &r.Comment, &reviews, &delivery, &r.Version,
		&r.CreatedAt, &r.UpdatedAt, &decidedAt, &r.HistoryHead,
		&r.PolicySource, &dependsOn, &remindAfter, &nextReminderAt, &r.Reason,
		&r.Subject, &outcome, &r.Digest, &policyRequest)
	if err != nil {
		return nil, err
	}
	r.Payload = json.RawMessage(payload)
	if outcome != nil {
		r.Outcome = json.RawMessage(*outcome)
	}
	r.Deadline = nullUTC(deadline)
	r.DecidedAt = nullUTC(decidedAt)
	r.NextReminderAt = nullUTC(nextReminderAt)
	r.RemindAfter = approval.Duration(remindAfter)
	r.CreatedAt = r.CreatedAt.UTC()
	r.UpdatedAt = r.UpdatedAt.UTC()
	r.Status = approval.Status(status)
	if previousStatus != nil {
		st := approval.Status(*previousStatus)
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
	if policyRequest != nil {
		if err := json.Unmarshal([]byte(*policyRequest), &r.PolicyRequest); err != nil {
			return nil, fmt.Errorf("request %s: policy_request: %w", r.ID, err)
		}
	}
	if delivery != nil {
		r.Delivery = new(approval.Delivery)
		if err := json.Unmarshal([]byte(*delivery), r.Delivery); err != nil {
			return nil, fmt.Errorf("request %s: delivery: %w", r.ID, err)
		}
	}
	return &r, nil
}

// approvalValues are the stored values of r's mutable columns, in the order
// of the INSERT and UPDATE statements below; ix is r.Index(), whose Blocked
// is stored beside them. JSON goes as a string, which pgx sends as it is,
// so the json columns keep its exact bytes. The outcome is NULL until one
// is recorded.
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
		r.PolicySource, dependsOn, int64(r.RemindAfter), r.NextReminderAt, r.Reason, outcome, ix.Blocked,
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

// rowStatement is the statement that writes a request's row, with its
// arguments, and the change to the request's index that goes with it.
type rowStatement struct {
	sql  string
	args func() ([]any, error)
	// id is the request's; before and after are its index before and after
	// the write, before nil for a new request (see queueIndex).
	id     string
	before *approval.Index
	after  approval.Index
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

// insertApproval is the statement that inserts the new request r. The
// columns after blocked are those fixed at create, which updateApproval
// leaves alone.
func insertApproval(r *approval.Request) rowStatement {
	ix := r.Index()
	return rowStatement{`
		INSERT INTO approvals (
			title, description, payload, service_rule, deadline,
			policy, status, previous_status, comment, reviews, delivery,
			version, updated_at, decided_at, history_head,
			policy_source, depends_on, remind_after, next_reminder_at, reason, outcome, blocked,
			content_digest,
			id, requester, created_at, subject, policy_request
		) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28)`,
		func() ([]any, error) {
			values, err := approvalValues(r, ix)
			return append(values, r.ID, r.Requester, r.CreatedAt, r.Subject, policyRequestValue(r)), err
		},
		r.ID, nil, ix}
}

// updateApproval is the statement that stores r over the row of loaded, the
// request as it was loaded, at its version. The transaction holds the row's
// lock, so nothing else can have changed it; the version check guards
// against a bug that would.
func updateApproval(loaded, r *approval.Request) rowStatement {
	before, ix := loaded.Index(), r.Index()
	return rowStatement{`
		UPDATE approvals SET
			title = $1, description = $2, payload = $3, service_rule = $4, deadline = $5,
			policy = $6, status = $7, previous_status = $8, comment = $9, reviews = $10, delivery = $11,
			version = $12, updated_at = $13, decided_at = $14, history_head = $15,
			policy_source = $16, depends_on = $17, remind_after = $18, next_reminder_at = $19, reason = $20, outcome = $21, blocked = $22,
			content_digest = $23
		WHERE id = $24 AND version = $25`,
		func() ([]any, error) {
			values, err := approvalValues(r, ix)
			return append(values, loaded.ID, loaded.Version), err
		},
		loaded.ID, &before, ix}
}

// changeBatch queues the writes of a state change, to be sent in one round
// trip: the request's row, its history entry, its outbox event under a new
// event id (due for delivery at once when it has a webhook), and the
// changes to its index rows (see queueIndex).
func (s *Store) changeBatch(row rowStatement, ch approval.Change) (*pgx.Batch, error) {
	args, err := row.args()
	if err != nil {
		return nil, err
	}
	id, err := uuid.NewV7()
	if err != nil {
		return nil, err
	}
	e, ev := ch.Entry, ch.Event
	b := &pgx.Batch{}
	b.Queue(row.sql, args...)
	b.Queue(`
		INSERT INTO history (request_id, seq, actor, action, changes, at, prev_hash, hash)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		e.RequestID, e.Seq, e.Actor, string(e.Action), string(e.Changes), e.At, e.PrevHash, e.Hash)
	var webhook *string
	var due *time.Time
	if ev.Webhook != "" {
		webhook, due = &ev.Webhook, &e.At
	}
	b.Queue(`
		INSERT INTO outbox (id, type, request_id, version, data, created_at, webhook, next_attempt_at, trace_parent)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		id.String(), ev.Type, ev.RequestID, ev.Version, string(ev.Data), e.At, webhook, due, ev.TraceParent)
	queueIndex(b, row.id, row.before, row.after)
	return b, nil
}

// batchSender is a pool or a transaction.
type batchSender interface {
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// sendChange sends a changeBatch and checks each result: the row statement
// must touch exactly one row, and a second history entry with the same
// sequence number, which the row lock of applyChange rules out, would be
// a conflict rather than a failure; the index writes after the outbox
// event must succeed.
func sendChange(ctx context.Context, q batchSender, b *pgx.Batch, op string) (err error) {
	br := q.SendBatch(ctx, b)
	defer func() {
		if cerr := br.Close(); err == nil && cerr != nil {
			err = internal(op, cerr)
		}
	}()
	tag, err := br.Exec()
	if err != nil {
		return internal(op, err)
	}
	if n := tag.RowsAffected(); n != 1 {
		return internal(op, fmt.Errorf("%d request rows written, want 1", n))
	}
	switch _, err := br.Exec(); {
	case isUniqueViolation(err, "history_request_seq"):
		return &approval.Error{
			Kind: approval.KindConflict, Code: approval.CodeConflict,
			Message: "the request was changed concurrently; try again",
			Err:     fmt.Errorf("postgres: insert history: %w", err),
		}
	case err != nil:
		return internal(op, err)
	}
	if _, err := br.Exec(); err != nil { // the outbox event
		return internal(op, err)
	}
	for range b.Len() - 3 { // the index
		if _, err := br.Exec(); err != nil {
			return internal(op, err)
		}
	}
	return nil
}

// History returns the history entries of request id in order. It returns a
// KindNotFound *approval.Error for an unknown id, or one that is not a UUID
// (every stored request has at least its creation entry), and an internal
// one when the database fails.
func (s *Store) History(ctx context.Context, id string) ([]approval.HistoryEntry, error) {
	if !validID(id) {
		return nil, approval.NotFound("approval request")
	}
	out, err := queryAll(ctx, s.pool, "history", scanEntry, `
		SELECT request_id, seq, actor, action, changes, at, prev_hash, hash
		FROM history WHERE request_id = $1 ORDER BY seq`, id)
	if err == nil && len(out) == 0 {
		return nil, approval.NotFound("approval request")
	}
	return out, err
}

// scanEntry reads one history entry.
func scanEntry(row scanner) (approval.HistoryEntry, error) {
	var (
		e               approval.HistoryEntry
		action, changes string
	)
	err := row.Scan(&e.RequestID, &e.Seq, &e.Actor, &action, &changes, &e.At, &e.PrevHash, &e.Hash)
	e.Action = approval.Action(action)
	e.Changes = json.RawMessage(changes)
	e.At = e.At.UTC()
	return e, err
}

// overdueQuery selects overdue requests; its WHERE repeats the predicate of
// the partial index approvals_overdue (2 is pending), so that the planner
// can read just that index, in order.
const overdueQuery = `
	SELECT id FROM approvals
	WHERE status = 2 AND deadline IS NOT NULL AND deadline <= $1
	ORDER BY deadline, id LIMIT $2`

// Overdue returns the ids of up to limit (by default 50) pending requests
// whose deadline is at or before now, earliest deadline first. It returns an
// internal *approval.Error when the database fails.
func (s *Store) Overdue(ctx context.Context, now time.Time, limit int) ([]string, error) {
	return queryAll(ctx, s.pool, "overdue", scanString, overdueQuery, now, limitOr(limit, defaultListLimit))
}
