package gateway

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// runBody returns a package body for the run of project at start.
func runBody(project, start string) []byte {
	return []byte(`{"project_name":"` + project + `","project_start_time":"` + start +
		`","destination":{"name":"LSC","format":"csv","type":"filestore"}}`)
}

// blocking makes a fake Publish service signal each package or publish
// on arrived and answer it only once release is closed; it answers
// validate at once.
func blocking(t *testing.T, arrived chan<- string, release <-chan struct{}) http.HandlerFunc {
	pkg := example(t, "package.response.json")
	return func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/data-publish/validate" {
			answer(http.StatusOK, `{"status":"success","payload":{}}`)(w, r)
			return
		}
		arrived <- r.URL.Path
		select {
		case <-release:
			answer(http.StatusOK, string(pkg))(w, r)
		case <-r.Context().Done():
		}
	}
}

// waitFor receives from ch or fails the test after a while.
func waitFor[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		var zero T
		return zero
	}
}

type result struct {
	status int
	body   []byte
}

// postAsync posts in the background; the answer comes on the channel.
func (b *bundle) postAsync(t *testing.T, ctx context.Context, path string, body []byte) <-chan result {
	ch := make(chan result, 1)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, b.url+path, bytes.NewReader(body))
		req.Header.Set("x-api-key", clientKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			ch <- result{status: -1, body: []byte(err.Error())}
			return
		}
		defer resp.Body.Close()
		got, _ := io.ReadAll(resp.Body)
		ch <- result{resp.StatusCode, got}
	}()
	return ch
}

func TestLock_OnePackageOrPublishAtATimePerRun(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	arrived, release := make(chan string, 10), make(chan struct{})
	b.pub.setRespond(blocking(t, arrived, release))
	body := runBody("Pr004", "20250205_010101")

	first := b.postAsync(t, context.Background(), RoutePackage, body)
	waitFor(t, arrived, "the first package to reach the upstream")

	const busy = "A package or publish for project Pr004 run 20250205_010101 is already in progress; try again when it has finished."
	status, got := b.post(t, RoutePackage, clientKey, body)
	wantError(t, status, got, http.StatusConflict, busy)
	status, got = b.post(t, RoutePublish, clientKey, body)
	wantError(t, status, got, http.StatusConflict, busy)
	// validate takes no lock.
	if status, got = b.post(t, RouteValidate, clientKey, body); status != http.StatusOK {
		t.Errorf("validate during a package: %d %s, want 200", status, got)
	}

	close(release)
	if r := waitFor(t, first, "the first package's answer"); r.status != http.StatusOK {
		t.Fatalf("first package: %d %s, want 200", r.status, r.body)
	}
	// Released after completion: the same run may package again.
	b.pub.setRespond(answer(http.StatusOK, string(example(t, "package.response.json"))))
	status, got = b.post(t, RoutePackage, clientKey, body)
	if status != http.StatusOK {
		t.Errorf("package after the first finished: %d %s, want 200", status, got)
	}
}

func TestLock_DifferentRunsProceedInParallel(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	arrived, release := make(chan string, 10), make(chan struct{})
	b.pub.setRespond(blocking(t, arrived, release))

	one := b.postAsync(t, context.Background(), RoutePackage, runBody("Pr004", "20250205_010101"))
	two := b.postAsync(t, context.Background(), RoutePackage, runBody("Pr004", "20250206_010101"))
	three := b.postAsync(t, context.Background(), RoutePublish, runBody("Pr005", "20250205_010101"))
	// All three are at the upstream at once.
	for range 3 {
		waitFor(t, arrived, "three runs to reach the upstream together")
	}
	close(release)
	for _, ch := range []<-chan result{one, two, three} {
		if r := waitFor(t, ch, "an answer"); r.status != http.StatusOK {
			t.Errorf("got %d %s, want 200", r.status, r.body)
		}
	}
}

func TestClientDisconnect_CancelsTheUpstreamCallAndReleasesTheLock(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	arrived, cancelled := make(chan string, 1), make(chan struct{})
	b.pub.setRespond(func(_ http.ResponseWriter, r *http.Request) {
		arrived <- r.URL.Path
		select {
		case <-r.Context().Done():
			close(cancelled)
		case <-time.After(10 * time.Second):
		}
	})
	body := runBody("Pr004", "20250205_010101")
	ctx, cancel := context.WithCancel(context.Background())
	gone := b.postAsync(t, ctx, RoutePackage, body)
	waitFor(t, arrived, "the package to reach the upstream")

	cancel()
	if r := waitFor(t, gone, "the client's error"); !errors.Is(ctx.Err(), context.Canceled) || r.status != -1 {
		t.Fatalf("client got %d %s, want its own cancellation", r.status, r.body)
	}
	waitFor(t, cancelled, "the upstream to see its request cancelled")
	// The call is recorded after its lock is released.
	if c := b.calls.next(t); c.Status != StatusClientClosed || c.Route != RoutePackage {
		t.Errorf("recorded %+v, want status %d on %s", c, StatusClientClosed, RoutePackage)
	}

	b.pub.setRespond(answer(http.StatusOK, string(example(t, "package.response.json"))))
	if status, got := b.post(t, RoutePackage, clientKey, body); status != http.StatusOK {
		t.Errorf("package after a client went away: %d %s, want 200", status, got)
	}
}

func TestLongCall_OutlivesTheServersReadAndWriteTimeouts(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	pkg := example(t, "package.response.json")
	b.pub.setRespond(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(time.Second)
		answer(http.StatusOK, string(pkg))(w, r)
	})
	// A server like approvald's, with timeouts far shorter than a package.
	srv := httptest.NewUnstartedServer(mustNew(t, b.cfg, Deps{}))
	srv.Config.ReadTimeout, srv.Config.WriteTimeout = 200*time.Millisecond, 200*time.Millisecond
	srv.Start()
	t.Cleanup(srv.Close)

	status, got := do(t, context.Background(), http.MethodPost, srv.URL+RoutePackage, clientKey, runBody("Pr004", "20250205_010101"))
	if status != http.StatusOK {
		t.Fatalf("status = %d, want 200: %s", status, got)
	}
	sameJSON(t, got, pkg)
}

func TestLocalLocker_UnlockIsIdempotent(t *testing.T) {
	t.Parallel()
	var l LocalLocker
	run := Run{"p", "t"}
	unlock, ok, err := l.TryLock(context.Background(), run)
	if !ok || err != nil {
		t.Fatalf("first TryLock: %v %v", ok, err)
	}
	if _, ok, _ := l.TryLock(context.Background(), run); ok {
		t.Fatal("second TryLock of a held run succeeded")
	}
	if _, ok, _ := l.TryLock(context.Background(), Run{"p", "u"}); !ok {
		t.Fatal("TryLock of another run failed")
	}
	unlock()
	again, ok, _ := l.TryLock(context.Background(), run)
	if !ok {
		t.Fatal("TryLock after unlock failed")
	}
	unlock() // a second call must not release the new holder's lock
	if _, ok, _ := l.TryLock(context.Background(), run); ok {
		t.Fatal("a stale unlock released another holder's lock")
	}
	again()
}
