package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"approvald/approval"
)

// testConcurrentReviews has 50 reviewers approve one request at once under a
// policy that one approval decides: exactly one decides it, every other
// sees it decided and gets the domain's conflict.
func testConcurrentReviews(t *testing.T, s Store) {
	r := create(t, s, alice, approval.Draft{}, approval.DefaultPolicy())

	const n = 50
	var (
		wg      sync.WaitGroup
		start   = make(chan struct{})
		results [n]*approval.Request
		errs    [n]error
	)
	for i := range n {
		wg.Go(func() {
			<-start
			results[i], errs[i] = s.UpdateApproval(t.Context(), r.ID,
				reviewOp(reviewer(fmt.Sprintf("reviewer%02d", i)), approval.DecisionApprove, at(time.Minute)))
		})
	}
	close(start)
	wg.Wait()

	decided := 0
	for i := range n {
		switch err := errs[i]; {
		case err == nil:
			decided++
			if results[i].Status != approval.StatusApproved || results[i].Version != 2 {
				t.Errorf("review %d succeeded with the request %v at version %d, want approved at 2", i, results[i].Status, results[i].Version)
			}
		case approval.KindOf(err) != approval.KindConflict || approval.CodeOf(err) != approval.CodeInvalidTransition:
			t.Errorf("review %d: %v (kind %v, code %q), want the invalid-transition conflict", i, err, approval.KindOf(err), approval.CodeOf(err))
		}
	}
	if decided != 1 {
		t.Errorf("%d reviews succeeded, want exactly 1", decided)
	}

	got := get(t, s, r.ID)
	if got.Status != approval.StatusApproved || got.Version != 2 || len(got.Reviews) != 1 {
		t.Errorf("request is %v at version %d with %d reviews, want approved at 2 with 1", got.Status, got.Version, len(got.Reviews))
	}
	h := history(t, s, r.ID)
	if len(h) != 2 {
		t.Errorf("history has %d entries, want 2", len(h))
	}
	if err := approval.VerifyChain(h); err != nil {
		t.Errorf("VerifyChain: %v", err)
	}
	recs := outbox(t, s, r.ID)
	if len(recs) != 2 || recs[1].Type != approval.EventDecided {
		t.Errorf("outbox has %+v, want created and decided", recs)
	}
}

// testConcurrentEdits edits several requests, each from several goroutines
// at once: every edit applies, none is lost, and every chain holds.
func testConcurrentEdits(t *testing.T, s Store) {
	const requests, editors = 8, 5
	var rs [requests]*approval.Request
	for i := range rs {
		rs[i] = create(t, s, alice, approval.Draft{}, approval.DefaultPolicy())
	}

	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
		errs  = make(chan error, requests*editors)
	)
	for i, r := range rs {
		for j := range editors {
			wg.Go(func() {
				<-start
				_, err := s.UpdateApproval(t.Context(), r.ID, commentOp(alice, fmt.Sprintf("edit %d-%d", i, j), at(time.Minute)))
				if err != nil {
					errs <- fmt.Errorf("edit %d of request %d: %w", j, i, err)
				}
			})
		}
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	for _, r := range rs {
		got := get(t, s, r.ID)
		if got.Version != 1+editors {
			t.Errorf("request %s is at version %d, want %d", r.ID, got.Version, 1+editors)
		}
		h := history(t, s, r.ID)
		if len(h) != 1+editors {
			t.Errorf("request %s has %d history entries, want %d", r.ID, len(h), 1+editors)
		}
		if err := approval.VerifyChain(h); err != nil {
			t.Errorf("request %s: VerifyChain: %v", r.ID, err)
		}
		if last := h[len(h)-1]; last.Hash != got.HistoryHead {
			t.Errorf("request %s: history head %q, want the last entry's hash %q", r.ID, got.HistoryHead, last.Hash)
		}
		for i, rec := range outbox(t, s, r.ID) {
			if rec.Version != int64(i+1) {
				t.Errorf("request %s: outbox event %d is for version %d, want %d", r.ID, i, rec.Version, i+1)
			}
		}
	}
	if recs := outbox(t, s, ""); len(recs) != requests*(1+editors) {
		t.Errorf("outbox has %d records, want %d", len(recs), requests*(1+editors))
	}
}

