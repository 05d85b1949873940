package httpapi

import (
	"bytes"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"approvald/approval"
)

// entryPage is a page of GET /v1/history, its entries kept as sent.
type entryPage struct {
	Items      []json.RawMessage `json:"items"`
	NextCursor *string           `json:"next_cursor"`
}

// entryKey is what identifies an entry: its request and sequence number.
type entryKey struct {
	RequestID string `json:"request_id"`
	Seq       int64  `json:"seq"`
}

func (k entryKey) String() string {
	return fmt.Sprintf("%s#%d", k.RequestID[len(k.RequestID)-4:], k.Seq)
}

// allHistory walks GET /v1/history with query from the first page to the
// last, limit entries a page, and returns every entry and how many pages
// it took.
func (c apiClient) allHistory(query url.Values, limit int) ([]json.RawMessage, int) {
	c.t.Helper()
	q := url.Values{}
	for k, v := range query {
		q[k] = v
	}
	q.Set("limit", fmt.Sprint(limit))
	var out []json.RawMessage
	for pages := 1; ; pages++ {
		var page entryPage
		c.json(200, "GET", "/v1/history?"+q.Encode(), nil, &page)
		if len(page.Items) > limit {
			c.t.Fatalf("a page of %d entries, more than the limit %d", len(page.Items), limit)
		}
		out = append(out, page.Items...)
		if page.NextCursor == nil {
			return out, pages
		}
		if pages > 100 {
			c.t.Fatal("more than 100 pages")
		}
		q.Set("cursor", *page.NextCursor)
	}
}

func keysOf(t *testing.T, entries []json.RawMessage) []entryKey {
	t.Helper()
	out := make([]entryKey, len(entries))
	for i, e := range entries {
		if err := json.Unmarshal(e, &out[i]); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func sameKeys(t *testing.T, what string, got, want []entryKey) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%s:\n got %v\nwant %v", what, got, want)
	}
}

// historyScenario makes two requests and four changes to them, a minute
// apart, by a requester and a reviewer: the entries, in the order made, are
// r1#1 r2#1 r1#2 r2#2 r2#3. It returns the two requests' ids and the time
// of the first entry.
func historyScenario(f *fixture) (r1, r2 string, start time.Time) {
	f.t.Helper()
	requester := f.key("billing", approval.ScopeCreate, approval.ScopeRead)
	lead := f.key("lead", approval.ScopeReview, approval.ScopeRead)
	start = approval.TruncateTime(f.clock.Now())
	r1 = requester.create("first").ID
	f.clock.Advance(time.Minute)
	r2 = requester.create("second").ID
	f.clock.Advance(time.Minute)
	lead.review(r1, approval.DecisionApprove)
	f.clock.Advance(time.Minute)
	requester.json(200, "PATCH", "/v1/approvals/"+r2, map[string]any{"comment": "please"}, nil)
	f.clock.Advance(time.Minute)
	lead.review(r2, approval.DecisionReject)
	return r1, r2, start
}

func TestListHistory_EveryEntryOldestFirstAsEachRequestShowsIt(t *testing.T) {
	f := setup(t)
	r1, r2, _ := historyScenario(f)
	auditor := f.key("auditor", approval.ScopeAudit)

	want := []entryKey{{r1, 1}, {r2, 1}, {r1, 2}, {r2, 2}, {r2, 3}}
	for _, limit := range []int{1, 2, 5, 200} {
		entries, pages := auditor.allHistory(nil, limit)
		sameKeys(t, fmt.Sprintf("%d a page", limit), keysOf(t, entries), want)
		if wantPages := (len(want) + limit - 1) / limit; pages != wantPages {
			t.Errorf("%d a page: %d pages, want %d", limit, pages, wantPages)
		}
	}

	// Byte for byte what the request's own history shows.
	all, _ := auditor.allHistory(nil, 50)
	byKey := map[entryKey]json.RawMessage{}
	for _, id := range []string{r1, r2} {
		var h struct {
			Items []json.RawMessage `json:"items"`
		}
		auditor.json(200, "GET", "/v1/approvals/"+id+"/history", nil, &h)
		for i, k := range keysOf(t, h.Items) {
			byKey[k] = h.Items[i]
		}
	}
	for i, k := range keysOf(t, all) {
		if !bytes.Equal(all[i], byKey[k]) {
			t.Errorf("entry %v:\n listed %s\nper request %s", k, all[i], byKey[k])
		}
	}

	// The default page size is 50: everything, and no next page.
	var page entryPage
	auditor.json(200, "GET", "/v1/history", nil, &page)
	if len(page.Items) != len(want) || page.NextCursor != nil {
		t.Errorf("GET /v1/history: %d entries, next %v; want %d and null", len(page.Items), page.NextCursor, len(want))
	}
}

