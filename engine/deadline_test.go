package engine_test

import (
	"context"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"approvald/approval"
	"approvald/engine"
	"approvald/store/sqlite"
)

// TestListByDeadline_MatchesAFullSortAcrossStorePages lists more requests
// than one store page holds, so the scan pages and trims, and compares every
// window with a plain sort of everything.
func TestListByDeadline_MatchesAFullSortAcrossStorePages(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "e.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	eng := engine.New(st)
	p := approval.Principal{ID: "svc:billing", Scopes: []approval.Scope{approval.ScopeCreate}}
	rng := rand.New(rand.NewPCG(1, 2))
	base := time.Now().Add(time.Hour).Truncate(time.Minute)
	var all []*approval.Request
	for i := range 1200 {
		d := approval.Draft{Title: "r"}
		if i%7 != 0 { // some without a deadline; many sharing one
			dl := base.Add(time.Duration(rng.IntN(300)) * time.Minute)
			d.Deadline = &dl
		}
		c, err := eng.Create(ctx, p, d, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, c.Request)
	}
	slices.SortFunc(all, func(a, b *approval.Request) int {
		switch {
		case a.Deadline == nil && b.Deadline == nil:
		case a.Deadline == nil:
			return 1
		case b.Deadline == nil:
			return -1
		default:
			if c := a.Deadline.Compare(*b.Deadline); c != 0 {
				return c
			}
		}
		if a.ID < b.ID {
			return -1
		}
		return 1
	})
	ids := func(rs []*approval.Request) []string {
		out := make([]string, len(rs))
		for i, r := range rs {
			out[i] = r.ID
		}
		return out
	}
	for _, w := range []struct{ offset, limit int }{{0, 20}, {5, 10}, {600, 100}, {1150, 100}, {1200, 5}, {0, 1}} {
		got, err := eng.ListByDeadline(ctx, []approval.Status{approval.StatusPending}, w.offset, w.limit)
		if err != nil {
			t.Fatal(err)
		}
		want := all[min(w.offset, len(all)):min(w.offset+w.limit, len(all))]
		if !slices.Equal(ids(got), ids(want)) {
			t.Errorf("offset %d limit %d: got %d items, differing from the full sort", w.offset, w.limit, len(got))
		}
	}
	if got, err := eng.ListByDeadline(ctx, []approval.Status{approval.StatusApproved}, 0, 10); err != nil || len(got) != 0 {
		t.Errorf("approved: %d, %v", len(got), err)
	}
	if _, err := eng.ListByDeadline(ctx, nil, -1, 10); approval.KindOf(err) != approval.KindInvalid {
		t.Errorf("negative offset: %v", err)
	}
}
