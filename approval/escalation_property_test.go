package approval

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// TestProperty_EscalationAndDelegationNeverApproveAlone drives requests
// under policies with escalations through random sequences of reviews by
// random principals — themselves, or for someone under random delegations
// (some not yet started, ended, revoked, or not theirs) — escalations,
// payload edits and clock jumps, and checks after every step, with a
// checker written apart from the evaluator, that: a human (reviewer or
// delegate) has at most one live review; every review accepted was by a
// delegate of an active delegation to them, for an eligible reviewer (by
// the rule or its escalation) who is not the requester, given by someone
// who is not the requester either; an escalation changes no status and no
// count; and a request is approved only when every rule has min_approvals
// live approvals of distinct humans eligible by the rule or by an
// escalation made before they reviewed, none of them the requester.
func TestProperty_EscalationAndDelegationNeverApproveAlone(t *testing.T) {
	runs := 2000
	if testing.Short() {
		runs = 200
	}
	people := []Principal{
		{ID: "user:alice", Groups: []string{"dev"}, Scopes: []Scope{ScopeCreate, ScopeReview}},
		{ID: "user:o1", Groups: []string{"owners"}, Scopes: []Scope{ScopeReview}},
		{ID: "user:o2", Groups: []string{"owners"}, Scopes: []Scope{ScopeReview}},
		{ID: "user:o3", Groups: []string{"owners", "leads"}, Scopes: []Scope{ScopeReview}},
		{ID: "user:l1", Groups: []string{"leads"}, Scopes: []Scope{ScopeReview}},
		{ID: "user:l2", Groups: []string{"leads"}, Scopes: []Scope{ScopeReview}},
		{ID: "svc:a", Scopes: []Scope{ScopeReview}},
		{ID: "user:x", Groups: []string{"owners"}, Scopes: []Scope{ScopeRead}},
	}
	for run := range runs {
		rng := rand.New(rand.NewPCG(uint64(run), 20))
		pol := randomEscalatingPolicy(rng)
		r, _, err := New("0190a4e0-0000-7000-8000-000000000003", Draft{Title: "t", Payload: json.RawMessage(`{"v":0}`)}, people[0], Mandate{Policy: pol, Source: "inline"}, t0)
		if err != nil {
			continue // an impossible random policy
		}
		var dels []Delegation
		for i := range 4 {
			from, to := people[rng.IntN(len(people))], people[rng.IntN(len(people))]
			if from.ID == to.ID {
				continue
			}
			d := Delegation{ID: fmt.Sprint(i), Delegator: from.ID, Delegate: to.ID,
				Starts: t0.Add(time.Duration(rng.IntN(3)) * time.Hour), Ends: t0.Add(time.Duration(2+rng.IntN(8)) * time.Hour)}
			if rng.IntN(2) == 0 {
				d.DelegatorGroups = slices.Clone(from.Groups) // else a delegation recorded without them
			}
			if rng.IntN(4) == 0 {
				at := t0.Add(time.Duration(rng.IntN(5)) * time.Hour)
				d.RevokedAt = &at // revoked from the start: ActiveAt must see it
			}
			dels = append(dels, d)
		}
		now := t0
		var log []string
		for step := range 30 {
			before := r.Clone()
			var what string
			switch op := rng.IntN(20); {
			case op < 7:
				p := people[rng.IntN(len(people))]
				_, err = r.Review(p, ReviewInput{Decision: randomDecision(rng)}, nil, now)
				what = fmt.Sprintf("%s: %v", p.ID, CodeOf(err))
				if err == nil {
					if msg := checkAccepted(r, p, nil, now); msg != "" {
						t.Fatalf("run %d step %d: %s\n%v", run, step, msg, log)
					}
				}
			case op < 12 && len(dels) > 0:
				d := dels[rng.IntN(len(dels))]
				p := people[rng.IntN(len(people))]
				if rng.IntN(3) > 0 {
					for _, q := range people {
						if q.ID == d.Delegate {
							p = q
						}
					}
				}
				in := ReviewInput{Decision: randomDecision(rng), OnBehalfOf: d.Delegator, Delegation: &d}
				if rng.IntN(5) == 0 {
					in.OnBehalfOf = people[rng.IntN(len(people))].ID
				}
				_, err = r.Review(p, in, nil, now)
				what = fmt.Sprintf("%s for %s (%s→%s): %v", p.ID, in.OnBehalfOf, d.Delegator, d.Delegate, CodeOf(err))
				if err == nil {
					if in.OnBehalfOf != d.Delegator {
						t.Fatalf("run %d step %d: a review for %s under %s's delegation\n%v", run, step, in.OnBehalfOf, d.Delegator, log)
					}
					if msg := checkAccepted(r, p, &d, now); msg != "" {
						t.Fatalf("run %d step %d: %s\n%v", run, step, msg, log)
					}
				}
			case op < 15:
				ch := r.Escalate(now)
				what = fmt.Sprintf("escalate: %v", !ch.IsZero())
				if r.Status != before.Status {
					t.Fatalf("run %d step %d: escalating moved %s to %s\n%v", run, step, before.Status, r.Status, log)
				}
				was, is := before.Progress(), r.Progress()
				for i := range is.Rules {
					if is.Rules[i].Approvals != was.Rules[i].Approvals || is.Rules[i].Rejections != was.Rules[i].Rejections {
						t.Fatalf("run %d step %d: escalating changed rule %s's count\n%v", run, step, is.Rules[i].Rule, log)
					}
				}
				if !ch.IsZero() && (ch.Entry.Actor != System.ID || ch.Entry.Action != ActionEscalate || ch.Event.Notify != NotifyEscalation) {
					t.Fatalf("run %d step %d: escalation change %+v", run, step, ch.Entry)
				}
			case op < 17:
				_, err = r.Edit(people[0], Patch{Payload: Some(json.RawMessage(fmt.Sprintf(`{"v":%d}`, step)))}, nil, now)
				what = "edit: " + CodeOf(err)
			default:
				now = now.Add(time.Duration(rng.IntN(90)) * time.Minute)
				what = "clock " + now.Format(time.TimeOnly)
			}
			log = append(log, what+" → "+r.Status.String())
			if msg := checkHumans(r, before.Status); msg != "" {
				t.Fatalf("run %d step %d: %s\npolicy %+v\nreviews %+v\nescalations %+v\n%v", run, step, msg, r.Policy, r.Reviews, r.Escalations, log)
			}
		}
	}
}