func TestListHistory_FiltersCombine(t *testing.T) {
	f := setup(t)
	r1, r2, start := historyScenario(f)
	minute := func(n int) string { return start.Add(time.Duration(n) * time.Minute).Format(time.RFC3339Nano) }
	for _, tc := range []struct {
		query string
		want  []entryKey
	}{
		{"actor=svc:lead", []entryKey{{r1, 2}, {r2, 3}}},
		{"actor=svc:billing", []entryKey{{r1, 1}, {r2, 1}, {r2, 2}}},
		{"action=approve", []entryKey{{r1, 2}}},
		{"action=comment&actor=svc:billing", []entryKey{{r2, 2}}},
		{"request_id=" + r2, []entryKey{{r2, 1}, {r2, 2}, {r2, 3}}},
		{"request_id=" + r2 + "&actor=svc:lead", []entryKey{{r2, 3}}},
		{"since=" + minute(2), []entryKey{{r1, 2}, {r2, 2}, {r2, 3}}},
		{"until=" + minute(2), []entryKey{{r1, 1}, {r2, 1}}},
		{"since=" + minute(1) + "&until=" + minute(3), []entryKey{{r2, 1}, {r1, 2}}},
		{"since=" + minute(1) + "&actor=svc:lead&action=reject", []entryKey{{r2, 3}}},
		{"actor=svc:nobody", nil},
		{"request_id=0190a4e0-0000-7000-8000-000000000001", nil},
		{"since=" + minute(10), nil},
	} {
		q, err := url.ParseQuery(tc.query)
		if err != nil {
			t.Fatal(err)
		}
		for _, limit := range []int{1, 50} {
			entries, _ := f.admin.allHistory(q, limit)
			sameKeys(t, fmt.Sprintf("%s, %d a page", tc.query, limit), keysOf(t, entries), tc.want)
		}
	}
}

func TestListHistory_InvalidParametersAre422NamingTheField(t *testing.T) {
	f := setup(t)
	cursor := numberCursorOf
	for query, field := range map[string]string{
		"action=approved":          "action",
		"action=APPROVE":           "action",
		"request_id=not-a-request": "request_id",
		"request_id=0190A4E0-0000-7000-8000-000000000001": "request_id",
		"since=yesterday":            "since",
		"until=2026-13-01T00:00:00Z": "until",
		"since=2026-03-02T00:00:00Z&until=2026-03-01T00:00:00Z": "until",
		"since=2026-03-02T00:00:00Z&until=2026-03-02T00:00:00Z": "until",
		"cursor=%25%25":           "cursor",
		"cursor=" + cursor("0"):   "cursor",
		"cursor=" + cursor("-5"):  "cursor",
		"cursor=" + cursor("abc"): "cursor",
		"limit=0":                 "limit",
		"limit=201":               "limit",
	} {
		p := f.admin.raw("GET", "/v1/history?"+query, nil)
		if p.status != 422 {
			t.Errorf("%s: %d %s, want 422", query, p.status, p.body)
			continue
		}
		prob := p.problem(t)
		if prob.Code != approval.CodeValidation || len(prob.Errors) != 1 || prob.Errors[0].Field != field {
			t.Errorf("%s: %+v, want validation_failed naming %s alone", query, prob, field)
		}
	}
	p := f.admin.raw("GET", "/v1/history?action=nope", nil)
	if msg := p.problem(t).Errors[0].Message; !strings.Contains(msg, "approve, reject") {
		t.Errorf("the error on action does not list the actions: %q", msg)
	}
}

