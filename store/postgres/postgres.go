package postgres

import (
	"cmp"
	"context"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	"go.opentelemetry.io/otel"

	"approvald/approval"
	"approvald/store/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// SQLSTATE codes the store acts on.
const (
	codeSerializationFailure     = "40001"
	codeDeadlockDetected         = "40P01"
	codeUniqueViolation          = "23505"
	codeCharacterNotInRepertoire = "22021" // invalid UTF-8, or a NUL byte in text
	codeUntranslatableCharacter  = "22P05"
)

// Retries of a write transaction that PostgreSQL aborted with a
// serialization failure or a deadlock.
const (
	maxRetries = 5                    // after the first attempt
	retryBase  = 5 * time.Millisecond // doubled on each retry, then jittered
)

// Store is an [approval.Store] on a PostgreSQL database. It is safe for
// concurrent use, and several Stores, in one process or many, may share one
// database.
type Store struct {
	*sqlstore.Store
	pool *pgxpool.Pool
	// deliveries is the outbox workers' pool (see deliveryConns): claims,
	// delivery outcomes and the changes they make commit on it without
	// waiting for the WAL flush (see asyncCommit). That is safe for
	// them alone: should the database crash before the flush, the outcome
	// is lost as a whole and the delivery, whose lease then runs out, is
	// made again — at least once, as ever, with the same webhook-id. A
	// later change of the request (any commit that waits for the flush)
	// makes it durable, for the WAL is flushed in order.
	deliveries *pgxpool.Pool
	// schema is the schema the store's tables live in; run locks (see
	// TryLock) are per schema, as the migration lock is.
	schema string
	// channel is the LISTEN/NOTIFY channel of the store's schema: every
	// change notifies it, and the listener forwards it to changes.
	channel string
	changes chan struct{}

	announce      chan struct{}      // asks the notifier for a NOTIFY
	stopListening context.CancelFunc // stops the listener and the notifier
	listening     sync.WaitGroup     // the listener and the notifier

	closeOnce sync.Once
	newer     error // see SchemaNewer
}

var _ approval.Store = (*Store)(nil)

// Open connects to the PostgreSQL database at url (a postgres:// URL or a
// keyword/value string, as pgx takes them) and brings its schema, the first
// schema of the connection's search_path (which a search_path runtime
// parameter in url sets), up to date, under an advisory lock, so that
// instances starting at once migrate it once. maxConns, when positive, is
// the most connections of the store's pool; 0 keeps pgx's default. One more
// connection, outside the pool, listens for the changes of other Stores on
// the schema (see Changes). It returns an internal *approval.Error (an
// unavailable one when the database cannot be reached), which repeats no
// secret of url (see RedactDSN).
func Open(ctx context.Context, url string, maxConns int) (_ *Store, err error) {
	defer func() {
		if err != nil {
			err = scrubOpenError(url, err)
		}
	}()
	cfg, err := pgxpool.ParseConfig(url)
	switch {
	case err != nil:
		return nil, internal("open", parseError(url, err))
	case maxConns < 0 || maxConns > math.MaxInt32:
		return nil, internal("open", fmt.Errorf("max connections %d out of range", maxConns))
	case maxConns > 0:
		cfg.MaxConns = int32(maxConns)
	}
	// Statements run in pgx's default mode, which prepares them once per
	// connection (the statement cache). The description cache serves only
	// the cache_describe mode, yet each connection would allocate its table
	// for 512 statements anyway: 27 KB, 0.9 MB of live heap at 32 connections.
	if cfg.ConnConfig.DefaultQueryExecMode == pgx.QueryExecModeCacheStatement {
		cfg.ConnConfig.DescriptionCacheCapacity = 0
	}
	dcfg := cfg.Copy()
	dcfg.MaxConns = deliveryConns(cfg.MaxConns)
	dcfg.MinConns = 0
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, internal("open", err)
	}
	deliveries, err := pgxpool.NewWithConfig(ctx, dcfg)
	if err != nil {
		pool.Close()
		return nil, internal("open", err)
	}
	s := &Store{pool: pool, deliveries: deliveries, changes: make(chan struct{}, 1)}
	if err := s.start(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// start migrates the schema, opens the sqlstore.Store on it, and starts
// listening for changes to the schema.
func (s *Store) start(ctx context.Context) error {
	var schema *string
	if err := s.pool.QueryRow(ctx, "SELECT current_schema()").Scan(&schema); err != nil || schema == nil {
		return internal("open", cmp.Or(err, errors.New("no schema of the search_path exists")))
	}
	s.schema = *schema
	// A schema newer than this binary's is served (see SchemaNewer).
	if err := migrate(ctx, s.pool, s.schema); err != nil {
		if !errors.Is(err, sqlstore.ErrSchemaNewer) {
			return err
		}
		s.newer = err
	}
	var err error
	if s.Store, err = sqlstore.OpenWithDeliveries(ctx, database{conn{s.pool}, s, s.pool, syncCommit}, database{conn{s.deliveries}, s, s.deliveries, asyncCommit}, dialect); err != nil {
		return err
	}
	s.channel = channelName(s.schema)
	conn, err := s.subscribe(ctx)
	if err != nil {
		return internal("listen", err)
	}
	listenCtx, stop := context.WithCancel(context.Background())
	s.stopListening, s.announce = stop, make(chan struct{}, 1)
	s.listening.Go(func() { s.listen(listenCtx, conn) })
	s.listening.Go(func() { s.notifier(listenCtx) })
	return nil
}

// migrate applies the embedded migrations that the database does not have
// yet to schema, holding an advisory lock while it does.
func migrate(ctx context.Context, pool *pgxpool.Pool, schema string) error {
	// goose polls pg_try_advisory_lock; its default interval of 5s would
	// make every instance but the first wait that long at startup.
	locker, err := lock.NewPostgresSessionLocker(
		lock.WithLockID(migrationLockID(schema)),
		lock.WithLockTimeout(1, 300), // every second, for up to 5 minutes
	)
	if err != nil {
		return internal("migrations", err)
	}
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	if err := sqlstore.Migrate(ctx, db, goose.DialectPostgres, migrations, goose.WithSessionLocker(locker)); err != nil {
		return internal("migrate", err)
	}
	return nil
}

// migrationLockID returns the advisory lock key that guards the migrations
// of schema. Advisory locks are per database, and each schema has its own
// goose version table, so instances migrating different schemas of one
// database (tests do, in parallel) need not wait for each other.
func migrationLockID(schema string) int64 {
	h := fnv.New64a()
	h.Write([]byte("approvald/migrations\x00" + schema))
	return int64(h.Sum64()) // any 64 bits make a key; wrapping around is fine
}

// deliveryConns returns the size of the outbox workers' pool for a main pool
// of mainConns connections: a quarter of it, at least 2 and at most 16. A
// delivery's outcome holds a connection for a few round trips, not for the
// webhook call, so a few connections serve hundreds of deliveries a second.
func deliveryConns(mainConns int32) int32 {
	return min(max(mainConns/4, 2), 16)
}

// SchemaNewer returns an error naming both versions (wrapping
// sqlstore.ErrSchemaNewer) when the schema was newer than this binary's
// migrations at Open, nil otherwise. The store serves such a schema —
// migrations are additive, so the previous release runs on the new schema
// during a rollout or after a rollback — and `approvald migrate` refuses it.
func (s *Store) SchemaNewer() error { return s.newer }

// Ping checks that the database answers. It returns an internal
// *approval.Error when it does not, or the store is closed.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return internal("ping", err)
	}
	if err := s.deliveries.Ping(ctx); err != nil {
		return internal("ping the delivery workers' pool", err)
	}
	return nil
}

