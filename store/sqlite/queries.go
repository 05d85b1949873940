package sqlite

import (
	"fmt"
	"strings"

	"approvald/approval"
	"approvald/store/sqlstore"
)

// listQuery returns the statement of ListApprovals for f, with its arguments.
func listQuery(f approval.Filter) (string, []any) {
	q := sqlstore.Where(f)
	if len(f.Statuses) > 0 {
		params := make([]string, len(f.Statuses))
		for i, st := range f.Statuses {
			params[i] = q.Add(int(st))
		}
		q.Conds = append(q.Conds, "status IN ("+strings.Join(params, ", ")+")")
	}
	from := "approvals"
	if f.Subject != "" {
		// A subject has few requests, so its range of approvals_subject,
		// read in id order, beats any other index; SQLite, without
		// statistics, might pick another.
		from = "approvals INDEXED BY approvals_subject"
	}
	limit := q.Add(sqlstore.Limit(f.Limit))
	return "SELECT " + sqlstore.ApprovalColumns + " FROM " + from + q.Where() + " ORDER BY id DESC LIMIT " + limit, q.Args
}

// overdueQuery reads the partial index approvals_overdue_open, whose WHERE
// it repeats. Without statistics SQLite would rather use approvals_status and
// scan every pending request; INDEXED BY also makes a schema change that
// drops the index an error instead of a slow sweep. Likewise below.
const overdueQuery = `
	SELECT id FROM approvals INDEXED BY approvals_overdue_open
	WHERE status IN (2, 10) AND deadline IS NOT NULL AND deadline <= $1
	ORDER BY deadline, id LIMIT $2`

// remindersQuery reads the partial index approvals_reminders in order.
const remindersQuery = `
	SELECT id FROM approvals INDEXED BY approvals_reminders
	WHERE status = 2 AND next_reminder_at IS NOT NULL AND next_reminder_at <= $1 AND blocked = 0
	ORDER BY next_reminder_at, id LIMIT $2`

