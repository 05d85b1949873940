package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"approvald/store/postgres/pgtest"
)

// fakePublish is the CR8TOR Publish service on loopback: package stages one
// file, publish publishes it with its SHA-512 hash.
type fakePublish struct {
	srv       *httptest.Server
	published atomic.Int32
}

func newFakePublish(t *testing.T) *fakePublish {
	f := &fakePublish{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("x-api-key") != "publish-key-for-tests" {
			w.WriteHeader(403)
			_, _ = io.WriteString(w, `{"status":"error","payload":{"detail":"bad key"}}`)
			return
		}
		switch r.URL.Path {
		case "/data-publish/package":
			_, _ = io.WriteString(w, `{"status":"success","payload":{"data_retrieved":[{"file_path":"data/outputs/public/concept.csv"}]}}`)
		case "/data-publish/publish":
			f.published.Add(1)
			_, _ = io.WriteString(w, `{"status":"success","payload":{"data_published":[{"file_path":"data/outputs/public/concept.csv","hash_value":"6ed6e817fb78953648324b0b9e44711bb55aa790e22e2353e8af6eae1f182bfdf10f88fc0e1a33c389cc3b73346dc513fde3fda594e3725ad1a3b568a55ff41c","total_bytes":1585152}]}}`)
		default:
			w.WriteHeader(404)
		}
	}))
	t.Cleanup(f.srv.Close)
	return f
}

// gatewayEnv points the gateway at the fake Publish service, with the keys
// in secret files as the original deployment has them.
func gatewayEnv(t *testing.T, publish *fakePublish, approvalStep bool) map[string]string {
	dir := t.TempDir()
	for name, v := range map[string]string{"approvalserviceapikey": "cli-key-for-tests\n", "publishserviceapikey": "publish-key-for-tests", "metadataserviceapikey": "meta"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(v), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	host, port, _ := net.SplitHostPort(strings.TrimPrefix(publish.srv.URL, "http://"))
	env := map[string]string{
		"APPROVALD_ADMIN_KEY": testAdminKey, "SECRETS_MNT_PATH": dir,
		"PUBLISH_CONTAINER_NAME": host, "PUBLISH_CONTAINER_PORT": port,
		"METADATA_CONTAINER_NAME": host, "METADATA_CONTAINER_PORT": port,
	}
	if approvalStep {
		env["APPROVALD_GATEWAY_APPROVAL"] = "publish"
	}
	return env
}

func cr8tor(t *testing.T, base, route, key string, body []byte) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("POST", base+route, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("x-api-key", key)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		t.Fatalf("%s: %v", route, err)
	}
	return res.StatusCode, out
}

