package auth

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"approvald/approval"
	"approvald/internal/testkit"
)

// newClock returns a settable time for Keys.now.
func newClock() *testkit.Clock                    { return testkit.NewClock(time.Now().UTC().Truncate(time.Second)) }
func ptr[T any](v T) *T                           { return &v }
func scopes(s ...approval.Scope) []approval.Scope { return s }

// countingStore counts the last uses recorded.
type countingStore struct {
	approval.Store
	touches atomic.Int64
}

func (s *countingStore) TouchAPIKey(ctx context.Context, id string, t time.Time) error {
	s.touches.Add(1)
	return s.Store.TouchAPIKey(ctx, id, t)
}

// mustAuth authenticates secret or fails the test.
func mustAuth(t *testing.T, k *Keys, secret string) approval.Principal {
	t.Helper()
	p, err := k.Authenticate(context.Background(), secret)
	if err != nil {
		t.Fatalf("Authenticate: %v", err)
	}
	return p
}

// storedKey returns the stored key with the given id.
func storedKey(t *testing.T, st approval.Store, id string) approval.APIKey {
	t.Helper()
	keys, err := st.ListAPIKeys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range keys {
		if key.ID == id {
			return key
		}
	}
	t.Fatalf("no key %s", id)
	return approval.APIKey{}
}

func TestCreate_Expiry(t *testing.T) {
	k, st := newKeys(t)
	c := newClock()
	k.now = c.Now
	ctx := context.Background()
	for name, at := range map[string]time.Time{
		"past":              c.Now().Add(-time.Second),
		"now":               c.Now(),
		"over 5 years away": c.Now().AddDate(5, 0, 0).Add(time.Second),
	} {
		_, _, err := k.Create(ctx, NewKey{Name: "a", Scopes: scopes(approval.ScopeRead), ExpiresAt: &at})
		if e := approval.AsError(err); e == nil || e.Kind != approval.KindInvalid || len(e.Fields) != 1 || e.Fields[0].Field != "expires_at" {
			t.Errorf("%s: err = %v, want invalid expires_at", name, err)
		}
	}
	at := c.Now().AddDate(5, 0, 0).Add(-876543211 * time.Nanosecond) // nanoseconds, which are dropped
	rec, _, err := k.Create(ctx, NewKey{Name: "a", Scopes: scopes(approval.ScopeRead), ExpiresAt: &at})
	if err != nil {
		t.Fatalf("a key expiring in 5 years: %v", err)
	}
	want := approval.TruncateTime(at)
	if rec.ExpiresAt == nil || !rec.ExpiresAt.Equal(want) || rec.Origin != approval.KeyOriginAPI {
		t.Errorf("created %+v, want it to expire at %v with origin api", rec, want)
	}
	if got := storedKey(t, st, rec.ID); got.ExpiresAt == nil || !got.ExpiresAt.Equal(want) {
		t.Errorf("stored expiry %v, want %v", got.ExpiresAt, want)
	}
}

func TestAuthenticate_ExpiredKeyIsRefused(t *testing.T) {
	k, _ := newKeys(t)
	c := newClock()
	k.now = c.Now
	_, secret, err := k.Create(context.Background(), NewKey{Name: "temp", Scopes: scopes(approval.ScopeRead), ExpiresAt: ptr(c.Now().Add(time.Hour))})
	if err != nil {
		t.Fatal(err)
	}
	mustAuth(t, k, secret)
	c.Advance(time.Hour)
	_, err = k.Authenticate(context.Background(), secret)
	e := approval.AsError(err)
	if e == nil || e.Kind != approval.KindUnauthenticated || e.Message != "API key expired" || strings.Contains(err.Error(), secret) {
		t.Fatalf("err = %v, want unauthenticated: API key expired", err)
	}
}

func TestAuthenticate_CacheDoesNotOutliveExpiry(t *testing.T) {
	k, _ := newKeys(t)
	c := newClock()
	k.now = c.Now
	k.WithCache(5 * time.Minute)
	_, secret, err := k.Create(context.Background(), NewKey{Name: "temp", Scopes: scopes(approval.ScopeRead), ExpiresAt: ptr(c.Now().Add(time.Minute))})
	if err != nil {
		t.Fatal(err)
	}
	mustAuth(t, k, secret)
	c.Advance(time.Minute - time.Microsecond)
	mustAuth(t, k, secret)
	c.Advance(time.Microsecond)
	if _, err := k.Authenticate(context.Background(), secret); approval.AsError(err) == nil || approval.AsError(err).Message != "API key expired" {
		t.Fatalf("at its expiry the cached key gives %v, want API key expired", err)
	}
}