func testCancelledContext(t *testing.T, s Store) {
	r := create(t, s, alice, approval.Draft{}, approval.DefaultPolicy())
	ctx, cancel := context.WithCancel(t.Context())
	cancel()

	if _, err := s.GetApproval(ctx, r.ID); !errors.Is(err, context.Canceled) {
		t.Errorf("GetApproval with a cancelled context = %v, want context.Canceled", err)
	}
	called := false
	_, err := s.UpdateApproval(ctx, r.ID, func(r *approval.Request) (approval.Change, error) {
		called = true
		return r.Edit(alice, approval.Patch{Comment: approval.Some("x")}, nil, at(time.Minute))
	})
	if !errors.Is(err, context.Canceled) || called {
		t.Errorf("UpdateApproval with a cancelled context = %v (fn called: %v), want context.Canceled", err, called)
	}
	r2, ch := newRequest(t, alice, approval.Draft{}, approval.DefaultPolicy())
	if _, err := s.CreateApproval(ctx, r2, ch, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("CreateApproval with a cancelled context = %v, want context.Canceled", err)
	}
	_, err = s.GetApproval(t.Context(), r2.ID)
	wantKind(t, "GetApproval of a request created with a cancelled context", err, approval.KindNotFound)
	unchanged(t, s, r, 1, 1)
}

func testPing(t *testing.T, s Store) {
	if err := s.Ping(t.Context()); err != nil {
		t.Errorf("Ping: %v", err)
	}
}

// testConcurrentAPIKeysSameName creates keys of one name at once: exactly
// one is stored, every other create is a conflict.
func testConcurrentAPIKeysSameName(t *testing.T, s Store) {
	const n = 10
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
		errs  [n]error
	)
	for i := range n {
		k := approval.APIKey{
			ID: newID(t), Name: "billing", Prefix: "apd_bil", Hash: fmt.Sprintf("hash-%d", i),
			Scopes: []approval.Scope{approval.ScopeCreate}, Groups: []string{}, CreatedAt: t0,
		}
		wg.Go(func() {
			<-start
			errs[i] = s.CreateAPIKey(t.Context(), k)
		})
	}
	close(start)
	wg.Wait()

	created := 0
	for i, err := range errs {
		switch {
		case err == nil:
			created++
		case approval.KindOf(err) != approval.KindConflict:
			t.Errorf("CreateAPIKey %d: %v (kind %v), want a conflict", i, err, approval.KindOf(err))
		}
	}
	keys, err := s.ListAPIKeys(t.Context())
	if err != nil {
		t.Fatalf("ListAPIKeys: %v", err)
	}
	if created != 1 || len(keys) != 1 {
		t.Errorf("%d creates succeeded and %d keys are stored, want 1 and 1", created, len(keys))
	}
}

// testConcurrentReplaceAPIKey replaces one key many times at once, as
// processes syncing the same secret file do: one replacement is stored,
// every other finds the key replaced already or its successor's name taken.
func testConcurrentReplaceAPIKey(t *testing.T, s Store) {
	old := approval.APIKey{
		ID: newID(t), Name: "synced", Prefix: "apd_syn", Hash: "hash-old",
		Scopes: []approval.Scope{approval.ScopeRead}, Groups: []string{}, Origin: approval.KeyOriginFile, CreatedAt: t0,
	}
	if err := s.CreateAPIKey(t.Context(), old); err != nil {
		t.Fatalf("CreateAPIKey: %v", err)
	}
	const n = 10
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
		errs  [n]error
	)
	for i := range n {
		k := old
		k.ID, k.Hash, k.CreatedAt = newID(t), "hash-new", at(time.Minute)
		wg.Go(func() {
			<-start
			errs[i] = s.ReplaceAPIKey(t.Context(), old.ID, k, at(time.Minute))
		})
	}
	close(start)
	wg.Wait()

	replaced := 0
	for i, err := range errs {
		switch approval.KindOf(err) {
		case approval.KindNone:
			replaced++
		case approval.KindNotFound, approval.KindConflict:
		default:
			t.Errorf("ReplaceAPIKey %d: %v (kind %v), want not found or a conflict", i, err, approval.KindOf(err))
		}
	}
	keys, err := s.ListAPIKeys(t.Context())
	if err != nil {
		t.Fatalf("ListAPIKeys: %v", err)
	}
	live := 0
	for _, k := range keys {
		if k.RevokedAt == nil {
			live++
		}
	}
	if replaced != 1 || len(keys) != 2 || live != 1 {
		t.Errorf("%d replacements succeeded, %d keys are stored, %d live; want 1, 2 and 1", replaced, len(keys), live)
	}
}
