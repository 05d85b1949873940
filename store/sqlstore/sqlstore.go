package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"io/fs"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/pressly/goose/v3"
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

// Stmt is a statement of a batch; one with Dest returns a row, scanned into Dest.
type Stmt struct {
	SQL        string
	Args, Dest []any
}

// Tx is a write transaction. Its methods return the driver's errors.
type Tx interface {
	Querier
	// Exec runs a statement and returns how many rows it changed.
	Exec(ctx context.Context, sql string, args ...any) (int64, error)
	// Batch runs stmts in order (on PostgreSQL in one round trip) and
	// returns how many rows each changed, or the first error.
	Batch(ctx context.Context, stmts []Stmt) ([]int64, error)
}

// DB is a database as its store package opened it.
type DB interface {
	Querier // reads outside any transaction
	// Write runs fn in a write transaction and commits it when fn returns
	// nil. It returns fn's error unchanged and its own as an
	// *approval.Error naming op; it may run fn again after a conflict.
	Write(ctx context.Context, op string, fn func(Tx) error) error
	// WriteBatch runs stmts as Tx.Batch does, as a transaction of their
	// own, in as few round trips as the database allows.
	WriteBatch(ctx context.Context, op string, stmts []Stmt) ([]int64, error)
	// Changed wakes the readers of Changes after a change committed.
	Changed()
}

// Dialect is what a database does its own way. Statements number their
// parameters as their comments say.
type Dialect struct {
	// Error returns err, a failure of op, as an internal *approval.Error or
	// one of a kind the database's error tells (unavailable, invalid).
	Error func(op string, err error) error
	// UniqueViolation reports whether err violates the unique constraint or
	// index named constraint; nil where writers check before they write.
	UniqueViolation func(err error, constraint string) bool
	ValidID         func(id string) bool // whether id can be an id; nil: any can
	MinID           string               // below every id
	RowLocks        bool                 // lock rows read to write (FOR UPDATE…)
	NoIndex         string               // before a column, keeps the planner off its index
	// Time and NullTime return scan destinations that read a time in UTC.
	Time     func(p *time.Time) any
	NullTime func(p **time.Time) any
	// Array returns a list ([]string, []int16, []int64) as In and
	// ClaimDeliveries take it; In the condition that column is in the list
	// param.
	Array func(list any) any
	In    func(column, param string) string
	// IndexInsert appends to stmts the inserts of the rows of request id
	// into an index table, one per value, of type typ.
	IndexInsert func(stmts []Stmt, table, column, typ, id string, values []string) []Stmt
	// ListApprovals, Inbox and Chains return statements with their
	// arguments: ListApprovals' (see Where), an inbox's, HistoryChains' (a
	// request's id, version and history head, then an entry's columns, or
	// NULLs for a request without entries), in id order.
	ListApprovals func(f approval.Filter) (string, []any)
	Inbox         func(keys []string, after, principal string, limit int) (string, []any)
	Chains        func(f approval.ChainFilter) (string, []any)
	// Overdue and Reminders select the ids of pending requests (status 2)
	// due at $1 by the partial index of each, in its order, up to $2;
	// Unresolved those ($1 of them) whose dependencies decide them: one has
	// failed (4, 5 and 9 are rejected, cancelled and expired), or the
	// request is blocked and every dependency is approved (3), where one
	// not stored is not approved.
	Overdue, Reminders, Unresolved string
	// Escalations selects, like Reminders, the ids of pending requests
	// whose next escalation is due at $1, by approvals_escalations.
	Escalations string
	// LatestOutboxSeq selects the highest outbox sequence number stored or,
	// when every event has been deleted, the highest handed out; 0 before
	// the first.
	LatestOutboxSeq string
	// ClaimDeliveries and ClaimUnpublished lease outbox rows until $1 and
	// return their OutboxColumns and attempts: rows due at $2, not of the
	// rules $3 (deliveries only), most overdue (oldest) first, up to the
	// limit that follows.
	ClaimDeliveries, ClaimUnpublished string
	// ClaimUnplanned leases, as ClaimUnpublished does, events with a
	// notification not planned yet (notify_after is their lease).
	ClaimUnplanned string
	// ClaimNotifications leases until $1 the queued notifications (neither
	// sent nor given up) whose next attempt is due at $2, of up to $3
	// targets (channel and address) that have one due at $2 (due_at too),
	// those whose earliest due notification is earliest first, up to $4
	// per target, oldest (lowest id) first; no two claims take one row. It
	// returns their NotificationColumns.
	ClaimNotifications string
}

