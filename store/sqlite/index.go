package sqlite

import (
	"context"
	"database/sql"
	"slices"
	"strings"
	"time"

	"approvald/approval"
)

// indexTables are the tables of the request index (approval.Request.Index),
// one per list in it: each row pairs a request id with one value of the list.
var indexTables = []struct {
	name, column string
	part         func(approval.Index) []string
}{
	{"approval_inbox", "key", func(ix approval.Index) []string { return ix.Inbox }},
	{"approval_excluded", "principal", func(ix approval.Index) []string { return ix.Excluded }},
	{"approval_deps", "depends_on", func(ix approval.Index) []string { return ix.DependsOn }},
}

// indexChunk is the most index rows one INSERT writes.
const indexChunk = 400

// writeIndex brings the index rows of request id from before to after.
// before is nil for a new request, which has no rows; otherwise each table
// whose list differs between before and after loses the request's rows and
// gets after's, and the others are left alone. The blocked column is
// written with the request's row.
func writeIndex(ctx context.Context, tx *sql.Tx, id string, before *approval.Index, after approval.Index) error {
	for _, t := range indexTables {
		values := t.part(after)
		if before != nil {
			if slices.Equal(t.part(*before), values) {
				continue
			}
			if _, err := tx.ExecContext(ctx, "DELETE FROM "+t.name+" WHERE request_id = ?", id); err != nil {
				return internal("write index", err)
			}
		}
		for chunk := range slices.Chunk(values, indexChunk) {
			args := make([]any, 0, 2*len(chunk))
			for _, v := range chunk {
				args = append(args, id, v)
			}
			query := "INSERT INTO " + t.name + " (request_id, " + t.column + ") VALUES " +
				strings.TrimSuffix(strings.Repeat("(?, ?), ", len(chunk)), ", ")
			if _, err := tx.ExecContext(ctx, query, args...); err != nil {
				return internal("write index", err)
			}
		}
	}
	return nil
}

// backfillPage is how many requests backfillIndex reads at a time.
const backfillPage = 500

// backfillIndex writes the index rows of the pending requests stored before
// migration 00005 added the index, which SQL could not compute. It runs
// while the row backfill_index of meta, which that migration inserts, is
// present, and deletes it in the same transaction, so it runs once.
func (s *Store) backfillIndex(ctx context.Context) error {
	return s.write(ctx, "backfill index", func(tx *sql.Tx) error {
		n, err := execTx(ctx, tx, "backfill index", "DELETE FROM meta WHERE key = 'backfill_index'")
		if err != nil || n == 0 {
			return err
		}
		after := ""
		for {
			page, err := queryAll(ctx, tx, "backfill index", scanApproval,
				"SELECT "+approvalColumns+" FROM approvals WHERE status = 2 AND id > ? ORDER BY id LIMIT ?",
				after, backfillPage)
			if err != nil {
				return err
			}
			for _, r := range page {
				ix := r.Index()
				if err := writeIndex(ctx, tx, r.ID, &approval.Index{}, ix); err != nil {
					return err
				}
				if _, err := execTx(ctx, tx, "backfill index", "UPDATE approvals SET blocked = ? WHERE id = ?", ix.Blocked, r.ID); err != nil {
					return err
				}
			}
			if len(page) < backfillPage {
				return nil
			}
			after = page[len(page)-1].ID
		}
	})
}

// inboxBranch selects the first requests of one inbox key after a cursor
// that do not exclude the principal; its arguments are the key, the
// cursor, the principal and the limit. approval_inbox is WITHOUT ROWID with
// the primary key (key, request_id), so the branch is a range of that key
// read in order, and the exclusion a lookup in the primary key of
// approval_excluded. EXPLAIN QUERY PLAN, per branch:
//
//	SEARCH i USING PRIMARY KEY (key=? AND request_id>?)
//	CORRELATED SCALAR SUBQUERY: SEARCH x USING PRIMARY KEY (request_id=? AND principal=?)
//
// The branches merge (MERGE (UNION), sorting at most limit rows of each in
// a temporary b-tree) and each request is found by its primary key
// (SEARCH approvals USING INDEX sqlite_autoindex_approvals_1 (id=?)).
const inboxBranch = `
	SELECT request_id FROM (
		SELECT i.request_id FROM approval_inbox AS i
		WHERE i.key = ? AND i.request_id > ?
			AND NOT EXISTS (SELECT 1 FROM approval_excluded AS x WHERE x.request_id = i.request_id AND x.principal = ?)
		ORDER BY i.request_id LIMIT ?)`

