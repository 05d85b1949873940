package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"approvald/approval"
	"approvald/engine"
	"approvald/store/sqlite"
)

var (
	stepReviewer = approval.Principal{ID: "user:reviewer", Scopes: []approval.Scope{approval.ScopeReview, approval.ScopeRead}}
	stepAdmin    = approval.Principal{ID: "user:dpo", Scopes: []approval.Scope{approval.ScopeAdmin}}
)

// stagedFiles are the files the fake Publish service reports for a
// package, each with its SHA-512 and size.
var stagedFiles = []stagedFile{
	{"data/outputs/public/concept.csv", sha512Of('1'), size(1585152)},
	{"data/outputs/public/person.csv", sha512Of('2'), size(2048)},
	{"data/outputs/public/visit.parquet", sha512Of('3'), size(4096)},
	{"data/outputs/public/notes.duckdb", sha512Of('4'), size(8192)},
}

// stepBundle is a gateway with the engine's approval step, in front of
// fake upstreams whose package answer lists stagedFiles.
type stepBundle struct {
	*bundle
	eng *engine.Engine
	ctx context.Context
	run Run
}

// setupStep starts a store, an engine and a gateway whose approval step
// opens requests under policy (a stored policy, when not nil).
func setupStep(t *testing.T, policy *approval.Policy) *stepBundle {
	t.Helper()
	t.Parallel()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "g.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	eng := engine.New(st)
	step := &Step{Engine: eng}
	if policy != nil {
		if _, err := eng.CreatePolicy(ctx, stepAdmin, approval.StoredPolicy{Name: "cr8tor", Policy: *policy}); err != nil {
			t.Fatal(err)
		}
		step.PolicyName = "cr8tor"
	}
	b := setup(t, func(c *Config, d *Deps) { c.Approval, d.Approval = ApprovalPublish, step })
	pkg, err := json.Marshal(map[string]any{"status": "success", "payload": json.RawMessage(stagedJSON(stagedFiles...))})
	if err != nil {
		t.Fatal(err)
	}
	// The publish answer lists the staged files as published, unchanged.
	pub, err := json.Marshal(map[string]any{"status": "success", "payload": map[string]any{"data_published": stagedFiles}})
	if err != nil {
		t.Fatal(err)
	}
	b.pub.setRespond(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/data-publish/package":
			answer(http.StatusOK, string(pkg))(w, r)
		case "/data-publish/publish":
			answer(http.StatusOK, string(pub))(w, r)
		default:
			answer(http.StatusNotFound, `{"detail":"Not Found"}`)(w, r)
		}
	})
	return &stepBundle{bundle: b, eng: eng, ctx: ctx, run: Run{"Pr004", "20250205_010101"}}
}

// pack packages the run and returns its approval request.
func (b *stepBundle) pack(t *testing.T) *approval.Request {
	t.Helper()
	if status, got := b.post(t, RoutePackage, clientKey, example(t, "package.request.json")); status != http.StatusOK {
		t.Fatalf("package: %d %s", status, got)
	}
	rs, _, err := b.eng.List(b.ctx, approval.Filter{Subject: Subject(b.run), Limit: 1})
	if err != nil || len(rs) != 1 {
		t.Fatalf("the run's request: %v %v", rs, err)
	}
	return rs[0]
}

// review decides r item by item: the items named in rejected are
// rejected, the others approved.
func (b *stepBundle) review(t *testing.T, r *approval.Request, rejected ...string) *approval.Request {
	t.Helper()
	in := approval.ReviewInput{Decision: approval.DecisionReject, Comment: "looked at every file"}
	for _, it := range r.Items {
		d := approval.DecisionApprove
		if slices.Contains(rejected, it.ID) {
			d = approval.DecisionReject
		} else {
			in.Decision = approval.DecisionApprove
		}
		in.Items = append(in.Items, approval.ItemDecision{ID: it.ID, Decision: d})
	}
	got, err := b.eng.Review(b.ctx, stepReviewer, r.ID, in, nil)
	if err != nil {
		t.Fatalf("review: %v", err)
	}
	return got
}

// publish calls publish and returns the status and body of the answer.
func (b *stepBundle) publish(t *testing.T) (int, []byte) {
	t.Helper()
	return b.post(t, RoutePublish, clientKey, example(t, "publish.request.json"))
}