// Store is an [approval.Store], but for Ping, Close and Changes, and a
// calllog.Log, on a DB in a Dialect. It is safe for concurrent use. Its
// methods do what the interfaces they implement say; each returns an
// internal *approval.Error when the database fails (or one of the kind
// Dialect.Error tells), a KindNotFound one for an unknown id or name where
// it reads or changes one thing; a string that cannot be an id (see
// Dialect.ValidID) is the id of nothing, unless a method says otherwise.
type Store struct {
	db DB
	// deliveries is the DB of the webhook workers' writes (claims and
	// outcomes): db, or one of its own (see OpenWithDeliveries).
	deliveries   DB
	d            *Dialect
	lockApproval string // selectApproval, locking the row
}

// Open returns the Store on db in dialect d, after writing the index rows
// of requests stored before the index existed (see backfillIndex).
func Open(ctx context.Context, db DB, d *Dialect) (*Store, error) {
	return OpenWithDeliveries(ctx, db, db, d)
}

// OpenWithDeliveries is Open with the webhook workers' writes — claims and
// delivery outcomes (with the change they make to the request) — on a DB of
// their own, deliveries: so that they never queue for a
// connection behind API requests, nor these behind them, and so that the
// database may commit them differently (PostgreSQL: without waiting for the
// WAL flush; a lost outcome is delivered again, see store/postgres).
func OpenWithDeliveries(ctx context.Context, db, deliveries DB, d *Dialect) (*Store, error) {
	s := &Store{db: db, deliveries: deliveries, d: d}
	s.lockApproval = selectApproval + s.lock("UPDATE")
	return s, s.backfillIndex(ctx)
}

// Migrate applies the migrations in the folder migrations of fsys that db
// lacks, with the provider Migrator returns. It returns an ErrSchemaNewer
// error, naming both versions, when db's schema is newer than the
// migrations of fsys (goose itself would accept it).
func Migrate(ctx context.Context, db *sql.DB, dialect goose.Dialect, fsys fs.FS, opts ...goose.ProviderOption) error {
	p, err := Migrator(db, dialect, fsys, opts...)
	if err != nil {
		return err
	}
	applied, err := p.Up(ctx)
	if err != nil {
		return err
	}
	if len(applied) > 0 {
		go dropParseBuffers() // not on the start-up path: it takes 5–15 ms on a busy machine
		return nil
	}
	// Nothing to apply: the schema is up to date, or newer than fsys knows.
	current, latest, err := p.GetVersions(ctx)
	if err != nil {
		return err
	}
	return checkNotNewer(current, latest)
}

// Migrator returns goose's provider of the migrations in the folder
// migrations of fsys, and of no others, with opts.
func Migrator(db *sql.DB, dialect goose.Dialect, fsys fs.FS, opts ...goose.ProviderOption) (*goose.Provider, error) {
	sub, err := fs.Sub(fsys, "migrations")
	if err != nil {
		return nil, err
	}
	return goose.NewProvider(dialect, db, sub,
		append([]goose.ProviderOption{goose.WithDisableGlobalRegistry(true), goose.WithVerbose(false)}, opts...)...)
}

// dropParseBuffers frees the 4 MiB scan buffers goose parsed the
// migrations with: a sync.Pool keeps them through one collection (as
// victims) and they go with the second. Until then they count as live heap
// (first heap goals of 25–35 MB instead of 4), and a server that starts on
// a new or upgraded database lets that much garbage become resident.
func dropParseBuffers() {
	runtime.GC()
	runtime.GC()
}

// Limit returns limit, or the default page size, 50, when it is not positive.
func Limit(limit int) int {
	if limit <= 0 {
		return 50
	}
	return limit
}

// Query is the arguments and the conditions (joined by AND) of a statement
// as it is built.
type Query struct {
	Args  []any
	Conds []string
}

// Add appends the argument v and returns its parameter ($n).
func (q *Query) Add(v any) string {
	q.Args = append(q.Args, v)
	return "$" + strconv.Itoa(len(q.Args))
}

