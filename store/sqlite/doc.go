// Package sqlite is the embedded SQLite implementation of [approval.Store],
// approvald's zero-setup storage: the logic of package sqlstore on the
// pure-Go driver modernc.org/sqlite.
//
// The database runs in WAL mode. Every write goes through one connection in
// an IMMEDIATE transaction, so writes are serialized (a claim needs no row
// locks); reads use a pool of read-only connections and never wait for a
// writer. Migrations are embedded and applied by [Open]. Every writer of the
// file is meant to be this process's one Store: [Store.Changes] sees its
// writes only, and a gateway on this store serializes a run's calls with a
// lock in its own process.
package sqlite
