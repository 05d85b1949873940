package sqlstore

import (
	"context"
	"slices"
	"time"

	"approvald/approval"
)

// indexTables are the tables of the request index (approval.Request.Index),
// one per list in it: each row pairs a request id with one value of the
// list, of type typ (on PostgreSQL).
var indexTables = [...]struct {
	name, column, typ, delete string
	part                      func(approval.Index) []string
}{
	{"approval_inbox", "key", "text", "DELETE FROM approval_inbox WHERE request_id = $1",
		func(ix approval.Index) []string { return ix.Inbox }},
	{"approval_excluded", "principal", "text", "DELETE FROM approval_excluded WHERE request_id = $1",
		func(ix approval.Index) []string { return ix.Excluded }},
	{"approval_deps", "depends_on", "uuid", "DELETE FROM approval_deps WHERE request_id = $1",
		func(ix approval.Index) []string { return ix.DependsOn }},
}

// indexStmts appends to stmts the writes that bring the index rows of
// request id from before (nil for a new request, which has none) to after:
// each table whose list differs loses the request's rows and gets after's.
// (The blocked column is written with the request's row.)
func (s *Store) indexStmts(stmts []Stmt, id string, before *approval.Index, after approval.Index) []Stmt {
	for _, t := range indexTables {
		values := t.part(after)
		if before != nil {
			if slices.Equal(t.part(*before), values) {
				continue
			}
			stmts = append(stmts, Stmt{SQL: t.delete, Args: []any{id}})
		}
		if len(values) > 0 {
			stmts = s.d.IndexInsert(stmts, t.name, t.column, t.typ, id, values)
		}
	}
	return stmts
}

// backfillPage is how many requests backfillIndex reads at a time.
const backfillPage = 500

// backfillIndex writes the index rows of the pending requests stored before
// migration 00005 added the index, which SQL could not compute. It runs
// while the row backfill_index of meta, which that migration inserts, is
// there, and deletes it in the same transaction, so it runs once (a store
// opening at the same time waits, then finds no row). It locks the
// requests, against writers that do not know of the index.
func (s *Store) backfillIndex(ctx context.Context) error {
	const op = "backfill index"
	return s.write(ctx, op, func(tx Tx) error {
		n, err := tx.Exec(ctx, "DELETE FROM meta WHERE key = 'backfill_index'")
		if err != nil || n == 0 {
			return s.fail(op, err)
		}
		after := s.d.MinID
		for {
			page, err := queryAll(ctx, s, tx, op, s.scanApproval,
				"SELECT "+ApprovalColumns+" FROM approvals WHERE status = 2 AND id > $1 ORDER BY id LIMIT $2"+s.lock("UPDATE"),
				after, backfillPage)
			if err != nil {
				return err
			}
			var stmts []Stmt
			for _, r := range page {
				ix := r.Index()
				stmts = s.indexStmts(stmts, r.ID, &approval.Index{}, ix)
				stmts = append(stmts, Stmt{SQL: "UPDATE approvals SET blocked = $1 WHERE id = $2", Args: []any{ix.Blocked, r.ID}})
			}
			if len(stmts) > 0 {
				if _, err := tx.Batch(ctx, stmts); err != nil {
					return s.fail(op, err)
				}
			}
			if len(page) < backfillPage {
				return nil
			}
			after = page[len(page)-1].ID
		}
	})
}

// Inbox implements [approval.Requests.Inbox]. A cursor q.After that cannot
// be an id is a KindInvalid *approval.Error.
func (s *Store) Inbox(ctx context.Context, q approval.InboxQuery) ([]*approval.Request, error) {
	after := q.After
	switch {
	case after == "":
		after = s.d.MinID
	case !s.validID(after):
		return nil, errInvalidCursor
	}
	query, args := s.d.Inbox(approval.InboxKeys(q.Principal), after, q.Principal.ID, Limit(q.Limit))
	return queryAll(ctx, s, s.db, "inbox", s.scanApproval, query, args...)
}

// Statuses implements [approval.Requests.Statuses].
func (s *Store) Statuses(ctx context.Context, ids []string) (approval.Deps, error) {
	return s.statuses(ctx, s.db, ids)
}

// statuses is Statuses through q (a transaction's, to read them in it).
func (s *Store) statuses(ctx context.Context, q Querier, ids []string) (approval.Deps, error) {
	out := approval.Deps{}
	if ids = slices.DeleteFunc(slices.Clone(ids), func(id string) bool { return !s.validID(id) }); len(ids) == 0 {
		return out, nil
	}
	type status struct {
		id string
		st int16
	}
	list, err := queryAll(ctx, s, q, "statuses", func(row Row, v *status) error { return row.Scan(&v.id, &v.st) },
		"SELECT id, status FROM approvals WHERE "+s.d.In("id", "$1"), s.d.Array(ids))
	for _, v := range list {
		out[v.id] = approval.Status(v.st)
	}
	return out, err
}

// Dependents implements [approval.Requests.Dependents].
func (s *Store) Dependents(ctx context.Context, id string) ([]string, error) {
	if !s.validID(id) {
		return nil, nil
	}
	return queryAll(ctx, s, s.db, "dependents", scanString,
		"SELECT request_id FROM approval_deps WHERE depends_on = $1 ORDER BY request_id", id)
}

// Unresolved implements [approval.Requests.Unresolved], oldest first.
func (s *Store) Unresolved(ctx context.Context, limit int) ([]string, error) {
	return queryAll(ctx, s, s.db, "unresolved", scanString, s.d.Unresolved, Limit(limit))
}

// DueReminders implements [approval.Requests.DueReminders].
func (s *Store) DueReminders(ctx context.Context, now time.Time, limit int) ([]string, error) {
	return queryAll(ctx, s, s.db, "due reminders", scanString, s.d.Reminders, now, Limit(limit))
}

// DueEscalations implements [approval.Requests.DueEscalations].
func (s *Store) DueEscalations(ctx context.Context, now time.Time, limit int) ([]string, error) {
	return queryAll(ctx, s, s.db, "due escalations", scanString, s.d.Escalations, now, Limit(limit))
}
