package postgres

import (
	"context"
	"testing"
	"time"

	"approvald/store/postgres/pgtest"
)

// tryLock calls s.TryLock and fails the test on an error, or unless ok is want.
func tryLock(t *testing.T, s *Store, key string, want bool) func() {
	t.Helper()
	unlock, ok, err := s.TryLock(t.Context(), key)
	if err != nil || ok != want {
		t.Fatalf("TryLock(%q) = %v, %v; want %v", key, ok, err, want)
	}
	if ok != (unlock != nil) {
		t.Fatalf("TryLock(%q) returned ok %v with unlock %v", key, ok, unlock != nil)
	}
	return unlock
}

// heldBy returns how many sessions hold the advisory lock of key in s's schema.
func heldBy(t *testing.T, s *Store, key string) int {
	t.Helper()
	var n int
	err := s.pool.QueryRow(t.Context(), `
		SELECT count(*) FROM pg_locks
		WHERE locktype = 'advisory' AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
			AND objsubid = 1 AND ((classid::bigint << 32) | objid::bigint) = $1`, runLockID(s.schema, key)).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestTryLock(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	s, other := open(t, url), open(t, url)

	unlock := tryLock(t, s, "cr8tor-run:alpha\x0020250101_000000", true)
	if n := heldBy(t, s, "cr8tor-run:alpha\x0020250101_000000"); n != 1 {
		t.Errorf("%d sessions hold the lock, want 1", n)
	}
	tryLock(t, s, "cr8tor-run:alpha\x0020250101_000000", false)     // held, by this very Store
	tryLock(t, other, "cr8tor-run:alpha\x0020250101_000000", false) // held, by another instance
	tryLock(t, s, "cr8tor-run:alpha\x0020250102_000000", true)()    // another key

	// Stores of another schema have locks of their own.
	elsewhere := open(t, pgtest.URL(t))
	tryLock(t, elsewhere, "cr8tor-run:alpha\x0020250101_000000", true)()

	unlock()
	unlock() // does nothing
	if n := heldBy(t, s, "cr8tor-run:alpha\x0020250101_000000"); n != 0 {
		t.Errorf("%d sessions hold the lock after unlock, want none", n)
	}
	again := tryLock(t, other, "cr8tor-run:alpha\x0020250101_000000", true)
	tryLock(t, s, "cr8tor-run:alpha\x0020250101_000000", false)
	again()
	tryLock(t, s, "cr8tor-run:alpha\x0020250101_000000", true)()
}

// TestTryLock_ConnectionReusedAfterUnlock holds a lock on a store of one
// connection: other work waits meanwhile, and after unlock the connection
// serves it without the lock.
func TestTryLock_ConnectionReusedAfterUnlock(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	s, err := Open(t.Context(), url, 1)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	other := open(t, url)

	unlock := tryLock(t, s, "k", true)
	var pid uint32
	if err := other.pool.QueryRow(t.Context(), `
		SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted
			AND objsubid = 1 AND ((classid::bigint << 32) | objid::bigint) = $1`, runLockID(s.schema, "k")).Scan(&pid); err != nil {
		t.Fatalf("finding the session that holds the lock: %v", err)
	}
	unlock()

	var again uint32
	if err := s.pool.QueryRow(t.Context(), "SELECT pg_backend_pid()").Scan(&again); err != nil {
		t.Fatalf("a query after unlock: %v", err)
	}
	if again != pid {
		t.Errorf("after unlock the pool's connection is backend %d, want %d, the one that held the lock", again, pid)
	}
	if n := heldBy(t, other, "k"); n != 0 {
		t.Errorf("%d sessions hold the lock after unlock, want none", n)
	}
	tryLock(t, other, "k", true)()
}

// TestTryLock_FailedUnlockClosesConnection ends the session that holds a
// lock: unlock cannot release it, and closes the connection rather than
// return it to the pool; the pool goes on with a new one.
func TestTryLock_FailedUnlockClosesConnection(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	s, err := Open(t.Context(), url, 1)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	other := open(t, url)

	unlock := tryLock(t, s, "k", true)
	var killed bool
	if err := other.pool.QueryRow(t.Context(), `
		SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted
			AND objsubid = 1 AND ((classid::bigint << 32) | objid::bigint) = $1`, runLockID(s.schema, "k")).Scan(&killed); err != nil || !killed {
		t.Fatalf("ending the session that holds the lock: %v, %v", killed, err)
	}
	unlock()
	if st := s.pool.Stat(); st.TotalConns() != 0 {
		t.Errorf("the pool kept %d connections after a failed unlock, want none", st.TotalConns())
	}
	if err := s.Ping(t.Context()); err != nil {
		t.Errorf("Ping after a failed unlock: %v", err)
	}
	// pg_terminate_backend only signals the session; its lock goes when the
	// backend has exited, a moment later on a busy server.
	for deadline := time.Now().Add(10 * time.Second); ; {
		var held int
		if err := other.pool.QueryRow(t.Context(), `
			SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted
				AND objsubid = 1 AND ((classid::bigint << 32) | objid::bigint) = $1`, runLockID(s.schema, "k")).Scan(&held); err != nil {
			t.Fatal(err)
		}
		if held == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	tryLock(t, s, "k", true)()
}

func TestTryLock_CancelledContextFails(t *testing.T) {
	t.Parallel()
	s := open(t, pgtest.URL(t))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if unlock, ok, err := s.TryLock(ctx, "k"); err == nil || ok || unlock != nil {
		t.Errorf("TryLock with a cancelled context = %v, %v; want an error", ok, err)
	}
	tryLock(t, s, "k", true)()
}

func TestRunLockID(t *testing.T) {
	ids := map[int64]string{migrationLockID("public"): "the migration lock of public"}
	for _, c := range []struct{ schema, key string }{
		{"public", ""}, {"public", "a"}, {"public", "b"}, {"other", "a"}, {"public", "approvald/migrations"},
	} {
		id := runLockID(c.schema, c.key)
		if id != runLockID(c.schema, c.key) {
			t.Errorf("runLockID(%q, %q) is not stable", c.schema, c.key)
		}
		if prev, dup := ids[id]; dup {
			t.Errorf("runLockID(%q, %q) = %d, the key of %s", c.schema, c.key, id, prev)
		}
		ids[id] = c.schema + "/" + c.key
	}
}
