// Package calllog is the CR8TOR gateway's call log: what is kept of each call
// of the gateway routes, and the store that keeps it. It is apart from package
// gateway so that the stores can implement it without importing the gateway.
package calllog

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"

	"approvald/approval"
)

// Log is the store of the gateway's call log. It is written outside any
// request's transaction: the log makes no work for anyone.
type Log interface {
	// RecordGatewayCalls appends calls, in one transaction and in their
	// order, to the gateway call log and sets each one's ID to a number
	// above that of every call recorded before it. It first normalizes each
	// call (see Record.Normalize), so that it is as it reads back. It
	// does not signal Changes: the log makes no work for anyone.
	RecordGatewayCalls(ctx context.Context, calls []*Record) error
	// ListGatewayCalls returns up to f.Limit (by default 50) gateway calls
	// matching f, newest (highest id) first.
	ListGatewayCalls(ctx context.Context, f Filter) ([]Record, error)
}

// MaxDetailLen is the most characters of Record.Detail that a
// store keeps; a longer detail is cut to its first MaxDetailLen.
const MaxDetailLen = 1000

// Record is one call of the CR8TOR gateway routes, kept for the record.
type Record struct {
	ID     int64     `json:"id"` // assigned by the store, increasing
	At     time.Time `json:"at"`
	Caller string    `json:"caller"` // principal id, "" when unauthenticated
	Route  string    `json:"route"`  // e.g. "/project/package", "" for unknown paths
	// ProjectName and StartTime name the run the call was about (the
	// body's project_name and project_start_time), "" when it named none.
	ProjectName string `json:"project_name"`
	StartTime   string `json:"project_start_time"`
	// UpstreamStatus is the status the CR8TOR service answered, 0 when no
	// upstream answered.
	UpstreamStatus int `json:"upstream_status"`
	// Status is the status the gateway returned (499 when the client left).
	Status         int   `json:"status"`
	DurationMicros int64 `json:"duration_us"`
	// Detail is the error detail returned, "" on success; at most
	// MaxDetailLen characters are kept.
	Detail string `json:"detail"`
	// ApprovalRequest is the id of the approval request the call opened or
	// checked, "" if none.
	ApprovalRequest string `json:"approval_request"`
}

// Normalize brings c into the form every store keeps, so that c is as it
// reads back: At in UTC at microsecond precision; text as valid UTF-8
// without NUL characters, which PostgreSQL, unlike SQLite, cannot store
// (each run of invalid bytes and each NUL becomes U+FFFD); and Detail cut
// to MaxDetailLen characters. Stores call it in RecordCalls.
func (c *Record) Normalize() {
	c.At = approval.TruncateTime(c.At)
	for _, s := range []*string{&c.Caller, &c.Route, &c.ProjectName, &c.StartTime, &c.Detail, &c.ApprovalRequest} {
		*s = cleanText(*s)
	}
	if utf8.RuneCountInString(c.Detail) > MaxDetailLen {
		c.Detail = string([]rune(c.Detail)[:MaxDetailLen])
	}
}

// cleanText returns s as valid UTF-8 without NUL characters: each run of
// invalid bytes, and each NUL, is replaced by U+FFFD.
func cleanText(s string) string {
	if utf8.ValidString(s) && !strings.ContainsRune(s, 0) {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

// Filter selects gateway calls for a list, newest first.
type Filter struct {
	ProjectName string // only calls about this project, when set
	StartTime   string // only calls about runs started then, when set
	Before      int64  // keyset cursor: only ids below this, when it is > 0
	Limit       int
}
