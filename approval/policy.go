package approval

import "slices"

// Policy says who must approve a request: every rule must hold (AND).
type Policy struct {
	Rules []Rule `json:"rules"`
	// AllowSelfReview lets the requester review their own request.
	AllowSelfReview bool `json:"allow_self_review"`
}

// Rule needs MinApprovals approvals from its eligible reviewers; eligible are
// the listed principals and members of the listed groups, or, when both lists
// are empty, anyone with the review scope. RejectThreshold eligible
// rejections reject the request (fail closed).
type Rule struct {
	Name            string   `json:"name"`
	MinApprovals    int      `json:"min_approvals"`
	Principals      []string `json:"principals,omitempty"`
	Groups          []string `json:"groups,omitempty"`
	RejectThreshold int      `json:"reject_threshold"`
}

// DefaultPolicy returns the server default: one approval by anyone with the
// review scope who is not the requester; one such rejection rejects.
func DefaultPolicy() Policy {
	return Policy{Rules: []Rule{{Name: "default", MinApprovals: 1, RejectThreshold: 1}}}
}

// eligible reports whether a reviewer with the given id and groups may count
// toward rule r.
func (r Rule) eligible(id string, groups []string) bool {
	if len(r.Principals) == 0 && len(r.Groups) == 0 {
		return true
	}
	if slices.Contains(r.Principals, id) {
		return true
	}
	for _, g := range groups {
		if slices.Contains(r.Groups, g) {
			return true
		}
	}
	return false
}

// Eligible reports whether principal p may review a request under policy pol
// made by requester: p must be eligible for at least one rule and, unless
// the policy allows it, must not be the requester. The returned error says why not.
func (pol Policy) Eligible(p Principal, requester string) error {
	if p.ID == requester && !pol.AllowSelfReview {
		return Errorf(KindForbidden, CodeSelfReview, "the requester may not review their own request")
	}
	for _, r := range pol.Rules {
		if r.eligible(p.ID, p.Groups) {
			return nil
		}
	}
	return Errorf(KindForbidden, CodeNotEligible, "%s is not an eligible reviewer for this request", p.ID)
}

// outcome evaluates the policy over the counted reviews (one per reviewer,
// void ones excluded) after a review with decision d tipped it. A reject
// decides as soon as any rule's reject threshold is reached; an approve
// decides when every rule has its approvals. Otherwise nothing is decided.
// One review counts for every rule its reviewer is eligible for.
func (pol Policy) outcome(reviews []Review, d Decision) (Decision, bool) {
	for _, r := range pol.Rules {
		approvals, rejections := 0, 0
		for _, rv := range reviews {
			if rv.Void || !r.eligible(rv.Reviewer, rv.Groups) {
				continue
			}
			if rv.Decision == DecisionApprove {
				approvals++
			} else {
				rejections++
			}
		}
		threshold := max(r.RejectThreshold, 1)
		if d == DecisionReject && rejections >= threshold {
			return DecisionReject, true
		}
		if d == DecisionApprove && approvals < r.MinApprovals {
			return "", false
		}
	}
	if d == DecisionApprove {
		return DecisionApprove, true
	}
	return "", false
}