// inboxQuery returns the query of an inbox of n keys: the union of n
// inboxBranches, its first limit ids (the last argument), and their requests.
func inboxQuery(n int) string {
	return "SELECT " + approvalColumns + " FROM approvals WHERE id IN (" +
		strings.Repeat(inboxBranch+" UNION", n-1) + inboxBranch +
		" ORDER BY request_id LIMIT ?) ORDER BY id"
}

// Inbox returns up to q.Limit (by default 50) pending requests whose review
// is needed from q.Principal — an inbox key of the principal is indexed for
// them and the principal is not excluded — with ids above q.After, oldest
// first. It returns an internal *approval.Error when the database fails.
func (s *Store) Inbox(ctx context.Context, q approval.InboxQuery) ([]*approval.Request, error) {
	keys := approval.InboxKeys(q.Principal)
	limit := limitOr(q.Limit, defaultListLimit)
	args := make([]any, 0, 4*len(keys)+1)
	for _, k := range keys {
		args = append(args, k, q.After, q.Principal.ID, limit)
	}
	return queryAll(ctx, s.reader, "inbox", scanApproval, inboxQuery(len(keys)), append(args, limit)...)
}

// Statuses returns the statuses of the requests with the given ids; ids of
// no request are absent. It returns an internal *approval.Error when the
// database fails.
func (s *Store) Statuses(ctx context.Context, ids []string) (approval.Deps, error) {
	out := approval.Deps{}
	if len(ids) == 0 {
		return out, nil
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	rows, err := s.reader.QueryContext(ctx, "SELECT id, status FROM approvals WHERE id IN ("+placeholders(len(ids))+")", args...)
	if err != nil {
		return nil, internal("statuses", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id string
			st approval.Status
		)
		if err := rows.Scan(&id, &st); err != nil {
			return nil, internal("statuses", err)
		}
		out[id] = st
	}
	if err := rows.Err(); err != nil {
		return nil, internal("statuses", err)
	}
	return out, nil
}

// Dependents returns the ids of the pending requests that depend on request
// id, oldest first. It returns an internal *approval.Error when the
// database fails.
func (s *Store) Dependents(ctx context.Context, id string) ([]string, error) {
	return queryAll(ctx, s.reader, "dependents", scanString,
		"SELECT request_id FROM approval_deps WHERE depends_on = ? ORDER BY request_id", id)
}

// unresolvedQuery selects pending requests that their dependencies decide:
// one has failed (4, 5 and 9 are rejected, cancelled and expired), or the
// request is blocked and every dependency is approved (3) — a dependency
// that is not stored is not approved. Dependency rows exist only for
// pending requests, so the first branch reads no more than those: CROSS
// JOIN keeps SQLite, which has no statistics, from starting at the
// failed requests, whose number only grows, instead.
const unresolvedQuery = `
	SELECT d.request_id AS id FROM approval_deps AS d
	CROSS JOIN approvals AS a ON a.id = d.request_id
	CROSS JOIN approvals AS dep ON dep.id = d.depends_on
	WHERE a.status = 2 AND dep.status IN (4, 5, 9)
	UNION
	SELECT a.id FROM approvals AS a INDEXED BY approvals_blocked
	WHERE a.status = 2 AND a.blocked = 1 AND NOT EXISTS (
		SELECT 1 FROM approval_deps AS d LEFT JOIN approvals AS dep ON dep.id = d.depends_on
		WHERE d.request_id = a.id AND (dep.status IS NULL OR dep.status <> 3))
	ORDER BY id LIMIT ?`

// Unresolved returns the ids of up to limit (by default 50) pending requests
// that their dependencies decide now, oldest first. It returns an internal
// *approval.Error when the database fails.
func (s *Store) Unresolved(ctx context.Context, limit int) ([]string, error) {
	return queryAll(ctx, s.reader, "unresolved", scanString, unresolvedQuery, limitOr(limit, defaultListLimit))
}

// remindersQuery selects due reminders from the partial index
// approvals_reminders, whose WHERE it repeats (2 is pending), in its order.
const remindersQuery = `
	SELECT id FROM approvals INDEXED BY approvals_reminders
	WHERE status = 2 AND next_reminder_at IS NOT NULL AND next_reminder_at <= ? AND blocked = 0
	ORDER BY next_reminder_at, id LIMIT ?`

// DueReminders returns the ids of up to limit (by default 50) pending
// requests that are not blocked and whose next reminder is at or before
// now, earliest first. It returns an internal *approval.Error when the
// database fails.
func (s *Store) DueReminders(ctx context.Context, now time.Time, limit int) ([]string, error) {
	return queryAll(ctx, s.reader, "due reminders", scanString, remindersQuery, micros(now), limitOr(limit, defaultListLimit))
}
