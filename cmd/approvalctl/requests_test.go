package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestCLI_CreateGetListAndApproveWithJSONParsedBack(t *testing.T) {
	t.Parallel()
	p := setup(t)

	var created request
	p.requester.okJSON(&created, "create", "--title", "Pay invoice 42", "--description", "EUR",
		"--payload", `{"invoice":42,"amount":"1200.00"}`, "--subject", "invoice-42")
	if created.Status != "pending" || created.StatusCode != 2 || created.Requester != p.requesterKey.Principal() ||
		compact(created.Payload) != `{"invoice":42,"amount":"1200.00"}` || created.Subject != "invoice-42" {
		t.Fatalf("created %+v", created)
	}

	// The table shows the request; get's table describes it field by field.
	row := p.requester.ok("get", created.ID)
	for _, want := range []string{"Pay invoice 42", "pending (2)", p.requesterKey.Principal(), "waiting for 1 more approval", `"invoice": 42`} {
		if !strings.Contains(row.stdout, want) {
			t.Errorf("get lacks %q:\n%s", want, row.stdout)
		}
	}

	var page struct {
		Items      []request `json:"items"`
		NextCursor *string   `json:"next_cursor"`
	}
	p.requester.okJSON(&page, "list", "--requester", p.requesterKey.Principal())
	if len(page.Items) != 1 || page.Items[0].ID != created.ID || page.NextCursor != nil {
		t.Fatalf("list %+v", page)
	}
	var inbox struct{ Items []request }
	p.reviewer.okJSON(&inbox, "list", "--awaiting-me", "--all")
	found := false
	for _, r := range inbox.Items {
		found = found || r.ID == created.ID
	}
	if !found {
		t.Fatal("the reviewer's inbox lacks the request")
	}

	var approved request
	p.reviewer.okJSON(&approved, "approve", created.ID, "-m", "matches PO 7781", "--if-match", "1")
	if approved.Status != "approved" || len(approved.Reviews) != 1 || approved.Reviews[0].Comment != "matches PO 7781" {
		t.Fatalf("approved %+v", approved)
	}
	yml := p.requester.ok("get", created.ID, "-o", "yaml").stdout
	if !strings.Contains(yml, "status: approved\n") || !strings.Contains(yml, "  amount: \"1200.00\"\n") {
		t.Fatalf("yaml:\n%s", yml)
	}
	if id := p.requester.ok("get", created.ID, "-o", "name").stdout; id != created.ID+"\n" {
		t.Fatalf("-o name printed %q", id)
	}
}

