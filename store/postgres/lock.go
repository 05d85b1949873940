package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// unlockTimeout bounds releasing a run lock, and closing its connection
// when that fails: unlock has no context of its own.
const unlockTimeout = 10 * time.Second

// TryLock takes the run lock named key without waiting: a session-level
// advisory lock (pg_try_advisory_lock) held on a connection of the pool,
// which the lock keeps until unlock. Every Store on the store's schema, in
// this process or another, sees the same lock, so at most one of them holds
// key at a time; a second TryLock of a held key fails even in the Store
// that holds it.
//
// It returns ok false when the lock is held, and an internal
// *approval.Error when the database fails. unlock releases the lock and
// returns the connection to the pool; if the release fails, it closes the
// connection instead, which ends the session and with it the lock. Calling
// unlock again does nothing. If the connection is lost while the lock is
// held, the server releases the lock, unnoticed by the holder.
//
// A held lock keeps a connection of the pool busy, so the pool must have
// room for the locks held at once beside the store's other work; Close
// waits until every lock is unlocked.
func (s *Store) TryLock(ctx context.Context, key string) (unlock func(), ok bool, err error) {
	id := runLockID(s.schema, key)
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, false, internal("try lock", err)
	}
	if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", id).Scan(&ok); err != nil {
		// The server may have taken the lock before the query failed;
		// ending the session releases it if so.
		destroy(conn)
		return nil, false, internal("try lock", err)
	}
	if !ok {
		conn.Release()
		return nil, false, nil
	}
	return sync.OnceFunc(func() { release(conn, id) }), true, nil
}

// release releases the advisory lock id held by conn's session and returns
// conn to the pool, or, when that fails, destroys conn so that no
// connection goes back to the pool with the lock held.
func release(conn *pgxpool.Conn, id int64) {
	ctx, cancel := context.WithTimeout(context.Background(), unlockTimeout)
	defer cancel()
	var released bool
	if err := conn.QueryRow(ctx, "SELECT pg_advisory_unlock($1)", id).Scan(&released); err != nil || !released {
		destroy(conn)
		return
	}
	conn.Release()
}

// destroy takes conn out of the pool and closes it, which ends its session
// and releases every advisory lock the session holds.
func destroy(conn *pgxpool.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), unlockTimeout)
	defer cancel()
	conn.Hijack().Close(ctx) // on failure pgx closes the network connection all the same
}

// runLockID returns the advisory lock key of the run lock key in schema.
// Advisory locks are per database: the schema keeps Stores of different
// schemas (tests run in parallel in one database) apart, as for
// migrationLockID. The key is the first 64 bits of a SHA-256 hash under a
// prefix of its own: keys come from client input, and unlike FNV, which
// migrationLockID uses, SHA-256 lets no one choose a key whose lock is the
// migration lock or another run's. Schema names hold no NUL, so the
// schema and key cannot run into each other.
func runLockID(schema, key string) int64 {
	h := sha256.Sum256([]byte("approvald/run-lock\x00" + schema + "\x00" + key))
	return int64(binary.BigEndian.Uint64(h[:8])) // any 64 bits make a key; wrapping around is fine
}
