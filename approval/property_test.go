package approval

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// TestProperty_ApprovedOnlyWhenEveryRuleHolds drives requests through random
// sequences of reviews (whole or item by item), requests for changes,
// edits (of the payload, the items, the policy), resubmissions, revocations,
// automatic decisions, cancels, dependency outcomes and clock jumps, and checks after every step, with a checker written apart
// from the evaluator, that a request is approved only when every rule of its
// policy is satisfied by non-void approvals from eligible, distinct
// principals other than the requester (unless self-review is allowed), in
// the right stage, or by an automatic approval the policy allows (its
// rule's own auto_approve_if, not forbidden), and every dependency is approved.
func TestProperty_ApprovedOnlyWhenEveryRuleHolds(t *testing.T) {
	runs := 3000
	if testing.Short() {
		runs = 300
	}
	people := []Principal{
		{ID: "user:alice", Groups: []string{"dev"}, Scopes: []Scope{ScopeCreate, ScopeReview}},
		{ID: "user:o1", Groups: []string{"owners"}, Scopes: []Scope{ScopeReview}},
		{ID: "user:o2", Groups: []string{"owners"}, Scopes: []Scope{ScopeReview}},
		{ID: "user:o3", Groups: []string{"owners", "security"}, Scopes: []Scope{ScopeReview}},
		{ID: "user:s1", Groups: []string{"security"}, Scopes: []Scope{ScopeReview}},
		{ID: "svc:a", Scopes: []Scope{ScopeReview}},
		{ID: "svc:b", Scopes: []Scope{ScopeReview}},
		{ID: "user:x", Groups: []string{"marketing"}, Scopes: []Scope{ScopeRead}},
	}
	deps := []string{"0190a4e0-0000-7000-8000-00000000000a", "0190a4e0-0000-7000-8000-00000000000b"}
	depStatuses := []Status{StatusPending, StatusApproved, StatusRejected, StatusCancelled, StatusExpired, StatusAcknowledgedApproved}
	for run := range runs {
		rng := rand.New(rand.NewPCG(uint64(run), 42))
		pol := randomPolicy(rng)
		d := Draft{Title: "t", Payload: json.RawMessage(`{"v":0}`), Dependencies: Deps{}}
		for _, id := range deps {
			if rng.IntN(3) == 0 {
				d.DependsOn = append(d.DependsOn, id)
				d.Dependencies[id] = StatusPending
			}
		}
		now := t0
		if rng.IntN(2) == 0 {
			dl := now.Add(time.Duration(1+rng.IntN(10)) * time.Hour)
			d.Deadline = &dl
		}
		if rng.IntN(3) == 0 {
			for i := range 1 + rng.IntN(3) {
				d.Items = append(d.Items, Item{ID: fmt.Sprintf("f%d", i), Name: fmt.Sprintf("f%d.csv", i), Digest: "sha256:" + fmt.Sprintf("%064x", i)})
			}
		}
		r, _, err := New("0190a4e0-0000-7000-8000-000000000001", d, people[0], Mandate{Policy: pol, Source: "inline"}, now)
		if err != nil {
			continue // an impossible random policy: refused, as it should be
		}
		depState := Deps{}
		for _, id := range d.DependsOn {
			depState[id] = StatusPending
		}
		r.SetDependencies(depState)
		var log []string
		for step := range 25 {
			before := r.Status
			var what string
			switch op := rng.IntN(15); {
			case op < 5:
				p := people[rng.IntN(len(people))]
				dec := DecisionApprove
				if rng.IntN(4) == 0 {
					dec = DecisionReject
				}
				in := ReviewInput{Decision: dec}
				if len(r.Items) > 0 && rng.IntN(2) == 0 {
					in.Decision = ""
					for _, it := range r.Items {
						in.Items = append(in.Items, ItemDecision{ID: it.ID, Decision: []Decision{DecisionApprove, DecisionReject}[rng.IntN(2)]})
					}
				}
				_, err = r.Review(p, in, nil, now)
				what = fmt.Sprintf("%s %s: %v", p.ID, dec, CodeOf(err))
				if err == nil && !independentlyEligible(r, p) {
					t.Fatalf("run %d step %d: %s reviewed without being eligible\n%v", run, step, p.ID, log)
				}
			case op == 5:
				_, err = r.Edit(people[0], Patch{Payload: Some(json.RawMessage(fmt.Sprintf(`{"v":%d}`, step)))}, nil, now)
				what = "edit payload: " + CodeOf(err)
			case op == 6:
				_, err = r.Edit(root, Patch{Policy: Some(randomPolicy(rng))}, nil, now)
				what = "edit policy: " + CodeOf(err)
			case op == 7 && rng.IntN(4) == 0:
				_, err = r.Cancel(people[0], "", nil, now)
				what = "cancel: " + CodeOf(err)
			case op == 8 && len(d.DependsOn) > 0:
				id := d.DependsOn[rng.IntN(len(d.DependsOn))]
				if !depState[id].Final() {
					depState[id] = depStatuses[rng.IntN(len(depStatuses))]
				}
				r.SetDependencies(depState)
				r.Resolve(now)
				what = fmt.Sprintf("dependency %s is %s", id[len(id)-1:], depState[id])
			case op == 10:
				p := people[rng.IntN(len(people))]
				_, err = r.Review(p, ReviewInput{Decision: DecisionRequestChanges, Comment: "fix it"}, nil, now)
				what = fmt.Sprintf("%s request_changes: %v", p.ID, CodeOf(err))
				if err == nil && !independentlyEligible(r, p) {
					t.Fatalf("run %d step %d: %s requested changes without being eligible\n%v", run, step, p.ID, log)
				}
			case op == 11:
				if rng.IntN(2) == 0 {
					_, err = r.Edit(people[0], Patch{Items: Some([]Item{{ID: "g", Name: "g", Digest: "sha256:" + fmt.Sprintf("%064x", step)}})}, nil, now)
					what = "edit items: " + CodeOf(err)
					break
				}
				_, err = r.Resubmit(people[0], nil, now)
				what = "resubmit: " + CodeOf(err)
			case op == 12:
				p := append(people, root)[rng.IntN(len(people)+1)]
				_, err = r.Revoke(p, "taken back", nil, now)
				what = fmt.Sprintf("%s revoke: %v", p.ID, CodeOf(err))
				if err == nil && before != StatusApproved {
					t.Fatalf("run %d step %d: revoked from %s", run, step, before)
				}
			case op == 13:
				// The expressions' truth is random; the domain decides what
				// an automatic decision may do.
				what = "auto:"
				for _, ar := range r.AutoRules() {
					a := AutoDecision{Policy: "p", Rule: ar.Rule, Inputs: json.RawMessage(`{}`)}
					switch {
					case ar.RejectIf != "" && rng.IntN(3) == 0:
						a.Expression = ar.RejectIf
						_, err = r.AutoDecide(DecisionReject, a, now)
					case ar.ApproveIf != "" && rng.IntN(2) == 0:
						a.Expression = ar.ApproveIf
						_, err = r.AutoDecide(DecisionApprove, a, now)
					default:
						continue
					}
					what += fmt.Sprintf(" %s %s %v", ar.Rule, a.Expression, CodeOf(err))
				}
				// A forged expression never counts.
				if _, err := r.AutoDecide(DecisionApprove, AutoDecision{Policy: "p", Rule: "r0", Expression: "true"}, now); err == nil {
					t.Fatalf("run %d step %d: an automatic approval by an expression the rule does not have was recorded", run, step)
				}
			default:
				now = now.Add(time.Duration(rng.IntN(4)) * time.Hour)
				r.Expire(now)
				what = "clock " + now.Format(time.TimeOnly)
			}
			log = append(log, what+" → "+r.Status.String())
			if err := checkInvariants(r, before, depState); err != nil {
				t.Fatalf("run %d step %d: %v\npolicy %+v\nreviews %+v\n%v", run, step, err, r.Policy, r.Reviews, log)
			}
		}
	}
}

