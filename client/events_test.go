package client_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"approvald/client"
)

func TestEvents_StreamsTheChangesOfARequestAndResumes(t *testing.T) {
	t.Parallel()
	a, ctx := setup(t), testContext(t)
	req, err := a.requester.Create(ctx, client.CreateRequest{Title: "Watch me"})
	if err != nil {
		t.Fatal(err)
	}
	stream, err := a.requester.Events(ctx, client.EventOptions{RequestID: req.ID})
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	if _, err := a.requester.SetComment(ctx, req.ID, "first"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.reviewer.Approve(ctx, req.ID, ""); err != nil {
		t.Fatal(err)
	}

	commented, err := stream.Next()
	if err != nil {
		t.Fatal(err)
	}
	// A stream opened before the server's event hub has read the create
	// from the outbox starts before it, and so sends it too.
	if commented.Type == "approval.created" && commented.Data.ID == req.ID {
		if commented, err = stream.Next(); err != nil {
			t.Fatal(err)
		}
	}
	decided, err := stream.Next()
	if err != nil {
		t.Fatal(err)
	}
	if commented.Type != "approval.commented" || commented.Data.Comment != "first" || commented.Data.ID != req.ID || commented.Seq <= 0 {
		t.Fatalf("first event %+v", commented)
	}
	if decided.Type != "approval.decided" || decided.Data.Status != client.StatusApproved || decided.Seq <= commented.Seq || decided.ID == "" {
		t.Fatalf("second event %+v", decided)
	}
	if len(decided.Raw()) == 0 || stream.LastSeq() != decided.Seq {
		t.Fatalf("raw %q, LastSeq %d", decided.Raw(), stream.LastSeq())
	}

	// A new stream that resumes after the first event replays the second.
	after := commented.Seq
	replay, err := a.requester.Events(ctx, client.EventOptions{RequestID: req.ID, After: &after, Types: []string{"approval.decided"}})
	if err != nil {
		t.Fatal(err)
	}
	defer replay.Close()
	again, err := replay.Next()
	if err != nil {
		t.Fatal(err)
	}
	if again.Seq != decided.Seq || again.ID != decided.ID {
		t.Fatalf("replayed %+v, want event %d", again, decided.Seq)
	}
}

func TestEvents_RefusedFilterIsAnError(t *testing.T) {
	t.Parallel()
	a, ctx := setup(t), testContext(t)
	_, err := a.requester.Events(ctx, client.EventOptions{RequestID: "not-an-id"})
	if !client.HasCode(err, client.CodeValidationFailed) {
		t.Fatalf("err = %v", err)
	}
}

func TestEvents_ReconnectsWithLastEventIDAfterTheConnectionDrops(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	var (
		mu      sync.Mutex
		resumes []string
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		resumes = append(resumes, r.Header.Get("Last-Event-ID"))
		n := len(resumes)
		mu.Unlock()
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, ": approvald event stream\n\n")
		// Each connection sends one event and drops.
		fmt.Fprintf(w, "id: %d\nevent: approval.updated\ndata: {\"type\":\"approval.updated\",\"id\":\"ev%d\",\"timestamp\":\"2030-01-02T03:04:05Z\",\"data\":{\"id\":\"r1\",\"version\":%d}}\n\n", 40+n, n, n)
	}))
	defer srv.Close()
	c := newClient(t, srv.URL, "", fastRetry)
	stream, err := c.Events(ctx, client.EventOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	for want := int64(41); want <= 43; want++ {
		ev, err := stream.Next()
		if err != nil {
			t.Fatal(err)
		}
		if ev.Seq != want || ev.Data.ID != "r1" {
			t.Fatalf("event %+v, want seq %d", ev, want)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(resumes[:3]) != "[ 41 42]" {
		t.Fatalf("Last-Event-ID of the connections: %q", resumes)
	}
}

func TestEvents_NoReconnectEndsWithEOFAndCloseUnblocksNext(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		if r.URL.Query().Get("type") == "hang" {
			w.(http.Flusher).Flush()
			<-r.Context().Done()
			return
		}
		fmt.Fprint(w, ": nothing\n\n")
	}))
	defer srv.Close()
	c := newClient(t, srv.URL, "")

	once, err := c.Events(ctx, client.EventOptions{NoReconnect: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := once.Next(); err != io.EOF {
		t.Fatalf("Next at the end of the stream: %v", err)
	}

	hang, err := c.Events(ctx, client.EventOptions{Types: []string{"hang"}})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := hang.Next()
		done <- err
	}()
	hang.Close()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Next after Close: %v", err)
	}
}
