package engine_test

import (
	"context"
	"path/filepath"
	"testing"

	"approvald/approval"
	"approvald/engine"
	"approvald/store/sqlite"
)

// TestResolveDue_CatchesAFollowUpLostInACrash: a dependency approved behind
// the engine's back (as if the process died between the commit and the
// follow-up that resolves dependents) leaves its dependent pending until
// the sweeper's ResolveDue decides it.
func TestResolveDue_CatchesAFollowUpLostInACrash(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "e.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	eng := engine.New(st)
	requester := approval.Principal{ID: "svc:ci", Scopes: []approval.Scope{approval.ScopeCreate, approval.ScopeRead}}
	reviewer := approval.Principal{ID: "user:lead", Scopes: []approval.Scope{approval.ScopeReview}}
	create := func(d approval.Draft) *approval.Request {
		c, err := eng.Create(ctx, requester, d, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		return c.Request
	}
	a := create(approval.Draft{Title: "a"})
	b := create(approval.Draft{Title: "b", DependsOn: []string{a.ID}})
	c := create(approval.Draft{Title: "c", DependsOn: []string{a.ID}})
	if _, err := eng.Review(ctx, reviewer, b.ID, approval.ReviewInput{Decision: approval.DecisionApprove}, nil); err != nil {
		t.Fatal(err)
	}
	// Approve a directly in the store: no follow-up runs.
	if _, err := st.UpdateApproval(ctx, a.ID, func(r *approval.Request) (approval.Change, error) {
		return r.Review(reviewer, approval.ReviewInput{Decision: approval.DecisionApprove}, nil, eng.Now())
	}); err != nil {
		t.Fatal(err)
	}
	if got, _ := eng.Get(ctx, b.ID); got.Status != approval.StatusPending {
		t.Fatalf("b = %s before the sweep", got.Status)
	}
	n, err := eng.ResolveDue(ctx)
	if err != nil || n != 1 {
		t.Fatalf("ResolveDue = %d, %v; want 1 (b; c still needs its own approval)", n, err)
	}
	if got, _ := eng.Get(ctx, b.ID); got.Status != approval.StatusApproved {
		t.Fatalf("b = %s after the sweep", got.Status)
	}
	if got, _ := eng.Get(ctx, c.ID); got.Status != approval.StatusPending {
		t.Fatalf("c = %s: it has no approval of its own", got.Status)
	}
	if n, _ := eng.ResolveDue(ctx); n != 0 {
		t.Fatalf("a second sweep decided %d more", n)
	}
}