func TestStep_PackagedFilesAreTheRequestsItems(t *testing.T) {
	b := setupStep(t, nil)

	r := b.pack(t)

	var want []string
	for _, f := range stagedFiles {
		want = append(want, fmt.Sprintf("%s %s %d sha512:%s", f.FilePath, f.FilePath, *f.TotalBytes, f.HashValue))
	}
	var got []string
	for _, it := range r.Items {
		got = append(got, fmt.Sprintf("%s %s %d %s", it.ID, it.Name, it.Size, it.Digest))
	}
	if !slices.Equal(got, want) {
		t.Fatalf("items =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if r.Items[0].MediaType != "text/csv" || r.Items[3].MediaType != "" {
		t.Errorf("media types %q and %q, want text/csv and none", r.Items[0].MediaType, r.Items[3].MediaType)
	}
	// Before any decision, publish is refused as today.
	status, body := b.publish(t)
	wantError(t, status, body, http.StatusForbidden, NotApproved(b.run, r.ID, approval.StatusPending).Message)
}

func TestStep_EveryFileApprovedPublishes(t *testing.T) {
	b := setupStep(t, nil)
	r := b.pack(t)

	if got := b.review(t, r); got.Status != approval.StatusApproved {
		t.Fatalf("status after approving every file: %s", got.Status)
	}
	status, body := b.publish(t)

	if status != http.StatusOK {
		t.Fatalf("publish: %d %s, want 200", status, body)
	}
	if n := len(b.pub.requests()); n != 2 {
		t.Errorf("the publish service got %d calls, want the package and the publish", n)
	}
	// What was published is the request's outcome; every file was approved.
	got, err := b.eng.Get(b.ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	var outcome map[string]json.RawMessage
	if err := json.Unmarshal(got.Outcome, &outcome); err != nil || outcome["published"] == nil || outcome["not_approved"] != nil {
		t.Errorf("outcome %s (%v), want the published files and nothing not approved", got.Outcome, err)
	}
}

func TestStep_PartialApprovalRefusesPublishNamingTheRejectedFiles(t *testing.T) {
	b := setupStep(t, &approval.Policy{AllowPartial: true, Rules: approval.DefaultPolicy().Rules})
	r := b.pack(t)

	got := b.review(t, r, stagedFiles[1].FilePath, stagedFiles[3].FilePath)
	if got.Status != approval.StatusApproved || got.ItemOutcome == nil || !got.ItemOutcome.Partial {
		t.Fatalf("after a partial approval: status %s, outcome %+v", got.Status, got.ItemOutcome)
	}
	status, body := b.publish(t)

	wantError(t, status, body, http.StatusForbidden, fmt.Sprintf(
		"Approval request %s for project Pr004 run 20250205_010101 is approved, but not for every file: 2 of its files were rejected (%s, %s); publish is allowed only when every file is approved.",
		r.ID, stagedFiles[1].FilePath, stagedFiles[3].FilePath))
	if n := len(b.pub.requests()); n != 1 {
		t.Errorf("a refused publish reached the publish service (%d calls)", n)
	}
}

func TestStep_RevokedApprovalRefusesPublish(t *testing.T) {
	b := setupStep(t, nil)
	r := b.pack(t)
	b.review(t, r)
	if _, err := b.eng.Revoke(b.ctx, stepAdmin, r.ID, "the participants' consent was withdrawn", nil); err != nil {
		t.Fatalf("revoke: %v", err)
	}

	status, body := b.publish(t)

	wantError(t, status, body, http.StatusForbidden, fmt.Sprintf(
		"Approval request %s for project Pr004 run 20250205_010101 was revoked by user:dpo: the participants' consent was withdrawn. Publish is refused; package the run again to ask for a new approval.", r.ID))
	if n := len(b.pub.requests()); n != 1 {
		t.Errorf("a refused publish reached the publish service (%d calls)", n)
	}
	// Packaging again opens a new request, which tells its reviewers.
	next := b.pack(t)
	if next.ID == r.ID || next.Status != approval.StatusPending ||
		!strings.Contains(next.Description, "The approval of the run's previous request, "+r.ID+", was revoked: the participants' consent was withdrawn") {
		t.Errorf("the new request: %s %s %q", next.ID, next.Status, next.Description)
	}
}

func TestStep_ChangesRequestedIsNotApprovedYet(t *testing.T) {
	b := setupStep(t, nil)
	r := b.pack(t)
	got, err := b.eng.Review(b.ctx, stepReviewer, r.ID, approval.ReviewInput{Decision: approval.DecisionRequestChanges, Comment: "remove the free-text column"}, nil)
	if err != nil || got.Status != approval.StatusChangesRequested {
		t.Fatalf("request changes: %v %v", got, err)
	}

	status, body := b.publish(t)

	wantError(t, status, body, http.StatusForbidden, NotApproved(b.run, r.ID, approval.StatusChangesRequested).Message)
	// Packaging again replaces the request sent back.
	next := b.pack(t)
	if prev, err := b.eng.Get(b.ctx, r.ID); err != nil || next.ID == r.ID || prev.Status.Settled() != approval.StatusCancelled {
		t.Errorf("after packaging again: the old request is %v (%v), the new one %s", prev.Status, err, next.ID)
	}
}