func randomDecision(rng *rand.Rand) Decision {
	if rng.IntN(5) == 0 {
		return DecisionReject
	}
	return DecisionApprove
}

func randomEscalatingPolicy(rng *rand.Rand) Policy {
	rule := func(i int) Rule {
		r := Rule{Name: fmt.Sprintf("r%d", i), MinApprovals: 1 + rng.IntN(2), RejectThreshold: 1 + rng.IntN(2)}
		switch rng.IntN(3) {
		case 0:
			r.Groups = []string{"owners"}
		case 1:
			r.Principals = []string{"user:o1", "user:o2", "user:alice"}
		default: // anyone
		}
		if rng.IntN(3) > 0 {
			r.EscalateAfter = Duration(time.Duration(1+rng.IntN(2)) * time.Hour)
			switch rng.IntN(3) {
			case 0:
				r.EscalateTo.Groups = []string{"leads"}
			case 1:
				r.EscalateTo.Principals = []string{"user:l1", "svc:a"}
			default:
				r.EscalateTo.Principals = []string{"user:alice", "user:o3"}
			}
		}
		return r
	}
	p := Policy{AllowSelfReview: rng.IntN(5) == 0}
	if rng.IntN(2) == 0 {
		for s := range 1 + rng.IntN(2) {
			st := Stage{Name: fmt.Sprintf("s%d", s)}
			for i := range 1 + rng.IntN(2) {
				st.Rules = append(st.Rules, rule(10*s+i))
			}
			p.Stages = append(p.Stages, st)
		}
	} else {
		for i := range 1 + rng.IntN(2) {
			p.Rules = append(p.Rules, rule(i))
		}
	}
	return p
}

