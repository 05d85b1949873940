// Package sqlite is the embedded SQLite implementation of [approval.Store],
// approvald's zero-setup storage, on the pure-Go driver modernc.org/sqlite.
//
// The database runs in WAL mode. Every write goes through one connection in
// an IMMEDIATE transaction, so writes are serialized and a change to a
// request, its history entry and its outbox event commit together or not at
// all; reads use a separate pool of read-only connections and never wait for
// a writer. Migrations are embedded and applied by [Open].
//
// The outbox doubles as the delivery queue: an event that names a service
// rule is due at once, and a worker claims it with a lease (an UPDATE of the
// due rows' next attempt time, which the single writer makes atomic); when
// the worker dies the lease runs out and the event is due again. The
// event-bus publisher leases unpublished events the same way. [Store.Changes]
// wakes the workers after each change this process commits.
//
// Beside each request the store keeps its index ([approval.Request.Index]):
// the keys of the reviewers whose review it awaits, the principals excluded
// from seeing it, its dependencies, and whether only they hold it. They are
// rows of their own tables (and the blocked column), written in the same
// transaction as the request and rewritten only when they change; the inbox,
// the dependency sweep and the reminders read them through indexes. [Open]
// writes the rows of requests stored before the index existed.
//
// The gateway call log ([approval.GatewayCall]) is a table of its own,
// appended to outside any request's transaction. SQLite has no lock that
// other processes could share: a gateway on this store serializes the calls
// of a run with a lock in its own process, every writer of the file being
// this process's one Store.
//
// Times are stored as unix microseconds and read back in UTC; they keep the
// microsecond precision of [approval.TruncateTime], so a value reads back
// exactly as written.
package sqlite
