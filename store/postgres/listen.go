package postgres

import (
	"context"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/jackc/pgx/v5"

	"approvald/store/sqlstore"
)

// The listener's reconnection backoff: doubled after each failed attempt.
const (
	listenRetryFirst = 100 * time.Millisecond
	listenRetryLast  = 10 * time.Second
)

// closeTimeout bounds saying goodbye on the listener's connection.
const closeTimeout = time.Second

// channelName returns the LISTEN/NOTIFY channel of the store in schema.
// Notifications are per database, so stores in other schemas of it (tests
// run in parallel in one) must not share a channel. The name, 34
// characters, fits PostgreSQL's 63-character identifiers.
func channelName(schema string) string {
	h := fnv.New64a()
	h.Write([]byte(schema))
	return fmt.Sprintf("approvald_changes_%016x", h.Sum64())
}

// Changes implements [approval.Deliveries.Changes]: it hears of the
// changes of every Store on the schema, through LISTEN/NOTIFY, and wakes
// its readers after the listener reconnects too.
func (s *Store) Changes() <-chan struct{} { return s.changes }

// notifyEvery is the shortest time between two NOTIFYs of one store: a
// NOTIFY takes a database-wide lock at commit, so notifying in every
// change's transaction would serialize all commits. Changes are announced
// after they commit, coalesced, at most this often instead.
const notifyEvery = 10 * time.Millisecond

// notifySQL notifies the channel $1.
const notifySQL = "SELECT pg_notify($1, '')"

// wake puts a wake-up on the Changes channel unless one is waiting there.
func (s *Store) wake() { sqlstore.Signal(s.changes) }

// changed wakes this process's readers of Changes and has the notifier
// announce the change to the other processes.
func (s *Store) changed() {
	s.wake()
	sqlstore.Signal(s.announce)
}

// notifier sends one NOTIFY on the store's channel for every burst of
// changes, at most every notifyEvery, until ctx ends.
func (s *Store) notifier(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.announce:
		}
		if _, err := s.pool.Exec(ctx, notifySQL, s.channel); err != nil && ctx.Err() == nil {
			s.wake() // nobody else may hear of it; at least our own readers look
		}
		if !sleep(ctx, notifyEvery) {
			return
		}
	}
}

// subscribe opens a connection of its own, outside the pool, that listens
// on the store's channel.
func (s *Store) subscribe(ctx context.Context) (*pgx.Conn, error) {
	conn, err := pgx.ConnectConfig(ctx, s.pool.Config().ConnConfig)
	if err != nil {
		return nil, err
	}
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{s.channel}.Sanitize()); err != nil {
		closeConn(conn)
		return nil, err
	}
	return conn, nil
}

// listen forwards the notifications that reach conn to the Changes channel
// until ctx ends. When the connection fails, it connects again, waiting
// longer after each failed attempt (from listenRetryFirst to
// listenRetryLast), and sends a wake-up once it listens again, as changes
// may have been missed meanwhile.
func (s *Store) listen(ctx context.Context, conn *pgx.Conn) {
	for {
		for {
			if _, err := conn.WaitForNotification(ctx); err != nil {
				break
			}
			s.wake()
		}
		closeConn(conn)
		conn = nil
		for wait := listenRetryFirst; conn == nil; wait = min(2*wait, listenRetryLast) {
			if !sleep(ctx, wait) {
				return
			}
			conn, _ = s.subscribe(ctx) // nil when it fails
		}
		s.wake()
	}
}

// sleep waits for d and reports true, or for ctx to end and reports false.
func sleep(ctx context.Context, d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-timer.C:
		return true
	}
}

// closeConn closes conn, giving it closeTimeout to say goodbye.
func closeConn(conn *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	conn.Close(ctx)
}
