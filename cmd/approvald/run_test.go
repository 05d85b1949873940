package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

const testAdminKey = "apd_test-admin-key-0123456789abcdefghijklmnop"

// startServer runs approvald exactly as main does, on port 0, and returns its
// base URL. The server stops when the test ends.
func startServer(t *testing.T, env map[string]string) string {
	t.Helper()
	base, _, _ := startServerLogs(t, env)
	return base
}

// startServerLogs is startServer that also returns the server's log and a
// function that stops the server (waiting for run to return), which the
// test may call before it ends.
func startServerLogs(t *testing.T, env map[string]string) (string, *syncBuffer, func()) {
	t.Helper()
	if env == nil {
		env = map[string]string{}
	}
	if _, ok := env["APPROVALD_DATABASE"]; !ok {
		env["APPROVALD_DATABASE"] = "sqlite:" + filepath.Join(t.TempDir(), "approvald.db")
	}
	env["APPROVALD_ADDR"] = "127.0.0.1:0"
	if _, ok := env["APPROVALD_RATE_LIMIT"]; !ok {
		env["APPROVALD_RATE_LIMIT"] = "-1" // the tests drive load from one key; httpapi tests the limits
	}
	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan net.Addr, 1)
	done := make(chan error, 1)
	var stdout syncBuffer
	stderr := &syncBuffer{}
	go func() {
		done <- run(ctx, nil, func(k string) string { return env[k] }, &stdout, stderr, func(a net.Addr) { addr <- a })
	}()
	var base string
	select {
	case a := <-addr:
		base = "http://" + a.String()
	case err := <-done:
		t.Fatalf("run returned before listening: %v\n%s", err, stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatal("server did not start")
	}
	stop := sync.OnceFunc(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
		if strings.Contains(stderr.String(), testAdminKey) {
			t.Error("the admin key appeared in the log")
		}
	})
	t.Cleanup(stop)
	for i := 0; ; i++ {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if i > 100 {
			t.Fatalf("healthz never answered: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return base, stderr, stop
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type client struct {
	t    *testing.T
	base string
	key  string
	hc   *http.Client // nil: http.DefaultClient
}

// do sends a JSON request and decodes the JSON answer into a map.
func (c client) do(method, path string, body any, hdr ...string) (int, http.Header, map[string]any) {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, c.base+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.key != "" {
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	hc := c.hc
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &m); err != nil {
			c.t.Fatalf("%s %s: body is not a JSON object: %s", method, path, raw)
		}
	}
	return resp.StatusCode, resp.Header, m
}

func (c client) must(want int, method, path string, body any, hdr ...string) map[string]any {
	c.t.Helper()
	got, _, m := c.do(method, path, body, hdr...)
	if got != want {
		c.t.Fatalf("%s %s: status %d, want %d: %v", method, path, got, want, m)
	}
	return m
}

func (c client) as(key string) client { c.key = key; return c }

func TestEndToEnd_ApproveFlowWithHistory(t *testing.T) {
	base := startServer(t, map[string]string{"APPROVALD_ADMIN_KEY": testAdminKey})
	admin := client{t: t, base: base, key: testAdminKey}

	newKey := func(name string, scopes ...string) string {
		m := admin.must(201, "POST", "/v1/api-keys", map[string]any{"name": name, "scopes": scopes})
		return m["key"].(string)
	}
	billing := admin.as(newKey("billing", "approvals:create", "approvals:read", "approvals:review"))
	ops := admin.as(newKey("ops", "approvals:review", "approvals:read"))

	code, hdr, created := billing.do("POST", "/v1/approvals", map[string]any{
		"title": "Pay invoice 42", "payload": map[string]any{"invoice": 42, "amount": "1200.00"},
	})
	if code != 201 {
		t.Fatalf("create: %d %v", code, created)
	}
	id := created["id"].(string)
	if hdr.Get("Location") != "/v1/approvals/"+id || hdr.Get("ETag") != `"1"` {
		t.Fatalf("create headers: Location %q ETag %q", hdr.Get("Location"), hdr.Get("ETag"))
	}
	if created["status"] != "pending" || created["status_code"] != float64(2) || created["requester"] != "svc:billing" {
		t.Fatalf("created: %v", created)
	}

	p := billing.must(403, "POST", "/v1/approvals/"+id+"/reviews", map[string]any{"decision": "approve"})
	if p["code"] != "self_review" {
		t.Fatalf("self review: %v", p)
	}

	approved := ops.must(200, "POST", "/v1/approvals/"+id+"/reviews", map[string]any{"decision": "approve", "comment": "looks right"})
	if approved["status"] != "approved" || approved["status_code"] != float64(3) {
		t.Fatalf("after approve: %v", approved)
	}

	p = billing.must(409, "PATCH", "/v1/approvals/"+id, map[string]any{"title": "Pay invoice 43"})
	if p["code"] != "invalid_transition" || !strings.Contains(p["detail"].(string), "approved") {
		t.Fatalf("title edit: %v", p)
	}
	commented := billing.must(200, "PATCH", "/v1/approvals/"+id, map[string]any{"comment": "paid on 2030-01-02"})
	if commented["comment"] != "paid on 2030-01-02" || commented["version"] != float64(3) {
		t.Fatalf("comment edit: %v", commented)
	}

	h := ops.must(200, "GET", "/v1/approvals/"+id+"/history", nil)
	items := h["items"].([]any)
	var steps []string
	for _, it := range items {
		e := it.(map[string]any)
		steps = append(steps, fmt.Sprintf("%s by %s", e["action"], e["actor"]))
	}
	want := "create by svc:billing, approve by svc:ops, comment by svc:billing"
	if strings.Join(steps, ", ") != want || h["verified"] != true {
		t.Fatalf("history = %q (verified %v), want %q", strings.Join(steps, ", "), h["verified"], want)
	}

	got := ops.must(200, "GET", "/v1/approvals/"+id, nil)
	if got["status"] != "approved" || got["comment"] != "paid on 2030-01-02" {
		t.Fatalf("final read: %v", got)
	}
}

func TestEndToEnd_GeneratedAdminKeyPrintedOnce(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "a.db")
	var out1, out2 syncBuffer
	for i, out := range []*syncBuffer{&out1, &out2} {
		ctx, cancel := context.WithCancel(context.Background())
		env := map[string]string{"APPROVALD_DATABASE": db, "APPROVALD_ADDR": "127.0.0.1:0"}
		started := make(chan net.Addr, 1)
		done := make(chan error, 1)
		go func() {
			done <- run(ctx, nil, func(k string) string { return env[k] }, out, io.Discard, func(a net.Addr) { started <- a })
		}()
		a := <-started
		if i == 0 {
			key := strings.TrimSpace(out.String()[strings.LastIndex(strings.TrimSpace(out.String()), "\n")+1:])
			c := client{t: t, base: "http://" + a.String(), key: key}
			c.must(200, "GET", "/v1/api-keys", nil)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if !strings.Contains(out1.String(), "apd_") {
		t.Fatalf("first start printed no key: %q", out1.String())
	}
	if out2.String() != "" {
		t.Fatalf("second start printed %q", out2.String())
	}
}

func TestRun_RejectsBadConfiguration(t *testing.T) {
	cases := map[string]map[string]string{
		"short admin key": {"APPROVALD_ADMIN_KEY": "short"},
		"bad database":    {"APPROVALD_DATABASE": "mysql://x"},
		"bad duration":    {"APPROVALD_SWEEP_INTERVAL": "soon"},
		"bad log level":   {"APPROVALD_LOG_LEVEL": "loud"},
	}
	for name, env := range cases {
		t.Run(name, func(t *testing.T) {
			if _, ok := env["APPROVALD_DATABASE"]; !ok {
				env["APPROVALD_DATABASE"] = "sqlite:" + filepath.Join(t.TempDir(), "a.db")
			}
			env["APPROVALD_ADDR"] = "127.0.0.1:0"
			err := run(context.Background(), nil, func(k string) string { return env[k] }, io.Discard, io.Discard, nil)
			if err == nil {
				t.Fatal("run accepted the configuration")
			}
		})
	}
}

func jsonBody(s string) io.Reader { return strings.NewReader(s) }

// TestRun_JWTFromAStaticHS256Secret: with APPROVALD_JWT_HS256_SECRET_FILE
// set, a token signed with that secret authenticates a person, and the key
// files in SECRETS_MNT_PATH/approvald-keys authenticate services.
func TestRun_JWTFromAStaticHS256SecretAndKeyFiles(t *testing.T) {
	dir := t.TempDir()
	secret := "a-shared-secret-of-at-least-32-bytes-0123456789"
	if err := os.WriteFile(filepath.Join(dir, "jwt.secret"), []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	keyDir := filepath.Join(dir, "approvald-keys")
	fileKey := "apd_file-key-for-the-deployer-0123456789abcdef"
	if err := os.MkdirAll(keyDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(keyDir, "deployer"), []byte(fileKey+"\nscopes: approvals:create, approvals:read\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	base := startServer(t, map[string]string{
		"APPROVALD_ADMIN_KEY": testAdminKey, "APPROVALD_JWT_HS256_SECRET_FILE": filepath.Join(dir, "jwt.secret"),
		"APPROVALD_OIDC_AUDIENCE": "approvald", "SECRETS_MNT_PATH": dir,
	})
	tok := hs256(t, secret, map[string]any{"sub": "alice", "aud": "approvald", "scope": "approvals:read", "exp": time.Now().Add(time.Hour).Unix(), "iat": time.Now().Unix()})
	for name, cred := range map[string]string{"jwt": tok, "key file": fileKey} {
		req, _ := http.NewRequest("GET", base+"/v1/approvals", nil)
		req.Header.Set("Authorization", "Bearer "+cred)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Errorf("%s: %d", name, res.StatusCode)
		}
	}
	bad := hs256(t, "another-secret-that-is-long-enough-0123456789", map[string]any{"sub": "alice", "aud": "approvald", "exp": time.Now().Add(time.Hour).Unix()})
	req, _ := http.NewRequest("GET", base+"/v1/approvals", nil)
	req.Header.Set("Authorization", "Bearer "+bad)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 401 {
		t.Errorf("a token signed with another secret: %d", res.StatusCode)
	}
}

// hs256 signs claims as a compact HS256 JWT.
func hs256(t *testing.T, secret string, claims map[string]any) string {
	t.Helper()
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	head := enc(map[string]string{"alg": "HS256", "typ": "JWT"}) + "." + enc(claims)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(head))
	return head + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}
