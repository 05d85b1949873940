// Package sqlstore is the logic of approvald's SQL stores, written once:
// columns, value encoding, scanning, and the transaction scripts that
// create, change, claim and finish. [Store] implements [approval.Store],
// all but Ping, Close and Changes, on a [DB] that a store package opens
// (store/sqlite, store/postgres) and a [Dialect] that says what its database
// does its own way: the statements that differ, how times are read, which
// ids exist, whether rows are locked, how errors are classified.
//
// The store packages keep what truly differs: opening, migrations, pooling,
// transactions (SQLite's single writer, PostgreSQL's retried READ COMMITTED
// transactions and pipelined batches) and change notification.
//
// Statements number their parameters ($1, $2, …), which both drivers take:
// PostgreSQL natively, modernc.org/sqlite as SQLite's $NNN parameters.
// Values pass as Go values: strings for JSON (kept byte-exact), time.Time
// for times (SQLite stores unix microseconds, PostgreSQL timestamptz),
// strings for ids (SQLite text, PostgreSQL uuid).
package sqlstore