// Cond adds, when ok, the condition cond, which ends in an operator, on v.
func (q *Query) Cond(ok bool, cond string, v any) {
	if ok {
		q.Conds = append(q.Conds, cond+" "+q.Add(v))
	}
}

// Where returns " WHERE " and the conditions extra and q's, or "" for none.
func (q *Query) Where(extra ...string) string {
	if conds := append(extra, q.Conds...); len(conds) > 0 {
		return " WHERE " + strings.Join(conds, " AND ")
	}
	return ""
}

// params returns the parameters $1 to $n, a list.
func params(n int) string {
	p := make([]string, n)
	for i := range p {
		p[i] = "$" + strconv.Itoa(i+1)
	}
	return strings.Join(p, ", ")
}

// assign returns the assignments of the parameters $1… to columns, a list
// ("a = $1, b = $2"): the form SQLite prepares fastest, where (a, b) = (…)
// costs it more.
func assign(columns string) string {
	cols := strings.Split(columns, ",")
	for i, c := range cols {
		cols[i] = strings.TrimSpace(c) + " = $" + strconv.Itoa(i+1)
	}
	return strings.Join(cols, ", ")
}

// errRollback, returned by a write function, ends its transaction without
// writing anything; write then returns nil.
var errRollback = errors.New("sqlstore: roll back")

// write runs fn in a write transaction (see DB.Write).
func (s *Store) write(ctx context.Context, op string, fn func(Tx) error) error {
	return writeOn(ctx, s.db, op, fn)
}

// writeOn runs fn in a write transaction of db.
func writeOn(ctx context.Context, db DB, op string, fn func(Tx) error) error {
	if err := db.Write(ctx, op, fn); !errors.Is(err, errRollback) {
		return err
	}
	return nil
}

// change runs fn like write and, when it commits, wakes the readers of
// Changes. Writes that only lease or mark outbox rows use write: they make
// no work for anyone, and a worker woken by its own claim would claim again
// for nothing.
func (s *Store) change(ctx context.Context, op string, fn func(Tx) error) error {
	err := s.write(ctx, op, fn)
	if err == nil {
		s.db.Changed()
	}
	return err
}

// exec runs a statement in a write transaction and returns how many rows it
// changed.
func (s *Store) exec(ctx context.Context, op, query string, args ...any) (n int64, err error) {
	err = s.write(ctx, op, func(tx Tx) (err error) {
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

// found returns err, of op reading one what: KindNotFound for no row, as
// fail does otherwise.
func (s *Store) found(op, what string, err error) error {
	if noRows(err) {
		return approval.NotFound(what)
	}
	return s.fail(op, err)
}

// Signal puts a value on ch unless one is waiting there.
func Signal(ch chan<- struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// noRows reports whether err says that there was no row (pgx's ErrNoRows
// is database/sql's too).
func noRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }

func (s *Store) validID(id string) bool { return s.d.ValidID == nil || s.d.ValidID(id) }

func (s *Store) unique(err error, constraint string) bool {
	return err != nil && s.d.UniqueViolation != nil && s.d.UniqueViolation(err, constraint)
}

// lock returns the locking clause " FOR "+mode where the dialect locks rows.
func (s *Store) lock(mode string) string {
	if !s.d.RowLocks {
		return ""
	}
	return " FOR " + mode
}

// queryAll runs query through q and returns every row as read by scan.
func queryAll[T any](ctx context.Context, s *Store, q Querier, op string, scan func(Row, *T) error, query string, args ...any) ([]T, error) {
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return nil, s.fail(op, err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		var v T
		if err := scan(rows, &v); err != nil {
			return nil, s.fail(op, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail(op, err)
	}
	return out, nil
}

func scanString(row Row, v *string) error { return row.Scan(v) }

// Span starts the span, named name, of the write transaction op in the
// trace that ctx carries, and returns the function that ends it, marked
// failed by a non-nil error. Outside any trace (background polling) it
// makes none, so that an idle server emits no traces.
func Span(ctx context.Context, tracer trace.Tracer, name, op string) (context.Context, func(error)) {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return ctx, func(error) {}
	}
	ctx, span := tracer.Start(ctx, name, trace.WithAttributes(attribute.String("db.operation", op)))
	return ctx, func(err error) {
		if err != nil {
			span.SetStatus(codes.Error, err.Error())
		}
		span.End()
	}
}
