package sqlstore

import (
	"context"
	"fmt"
	"time"

	"approvald/approval"
)

// History implements [approval.Requests.History]: no entry means no
// request (every request has its creation entry).
func (s *Store) History(ctx context.Context, id string) ([]approval.HistoryEntry, error) {
	if !s.validID(id) {
		return nil, approval.NotFound("approval request")
	}
	out, err := queryAll(ctx, s, s.db, "history", func(row Row, e *approval.HistoryEntry) error { return s.scanEntry(row, e) },
		"SELECT "+entryColumns+" FROM history WHERE request_id = $1 ORDER BY seq", id)
	if err == nil && len(out) == 0 {
		return nil, approval.NotFound("approval request")
	}
	return out, err
}

// entryColumns are the columns of history that scanEntry reads.
const entryColumns = "request_id, seq, actor, action, changes, at, prev_hash, hash"

// scanEntry reads the entryColumns of row into e, after the columns more.
func (s *Store) scanEntry(row Row, e *approval.HistoryEntry, more ...any) error {
	var action, changes string
	err := row.Scan(append(more, &e.RequestID, &e.Seq, &e.Actor, &action, &changes, s.d.Time(&e.At), &e.PrevHash, &e.Hash)...)
	e.Action = approval.Action(action)
	e.Changes = []byte(changes)
	return err
}

// ListHistory implements [approval.Requests.ListHistory]: a walk of the
// primary key, a range of history_actor (an actor's) or of the (request_id,
// seq) index (a request's). With one writer, entries commit in id order.
// Where transactions commit concurrently (PostgreSQL), a reader following a
// cursor close behind the newest entries may pass one; further back every
// entry is there (each change commits in one short transaction).
func (s *Store) ListHistory(ctx context.Context, f approval.HistoryFilter) ([]approval.HistoryRecord, error) {
	if f.RequestID != "" && !s.validID(f.RequestID) {
		return nil, nil // not the id of anything
	}
	query, args := s.d.HistoryQuery(f)
	return queryAll(ctx, s, s.db, "list history", func(row Row, r *approval.HistoryRecord) error {
		return s.scanEntry(row, &r.HistoryEntry, &r.ID)
	}, query, args...)
}

// HistoryQuery returns the statement of ListHistory for f, with its
// arguments.
func (d *Dialect) HistoryQuery(f approval.HistoryFilter) (string, []any) {
	var q Query
	// A request has few entries: read them from its range of the
	// (request_id, seq) index, whatever else the filter names. SQLite,
	// without statistics, would rather read an actor's range of
	// history_actor, which may be long.
	actor := "actor ="
	if f.RequestID != "" {
		actor = d.NoIndex + actor
	}
	q.Cond(f.RequestID != "", "request_id =", f.RequestID)
	q.Cond(f.Actor != "", actor, f.Actor)
	q.Cond(f.Action != "", "action =", string(f.Action))
	q.Cond(!f.Since.IsZero(), "at >=", f.Since)
	q.Cond(!f.Until.IsZero(), "at <", f.Until)
	q.Cond(f.After > 0, "id >", f.After)
	limit := q.Add(Limit(f.Limit))
	return "SELECT id, " + entryColumns + " FROM history" + q.Where() + " ORDER BY id LIMIT " + limit, q.Args
}

// HistoryChains implements [approval.Requests.HistoryChains] in one
// statement, so that a request's head and entries agree. A cursor f.After
// that cannot be an id is an internal *approval.Error.
func (s *Store) HistoryChains(ctx context.Context, f approval.ChainFilter) ([]approval.HistoryChain, error) {
	switch {
	case f.RequestID != "" && !s.validID(f.RequestID):
		return nil, nil // not the id of anything
	case f.RequestID == "" && f.After != "" && !s.validID(f.After):
		return nil, s.fail("history chains", fmt.Errorf("cursor %q is not a canonical UUID", f.After))
	}
	// A row is a request and one of its entries, or NULLs when it has none.
	type row struct {
		approval.HistoryChain
		seq                                    *int64
		at                                     *time.Time
		actor, action, changes, prevHash, hash *string
	}
	query, args := s.d.Chains(f)
	rows, err := queryAll(ctx, s, s.db, "history chains", func(r Row, v *row) error {
		return r.Scan(&v.RequestID, &v.Version, &v.Head, &v.seq, &v.actor, &v.action, &v.changes, s.d.NullTime(&v.at), &v.prevHash, &v.hash)
	}, query, args...)
	var out []approval.HistoryChain
	for _, v := range rows {
		if n := len(out); n == 0 || out[n-1].RequestID != v.RequestID {
			out = append(out, v.HistoryChain)
		}
		if last := &out[len(out)-1]; v.seq != nil {
			last.Entries = append(last.Entries, approval.HistoryEntry{
				RequestID: v.RequestID, Seq: *v.seq, Actor: *v.actor, Action: approval.Action(*v.action),
				Changes: []byte(*v.changes), At: *v.at, PrevHash: *v.prevHash, Hash: *v.hash,
			})
		}
	}
	return out, err
}
