package postgres

import (
	"context"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"approvald/approval"
)

// indexTables are the tables of the request index (approval.Request.Index),
// one per list in it: each row pairs a request id with one value of the
// list, of type typ.
var indexTables = []struct {
	name, column, typ string
	part              func(approval.Index) []string
}{
	{"approval_inbox", "key", "text", func(ix approval.Index) []string { return ix.Inbox }},
	{"approval_excluded", "principal", "text", func(ix approval.Index) []string { return ix.Excluded }},
	{"approval_deps", "depends_on", "uuid", func(ix approval.Index) []string { return ix.DependsOn }},
}

// queueIndex queues on b the writes that bring the index rows of request id
// from before to after. before is nil for a new request, which has no rows;
// otherwise each table whose list differs between before and after loses
// the request's rows and gets after's, and the others are left alone. Each
// table takes one INSERT of an array, whatever the list's length. The
// blocked column is written with the request's row.
func queueIndex(b *pgx.Batch, id string, before *approval.Index, after approval.Index) {
	for _, t := range indexTables {
		values := t.part(after)
		if before != nil {
			if slices.Equal(t.part(*before), values) {
				continue
			}
			b.Queue("DELETE FROM "+t.name+" WHERE request_id = $1", id)
		}
		if len(values) > 0 {
			b.Queue("INSERT INTO "+t.name+" (request_id, "+t.column+") SELECT $1::uuid, unnest($2::text[])::"+t.typ, id, values)
		}
	}
}

// backfillPage is how many requests backfillIndex reads at a time.
const backfillPage = 500

// backfillIndex writes the index rows of the pending requests stored before
// migration 00005 added the index, which SQL could not compute. It runs
// while the row backfill_index of meta, which that migration inserts, is
// present, and deletes it in the same transaction, so it runs once: the
// delete of a store opening at the same time waits for this transaction
// and then finds no row. The requests are locked while their rows are
// written, against writers that do not know of the index.
func (s *Store) backfillIndex(ctx context.Context) error {
	return s.write(ctx, "backfill index", func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, "DELETE FROM meta WHERE key = 'backfill_index'")
		switch {
		case err != nil:
			return internal("backfill index", err)
		case tag.RowsAffected() == 0:
			return nil
		}
		after := uuid.Nil.String()
		for {
			page, err := queryAll(ctx, tx, "backfill index", scanApproval,
				"SELECT "+approvalColumns+" FROM approvals WHERE status = 2 AND id > $1 ORDER BY id LIMIT $2 FOR UPDATE",
				after, backfillPage)
			if err != nil {
				return err
			}
			b := &pgx.Batch{}
			for _, r := range page {
				ix := r.Index()
				queueIndex(b, r.ID, &approval.Index{}, ix)
				b.Queue("UPDATE approvals SET blocked = $1 WHERE id = $2", ix.Blocked, r.ID)
			}
			if b.Len() > 0 {
				if err := tx.SendBatch(ctx, b).Close(); err != nil {
					return internal("backfill index", err)
				}
			}
			if len(page) < backfillPage {
				return nil
			}
			after = page[len(page)-1].ID
		}
	})
}

// inboxQuery selects an inbox: for each of the keys $1, the first $4
// requests of that key after the cursor $2 that do not exclude the
// principal $3, merged, and of those the first $4. The branch of one key is
// a LATERAL subquery, so the statement is the same for any number of keys.
// The exclusion is a NOT EXISTS with OFFSET 0, which keeps the planner from
// turning it into an anti join: with statistics of a real table it would
// rather read every exclusion row of the principal (a sequential scan of
// approval_excluded, 8 ms at 100,000 pending requests) than probe the
// primary key once per candidate. EXPLAIN ANALYZE on a million requests,
// 100,000 of them pending, for four keys and a limit of 51 (1.6 ms; 1.0 ms
// for a page deep in the range of a principal excluded from 100 of them):
//
//	Nested Loop
//	  -> Limit -> Sort -> HashAggregate (Group Key: i.request_id)
//	       -> Nested Loop
//	            -> Function Scan on unnest k
//	            -> Limit
//	                 -> Index Only Scan using approval_inbox_pkey on approval_inbox i
//	                      Index Cond: ((key = k.key) AND (request_id > $2))
//	                      Filter: (NOT (SubPlan 1))
//	                      SubPlan 1
//	                        -> Index Only Scan using approval_excluded_pkey on approval_excluded x
//	  -> Index Scan using approvals_pkey on approvals (Index Cond: (id = i.request_id))
//
// so one key costs a range of its primary key, read in order and stopped
// after $4 rows that pass the exclusion, whatever the size of the table.
// (A principal excluded from most of a key's range — the requester of most
// pending requests — makes the range longer: it skips them one by one.)
const inboxQuery = `
	SELECT ` + approvalColumns + ` FROM approvals WHERE id IN (
		SELECT DISTINCT p.request_id FROM unnest($1::text[]) AS k (key)
		CROSS JOIN LATERAL (
			SELECT i.request_id FROM approval_inbox AS i
			WHERE i.key = k.key AND i.request_id > $2
				AND NOT EXISTS (SELECT 1 FROM approval_excluded AS x WHERE x.request_id = i.request_id AND x.principal = $3 OFFSET 0)
			ORDER BY i.request_id LIMIT $4) AS p
		ORDER BY p.request_id LIMIT $4)
	ORDER BY id`

