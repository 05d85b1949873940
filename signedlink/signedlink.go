// Package signedlink makes and checks the tokens of the links that
// notifications carry to the web UI. A token binds a request, its version
// and content digest, the recipient and an expiry, under an HMAC-SHA256
// key named by an id, so that keys can rotate: the first key signs, every
// key verifies. A token proves only that approvald sent the link to that
// recipient; it never authenticates anyone (the UI still requires the
// recipient to be signed in).
package signedlink

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// MinKeyBytes is the shortest secret a key may have.
const MinKeyBytes = 32

// maxTokenLen bounds what Verify reads.
const maxTokenLen = 2048

// Claims are what a token binds.
type Claims struct {
	RequestID string    `json:"rid"`
	Version   int64     `json:"v"`
	Digest    string    `json:"d"`
	Recipient string    `json:"sub"`
	Expires   time.Time `json:"exp"`
}

// Key is one signing key.
type Key struct {
	ID     string
	Secret []byte
}

// Errors of Verify.
var (
	ErrMalformed = errors.New("the link's token is malformed")
	ErrSignature = errors.New("the link's token is not signed by this server")
	ErrExpired   = errors.New("the link has expired")
)

// Signer signs with its first key and verifies with all of them.
type Signer struct {
	keys []Key
}

// New returns a Signer over keys, the first of which signs.
func New(keys ...Key) (*Signer, error) {
	if len(keys) == 0 {
		return nil, errors.New("at least one link key is needed")
	}
	seen := map[string]bool{}
	for _, k := range keys {
		switch {
		case !validID(k.ID):
			return nil, fmt.Errorf("link key id %q: use 1-32 letters, digits, '-' or '_'", k.ID)
		case seen[k.ID]:
			return nil, fmt.Errorf("link key id %q is used twice", k.ID)
		case len(k.Secret) < MinKeyBytes:
			return nil, fmt.Errorf("link key %q: the secret must be at least %d bytes", k.ID, MinKeyBytes)
		}
		seen[k.ID] = true
	}
	return &Signer{keys: keys}, nil
}

// Random returns a Signer with one random key, for a server that was given
// none: its links stop working when it restarts.
func Random() *Signer {
	b := make([]byte, MinKeyBytes)
	_, _ = rand.Read(b) // never fails
	return &Signer{keys: []Key{{ID: "ephemeral", Secret: b}}}
}

// ParseKeys reads keys written as "id:secret" separated by commas or
// newlines, the secret in standard or URL-safe base64 (padded or not); the
// first signs. It never shows a secret in its errors.
func ParseKeys(spec string) ([]Key, error) {
	var keys []Key
	for i, part := range strings.FieldsFunc(spec, func(r rune) bool { return r == ',' || r == '\n' || r == '\r' }) {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		id, secret, ok := strings.Cut(part, ":")
		if !ok {
			return nil, fmt.Errorf("link key %d: write it as id:base64-secret", i+1)
		}
		b, err := decode(strings.TrimSpace(secret))
		if err != nil {
			return nil, fmt.Errorf("link key %q: the secret is not base64", strings.TrimSpace(id))
		}
		keys = append(keys, Key{ID: strings.TrimSpace(id), Secret: b})
	}
	if len(keys) == 0 {
		return nil, errors.New("no link key given")
	}
	return keys, nil
}

func decode(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, errors.New("not base64")
}

func validID(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	return !strings.ContainsFunc(s, func(r rune) bool {
		return !(r == '-' || r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9'))
	})
}

const version = "l1"

// Sign returns the token of c.
func (s *Signer) Sign(c Claims) string {
	c.Expires = c.Expires.UTC().Truncate(time.Second)
	body, _ := json.Marshal(c) // Claims always marshal
	k := s.keys[0]
	head := version + "." + k.ID + "." + base64.RawURLEncoding.EncodeToString(body)
	return head + "." + base64.RawURLEncoding.EncodeToString(mac(k.Secret, head))
}

func mac(secret []byte, msg string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

// Verify checks token's signature under any of the keys and its expiry at
// now, and returns its claims.
func (s *Signer) Verify(token string, now time.Time) (Claims, error) {
	if len(token) > maxTokenLen {
		return Claims{}, ErrMalformed
	}
	parts := strings.Split(token, ".")
	if len(parts) != 4 || parts[0] != version {
		return Claims{}, ErrMalformed
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[3])
	if err != nil {
		return Claims{}, ErrMalformed
	}
	head := strings.Join(parts[:3], ".")
	var key *Key
	for i := range s.keys {
		if s.keys[i].ID == parts[1] {
			key = &s.keys[i]
		}
	}
	if key == nil || !hmac.Equal(sig, mac(key.Secret, head)) {
		return Claims{}, ErrSignature
	}
	body, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return Claims{}, ErrMalformed
	}
	var c Claims
	if err := json.Unmarshal(body, &c); err != nil || c.RequestID == "" || c.Recipient == "" {
		return Claims{}, ErrMalformed
	}
	if !now.Before(c.Expires) {
		return c, ErrExpired
	}
	return c, nil
}