// contractBody returns the CR8TOR contract's example body name: from the
// contract beside the project, or from the gateway's copy of it (checked
// against the contract by the gateway's tests).
func contractBody(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "shared", "contracts", "cr8tor", name))
	if err != nil {
		b, err = os.ReadFile(filepath.Join("..", "..", "gateway", "testdata", "cr8tor", name))
	}
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestGateway_ApprovalStepEndToEnd: package → a pending approval request →
// publish refused (403, naming the request) → a reviewer approves →
// publish forwarded → the published files and hashes in the history.
func TestGateway_ApprovalStepEndToEnd(t *testing.T) {
	publish := newFakePublish(t)
	base := startServer(t, gatewayEnv(t, publish, true))
	pkg, pub := contractBody(t, "package.request.json"), contractBody(t, "publish.request.json")

	status, out := cr8tor(t, base, "/project/package", "cli-key-for-tests", pkg)
	if status != 200 || out["status"] != "success" {
		t.Fatalf("package: %d %v", status, out)
	}
	var run struct {
		ProjectName string `json:"project_name"`
		StartTime   string `json:"project_start_time"`
	}
	_ = json.Unmarshal(pkg, &run)
	subject := "cr8tor:" + run.ProjectName + "/" + run.StartTime
	admin := client{t: t, base: base, key: testAdminKey}
	var page struct {
		Items []struct {
			ID, Status, Requester string
			Outcome               json.RawMessage
		}
	}
	admin.expect(200, "GET", "/v1/approvals?subject="+subject, nil, &page)
	if len(page.Items) != 1 || page.Items[0].Status != "pending" || page.Items[0].Requester != "svc:cr8tor" {
		var all map[string]any
		admin.expect(200, "GET", "/v1/approvals", nil, &all)
		t.Fatalf("the run's approval request (subject %q): %+v; all: %v", subject, page.Items, all)
	}
	id := page.Items[0].ID

	status, out = cr8tor(t, base, "/project/publish", "cli-key-for-tests", pub)
	detail := out["payload"].(map[string]any)["detail"].(string)
	if status != 403 || !strings.Contains(detail, id) || !strings.Contains(detail, "pending") || publish.published.Load() != 0 {
		t.Fatalf("publish before approval: %d %q (published %d)", status, detail, publish.published.Load())
	}

	var key struct{ Key string }
	admin.expect(201, "POST", "/v1/api-keys", map[string]any{"name": "data-steward", "scopes": []string{"approvals:review", "approvals:read"}}, &key)
	steward := client{t: t, base: base, key: key.Key}
	steward.expect(200, "POST", "/v1/approvals/"+id+"/reviews", map[string]any{"decision": "approve", "comment": "outputs checked"}, nil)

	status, out = cr8tor(t, base, "/project/publish", "cli-key-for-tests", pub)
	if status != 200 || publish.published.Load() != 1 {
		t.Fatalf("publish after approval: %d %v", status, out)
	}
	var h struct {
		Verified bool
		Items    []struct {
			Action  string
			Actor   string
			Changes json.RawMessage
		}
	}
	admin.expect(200, "GET", "/v1/approvals/"+id+"/history", nil, &h)
	last := h.Items[len(h.Items)-1]
	if !h.Verified || last.Action != "outcome" || !strings.Contains(string(last.Changes), "6ed6e817fb78953648") || !strings.Contains(string(last.Changes), "1585152") {
		t.Fatalf("the history's last entry: %+v", last)
	}

	// A new package of the run supersedes its request: the approved one
	// stays; packaging again opens a new pending one and publish waits again.
	if status, _ := cr8tor(t, base, "/project/package", "cli-key-for-tests", pkg); status != 200 {
		t.Fatalf("package again: %d", status)
	}
	admin.expect(200, "GET", "/v1/approvals?subject="+subject, nil, &page)
	if len(page.Items) != 2 || page.Items[0].Status != "pending" {
		t.Fatalf("after packaging again: %+v", page.Items)
	}
	if status, _ := cr8tor(t, base, "/project/publish", "cli-key-for-tests", pub); status != 403 {
		t.Fatalf("publish after packaging again: %d", status)
	}
	if status, _ := cr8tor(t, base, "/project/package", "cli-key-for-tests", pkg); status != 200 {
		t.Fatal("package a third time")
	}
	admin.expect(200, "GET", "/v1/approvals?subject="+subject, nil, &page)
	if len(page.Items) != 3 || page.Items[1].Status != "cancelled" {
		t.Fatalf("the pending request was not cancelled by the new package: %+v", page.Items)
	}

	// Every call is in the gateway's log. A call is recorded just after it
	// is answered, so the last one may take a moment to appear.
	var calls struct {
		Items []struct {
			Route  string
			Status int
			Caller string
		}
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		admin.expect(200, "GET", "/v1/gateway/calls?project_name="+run.ProjectName, nil, &calls)
		if len(calls.Items) >= 6 || time.Now().After(deadline) {
			break
		}
	}
	if len(calls.Items) != 6 || calls.Items[0].Route != "/project/package" || calls.Items[len(calls.Items)-1].Caller != "svc:cr8tor" {
		t.Fatalf("gateway calls: %+v", calls.Items)
	}
}

