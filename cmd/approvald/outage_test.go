package main

import (
	"net/http"
	"testing"

	"approvald/store/postgres/pgtest"
)

// With PostgreSQL gone, every face answers 503 with a Retry-After — what
// the API document promises and what the Go client and approvalctl retry —
// and readiness says so; never 500.
func TestOutage_DatabaseDownIs503WithRetryAfter(t *testing.T) {
	t.Parallel()
	dsn, outage := pgtest.URLWithOutage(t)
	base := startServer(t, map[string]string{"APPROVALD_ADMIN_KEY": testAdminKey, "APPROVALD_DATABASE": dsn})
	admin := client{t: t, base: base, key: testAdminKey}
	created := admin.must(201, "POST", "/v1/approvals", map[string]any{"title": "before the outage"})
	id := created["id"].(string)
	outage.Cut()

	for _, c := range []struct{ method, path string }{
		{"POST", "/v1/approvals"},
		{"GET", "/v1/approvals/" + id},
		{"GET", "/readyz"},
	} {
		var body any
		if c.method == "POST" {
			body = map[string]any{"title": "during the outage"}
		}
		status, hdr, m := admin.do(c.method, c.path, body)
		if status != http.StatusServiceUnavailable || m["code"] != "unavailable" {
			t.Errorf("%s %s during the outage: %d %v, want 503 unavailable", c.method, c.path, status, m)
		}
		if c.path != "/readyz" && hdr.Get("Retry-After") == "" {
			t.Errorf("%s %s during the outage: no Retry-After", c.method, c.path)
		}
	}
	req, _ := http.NewRequest("GET", base+"/request?id="+id, nil)
	req.Header.Set("Authorization", testAdminKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Errorf("legacy GET /request during the outage: %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
}
