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
// advisory lock (pg_try_advisory_lock) that every Store on the schema, in
// this process or another, sees, held on a connection of the pool until
// unlock. A second TryLock of a held key fails, even in the Store that
// holds it. It returns ok false when the lock is held, and an internal
// *approval.Error when the database fails. unlock releases the lock and
// returns the connection to the pool, or closes it when the release fails,
// which ends the session and with it the lock; again, it does nothing. If
// the connection is lost, the server releases the lock, unnoticed by the
// holder. The pool must have room for the locks held at once beside the
// store's other work.
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
// conn to the pool, or destroys conn when that fails.
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

// runLockID returns the advisory lock key of the run lock key in schema
// (advisory locks are per database; see migrationLockID): the first 64 bits
// of a SHA-256 hash under a prefix of its own. Keys come from client input,
// and unlike FNV, SHA-256 lets no one choose a key whose lock is the
// migration lock or another run's. Schema names hold no NUL, so the schema
// and key cannot run into each other.
func runLockID(schema, key string) int64 {
	h := sha256.Sum256([]byte("approvald/run-lock\x00" + schema + "\x00" + key))
	return int64(binary.BigEndian.Uint64(h[:8])) // any 64 bits make a key; wrapping around is fine
}