func TestAuthenticate_RecordsLastUseAtMostOnceAMinute(t *testing.T) {
	k, st := newKeys(t)
	counting := &countingStore{Store: st}
	k.store = counting
	c := newClock()
	k.now = c.Now
	k.WithCache(5 * time.Second) // the cache holds the key at the second use, not at the third
	rec, secret, err := k.Create(context.Background(), NewKey{Name: "busy", Scopes: scopes(approval.ScopeRead)})
	if err != nil {
		t.Fatal(err)
	}
	if rec.LastUsedAt != nil {
		t.Fatalf("a new key was used at %v", rec.LastUsedAt)
	}
	first := c.Now()
	check := func(wantTouches int64, wantUsed time.Time) {
		t.Helper()
		k.touching.Wait()
		if got := counting.touches.Load(); got != wantTouches {
			t.Errorf("%d last uses recorded, want %d", got, wantTouches)
		}
		if got := storedKey(t, st, rec.ID).LastUsedAt; got == nil || !got.Equal(wantUsed) {
			t.Errorf("last used at %v, want %v", got, wantUsed)
		}
	}
	mustAuth(t, k, secret)
	check(1, first)
	c.Advance(2 * time.Second)
	mustAuth(t, k, secret) // from the cache
	c.Advance(28 * time.Second)
	mustAuth(t, k, secret) // from the store, which says it was used 30s ago
	check(1, first)
	c.Advance(31 * time.Second)
	mustAuth(t, k, secret)
	check(2, c.Now())

	// Another process sees the recent use in the store and writes nothing.
	other := NewKeys(counting, c.Now)
	t.Cleanup(other.Close)
	c.Advance(10 * time.Second)
	mustAuth(t, other, secret)
	other.touching.Wait()
	check(2, c.Now().Add(-10*time.Second))

	// After Close nothing is recorded; authentication goes on.
	k.Close()
	c.Advance(time.Hour)
	mustAuth(t, k, secret)
	check(2, c.Now().Add(-time.Hour-10*time.Second))
}

func TestRotate(t *testing.T) {
	k, st := newKeys(t)
	c := newClock()
	k.now = c.Now
	k.WithCache(time.Minute)
	ctx := context.Background()
	expires := c.Now().Add(24 * time.Hour)
	rec, secret, err := k.Create(ctx, NewKey{Name: "billing", Scopes: scopes(approval.ScopeCreate, approval.ScopeRead), Groups: []string{"finance"}, ExpiresAt: &expires})
	if err != nil {
		t.Fatal(err)
	}
	mustAuth(t, k, secret) // now cached
	k.touching.Wait()
	c.Advance(time.Second)

	rotated, newSecret, err := k.Rotate(ctx, rec.ID)
	if err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	if newSecret == secret || !strings.HasPrefix(newSecret, KeyPrefix) || rotated.Prefix != prefixOf(newSecret) {
		t.Errorf("rotated to %q (prefix %q)", newSecret, rotated.Prefix)
	}
	if rotated.ID != rec.ID || rotated.Name != rec.Name || !rotated.ExpiresAt.Equal(*rec.ExpiresAt) ||
		strings.Join(toStrings(rotated.Scopes), ",") != "approvals:create,approvals:read" || strings.Join(rotated.Groups, ",") != "finance" ||
		rotated.LastUsedAt != nil || rotated.Origin != approval.KeyOriginAPI || !rotated.CreatedAt.Equal(rec.CreatedAt) {
		t.Errorf("rotated key %+v, want %+v with another secret and no last use", rotated, rec)
	}
	if _, err := k.Authenticate(ctx, secret); approval.KindOf(err) != approval.KindUnauthenticated {
		t.Errorf("the old secret after rotation: %v, want unauthenticated", err)
	}
	if p := mustAuth(t, k, newSecret); p.ID != "svc:billing" || !p.Has(approval.ScopeCreate) || !p.InGroup("finance") {
		t.Errorf("the new secret authenticates as %+v", p)
	}
	if keys, _ := st.ListAPIKeys(ctx); len(keys) != 1 {
		t.Errorf("%d keys stored after rotation, want 1", len(keys))
	}

	// An expired key cannot be rotated: its new secret would not work.
	c.Advance(24 * time.Hour)
	if _, _, err := k.Rotate(ctx, rec.ID); approval.KindOf(err) != approval.KindConflict {
		t.Errorf("Rotate of an expired key: %v, want a conflict", err)
	}
	if err := k.Revoke(ctx, rec.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := k.Rotate(ctx, rec.ID); approval.KindOf(err) != approval.KindNotFound {
		t.Errorf("Rotate of a revoked key: %v, want not found", err)
	}
	for _, id := range []string{"0197a5d2-6a3c-7cc4-a4a4-5c0e3c1e3e3e", "nope", ""} {
		if _, _, err := k.Rotate(ctx, id); approval.KindOf(err) != approval.KindNotFound {
			t.Errorf("Rotate(%q): %v, want not found", id, err)
		}
	}
}

func toStrings(ss []approval.Scope) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = string(s)
	}
	return out
}

