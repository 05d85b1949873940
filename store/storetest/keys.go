package storetest

import (
	"reflect"
	"sync"
	"testing"
	"time"

	"approvald/approval"
)

func idempotency(p approval.Principal, key string, r *approval.Request, created time.Time) *approval.Idempotency {
	return &approval.Idempotency{
		Principal: p.ID,
		Key:       key,
		BodyHash:  "sha256:" + r.ID,
		RequestID: r.ID,
		Response:  []byte(`{"id":"` + r.ID + `"}`),
		CreatedAt: created,
	}
}

func testIdempotency(t *testing.T, s approval.Store) {
	r1, ch1 := newRequest(t, alice, approval.Draft{}, approval.DefaultPolicy())
	first := idempotency(alice, "key-1", r1, at(time.Minute))
	found, err := s.CreateApproval(t.Context(), r1, ch1, first)
	if err != nil || found != nil {
		t.Fatalf("first CreateApproval = %+v, %v; want nil, nil", found, err)
	}

	// A retry with the same key: the first record comes back, nothing is written.
	r2, ch2 := newRequest(t, alice, approval.Draft{Title: "Retry"}, approval.DefaultPolicy())
	found, err = s.CreateApproval(t.Context(), r2, ch2, idempotency(alice, "key-1", r2, at(2*time.Minute)))
	if err != nil {
		t.Fatalf("retried CreateApproval: %v", err)
	}
	if !reflect.DeepEqual(found, first) {
		t.Errorf("retried CreateApproval returned %+v, want the first record %+v", found, first)
	}
	_, err = s.GetApproval(t.Context(), r2.ID)
	wantKind(t, "GetApproval of the retried request", err, approval.KindNotFound)
	_, err = s.History(t.Context(), r2.ID)
	wantKind(t, "History of the retried request", err, approval.KindNotFound)
	if recs := outbox(t, s, ""); len(recs) != 1 {
		t.Errorf("outbox has %d records, want 1", len(recs))
	}

	// The same key from another principal is another key.
	r3, ch3 := newRequest(t, bob, approval.Draft{}, approval.DefaultPolicy())
	found, err = s.CreateApproval(t.Context(), r3, ch3, idempotency(bob, "key-1", r3, at(3*time.Minute)))
	if err != nil || found != nil {
		t.Fatalf("CreateApproval by another principal = %+v, %v; want nil, nil", found, err)
	}
	equalRequest(t, "GetApproval", get(t, s, r3.ID), r3)

	// A retry of that one returns its own record.
	r4, ch4 := newRequest(t, bob, approval.Draft{}, approval.DefaultPolicy())
	found, err = s.CreateApproval(t.Context(), r4, ch4, idempotency(bob, "key-1", r4, at(4*time.Minute)))
	if err != nil || found == nil || found.RequestID != r3.ID {
		t.Errorf("retried CreateApproval by bob = %+v, %v; want bob's record for %s", found, err, r3.ID)
	}
}

// testIdempotencyConcurrent sends the same create, under one key, many
// times at once: one is stored and every other gets its record.
func testIdempotencyConcurrent(t *testing.T, s approval.Store) {
	const n = 10
	var (
		wg     sync.WaitGroup
		start  = make(chan struct{})
		reqIDs [n]string
		found  [n]*approval.Idempotency
		errs   [n]error
	)
	for i := range n {
		r, ch := newRequest(t, alice, approval.Draft{}, approval.DefaultPolicy())
		reqIDs[i] = r.ID
		wg.Go(func() {
			<-start
			found[i], errs[i] = s.CreateApproval(t.Context(), r, ch, idempotency(alice, "same", r, t0))
		})
	}
	close(start)
	wg.Wait()

	winner := ""
	for i := range n {
		switch {
		case errs[i] != nil:
			t.Errorf("CreateApproval %d: %v", i, errs[i])
		case found[i] == nil && winner != "":
			t.Errorf("CreateApproval stored both %s and %s under one key", winner, reqIDs[i])
		case found[i] == nil:
			winner = reqIDs[i]
		}
	}
	if winner == "" {
		t.Fatal("no CreateApproval stored its request")
	}
	for i := range n {
		if found[i] != nil && found[i].RequestID != winner {
			t.Errorf("CreateApproval %d returned the record of %s, want %s", i, found[i].RequestID, winner)
		}
	}
	list, err := s.ListApprovals(t.Context(), approval.Filter{})
	if err != nil {
		t.Fatalf("ListApprovals: %v", err)
	}
	if len(list) != 1 || list[0].ID != winner {
		t.Errorf("stored requests %v, want only %s", ids(list), winner)
	}
	if recs := outbox(t, s, ""); len(recs) != 1 {
		t.Errorf("outbox has %d records, want 1", len(recs))
	}
}

