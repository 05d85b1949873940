// Package postgres is the PostgreSQL implementation of [approval.Store]: the
// logic of package sqlstore on the pgx driver and its connection pool, for
// running several approvald instances against one database.
//
// Every change to a request runs in one READ COMMITTED transaction that
// locks the request's row (SELECT … FOR UPDATE), so changes to one request
// are serialized while changes to different requests run in parallel; its
// writes go in one pipelined batch. A transaction that PostgreSQL aborts
// with a serialization failure or a deadlock runs again, a few times, after
// a short jittered backoff. Delivery workers in any number of processes
// claim outbox events with FOR UPDATE SKIP LOCKED. Every change notifies a
// LISTEN/NOTIFY channel of the store's schema; each Store listens on a
// connection of its own and passes the notifications on as [Store.Changes],
// a wake-up on top of polling. [Store.TryLock] takes a session-level
// advisory lock by name, which every instance on the schema sees: the
// gateway holds one per run while it forwards the run's calls.
//
// Migrations are embedded and applied by [Open] with goose, under an
// advisory lock, in the first schema of the connection's search_path. Ids
// are uuid columns, times timestamptz; JSON the API returns as it is stored
// is in json columns (jsonb would not keep the bytes), history changes in
// text (the entry's hash covers their bytes).
package postgres
