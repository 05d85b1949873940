package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// lifecycleRequest is a request with the lifecycle fields the tests read.
type lifecycleRequest struct {
	request
	Justification string `json:"justification"`
	Cycle         int    `json:"cycle"`
	Items         []struct {
		ID     string `json:"id"`
		Digest string `json:"digest"`
	} `json:"items"`
	ItemOutcome *struct {
		Approved []struct{ ID, Digest string } `json:"approved"`
		Rejected []struct{ ID, Digest string } `json:"rejected"`
		Partial  bool                          `json:"partial"`
	} `json:"item_outcome"`
	Revocation *struct {
		By     string `json:"by"`
		Reason string `json:"reason"`
	} `json:"revocation"`
}

func TestCLI_RequestChangesResubmitApproveRevoke(t *testing.T) {
	t.Parallel()
	p := setup(t)
	id := p.create("--title", "Release outputs", "--justification", "the paper is due", "--payload", `{"rows":10}`)

	if r := p.reviewer.run("request-changes", id); r.code != 1 || !strings.Contains(r.stderr, "--comment") {
		t.Fatalf("request-changes without a comment: %s", r)
	}
	var sent lifecycleRequest
	p.reviewer.okJSON(&sent, "request-changes", id, "--comment", "drop the small cells")
	if sent.Status != "changes_requested" || sent.Justification != "the paper is due" {
		t.Fatalf("after request-changes: %+v", sent)
	}
	if r := p.requester.run("wait", id, "--timeout", "30s"); r.code != 3 || !strings.Contains(r.stderr, "drop the small cells") {
		t.Fatalf("wait on a request sent back: %s", r)
	}
	p.requester.ok("edit", id, "--payload", `{"rows":8}`)
	var again lifecycleRequest
	p.requester.okJSON(&again, "resubmit", id)
	if again.Status != "pending" || again.Cycle != 1 {
		t.Fatalf("after resubmit: %s cycle %d", again.Status, again.Cycle)
	}
	p.reviewer.ok("approve", id)
	if r := p.admin.run("revoke", id); r.code != 1 || !strings.Contains(r.stderr, "--reason") {
		t.Fatalf("revoke without a reason: %s", r)
	}
	var revoked lifecycleRequest
	p.admin.okJSON(&revoked, "revoke", id, "--reason", "a name in row 3")
	if revoked.Status != "revoked" || revoked.Revocation == nil || revoked.Revocation.Reason != "a name in row 3" {
		t.Fatalf("after revoke: %+v", revoked)
	}
	got := p.requester.ok("get", id).stdout
	for _, want := range []string{"revoked (11)", "a name in row 3", "the paper is due", "Resubmitted:", "request_changes (void)"} {
		if !strings.Contains(got, want) {
			t.Errorf("get lacks %q:\n%s", want, got)
		}
	}
	if r := p.requester.run("wait", id, "--timeout", "30s"); r.code != 2 {
		t.Fatalf("wait on a revoked request: %s, want exit 2", r)
	}
}

func TestCLI_ItemsFromAFileDecidedOneByOne(t *testing.T) {
	t.Parallel()
	p := setup(t)
	file := filepath.Join(t.TempDir(), "items.yaml")
	items := `- {id: a, name: a.csv, size: 3, digest: "sha256:` + strings.Repeat("a", 64) + `"}
- {id: b, name: b.csv, size: 4, digest: "sha256:` + strings.Repeat("b", 64) + `", metadata: {rows: 2}}
`
	if err := os.WriteFile(file, []byte(items), 0o600); err != nil {
		t.Fatal(err)
	}
	var created lifecycleRequest
	p.requester.okJSON(&created, "create", "--title", "two files", "--items-file", file)
	if len(created.Items) != 2 || created.Items[1].Digest != "sha256:"+strings.Repeat("b", 64) {
		t.Fatalf("created items %+v", created.Items)
	}
	if r := p.reviewer.run("approve", created.ID, "--item", "a"); r.code != 1 || !strings.Contains(r.stderr, "ID=approve") {
		t.Fatalf("a bad --item: %s", r)
	}
	var done lifecycleRequest
	p.reviewer.okJSON(&done, "approve", created.ID, "--item", "a=approve", "--item", "b=approve")
	if done.Status != "approved" || done.ItemOutcome == nil || len(done.ItemOutcome.Approved) != 2 {
		t.Fatalf("after deciding the items: %s %+v", done.Status, done.ItemOutcome)
	}
	if got := p.requester.ok("get", created.ID).stdout; !strings.Contains(got, "Items:") || !strings.Contains(got, "approved") {
		t.Fatalf("get does not show the items' outcome:\n%s", got)
	}
}

func TestCLI_ApproveSeveralIsABatchReview(t *testing.T) {
	t.Parallel()
	p := setup(t)
	one, two := p.create("--title", "one"), p.create("--title", "two")
	decided := p.create("--title", "decided")
	p.admin.ok("reject", decided)

	r := p.reviewer.run("approve", one, two, decided, "-m", "batch", "-o", "json")
	if r.code != 1 || !strings.Contains(r.stderr, "1 of 3 reviews were refused") {
		t.Fatalf("a batch with a refused review: %s", r)
	}
	var out struct {
		Results []struct {
			ID       string            `json:"id"`
			Status   int               `json:"status"`
			Approval *lifecycleRequest `json:"approval"`
			Error    *struct {
				Code string `json:"code"`
			} `json:"error"`
		} `json:"results"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("no JSON (%v):\n%s", err, r.stdout)
	}
	if len(out.Results) != 3 || out.Results[0].Status != 200 || out.Results[0].Approval.Status != "approved" ||
		out.Results[1].Approval.Reviews[0].Comment != "batch" || out.Results[2].Status != 409 || out.Results[2].Error.Code != "invalid_transition" {
		t.Fatalf("results %s", r.stdout)
	}
	table := p.reviewer.run("reject", p.create("--title", "three"), p.create("--title", "four"))
	if table.code != 0 || strings.Count(table.stdout, "rejected") != 2 || !strings.HasPrefix(table.stdout, "ID") {
		t.Fatalf("a batch rejection as a table: %s", table)
	}
	if r := p.reviewer.run("approve", one, two, "--if-match", "1"); r.code != 1 || !strings.Contains(r.stderr, "--if-match applies to one request") {
		t.Fatalf("--if-match with several ids: %s", r)
	}
}
