package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"approvald/approval"
)

// Exec runs statement on the database of s directly, behind the store's
// back, as someone with write access to the database could; it fails the
// test if the statement fails. The suite writes statements that both
// stores' SQL understands, with literal values.
type Exec func(t *testing.T, s Store, statement string)

// historyLog is the test's own record of the entries it made, in the order
// it made them: what ListHistory must return.
type historyLog []approval.HistoryEntry

// create stores a new request by p at t0 and logs its creation entry.
func (l *historyLog) create(t *testing.T, s Store, p approval.Principal) *approval.Request {
	t.Helper()
	r, ch := newRequest(t, p, approval.Draft{}, approval.DefaultPolicy())
	if _, err := s.CreateApproval(t.Context(), r.Clone(), ch, nil); err != nil {
		t.Fatalf("CreateApproval: %v", err)
	}
	*l = append(*l, ch.Entry)
	return r
}

// step applies fn to r (see step) and logs the entry.
func (l *historyLog) step(t *testing.T, s Store, r *approval.Request, fn op) {
	t.Helper()
	*l = append(*l, step(t, s, r, fn).Entry)
}

// where returns the logged entries for which keep is true.
func (l historyLog) where(keep func(approval.HistoryEntry) bool) []approval.HistoryEntry {
	var out []approval.HistoryEntry
	for _, e := range l {
		if keep(e) {
			out = append(out, e)
		}
	}
	return out
}

// listHistory returns every entry matching f, reading pages of f.Limit
// from f.After on. It checks that IDs rise and that no page is longer
// than asked.
func listHistory(t *testing.T, s Store, f approval.HistoryFilter) []approval.HistoryEntry {
	t.Helper()
	var out []approval.HistoryEntry
	for pages := 0; ; pages++ {
		if pages > 1000 {
			t.Fatalf("ListHistory(%+v): more than 1000 pages", f)
		}
		page, err := s.ListHistory(t.Context(), f)
		if err != nil {
			t.Fatalf("ListHistory(%+v): %v", f, err)
		}
		if f.Limit > 0 && len(page) > f.Limit {
			t.Fatalf("ListHistory(%+v) returned %d entries, more than the limit", f, len(page))
		}
		for _, rec := range page {
			if rec.ID <= f.After {
				t.Fatalf("ListHistory(%+v) returned id %d, not above %d", f, rec.ID, f.After)
			}
			f.After = rec.ID
			out = append(out, rec.HistoryEntry)
		}
		if len(page) == 0 || len(page) < f.Limit {
			return out
		}
	}
}

// sameEntries fails the test unless got and want hold the same entries in
// the same order.
func sameEntries(t *testing.T, what string, got, want []approval.HistoryEntry) {
	t.Helper()
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got %s\nwant %s", what, entryList(got), entryList(want))
	}
}

// entryList describes entries shortly: request (its last 4 characters),
// seq, action and actor of each.
func entryList(entries []approval.HistoryEntry) string {
	var b strings.Builder
	for _, e := range entries {
		fmt.Fprintf(&b, "[%s#%d %s by %s] ", e.RequestID[len(e.RequestID)-4:], e.Seq, e.Action, e.Actor)
	}
	return fmt.Sprintf("%d entries: %s", len(entries), b.String())
}