func TestCLI_CreateFromAYAMLFileWithThePayloadOnStdin(t *testing.T) {
	t.Parallel()
	p := setup(t)
	dep := p.create("--title", "the dependency")
	file := filepath.Join(t.TempDir(), "request.yaml")
	if err := os.WriteFile(file, []byte("title: From a file\ndescription: written in YAML\nsubject: release-7\npayload:\n  ignored: true\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	var r request
	p.requester.input(`{"release": 7, "notes": "first"}`).okJSON(&r,
		"create", "-f", file, "--payload-file", "-", "--deadline", "48h", "--depends-on", dep)
	if r.Title != "From a file" || r.Description != "written in YAML" || r.Subject != "release-7" {
		t.Fatalf("fields from the file: %+v", r)
	}
	if compact(r.Payload) != `{"release":7,"notes":"first"}` {
		t.Fatalf("payload from stdin: %s", r.Payload)
	}
	if r.Deadline == nil || time.Until(*r.Deadline) < 47*time.Hour || len(r.DependsOn) != 1 || r.DependsOn[0] != dep {
		t.Fatalf("deadline %v, depends_on %v", r.Deadline, r.DependsOn)
	}

	// A YAML payload file, and a file field approvalctl does not know.
	pf := filepath.Join(t.TempDir(), "payload.yml")
	if err := os.WriteFile(pf, []byte("amount: \"10.00\"\nitems: [a, b]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p.requester.okJSON(&r, "create", "--title", "YAML payload", "--payload-file", pf)
	if compact(r.Payload) != `{"amount":"10.00","items":["a","b"]}` {
		t.Fatalf("payload from YAML: %s", r.Payload)
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("title: x\ntitel: typo\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	res := p.requester.run("create", "-f", bad)
	if res.code != 1 || !strings.Contains(res.stderr, `unknown field "titel"`) {
		t.Fatalf("a misspelt field: %s", res)
	}
}

func TestCLI_CreateWithTheSameIdempotencyKeyMakesOneRequest(t *testing.T) {
	t.Parallel()
	p := setup(t)
	first := p.create("--title", "Once", "--idempotency-key", "build-4711")
	again := p.create("--title", "Once", "--idempotency-key", "build-4711")
	if first != again {
		t.Fatalf("two requests %s and %s for one key", first, again)
	}
	r := p.requester.run("create", "--title", "Other", "--idempotency-key", "build-4711")
	if r.code != 1 || !strings.Contains(r.stderr, "422 idempotency_key_reused") {
		t.Fatalf("another body with the key: %s", r)
	}
}

func TestCLI_EditCommentCancelAndHistoryVerify(t *testing.T) {
	t.Parallel()
	p := setup(t)
	id := p.create("--title", "Draft", "--deadline", "2h")

	var r request
	p.requester.okJSON(&r, "edit", id, "--title", "Final", "--payload", `{"v":2}`, "--clear", "deadline", "--if-match", "1")
	if r.Title != "Final" || compact(r.Payload) != `{"v":2}` || r.Deadline != nil || r.Version != 2 {
		t.Fatalf("edited %+v", r)
	}
	p.requester.okJSON(&r, "comment", id, "see ticket 7")
	if r.Comment != "see ticket 7" {
		t.Fatalf("commented %+v", r)
	}
	p.requester.okJSON(&r, "cancel", id, "-m", "not needed")
	if r.Status != "cancelled" {
		t.Fatalf("cancelled %+v", r)
	}
	if res := p.requester.run("edit", id, "--title", "Again"); res.code != 1 || !strings.Contains(res.stderr, "409 invalid_transition: cannot change title of a request that is cancelled") {
		t.Fatalf("edit after cancel: %s", res)
	}
	if res := p.requester.run("edit", id); res.code != 1 || !strings.Contains(res.stderr, "nothing to change") {
		t.Fatalf("edit without changes: %s", res)
	}

	hist := p.requester.ok("history", id).stdout
	for _, want := range []string{"create", "edit", "comment", "cancel", p.requesterKey.Principal()} {
		if !strings.Contains(hist, want) {
			t.Errorf("history lacks %q:\n%s", want, hist)
		}
	}
	var h struct {
		Items []struct {
			Seq    int    `json:"seq"`
			Action string `json:"action"`
		} `json:"items"`
		Verified bool `json:"verified"`
	}
	p.requester.okJSON(&h, "history", id)
	if len(h.Items) != 4 || h.Items[3].Action != "cancel" || !h.Verified {
		t.Fatalf("history %+v", h)
	}
	var v struct {
		Entries        int    `json:"entries"`
		Verified       bool   `json:"verified"`
		ServerVerified bool   `json:"server_verified"`
		Head           string `json:"head"`
	}
	p.requester.okJSON(&v, "history", "verify", "--local", id)
	if v.Entries != 4 || !v.Verified || !v.ServerVerified || len(v.Head) != 64 {
		t.Fatalf("verify --local %+v", v)
	}
}

func TestCLI_EventsReplayTheChangesOfARequest(t *testing.T) {
	t.Parallel()
	p := setup(t)
	id := p.create("--title", "Watched")
	p.requester.ok("comment", id, "hello")
	p.reviewer.ok("reject", id)

	out := p.requester.ok("events", "--request", id, "--after", "0", "--count", "3", "-o", "json").stdout
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var types []string
	for _, l := range lines {
		var ev struct {
			Type string  `json:"type"`
			Data request `json:"data"`
		}
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			t.Fatalf("not one JSON event per line: %q", l)
		}
		if ev.Data.ID != id {
			t.Fatalf("event of another request: %s", l)
		}
		types = append(types, ev.Type)
	}
	if strings.Join(types, ",") != "approval.created,approval.commented,approval.decided" {
		t.Fatalf("events %v", types)
	}

	table := p.requester.ok("events", "--request", id, "--after", "0", "--count", "1", "--type", "approval.decided").stdout
	if !strings.HasPrefix(table, "SEQ ") || !strings.Contains(table, "approval.decided") || !strings.Contains(table, "rejected") {
		t.Fatalf("events table:\n%s", table)
	}
}

// compact returns JSON without insignificant space.
func compact(raw json.RawMessage) string {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return string(raw)
	}
	return b.String()
}