func testDeleteIdempotency(t *testing.T, s approval.Store) {
	createWithKey := func(key string, created time.Time) (*approval.Request, *approval.Idempotency) {
		t.Helper()
		r, ch := newRequest(t, alice, approval.Draft{}, approval.DefaultPolicy())
		found, err := s.CreateApproval(t.Context(), r, ch, idempotency(alice, key, r, created))
		if err != nil {
			t.Fatalf("CreateApproval with key %s: %v", key, err)
		}
		return r, found
	}
	deleteBefore := func(before time.Time, want int64) {
		t.Helper()
		n, err := s.DeleteIdempotencyBefore(t.Context(), before)
		if err != nil || n != want {
			t.Errorf("DeleteIdempotencyBefore(%v) = %d, %v; want %d", before, n, err, want)
		}
	}
	createWithKey("k0", t0)
	r1, _ := createWithKey("k1", at(time.Hour))
	createWithKey("k2", at(2*time.Hour))

	deleteBefore(at(time.Hour), 1) // k0; k1 was created at, not before
	deleteBefore(at(time.Hour), 0)

	if _, found := createWithKey("k0", at(150*time.Minute)); found != nil {
		t.Errorf("k0 was forgotten, but a create with it returned %+v", found)
	}
	if _, found := createWithKey("k1", at(150*time.Minute)); found == nil || found.RequestID != r1.ID {
		t.Errorf("a create with k1 returned %+v, want the record of %s", found, r1.ID)
	}
	deleteBefore(at(3*time.Hour), 3)
}

func testAPIKeys(t *testing.T, s approval.Store) {
	ctx := t.Context()
	billing := approval.APIKey{
		ID: newID(t), Name: "billing", Prefix: "apd_bil", Hash: "hash-billing",
		Scopes: []approval.Scope{approval.ScopeCreate, approval.ScopeRead}, Groups: []string{"finance"},
		CreatedAt: at(time.Minute),
	}
	ci := approval.APIKey{
		ID: newID(t), Name: "ci", Prefix: "apd_ci0", Hash: "hash-ci",
		Scopes: []approval.Scope{approval.ScopeReview}, Groups: []string{"robots", "ci"},
		CreatedAt: t0,
	}
	for _, k := range []approval.APIKey{billing, ci} {
		if err := s.CreateAPIKey(ctx, k); err != nil {
			t.Fatalf("CreateAPIKey(%s): %v", k.Name, err)
		}
	}
	byHash := func(hash string) *approval.APIKey {
		t.Helper()
		k, err := s.APIKeyByHash(ctx, hash)
		if err != nil {
			t.Fatalf("APIKeyByHash(%s): %v", hash, err)
		}
		return k
	}
	list := func(want ...approval.APIKey) {
		t.Helper()
		got, err := s.ListAPIKeys(ctx)
		if err != nil {
			t.Fatalf("ListAPIKeys: %v", err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("ListAPIKeys:\n got %+v\nwant %+v", got, want)
		}
	}

	if got := byHash(billing.Hash); !reflect.DeepEqual(*got, billing) {
		t.Errorf("APIKeyByHash = %+v, want %+v", *got, billing)
	}
	_, err := s.APIKeyByHash(ctx, "no-such-hash")
	wantKind(t, "APIKeyByHash of an unknown hash", err, approval.KindNotFound)
	list(ci, billing) // oldest first

	dup := approval.APIKey{ID: newID(t), Name: "billing", Prefix: "apd_dup", Hash: "hash-dup", Scopes: billing.Scopes, Groups: billing.Groups, CreatedAt: at(2 * time.Minute)}
	wantKind(t, "CreateAPIKey with a live key's name", s.CreateAPIKey(ctx, dup), approval.KindConflict)
	list(ci, billing)

	if err := s.RevokeAPIKey(ctx, billing.ID, at(time.Hour)); err != nil {
		t.Fatalf("RevokeAPIKey: %v", err)
	}
	_, err = s.APIKeyByHash(ctx, billing.Hash)
	wantKind(t, "APIKeyByHash of a revoked key", err, approval.KindNotFound)
	revokedAt := at(time.Hour)
	billing.RevokedAt = &revokedAt
	list(ci, billing)

	if err := s.RevokeAPIKey(ctx, billing.ID, at(2*time.Hour)); err != nil {
		t.Errorf("revoking a revoked key: %v", err)
	}
	list(ci, billing) // still revoked at the first time
	wantKind(t, "RevokeAPIKey of an unknown id", s.RevokeAPIKey(ctx, newID(t), at(time.Hour)), approval.KindNotFound)

	// The name of a revoked key is free again.
	if err := s.CreateAPIKey(ctx, dup); err != nil {
		t.Fatalf("CreateAPIKey with a revoked key's name: %v", err)
	}
	if got := byHash(dup.Hash); !reflect.DeepEqual(*got, dup) {
		t.Errorf("APIKeyByHash = %+v, want %+v", *got, dup)
	}
	list(ci, billing, dup)
}
