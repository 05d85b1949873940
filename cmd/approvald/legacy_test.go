package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"approvald/store/postgres/pgtest"
)

// legacyCall sends a legacy request with the raw key as Authorization and
// decodes the JSON answer.
func legacyCall(t *testing.T, base, key, method, path string, body any) (int, http.Header, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, base+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Authorization", key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("%s %s: %d, body is not a JSON object: %s", method, path, resp.StatusCode, raw)
	}
	return resp.StatusCode, resp.Header, m
}

// TestEndToEnd_LegacyRoutesBesideTheNativeAPI runs approvald as main does
// and uses the legacy stash routes on the same listener: create, approve,
// the legacy callback, the native view of the same request; the native
// API's own 404 and 405 answers are unchanged.
func TestEndToEnd_LegacyRoutesBesideTheNativeAPI(t *testing.T) {
	for name, db := range map[string]func(t *testing.T) string{
		"sqlite":   func(t *testing.T) string { return "sqlite:" + filepath.Join(t.TempDir(), "a.db") },
		"postgres": func(t *testing.T) string { return pgtest.URL(t) },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			testLegacyRoutes(t, db(t))
		})
	}
}

func testLegacyRoutes(t *testing.T, db string) {
	base := startServer(t, map[string]string{"APPROVALD_ADMIN_KEY": testAdminKey, "APPROVALD_DATABASE": db})
	admin := client{t: t, base: base, key: testAdminKey}
	newKey := func(name string, scopes ...string) string {
		return admin.must(201, "POST", "/v1/api-keys", map[string]any{"name": name, "scopes": scopes})["key"].(string)
	}
	billing := newKey("billing", "approvals:create", "approvals:read")
	ops := newKey("ops", "approvals:review", "approvals:read")

	var mu sync.Mutex
	var got []map[string]any
	var auths []string
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m map[string]any
		_ = json.NewDecoder(r.Body).Decode(&m)
		mu.Lock()
		got, auths = append(got, m), append(auths, r.Header.Get("Authorization"))
		mu.Unlock()
	}))
	defer rc.Close()
	rule := admin.must(201, "POST", "/v1/service-rules", map[string]any{
		"name": "stash", "url": rc.URL, "format": "legacy", "api_key": "rule-key",
	})
	ruleID := rule["id"].(float64)

	if code, _, m := legacyCall(t, base, "", "GET", "/status", nil); code != 200 || m["status"] != "ok" {
		t.Fatalf("GET /status: %d %v", code, m)
	}
	code, _, m := legacyCall(t, base, billing, "POST", "/request", map[string]any{
		"title": "deploy", "description": "v2 to prod", "service_rule": ruleID,
		"deadline": time.Now().Add(time.Hour).Format(time.RFC3339), "comment": "asap",
	})
	if code != 200 {
		t.Fatalf("POST /request: %d %v", code, m)
	}
	item := m["approval_item"].(map[string]any)
	id := item["id"].(string)
	if item["status"] != float64(2) || item["service_rule"] != ruleID || item["comment"] != "asap" {
		t.Fatalf("created %v", item)
	}
	_, _, list := legacyCall(t, base, ops, "GET", "/requests", nil)
	if items := list["approval_items"].([]any); len(items) != 1 || items[0].(map[string]any)["id"] != id {
		t.Fatalf("pending list %v", list)
	}
	if code, _, m := legacyCall(t, base, ops, "PUT", "/request", map[string]any{"id": id, "status": 3}); code != 200 {
		t.Fatalf("approve: %d %v", code, m)
	}
	for i := 0; ; i++ {
		_, _, m := legacyCall(t, base, ops, "GET", "/request?id="+id, nil)
		if m["approval_items"].(map[string]any)["status"] == float64(3) {
			break
		}
		if i > 500 {
			t.Fatalf("never approved: %v", m)
		}
		time.Sleep(20 * time.Millisecond)
	}
	mu.Lock()
	if len(got) != 1 || got[0]["id"] != id || got[0]["status"] != float64(3) || auths[0] != "rule-key" {
		t.Errorf("callbacks %v with %v", got, auths)
	}
	mu.Unlock()

	native := admin.as(billing).must(200, "GET", "/v1/approvals/"+id, nil)
	if native["status"] != "approved" || native["service_rule"] != "stash" || native["comment"] != "asap" {
		t.Errorf("native view %v", native)
	}

	// Each API keeps its own error format and routing.
	if code, _, m := legacyCall(t, base, billing, "DELETE", "/request", nil); code != 405 || m["error"] == nil {
		t.Errorf("DELETE /request: %d %v", code, m)
	}
	for _, tc := range []struct {
		method, path string
		want         int
	}{{"GET", "/nowhere", 404}, {"GET", "/request/", 404}, {"DELETE", "/v1/approvals", 405}} {
		code, hdr, p := admin.do(tc.method, tc.path, nil)
		if code != tc.want || hdr.Get("Content-Type") != "application/problem+json" || p["code"] == nil {
			t.Errorf("%s %s: %d %s %v", tc.method, tc.path, code, hdr.Get("Content-Type"), p)
		}
	}
}