// Close stops listening for changes and closes every connection of the
// store, waiting for those in use (and held run locks) to be released.
// Calling it again does nothing. It always returns nil.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		if s.stopListening != nil {
			s.stopListening()
			s.listening.Wait()
		}
		s.pool.Close()
		s.deliveries.Close()
	})
	return nil
}

// write runs fn in a READ COMMITTED transaction, committed when fn returns
// nil, and again (see retry) after a serialization failure or a deadlock.
// It returns fn's errors unchanged: fn wraps its database errors with
// internal, which keeps their SQLSTATE visible to retry.
func (s *Store) write(ctx context.Context, op string, fn func(tx pgx.Tx) error) error {
	return s.writeOn(ctx, s.pool, syncCommit, op, fn)
}

// The transactions of the two pools: the API's commit once the WAL is
// flushed; the outbox workers' do not wait for it (see Store.deliveries).
// The setting is made in the transaction's first round trip (pgx sends a
// BeginQuery without arguments as one simple query), not as a connection
// parameter, which poolers such as PgBouncer refuse.
var (
	syncCommit  = pgx.TxOptions{IsoLevel: pgx.ReadCommitted}
	asyncCommit = pgx.TxOptions{BeginQuery: "BEGIN ISOLATION LEVEL READ COMMITTED; SET LOCAL synchronous_commit TO OFF"}
)

