package postgres

import (
	"context"
	"database/sql"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"approvald/store/sqlstore"
)

// database is the Store as sqlstore runs on it: reads on the pool, retried
// READ COMMITTED write transactions, pipelined batches.
type database Store

func (d *database) Query(ctx context.Context, sql string, args ...any) (sqlstore.Rows, error) {
	return d.pool.Query(ctx, sql, args...)
}

func (d *database) QueryRow(ctx context.Context, sql string, args ...any) sqlstore.Row {
	return d.pool.QueryRow(ctx, sql, args...)
}

func (d *database) Write(ctx context.Context, op string, fn func(sqlstore.Tx) error) error {
	return (*Store)(d).write(ctx, op, func(t pgx.Tx) error { return fn(tx{t}) })
}

// Batch sends stmts in one round trip: a pipelined batch runs as one
// implicit transaction.
func (d *database) Batch(ctx context.Context, op string, stmts []sqlstore.Stmt) ([]int64, error) {
	n, err := sendBatch(ctx, d.pool, stmts)
	if err != nil {
		return nil, internal(op, err)
	}
	return n, nil
}

func (d *database) Changed() { (*Store)(d).changed() }

// tx is a transaction as sqlstore writes in it.
type tx struct{ pgx.Tx }

func (t tx) Query(ctx context.Context, sql string, args ...any) (sqlstore.Rows, error) {
	return t.Tx.Query(ctx, sql, args...)
}

func (t tx) QueryRow(ctx context.Context, sql string, args ...any) sqlstore.Row {
	return t.Tx.QueryRow(ctx, sql, args...)
}

func (t tx) Exec(ctx context.Context, sql string, args ...any) (int64, error) {
	tag, err := t.Tx.Exec(ctx, sql, args...)
	return tag.RowsAffected(), err
}

func (t tx) Batch(ctx context.Context, stmts []sqlstore.Stmt) ([]int64, error) {
	return sendBatch(ctx, t.Tx, stmts)
}

// sendBatch sends stmts in one round trip and reads their results in order,
// stopping at the first error.
func sendBatch(ctx context.Context, q interface {
	SendBatch(context.Context, *pgx.Batch) pgx.BatchResults
}, stmts []sqlstore.Stmt) (n []int64, err error) {
	b := &pgx.Batch{}
	for _, st := range stmts {
		b.Queue(st.SQL, st.Args...)
	}
	br := q.SendBatch(ctx, b)
	defer func() {
		if cerr := br.Close(); err == nil && cerr != nil {
			n, err = nil, cerr
		}
	}()
	n = make([]int64, len(stmts))
	for i, st := range stmts {
		if st.Dest != nil {
			if err := br.QueryRow().Scan(st.Dest...); err != nil {
				return nil, err
			}
			n[i] = 1
			continue
		}
		tag, err := br.Exec()
		if err != nil {
			return nil, err
		}
		n[i] = tag.RowsAffected()
	}
	return n, nil
}

// utcDest and nullUTCDest are scan destinations that read a timestamptz in UTC:
// pgx reads them in the local time zone, the stores return UTC.
type (
	utcDest     struct{ p *time.Time }
	nullUTCDest struct{ p **time.Time }
)

func (u utcDest) ScanTimestamptz(v pgtype.Timestamptz) error {
	*u.p = v.Time.UTC()
	return nil
}

func (u nullUTCDest) ScanTimestamptz(v pgtype.Timestamptz) error {
	*u.p = nil
	if v.Valid {
		t := v.Time.UTC()
		*u.p = &t
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
	Time:            func(p *time.Time) any { return utcDest{p} },
	NullTime:        func(p **time.Time) any { return nullUTCDest{p} },
	Array:           func(list any) any { return list },
	In:              func(column, param string) string { return column + " = ANY (" + param + ")" },
	IndexInsert: func(table, column, typ string) string {
		return "INSERT INTO " + table + " (request_id, " + column + ") SELECT $1::uuid, unnest($2::text[])::" + typ
	},
	ListApprovals: listQuery,
	Inbox: func(keys []string, after, principal string, limit int) (string, []any) {
		return inboxQuery, []any{keys, after, principal, limit}
	},
	Chains:           chainsStatement,
	Overdue:          overdueQuery,
	Reminders:        remindersQuery,
	Unresolved:       unresolvedQuery,
	LatestOutboxSeq:  latestOutboxSeqQuery,
	ClaimDeliveries:  claimDeliveriesQuery,
	ClaimUnpublished: claimUnpublishedQuery,
}

// PoolStats returns the connection pool's statistics in database/sql's
// terms, so that one collector reads both stores.
func (s *Store) PoolStats() map[string]sql.DBStats {
	st := s.pool.Stat()
	return map[string]sql.DBStats{"pool": {
		MaxOpenConnections: int(st.MaxConns()),
		OpenConnections:    int(st.TotalConns()),
		InUse:              int(st.AcquiredConns()),
		Idle:               int(st.IdleConns()),
		WaitCount:          st.EmptyAcquireCount(),
		WaitDuration:       st.EmptyAcquireWaitTime(),
	}}
}