func randomPolicy(rng *rand.Rand) Policy {
	rule := func(i int) Rule {
		r := Rule{Name: fmt.Sprintf("r%d", i), MinApprovals: 1 + rng.IntN(3), RejectThreshold: rng.IntN(3)}
		if rng.IntN(3) == 0 {
			r.AutoApproveIf = fmt.Sprintf("payload.v < %d", i)
		}
		if rng.IntN(4) == 0 {
			r.AutoRejectIf = fmt.Sprintf("payload.v > %d", i)
		}
		switch rng.IntN(4) {
		case 0: // anyone
		case 1:
			r.Groups = []string{[]string{"owners", "security", "dev"}[rng.IntN(3)]}
		case 2:
			r.Principals = []string{"svc:a", "svc:b", "user:o1", "user:alice"}[:2+rng.IntN(3)]
		default:
			r.Groups = []string{"owners"}
			r.Principals = []string{"user:s1"}
		}
		return r
	}
	p := Policy{AllowSelfReview: rng.IntN(4) == 0, ForbidAutoApprove: rng.IntN(3) == 0, AllowPartial: rng.IntN(2) == 0,
		MaxChangeCycles: rng.IntN(3)}
	if rng.IntN(3) == 0 {
		for s := range 1 + rng.IntN(3) {
			st := Stage{Name: fmt.Sprintf("s%d", s)}
			for i := range 1 + rng.IntN(2) {
				st.Rules = append(st.Rules, rule(10*s+i))
			}
			p.Stages = append(p.Stages, st)
		}
	} else {
		for i := range 1 + rng.IntN(3) {
			p.Rules = append(p.Rules, rule(i))
		}
	}
	return p
}

