package client_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"approvald/client"
	"approvald/client/clienttest"
)

func TestWait_ReturnsOnceAReviewerApproves(t *testing.T) {
	t.Parallel()
	a, ctx := setup(t), testContext(t)
	req, err := a.requester.Create(ctx, client.CreateRequest{Title: "Deploy"})
	if err != nil {
		t.Fatal(err)
	}

	var (
		mu   sync.Mutex
		seen []client.Status
	)
	firstRead := make(chan struct{})
	done := make(chan *client.ApprovalRequest, 1)
	go func() {
		got, err := a.requester.WaitWith(ctx, req.ID, client.WaitOptions{OnChange: func(r *client.ApprovalRequest) {
			mu.Lock()
			seen = append(seen, r.Status)
			if len(seen) == 1 {
				close(firstRead)
			}
			mu.Unlock()
		}})
		if err != nil {
			t.Error(err)
		}
		done <- got
	}()
	<-firstRead
	if _, err := a.reviewer.Approve(ctx, req.ID, ""); err != nil {
		t.Fatal(err)
	}
	got := <-done
	if got == nil || got.Status != client.StatusApproved {
		t.Fatalf("Wait returned %+v", got)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 2 || seen[0] != client.StatusPending || seen[1] != client.StatusApproved {
		t.Fatalf("OnChange saw %v", seen)
	}
}

func TestWait_ReturnsExpiredWhenTheDeadlinePasses(t *testing.T) {
	t.Parallel()
	a, ctx := setup(t), testContext(t)
	deadline := time.Now().Add(1500 * time.Millisecond)
	req, err := a.requester.Create(ctx, client.CreateRequest{Title: "Soon stale", Deadline: &deadline})
	if err != nil {
		t.Fatal(err)
	}
	got, err := a.requester.Wait(ctx, req.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != client.StatusExpired || !got.Status.Settled() {
		t.Fatalf("Wait returned %s", got.Status)
	}
}

func TestWait_EndsWithTheContextAndReturnsTheLastSeen(t *testing.T) {
	t.Parallel()
	a, ctx := setup(t), testContext(t)
	req, err := a.requester.Create(ctx, client.CreateRequest{Title: "Nobody looks"})
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	got, err := a.requester.Wait(short, req.ID)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the context's deadline", err)
	}
	if got == nil || got.Status != client.StatusPending {
		t.Fatalf("last seen %+v", got)
	}
}

func TestWait_StopsAtErrorAfterAFailedDeliveryAndRedeliverRecovers(t *testing.T) {
	t.Parallel()
	a, ctx := setup(t), testContext(t)
	var accept atomic.Bool
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if accept.Load() {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		http.Error(w, "no such tenant", http.StatusBadRequest) // a 4xx is not retried
	}))
	defer receiver.Close()
	rule, err := a.admin.CreateServiceRule(ctx, client.CreateServiceRuleRequest{Name: clienttest.UniqueName("deploys"), URL: receiver.URL, MaxAttempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	req, err := a.requester.Create(ctx, client.CreateRequest{Title: "Deliver me", ServiceRule: rule.Name})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.reviewer.Approve(ctx, req.ID, ""); err != nil {
		t.Fatal(err)
	}

	got, err := a.requester.Wait(ctx, req.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != client.StatusError || got.PreviousStatus == nil || *got.PreviousStatus != client.StatusAcknowledgedApproved ||
		got.Delivery == nil || got.Delivery.LastError == "" {
		t.Fatalf("after a refused delivery: %+v", got)
	}

	accept.Store(true)
	if _, err := a.admin.Redeliver(ctx, req.ID, client.IfMatch(got.Version)); err != nil {
		t.Fatal(err)
	}
	got, err = a.requester.Wait(ctx, req.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != client.StatusApproved || got.Delivery == nil || got.Delivery.DeliveredAt == nil {
		t.Fatalf("after redelivery: %+v", got)
	}
}
