package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"approvald/approval"
	"approvald/engine"
	"approvald/store/sqlite"
)

// TestProperty_RequesterCannotWeakenTheMandatedReview drives the engine
// through random sequences of creates, edits (title, payload, service rule,
// policy), reviews and cancels by random principals with random scopes,
// against stored, rule-mandated and inline policies. After every sequence,
// with a checker written apart from the domain's evaluator, every request
// that reached approved or acknowledged_approved must satisfy every rule of
// the policy its service rule (or an admin) mandates, by approvals of its
// final content digest from eligible principals other than the requester.
func TestProperty_RequesterCannotWeakenTheMandatedReview(t *testing.T) {
	t.Parallel()
	runs, steps := 40, 50
	if testing.Short() {
		runs = 10
	}
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "trust.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	eng := engine.New(st)

	// The admin's world: stored policies, and rules that mandate some.
	stored := map[string]approval.Policy{
		"cfo-only":       {Rules: []approval.Rule{{Name: "cfo", MinApprovals: 1, Principals: []string{"user:cfo"}}}},
		"two-of-finance": {Rules: []approval.Rule{{Name: "finance", MinApprovals: 2, Groups: []string{"finance"}}}},
		"self-service":   {Rules: []approval.Rule{{Name: "anyone", MinApprovals: 1}}, AllowSelfReview: true},
		"staged": {Stages: []approval.Stage{
			{Name: "owners", Rules: []approval.Rule{{Name: "owner", MinApprovals: 1, Groups: []string{"owners"}}}},
			{Name: "security", Rules: []approval.Rule{{Name: "sec", MinApprovals: 1, Groups: []string{"security"}}}},
		}},
	}
	for name, pol := range stored {
		if _, err := eng.CreatePolicy(ctx, engineAdmin, approval.StoredPolicy{Name: name, Policy: pol}); err != nil {
			t.Fatal(err)
		}
	}
	ruleMandate := map[string]string{"plain": "", "payments": "cfo-only", "treasury": "two-of-finance", "release": "staged"}
	for name, pol := range ruleMandate {
		if _, err := eng.CreateRule(ctx, engineAdmin, approval.ServiceRule{Name: name, URL: "http://127.0.0.1:1/" + name, Format: approval.FormatStandard, Policy: pol}); err != nil {
			t.Fatal(err)
		}
	}
	ruleNames := []string{"", "plain", "payments", "treasury", "release"}
	policyNames := []string{"", "", "cfo-only", "self-service", "staged", "two-of-finance"}

	type who struct {
		id     string
		groups []string
	}
	people := []who{
		{"svc:billing", nil}, {"user:cfo", nil}, {"user:f1", []string{"finance"}}, {"user:f2", []string{"finance"}},
		{"user:o1", []string{"owners"}}, {"user:s1", []string{"security"}}, {"user:x", []string{"marketing"}},
	}
	allScopes := []approval.Scope{approval.ScopeCreate, approval.ScopeReview, approval.ScopeRead}
	principal := func(rng *rand.Rand) approval.Principal {
		w := people[rng.IntN(len(people))]
		p := approval.Principal{ID: w.id, Groups: w.groups}
		for _, s := range allScopes {
			if rng.IntN(3) > 0 {
				p.Scopes = append(p.Scopes, s)
			}
		}
		if rng.IntN(20) == 0 {
			p.Scopes = append(p.Scopes, approval.ScopeAdmin)
		}
		return p
	}
	inline := func(rng *rand.Rand) *approval.Policy {
		if rng.IntN(2) == 0 {
			return nil
		}
		pol := approval.Policy{AllowSelfReview: rng.IntN(4) == 0}
		r := approval.Rule{MinApprovals: 1 + rng.IntN(2)}
		switch rng.IntN(3) {
		case 0:
			r.Principals = []string{people[rng.IntN(len(people))].id, people[rng.IntN(len(people))].id}
			slices.Sort(r.Principals)
			r.Principals = slices.Compact(r.Principals)
		case 1:
			r.Groups = []string{"finance"}
		}
		pol.Rules = []approval.Rule{r}
		return &pol
	}

	checked := 0
	for run := range runs {
		rng := rand.New(rand.NewPCG(uint64(run), 15))
		askedName := map[string]string{} // request id → policy_name asked at create
		var ids []string
		var log []string
		for range steps {
			p := principal(rng)
			switch op := rng.IntN(10); {
			case op < 3 || len(ids) == 0:
				d := approval.Draft{Title: "transfer", Payload: json.RawMessage(fmt.Sprintf(`{"amount":%d}`, rng.IntN(1000))),
					ServiceRule: ruleNames[rng.IntN(len(ruleNames))], PolicyName: policyNames[rng.IntN(len(policyNames))], Policy: inline(rng)}
				if rng.IntN(2) == 0 {
					d.DependsOn = []string{} // stored as none: the digest must not notice
				}
				c, err := eng.Create(ctx, p, d, "", nil)
				log = append(log, fmt.Sprintf("create by %s %v rule=%q name=%q inline=%v: %v", p.ID, p.Scopes, d.ServiceRule, d.PolicyName, d.Policy, err))
				if err == nil {
					ids = append(ids, c.Request.ID)
					askedName[c.Request.ID] = d.PolicyName
				}
			case op < 5:
				id := ids[rng.IntN(len(ids))]
				var patch approval.Patch
				switch rng.IntN(4) {
				case 0:
					patch.Title = approval.Some(fmt.Sprintf("transfer %d", rng.IntN(100)))
				case 1:
					patch.Payload = approval.Some(json.RawMessage(fmt.Sprintf(`{"amount":%d}`, rng.IntN(1000))))
				case 2:
					patch.ServiceRule = approval.Some(ruleNames[rng.IntN(len(ruleNames))])
				case 3:
					if pol := inline(rng); pol != nil {
						patch.Policy = approval.Some(*pol)
					}
				}
				_, err := eng.Edit(ctx, p, id, patch, nil)
				log = append(log, fmt.Sprintf("edit %s by %s %v: %v", id[len(id)-4:], p.ID, p.Scopes, err))
			case op < 9:
				id := ids[rng.IntN(len(ids))]
				d := approval.DecisionApprove
				if rng.IntN(6) == 0 {
					d = approval.DecisionReject
				}
				_, err := eng.Review(ctx, p, id, approval.ReviewInput{Decision: d}, nil)
				log = append(log, fmt.Sprintf("%s %s by %s %v: %v", d, id[len(id)-4:], p.ID, p.Scopes, err))
			default:
				id := ids[rng.IntN(len(ids))]
				_, err := eng.Cancel(ctx, p, id, "", nil)
				log = append(log, fmt.Sprintf("cancel %s by %s: %v", id[len(id)-4:], p.ID, err))
			}
		}
		for _, id := range ids {
			r, err := eng.Get(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if r.Status != approval.StatusApproved && r.Status != approval.StatusAcknowledgedApproved {
				continue
			}
			checked++
			// The mandate, as the admin's world says it, not as the request
			// records it — unless an admin overrode the policy.
			var mandated approval.Policy
			switch {
			case strings.HasPrefix(r.PolicySource, "override:"):
				mandated = r.Policy
			case ruleMandate[r.ServiceRule] != "":
				mandated = stored[ruleMandate[r.ServiceRule]]
			case askedName[id] != "":
				mandated = stored[askedName[id]]
			default:
				mandated = approval.DefaultPolicy()
			}
			if why := unmet(mandated, r); why != "" {
				t.Fatalf("run %d: request %s is %s although %s\nrequest: %+v\nsteps:\n%s", run, id, r.Status, why, r, strings.Join(log, "\n"))
			}
		}
	}
	if checked == 0 {
		t.Fatal("no request was approved in any run: the property was never exercised")
	}
	t.Logf("%d approved requests checked", checked)
}

// unmet returns why r's reviews do not satisfy every rule of mandated, or
// "" when they do: each rule needs its number of distinct approvers among
// the reviews of r's current content that are not void, eligible by
// principal or group (or anyone), and not the requester unless the
// mandated policy allows self-review.
func unmet(mandated approval.Policy, r *approval.Request) string {
	if r.Digest != r.ContentDigest() {
		return fmt.Sprintf("its recorded digest %s is not its content's %s", r.Digest, r.ContentDigest())
	}
	rules := slices.Clone(mandated.Rules)
	for _, s := range mandated.Stages {
		rules = append(rules, s.Rules...)
	}
	for _, rule := range rules {
		approvers := map[string]bool{}
		for _, rv := range r.Reviews {
			eligible := len(rule.Principals) == 0 && len(rule.Groups) == 0 || slices.Contains(rule.Principals, rv.Reviewer)
			for _, g := range rv.Groups {
				eligible = eligible || slices.Contains(rule.Groups, g)
			}
			if rv.Void || rv.Digest != r.Digest || rv.Decision != approval.DecisionApprove || !eligible ||
				(rv.Reviewer == r.Requester && !mandated.AllowSelfReview) {
				continue
			}
			approvers[rv.Reviewer] = true
		}
		if len(approvers) < rule.MinApprovals {
			return fmt.Sprintf("mandated rule %q has %d of %d approvals of its content", rule.Name, len(approvers), rule.MinApprovals)
		}
	}
	return ""
}
