package engine_test

import (
	"context"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"approvald/approval"
	"approvald/engine"
	"approvald/store/sqlite"
)

// TestProperty_OnlyTheAdapterOpensItsRuns drives the engine through random
// creates (random subjects, some under another case, random service rules,
// random origins, by random principals, admins included) and random edits
// moving requests between service rules. Afterwards every request whose
// subject an adapter reserves ("cr8tor:", "cr8tor#", "github:") was opened
// by that adapter, and every request on the GitHub App's rule was opened by
// the App: nobody else can open, or move a request to, what approves a
// CR8TOR publish or a GitHub deployment with a policy of their choosing.
// With the checks removed from approval.New or engine.Create/Edit it fails.
func TestProperty_OnlyTheAdapterOpensItsRuns(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "origin.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	eng := engine.New(st)
	for _, r := range []approval.ServiceRule{
		{Name: "github", URL: "https://api.github.example", Format: approval.FormatGitHub},
		{Name: "plain", URL: "http://127.0.0.1:1/plain", Format: approval.FormatStandard},
	} {
		if _, err := eng.CreateRule(ctx, engineAdmin, r); err != nil {
			t.Fatal(err)
		}
	}
	subjects := []string{"", "invoice-7", "cr8tor:p/20250101_000000", "CR8TOR:p/x", "cr8tor#ab:p", "github:o/r/disclosure/1",
		"GitHub:o/r/signoff/2", "githubx:o", "cr8torish", " github:o/r/e/3"}
	rules := []string{"", "plain", "github"}
	origins := []approval.Origin{approval.OriginAPI, approval.OriginAPI, approval.OriginCR8TOR, approval.OriginGitHub}
	people := []approval.Principal{
		engineAdmin,
		{ID: "svc:ci", Scopes: []approval.Scope{approval.ScopeCreate, approval.ScopeRead}},
		{ID: "user:x", Scopes: []approval.Scope{approval.ScopeCreate, approval.ScopeReview}},
	}
	// opened records the origin of every request created.
	opened := map[string]approval.Origin{}
	runs, steps := 30, 40
	if testing.Short() {
		runs = 8
	}
	for run := range runs {
		rng := rand.New(rand.NewPCG(uint64(run), 22))
		var ids []string
		for range steps {
			p := people[rng.IntN(len(people))]
			if len(ids) > 0 && rng.IntN(3) == 0 {
				id := ids[rng.IntN(len(ids))]
				rule := rules[rng.IntN(len(rules))]
				_, _ = eng.Edit(ctx, p, id, approval.Patch{ServiceRule: approval.Some(rule)}, nil)
				continue
			}
			d := approval.Draft{
				Title: "t", Subject: subjects[rng.IntN(len(subjects))], ServiceRule: rules[rng.IntN(len(rules))],
				Origin: origins[rng.IntN(len(origins))],
			}
			c, err := eng.Create(ctx, p, d, "", nil)
			if err != nil {
				if approval.KindOf(err) != approval.KindInvalid {
					t.Fatalf("run %d: create %+v: %v", run, d, err)
				}
				continue
			}
			ids = append(ids, c.Request.ID)
			opened[c.Request.ID] = d.Origin
		}
	}
	all, _, err := eng.List(ctx, approval.Filter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != len(opened) {
		t.Fatalf("%d requests stored, %d created", len(all), len(opened))
	}
	seen := map[string]int{}
	for _, r := range all {
		o := opened[r.ID]
		if want, ok := approval.SubjectOrigin(r.Subject); ok && o != want {
			t.Errorf("request %s with subject %q was opened by origin %q, not %q", r.ID, r.Subject, o, want)
		}
		if r.ServiceRule == "github" && o != approval.OriginGitHub {
			t.Errorf("request %s on the GitHub App's rule was opened by origin %q (subject %q)", r.ID, o, r.Subject)
		}
		key := "other"
		switch {
		case strings.HasPrefix(strings.ToLower(r.Subject), "cr8tor"):
			key = "cr8tor"
		case strings.HasPrefix(strings.ToLower(r.Subject), "github:"):
			key = "github"
		}
		seen[key]++
	}
	// The sequences must have reached every kind, or the property says little.
	for _, k := range []string{"cr8tor", "github", "other"} {
		if seen[k] == 0 {
			t.Errorf("no request with a %s subject was ever opened: the sequences are too short", k)
		}
	}
}