// testListHistory makes entries of several requests, by several actors, at
// several times, interleaved, and lists them: every entry in the order
// written, page by page, exactly as stored, and each filter alone and
// combined.
func testListHistory(t *testing.T, s Store) {
	var log historyLog
	dave, erin := reviewer("dave"), reviewer("erin")
	r1 := log.create(t, s, alice)
	r2 := log.create(t, s, bob)
	log.step(t, s, r1, commentOp(alice, "first", at(time.Minute)))
	r3 := log.create(t, s, alice)
	log.step(t, s, r2, reviewOp(dave, approval.DecisionApprove, at(2*time.Minute)))
	log.step(t, s, r1, reviewOp(erin, approval.DecisionReject, at(3*time.Minute)))
	log.step(t, s, r3, commentOp(alice, "second", at(4*time.Minute)))
	log.step(t, s, r3, reviewOp(dave, approval.DecisionApprove, at(5*time.Minute)))
	other := log.create(t, s, bob)
	log.step(t, s, other, cancelOp(bob, at(6*time.Minute)))

	for _, limit := range []int{1, 3, len(log), len(log) + 1} {
		sameEntries(t, fmt.Sprintf("every entry, %d a page", limit), listHistory(t, s, approval.HistoryFilter{Limit: limit}), log)
	}
	all, err := s.ListHistory(t.Context(), approval.HistoryFilter{})
	if err != nil {
		t.Fatalf("ListHistory without a limit: %v", err)
	}
	if len(all) != len(log) {
		t.Errorf("ListHistory without a limit returned %d entries, want all %d", len(all), len(log))
	}

	since, until := at(2*time.Minute), at(5*time.Minute)
	in := func(e approval.HistoryEntry, from, to time.Time) bool { return !e.At.Before(from) && e.At.Before(to) }
	none := func(approval.HistoryEntry) bool { return false }
	for _, tc := range []struct {
		name   string
		filter approval.HistoryFilter
		keep   func(approval.HistoryEntry) bool
		empty  bool // keep keeps nothing, on purpose
	}{
		{"actor", approval.HistoryFilter{Actor: alice.ID}, func(e approval.HistoryEntry) bool { return e.Actor == alice.ID }, false},
		{"action", approval.HistoryFilter{Action: approval.ActionApprove}, func(e approval.HistoryEntry) bool { return e.Action == approval.ActionApprove }, false},
		{"request", approval.HistoryFilter{RequestID: r3.ID}, func(e approval.HistoryEntry) bool { return e.RequestID == r3.ID }, false},
		{"since", approval.HistoryFilter{Since: since}, func(e approval.HistoryEntry) bool { return !e.At.Before(since) }, false},
		{"until", approval.HistoryFilter{Until: until}, func(e approval.HistoryEntry) bool { return e.At.Before(until) }, false},
		{"since and until", approval.HistoryFilter{Since: since, Until: until}, func(e approval.HistoryEntry) bool { return in(e, since, until) }, false},
		{"actor and action", approval.HistoryFilter{Actor: dave.ID, Action: approval.ActionApprove}, func(e approval.HistoryEntry) bool {
			return e.Actor == dave.ID && e.Action == approval.ActionApprove
		}, false},
		{"request and actor", approval.HistoryFilter{RequestID: r1.ID, Actor: alice.ID}, func(e approval.HistoryEntry) bool {
			return e.RequestID == r1.ID && e.Actor == alice.ID
		}, false},
		{"every filter", approval.HistoryFilter{RequestID: r3.ID, Actor: alice.ID, Action: approval.ActionComment, Since: at(time.Minute), Until: until},
			func(e approval.HistoryEntry) bool {
				return e.RequestID == r3.ID && e.Actor == alice.ID && e.Action == approval.ActionComment && in(e, at(time.Minute), until)
			}, false},
		{"an actor without entries", approval.HistoryFilter{Actor: "user:nobody"}, none, true},
		{"a request that does not exist", approval.HistoryFilter{RequestID: newID(t)}, none, true},
		{"an empty time range", approval.HistoryFilter{Since: until, Until: since}, none, true},
	} {
		want := log.where(tc.keep)
		if len(want) == 0 && !tc.empty {
			t.Fatalf("%s: the test's filter keeps no entry, so it proves little", tc.name)
		}
		for _, limit := range []int{1, 2, 50} {
			f := tc.filter
			f.Limit = limit
			sameEntries(t, fmt.Sprintf("%s, %d a page", tc.name, limit), listHistory(t, s, f), want)
		}
	}

	// A cursor past the end lists nothing; the records' IDs are what a
	// cursor takes.
	last := all[len(all)-1].ID
	if page, err := s.ListHistory(t.Context(), approval.HistoryFilter{After: last}); err != nil || len(page) != 0 {
		t.Errorf("ListHistory after the last id = %d entries, %v; want none", len(page), err)
	}
	if page, err := s.ListHistory(t.Context(), approval.HistoryFilter{After: all[2].ID, Limit: 2}); err != nil || len(page) != 2 || page[0].ID != all[3].ID {
		t.Errorf("ListHistory after the third entry = %+v, %v; want the fourth and fifth", page, err)
	}

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := s.ListHistory(ctx, approval.HistoryFilter{}); !errors.Is(err, context.Canceled) {
		t.Errorf("ListHistory with a cancelled context = %v, want context.Canceled", err)
	}
}

// chains returns every chain, reading batches of limit from the start (or
// only requestID's, when set).
func chains(t *testing.T, s Store, requestID string, limit int) []approval.HistoryChain {
	t.Helper()
	var out []approval.HistoryChain
	f := approval.ChainFilter{RequestID: requestID, Limit: limit}
	for batches := 0; ; batches++ {
		if batches > 1000 {
			t.Fatalf("HistoryChains: more than 1000 batches")
		}
		batch, err := s.HistoryChains(t.Context(), f)
		if err != nil {
			t.Fatalf("HistoryChains(%+v): %v", f, err)
		}
		if len(batch) > limit {
			t.Fatalf("HistoryChains(%+v) returned %d chains, more than the limit", f, len(batch))
		}
		for _, c := range batch {
			if f.After != "" && c.RequestID <= f.After {
				t.Fatalf("HistoryChains(%+v) returned request %s, not above %s", f, c.RequestID, f.After)
			}
			f.After = c.RequestID
		}
		out = append(out, batch...)
		if len(batch) < limit || requestID != "" {
			return out
		}
	}
}