// checkEligible is the checker's own reading of whether id with groups may
// count for rule of stage si with a review of the given version.
func checkEligible(r *Request, si int, rule Rule, id string, groups []string, version int64) bool {
	if eligibleFor(rule, id, groups) {
		return true
	}
	for _, e := range r.Escalations {
		if e.Stage != si || e.Rule != rule.Name || e.Version > version {
			continue
		}
		if slices.Contains(rule.EscalateTo.Principals, id) {
			return true
		}
		for _, g := range groups {
			if slices.Contains(rule.EscalateTo.Groups, g) {
				return true
			}
		}
	}
	return false
}

// checkAccepted checks the review r just accepted from p (under d when set).
func checkAccepted(r *Request, p Principal, d *Delegation, now time.Time) string {
	rv := r.Reviews[len(r.Reviews)-1]
	asID, asGroups := p.ID, p.Groups
	if d != nil {
		if d.Delegate != p.ID || d.RevokedAt != nil || now.Before(d.Starts) || !now.Before(d.Ends) {
			return fmt.Sprintf("%s reviewed under a delegation not active for them: %+v", p.ID, *d)
		}
		asID, asGroups = d.Delegator, d.DelegatorGroups
		if rv.By != p.ID {
			return fmt.Sprintf("a delegated review by %s records by=%q", p.ID, rv.By)
		}
	} else if rv.By != "" {
		return fmt.Sprintf("%s's own review records by=%q", p.ID, rv.By)
	}
	if rv.Reviewer != asID || !slices.Equal(rv.Groups, asGroups) && !(len(rv.Groups) == 0 && len(asGroups) == 0) {
		return fmt.Sprintf("the review counts as %s %v, not as %s %v", rv.Reviewer, rv.Groups, asID, asGroups)
	}
	if !r.Policy.AllowSelfReview && (asID == r.Requester || p.ID == r.Requester) {
		return fmt.Sprintf("the requester took part in a review: %+v", rv)
	}
	if !p.Has(ScopeReview) {
		return p.ID + " reviewed without the review scope"
	}
	stages := r.Policy.Stages
	if len(stages) == 0 {
		stages = []Stage{{Rules: r.Policy.Rules}}
	}
	for _, rule := range stages[rv.Stage].Rules {
		if checkEligible(r, rv.Stage, rule, asID, asGroups, rv.Version) {
			return ""
		}
	}
	return fmt.Sprintf("%s (as %s) reviewed in stage %d without being eligible", p.ID, asID, rv.Stage)
}

// checkHumans checks the invariants that hold after every step.
func checkHumans(r *Request, before Status) string {
	humans := map[string]bool{}
	for _, rv := range r.Reviews {
		if rv.Void {
			continue
		}
		for _, h := range []string{rv.Reviewer, rv.By} {
			if h == "" {
				continue
			}
			if humans[h] {
				return h + " takes part in two live reviews"
			}
			humans[h] = true
		}
	}
	if r.Status == before || (r.Status != StatusApproved && r.Status != StatusAcknowledgedApproved) {
		return ""
	}
	if r.Status != StatusPending && r.NextEscalationAt != nil {
		return "a decided request has a next escalation"
	}
	stages := r.Policy.Stages
	if len(stages) == 0 {
		stages = []Stage{{Rules: r.Policy.Rules}}
	}
	for si, st := range stages {
		for _, rule := range st.Rules {
			var approvers []string
			for _, rv := range r.Reviews {
				if rv.Void || rv.Digest != r.Digest || rv.Decision != DecisionApprove || rv.Stage != si ||
					!checkEligible(r, si, rule, rv.Reviewer, rv.Groups, rv.Version) {
					continue
				}
				if !r.Policy.AllowSelfReview && (rv.Reviewer == r.Requester || rv.By == r.Requester) {
					return "the requester's review counted"
				}
				approvers = append(approvers, rv.Reviewer)
			}
			if len(approvers) < rule.MinApprovals {
				return fmt.Sprintf("approved with rule %s at %d of %d approvals (%v)", rule.Name, len(approvers), rule.MinApprovals, approvers)
			}
		}
	}
	return ""
}
