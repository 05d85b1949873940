package httpapi

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"approvald/approval"
	"approvald/auth"
	"approvald/engine"
	"approvald/store/sqlite"
)

// A client that disconnects right after its approval of a dependency
// commits must not stop that approval from reaching the dependent: what
// follows a committed change is not the client's to cancel.
func TestDependencies_ClientDisconnectingAfterApprovingStillResolvesDependent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "api.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })

	// When the dependency is decided, the observer (run after the commit,
	// before the follow-up) hangs up the client's connection and waits
	// until the server has noticed: the request's context is cancelled
	// before the dependents are resolved.
	var watch atomic.Pointer[string]
	var conn atomic.Pointer[net.Conn]
	var sawCancel atomic.Bool
	eng := engine.New(st, engine.WithObserver(func(ctx context.Context, _ approval.Change, r *approval.Request) {
		if id := watch.Load(); id == nil || *id != r.ID || !r.Status.Final() {
			return
		}
		(*conn.Load()).Close()
		select {
		case <-ctx.Done():
			sawCancel.Store(true)
		case <-time.After(10 * time.Second):
		}
	}))
	keys := auth.NewKeys(st, time.Now)
	admin := "apd_fixture-admin-key-abcdefghijklmnopqrstuvwxyz"
	if err := keys.Bootstrap(ctx, admin, io.Discard); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(New(Deps{Engine: eng, Keys: keys, Ready: st.Ping, Limits: noLimits}))
	t.Cleanup(srv.Close)
	f := &fixture{t: t, url: srv.URL, store: st, eng: eng, admin: apiClient{t: t, base: srv.URL, key: admin}}
	requester := f.key("requester", approval.ScopeCreate, approval.ScopeRead)
	reviewer := f.key("reviewer", approval.ScopeReview, approval.ScopeRead)

	dep := requester.create("the dependency")
	var dependent request
	requester.json(201, "POST", "/v1/approvals", map[string]any{"title": "the dependent", "depends_on": []string{dep.ID}}, &dependent)
	reviewer.json(200, "POST", "/v1/approvals/"+dependent.ID+"/reviews", map[string]any{"decision": "approve"}, nil)
	if got := reviewer.get(dependent.ID); got.Status != "pending" {
		t.Fatalf("the dependent is %s before its dependency is approved", got.Status)
	}

	// Approve the dependency over a connection of our own, which the
	// observer closes once the approval has committed.
	c, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	conn.Store(&c)
	watch.Store(&dep.ID)
	body := `{"decision":"approve"}`
	fmt.Fprintf(c, "POST /v1/approvals/%s/reviews HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer %s\r\n"+
		"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", dep.ID, reviewer.key, len(body), body)
	if _, err := http.ReadResponse(bufio.NewReader(c), nil); err == nil {
		t.Fatal("the client got an answer: the connection was not closed before the follow-up")
	}

	// The handler goes on after the hang-up; wait for its follow-up.
	deadline := time.Now().Add(10 * time.Second)
	for {
		r, err := eng.Get(ctx, dependent.ID)
		if err != nil {
			t.Fatal(err)
		}
		if r.Status == approval.StatusApproved {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the dependent is still %s after its dependency was approved by a client that hung up", r.Status)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !sawCancel.Load() {
		t.Fatal("the server never cancelled the request's context: the test did not exercise a disconnect")
	}
}