// unresolvedQuery: dependency rows exist only for pending requests, so the
// first branch reads no more than those; CROSS JOIN keeps SQLite, which has
// no statistics, from starting at the failed requests, whose number only
// grows, instead.
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
	ORDER BY id LIMIT $1`

// inboxBranch selects the first requests of an inbox key after a cursor
// that do not exclude the principal; its arguments are the key, the cursor,
// the principal and the limit. approval_inbox is WITHOUT ROWID with the
// primary key (key, request_id), so the branch is a range of that key read
// in order, and the exclusion a lookup in the primary key of
// approval_excluded. The branches merge (sorting at most limit rows of
// each) and each request is found by its primary key.
const inboxBranch = `
	SELECT request_id FROM (
		SELECT i.request_id FROM approval_inbox AS i
		WHERE i.key = ? AND i.request_id > ?
			AND NOT EXISTS (SELECT 1 FROM approval_excluded AS x WHERE x.request_id = i.request_id AND x.principal = ?)
		ORDER BY i.request_id LIMIT ?)`

// inboxQuery returns the statement of an inbox of n keys: the union of n
// inboxBranches, its first limit ids (the last argument), and their requests.
func inboxQuery(n int) string {
	return "SELECT " + sqlstore.ApprovalColumns + " FROM approvals WHERE id IN (" +
		strings.Repeat(inboxBranch+" UNION", n-1) + inboxBranch + " ORDER BY request_id LIMIT ?) ORDER BY id"
}

// inbox returns the statement of an inbox, with its arguments.
func inbox(keys []string, after, principal string, limit int) (string, []any) {
	args := make([]any, 0, 4*len(keys)+1)
	for _, k := range keys {
		args = append(args, k, after, principal, limit)
	}
	return inboxQuery(len(keys)), append(args, limit)
}

// chainsQuery walks the primary key of approvals and, per request, a range
// of the (request_id, seq) index of history. %s is the condition on the
// requests' ids.
const chainsQuery = `
	SELECT a.id, a.version, a.history_head,
		h.seq, h.actor, h.action, h.changes, h.at, h.prev_hash, h.hash
	FROM (SELECT id, version, history_head FROM approvals WHERE %s ORDER BY id LIMIT $2) AS a
	LEFT JOIN history AS h ON h.request_id = a.id
	ORDER BY a.id, h.seq`

// chainsStatement returns the statement of HistoryChains for f, with its
// arguments.
func chainsStatement(f approval.ChainFilter) (string, []any) {
	cond, arg := "id > $1", f.After
	if f.RequestID != "" {
		cond, arg = "id = $1", f.RequestID
	}
	return fmt.Sprintf(chainsQuery, cond), []any{arg, sqlstore.Limit(f.Limit)}
}

// claimDeliveriesQuery reads the partial index outbox_due. The single
// writer connection runs one claim at a time, so two claims never take one
// row.
const claimDeliveriesQuery = `
	UPDATE outbox SET next_attempt_at = $1
	WHERE seq IN (
		SELECT seq FROM outbox INDEXED BY outbox_due
		WHERE webhook IS NOT NULL AND webhook_done_at IS NULL AND next_attempt_at <= $2
			AND webhook NOT IN (SELECT value FROM json_each($3))
		ORDER BY next_attempt_at, seq LIMIT $4)
	RETURNING ` + sqlstore.OutboxColumns + ", attempts"

// claimUnpublishedQuery reads the partial index outbox_unpublished.
const claimUnpublishedQuery = `
	UPDATE outbox SET publish_after = $1
	WHERE seq IN (
		SELECT seq FROM outbox INDEXED BY outbox_unpublished
		WHERE published_at IS NULL AND (publish_after IS NULL OR publish_after <= $2)
		ORDER BY seq LIMIT $3)
	RETURNING ` + sqlstore.OutboxColumns + ", attempts"

// latestOutboxSeqQuery falls back on the highest sequence number ever
// stored, which AUTOINCREMENT keeps in sqlite_sequence.
const latestOutboxSeqQuery = `
	SELECT COALESCE((SELECT max(seq) FROM outbox), (SELECT seq FROM sqlite_sequence WHERE name = 'outbox'), 0)`

// escalationsQuery reads the partial index approvals_escalations in order.
const escalationsQuery = `
	SELECT id FROM approvals INDEXED BY approvals_escalations
	WHERE status = 2 AND next_escalation_at IS NOT NULL AND next_escalation_at <= $1
	ORDER BY next_escalation_at, id LIMIT $2`

// claimUnplannedQuery reads the partial index outbox_unplanned.
const claimUnplannedQuery = `
	UPDATE outbox SET notify_after = $1
	WHERE seq IN (
		SELECT seq FROM outbox INDEXED BY outbox_unplanned
		WHERE notify <> '' AND notified_at IS NULL AND (notify_after IS NULL OR notify_after <= $2)
		ORDER BY seq LIMIT $3)
	RETURNING ` + sqlstore.OutboxColumns + ", attempts"

// claimNotificationsQuery picks the targets with a notification due, then
// numbers the queued notifications of each whose next attempt is due, oldest
// first, and leases the first $4 of each. The single writer connection runs
// one claim at a time, so two claims never take one row.
const claimNotificationsQuery = `
	UPDATE notifications SET next_attempt_at = $1
	WHERE id IN (
		SELECT id FROM (
			SELECT n.id, row_number() OVER (PARTITION BY n.channel, n.address ORDER BY n.id) AS nth
			FROM (
				SELECT channel, address FROM notifications
				WHERE sent_at IS NULL AND failed_at IS NULL AND next_attempt_at <= $2 AND due_at <= $2
				GROUP BY channel, address ORDER BY min(due_at), channel, address LIMIT $3) AS t
			CROSS JOIN notifications AS n ON n.channel = t.channel AND n.address = t.address
			WHERE n.sent_at IS NULL AND n.failed_at IS NULL AND n.next_attempt_at <= $2)
		WHERE nth <= $4)
	RETURNING ` + sqlstore.NotificationColumns
