package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pressly/goose/v3"
	"go.opentelemetry.io/otel"
	"modernc.org/sqlite" // also registers the "sqlite" driver
	sqlite3 "modernc.org/sqlite/lib"

	"approvald/approval"
	"approvald/store/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// readers is the size of the read-only connection pool.
const readers = 4

// Store is an [approval.Store] on one SQLite database file. It is safe for
// concurrent use.
type Store struct {
	*sqlstore.Store
	writer  *sql.DB // one connection: every transaction that writes
	reader  *sql.DB // read-only connections for everything else
	changes chan struct{}

	closeOnce sync.Once
	closeErr  error

	// writeFailed is set when a write failed because the database could
	// not be written (a full disk, an I/O error) and cleared by the next
	// write that commits; while it is set, Ping probes with a write.
	writeFailed atomic.Bool
	newer       error // see SchemaNewer
}

var _ approval.Store = (*Store)(nil)

// Open opens (creating it if needed) the SQLite database at path and brings
// its schema up to date, writing the index rows that a migration could not
// (see sqlstore.Open). It returns an internal *approval.Error when the file
// cannot be opened or a migration fails.
func Open(ctx context.Context, path string) (*Store, error) {
	writer, err := sql.Open("sqlite", dsn(path,
		"_pragma=journal_mode(WAL)",
		"_pragma=synchronous(NORMAL)",
		"_pragma=foreign_keys(1)",
		"_txlock=immediate", // take the write lock at BEGIN, not at the first write
	))
	if err != nil {
		return nil, internal("open", err)
	}
	writer.SetMaxOpenConns(1)
	// A schema newer than this binary's is served (migrations are additive)
	// and reported by SchemaNewer.
	newer := sqlstore.Migrate(ctx, writer, goose.DialectSQLite3, migrations)
	if newer != nil && !errors.Is(newer, sqlstore.ErrSchemaNewer) {
		writer.Close()
		return nil, internal("migrate", newer)
	}
	// The readers open after the writer has created the file and switched it
	// to WAL mode, which is persistent.
	reader, err := sql.Open("sqlite", dsn(path, "_pragma=query_only(1)"))
	if err != nil {
		writer.Close()
		return nil, internal("open", err)
	}
	reader.SetMaxOpenConns(readers)
	reader.SetMaxIdleConns(readers)
	s := &Store{writer: writer, reader: reader, changes: make(chan struct{}, 1), newer: newer}
	if err := s.Ping(ctx); err != nil {
		s.Close()
		return nil, err
	}
	if s.Store, err = sqlstore.Open(ctx, database{conn{reader}, s}, dialect); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// dsn returns the modernc.org/sqlite data source name for the file at path
// with the given query parameters amid those of every connection. The path
// is escaped so that characters such as '?' and '%' in it are not taken for
// URI syntax.
func dsn(path string, params ...string) string {
	return "file:" + (&url.URL{Path: path}).EscapedPath() + "?_pragma=busy_timeout(10000)&" +
		strings.Join(params, "&") + "&_time_integer_format=unix_micro"
}

// SchemaNewer returns an error naming both versions (wrapping
// sqlstore.ErrSchemaNewer) when the database's schema was newer than this
// binary's migrations at Open, nil otherwise. The store serves such a
// database — migrations are additive, so an older release runs on a newer
// schema during a rollout or after a rollback — and `approvald migrate`
// refuses it.
func (s *Store) SchemaNewer() error { return s.newer }

// Ping checks that both the writer and the readers answer and, after a
// write failed because the database could not be written, that a write
// commits again. It returns a KindUnavailable *approval.Error while the
// database cannot be written, an internal one when it does not answer.
func (s *Store) Ping(ctx context.Context) error {
	if s.writeFailed.Load() {
		if err := s.probeWrite(ctx); err != nil {
			return err
		}
	}
	if err := cmp.Or(s.writer.PingContext(ctx), s.reader.PingContext(ctx)); err != nil {
		return internal("ping", err)
	}
	return nil
}

// Close closes the database. Calling it again does nothing and returns the
// first call's result: an internal *approval.Error if closing failed.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		err := errors.Join(s.reader.Close(), s.writer.Close())
		if err != nil {
			s.closeErr = internal("close", err)
		}
	})
	return s.closeErr
}

// write runs fn in a write transaction and commits it when fn returns nil.
// It returns fn's errors unchanged: fn wraps its own database errors.
func (s *Store) write(ctx context.Context, op string, fn func(tx *sql.Tx) error) (err error) {
	ctx, end := sqlstore.Span(ctx, tracer, "sqlite.write", op)
	defer func() {
		if approval.KindOf(err) == approval.KindUnavailable {
			s.writeFailed.Store(true)
		}
		end(err)
	}()
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return internal(op, err)
	}
	defer tx.Rollback() // a no-op after Commit
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return internal(op, err)
	}
	s.writeFailed.Store(false)
	return nil
}

// probeBytes is the size of Ping's probe write: a few pages, so that the
// probe needs room as real writes do.
const probeBytes = 64 << 10

// probeWrite commits a write that allocates pages and frees them again,
// to learn whether the database can be written now.
func (s *Store) probeWrite(ctx context.Context) error {
	return s.write(ctx, "readiness probe", func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO readiness_probe (id, filler) VALUES (1, zeroblob(?))
			ON CONFLICT (id) DO UPDATE SET filler = excluded.filler`, probeBytes); err != nil {
			return internal("readiness probe", err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM readiness_probe`); err != nil {
			return internal("readiness probe", err)
		}
		return nil
	})
}

// Changes implements [approval.Deliveries.Changes]: it sees this Store's
// writes only, as every writer of the file is meant to be this one.
func (s *Store) Changes() <-chan struct{} { return s.changes }

// internal wraps err, from operation op, as an internal error. A database
// file that cannot be written or read for now — a full disk, an I/O error,
// a read-only file, a lock held past the busy timeout — is KindUnavailable
// with a Retry-After: the caller may try again (clients retry 503), and
// readiness reports it (see Ping).
func internal(op string, err error) error {
	wrapped := fmt.Errorf("sqlite: %s: %w", op, err)
	if msg := unwritable(err); msg != "" {
		return &approval.Error{Kind: approval.KindUnavailable, Code: approval.CodeUnavailable,
			Message: msg, RetryAfter: unavailableRetry, Err: wrapped}
	}
	return approval.Internal(wrapped)
}

// unavailableRetry is the Retry-After of an answer while the database
// cannot be written.
const unavailableRetry = 5 * time.Second

// unwritable returns what the client is told when err says that the
// database cannot be used for now, or "" when err is another failure.
func unwritable(err error) string {
	e, ok := errors.AsType[*sqlite.Error](err)
	if !ok {
		return ""
	}
	switch e.Code() & 0xff { // the primary result code
	case sqlite3.SQLITE_FULL:
		return "the database cannot be written: its disk is full; retry later"
	case sqlite3.SQLITE_IOERR, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_NOMEM:
		return "the database cannot be used: an I/O error; retry later"
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
		return "the database is busy; retry later"
	}
	return ""
}

// tracer makes a span per write transaction; without a configured
// OpenTelemetry provider it does nothing.
var tracer = otel.Tracer("approvald/store/sqlite")
