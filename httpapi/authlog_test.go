package httpapi

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"approvald/auth"
)

// logBuffer is a log destination safe for concurrent use.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// leaked returns a run of 8 characters of s that the log holds, or "".
func leaked(log, s string) string {
	for i := 0; i+8 <= len(s); i++ {
		if strings.Contains(log, s[i:i+8]) {
			return s[i : i+8]
		}
	}
	return ""
}

// TestAuthFailureLog_NoCredentialCharactersBeyondAPublicPrefix presents
// refused credentials of every kind and reads the log: a key in the shape
// approvald generates shows its public prefix, as key listings do, and
// nothing more; a JWT, a key a person chose (even one starting with apd_)
// and garbage show nothing at all.
func TestAuthFailureLog_NoCredentialCharactersBeyondAPublicPrefix(t *testing.T) {
	is := newIssuer(t)
	var logs logBuffer
	log := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	f := setupWith(t, withTokens(t, is), func(d *Deps) { d.Logger = log })

	generated, err := auth.GenerateKey() // approvald's shape, but unknown here
	if err != nil {
		t.Fatal(err)
	}
	other, err := auth.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	secretOnly := map[string]string{
		"a JWT of another issuer":           newIssuer(t).token(t, "alice", nil, "approvals:read", time.Hour),
		"an expired JWT":                    is.token(t, "alice", nil, "approvals:read", -time.Hour),
		"a key a person chose":              "my-admin-password-chosen-by-a-person",
		"a person's key that starts apd_":   "apd_chosen-by-a-person-0123456789abcdef",
		"a generated key with one too many": other + "Q",
	}
	for _, cred := range secretOnly {
		apiClient{t: t, base: f.url, key: cred}.raw("GET", "/v1/approvals", nil)
	}
	apiClient{t: t, base: f.url, key: generated}.raw("GET", "/v1/approvals", nil)

	out := logs.String()
	if n := strings.Count(out, "authentication failed"); n != len(secretOnly)+1 {
		t.Fatalf("%d failed authentications logged, want %d:\n%s", n, len(secretOnly)+1, out)
	}
	for what, cred := range secretOnly {
		if run := leaked(out, cred); run != "" {
			t.Errorf("the log shows %q of %s", run, what)
		}
	}
	prefix := generated[:len(auth.KeyPrefix)+6]
	if !strings.Contains(out, `"key_prefix":"`+prefix+`"`) {
		t.Errorf("the log does not show the public prefix %s of a generated key:\n%s", prefix, out)
	}
	if run := leaked(out, generated[len(prefix)-7:]); run != "" {
		t.Errorf("the log shows %q of a generated key, beyond its public prefix", run)
	}
}
