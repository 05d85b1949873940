package storetest

import (
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/pressly/goose/v3"

	"approvald/approval"
)

// Migration6 checks migration 6 (API key origins, hashes unique among live
// keys) of store s, whose schema m migrates: after migrating down to 5 it
// has insert store an admin key and a revoked billing key of version 5
// (hashes hash-admin and hash-billing) with the ids it is given. Migrating
// up makes the admin key a bootstrap key and the other an API key, with no
// expiry or last use; a new live key may then reuse the revoked key's hash,
// and migrating down again keeps only the live one, as billingIDs, the ids
// of the keys of hash hash-billing, must show.
func Migration6(t *testing.T, s Store, m *goose.Provider, insert func(admin, billing string), billingIDs func() []string) {
	t.Helper()
	if _, err := m.DownTo(t.Context(), 5); err != nil {
		t.Fatalf("migrating down to 5: %v", err)
	}
	admin, billing := uuid.NewString(), uuid.NewString()
	insert(admin, billing)
	if _, err := m.Up(t.Context()); err != nil {
		t.Fatalf("migrating up: %v", err)
	}
	keys, err := s.ListAPIKeys(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	origins := map[string]string{}
	for _, k := range keys {
		origins[k.ID] = k.Origin
		if k.ExpiresAt != nil || k.LastUsedAt != nil {
			t.Errorf("key %s has expiry %v and last use %v after the migration, want none", k.Name, k.ExpiresAt, k.LastUsedAt)
		}
	}
	if want := map[string]string{admin: approval.KeyOriginBootstrap, billing: approval.KeyOriginAPI}; !reflect.DeepEqual(origins, want) {
		t.Errorf("origins %v, want %v", origins, want)
	}

	// The revoked billing key's hash comes back; migrating down keeps the live one.
	again := approval.APIKey{ID: uuid.NewString(), Name: "billing", Prefix: "apd_bil", Hash: "hash-billing",
		Scopes: []approval.Scope{approval.ScopeRead}, Groups: []string{}, CreatedAt: time.Now()}
	if err := s.CreateAPIKey(t.Context(), again); err != nil {
		t.Fatalf("CreateAPIKey with a revoked key's hash: %v", err)
	}
	if _, err := m.DownTo(t.Context(), 5); err != nil {
		t.Fatalf("migrating down to 5 with a shared hash: %v", err)
	}
	if ids := billingIDs(); !reflect.DeepEqual(ids, []string{again.ID}) {
		t.Errorf("after migrating down the keys of the shared hash are %v, want only the live %s", ids, again.ID)
	}
}
