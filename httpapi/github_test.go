package httpapi

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"approvald/approval"
)

func TestGitHubWebhook_WithoutAnAppIsNotFound(t *testing.T) {
	t.Parallel()
	req := httptest.NewRequest("POST", "/v1/github/webhook", strings.NewReader(`{"zen":"hi"}`))
	req.Header.Set("Content-Type", "application/json")
	res := serveAndCheck(t, New(Deps{}), req)
	if res.StatusCode != http.StatusNotFound {
		t.Fatalf("status %d, want 404", res.StatusCode)
	}
	var p Problem
	if err := json.NewDecoder(res.Body).Decode(&p); err != nil {
		t.Fatal(err)
	}
	if p.Code != approval.CodeNotFound || !strings.Contains(p.Detail, "--github-app-id") {
		t.Errorf("problem %+v: want not_found naming --github-app-id", p)
	}
}

func TestGitHubWebhook_HandlerReadsTheBodyAndItsErrorsAreProblems(t *testing.T) {
	t.Parallel()
	body := `{"action":"requested","environment":"production"}`
	var got string
	h := New(Deps{GitHubWebhook: func(w http.ResponseWriter, r *http.Request) error {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			return err
		}
		got = string(b)
		if r.Header.Get("X-Hub-Signature-256") != "sha256=good" {
			return approval.Errorf(approval.KindUnauthenticated, approval.CodeUnauthenticated, "X-Hub-Signature-256 does not match the body")
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		_, err = io.WriteString(w, `{"approval_id":"0190a5f0-0000-7000-8000-000000000001","subject":"github:octo/app/production/1","status":"pending","duplicate":false}`)
		return err
	}})

	for _, tc := range []struct {
		signature string
		status    int
	}{{"sha256=good", http.StatusAccepted}, {"sha256=bad", http.StatusUnauthorized}} {
		got = ""
		req := httptest.NewRequest("POST", "/v1/github/webhook", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-GitHub-Event", "deployment_protection_rule")
		req.Header.Set("X-Hub-Signature-256", tc.signature)
		res := serveAndCheck(t, h, req)
		if res.StatusCode != tc.status {
			t.Errorf("signature %s: status %d, want %d", tc.signature, res.StatusCode, tc.status)
		}
		if got != body {
			t.Errorf("signature %s: the handler read %q, want the whole body %q", tc.signature, got, body)
		}
		if tc.status == http.StatusUnauthorized {
			if ct := res.Header.Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("a refused delivery answers %q, want application/problem+json", ct)
			}
		}
	}
}