func TestRotate_BootstrapAndFileKeysAreManagedElsewhere(t *testing.T) {
	k, st := newKeys(t)
	ctx := context.Background()
	if err := k.Bootstrap(ctx, strings.Repeat("a", MinKeyLen), nil); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	writeFile(t, dir, "ci", strings.Repeat("c", MinKeyLen)+"\n")
	if err := k.SyncFiles(ctx, dir); err != nil {
		t.Fatal(err)
	}
	keys, _ := st.ListAPIKeys(ctx)
	if len(keys) != 2 {
		t.Fatalf("keys %+v, want the admin and ci", keys)
	}
	for _, key := range keys {
		_, _, err := k.Rotate(ctx, key.ID)
		e := approval.AsError(err)
		if e == nil || e.Kind != approval.KindConflict || !strings.Contains(e.Message, map[string]string{
			approval.KeyOriginBootstrap: "configuration", approval.KeyOriginFile: "secret file",
		}[key.Origin]) {
			t.Errorf("Rotate of the %s key: %v, want a conflict", key.Origin, err)
		}
	}
}

func TestRevoke_FileKeyRefusedBootstrapKeyRevoked(t *testing.T) {
	k, st := newKeys(t)
	ctx := context.Background()
	admin := strings.Repeat("a", MinKeyLen)
	if err := k.Bootstrap(ctx, admin, nil); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	writeFile(t, dir, "ci", strings.Repeat("c", MinKeyLen)+"\n")
	if err := k.SyncFiles(ctx, dir); err != nil {
		t.Fatal(err)
	}
	keys, _ := st.ListAPIKeys(ctx)
	for _, key := range keys {
		err := k.Revoke(ctx, key.ID)
		switch key.Origin {
		case approval.KeyOriginFile:
			if e := approval.AsError(err); e == nil || e.Kind != approval.KindConflict || !strings.Contains(e.Message, "remove its file instead") {
				t.Errorf("Revoke of a file key: %v, want a conflict", err)
			}
		case approval.KeyOriginBootstrap:
			if err != nil {
				t.Errorf("Revoke of the bootstrap key: %v", err)
			}
		}
	}
	if _, err := k.Authenticate(ctx, admin); err == nil {
		t.Error("the revoked admin key still works")
	}
	// The revoked secret does not come back at the next start.
	if err := k.Bootstrap(ctx, admin, nil); err == nil || !strings.Contains(err.Error(), "configure a new key") {
		t.Errorf("Bootstrap with the revoked key: %v, want an error", err)
	}
	if err := k.Revoke(ctx, "0197a5d2-6a3c-7cc4-a4a4-5c0e3c1e3e3e"); approval.KindOf(err) != approval.KindNotFound {
		t.Errorf("Revoke of an unknown id: %v", err)
	}
}

func TestBootstrap_KeysHaveOriginBootstrap(t *testing.T) {
	k, st := newKeys(t)
	ctx := context.Background()
	if err := k.Bootstrap(ctx, "", &strings.Builder{}); err != nil {
		t.Fatal(err)
	}
	if err := k.Bootstrap(ctx, strings.Repeat("b", MinKeyLen), nil); err != nil {
		t.Fatal(err)
	}
	keys, _ := st.ListAPIKeys(ctx)
	if len(keys) != 2 {
		t.Fatalf("keys %+v, want the generated and the configured admin key", keys)
	}
	for _, key := range keys {
		if key.Origin != approval.KeyOriginBootstrap {
			t.Errorf("admin key %s has origin %q, want bootstrap", key.ID, key.Origin)
		}
	}
}