// testHistoryChains stores requests with histories of different lengths
// and reads their chains in batches: every request once, in id order, with
// its version, head and entries exactly as stored, and each verifies.
func testHistoryChains(t *testing.T, s Store) {
	if got := chains(t, s, "", 10); len(got) != 0 {
		t.Errorf("HistoryChains of an empty store = %d chains, want none", len(got))
	}
	var (
		log  historyLog
		reqs []*approval.Request
	)
	for i := range 5 {
		r := log.create(t, s, alice)
		for j := range i {
			log.step(t, s, r, commentOp(alice, fmt.Sprint("comment ", j), at(time.Duration(j+1)*time.Minute)))
		}
		reqs = append(reqs, r)
	}
	for _, limit := range []int{1, 2, 5, 6} {
		got := chains(t, s, "", limit)
		if len(got) != len(reqs) {
			t.Fatalf("%d a batch: %d chains, want %d", limit, len(got), len(reqs))
		}
		for i, c := range got {
			r := reqs[i] // ids are time-ordered: the order of creation
			want := approval.HistoryChain{RequestID: r.ID, Version: r.Version, Head: r.HistoryHead,
				Entries: log.where(func(e approval.HistoryEntry) bool { return e.RequestID == r.ID })}
			if !reflect.DeepEqual(c, want) {
				t.Errorf("%d a batch, chain %d:\n got %+v\nwant %+v", limit, i, c, want)
			}
			if err := c.Verify(); err != nil {
				t.Errorf("%d a batch, chain %d does not verify: %v", limit, i, err)
			}
		}
	}

	one := chains(t, s, reqs[3].ID, 10)
	if len(one) != 1 || one[0].RequestID != reqs[3].ID || len(one[0].Entries) != 4 {
		t.Errorf("HistoryChains of request 4 alone = %+v, want its chain of 4 entries", one)
	}
	if got := chains(t, s, newID(t), 10); len(got) != 0 {
		t.Errorf("HistoryChains of a request that does not exist = %+v, want none", got)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := s.HistoryChains(ctx, approval.ChainFilter{Limit: 10}); !errors.Is(err, context.Canceled) {
		t.Errorf("HistoryChains with a cancelled context = %v, want context.Canceled", err)
	}
}

// testTamperedHistory alters the stored history behind the store's back —
// an entry's changes rewritten, the newest entry deleted, every entry of a
// request deleted, a request's head rewritten — and checks that the chains
// the store returns show each, while the untouched requests still verify.
func testTamperedHistory(t *testing.T, s Store, exec Exec) {
	var log historyLog
	newChain := func(comments int) *approval.Request {
		r := log.create(t, s, alice)
		for j := range comments {
			log.step(t, s, r, commentOp(alice, fmt.Sprint("comment ", j), at(time.Duration(j+1)*time.Minute)))
		}
		return r
	}
	intact1, forged, truncated, emptied, reheaded, intact2 := newChain(2), newChain(2), newChain(2), newChain(1), newChain(1), newChain(0)

	const forgery = `{"comment":{"before":"comment 0","after":"nothing to see"}}`
	exec(t, s, fmt.Sprintf(`UPDATE history SET changes = '%s' WHERE request_id = '%s' AND seq = 3`, forgery, forged.ID))
	exec(t, s, fmt.Sprintf(`DELETE FROM history WHERE request_id = '%s' AND seq = 3`, truncated.ID))
	exec(t, s, fmt.Sprintf(`DELETE FROM history WHERE request_id = '%s'`, emptied.ID))
	exec(t, s, fmt.Sprintf(`UPDATE approvals SET history_head = '%s' WHERE id = '%s'`, strings.Repeat("0", 64), reheaded.ID))

	want := map[string]string{ // the start of each chain's verification error; "" verifies
		intact1.ID:   "",
		forged.ID:    "entry 3: hash does not match its contents",
		truncated.ID: "the history ends at entry 2 but the request is at version 3",
		emptied.ID:   "the request has no history entries",
		reheaded.ID:  "the hash of entry 2, the last, is not the request's history head",
		intact2.ID:   "",
	}
	got := chains(t, s, "", 4)
	if len(got) != len(want) {
		t.Fatalf("HistoryChains = %d chains, want %d (one per request, even one without entries)", len(got), len(want))
	}
	for _, c := range got {
		err := c.Verify()
		switch w := want[c.RequestID]; {
		case w == "" && err != nil:
			t.Errorf("untouched request %s does not verify: %v", c.RequestID, err)
		case w != "" && (err == nil || !strings.HasPrefix(err.Error(), w)):
			t.Errorf("request %s: Verify() = %v, want an error starting %q", c.RequestID, err, w)
		}
	}
	if c := chains(t, s, truncated.ID, 1); len(c) != 1 || approval.VerifyChain(c[0].Entries) != nil {
		t.Errorf("the truncated chain %+v: its remaining entries should verify by themselves (only the head tells)", c)
	}

	// The list shows what is stored, forgery included; judging it is the
	// verifier's job.
	entries := listHistory(t, s, approval.HistoryFilter{RequestID: forged.ID, Action: approval.ActionComment})
	if len(entries) != 2 || string(entries[1].Changes) != forgery {
		t.Errorf("the forged request's comments = %s, want the forged changes listed as stored", entryList(entries))
	}
	if n := len(listHistory(t, s, approval.HistoryFilter{})); n != len(log)-3 {
		t.Errorf("ListHistory after deleting 3 entries = %d entries, want %d", n, len(log)-3)
	}
}
