package main

import (
	"net/http"
	"strings"
	"testing"
)

// The CR8TOR routes carry X-Request-Id (the caller's, or a new one) and
// write an access line, as every other face does.
func TestGateway_RequestIDAndAccessLine(t *testing.T) {
	t.Parallel()
	base, logs, _ := startServerLogs(t, map[string]string{"APPROVALD_ADMIN_KEY": testAdminKey, "APPROVALSERVICEAPIKEY": "gw-key-0123456789abcdef"})
	req, _ := http.NewRequest("POST", base+"/project/validate", strings.NewReader(`{}`))
	req.Header.Set("X-Request-Id", "cr8tor-call-1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("X-Request-Id"); got != "cr8tor-call-1" {
		t.Errorf("X-Request-Id = %q, want the caller's", got)
	}
	if !strings.Contains(logs.String(), `"request_id":"cr8tor-call-1"`) {
		t.Errorf("no access line for the gateway call in the log:\n%s", logs.String())
	}
}
