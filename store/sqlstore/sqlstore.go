package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"approvald/approval"
)

// Row is a row to scan: a *sql.Row, a pgx.Row, or the current row of Rows.
type Row interface{ Scan(dest ...any) error }

// Rows is the result of a query.
type Rows interface {
	Row
	Next() bool
	Err() error
	Close()
}

// Querier reads, on a connection pool or in a transaction.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) Row
}

// Stmt is a statement of a batch. When Dest is set, it returns a row,
// which is scanned into Dest.
type Stmt struct {
	SQL  string
	Args []any
	Dest []any
}

// Tx is a write transaction.
type Tx interface {
	Querier
	// Exec runs a statement and returns how many rows it changed.
	Exec(ctx context.Context, sql string, args ...any) (int64, error)
	// Batch runs stmts in order, on PostgreSQL in one round trip, and
	// returns how many rows each changed (1 for a statement with Dest);
	// when one fails, its error.
	Batch(ctx context.Context, stmts []Stmt) ([]int64, error)
}

// DB is a database as its store package opened it.
type DB interface {
	Querier // reads outside any transaction
	// Write runs fn in a write transaction and commits it when fn returns
	// nil. It returns fn's error unchanged and its own as an
	// *approval.Error naming op; it may run fn again after the database
	// aborted the transaction in a conflict.
	Write(ctx context.Context, op string, fn func(Tx) error) error
	// Batch runs stmts as Tx.Batch does, in a write transaction of their
	// own, in as few round trips as the database allows.
	Batch(ctx context.Context, op string, stmts []Stmt) ([]int64, error)
	// Changed wakes the readers of Changes after a change committed.
	Changed()
}

// Dialect is what a database does its own way. Statements take their
// parameters in the order their comments give.
type Dialect struct {
	// Error returns err, a failure of operation op, as an *approval.Error:
	// internal, or of a kind the database's error tells (unavailable,
	// invalid input).
	Error func(op string, err error) error
	// UniqueViolation reports whether err violates the unique constraint or
	// index named constraint; nil where writers check before they write.
	UniqueViolation func(err error, constraint string) bool
	// ValidID reports whether id can be the id of a request or key; nil
	// where any string can (and just finds nothing).
	ValidID func(id string) bool
	// MinID is below every id, a cursor before the first.
	MinID string
	// RowLocks makes reads in write transactions lock the rows they read
	// (FOR UPDATE and its kin), where transactions run concurrently.
	RowLocks bool
	// NoIndex, before a column in a condition, keeps the planner from
	// reading that column's index.
	NoIndex string
	// Time and NullTime return scan destinations that read a time into p
	// in UTC.
	Time     func(p *time.Time) any
	NullTime func(p **time.Time) any
	// Array returns the argument that passes a list ([]string, []int16 or
	// []int64) to In, IndexInsert and ClaimDeliveries.
	Array func(list any) any
	// In returns the condition that column is one of the list param.
	In func(column, param string) string
	// IndexInsert returns the statement that inserts the rows of request $1
	// into an index table: one a value of the list $2.
	IndexInsert func(table, column, typ string) string

	// ListApprovals returns the statement of ListApprovals (see Where).
	ListApprovals func(f approval.Filter) (string, []any)
	// Inbox selects the requests of an inbox: keys $1… (as the statement
	// wants them), after the cursor, not excluding principal, up to limit.
	Inbox func(keys []string, after, principal string, limit int) (string, []any)
	// Chains returns the statement of HistoryChains: rows of request id,
	// version and history head, then the columns of an entry or NULLs.
	Chains func(f approval.ChainFilter) (string, []any)
	// Overdue and Reminders select the ids of due requests: $1 now, $2 limit.
	Overdue, Reminders string
	// Unresolved selects the ids of requests their dependencies decide: $1 limit.
	Unresolved string
	// LatestOutboxSeq selects the latest outbox sequence number.
	LatestOutboxSeq string
	// ClaimDeliveries and ClaimUnpublished lease outbox rows until $1 and
	// return their outboxColumns and attempts: those due at $2, not of
	// the rules Array $3 (deliveries only), up to the limit that follows.
	ClaimDeliveries, ClaimUnpublished string
}