// writeOn is write on pool, beginning its transactions with opts.
func (s *Store) writeOn(ctx context.Context, pool *pgxpool.Pool, opts pgx.TxOptions, op string, fn func(tx pgx.Tx) error) (err error) {
	ctx, end := sqlstore.Span(ctx, tracer, "postgres.write", op)
	defer func() { end(err) }()
	return retry(ctx, op, func() error {
		tx, err := pool.BeginTx(ctx, opts)
		if err != nil {
			return internal(op, err)
		}
		defer tx.Rollback(ctx) // a no-op after Commit; if it fails, pgx closes the connection
		if err := fn(tx); err != nil {
			return err
		}
		if err := tx.Commit(ctx); err != nil {
			return internal(op, err)
		}
		return nil
	})
}

// retry calls attempt until it returns anything but a serialization failure
// or a deadlock, at most 1+maxRetries times, sleeping a short, jittered,
// growing backoff between calls. It returns attempt's last error; if ctx
// ends during a backoff, an internal error wrapping both ctx's error and
// attempt's.
func retry(ctx context.Context, op string, attempt func() error) error {
	for n := 0; ; n++ {
		err := attempt()
		if n == maxRetries || !retryable(err) {
			return err
		}
		d := retryBase << n
		// Jitter, so that the transactions that collided do not collide again.
		if !sleep(ctx, d/2+rand.N(d/2+1)) {
			return approval.Internal(fmt.Errorf("postgres: %s: %w, while retrying after: %w", op, ctx.Err(), err))
		}
	}
}

// retryable reports whether err is a serialization failure or a deadlock,
// after which the whole transaction may succeed when run again.
func retryable(err error) bool {
	code := sqlState(err)
	return code == codeSerializationFailure || code == codeDeadlockDetected
}

// sqlState returns the SQLSTATE of err, "" when PostgreSQL did not fail it.
func sqlState(err error) string {
	if e, ok := errors.AsType[*pgconn.PgError](err); ok {
		return e.Code
	}
	return ""
}

// unavailableRetry is the Retry-After of an answer while the database is
// unreachable: long enough not to hammer it, short enough for a failover.
const unavailableRetry = 2 * time.Second

// unreachable reports whether err says that the database could not be
// reached or is going away — a refused or broken connection, a server
// shutting down or out of connections — rather than that a statement failed.
func unreachable(err error) bool {
	if code := sqlState(err); code != "" {
		return strings.HasPrefix(code, "08") || // connection exception
			code == "57P01" || code == "57P02" || code == "57P03" || // shutting down, cannot connect now
			code == "53300" // too many connections
	}
	_, connectErr := errors.AsType[*pgconn.ConnectError](err)
	_, netErr := errors.AsType[net.Error](err)
	return connectErr || netErr || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// internal wraps err, from operation op, as an internal error. Text that
// PostgreSQL cannot store — invalid UTF-8 or a NUL byte, which SQLite takes —
// is the caller's fault, not the database's, and becomes a KindInvalid error.
// A database that cannot be reached is KindUnavailable, with a Retry-After:
// the caller may try again (clients retry 503).
func internal(op string, err error) error {
	wrapped := fmt.Errorf("postgres: %s: %w", op, err)
	switch code := sqlState(err); {
	case unreachable(err):
		return &approval.Error{Kind: approval.KindUnavailable, Code: approval.CodeUnavailable,
			Message: "the database is not answering; retry later", RetryAfter: unavailableRetry, Err: wrapped}
	case code == codeCharacterNotInRepertoire || code == codeUntranslatableCharacter:
		return &approval.Error{Kind: approval.KindInvalid, Code: approval.CodeValidation,
			Message: "invalid request: text must be valid UTF-8 without NUL characters", Err: wrapped}
	}
	return approval.Internal(wrapped)
}

// isUniqueViolation reports whether err is a unique violation of the
// constraint or unique index named constraint.
func isUniqueViolation(err error, constraint string) bool {
	e, ok := errors.AsType[*pgconn.PgError](err)
	return ok && e.Code == codeUniqueViolation && e.ConstraintName == constraint
}

// validID reports whether id is a UUID in its canonical form, the only form
// the stores hand out. Any other string is not the id of anything: checking
// first keeps PostgreSQL from failing on it (22P02), and keeps "ABC…" from
// finding the row "abc…", which SQLite, comparing text, would not find.
func validID(id string) bool {
	u, err := uuid.Parse(id)
	return err == nil && u.String() == id
}

// tracer makes a span per write transaction (with its retries); without a
// configured OpenTelemetry provider it does nothing.
var tracer = otel.Tracer("approvald/store/postgres")