// Inbox returns up to q.Limit (by default 50) pending requests whose review
// is needed from q.Principal — an inbox key of the principal is indexed for
// them and the principal is not excluded — with ids above q.After, oldest
// first. It returns a KindInvalid *approval.Error when q.After is not a
// canonical UUID, and an internal one when the database fails.
func (s *Store) Inbox(ctx context.Context, q approval.InboxQuery) ([]*approval.Request, error) {
	after := q.After
	switch {
	case after == "":
		after = uuid.Nil.String() // below every id
	case !validID(after):
		return nil, approval.Errorf(approval.KindInvalid, approval.CodeValidation, "invalid cursor")
	}
	return queryAll(ctx, s.pool, "inbox", scanApproval, inboxQuery,
		approval.InboxKeys(q.Principal), after, q.Principal.ID, limitOr(q.Limit, defaultListLimit))
}

// Statuses returns the statuses of the requests with the given ids; ids of
// no request, and strings that are not canonical UUIDs, are absent. It
// returns an internal *approval.Error when the database fails.
func (s *Store) Statuses(ctx context.Context, ids []string) (approval.Deps, error) {
	out := approval.Deps{}
	var valid []string
	for _, id := range ids {
		if validID(id) {
			valid = append(valid, id)
		}
	}
	if len(valid) == 0 {
		return out, nil
	}
	rows, err := s.pool.Query(ctx, "SELECT id, status FROM approvals WHERE id = ANY ($1::uuid[])", valid)
	if err != nil {
		return nil, internal("statuses", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id string
			st int16
		)
		if err := rows.Scan(&id, &st); err != nil {
			return nil, internal("statuses", err)
		}
		out[id] = approval.Status(st)
	}
	if err := rows.Err(); err != nil {
		return nil, internal("statuses", err)
	}
	return out, nil
}

// Dependents returns the ids of the pending requests that depend on request
// id, oldest first; none when id is not a UUID. It returns an internal
// *approval.Error when the database fails.
func (s *Store) Dependents(ctx context.Context, id string) ([]string, error) {
	if !validID(id) {
		return nil, nil
	}
	return queryAll(ctx, s.pool, "dependents", scanString,
		"SELECT request_id FROM approval_deps WHERE depends_on = $1 ORDER BY request_id", id)
}

// unresolvedQuery selects pending requests that their dependencies decide:
// one has failed (4, 5 and 9 are rejected, cancelled and expired), or the
// request is blocked and every dependency is approved (3) — a dependency
// that is not stored is not approved. Dependency rows exist only for
// pending requests, so the first branch reads no more than those, looking
// each dependency up by its primary key: the scalar subqueries keep the
// planner from starting at the failed requests instead, whose number only
// grows. The second branch reads the partial index approvals_blocked.
const unresolvedQuery = `
	SELECT d.request_id AS id FROM approval_deps AS d
	WHERE (SELECT dep.status FROM approvals AS dep WHERE dep.id = d.depends_on) IN (4, 5, 9)
		AND (SELECT a.status FROM approvals AS a WHERE a.id = d.request_id) = 2
	UNION
	SELECT a.id FROM approvals AS a
	WHERE a.status = 2 AND a.blocked AND NOT EXISTS (
		SELECT 1 FROM approval_deps AS d LEFT JOIN approvals AS dep ON dep.id = d.depends_on
		WHERE d.request_id = a.id AND (dep.status IS NULL OR dep.status <> 3))
	ORDER BY id LIMIT $1`

// Unresolved returns the ids of up to limit (by default 50) pending requests
// that their dependencies decide now, oldest first. It returns an internal
// *approval.Error when the database fails.
func (s *Store) Unresolved(ctx context.Context, limit int) ([]string, error) {
	return queryAll(ctx, s.pool, "unresolved", scanString, unresolvedQuery, limitOr(limit, defaultListLimit))
}

// remindersQuery selects due reminders; its WHERE repeats the predicate of
// the partial index approvals_reminders (2 is pending), which holds blocked
// too, so that the planner can read just that index, in order.
const remindersQuery = `
	SELECT id FROM approvals
	WHERE status = 2 AND next_reminder_at IS NOT NULL AND next_reminder_at <= $1 AND NOT blocked
	ORDER BY next_reminder_at, id LIMIT $2`

// DueReminders returns the ids of up to limit (by default 50) pending
// requests that are not blocked and whose next reminder is at or before
// now, earliest first. It returns an internal *approval.Error when the
// database fails.
func (s *Store) DueReminders(ctx context.Context, now time.Time, limit int) ([]string, error) {
	return queryAll(ctx, s.pool, "due reminders", scanString, remindersQuery, now, limitOr(limit, defaultListLimit))
}
