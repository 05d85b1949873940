package auth

import (
	"context"
	"io"
	"strings"
	"testing"

	"approvald/approval"
)

// checkConfiguredPrefix fails the test unless key shows a random public id,
// and nothing of secret, as its prefix.
func checkConfiguredPrefix(t *testing.T, key approval.APIKey, secret string) {
	t.Helper()
	if !strings.HasPrefix(key.Prefix, ConfiguredPrefix) || len(key.Prefix) != prefixLen {
		t.Errorf("key %s has the prefix %q, want %s and 6 random characters", key.Name, key.Prefix, ConfiguredPrefix)
	}
	for i := 0; i+4 <= len(secret); i++ {
		if strings.Contains(key.Prefix, secret[i:i+4]) {
			t.Errorf("key %s's prefix %q repeats part of its secret", key.Name, key.Prefix)
			return
		}
	}
}

func TestBootstrap_ConfiguredKeyGetsARandomPublicPrefix(t *testing.T) {
	k, st := newKeys(t)
	ctx := context.Background()
	const configured = "apd_chosen-by-a-person-0123456789abcdef"
	if err := k.Bootstrap(ctx, configured, io.Discard); err != nil {
		t.Fatal(err)
	}
	keys, err := st.ListAPIKeys(ctx)
	if err != nil || len(keys) != 1 {
		t.Fatalf("keys %v, %v", keys, err)
	}
	checkConfiguredPrefix(t, keys[0], configured)
	first := keys[0].Prefix
	// A restart keeps the key and its prefix.
	if err := k.Bootstrap(ctx, configured, io.Discard); err != nil {
		t.Fatal(err)
	}
	if again := storedKey(t, st, keys[0].ID); again.Prefix != first {
		t.Errorf("a restart changed the prefix from %q to %q", first, again.Prefix)
	}
	mustAuth(t, k, configured)
}

// TestBootstrap_GeneratedKeyShowsItsStart: a generated admin key is
// approvald's own, random: its prefix is its first characters.
func TestBootstrap_GeneratedKeyShowsItsStart(t *testing.T) {
	k, st := newKeys(t)
	ctx := context.Background()
	var out strings.Builder
	if err := k.Bootstrap(ctx, "", &out); err != nil {
		t.Fatal(err)
	}
	keys, err := st.ListAPIKeys(ctx)
	if err != nil || len(keys) != 1 {
		t.Fatalf("keys %v, %v", keys, err)
	}
	secret := strings.TrimSpace(out.String()[strings.LastIndex(strings.TrimSpace(out.String()), "\n")+1:])
	if !strings.HasPrefix(secret, keys[0].Prefix) || !strings.HasPrefix(keys[0].Prefix, KeyPrefix) {
		t.Errorf("generated key %q… has the prefix %q", secret[:prefixLen], keys[0].Prefix)
	}
}

// TestBootstrap_PrefixStoredByAnEarlierVersionIsReplaced: a configured key
// an earlier version stored with its first characters as its prefix gets a
// random one at the next start, and keeps working.
func TestBootstrap_PrefixStoredByAnEarlierVersionIsReplaced(t *testing.T) {
	k, st := newKeys(t)
	ctx := context.Background()
	const configured = "my-admin-password-chosen-by-a-person"
	old, err := k.newKey(NewKey{Name: AdminKeyName, Scopes: scopes(approval.ScopeAdmin)}, HashKey(configured), configured[:prefixLen], approval.KeyOriginBootstrap)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateAPIKey(ctx, old); err != nil {
		t.Fatal(err)
	}
	if err := k.Bootstrap(ctx, configured, io.Discard); err != nil {
		t.Fatal(err)
	}
	key := storedKey(t, st, old.ID)
	checkConfiguredPrefix(t, key, configured)
	if key.RevokedAt != nil || mustAuth(t, k, configured).ID != "svc:admin" {
		t.Errorf("the repaired key no longer works: %+v", key)
	}
}

func TestSyncFiles_KeysGetARandomPublicPrefix(t *testing.T) {
	s := newSyncer(t)
	const chosen = "a-file-key-a-person-typed-0123456789"
	writeFile(t, s.dir, "typed", chosen+"\n")
	s.sync()
	key := s.live()["typed"]
	checkConfiguredPrefix(t, key, chosen)
	s.sync()
	if again := s.live()["typed"]; again.Prefix != key.Prefix || again.ID != key.ID {
		t.Errorf("an unchanged file changed its key: %+v, then %+v", key, again)
	}

	// A file key stored by an earlier version with its first characters.
	if _, err := s.st.RotateAPIKey(context.Background(), key.ID, key.Hash, chosen[:prefixLen], s.now()); err != nil {
		t.Fatal(err)
	}
	s.sync()
	checkConfiguredPrefix(t, s.live()["typed"], chosen)
	s.auth(chosen)
}

func TestLogID_OnlyTheShownPrefixOfAGeneratedKey(t *testing.T) {
	t.Parallel()
	generated, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	if got := LogID(generated); got != generated[:prefixLen] {
		t.Errorf("LogID(generated key) = %q, want its prefix %q", got, generated[:prefixLen])
	}
	for _, credential := range []string{
		"",
		"apd_",
		"apd_chosen-by-a-person-0123456789abcdef", // apd_, but not approvald's shape
		generated + "x",
		generated[:len(generated)-1],
		generated[:20] + "." + generated[21:],
		"my-admin-password-chosen-by-a-person",
		"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl",
	} {
		if got := LogID(credential); got != "" {
			t.Errorf("LogID(%q) = %q, want nothing", credential, got)
		}
	}
}
