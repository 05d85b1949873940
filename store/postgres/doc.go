// Package postgres is the PostgreSQL implementation of [approval.Store], on
// the pgx driver and its connection pool, for running several approvald
// instances against one database.
//
// Every change to a request runs in one READ COMMITTED transaction that
// locks the request's row (SELECT … FOR UPDATE), so changes to one request
// are serialized while changes to different requests run in parallel; the
// request, its history entry and its outbox event commit together or not at
// all. A transaction that PostgreSQL aborts with a serialization failure or
// a deadlock is run again, a few times, with a short jittered backoff.
//
// The outbox doubles as the delivery queue: an event that names a service
// rule is due at once, and workers in any number of processes claim due
// events with FOR UPDATE SKIP LOCKED and a lease (the event's next attempt
// time moves to the lease's end), so that no two take the same one and a
// dead worker's events come due again. The event-bus publisher leases
// unpublished events the same way. Every change also notifies a
// LISTEN/NOTIFY channel of the store's schema; each Store listens on a
// connection of its own and passes the notifications on as [Store.Changes],
// a wake-up on top of polling, not instead of it.
//
// Beside each request the store keeps its index ([approval.Request.Index]):
// the keys of the reviewers whose review it awaits, the principals excluded
// from seeing it, its dependencies, and whether only they hold it. They are
// rows of their own tables (and the blocked column), written in the same
// batch as the request and rewritten only when they change; the inbox, the
// dependency sweep and the reminders read them through indexes. [Open]
// writes the rows of requests stored before the index existed.
//
// The gateway call log ([approval.GatewayCall]) is a table of its own,
// appended to outside any request's transaction. [Store.TryLock], not part
// of approval.Store, takes a session-level advisory lock by name, which
// every instance on the schema sees: the gateway holds one per run while it
// forwards the run's calls.
//
// Migrations are embedded and applied by [Open] with goose, under an
// advisory lock, in the first schema of the connection's search_path.
//
// Ids are uuid columns; a string that is not a UUID in canonical form is the
// id of nothing, as on SQLite. Times are timestamptz, which keeps the
// microsecond precision of [approval.TruncateTime], read back in UTC. JSON
// the API returns as it is stored (payload, policy, reviews, delivery, event
// data) is in json columns, not jsonb, which keep the exact bytes; history
// changes are text, because the entry's hash covers those bytes.
package postgres
