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
	"regexp"
	"slices"
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

// prefixOf returns the part of a key that may be shown to identify it.
func prefixOf(key string) string {
	const n = len(KeyPrefix) + 6
	if len(key) < n {
		return key
	}
	return key[:n]
}

// Keys issues and checks API keys.
type Keys struct {
	store approval.Store
	now   func() time.Time

	// cache remembers recently authenticated keys by hash for cacheTTL, so
	// that a busy client costs no database read per request. Revoking a key
	// clears this instance's cache at once; other instances sharing the
	// database stop accepting it within cacheTTL.
	cacheTTL time.Duration
	mu       sync.Mutex
	cache    map[string]cachedKey
}

type cachedKey struct {
	principal approval.Principal
	expires   time.Time
}

// maxCachedKeys bounds the cache; past it, the cache starts afresh.
const maxCachedKeys = 10_000

// NewKeys returns the API key service on store s, with no cache.
func NewKeys(s approval.Store, now func() time.Time) *Keys {
	return &Keys{store: s, now: now}
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
}

// Create validates nk and stores a new key. It returns the key record and the
// secret, which is never available again. A KindInvalid error lists the bad
// fields; a live key with the same name is a KindConflict error.
func (k *Keys) Create(ctx context.Context, nk NewKey) (approval.APIKey, string, error) {
	var v approval.Validation
	if !namePattern.MatchString(nk.Name) {
		v.Add("name", "must be 1-63 characters of a-z, 0-9, '.', '_' or '-', starting with a letter or digit")
	}
	if len(nk.Scopes) == 0 {
		v.Add("scopes", "must name at least one of %v", approval.Scopes())
	}
	for _, s := range nk.Scopes {
		if !approval.ValidScope(s) {
			v.Add("scopes", "unknown scope %q; known scopes: %v", s, approval.Scopes())
		}
	}
	if len(nk.Groups) > 100 {
		v.Add("groups", "must have at most 100 entries")
	}
	for _, g := range nk.Groups {
		if !groupPattern.MatchString(g) {
			v.Add("groups", "invalid group %q: 1-128 characters of letters, digits and . _ : / -", g)
			break
		}
	}
	if err := v.Err(); err != nil {
		return approval.APIKey{}, "", err
	}
	secret, err := GenerateKey()
	if err != nil {
		return approval.APIKey{}, "", approval.Internal(err)
	}
	key, err := k.insert(ctx, nk, secret)
	return key, secret, err
}

func (k *Keys) insert(ctx context.Context, nk NewKey, secret string) (approval.APIKey, error) {
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
		ID: id.String(), Name: nk.Name, Prefix: prefixOf(secret), Hash: HashKey(secret),
		Scopes: slices.Compact(scopes), Groups: groups, CreatedAt: approval.TruncateTime(k.now()),
	}
	return key, k.store.CreateAPIKey(ctx, key)
}

// List returns every key, revoked ones included, without secrets.
func (k *Keys) List(ctx context.Context) ([]approval.APIKey, error) { return k.store.ListAPIKeys(ctx) }

// Revoke revokes the key with the given id; it returns KindNotFound for an unknown id.
func (k *Keys) Revoke(ctx context.Context, id string) error {
	if u, err := uuid.Parse(id); err != nil || u.String() != id {
		return approval.NotFound("api key")
	}
	err := k.store.RevokeAPIKey(ctx, id, approval.TruncateTime(k.now()))
	k.mu.Lock()
	clear(k.cache)
	k.mu.Unlock()
	return err
}

var errBadKey = approval.Errorf(approval.KindUnauthenticated, approval.CodeUnauthenticated, "invalid or revoked API key")

// Authenticate returns the principal of the API key secret. An unknown or
// revoked key is a KindUnauthenticated error that does not repeat the key.
func (k *Keys) Authenticate(ctx context.Context, secret string) (approval.Principal, error) {
	if secret == "" || len(secret) > 512 {
		return approval.Principal{}, errBadKey
	}
	h := HashKey(secret)
	if p, ok := k.cached(h); ok {
		return p, nil
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
	p := key.Principal()
	k.remember(h, p)
	return p, nil
}

func (k *Keys) cached(hash string) (approval.Principal, bool) {
	if k.cacheTTL <= 0 {
		return approval.Principal{}, false
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	c, ok := k.cache[hash]
	if !ok || !k.now().Before(c.expires) {
		return approval.Principal{}, false
	}
	return c.principal, true
}

func (k *Keys) remember(hash string, p approval.Principal) {
	if k.cacheTTL <= 0 {
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.cache == nil || len(k.cache) >= maxCachedKeys {
		k.cache = make(map[string]cachedKey)
	}
	k.cache[hash] = cachedKey{principal: p, expires: k.now().Add(k.cacheTTL)}
}

// Bootstrap makes sure an admin can log in. With configured set (from
// APPROVALD_ADMIN_KEY), that key becomes the admin key, replacing an earlier
// admin key of another value. Without it, if no live admin-scoped key
// exists, a key is generated and written once to out — its only appearance.
// Several instances may bootstrap at once: the one whose insert loses the
// race sees the winner's key on its next look.
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
	if configured != "" {
		h := HashKey(configured)
		for _, key := range keys {
			if key.RevokedAt != nil || key.Name != AdminKeyName {
				continue
			}
			if key.Hash == h {
				return nil
			}
			if err := k.Revoke(ctx, key.ID); err != nil {
				return err
			}
		}
		_, err := k.insert(ctx, NewKey{Name: AdminKeyName, Scopes: []approval.Scope{approval.ScopeAdmin}}, configured)
		return err
	}
	for _, key := range keys {
		if key.RevokedAt == nil && slices.Contains(key.Scopes, approval.ScopeAdmin) {
			return nil
		}
	}
	key, secret, err := k.Create(ctx, NewKey{Name: AdminKeyName, Scopes: []approval.Scope{approval.ScopeAdmin}})
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(out, "approvald: generated the admin API key %q (principal svc:%s); it is shown only now:\n%s\n", key.ID, key.Name, secret)
	return err
}