// Store is the logic of an [approval.Store] on a DB in a Dialect. It is
// safe for concurrent use.
type Store struct {
	db DB
	d  *Dialect
}

// Open returns the Store on db in dialect d, after writing the index rows of
// requests stored before the index existed (see backfillIndex). It returns
// an *approval.Error when the database fails.
func Open(ctx context.Context, db DB, d *Dialect) (*Store, error) {
	s := &Store{db: db, d: d}
	if err := s.backfillIndex(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// defaultLimit is the page size of the lists when the caller sets none.
const defaultLimit = 50

// Limit returns limit, or the default page size when limit is not positive.
func Limit(limit int) int {
	if limit <= 0 {
		return defaultLimit
	}
	return limit
}

// Args collects the arguments of a statement as it is built.
type Args []any

// Add appends v and returns its parameter ($n).
func (a *Args) Add(v any) string {
	*a = append(*a, v)
	return "$" + strconv.Itoa(len(*a))
}

// errRollback, returned by a write function, ends its transaction without
// writing anything; write then returns nil.
var errRollback = errors.New("sqlstore: roll back")

// write runs fn in a write transaction (see DB.Write).
func (s *Store) write(ctx context.Context, op string, fn func(Tx) error) error {
	if err := s.db.Write(ctx, op, fn); !errors.Is(err, errRollback) {
		return err
	}
	return nil
}

// change runs fn like write and, when the transaction commits, wakes the
// readers of Changes. Writes that only lease or mark outbox rows use write:
// they make no work for anyone, and a worker woken by its own claim would
// claim again for nothing.
func (s *Store) change(ctx context.Context, op string, fn func(Tx) error) error {
	err := s.write(ctx, op, fn)
	if err == nil {
		s.db.Changed()
	}
	return err
}

// exec runs one statement in a write transaction and returns how many rows
// it changed.
func (s *Store) exec(ctx context.Context, op, query string, args ...any) (int64, error) {
	var n int64
	err := s.write(ctx, op, func(tx Tx) (err error) {
		n, err = tx.Exec(ctx, query, args...)
		return s.fail(op, err)
	})
	return n, err
}

// fail returns err, a failure of op, as an *approval.Error; nil for nil.
func (s *Store) fail(op string, err error) error {
	if _, ok := err.(*approval.Error); ok || err == nil {
		return err
	}
	return s.d.Error(op, err)
}

// validID reports whether id can be the id of a request or key.
func (s *Store) validID(id string) bool { return s.d.ValidID == nil || s.d.ValidID(id) }

// lock returns the locking clause " FOR "+mode where the dialect locks rows.
func (s *Store) lock(mode string) string {
	if !s.d.RowLocks {
		return ""
	}
	return " FOR " + mode
}

// isNoRows reports whether err says that a query returned no row (pgx's
// ErrNoRows is database/sql's too).
func isNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }

// queryAll runs query through q and returns every row as read by scan.
func queryAll[T any](ctx context.Context, s *Store, q Querier, op string, scan func(Row) (T, error), query string, args ...any) ([]T, error) {
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return nil, s.fail(op, err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, s.fail(op, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail(op, err)
	}
	return out, nil
}

// scanString reads a row of one text (or uuid) column.
func scanString(row Row) (string, error) {
	var v string
	err := row.Scan(&v)
	return v, err
}

// StartSpan starts the span of a write transaction, named name, of the
// trace that ctx carries; outside any trace it makes none (the returned
// span does nothing), so that background polling emits no traces. End it
// with EndSpan.
func StartSpan(ctx context.Context, tracer trace.Tracer, name, op string) (context.Context, trace.Span) {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return ctx, trace.SpanFromContext(context.Background())
	}
	return tracer.Start(ctx, name, trace.WithAttributes(attribute.String("db.operation", op)))
}

// EndSpan ends span, marking it failed when err is not nil.
func EndSpan(span trace.Span, err error) {
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}
