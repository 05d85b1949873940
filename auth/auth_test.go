package auth

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"approvald/approval"
	"approvald/store/sqlite"
)

func newKeys(t *testing.T) (*Keys, approval.Store) {
	t.Helper()
	t.Parallel()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "auth.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	k := NewKeys(st, time.Now).WithLogger(slog.New(slog.DiscardHandler))
	t.Cleanup(k.Close) // before the store closes: cleanups run last first
	return k, st
}

func TestCreate_KeyIsRandomShownOnceAndStoredHashed(t *testing.T) {
	k, st := newKeys(t)
	ctx := context.Background()
	rec, secret, err := k.Create(ctx, NewKey{Name: "billing", Scopes: []approval.Scope{approval.ScopeCreate}, Groups: []string{"finance"}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(secret, KeyPrefix) || len(secret) < len(KeyPrefix)+40 {
		t.Fatalf("secret %q is too short", secret)
	}
	_, secret2, _ := k.Create(ctx, NewKey{Name: "billing2", Scopes: []approval.Scope{approval.ScopeCreate}})
	if secret == secret2 {
		t.Fatal("two keys are equal")
	}
	keys, _ := st.ListAPIKeys(ctx)
	for _, key := range keys {
		if key.Hash == secret || strings.Contains(key.Hash, secret[len(KeyPrefix):]) {
			t.Fatal("the secret is stored in clear")
		}
	}
	p, err := k.Authenticate(ctx, secret)
	if err != nil || p.ID != "svc:billing" || !p.Has(approval.ScopeCreate) || p.Has(approval.ScopeReview) || !p.InGroup("finance") {
		t.Fatalf("principal %+v, %v", p, err)
	}
	if err := k.Revoke(ctx, rec.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := k.Authenticate(ctx, secret); approval.KindOf(err) != approval.KindUnauthenticated {
		t.Fatalf("revoked key: %v", err)
	}
}

func TestCreate_Validation(t *testing.T) {
	k, _ := newKeys(t)
	for name, nk := range map[string]NewKey{
		"empty name":    {Scopes: []approval.Scope{approval.ScopeRead}},
		"upper name":    {Name: "Billing", Scopes: []approval.Scope{approval.ScopeRead}},
		"no scopes":     {Name: "a"},
		"unknown scope": {Name: "a", Scopes: []approval.Scope{"root"}},
		"bad group":     {Name: "a", Scopes: []approval.Scope{approval.ScopeRead}, Groups: []string{"has space"}},
	} {
		if _, _, err := k.Create(context.Background(), nk); approval.KindOf(err) != approval.KindInvalid {
			t.Errorf("%s: err = %v, want invalid", name, err)
		}
	}
}

func TestAuthenticate_UnknownKeyErrorDoesNotEchoIt(t *testing.T) {
	k, _ := newKeys(t)
	_, err := k.Authenticate(context.Background(), "apd_secret-value-here")
	if approval.KindOf(err) != approval.KindUnauthenticated || strings.Contains(err.Error(), "secret-value") {
		t.Fatalf("err = %v", err)
	}
}

func TestBootstrap_ConfiguredKeyReplacesEarlierOne(t *testing.T) {
	k, _ := newKeys(t)
	ctx := context.Background()
	first := strings.Repeat("a", MinKeyLen)
	second := strings.Repeat("b", MinKeyLen)
	if err := k.Bootstrap(ctx, "short", nil); err == nil {
		t.Fatal("short key accepted")
	}
	if err := k.Bootstrap(ctx, first, nil); err != nil {
		t.Fatal(err)
	}
	if err := k.Bootstrap(ctx, first, nil); err != nil {
		t.Fatal("second start with the same key:", err)
	}
	if err := k.Bootstrap(ctx, second, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := k.Authenticate(ctx, first); err == nil {
		t.Fatal("the replaced admin key still works")
	}
	if p, err := k.Authenticate(ctx, second); err != nil || !p.IsAdmin() || p.ID != "svc:admin" {
		t.Fatalf("new admin key: %+v %v", p, err)
	}
}

func TestBootstrap_GeneratesOnlyWhenNoAdminExists(t *testing.T) {
	k, _ := newKeys(t)
	ctx := context.Background()
	var out bytes.Buffer
	if err := k.Bootstrap(ctx, "", &out); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	secret := lines[len(lines)-1]
	if p, err := k.Authenticate(ctx, secret); err != nil || !p.IsAdmin() {
		t.Fatalf("generated key: %v", err)
	}
	out.Reset()
	if err := k.Bootstrap(ctx, "", &out); err != nil || out.Len() != 0 {
		t.Fatalf("second bootstrap printed %q (%v)", out.String(), err)
	}
}

func TestAuthenticate_CacheHonoursRevocation(t *testing.T) {
	k, st := newKeys(t)
	now := time.Now()
	clock := func() time.Time { return now }
	k.now = clock
	k.WithCache(5 * time.Second)
	other := NewKeys(st, clock).WithCache(5 * time.Second) // a second instance on the same database
	t.Cleanup(other.Close)
	ctx := context.Background()
	rec, secret, err := k.Create(ctx, NewKey{Name: "svc", Scopes: []approval.Scope{approval.ScopeRead}})
	if err != nil {
		t.Fatal(err)
	}
	for _, keys := range []*Keys{k, other} {
		if _, err := keys.Authenticate(ctx, secret); err != nil {
			t.Fatal(err)
		}
	}
	if err := k.Revoke(ctx, rec.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := k.Authenticate(ctx, secret); err == nil {
		t.Fatal("the revoking instance still accepts the key")
	}
	if _, err := other.Authenticate(ctx, secret); err != nil {
		t.Fatal("the cache of the other instance should hold the key until its TTL:", err)
	}
	now = now.Add(5 * time.Second)
	if _, err := other.Authenticate(ctx, secret); err == nil {
		t.Fatal("the other instance accepts a revoked key after the TTL")
	}
}
