package postgres

import (
	"testing"

	"github.com/jackc/pgx/v5"

	"approvald/store/postgres/pgtest"
)

// TestDeliveriesPool_CommitsWithoutWaitingForTheFlush: the delivery workers'
// transactions run with synchronous_commit off, set in the transaction (not
// as a connection parameter, which poolers refuse), and the API's keep the
// server's setting; Ping checks both pools.
func TestDeliveriesPool_CommitsWithoutWaitingForTheFlush(t *testing.T) {
	s := open(t, pgtest.URL(t))
	setting := func(pool string) string {
		p, opts := s.pool, syncCommit
		if pool == "deliveries" {
			p, opts = s.deliveries, asyncCommit
		}
		var v string
		if err := s.writeOn(t.Context(), p, opts, "show", func(tx pgx.Tx) error {
			return tx.QueryRow(t.Context(), "SHOW synchronous_commit").Scan(&v)
		}); err != nil {
			t.Fatalf("%s: %v", pool, err)
		}
		return v
	}
	if got := setting("deliveries"); got != "off" {
		t.Errorf("delivery workers' transactions: synchronous_commit %q, want off", got)
	}
	if got := setting("api"); got != "on" {
		t.Errorf("API transactions: synchronous_commit %q, want on (the server's default)", got)
	}
	// The setting is the transaction's: a connection of the workers' pool
	// outside a transaction keeps the server's.
	var v string
	if err := s.deliveries.QueryRow(t.Context(), "SHOW synchronous_commit").Scan(&v); err != nil || v != "on" {
		t.Errorf("outside a transaction: %q %v, want on", v, err)
	}
	if err := s.Ping(t.Context()); err != nil {
		t.Errorf("Ping: %v", err)
	}
	if st := s.PoolStats(); st["deliveries"].MaxOpenConnections < 2 {
		t.Errorf("pool stats %+v: want the delivery workers' pool", st)
	}
}