// TestGateway_DropInWithoutTheStep: off by default, publish is forwarded as
// the original did, and a native key needs the gateway scope.
func TestGateway_DropInWithoutTheStep(t *testing.T) {
	publish := newFakePublish(t)
	base := startServer(t, gatewayEnv(t, publish, false))
	pub := contractBody(t, "publish.request.json")
	if status, out := cr8tor(t, base, "/project/publish", "cli-key-for-tests", pub); status != 200 || out["status"] != "success" {
		t.Fatalf("publish: %d %v", status, out)
	}
	admin := client{t: t, base: base, key: testAdminKey}
	var reader, gw struct{ Key string }
	admin.expect(201, "POST", "/v1/api-keys", map[string]any{"name": "reader", "scopes": []string{"approvals:read"}}, &reader)
	admin.expect(201, "POST", "/v1/api-keys", map[string]any{"name": "pipeline", "scopes": []string{"gateway"}}, &gw)
	if status, _ := cr8tor(t, base, "/project/publish", reader.Key, pub); status != 403 {
		t.Fatalf("a key without the gateway scope: %d", status)
	}
	if status, _ := cr8tor(t, base, "/project/publish", gw.Key, pub); status != 200 {
		t.Fatalf("a key with the gateway scope: %d", status)
	}
}

// expect sends body as JSON, wants status want, and decodes the answer into out.
func (c client) expect(want int, method, path string, body, out any) {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, c.base+path, rd)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+c.key)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != want {
		c.t.Fatalf("%s %s: %d, want %d: %s", method, path, res.StatusCode, want, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			c.t.Fatalf("%s %s: %v", method, path, err)
		}
	}
}

// TestGateway_OneRunAtATimeAcrossProcesses: two approvald processes on one
// PostgreSQL database get the same run's package at once; the upstream
// holds the first until both have answered: one 200, one 409. Another run
// is not held up.
func TestGateway_OneRunAtATimeAcrossProcesses(t *testing.T) {
	arrived := make(chan struct{}, 4)
	release := make(chan struct{})
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-release
		_, _ = io.WriteString(w, `{"status":"success","payload":{"data_retrieved":[]}}`)
	}))
	defer upstream.Close()
	var once sync.Once
	open := func() { once.Do(func() { close(release) }) }
	defer open()
	env := gatewayEnv(t, &fakePublish{srv: upstream}, false)
	env["APPROVALD_DATABASE"] = pgtest.URL(t)
	a, b := startProcess(t, env), startProcess(t, env)

	body := []byte(`{"project_name":"p1","project_start_time":"20250101_000000"}`)
	first := make(chan int, 1)
	go func() {
		status, _ := cr8tor(t, a, "/project/package", "cli-key-for-tests", body)
		first <- status
	}()
	<-arrived // the first holds the run's lock, upstream
	status, out := cr8tor(t, b, "/project/package", "cli-key-for-tests", body)
	if status != 409 || !strings.Contains(out["payload"].(map[string]any)["detail"].(string), "already in progress") {
		t.Fatalf("the second package of the run, on the other process: %d %v", status, out)
	}
	other := make(chan int, 1)
	go func() {
		status, _ := cr8tor(t, b, "/project/package", "cli-key-for-tests", []byte(`{"project_name":"p2","project_start_time":"20250101_000000"}`))
		other <- status
	}()
	<-arrived // another run reaches the upstream while the first is held
	release <- struct{}{}
	release <- struct{}{}
	if s := <-first; s != 200 {
		t.Fatalf("the first package: %d", s)
	}
	if s := <-other; s != 200 {
		t.Fatalf("the other run: %d", s)
	}
	open() // the upstream answers at once from now on
	if status, _ := cr8tor(t, b, "/project/package", "cli-key-for-tests", body); status != 200 {
		t.Fatalf("the run's package after the first finished: %d", status)
	}
}
