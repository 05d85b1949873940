package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"approvald/approval"
	"approvald/auth"
	"approvald/engine"
	"approvald/store/sqlite"
)

// testAPI returns a handler on a fresh database, a key with every scope
// but admin, and a second, reviewer-only key.
func testAPI(f testing.TB) (http.Handler, string, string) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(f.TempDir(), "fuzz.db"))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	keys := auth.NewKeys(st, time.Now)
	_, requester, err := keys.Create(ctx, auth.NewKey{Name: "fuzz", Scopes: []approval.Scope{approval.ScopeCreate, approval.ScopeRead, approval.ScopeReview}})
	if err != nil {
		f.Fatal(err)
	}
	_, reviewer, err := keys.Create(ctx, auth.NewKey{Name: "reviewer", Scopes: []approval.Scope{approval.ScopeReview}})
	if err != nil {
		f.Fatal(err)
	}
	return New(Deps{Engine: engine.New(st), Keys: keys, Limits: noLimits}), requester, reviewer
}

func serve(h http.Handler, method, path, key string, body []byte, hdr ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+key)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

// checkNoServerError fails on a 5xx or on an answer that is not JSON.
func checkNoServerError(t *testing.T, what string, w *httptest.ResponseRecorder, input []byte) {
	t.Helper()
	if w.Code >= 500 {
		t.Fatalf("%s: status %d for input %q: %s", what, w.Code, input, w.Body)
	}
	if w.Code != http.StatusNotModified && !json.Valid(w.Body.Bytes()) {
		t.Fatalf("%s: answer is not JSON for input %q: %s", what, input, w.Body)
	}
}

func FuzzCreateBody(f *testing.F) {
	for _, seed := range []string{
		`{"title":"Pay invoice 42","payload":{"amount":42}}`,
		`{"title":"t","description":"d","deadline":"2099-01-01T00:00:00Z"}`,
		`{"title":"t","deadline":"2099-13-01T00:00:00Z"}`,
		`{"title":"","payload":null}`,
		`{"title":"\u0000","payload":{"a":[1,2,{"b":null}]}}`,
		`{"title":"t","service_rule":"x"}`,
		`{"title":"t"} trailing`,
		`[{"title":"t"}]`,
		`{"title":1e400}`,
		`"just a string"`,
		``,
	} {
		f.Add([]byte(seed))
	}
	h, key, _ := testAPI(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		w := serve(h, "POST", "/v1/approvals", key, body)
		checkNoServerError(t, "create", w, body)
		if w.Code != http.StatusCreated {
			if w.Header().Get("Content-Type") != "application/problem+json" {
				t.Fatalf("refusal without a problem body: %d %s", w.Code, w.Body)
			}
			return
		}
		var created approval.Request
		if err := json.Unmarshal(w.Body.Bytes(), &created); err != nil {
			t.Fatal(err)
		}
		got := serve(h, "GET", "/v1/approvals/"+created.ID, key, nil)
		if got.Code != http.StatusOK || !bytes.Equal(bytes.TrimSpace(got.Body.Bytes()), bytes.TrimSpace(w.Body.Bytes())) {
			t.Fatalf("read back differs:\ncreated %s\nread    %s", w.Body, got.Body)
		}
	})
}

func FuzzPatchBody(f *testing.F) {
	for _, seed := range []string{
		`{"title":"new"}`,
		`{"comment":"note","description":null}`,
		`{"deadline":null,"service_rule":null}`,
		`{"deadline":"2099-01-01T00:00:00+02:00"}`,
		`{"payload":{"amount":43}}`,
		`{"payload":"x"}`,
		`{"status":"approved"}`,
		`{"title":null}`,
		`{}`,
		`{"title":"a","title":"b"}`,
		`null`,
	} {
		f.Add([]byte(seed), false)
	}
	h, key, reviewer := testAPI(f)
	f.Fuzz(func(t *testing.T, body []byte, decideFirst bool) {
		w := serve(h, "POST", "/v1/approvals", key, []byte(`{"title":"fuzz","payload":{"n":1}}`))
		if w.Code != http.StatusCreated {
			t.Fatalf("setup create: %d %s", w.Code, w.Body)
		}
		var r approval.Request
		_ = json.Unmarshal(w.Body.Bytes(), &r)
		if decideFirst {
			if w := serve(h, "POST", "/v1/approvals/"+r.ID+"/reviews", reviewer, []byte(`{"decision":"approve"}`)); w.Code != 200 {
				t.Fatalf("setup review: %d %s", w.Code, w.Body)
			}
		}
		before := serve(h, "GET", "/v1/approvals/"+r.ID, key, nil)
		w = serve(h, "PATCH", "/v1/approvals/"+r.ID, key, body)
		checkNoServerError(t, "patch", w, body)
		after := serve(h, "GET", "/v1/approvals/"+r.ID, key, nil)
		if w.Code != http.StatusOK && !bytes.Equal(before.Body.Bytes(), after.Body.Bytes()) {
			t.Fatalf("refused patch %q (%d) changed the request", body, w.Code)
		}
		var got approval.Request
		_ = json.Unmarshal(after.Body.Bytes(), &got)
		if got.Status != r.Status && !decideFirst {
			t.Fatalf("patch changed the status to %s", got.Status)
		}
		h := serve(h, "GET", "/v1/approvals/"+r.ID+"/history", key, nil)
		var page struct {
			Items    []approval.HistoryEntry `json:"items"`
			Verified bool                    `json:"verified"`
		}
		if err := json.NewDecoder(io.Reader(h.Body)).Decode(&page); err != nil || !page.Verified || int64(len(page.Items)) != got.Version {
			t.Fatalf("history after patch %q: %v verified=%v entries=%d version=%d", body, err, page.Verified, len(page.Items), got.Version)
		}
	})
}
