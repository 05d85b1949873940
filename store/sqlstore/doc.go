// Package sqlstore is the logic of approvald's SQL stores, written once:
// columns, value encoding, scanning, and the transaction scripts that
// create, change, claim and finish. [Store] implements [approval.Store]
// (but Ping, Close and Changes) on a [DB] that a store package opens
// (store/sqlite, store/postgres) in a [Dialect], which holds what that
// database does its own way: the statements that differ, reading times,
// which strings can be ids, row locks, error kinds. The store packages keep
// the rest of what differs: opening, migrations, pooling, transactions and
// change notification.
//
// A change to a request writes, in one transaction, the request, its
// history entry, its outbox event and its index ([approval.Request.Index]:
// the inbox keys of the reviewers it awaits, the principals excluded from
// seeing it, its dependencies), rows of their own tables rewritten only when
// they change, which the inbox, the dependency sweep and the reminders read
// through indexes. Open writes the index rows of requests stored before the
// index existed.
//
// The outbox doubles as the delivery queue: an event that names a service
// rule is due at once, and a worker claims it with a lease (its next
// attempt moves to the lease's end), so that no two take the same one and
// a dead worker's events come due again. The event-bus publisher leases
// unpublished events the same way, and the notifier those whose change
// calls for a notification (the event's notify kind) until it has planned
// them: it queues the notifications and marks the events planned in one
// transaction, and an event not planned yet is never deleted. The queue of
// notifications is a table of its own, one row per deduplication key;
// senders lease the due rows of a few targets (channel and address) at a
// time, with every other row of those targets whose next attempt is due,
// so that a recipient's notifications go out as one message. The gateway
// call log ([calllog.Record]) is a table of its own, appended to outside
// any request's transaction.
//
// Statements number their parameters ($1, $2, …), which both drivers take.
// Values go as Go values: JSON as strings (PostgreSQL's json columns keep
// the exact bytes), times as time.Time (SQLite stores unix microseconds,
// PostgreSQL timestamptz; both keep the microseconds of
// [approval.TruncateTime] and read back in UTC), ids as strings (SQLite
// text, PostgreSQL uuid, where a string that is not a canonical UUID is the
// id of nothing).
package sqlstore
