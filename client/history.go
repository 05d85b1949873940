package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"approvald/approval"
)

// VerifyChain checks that entries are the whole, unaltered history of one
// request from its creation: sequence numbers 1..n without gaps, each entry
// chained to the one before, every hash matching its contents. It returns
// an error naming the first entry that fails. It uses the same code as the
// server, so both agree on what a valid chain is.
func VerifyChain(entries []HistoryEntry) error {
	chain := make([]approval.HistoryEntry, len(entries))
	for i, e := range entries {
		chain[i] = approval.HistoryEntry{
			RequestID: e.RequestID, Seq: e.Seq, Actor: e.Actor, Action: approval.Action(e.Action),
			Changes: e.Changes, At: e.At, PrevHash: e.PrevHash, Hash: e.Hash,
		}
	}
	return approval.VerifyChain(chain)
}

// ErrNoHistory is returned by [Client.VerifyHistoryLocally] for a history
// without entries.
var ErrNoHistory = errors.New("the history has no entries")

// VerifyHistoryLocally reads the request and its history and checks the
// hash chain here, not trusting the server's verdict: it returns the
// history and nil when the chain is whole and unaltered from the creation
// on and reaches the request's current version; otherwise the history and
// an error naming the first entry that fails. Keep the last entry's hash
// elsewhere, and a later check shows that the history up to it has not
// changed. [Client.VerifyHistory] asks the server instead, which also
// compares the chain with the hash the request records as its latest.
func (c *Client) VerifyHistoryLocally(ctx context.Context, id string) (*HistoryPage, error) {
	// The request first: the history, read after, holds at least its version.
	req, err := c.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	h, err := c.History(ctx, id)
	if err != nil {
		return nil, err
	}
	if len(h.Items) == 0 {
		return h, ErrNoHistory
	}
	if err := VerifyChain(h.Items); err != nil {
		return h, err
	}
	if h.Items[0].RequestID != id {
		return h, fmt.Errorf("the history is of request %s, not %s", h.Items[0].RequestID, id)
	}
	if n := int64(len(h.Items)); n < req.Version {
		return h, fmt.Errorf("the history ends at entry %d but the request is at version %d: entries are missing", n, req.Version)
	}
	return h, nil
}

// HistoryFilter selects entries of the history of every request; the
// filters combine with AND, and the zero value selects everything.
type HistoryFilter struct {
	// Actor keeps the entries made by this principal, such as svc:billing.
	Actor string
	// Action keeps the entries of this action, such as "approve".
	Action string
	// RequestID keeps the entries of this request.
	RequestID string
	// Since keeps the entries at or after it, Until those before it; the
	// zero time leaves that end open.
	Since, Until time.Time
	// Limit is the page size, 1 to 200 (default 50).
	Limit int
	// Cursor is the NextCursor of the previous page.
	Cursor string
}

func (f HistoryFilter) query() url.Values {
	q := url.Values{}
	set := func(k, v string) {
		if v != "" {
			q.Set(k, v)
		}
	}
	set("actor", f.Actor)
	set("action", f.Action)
	set("request_id", f.RequestID)
	if !f.Since.IsZero() {
		q.Set("since", f.Since.UTC().Format(time.RFC3339Nano))
	}
	if !f.Until.IsZero() {
		q.Set("until", f.Until.UTC().Format(time.RFC3339Nano))
	}
	if f.Limit > 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	set("cursor", f.Cursor)
	return q
}

// HistoryEntryPage is one page of the history of every request, oldest
// first. NextCursor is empty on the last page.
type HistoryEntryPage struct {
	Items      []HistoryEntry `json:"items"`
	NextCursor string         `json:"next_cursor"`
}

// ListHistory returns one page of the history entries of every request
// matching f, oldest first: what an auditor exports (the audit or admin
// scope). Each entry is as [Client.History] shows it. Entries made in the
// last few seconds may still appear behind a cursor: changes made at the
// same moment can become visible out of order. A refusal is an [*Error]:
// [CodeMissingScope] without the audit or admin scope,
// [CodeValidationFailed] naming an invalid filter or cursor.
func (c *Client) ListHistory(ctx context.Context, f HistoryFilter, opts ...CallOption) (*HistoryEntryPage, error) {
	return fetch[HistoryEntryPage](ctx, c, &call{method: http.MethodGet, path: "/v1/history", query: f.query(), opts: opts})
}

// ListHistoryAll walks every page of the history from f.Cursor on,
// yielding each entry, oldest first; it stops at the first error, which it
// yields.
func (c *Client) ListHistoryAll(ctx context.Context, f HistoryFilter) iter.Seq2[*HistoryEntry, error] {
	return func(yield func(*HistoryEntry, error) bool) {
		for {
			page, err := c.ListHistory(ctx, f)
			if err != nil {
				yield(nil, err)
				return
			}
			for i := range page.Items {
				if !yield(&page.Items[i], nil) {
					return
				}
			}
			if page.NextCursor == "" {
				return
			}
			f.Cursor = page.NextCursor
		}
	}
}

// HistoryVerification is what the server found checking history chains.
type HistoryVerification struct {
	// Verified is true when every chain checked out.
	Verified bool `json:"verified"`
	// Requests and Entries count what was checked.
	Requests int64 `json:"requests"`
	Entries  int64 `json:"entries"`
	// Failures are the first 100 requests whose chain does not check out,
	// by id; FailuresTotal counts them all.
	Failures      []HistoryFailure `json:"failures"`
	FailuresTotal int64            `json:"failures_total"`

	raw json.RawMessage
}

// HistoryFailure is a request whose history does not check out, and why.
type HistoryFailure struct {
	RequestID string `json:"request_id"`
	Error     string `json:"error"`
}

// UnmarshalJSON decodes v and keeps the JSON it came from for [HistoryVerification.Raw].
func (v *HistoryVerification) UnmarshalJSON(b []byte) error {
	type plain HistoryVerification
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	*v = HistoryVerification(p)
	v.raw = append(json.RawMessage(nil), b...)
	return nil
}

// Raw returns the JSON the server sent for v, or nil.
func (v *HistoryVerification) Raw() json.RawMessage { return v.raw }

// MaxVerifyTime is how much longer than an ordinary call (see
// [WithTimeout]) [Client.VerifyHistory] waits for the server's answer.
const MaxVerifyTime = 10 * time.Minute

// VerifyHistory asks the server to check the history of every request, or
// of requestID alone when it is not "" (the audit or admin scope): every
// entry intact and chained to the one before, and the last one the
// request's current version with the hash the request records as its
// latest, so deleted newest entries show too. A history that does not
// check out is not an error: Verified is false and Failures say why. The
// server reads every entry, which takes a while on a large database; the
// call waits up to [MaxVerifyTime] longer than an ordinary one, and ends
// the check when ctx ends. It returns an [*Error] with [CodeNotFound] for
// a requestID that is not a request.
func (c *Client) VerifyHistory(ctx context.Context, requestID string, opts ...CallOption) (*HistoryVerification, error) {
	q := url.Values{}
	if requestID != "" {
		q.Set("request_id", requestID)
	}
	out, err := fetch[HistoryVerification](ctx, c, &call{method: http.MethodGet, path: "/v1/history/verify", query: q, extra: MaxVerifyTime, opts: opts})
	if err != nil {
		return nil, err
	}
	if out.Failures == nil {
		out.Failures = []HistoryFailure{}
	}
	return out, nil
}
