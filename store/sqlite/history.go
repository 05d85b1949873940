package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"approvald/approval"
)

// historyColumns are the columns of history in the order scanRecord reads them.
const historyColumns = `id, request_id, seq, actor, action, changes, at, prev_hash, hash`

// ListHistory returns up to f.Limit (by default 50) history entries of any
// request matching f, in the order they were written (ascending id), with
// ids above f.After. A single writer commits entries in id order, so a
// reader walking forward never passes one that commits later. The list
// walks the primary key; an actor's entries are a range of history_actor,
// a request's a range of its (request_id, seq) index. It returns an
// internal *approval.Error when the database fails.
func (s *Store) ListHistory(ctx context.Context, f approval.HistoryFilter) ([]approval.HistoryRecord, error) {
	query, args := historyQuery(f)
	return queryAll(ctx, s.reader, "list history", scanRecord, query, args...)
}

// historyQuery returns the query of ListHistory for f, with its arguments.
func historyQuery(f approval.HistoryFilter) (string, []any) {
	var where []string
	var args []any
	add := func(cond string, arg any) {
		where = append(where, cond)
		args = append(args, arg)
	}
	// A request has few entries: read them from its range of the
	// (request_id, seq) index, whatever else the filter names. SQLite,
	// without statistics, would rather read an actor's range of
	// history_actor, which may be long; "+" keeps it from using the index.
	plus := ""
	if f.RequestID != "" {
		add("request_id = ?", f.RequestID)
		plus = "+"
	}
	if f.Actor != "" {
		add(plus+"actor = ?", f.Actor)
	}
	if f.Action != "" {
		add("action = ?", string(f.Action))
	}
	if !f.Since.IsZero() {
		add("at >= ?", micros(f.Since))
	}
	if !f.Until.IsZero() {
		add("at < ?", micros(f.Until))
	}
	if f.After > 0 {
		add("id > ?", f.After)
	}
	query := "SELECT " + historyColumns + " FROM history"
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += " ORDER BY id LIMIT ?"
	return query, append(args, limitOr(f.Limit, defaultListLimit))
}

// scanRecord reads one row of historyColumns.
func scanRecord(row scanner) (approval.HistoryRecord, error) {
	var (
		r       approval.HistoryRecord
		changes string
		at      int64
	)
	err := row.Scan(&r.ID, &r.RequestID, &r.Seq, &r.Actor, &r.Action, &changes, &at, &r.PrevHash, &r.Hash)
	r.Changes = []byte(changes)
	r.At = fromMicros(at)
	return r, err
}

// chainsQuery reads the requests of a batch, by id, each joined to its
// entries in order: a walk of the primary key of approvals and, per
// request, a range of the (request_id, seq) index of history. One statement
// reads one snapshot, so a request's head and its entries agree. A request
// without entries is one row of NULLs (the LEFT JOIN). %s is the condition
// on the requests' ids.
const chainsQuery = `
	SELECT a.id, a.version, a.history_head,
		h.seq, h.actor, h.action, h.changes, h.at, h.prev_hash, h.hash
	FROM (SELECT id, version, history_head FROM approvals WHERE %s ORDER BY id LIMIT ?) AS a
	LEFT JOIN history AS h ON h.request_id = a.id
	ORDER BY a.id, h.seq`

// chainsStatement returns the statement of HistoryChains for f, with its
// arguments.
func chainsStatement(f approval.ChainFilter) (string, []any) {
	cond, arg := "id > ?", f.After
	if f.RequestID != "" {
		cond, arg = "id = ?", f.RequestID
	}
	return fmt.Sprintf(chainsQuery, cond), []any{arg, limitOr(f.Limit, defaultListLimit)}
}

// HistoryChains returns the history chains of up to f.Limit (by default 50)
// requests with ids above f.After, or of f.RequestID alone, by id: each
// request's version and history head and its entries in order, read in one
// statement. It returns an internal *approval.Error when the database fails.
func (s *Store) HistoryChains(ctx context.Context, f approval.ChainFilter) ([]approval.HistoryChain, error) {
	query, args := chainsStatement(f)
	rows, err := s.reader.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, internal("history chains", err)
	}
	defer rows.Close()
	var out []approval.HistoryChain
	for rows.Next() {
		var (
			c                                      approval.HistoryChain
			seq, at                                sql.Null[int64]
			actor, action, changes, prevHash, hash sql.Null[string]
		)
		err := rows.Scan(&c.RequestID, &c.Version, &c.Head, &seq, &actor, &action, &changes, &at, &prevHash, &hash)
		if err != nil {
			return nil, internal("history chains", err)
		}
		if n := len(out); n == 0 || out[n-1].RequestID != c.RequestID {
			out = append(out, c)
		}
		if !seq.Valid {
			continue // no entries
		}
		last := &out[len(out)-1]
		last.Entries = append(last.Entries, approval.HistoryEntry{
			RequestID: c.RequestID, Seq: seq.V, Actor: actor.V, Action: approval.Action(action.V),
			Changes: []byte(changes.V), At: fromMicros(at.V), PrevHash: prevHash.V, Hash: hash.V,
		})
	}
	if err := rows.Err(); err != nil {
		return nil, internal("history chains", err)
	}
	return out, nil
}
