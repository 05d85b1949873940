// Package auth knows who is calling: it issues and checks API keys (only a
// SHA-256 hash of each key is stored) and turns a credential into an
// approval.Principal.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"approvald/approval"
)

// KeyPrefix starts every API key approvald issues, so that leaked keys are
// easy to recognise (by secret scanners, too).
const KeyPrefix = "apd_"

// keyBytes is the entropy of a generated key: 256 bits.
const keyBytes = 32

// MinKeyLen is the shortest key accepted from configuration (APPROVALD_ADMIN_KEY).
const MinKeyLen = 32

// AdminKeyName is the name of the bootstrap admin key; its principal is svc:admin.
const AdminKeyName = "admin"

// maxKeyYears bounds how far ahead a new key may expire.
const maxKeyYears = 5

// maxSecretLen is the longest key Authenticate looks up.
const maxSecretLen = 512

// touchEvery is how often, at most, a process records the last use of one
// key: the store writes it only when it is older than a minute anyway.
const touchEvery = time.Minute

// touchTimeout bounds one write of a last use.
const touchTimeout = 5 * time.Second

var namePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)
var groupPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$`)

// HashKey returns the hex SHA-256 of a key. Keys are 256 random bits, so a
// fast hash is enough: there is nothing to brute-force.
func HashKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// GenerateKey returns a new random key.
func GenerateKey() (string, error) {
	b := make([]byte, keyBytes)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return KeyPrefix + base64.RawURLEncoding.EncodeToString(b), nil
}

// prefixLen is the length of a generated key's public prefix: KeyPrefix
// and 6 of its random characters (36 of its 256 bits).
const prefixLen = len(KeyPrefix) + 6

// generatedKeyLen is the length of every key GenerateKey returns.
var generatedKeyLen = len(KeyPrefix) + base64.RawURLEncoding.EncodedLen(keyBytes)

// ConfiguredPrefix starts the public id of a key whose secret approvald did
// not generate (APPROVALD_ADMIN_KEY, a key file).
const ConfiguredPrefix = "cfg_"

// prefixOf returns the public prefix of a key approvald generated, which
// listings show to identify it.
func prefixOf(key string) string { return key[:prefixLen] }

// configuredPrefix returns a new random public id for a key whose secret
// was chosen outside approvald: the first characters of such a secret are
// secret material (a person may have chosen it), so they are never shown.
func configuredPrefix() (string, error) {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return ConfiguredPrefix + base64.RawURLEncoding.EncodeToString(b)[:6], nil
}

// LogID returns the part of a presented credential that may be logged: the
// public prefix of a credential in the exact shape of a key approvald
// generates (KeyPrefix and 43 base64url characters), as key listings show
// it — revoked keys included, so that an operator can tell which key is
// still in use; "" for anything else — a JWT, a secret a person chose,
// garbage — of which nothing may be logged.
func LogID(credential string) string {
	if len(credential) != generatedKeyLen || !strings.HasPrefix(credential, KeyPrefix) {
		return ""
	}
	for _, c := range credential[len(KeyPrefix):] {
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return ""
		}
	}
	return credential[:prefixLen]
}

// Keys issues and checks API keys.
type Keys struct {
	store approval.Keys
	now   func() time.Time
	log   *slog.Logger

	// cache remembers recently authenticated keys by hash for cacheTTL, or
	// until the key expires if that is sooner, so that a busy client costs
	// no database read per request. Revoking or rotating a key clears this
	// instance's cache at once; other instances sharing the database stop
	// accepting the old secret within cacheTTL.
	cacheTTL time.Duration
	mu       sync.Mutex
	cache    map[string]cachedKey

	// touched holds, by key id, when this process last recorded a key's use
	// (or saw it recorded), so that a key costs at most one write a minute.
	// The writes run in goroutines that touching tracks; closed stops new
	// ones. mu guards touched and closed.
	touched  map[string]time.Time
	touching sync.WaitGroup
	closed   bool

	// syncMu serializes SyncFiles; warned holds the problem last logged for
	// each file, so that a file that stays bad is logged once, not at every sync.
	syncMu sync.Mutex
	warned map[string]string
}

type cachedKey struct {
	principal approval.Principal
	id        string
	expires   time.Time
}

// maxCachedKeys bounds the cache; past it, the cache starts afresh.
const maxCachedKeys = 10_000

// NewKeys returns the API key service on store s, with no cache, logging
// to slog.Default().
func NewKeys(s approval.Keys, now func() time.Time) *Keys {
	return &Keys{store: s, now: now, log: slog.Default()}
}

// WithLogger makes k log to l — failures to record a key's last use, and
// what SyncFiles does — and returns k. Keys are never logged, only names
// and ids.
func (k *Keys) WithLogger(l *slog.Logger) *Keys {
	k.log = l
	return k
}

// WithCache makes k remember authenticated keys for ttl (0 disables the
// cache) and returns k.
func (k *Keys) WithCache(ttl time.Duration) *Keys {
	k.cacheTTL = ttl
	return k
}

// NewKey is the input of Create.
type NewKey struct {
	Name   string
	Scopes []approval.Scope
	Groups []string
	// ExpiresAt, when set, is when the key stops working: in the future and
	// at most five years ahead.
	ExpiresAt *time.Time
}

// Create validates nk and stores a new key. It returns the key record and the
// secret, which is never available again. A KindInvalid error lists the bad
// fields; a live key with the same name is a KindConflict error.
func (k *Keys) Create(ctx context.Context, nk NewKey) (approval.APIKey, string, error) {
	return k.create(ctx, nk, approval.KeyOriginAPI)
}

// create is Create for a key of the given origin.
func (k *Keys) create(ctx context.Context, nk NewKey, origin string) (approval.APIKey, string, error) {
	var v approval.Validation
	checkKey(&v, nk.Name, nk.Scopes, nk.Groups)
	if nk.ExpiresAt != nil {
		now := k.now()
		switch {
		case !nk.ExpiresAt.After(now):
			v.Add("expires_at", "must be in the future")
		case nk.ExpiresAt.After(now.AddDate(maxKeyYears, 0, 0)):
			v.Add("expires_at", "must be at most %d years ahead", maxKeyYears)
		}
	}
	if err := v.Err(); err != nil {
		return approval.APIKey{}, "", err
	}
	secret, err := GenerateKey()
	if err != nil {
		return approval.APIKey{}, "", approval.Internal(err)
	}
	key, err := k.newKey(nk, HashKey(secret), prefixOf(secret), origin)
	if err != nil {
		return approval.APIKey{}, "", err
	}
	return key, secret, k.store.CreateAPIKey(ctx, key)
}

// checkKey adds to v what is wrong with a key's name, scopes and groups.
func checkKey(v *approval.Validation, name string, scopes []approval.Scope, groups []string) {
	if !namePattern.MatchString(name) {
		v.Add("name", "must be 1-63 characters of a-z, 0-9, '.', '_' or '-', starting with a letter or digit")
	}
	if len(scopes) == 0 {
		v.Add("scopes", "must name at least one of %v", approval.Scopes())
	}
	for _, s := range scopes {
		if !approval.ValidScope(s) {
			v.Add("scopes", "unknown scope %q; known scopes: %v", s, approval.Scopes())
		}
	}
	if len(groups) > 100 {
		v.Add("groups", "must have at most 100 entries")
	}
	for _, g := range groups {
		if !groupPattern.MatchString(g) {
			v.Add("groups", "invalid group %q: 1-128 characters of letters, digits and . _ : / -", g)
			break
		}
	}
}

// newKey returns the record of a new key of the given hash and public
// prefix: a new id, the scopes sorted, the times truncated as the stores
// keep them.
func (k *Keys) newKey(nk NewKey, hash, prefix, origin string) (approval.APIKey, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return approval.APIKey{}, approval.Internal(err)
	}
	scopes := slices.Clone(nk.Scopes)
	slices.Sort(scopes)
	groups := slices.Clone(nk.Groups)
	if groups == nil {
		groups = []string{}
	}
	key := approval.APIKey{
		ID: id.String(), Name: nk.Name, Prefix: prefix, Hash: hash,
		Scopes: slices.Compact(scopes), Groups: groups, Origin: origin, CreatedAt: approval.TruncateTime(k.now()),
	}
	if nk.ExpiresAt != nil {
		t := approval.TruncateTime(*nk.ExpiresAt)
		key.ExpiresAt = &t
	}
	return key, nil
}

// List returns every key, revoked ones included, without secrets.
func (k *Keys) List(ctx context.Context) ([]approval.APIKey, error) { return k.store.ListAPIKeys(ctx) }

// find returns the stored key with the given id, revoked or not; an id
// that is not a canonical UUID or not stored is a KindNotFound error.
func (k *Keys) find(ctx context.Context, id string) (approval.APIKey, error) {
	if u, err := uuid.Parse(id); err != nil || u.String() != id {
		return approval.APIKey{}, approval.NotFound("api key")
	}
	keys, err := k.store.ListAPIKeys(ctx)
	if err != nil {
		return approval.APIKey{}, err
	}
	for _, key := range keys {
		if key.ID == id {
			return key, nil
		}
	}
	return approval.APIKey{}, approval.NotFound("api key")
}

// Revoke revokes the key with the given id; it returns KindNotFound for an
// unknown id. A live key synced from a secret file is a KindConflict error:
// removing its file revokes it. The bootstrap admin key may be revoked: at
// the next start Bootstrap stores APPROVALD_ADMIN_KEY again, unless it was
// this key, which it then refuses; without it, Bootstrap generates a new
// admin key if no other admin key is live.
func (k *Keys) Revoke(ctx context.Context, id string) error {
	key, err := k.find(ctx, id)
	if err != nil {
		return err
	}
	if key.Origin == approval.KeyOriginFile && key.RevokedAt == nil {
		return approval.Errorf(approval.KindConflict, approval.CodeConflict,
			"API key %q comes from a secret file: remove its file instead", key.Name)
	}
	return k.revoke(ctx, id)
}

// revoke revokes the key with the given id and forgets the cached keys.
func (k *Keys) revoke(ctx context.Context, id string) error {
	err := k.store.RevokeAPIKey(ctx, id, approval.TruncateTime(k.now()))
	k.forget()
	return err
}

// forget clears the cache, after a key was revoked or replaced.
func (k *Keys) forget() {
	k.mu.Lock()
	clear(k.cache)
	k.mu.Unlock()
}

// Rotate gives the live key with the given id a new secret, which it
// returns with the key record and which is never available again; the old
// secret stops working at once in this process and within the cache TTL in
// others. The id, name, scopes, groups and expiry stay; the last use is
// cleared. An unknown or revoked key is a KindNotFound error; the bootstrap
// admin key, a key synced from a file and an expired key are KindConflict
// errors.
func (k *Keys) Rotate(ctx context.Context, id string) (approval.APIKey, string, error) {
	key, err := k.find(ctx, id)
	if err != nil {
		return approval.APIKey{}, "", err
	}
	now := approval.TruncateTime(k.now())
	switch {
	case key.RevokedAt != nil:
		return approval.APIKey{}, "", approval.NotFound("api key")
	case key.Origin == approval.KeyOriginBootstrap:
		return approval.APIKey{}, "", approval.Errorf(approval.KindConflict, approval.CodeConflict,
			"the bootstrap admin key is managed by configuration: set APPROVALD_ADMIN_KEY, or create another admin key and revoke this one")
	case key.Origin == approval.KeyOriginFile:
		return approval.APIKey{}, "", approval.Errorf(approval.KindConflict, approval.CodeConflict,
			"API key %q is managed by its secret file: change the key in the file", key.Name)
	case key.Expired(now):
		return approval.APIKey{}, "", approval.Errorf(approval.KindConflict, approval.CodeConflict,
			"API key %q has expired: create a new key", key.Name)
	}
	secret, err := GenerateKey()
	if err != nil {
		return approval.APIKey{}, "", approval.Internal(err)
	}
	rotated, err := k.store.RotateAPIKey(ctx, id, HashKey(secret), prefixOf(secret), now)
	k.forget()
	if err != nil {
		return approval.APIKey{}, "", err
	}
	return *rotated, secret, nil
}

var (
	errBadKey     = approval.Errorf(approval.KindUnauthenticated, approval.CodeUnauthenticated, "invalid or revoked API key")
	errExpiredKey = approval.Errorf(approval.KindUnauthenticated, approval.CodeUnauthenticated, "API key expired")
)

// Authenticate returns the principal of the API key secret. An unknown or
// revoked key is a KindUnauthenticated error that does not repeat the key;
// so is an expired key, whose error says so.
//
// It records the key's last use, at most once a minute per key in this
// process, in a goroutine of its own, so that no request waits for the
// write; Close waits for those in flight.
func (k *Keys) Authenticate(ctx context.Context, secret string) (approval.Principal, error) {
	if secret == "" || len(secret) > maxSecretLen {
		return approval.Principal{}, errBadKey
	}
	h := HashKey(secret)
	now := k.now()
	if c, ok := k.cached(h, now); ok {
		k.touch(c.id, nil, now)
		return c.principal, nil
	}
	key, err := k.store.APIKeyByHash(ctx, h)
	if approval.KindOf(err) == approval.KindNotFound {
		return approval.Principal{}, errBadKey
	}
	if err != nil {
		return approval.Principal{}, err
	}
	if subtle.ConstantTimeCompare([]byte(key.Hash), []byte(h)) != 1 {
		return approval.Principal{}, errBadKey
	}
	if key.Expired(now) {
		return approval.Principal{}, errExpiredKey
	}
	p := key.Principal()
	k.remember(h, key, p, now)
	k.touch(key.ID, key.LastUsedAt, now)
	return p, nil
}

func (k *Keys) cached(hash string, now time.Time) (cachedKey, bool) {
	if k.cacheTTL <= 0 {
		return cachedKey{}, false
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	c, ok := k.cache[hash]
	if !ok || !now.Before(c.expires) {
		return cachedKey{}, false
	}
	return c, true
}

// remember caches p, the principal of key, until the cache TTL has passed
// or the key expires, whichever is sooner.
func (k *Keys) remember(hash string, key *approval.APIKey, p approval.Principal, now time.Time) {
	if k.cacheTTL <= 0 {
		return
	}
	expires := now.Add(k.cacheTTL)
	if key.ExpiresAt != nil && key.ExpiresAt.Before(expires) {
		expires = *key.ExpiresAt
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.cache == nil || len(k.cache) >= maxCachedKeys {
		k.cache = make(map[string]cachedKey)
	}
	k.cache[hash] = cachedKey{principal: p, id: key.ID, expires: expires}
}

// touch records that the key id was used at now, unless this process did
// so less than touchEvery ago or the store's lastUsed (nil: unknown) is
// that recent. The write runs in a goroutine with a context of its own —
// the request's may end first — and a failure is only logged.
func (k *Keys) touch(id string, lastUsed *time.Time, now time.Time) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return
	}
	if k.touched == nil || len(k.touched) >= maxCachedKeys {
		k.touched = make(map[string]time.Time)
	}
	last := k.touched[id]
	if lastUsed != nil && lastUsed.After(last) {
		last = *lastUsed
	}
	if now.Sub(last) < touchEvery {
		k.touched[id] = last
		return
	}
	k.touched[id] = now
	at := approval.TruncateTime(now)
	k.touching.Go(func() {
		ctx, cancel := context.WithTimeout(context.Background(), touchTimeout)
		defer cancel()
		if err := k.store.TouchAPIKey(ctx, id, at); err != nil {
			k.log.Warn("recording the last use of an API key failed", "key_id", id, "err", err)
		}
	})
}

// Close waits for the last uses being recorded and stops recording new
// ones; authentication goes on working. Call it before closing the store.
func (k *Keys) Close() {
	k.mu.Lock()
	k.closed = true
	k.mu.Unlock()
	k.touching.Wait()
}

// Bootstrap makes sure an admin can log in. With configured set (from
// APPROVALD_ADMIN_KEY), that key becomes the admin key, replacing an earlier
// admin key of another value; a configured key that was revoked, or that is
// another key's secret, is refused. Without it, if no live admin-scoped key
// exists, a key is generated and written once to out — its only appearance.
// Either is stored with origin "bootstrap". The configured key's public
// prefix is a random id starting with ConfiguredPrefix, as its first
// characters are secret (a configured key an earlier version stored with
// them gets one). Several instances may bootstrap at once: the one whose
// insert loses the race sees the winner's key on its next look.
func (k *Keys) Bootstrap(ctx context.Context, configured string, out io.Writer) error {
	if configured != "" && len(configured) < MinKeyLen {
		return fmt.Errorf("APPROVALD_ADMIN_KEY must be at least %d characters", MinKeyLen)
	}
	var err error
	for range 3 {
		if err = k.bootstrap(ctx, configured, out); approval.KindOf(err) != approval.KindConflict {
			return err
		}
	}
	return err
}

func (k *Keys) bootstrap(ctx context.Context, configured string, out io.Writer) error {
	keys, err := k.store.ListAPIKeys(ctx)
	if err != nil {
		return err
	}
	admin := NewKey{Name: AdminKeyName, Scopes: []approval.Scope{approval.ScopeAdmin}}
	if configured != "" {
		h := HashKey(configured)
		for _, key := range keys {
			if key.RevokedAt == nil && key.Name == AdminKeyName && key.Hash == h {
				return k.hidePrefix(ctx, key, prefixOf(configured))
			}
		}
		// A revoked secret never comes back (a hash is unique among live
		// keys only, so the store would take it).
		for _, key := range keys {
			if key.Hash == h {
				return fmt.Errorf("APPROVALD_ADMIN_KEY is, or was, the secret of a revoked or another API key (%q): configure a new key", key.Name)
			}
		}
		for _, key := range keys {
			if key.RevokedAt != nil || key.Name != AdminKeyName {
				continue
			}
			if err := k.revoke(ctx, key.ID); err != nil {
				return err
			}
		}
		prefix, err := configuredPrefix()
		if err != nil {
			return approval.Internal(err)
		}
		key, err := k.newKey(admin, h, prefix, approval.KeyOriginBootstrap)
		if err != nil {
			return err
		}
		return k.store.CreateAPIKey(ctx, key)
	}
	for _, key := range keys {
		if key.RevokedAt == nil && slices.Contains(key.Scopes, approval.ScopeAdmin) {
			return nil
		}
	}
	key, secret, err := k.create(ctx, admin, approval.KeyOriginBootstrap)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(out, "approvald: generated the admin API key %q (principal svc:%s); it is shown only now:\n%s\n", key.ID, key.Name, secret)
	return err
}

// hidePrefix gives key, whose secret approvald did not generate, a random
// public prefix if an earlier version stored it with shown, the first
// characters of its secret, as its prefix. A key that another process
// replaced or revoked meanwhile is left alone: its successor has a random
// prefix.
func (k *Keys) hidePrefix(ctx context.Context, key approval.APIKey, shown string) error {
	if key.Prefix != shown {
		return nil
	}
	prefix, err := configuredPrefix()
	if err != nil {
		return approval.Internal(err)
	}
	_, err = k.store.RotateAPIKey(ctx, key.ID, key.Hash, prefix, approval.TruncateTime(k.now()))
	k.forget()
	if approval.KindOf(err) == approval.KindNotFound {
		return nil
	}
	return err
}
