package engine_test

import (
	"context"
	"path/filepath"
	"sync/atomic"
	"testing"

	"approvald/approval"
	"approvald/engine"
	"approvald/store/sqlite"
)

// countingStore counts the service-rule reads that reach the database.
type countingStore struct {
	approval.Store
	reads atomic.Int64
}

func (s *countingStore) GetServiceRule(ctx context.Context, name string) (*approval.ServiceRule, error) {
	s.reads.Add(1)
	return s.Store.GetServiceRule(ctx, name)
}

func (s *countingStore) GetServiceRuleByID(ctx context.Context, id int64) (*approval.ServiceRule, error) {
	s.reads.Add(1)
	return s.Store.GetServiceRuleByID(ctx, id)
}

func newCountingEngine(t *testing.T) (*engine.Engine, *countingStore) {
	t.Helper()
	t.Parallel()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "e.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cs := &countingStore{Store: st}
	return engine.New(cs), cs
}

// Creates for a rule read it from the database once, not once per create
// (nor twice per create, as checking it and resolving its policy did).
func TestRuleCache_CreatesReadTheRuleOnce(t *testing.T) {
	eng, cs := newCountingEngine(t)
	ctx := context.Background()
	if _, err := eng.CreateRule(ctx, engineAdmin, approval.ServiceRule{Name: "payments", URL: "http://127.0.0.1:9/hook", Format: approval.FormatStandard}); err != nil {
		t.Fatal(err)
	}
	p := approval.Principal{ID: "svc:billing", Scopes: []approval.Scope{approval.ScopeCreate}}
	rule, err := eng.CachedRuleByID(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	for range 20 {
		if _, err := eng.Create(ctx, p, approval.Draft{Title: "pay", ServiceRule: rule.Name}, "", nil); err != nil {
			t.Fatal(err)
		}
	}
	if n := cs.reads.Load(); n != 1 {
		t.Fatalf("%d reads of the rule for one lookup by id and 20 creates, want 1", n)
	}
}

// A change made through this engine is seen by the next read at once: the
// cache never serves a rule older than this instance's own changes.
func TestRuleCache_OwnChangesAreSeenAtOnce(t *testing.T) {
	eng, _ := newCountingEngine(t)
	ctx := context.Background()
	if _, err := eng.CachedRule(ctx, "payments"); approval.KindOf(err) != approval.KindNotFound {
		t.Fatalf("unknown rule: %v", err)
	}
	created, err := eng.CreateRule(ctx, engineAdmin, approval.ServiceRule{Name: "payments", URL: "http://127.0.0.1:9/a", Format: approval.FormatStandard})
	if err != nil {
		t.Fatal(err)
	}
	if r, err := eng.CachedRule(ctx, "payments"); err != nil || r.URL != "http://127.0.0.1:9/a" {
		t.Fatalf("after create: %+v, %v", r, err)
	}
	if _, err := eng.UpdateRule(ctx, engineAdmin, "payments", func(r *approval.ServiceRule) { r.URL = "http://127.0.0.1:9/b" }); err != nil {
		t.Fatal(err)
	}
	if r, err := eng.CachedRuleByID(ctx, created.ID); err != nil || r.URL != "http://127.0.0.1:9/b" {
		t.Fatalf("after update, by id: %+v, %v", r, err)
	}
	if r, err := eng.CachedRule(ctx, "payments"); err != nil || r.URL != "http://127.0.0.1:9/b" {
		t.Fatalf("after update, by name: %+v, %v", r, err)
	}
	if err := eng.DeleteRule(ctx, engineAdmin, "payments"); err != nil {
		t.Fatal(err)
	}
	if _, err := eng.CachedRule(ctx, "payments"); approval.KindOf(err) != approval.KindNotFound {
		t.Fatalf("after delete: %v", err)
	}
	if _, err := eng.CachedRuleByID(ctx, created.ID); approval.KindOf(err) != approval.KindNotFound {
		t.Fatalf("after delete, by id: %v", err)
	}
}