// numberCursorOf encodes s as the API encodes the cursors of numbered lists.
func numberCursorOf(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func TestHistoryRoutes_AuditOrAdminOnly(t *testing.T) {
	f := setup(t)
	clients := map[string]apiClient{
		"audit":                           f.key("auditor", approval.ScopeAudit),
		"admin":                           f.admin,
		"approvals:create":                f.key("creator", approval.ScopeCreate),
		"approvals:review":                f.key("reviewer", approval.ScopeReview),
		"approvals:read":                  f.key("reader", approval.ScopeRead),
		"every scope but audit and admin": f.key("busy", approval.ScopeCreate, approval.ScopeReview, approval.ScopeRead),
		"no key":                          {t: t, base: f.url},
	}
	for _, path := range []string{"/v1/history", "/v1/history/verify"} {
		for name, c := range clients {
			p := c.raw("GET", path, nil)
			switch name {
			case "audit", "admin":
				if p.status != 200 {
					t.Errorf("GET %s with %s: %d %s, want 200", path, name, p.status, p.body)
				}
			case "no key":
				if p.status != 401 {
					t.Errorf("GET %s with %s: %d, want 401", path, name, p.status)
				}
			default:
				if p.status != 403 || p.problem(t).Code != approval.CodeMissingScope || !strings.Contains(p.problem(t).Detail, "admin scope (or audit)") {
					t.Errorf("GET %s with %s: %d %s, want 403 missing_scope", path, name, p.status, p.body)
				}
			}
		}
	}
}

// verification is the body of GET /v1/history/verify.
type verification struct {
	Verified      bool                    `json:"verified"`
	Requests      int64                   `json:"requests"`
	Entries       int64                   `json:"entries"`
	Failures      []approval.ChainFailure `json:"failures"`
	FailuresTotal int64                   `json:"failures_total"`
}

func TestVerifyHistory_FindsAlteredAndDeletedEntries(t *testing.T) {
	f := setup(t)
	r1, r2, _ := historyScenario(f) // r1: 2 entries, r2: 3
	r3 := f.key("third", approval.ScopeCreate).create("third").ID
	auditor := f.key("auditor", approval.ScopeAudit)

	var v verification
	auditor.json(200, "GET", "/v1/history/verify", nil, &v)
	if !v.Verified || v.Requests != 3 || v.Entries != 6 || len(v.Failures) != 0 || v.FailuresTotal != 0 {
		t.Fatalf("untouched: %+v, want verified, 3 requests, 6 entries", v)
	}

	db, err := sql.Open("sqlite", "file:"+f.db+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, stmt := range []string{
		`UPDATE history SET changes = '{"status":{"before":"pending","after":"rejected"}}' WHERE request_id = '` + r1 + `' AND seq = 2`,
		`DELETE FROM history WHERE request_id = '` + r2 + `' AND seq = 3`, // the newest: the rest still chains
	} {
		if _, err := db.ExecContext(t.Context(), stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}

	auditor.json(200, "GET", "/v1/history/verify", nil, &v)
	if v.Verified || v.Requests != 3 || v.Entries != 5 || v.FailuresTotal != 2 || len(v.Failures) != 2 {
		t.Fatalf("tampered: %+v, want 2 failures of 3 requests, 5 entries", v)
	}
	if got := v.Failures[0]; got.RequestID != r1 || got.Error != "entry 2: hash does not match its contents" {
		t.Errorf("first failure = %+v, want r1's altered entry 2", got)
	}
	if got := v.Failures[1]; got.RequestID != r2 || !strings.HasPrefix(got.Error, "the history ends at entry 2 but the request is at version 3") {
		t.Errorf("second failure = %+v, want r2's missing newest entry", got)
	}

	for id, want := range map[string]bool{r1: false, r2: false, r3: true} {
		auditor.json(200, "GET", "/v1/history/verify?request_id="+id, nil, &v)
		if v.Verified != want || v.Requests != 1 || int64(len(v.Failures)) != v.FailuresTotal {
			t.Errorf("request_id=%s: %+v, want verified %v for one request", id, v, want)
		}
	}
	// The per-request history's verdict catches both too.
	for id, want := range map[string]bool{r1: false, r2: false, r3: true} {
		var h struct {
			Verified    bool   `json:"verified"`
			VerifyError string `json:"verify_error"`
		}
		auditor.json(200, "GET", "/v1/approvals/"+id+"/history", nil, &h)
		if h.Verified != want || (h.VerifyError == "") != want {
			t.Errorf("GET /v1/approvals/%s/history: verified %v (%q), want %v", id, h.Verified, h.VerifyError, want)
		}
	}
	if p := auditor.raw("GET", "/v1/history/verify?request_id=0190a4e0-0000-7000-8000-000000000001", nil); p.status != 404 || p.problem(t).Code != approval.CodeNotFound {
		t.Errorf("request_id of no request: %d %s, want 404", p.status, p.body)
	}
	if p := auditor.raw("GET", "/v1/history/verify?request_id=nope", nil); p.status != 422 || p.problem(t).Errors[0].Field != "request_id" {
		t.Errorf("request_id=nope: %d %s, want 422 naming request_id", p.status, p.body)
	}
}

func TestVerifyHistory_NoRequestsVerifies(t *testing.T) {
	f := setup(t)
	var v verification
	r := f.admin.json(200, "GET", "/v1/history/verify", nil, &v)
	if !v.Verified || v.Requests != 0 || v.Entries != 0 || v.Failures == nil {
		t.Errorf("an empty database: %s, want verified with no requests and failures []", r.body)
	}
}
