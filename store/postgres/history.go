package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"approvald/approval"
)

// historyColumns are the columns of history in the order scanRecord reads them.
const historyColumns = `id, request_id, seq, actor, action, changes, at, prev_hash, hash`

// ListHistory returns up to f.Limit (by default 50) history entries of any
// request matching f, in id order, with ids above f.After. The list walks
// the primary key; an actor's entries are a range of history_actor, a
// request's a range of history_request_seq.
//
// Ids come from an identity sequence when the entry is written, and
// transactions commit in any order, so an entry may become visible after
// entries with higher ids: a reader following a cursor close behind the
// newest entries may pass one. Each change commits in one short
// transaction, so further back every entry is there. It returns an
// internal *approval.Error when the database fails.
func (s *Store) ListHistory(ctx context.Context, f approval.HistoryFilter) ([]approval.HistoryRecord, error) {
	if f.RequestID != "" && !validID(f.RequestID) {
		return nil, nil // not the id of anything
	}
	query, args := historyQuery(f)
	return queryAll(ctx, s.pool, "list history", scanRecord, query, args...)
}

// historyQuery returns the query of ListHistory for f, with its arguments.
func historyQuery(f approval.HistoryFilter) (string, []any) {
	var where []string
	var args []any
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, cond+" $"+strconv.Itoa(len(args)))
	}
	if f.Actor != "" {
		add("actor =", f.Actor)
	}
	if f.Action != "" {
		add("action =", string(f.Action))
	}
	if f.RequestID != "" {
		add("request_id =", f.RequestID)
	}
	if !f.Since.IsZero() {
		add("at >=", f.Since)
	}
	if !f.Until.IsZero() {
		add("at <", f.Until)
	}
	if f.After > 0 {
		add("id >", f.After)
	}
	query := "SELECT " + historyColumns + " FROM history"
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	args = append(args, limitOr(f.Limit, defaultListLimit))
	return query + " ORDER BY id LIMIT $" + strconv.Itoa(len(args)), args
}

// scanRecord reads one row of historyColumns.
func scanRecord(row scanner) (approval.HistoryRecord, error) {
	var (
		r               approval.HistoryRecord
		action, changes string
	)
	err := row.Scan(&r.ID, &r.RequestID, &r.Seq, &r.Actor, &action, &changes, &r.At, &r.PrevHash, &r.Hash)
	r.Action = approval.Action(action)
	r.Changes = []byte(changes)
	r.At = r.At.UTC()
	return r, err
}

// chainsQuery reads the requests of a batch, by id, each joined to its
// entries in order: a walk of the primary key of approvals and, per
// request, a range of history_request_seq. The LATERAL subquery keeps it a
// nested loop: a merge join would read history_request_seq from its start
// for every batch. One statement reads one snapshot, so a request's head
// and its entries agree. A request without entries is one row of NULLs
// (the LEFT JOIN). %s is the condition on the requests' ids.
const chainsQuery = `
	SELECT a.id, a.version, a.history_head,
		h.seq, h.actor, h.action, h.changes, h.at, h.prev_hash, h.hash
	FROM (SELECT id, version, history_head FROM approvals %s ORDER BY id LIMIT $1) AS a
	LEFT JOIN LATERAL (
		SELECT seq, actor, action, changes, at, prev_hash, hash
		FROM history WHERE request_id = a.id ORDER BY seq
	) AS h ON true
	ORDER BY a.id, h.seq`

// chainsStatement returns the statement of HistoryChains for f, with its
// arguments.
func chainsStatement(f approval.ChainFilter) (string, []any) {
	args := []any{limitOr(f.Limit, defaultListLimit)}
	cond := ""
	switch {
	case f.RequestID != "":
		cond, args = "WHERE id = $2", append(args, f.RequestID)
	case f.After != "":
		cond, args = "WHERE id > $2", append(args, f.After)
	}
	return fmt.Sprintf(chainsQuery, cond), args
}

// HistoryChains returns the history chains of up to f.Limit (by default 50)
// requests with ids above f.After, or of f.RequestID alone, by id: each
// request's version and history head and its entries in order, read in one
// statement. It returns an internal *approval.Error when f.After is not a
// canonical id or the database fails.
func (s *Store) HistoryChains(ctx context.Context, f approval.ChainFilter) ([]approval.HistoryChain, error) {
	switch {
	case f.RequestID != "" && !validID(f.RequestID):
		return nil, nil // not the id of anything
	case f.RequestID == "" && f.After != "" && !validID(f.After):
		return nil, internal("history chains", fmt.Errorf("cursor %q is not a canonical UUID", f.After))
	}
	query, args := chainsStatement(f)
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, internal("history chains", err)
	}
	defer rows.Close()
	var out []approval.HistoryChain
	for rows.Next() {
		var (
			c                                      approval.HistoryChain
			seq                                    *int64
			at                                     *time.Time
			actor, action, changes, prevHash, hash *string
		)
		if err := rows.Scan(&c.RequestID, &c.Version, &c.Head, &seq, &actor, &action, &changes, &at, &prevHash, &hash); err != nil {
			return nil, internal("history chains", err)
		}
		if n := len(out); n == 0 || out[n-1].RequestID != c.RequestID {
			out = append(out, c)
		}
		if seq == nil {
			continue // no entries
		}
		last := &out[len(out)-1]
		last.Entries = append(last.Entries, approval.HistoryEntry{
			RequestID: c.RequestID, Seq: *seq, Actor: *actor, Action: approval.Action(*action),
			Changes: []byte(*changes), At: at.UTC(), PrevHash: *prevHash, Hash: *hash,
		})
	}
	if err := rows.Err(); err != nil {
		return nil, internal("history chains", err)
	}
	return out, nil
}
