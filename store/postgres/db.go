package postgres

import (
	"context"
	"database/sql"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"approvald/store/sqlstore"
)

// conn is the pool or a transaction as sqlstore reads and writes through it.
type conn struct {
	q interface {
		Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
		QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
		Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
		SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
	}
}

func (c conn) Query(ctx context.Context, sql string, args ...any) (sqlstore.Rows, error) {
	return c.q.Query(ctx, sql, args...)
}

func (c conn) QueryRow(ctx context.Context, sql string, args ...any) sqlstore.Row {
	return c.q.QueryRow(ctx, sql, args...)
}

func (c conn) Exec(ctx context.Context, sql string, args ...any) (int64, error) {
	tag, err := c.q.Exec(ctx, sql, args...)
	return tag.RowsAffected(), err
}

// Batch sends stmts in one round trip (on the pool, a pipelined batch runs
// as one implicit transaction) and reads their results in order.
func (c conn) Batch(ctx context.Context, stmts []sqlstore.Stmt) (n []int64, err error) {
	b := &pgx.Batch{}
	for _, st := range stmts {
		b.Queue(st.SQL, st.Args...)
	}
	br := c.q.SendBatch(ctx, b)
	defer func() {
		if cerr := br.Close(); err == nil && cerr != nil {
			n, err = nil, cerr
		}
	}()
	n = make([]int64, len(stmts))
	for i, st := range stmts {
		if st.Dest != nil {
			n[i], err = 1, br.QueryRow().Scan(st.Dest...)
		} else {
			var tag pgconn.CommandTag
			tag, err = br.Exec()
			n[i] = tag.RowsAffected()
		}
		if err != nil {
			return nil, err
		}
	}
	return n, nil
}

// database is the Store as sqlstore's DB: reads on the pool, retried READ
// COMMITTED write transactions, pipelined batches.
type database struct {
	conn
	s    *Store
	pool *pgxpool.Pool // the pool conn reads, and Write writes, on
	tx   pgx.TxOptions // how Write begins its transactions
}

func (d database) Write(ctx context.Context, op string, fn func(sqlstore.Tx) error) error {
	return d.s.writeOn(ctx, d.pool, d.tx, op, func(tx pgx.Tx) error { return fn(conn{tx}) })
}

func (d database) WriteBatch(ctx context.Context, _ string, stmts []sqlstore.Stmt) ([]int64, error) {
	return d.Batch(ctx, stmts)
}

func (d database) Changed() { d.s.changed() }

// utc and nullUTC are scan destinations that read a timestamptz in UTC:
// pgx reads them in the local time zone, the stores return UTC.
type (
	utc     struct{ p *time.Time }
	nullUTC struct{ p **time.Time }
)

func (u utc) ScanTimestamptz(v pgtype.Timestamptz) error {
	*u.p = v.Time.UTC()
	return nil
}

func (u nullUTC) ScanTimestamptz(v pgtype.Timestamptz) error {
	*u.p = nil
	if v.Valid {
		*u.p = new(v.Time.UTC())
	}
	return nil
}

// dialect is what PostgreSQL does its own way.
var dialect = &sqlstore.Dialect{
	Error:           internal,
	UniqueViolation: isUniqueViolation,
	ValidID:         validID,
	MinID:           "00000000-0000-0000-0000-000000000000",
	RowLocks:        true,
	Time:            func(p *time.Time) any { return utc{p} },
	NullTime:        func(p **time.Time) any { return nullUTC{p} },
	Array:           func(list any) any { return list },
	In:              func(column, param string) string { return column + " = ANY (" + param + ")" },
	// One INSERT of an array per table, whatever the number of rows.
	IndexInsert: func(stmts []sqlstore.Stmt, table, column, typ, id string, values []string) []sqlstore.Stmt {
		return append(stmts, sqlstore.Stmt{Args: []any{id, values},
			SQL: "INSERT INTO " + table + " (request_id, " + column + ") SELECT $1::uuid, unnest($2::text[])::" + typ})
	},
	ListApprovals: listQuery,
	Inbox: func(keys []string, after, principal string, limit int) (string, []any) {
		return inboxQuery, []any{keys, after, principal, limit}
	},
	Chains:             chainsStatement,
	Overdue:            overdueQuery,
	Reminders:          remindersQuery,
	Unresolved:         unresolvedQuery,
	LatestOutboxSeq:    latestOutboxSeqQuery,
	ClaimDeliveries:    claimDeliveriesQuery,
	ClaimUnpublished:   claimUnpublishedQuery,
	ClaimUnplanned:     claimUnplannedQuery,
	ClaimNotifications: claimNotificationsQuery,
	Escalations:        escalationsQuery,
}

// PoolStats returns the connection pool's statistics in database/sql's
// terms, so that one collector reads both stores.
func (s *Store) PoolStats() map[string]sql.DBStats {
	stats := func(p *pgxpool.Pool) sql.DBStats {
		st := p.Stat()
		return sql.DBStats{
			MaxOpenConnections: int(st.MaxConns()),
			OpenConnections:    int(st.TotalConns()),
			InUse:              int(st.AcquiredConns()),
			Idle:               int(st.IdleConns()),
			WaitCount:          st.EmptyAcquireCount(),
			WaitDuration:       st.EmptyAcquireWaitTime(),
		}
	}
	return map[string]sql.DBStats{"pool": stats(s.pool), "deliveries": stats(s.deliveries)}
}
