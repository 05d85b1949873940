package postgres

import (
	"fmt"
	"strings"

	"approvald/approval"
	"approvald/store/sqlstore"
)

// listQuery returns the statement of ListApprovals for f, with its arguments.
func listQuery(f approval.Filter) (string, []any) {
	var a sqlstore.Args
	where := sqlstore.Where(f, &a)
	limit := a.Add(sqlstore.Limit(f.Limit))
	selectWhere := func(extra ...string) string {
		q := "SELECT " + sqlstore.ApprovalColumns + " FROM approvals"
		if conds := append(extra, where...); len(conds) > 0 {
			q += " WHERE " + strings.Join(conds, " AND ")
		}
		return q + " ORDER BY id DESC LIMIT " + limit
	}
	switch {
	case len(f.Statuses) == 0:
		return selectWhere(), a
	case len(f.Statuses) == 1:
		return selectWhere("status = " + a.Add(int16(f.Statuses[0]))), a
	case f.Subject != "":
		// A subject has few requests: one range of approvals_subject,
		// filtered by status, reads them all.
		codes := make([]int16, len(f.Statuses))
		for i, st := range f.Statuses {
			codes[i] = int16(st)
		}
		return selectWhere("status = ANY(" + a.Add(codes) + ")"), a
	}
	// One index range per status, merged: each branch reads at most limit
	// rows of (status, id DESC), however rare the statuses are.
	parts := make([]string, len(f.Statuses))
	for i, st := range f.Statuses {
		parts[i] = "(" + selectWhere("status = "+a.Add(int16(st))) + ")"
	}
	return "SELECT " + sqlstore.ApprovalColumns + " FROM (" + strings.Join(parts, " UNION ALL ") +
		") AS page ORDER BY id DESC LIMIT " + limit, a
}

// overdueQuery selects overdue requests; its WHERE repeats the predicate of
// the partial index approvals_overdue (2 is pending), so that the planner
// can read just that index, in order.
const overdueQuery = `
	SELECT id FROM approvals
	WHERE status = 2 AND deadline IS NOT NULL AND deadline <= $1
	ORDER BY deadline, id LIMIT $2`

// remindersQuery selects due reminders; its WHERE repeats the predicate of
// the partial index approvals_reminders (2 is pending), which holds blocked
// too, so that the planner can read just that index, in order.
const remindersQuery = `
	SELECT id FROM approvals
	WHERE status = 2 AND next_reminder_at IS NOT NULL AND next_reminder_at <= $1 AND NOT blocked
	ORDER BY next_reminder_at, id LIMIT $2`

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
	SELECT ` + sqlstore.ApprovalColumns + ` FROM approvals WHERE id IN (
		SELECT DISTINCT p.request_id FROM unnest($1::text[]) AS k (key)
		CROSS JOIN LATERAL (
			SELECT i.request_id FROM approval_inbox AS i
			WHERE i.key = k.key AND i.request_id > $2
				AND NOT EXISTS (SELECT 1 FROM approval_excluded AS x WHERE x.request_id = i.request_id AND x.principal = $3 OFFSET 0)
			ORDER BY i.request_id LIMIT $4) AS p
		ORDER BY p.request_id LIMIT $4)
	ORDER BY id`

// chainsQuery reads the requests of a batch, by id, each joined to its
// entries in order: a walk of the primary key of approvals and, per
// request, a range of history_request_seq. The LATERAL subquery keeps it a
// nested loop: a merge join would read history_request_seq from its start
// for every batch. A request without entries is one row of NULLs (the LEFT
// JOIN). %s is the condition on the requests' ids.
const chainsQuery = `
	SELECT a.id, a.version, a.history_head,
		h.seq, h.actor, h.action, h.changes, h.at, h.prev_hash, h.hash
	FROM (SELECT id, version, history_head FROM approvals %s ORDER BY id LIMIT $1) AS a
	LEFT JOIN LATERAL (
		SELECT seq, actor, action, changes, at, prev_hash, hash
		FROM history WHERE request_id = a.id ORDER BY seq
	) AS h ON true
	ORDER BY a.id, h.seq`

// chainsStatement returns the statement of HistoryChains for f, with its
// arguments.
func chainsStatement(f approval.ChainFilter) (string, []any) {
	args := []any{sqlstore.Limit(f.Limit)}
	cond := ""
	switch {
	case f.RequestID != "":
		cond, args = "WHERE id = $2", append(args, f.RequestID)
	case f.After != "":
		cond, args = "WHERE id > $2", append(args, f.After)
	}
	return fmt.Sprintf(chainsQuery, cond), args
}

// claimDeliveriesQuery leases due deliveries, most overdue first, reading
// the partial index outbox_due, whose WHERE it repeats. FOR UPDATE SKIP
// LOCKED passes over the rows another claim is taking; one that another
// claim took since this statement's snapshot fails the recheck of
// next_attempt_at on the row's latest version. So no two claims, in this
// process or another, take the same row. MATERIALIZED makes the CTE run
// once, locking at most $4 rows.
const claimDeliveriesQuery = `
	WITH due AS MATERIALIZED (
		SELECT seq FROM outbox
		WHERE webhook IS NOT NULL AND webhook_done_at IS NULL AND next_attempt_at <= $2
			AND webhook <> ALL ($3::text[])
		ORDER BY next_attempt_at, seq LIMIT $4
		FOR UPDATE SKIP LOCKED)
	UPDATE outbox SET next_attempt_at = $1
	WHERE seq IN (SELECT seq FROM due)
	RETURNING ` + sqlstore.OutboxColumns + ", attempts"

// claimUnpublishedQuery leases unpublished events, oldest first, from the
// partial index outbox_unpublished, as claimDeliveriesQuery does deliveries.
const claimUnpublishedQuery = `
	WITH due AS MATERIALIZED (
		SELECT seq FROM outbox
		WHERE published_at IS NULL AND (publish_after IS NULL OR publish_after <= $2)
		ORDER BY seq LIMIT $3
		FOR UPDATE SKIP LOCKED)
	UPDATE outbox SET publish_after = $1
	WHERE seq IN (SELECT seq FROM due)
	RETURNING ` + sqlstore.OutboxColumns + ", attempts"

// latestOutboxSeqQuery selects the highest outbox sequence number stored or,
// when every event has been deleted, the last one the identity sequence
// handed out; 0 before the first.
const latestOutboxSeqQuery = `
	SELECT COALESCE((SELECT max(seq) FROM outbox),
		(SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM outbox_seq_seq))`
