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

func testIdempotency(t *testing.T, s Store) {
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
func testIdempotencyConcurrent(t *testing.T, s Store) {
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

func testDeleteIdempotency(t *testing.T, s Store) {
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

func testAPIKeys(t *testing.T, s Store) {
	ctx := t.Context()
	billing := approval.APIKey{
		ID: newID(t), Name: "billing", Prefix: "apd_bil", Hash: "hash-billing",
		Scopes: []approval.Scope{approval.ScopeCreate, approval.ScopeRead}, Groups: []string{"finance"},
		Origin: approval.KeyOriginAPI, CreatedAt: at(time.Minute),
	}
	ci := approval.APIKey{
		ID: newID(t), Name: "ci", Prefix: "apd_ci0", Hash: "hash-ci",
		Scopes: []approval.Scope{approval.ScopeReview}, Groups: []string{"robots", "ci"},
		Origin: approval.KeyOriginFile, CreatedAt: t0,
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

	dup := approval.APIKey{ID: newID(t), Name: "billing", Prefix: "apd_dup", Hash: "hash-dup", Scopes: billing.Scopes, Groups: billing.Groups, Origin: approval.KeyOriginAPI, CreatedAt: at(2 * time.Minute)}
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

// apiKey returns a live key named name with the given hash, created at
// t0+created, with every optional field set.
func apiKey(t *testing.T, name, hash string, created time.Duration) approval.APIKey {
	t.Helper()
	expires := at(created + 90*24*time.Hour)
	used := at(created + time.Second)
	return approval.APIKey{
		ID: newID(t), Name: name, Prefix: "apd_" + name, Hash: hash,
		Scopes: []approval.Scope{approval.ScopeRead}, Groups: []string{"g-" + name},
		Origin: approval.KeyOriginFile, CreatedAt: at(created), ExpiresAt: &expires, LastUsedAt: &used,
	}
}

// listAPIKeys returns ListAPIKeys or fails the test.
func listAPIKeys(t *testing.T, s Store) []approval.APIKey {
	t.Helper()
	keys, err := s.ListAPIKeys(t.Context())
	if err != nil {
		t.Fatalf("ListAPIKeys: %v", err)
	}
	return keys
}

// keyByID returns the stored key with the given id or fails the test.
func keyByID(t *testing.T, s Store, id string) approval.APIKey {
	t.Helper()
	for _, k := range listAPIKeys(t, s) {
		if k.ID == id {
			return k
		}
	}
	t.Fatalf("no stored api key %s", id)
	return approval.APIKey{}
}

// testAPIKeyFields stores keys with and without the optional fields: they
// come back exactly, an empty origin as "api".
func testAPIKeyFields(t *testing.T, s Store) {
	ctx := t.Context()
	full := apiKey(t, "full", "hash-full", 0)
	full.Origin = approval.KeyOriginBootstrap
	bare := approval.APIKey{
		ID: newID(t), Name: "bare", Prefix: "apd_bar", Hash: "hash-bare",
		Scopes: []approval.Scope{approval.ScopeCreate}, Groups: []string{}, CreatedAt: at(time.Minute),
	}
	for _, k := range []approval.APIKey{full, bare} {
		if err := s.CreateAPIKey(ctx, k); err != nil {
			t.Fatalf("CreateAPIKey(%s): %v", k.Name, err)
		}
	}
	bare.Origin = approval.KeyOriginAPI
	if got := listAPIKeys(t, s); !reflect.DeepEqual(got, []approval.APIKey{full, bare}) {
		t.Errorf("ListAPIKeys:\n got %+v\nwant %+v", got, []approval.APIKey{full, bare})
	}
	got, err := s.APIKeyByHash(ctx, full.Hash)
	if err != nil || !reflect.DeepEqual(*got, full) {
		t.Errorf("APIKeyByHash = %+v, %v; want %+v", got, err, full)
	}

	// An expired key is still live for the store: the caller checks expiry.
	old := apiKey(t, "old", "hash-old", 0)
	past := at(-time.Hour)
	old.ExpiresAt = &past
	if err := s.CreateAPIKey(ctx, old); err != nil {
		t.Fatalf("CreateAPIKey of an expired key: %v", err)
	}
	if got, err := s.APIKeyByHash(ctx, old.Hash); err != nil || !got.ExpiresAt.Equal(past) {
		t.Errorf("APIKeyByHash of an expired key = %+v, %v; want it, expiring at %v", got, err, past)
	}
}

// testAPIKeyHashes checks that a hash is unique among live keys only.
func testAPIKeyHashes(t *testing.T, s Store) {
	ctx := t.Context()
	a := apiKey(t, "a", "hash-shared", 0)
	if err := s.CreateAPIKey(ctx, a); err != nil {
		t.Fatalf("CreateAPIKey: %v", err)
	}
	b := apiKey(t, "b", "hash-shared", time.Minute)
	wantKind(t, "CreateAPIKey with a live key's hash", s.CreateAPIKey(ctx, b), approval.KindConflict)
	if err := s.RevokeAPIKey(ctx, a.ID, at(time.Hour)); err != nil {
		t.Fatalf("RevokeAPIKey: %v", err)
	}
	if err := s.CreateAPIKey(ctx, b); err != nil {
		t.Fatalf("CreateAPIKey with a revoked key's hash: %v", err)
	}
	got, err := s.APIKeyByHash(ctx, "hash-shared")
	if err != nil || got.ID != b.ID {
		t.Errorf("APIKeyByHash = %+v, %v; want the live key %s", got, err, b.ID)
	}
}

// testTouchAPIKey records last uses: at most one write a minute.
func testTouchAPIKey(t *testing.T, s Store) {
	ctx := t.Context()
	k := apiKey(t, "busy", "hash-busy", 0)
	k.LastUsedAt = nil
	if err := s.CreateAPIKey(ctx, k); err != nil {
		t.Fatalf("CreateAPIKey: %v", err)
	}
	touch := func(d time.Duration, want time.Time) {
		t.Helper()
		if err := s.TouchAPIKey(ctx, k.ID, at(d)); err != nil {
			t.Fatalf("TouchAPIKey(%v): %v", d, err)
		}
		if got := keyByID(t, s, k.ID).LastUsedAt; got == nil || !got.Equal(want) {
			t.Errorf("after TouchAPIKey(t0+%v) the last use is %v, want %v", d, got, want)
		}
	}
	touch(time.Hour, at(time.Hour))                 // never used: set
	touch(time.Hour+30*time.Second, at(time.Hour))  // within a minute: kept
	touch(2*time.Hour, at(2*time.Hour))             // an hour later: set
	touch(2*time.Hour+time.Minute, at(2*time.Hour)) // exactly a minute later: kept
	touch(2*time.Hour+time.Minute+time.Microsecond, at(2*time.Hour+time.Minute+time.Microsecond))
	touch(time.Hour, at(2*time.Hour+time.Minute+time.Microsecond)) // an earlier time never goes back

	if err := s.TouchAPIKey(ctx, newID(t), at(time.Hour)); err != nil {
		t.Errorf("TouchAPIKey of an unknown id: %v", err)
	}
	if err := s.TouchAPIKey(ctx, "not-an-id", at(time.Hour)); err != nil {
		t.Errorf("TouchAPIKey of a malformed id: %v", err)
	}
}

// testRotateAPIKey replaces a key's secret in place.
func testRotateAPIKey(t *testing.T, s Store) {
	ctx := t.Context()
	k := apiKey(t, "rot", "hash-old", 0)
	k.Origin = approval.KeyOriginAPI
	other := apiKey(t, "other", "hash-other", 0)
	for _, key := range []approval.APIKey{k, other} {
		if err := s.CreateAPIKey(ctx, key); err != nil {
			t.Fatalf("CreateAPIKey(%s): %v", key.Name, err)
		}
	}
	got, err := s.RotateAPIKey(ctx, k.ID, "hash-new", "apd_new", at(time.Hour))
	if err != nil {
		t.Fatalf("RotateAPIKey: %v", err)
	}
	want := k
	want.Hash, want.Prefix, want.LastUsedAt = "hash-new", "apd_new", nil
	if !reflect.DeepEqual(*got, want) {
		t.Errorf("RotateAPIKey returned\n %+v\nwant %+v", *got, want)
	}
	if stored := keyByID(t, s, k.ID); !reflect.DeepEqual(stored, want) {
		t.Errorf("stored after RotateAPIKey:\n %+v\nwant %+v", stored, want)
	}
	_, err = s.APIKeyByHash(ctx, "hash-old")
	wantKind(t, "APIKeyByHash of the rotated-out hash", err, approval.KindNotFound)
	if byHash, err := s.APIKeyByHash(ctx, "hash-new"); err != nil || byHash.ID != k.ID {
		t.Errorf("APIKeyByHash of the new hash = %+v, %v; want %s", byHash, err, k.ID)
	}

	_, err = s.RotateAPIKey(ctx, k.ID, other.Hash, "apd_oth", at(time.Hour))
	wantKind(t, "RotateAPIKey to another live key's hash", err, approval.KindConflict)
	_, err = s.RotateAPIKey(ctx, k.ID, "hash-late", "apd_lat", *k.ExpiresAt)
	wantKind(t, "RotateAPIKey of an expired key", err, approval.KindNotFound)
	_, err = s.RotateAPIKey(ctx, newID(t), "hash-x", "apd_x", at(time.Hour))
	wantKind(t, "RotateAPIKey of an unknown id", err, approval.KindNotFound)
	_, err = s.RotateAPIKey(ctx, "not-an-id", "hash-x", "apd_x", at(time.Hour))
	wantKind(t, "RotateAPIKey of a malformed id", err, approval.KindNotFound)
	if err := s.RevokeAPIKey(ctx, k.ID, at(2*time.Hour)); err != nil {
		t.Fatalf("RevokeAPIKey: %v", err)
	}
	_, err = s.RotateAPIKey(ctx, k.ID, "hash-x", "apd_x", at(3*time.Hour))
	wantKind(t, "RotateAPIKey of a revoked key", err, approval.KindNotFound)
	if stored := keyByID(t, s, k.ID); stored.Hash != "hash-new" {
		t.Errorf("a refused RotateAPIKey changed the hash to %s", stored.Hash)
	}
}

// testReplaceAPIKey revokes a key and stores its successor at once.
func testReplaceAPIKey(t *testing.T, s Store) {
	ctx := t.Context()
	old := apiKey(t, "synced", "hash-synced", 0)
	other := apiKey(t, "other", "hash-other", 0)
	for _, key := range []approval.APIKey{old, other} {
		if err := s.CreateAPIKey(ctx, key); err != nil {
			t.Fatalf("CreateAPIKey(%s): %v", key.Name, err)
		}
	}
	// The same secret with other scopes: the hash comes back at once.
	next := apiKey(t, "synced", old.Hash, time.Hour)
	next.Scopes = []approval.Scope{approval.ScopeCreate, approval.ScopeRead}
	if err := s.ReplaceAPIKey(ctx, old.ID, next, at(time.Hour)); err != nil {
		t.Fatalf("ReplaceAPIKey: %v", err)
	}
	revoked := at(time.Hour)
	old.RevokedAt = &revoked
	want := []approval.APIKey{old, other, next}
	if got := listAPIKeys(t, s); !reflect.DeepEqual(got, want) {
		t.Errorf("ListAPIKeys after ReplaceAPIKey:\n got %+v\nwant %+v", got, want)
	}
	if got, err := s.APIKeyByHash(ctx, old.Hash); err != nil || got.ID != next.ID {
		t.Errorf("APIKeyByHash = %+v, %v; want the successor %s", got, err, next.ID)
	}

	// Replacing a key that is not live writes nothing.
	again := apiKey(t, "synced", "hash-again", 2*time.Hour)
	wantKind(t, "ReplaceAPIKey of a revoked key", s.ReplaceAPIKey(ctx, old.ID, again, at(2*time.Hour)), approval.KindNotFound)
	wantKind(t, "ReplaceAPIKey of an unknown key", s.ReplaceAPIKey(ctx, newID(t), again, at(2*time.Hour)), approval.KindNotFound)
	wantKind(t, "ReplaceAPIKey of a malformed id", s.ReplaceAPIKey(ctx, "not-an-id", again, at(2*time.Hour)), approval.KindNotFound)

	// A successor whose name or hash another live key holds is a conflict,
	// and the key it would replace stays live.
	clash := apiKey(t, "other", "hash-clash", 2*time.Hour)
	wantKind(t, "ReplaceAPIKey with another live key's name", s.ReplaceAPIKey(ctx, next.ID, clash, at(2*time.Hour)), approval.KindConflict)
	clash = apiKey(t, "synced", other.Hash, 2*time.Hour)
	wantKind(t, "ReplaceAPIKey with another live key's hash", s.ReplaceAPIKey(ctx, next.ID, clash, at(2*time.Hour)), approval.KindConflict)
	if got := listAPIKeys(t, s); !reflect.DeepEqual(got, want) {
		t.Errorf("ListAPIKeys after refused replacements:\n got %+v\nwant %+v", got, want)
	}
}
