package postgres

import (
	"fmt"
	"strings"

	"approvald/approval"
	"approvald/store/sqlstore"
)

// listQuery returns the statement of ListApprovals for f, with its arguments.
func listQuery(f approval.Filter) (string, []any) {
	q := sqlstore.Where(f)
	limit := q.Add(sqlstore.Limit(f.Limit))
	selectWhere := func(extra ...string) string {
		return "SELECT " + sqlstore.ApprovalColumns + " FROM approvals" + q.Where(extra...) + " ORDER BY id DESC LIMIT " + limit
	}
	switch {
	case len(f.Statuses) == 0:
		return selectWhere(), q.Args
	case len(f.Statuses) == 1:
		return selectWhere("status = " + q.Add(int16(f.Statuses[0]))), q.Args
	case f.Subject != "":
		// A subject has few requests: one range of approvals_subject,
		// filtered by status, reads them all.
		return selectWhere("status = ANY(" + q.Add(sqlstore.Codes(f.Statuses)) + ")"), q.Args
	}
	// One index range per status, merged: each branch reads at most limit
	// rows of (status, id DESC), however rare the statuses are.
	parts := make([]string, len(f.Statuses))
	for i, st := range f.Statuses {
		parts[i] = "(" + selectWhere("status = "+q.Add(int16(st))) + ")"
	}
	return "SELECT " + sqlstore.ApprovalColumns + " FROM (" + strings.Join(parts, " UNION ALL ") +
		") AS page ORDER BY id DESC LIMIT " + limit, q.Args
}

// overdueQuery repeats the predicate of the partial index
// approvals_overdue_open, so that the planner can read just that index, in
// order; likewise remindersQuery approvals_reminders, which holds blocked.
const overdueQuery = `
	SELECT id FROM approvals
	WHERE status IN (2, 10) AND deadline IS NOT NULL AND deadline <= $1
	ORDER BY deadline, id LIMIT $2`

const remindersQuery = `
	SELECT id FROM approvals
	WHERE status = 2 AND next_reminder_at IS NOT NULL AND next_reminder_at <= $1 AND NOT blocked
	ORDER BY next_reminder_at, id LIMIT $2`

// unresolvedQuery: dependency rows exist only for pending requests, so the
// first branch reads no more than those, looking each dependency up by its
// primary key: the scalar subqueries keep the planner from starting at the
// failed requests instead, whose number only grows. The second branch reads
// the partial index approvals_blocked.
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
// a LATERAL subquery, so the statement is the same for any number of keys:
// an index-only range of approval_inbox_pkey, read in order and stopped
// after $4 rows that pass the exclusion, whatever the size of the table
// (1.6 ms for four keys on a million requests, 100,000 of them pending). The
// exclusion, a probe of approval_excluded_pkey per candidate, is a NOT
// EXISTS with OFFSET 0, which keeps the planner from turning it into an
// anti join that reads every exclusion row of the principal (a sequential
// scan, 8 ms at 100,000 pending requests). A principal excluded from most
// of a key's range (the requester of most pending requests) skips them one
// by one.
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

// chainsQuery walks the primary key of approvals and, per request, a range
// of history_request_seq. The LATERAL subquery keeps it a nested loop: a
// merge join would read history_request_seq from its start for every
// batch. %s is the condition on the requests' ids.
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

// claimDeliveriesQuery reads the partial index outbox_due. FOR UPDATE
// SKIP LOCKED passes over the rows another claim is taking; one that
// another claim took since this statement's snapshot fails the recheck of
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

// claimUnpublishedQuery reads the partial index outbox_unpublished.
const claimUnpublishedQuery = `
	WITH due AS MATERIALIZED (
		SELECT seq FROM outbox
		WHERE published_at IS NULL AND (publish_after IS NULL OR publish_after <= $2)
		ORDER BY seq LIMIT $3
		FOR UPDATE SKIP LOCKED)
	UPDATE outbox SET publish_after = $1
	WHERE seq IN (SELECT seq FROM due)
	RETURNING ` + sqlstore.OutboxColumns + ", attempts"

// latestOutboxSeqQuery falls back on the last number the identity
// sequence handed out.
const latestOutboxSeqQuery = `
	SELECT COALESCE((SELECT max(seq) FROM outbox),
		(SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM outbox_seq_seq))`

// escalationsQuery repeats the predicate of the partial index
// approvals_escalations, as overdueQuery does.
const escalationsQuery = `
	SELECT id FROM approvals
	WHERE status = 2 AND next_escalation_at IS NOT NULL AND next_escalation_at <= $1
	ORDER BY next_escalation_at, id LIMIT $2`

// claimUnplannedQuery reads the partial index outbox_unplanned, and locks
// as claimDeliveriesQuery does.
const claimUnplannedQuery = `
	WITH due AS MATERIALIZED (
		SELECT seq FROM outbox
		WHERE notify <> '' AND notified_at IS NULL AND (notify_after IS NULL OR notify_after <= $2)
		ORDER BY seq LIMIT $3
		FOR UPDATE SKIP LOCKED)
	UPDATE outbox SET notify_after = $1
	WHERE seq IN (SELECT seq FROM due)
	RETURNING ` + sqlstore.OutboxColumns + ", attempts"

// claimNotificationsQuery picks the targets with a notification due, then
// per target (a LATERAL range of notifications_queued) the first $4 queued
// notifications whose next attempt is due, locked with FOR UPDATE SKIP
// LOCKED: a row another claim is taking is passed over, and one it took
// since this statement's snapshot fails the recheck of next_attempt_at. So
// no two claims take one row (two may split a target's batch).
const claimNotificationsQuery = `
	WITH targets AS (
		SELECT channel, address FROM notifications
		WHERE sent_at IS NULL AND failed_at IS NULL AND next_attempt_at <= $2 AND due_at <= $2
		GROUP BY channel, address ORDER BY min(due_at), channel, address LIMIT $3),
	claimed AS MATERIALIZED (
		SELECT q.id FROM targets AS t CROSS JOIN LATERAL (
			SELECT n.id FROM notifications AS n
			WHERE n.channel = t.channel AND n.address = t.address
				AND n.sent_at IS NULL AND n.failed_at IS NULL AND n.next_attempt_at <= $2
			ORDER BY n.id LIMIT $4
			FOR UPDATE SKIP LOCKED) AS q)
	UPDATE notifications SET next_attempt_at = $1
	WHERE id IN (SELECT id FROM claimed)
	RETURNING ` + sqlstore.NotificationColumns
