package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"approvald/store/sqlstore"
)

// conn is the reader pool or a write transaction as sqlstore reads and
// writes through it.
type conn struct {
	q interface {
		QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
		QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
		ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	}
}

func (c conn) Query(ctx context.Context, sql string, args ...any) (sqlstore.Rows, error) {
	r, err := c.q.QueryContext(ctx, positional(sql), args...)
	if err != nil {
		return nil, err
	}
	return rows{r}, nil
}

func (c conn) QueryRow(ctx context.Context, sql string, args ...any) sqlstore.Row {
	return c.q.QueryRowContext(ctx, positional(sql), args...)
}

func (c conn) Exec(ctx context.Context, sql string, args ...any) (int64, error) {
	res, err := c.q.ExecContext(ctx, positional(sql), args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// Batch runs stmts one by one.
func (c conn) Batch(ctx context.Context, stmts []sqlstore.Stmt) ([]int64, error) {
	n := make([]int64, len(stmts))
	for i, st := range stmts {
		var err error
		if st.Dest != nil {
			n[i], err = 1, c.QueryRow(ctx, st.SQL, st.Args...).Scan(st.Dest...)
		} else {
			n[i], err = c.Exec(ctx, st.SQL, st.Args...)
		}
		if err != nil {
			return nil, err
		}
	}
	return n, nil
}

// rows are *sql.Rows as sqlstore reads them.
type rows struct{ *sql.Rows }

func (r rows) Close() { r.Rows.Close() }

// database is the Store as sqlstore's DB: reads on the read-only
// connections, writes in transactions of the one writer connection.
type database struct {
	conn
	s *Store
}

func (d database) Write(ctx context.Context, op string, fn func(sqlstore.Tx) error) error {
	return d.s.write(ctx, op, func(tx *sql.Tx) error { return fn(conn{tx}) })
}

func (d database) WriteBatch(ctx context.Context, op string, stmts []sqlstore.Stmt) (n []int64, err error) {
	err = d.Write(ctx, op, func(tx sqlstore.Tx) (err error) {
		if n, err = tx.Batch(ctx, stmts); err != nil {
			return internal(op, err)
		}
		return nil
	})
	return n, err
}

func (d database) Changed() { sqlstore.Signal(d.s.changes) }

// indexChunk is the most index rows one INSERT writes.
const indexChunk = 400

// indexInsert appends the inserts of the rows of request id into an index
// table, as VALUES lists of up to indexChunk rows: SQLite prepares them for
// less than a SELECT from json_each.
func indexInsert(stmts []sqlstore.Stmt, table, column, _, id string, values []string) []sqlstore.Stmt {
	for chunk := range slices.Chunk(values, indexChunk) {
		args := make([]any, 0, 2*len(chunk))
		for _, v := range chunk {
			args = append(args, id, v)
		}
		stmts = append(stmts, sqlstore.Stmt{Args: args, SQL: "INSERT INTO " + table + " (request_id, " + column + ") VALUES " +
			strings.TrimSuffix(strings.Repeat("(?, ?), ", len(chunk)), ", ")})
	}
	return stmts
}

// positional returns query with its parameters, when they are $1 to $n
// each once and in order, as ?s, else as it is. SQLite binds ?s by
// position; numbered parameters it looks up by name as it parses, and
// modernc.org/sqlite asks each one's name as it binds. The first
// positionalsMax statements seen are remembered.
func positional(query string) string {
	if q, ok := positionals.Load(query); ok {
		return q.(string)
	}
	var b strings.Builder
	next := 1
	for i := 0; i < len(query); i++ {
		if query[i] != '$' {
			b.WriteByte(query[i])
			continue
		}
		j := i + 1
		for j < len(query) && '0' <= query[j] && query[j] <= '9' {
			j++
		}
		if query[i+1:j] != strconv.Itoa(next) {
			return query
		}
		b.WriteByte('?')
		next, i = next+1, j-1
	}
	if positionalsSeen.Add(1) <= positionalsMax {
		positionals.Store(query, b.String())
	}
	return b.String()
}

var (
	positionals     sync.Map // query → its positional form
	positionalsSeen atomic.Int64
)

// positionalsMax bounds the statements positional remembers; the stores'
// statements are a few hundred.
const positionalsMax = 4096

// microsDest and nullMicrosDest are scan destinations that read a time
// stored as unix microseconds, in UTC.
type (
	microsDest     struct{ p *time.Time }
	nullMicrosDest struct{ p **time.Time }
)

func (m microsDest) Scan(src any) error {
	v, ok := src.(int64)
	if !ok {
		return fmt.Errorf("a time stored as %T", src)
	}
	*m.p = time.UnixMicro(v).UTC()
	return nil
}

func (m nullMicrosDest) Scan(src any) error {
	if *m.p = nil; src == nil {
		return nil
	}
	*m.p = new(time.Time)
	return microsDest{*m.p}.Scan(src)
}

// dialect is what SQLite does its own way. Times go to the driver as
// time.Time, which it stores as unix microseconds (_time_integer_format).
var dialect = &sqlstore.Dialect{
	Error:    internal,
	NoIndex:  "+",
	Time:     func(p *time.Time) any { return microsDest{p} },
	NullTime: func(p **time.Time) any { return nullMicrosDest{p} },
	Array: func(list any) any {
		b, _ := json.Marshal(list) // lists of strings and numbers always encode
		return string(b)
	},
	In:                 func(column, param string) string { return column + " IN (SELECT value FROM json_each(" + param + "))" },
	IndexInsert:        indexInsert,
	ListApprovals:      listQuery,
	Inbox:              inbox,
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

// PoolStats returns the statistics of the writer and the reader pools.
func (s *Store) PoolStats() map[string]sql.DBStats {
	return map[string]sql.DBStats{"writer": s.writer.Stats(), "reader": s.reader.Stats()}
}
