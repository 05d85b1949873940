package engine_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"approvald/approval"
	"approvald/engine"
	"approvald/store/sqlite"
)

// newHistoryEngine returns an engine on a new SQLite store holding n
// requests, the requests, and the path of the database file.
func newHistoryEngine(t *testing.T, n int) (*engine.Engine, approval.Store, []*approval.Request, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "e.db")
	st, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	eng := engine.New(st)
	p := approval.Principal{ID: "svc:billing", Scopes: []approval.Scope{approval.ScopeCreate}}
	var reqs []*approval.Request
	for range n {
		c, err := eng.Create(t.Context(), p, approval.Draft{Title: "r"}, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		reqs = append(reqs, c.Request)
	}
	return eng, st, reqs, path
}

// tamper runs statement on the database file at path, behind the store.
func tamper(t *testing.T, path, statement string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(t.Context(), statement); err != nil {
		t.Fatalf("%s: %v", statement, err)
	}
}

// TestVerifyHistory_WalksEveryBatch verifies more requests than one batch
// holds, with tampered requests in the later batches: every request and
// entry is counted once, and each tampered request is named.
func TestVerifyHistory_WalksEveryBatch(t *testing.T) {
	t.Parallel()
	eng, _, reqs, path := newHistoryEngine(t, 620)
	batches := 0
	v, err := eng.VerifyHistory(t.Context(), "", func(*approval.Verification) { batches++ })
	if err != nil {
		t.Fatal(err)
	}
	if !v.Verified() || v.Requests != 620 || v.Entries != 620 || batches != 2 {
		t.Fatalf("untouched: verified %v, %d requests, %d entries, %d batches; want true, 620, 620, 2",
			v.Verified(), v.Requests, v.Entries, batches)
	}

	forged, emptied := reqs[510], reqs[619]
	tamper(t, path, "UPDATE history SET actor = 'user:mallory' WHERE request_id = '"+forged.ID+"'")
	tamper(t, path, "DELETE FROM history WHERE request_id = '"+emptied.ID+"'")
	v, err = eng.VerifyHistory(t.Context(), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if v.Verified() || v.Requests != 620 || v.Entries != 619 || v.FailuresTotal != 2 || len(v.Failures) != 2 {
		t.Fatalf("tampered: %+v", v)
	}
	if f := v.Failures[0]; f.RequestID != forged.ID || !strings.Contains(f.Error, "hash does not match") {
		t.Errorf("first failure = %+v, want %s's altered entry", f, forged.ID)
	}
	if f := v.Failures[1]; f.RequestID != emptied.ID || !strings.Contains(f.Error, "no history entries") {
		t.Errorf("second failure = %+v, want %s without entries", f, emptied.ID)
	}

	one, err := eng.VerifyHistory(t.Context(), reqs[5].ID, nil)
	if err != nil || !one.Verified() || one.Requests != 1 || one.Entries != 1 {
		t.Errorf("VerifyHistory(one intact request) = %+v, %v", one, err)
	}
	one, err = eng.VerifyHistory(t.Context(), forged.ID, nil)
	if err != nil || one.Verified() || one.Requests != 1 || one.FailuresTotal != 1 {
		t.Errorf("VerifyHistory(the forged request) = %+v, %v", one, err)
	}
	for _, id := range []string{"0190a4e0-0000-7000-8000-000000000001", "not-an-id"} {
		if _, err := eng.VerifyHistory(t.Context(), id, nil); approval.KindOf(err) != approval.KindNotFound {
			t.Errorf("VerifyHistory(%q) = %v, want not found", id, err)
		}
	}
}

// leavingStore is a store of endless requests whose caller leaves during
// the first batch.
type leavingStore struct {
	approval.Store // nil: VerifyHistory calls only HistoryChains
	cancel         context.CancelFunc
	batches        int
}

func (s *leavingStore) HistoryChains(_ context.Context, f approval.ChainFilter) ([]approval.HistoryChain, error) {
	s.batches++
	s.cancel()
	out := make([]approval.HistoryChain, f.Limit)
	for i := range out {
		out[i].RequestID = fmt.Sprintf("0190a4e0-0000-7000-8000-%012d", s.batches*f.Limit+i)
	}
	return out, nil
}

// TestVerifyHistory_StopsWhenTheCallerLeaves: the walk ends after the batch
// during which its context ended, with the context's error.
func TestVerifyHistory_StopsWhenTheCallerLeaves(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	leaving := &leavingStore{cancel: cancel}
	_, err := engine.New(leaving).VerifyHistory(ctx, "", nil)
	if !errors.Is(err, context.Canceled) || leaving.batches != 1 {
		t.Errorf("VerifyHistory = %v after %d batches; want context.Canceled after 1", err, leaving.batches)
	}
}

// TestListHistory_PagesWithACursor lists every entry a page at a time: the
// cursor of each page is the ID of its last entry, and 0 on the last page.
func TestListHistory_PagesWithACursor(t *testing.T) {
	t.Parallel()
	eng, _, reqs, _ := newHistoryEngine(t, 5)
	var got []string
	f := approval.HistoryFilter{Limit: 2}
	for pages := 1; ; pages++ {
		recs, next, err := eng.ListHistory(t.Context(), f)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			got = append(got, r.RequestID)
		}
		if next == 0 {
			if pages != 3 {
				t.Errorf("%d pages of 2 for 5 entries, want 3", pages)
			}
			break
		}
		if next != recs[len(recs)-1].ID {
			t.Fatalf("next cursor %d is not the last entry's id %d", next, recs[len(recs)-1].ID)
		}
		f.After = next
	}
	for i, r := range reqs {
		if i >= len(got) || got[i] != r.ID {
			t.Fatalf("listed the entries of %v, want the creations in order %v", got, reqs)
		}
	}
	// Exactly a page's worth: the last page says so, without an empty page after.
	recs, next, err := eng.ListHistory(t.Context(), approval.HistoryFilter{Limit: 5})
	if err != nil || len(recs) != 5 || next != 0 {
		t.Errorf("a limit of exactly every entry: %d entries, next %d, %v; want 5, 0", len(recs), next, err)
	}
}

// TestListHistory_TimesBetweenMicrosecondsRoundUp: stores keep
// microseconds, so since and until between two of them act as the later.
func TestListHistory_TimesBetweenMicrosecondsRoundUp(t *testing.T) {
	t.Parallel()
	eng, _, _, _ := newHistoryEngine(t, 1)
	recs, _, err := eng.ListHistory(t.Context(), approval.HistoryFilter{})
	if err != nil || len(recs) != 1 {
		t.Fatalf("ListHistory = %v, %v", recs, err)
	}
	at := recs[0].At
	for _, tc := range []struct {
		name         string
		since, until time.Time
		want         int
	}{
		{"since just before", at.Add(-time.Nanosecond), time.Time{}, 1},
		{"since at", at, time.Time{}, 1},
		{"since just after", at.Add(time.Nanosecond), time.Time{}, 0},
		{"until just after", time.Time{}, at.Add(time.Nanosecond), 1},
		{"until at", time.Time{}, at, 0},
	} {
		recs, _, err := eng.ListHistory(t.Context(), approval.HistoryFilter{Since: tc.since, Until: tc.until})
		if err != nil || len(recs) != tc.want {
			t.Errorf("%s: %d entries, %v; want %d", tc.name, len(recs), err, tc.want)
		}
	}
}