// eligibleFor is the checker's own reading of a rule's eligibility.
func eligibleFor(rule Rule, id string, groups []string) bool {
	if len(rule.Principals) == 0 && len(rule.Groups) == 0 {
		return true
	}
	for _, p := range rule.Principals {
		if p == id {
			return true
		}
	}
	for _, g := range groups {
		for _, rg := range rule.Groups {
			if g == rg {
				return true
			}
		}
	}
	return false
}

func independentlyEligible(r *Request, p Principal) bool {
	if p.ID == r.Requester && !r.Policy.AllowSelfReview {
		return false
	}
	stages := r.Policy.Stages
	if len(stages) == 0 {
		stages = []Stage{{Rules: r.Policy.Rules}}
	}
	for _, st := range stages {
		for _, rule := range st.Rules {
			if eligibleFor(rule, p.ID, p.Groups) {
				return true
			}
		}
	}
	return false
}

func checkInvariants(r *Request, before Status, deps Deps) error {
	// A reviewer has at most one live review.
	live := map[string]bool{}
	for _, rv := range r.Reviews {
		if rv.Void || rv.Auto != nil {
			continue
		}
		if live[rv.Reviewer] {
			return fmt.Errorf("%s has two live reviews", rv.Reviewer)
		}
		live[rv.Reviewer] = true
	}
	if before == StatusExpired && r.Status != StatusExpired {
		return fmt.Errorf("an expired request became %s", r.Status)
	}
	approvedNow := (r.Status == StatusApproved || r.Status == StatusAcknowledgedApproved) &&
		before != StatusApproved && before != StatusAcknowledgedApproved
	if !approvedNow {
		return nil
	}
	for _, id := range r.DependsOn {
		if deps[id] != StatusApproved {
			return fmt.Errorf("approved while dependency %s is %s", id, deps[id])
		}
	}
	stages := r.Policy.Stages
	if len(stages) == 0 {
		stages = []Stage{{Rules: r.Policy.Rules}}
	}
	for si, st := range stages {
		for _, rule := range st.Rules {
			var approvers []string
			auto := false
			for _, rv := range r.Reviews {
				if rv.Auto != nil {
					// Only an automatic approval the policy allows, by
					// the rule's own expression, of this content.
					auto = auto || (!rv.Void && rv.Digest == r.Digest && rv.Decision == DecisionApprove && rv.Stage == si &&
						rv.Auto.Rule == rule.Name && rule.AutoApproveIf != "" && rv.Auto.Expression == rule.AutoApproveIf &&
						!r.Policy.ForbidAutoApprove)
					continue
				}
				if rv.Void || rv.Decision != DecisionApprove || rv.Stage != si || !eligibleFor(rule, rv.Reviewer, rv.Groups) {
					continue
				}
				if rv.Reviewer == r.Requester && !r.Policy.AllowSelfReview {
					return fmt.Errorf("the requester's own review counted")
				}
				if !slices.Contains(approvers, rv.Reviewer) {
					approvers = append(approvers, rv.Reviewer)
				}
			}
			if len(approvers) < rule.MinApprovals && !auto {
				return fmt.Errorf("approved with rule %s at %d of %d approvals", rule.Name, len(approvers), rule.MinApprovals)
			}
		}
	}
	return nil
}
