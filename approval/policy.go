package approval

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Limits on policies. They are part of the API contract.
const (
	MaxPolicyRules      = 20  // rules in a policy, over all its stages
	MaxPolicyStages     = 10  // stages in a policy
	MaxRulePrincipals   = 100 // principals listed in one rule
	MaxRuleGroups       = 50  // groups listed in one rule
	MaxMinApprovals     = 50  // min_approvals and reject_threshold
	MaxPrincipalLen     = 200 // characters of a principal id
	MaxPolicyDescLen    = 1000
	MaxDependencies     = 20 // depends_on entries of one request
	MinRemindAfter      = time.Minute
	MaxRemindAfter      = MaxDeadlineAhead
	MinEscalateAfter    = time.Minute // a rule's escalate_after
	MaxEscalateAfter    = MaxDeadlineAhead
	maxPolicyNameLength = 64
)

// namePattern is the shape of rule, stage and stored policy names.
var namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// ValidName reports whether s is a valid policy, stage or rule name.
func ValidName(s string) bool { return namePattern.MatchString(s) }

// Policy says who must approve a request. Every rule must hold (AND). With
// Stages, the stages open one after another: the rules of stage 2 accept
// reviews only once every rule of stage 1 holds. A policy has Rules or
// Stages, not both; Rules alone is one unnamed stage.
type Policy struct {
	Rules  []Rule  `json:"rules,omitempty"`
	Stages []Stage `json:"stages,omitempty"`
	// AllowSelfReview lets the requester review their own request.
	AllowSelfReview bool `json:"allow_self_review"`
	// RequireJustification refuses a create without a justification;
	// RequireComment lists the decisions (approve, reject,
	// request_changes is always) that need a comment.
	RequireJustification bool       `json:"require_justification,omitempty"`
	RequireComment       []Decision `json:"require_comment,omitempty"`
	// AllowPartial lets a request with items be approved with some items
	// rejected; otherwise any rejected item rejects it.
	AllowPartial bool `json:"allow_partial,omitempty"`
	// MaxChangeCycles caps the request-changes cycles (0: no cap); a
	// request at the cap can no longer be sent back, only decided.
	MaxChangeCycles int `json:"max_change_cycles,omitempty"`
	// ForbidAutoApprove refuses automatic approval (auto_approve_if) in
	// this policy, whatever its rules say.
	ForbidAutoApprove bool `json:"forbid_auto_approve,omitempty"`
}

// Stage is one step of a staged policy: its rules must all hold before the
// next stage opens.
type Stage struct {
	Name  string `json:"name"`
	Rules []Rule `json:"rules"`
}

// Rule needs MinApprovals approvals from its eligible reviewers; eligible are
// the listed principals and members of the listed groups, or, when both lists
// are empty, anyone with the review scope. RejectThreshold eligible
// rejections reject the request (fail closed); 0 means 1.
type Rule struct {
	Name            string   `json:"name"`
	MinApprovals    int      `json:"min_approvals"`
	Principals      []string `json:"principals,omitempty"`
	Groups          []string `json:"groups,omitempty"`
	RejectThreshold int      `json:"reject_threshold"`
	// EscalateAfter, when set, makes the EscalateTo reviewers eligible for
	// the rule once that long has passed since its stage opened without the
	// rule holding (see Request.Escalate). An escalation never approves
	// anything by itself.
	EscalateAfter Duration  `json:"escalate_after,omitzero"`
	EscalateTo    Reviewers `json:"escalate_to,omitzero"`
	// CanRevoke lets the rule's eligible reviewers revoke an approved
	// request (admins always may).
	CanRevoke bool `json:"can_revoke,omitempty"`
	// AutoApproveIf and AutoRejectIf are CEL expressions over payload,
	// requester, groups, service_rule, items and now: when one is true at
	// create, edit or resubmit, the rule is decided by the policy itself
	// (a review by AutoPrincipal). An evaluation error decides nothing.
	AutoApproveIf string `json:"auto_approve_if,omitempty"`
	AutoRejectIf  string `json:"auto_reject_if,omitempty"`
}

// Reviewers names principals and groups.
type Reviewers struct {
	Principals []string `json:"principals,omitempty"`
	Groups     []string `json:"groups,omitempty"`
}

// DefaultPolicy returns the server default: one approval by anyone with the
// review scope who is not the requester; one such rejection rejects.
func DefaultPolicy() Policy {
	return Policy{Rules: []Rule{{Name: "default", MinApprovals: 1, RejectThreshold: 1}}}
}

// anyone reports whether every reviewer is eligible for r.
func (r Rule) anyone() bool { return len(r.Principals) == 0 && len(r.Groups) == 0 }

// eligible reports whether a reviewer with the given id and groups may count
// toward rule r.
func (r Rule) eligible(id string, groups []string) bool {
	if r.anyone() || slices.Contains(r.Principals, id) {
		return true
	}
	for _, g := range groups {
		if slices.Contains(r.Groups, g) {
			return true
		}
	}
	return false
}

// includes reports whether a reviewer with the given id and groups is one
// of rv's principals or a member of one of its groups (never anyone: empty
// lists name nobody).
func (rv Reviewers) includes(id string, groups []string) bool {
	if slices.Contains(rv.Principals, id) {
		return true
	}
	for _, g := range groups {
		if slices.Contains(rv.Groups, g) {
			return true
		}
	}
	return false
}

// empty reports whether rv names nobody.
func (rv Reviewers) empty() bool { return len(rv.Principals) == 0 && len(rv.Groups) == 0 }

// eligibleAs reports whether a reviewer with the given id and groups may
// review for rule r: its own reviewers and, once the rule is escalated
// (escalated), its escalation reviewers.
func (r Rule) eligibleAs(id string, groups []string, escalated bool) bool {
	return r.eligible(id, groups) || (escalated && r.EscalateTo.includes(id, groups))
}

// escalationOf returns the escalation of the rule named rule of stage si
// in esc, and whether there is one.
func escalationOf(esc []Escalation, si int, rule string) (Escalation, bool) {
	for _, e := range esc {
		if e.Stage == si && e.Rule == rule {
			return e, true
		}
	}
	return Escalation{}, false
}

// autoApproves reports whether an automatic approval by expression expr
// counts for rule r under pol: r has that auto_approve_if and pol does not
// forbid automatic approval.
func (pol Policy) autoApproves(r Rule, expr string) bool {
	return !pol.ForbidAutoApprove && r.AutoApproveIf != "" && expr == r.AutoApproveIf
}

// threshold is the number of eligible rejections that reject.
func (r Rule) threshold() int { return max(r.RejectThreshold, 1) }

// stages returns the policy as stages: Rules alone is one stage.
func (pol Policy) stages() []Stage {
	if len(pol.Stages) > 0 {
		return pol.Stages
	}
	return []Stage{{Rules: pol.Rules}}
}

// Clone returns a deep copy of pol.
func (pol Policy) Clone() Policy {
	c := pol
	c.RequireComment = slices.Clone(pol.RequireComment)
	c.Rules = cloneRules(pol.Rules)
	if pol.Stages != nil {
		c.Stages = make([]Stage, len(pol.Stages))
		for i, s := range pol.Stages {
			c.Stages[i] = Stage{Name: s.Name, Rules: cloneRules(s.Rules)}
		}
	}
	return c
}

func cloneRules(rs []Rule) []Rule {
	if rs == nil {
		return nil
	}
	out := make([]Rule, len(rs))
	for i, r := range rs {
		out[i] = r
		out[i].Principals = slices.Clone(r.Principals)
		out[i].Groups = slices.Clone(r.Groups)
		out[i].EscalateTo = Reviewers{Principals: slices.Clone(r.EscalateTo.Principals), Groups: slices.Clone(r.EscalateTo.Groups)}
	}
	return out
}

// Normalize fills defaults: unnamed rules are called rule-1, rule-2, … and
// unnamed stages stage-1, …; a zero reject threshold becomes 1.
func (pol *Policy) Normalize() {
	n := 0
	fix := func(rs []Rule) {
		for i := range rs {
			n++
			if rs[i].Name == "" {
				rs[i].Name = fmt.Sprintf("rule-%d", n)
			}
			if rs[i].RejectThreshold == 0 {
				rs[i].RejectThreshold = 1
			}
		}
	}
	fix(pol.Rules)
	for i := range pol.Stages {
		if pol.Stages[i].Name == "" {
			pol.Stages[i].Name = fmt.Sprintf("stage-%d", i+1)
		}
		fix(pol.Stages[i].Rules)
	}
}

// ValidPrincipal reports whether s may name a principal in a policy: a
// non-empty kind prefix ("user:", "svc:", …) and no spaces or control characters.
func ValidPrincipal(s string) bool {
	kind, rest, ok := strings.Cut(s, ":")
	return ok && kind != "" && rest != "" && utf8.ValidString(s) &&
		utf8.RuneCountInString(s) <= MaxPrincipalLen &&
		!strings.ContainsFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) })
}

// Validate checks pol (normalized) under the JSON field name field. When
// requester is not empty, rules that the requester could not satisfy —
// because they may not review their own request — count as impossible.
func (pol Policy) Validate(v *Validation, field, requester string) {
	switch {
	case len(pol.Rules) == 0 && len(pol.Stages) == 0:
		v.Add(field+".rules", "at least one rule is required")
		return
	case len(pol.Rules) > 0 && len(pol.Stages) > 0:
		v.Add(field, "give rules or stages, not both")
		return
	case len(pol.Stages) > MaxPolicyStages:
		v.Add(field+".stages", "at most %d stages are allowed", MaxPolicyStages)
		return
	}
	names := map[string]bool{}
	total := 0
	check := func(path string, rs []Rule) {
		if len(rs) == 0 {
			v.Add(path, "at least one rule is required")
		}
		for i, r := range rs {
			total++
			p := fmt.Sprintf("%s[%d]", path, i)
			switch {
			case !ValidName(r.Name):
				v.Add(p+".name", "must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit")
			case names[r.Name]:
				v.Add(p+".name", "%q is used by another rule", r.Name)
			}
			names[r.Name] = true
			r.validate(v, p, requester)
		}
	}
	if len(pol.Stages) == 0 {
		check(field+".rules", pol.Rules)
	}
	stageNames := map[string]bool{}
	for i, s := range pol.Stages {
		p := fmt.Sprintf("%s.stages[%d]", field, i)
		switch {
		case !ValidName(s.Name):
			v.Add(p+".name", "must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit")
		case stageNames[s.Name]:
			v.Add(p+".name", "%q is used by another stage", s.Name)
		}
		stageNames[s.Name] = true
		check(p+".rules", s.Rules)
	}
	if total > MaxPolicyRules {
		v.Add(field, "at most %d rules are allowed", MaxPolicyRules)
	}
	if pol.MaxChangeCycles < 0 || pol.MaxChangeCycles > MaxChangeCycles {
		v.Add(field+".max_change_cycles", "must be between 0 (no cap) and %d", MaxChangeCycles)
	}
	for i, d := range pol.RequireComment {
		switch {
		case d != DecisionApprove && d != DecisionReject && d != DecisionRequestChanges:
			v.Add(fmt.Sprintf("%s.require_comment[%d]", field, i), "must be %q, %q or %q", DecisionApprove, DecisionReject, DecisionRequestChanges)
		case slices.Contains(pol.RequireComment[:i], d):
			v.Add(fmt.Sprintf("%s.require_comment[%d]", field, i), "%q is listed twice", d)
		}
	}
}

// commentRequired reports whether pol requires a comment with decision d:
// always for request_changes, else when RequireComment lists d.
func (pol Policy) commentRequired(d Decision) bool {
	return d == DecisionRequestChanges || slices.Contains(pol.RequireComment, d)
}

// checkExpression checks the length of a CEL expression under field (its
// syntax and types are the engine's to check, which compiles it).
func checkExpression(v *Validation, field, expr string) {
	if len(expr) > MaxExpressionLen {
		v.Add(field, "must be at most %d bytes", MaxExpressionLen)
	}
}

func (r Rule) validate(v *Validation, p, requester string) {
	if r.MinApprovals < 1 || r.MinApprovals > MaxMinApprovals {
		v.Add(p+".min_approvals", "must be between 1 and %d", MaxMinApprovals)
	}
	if r.RejectThreshold < 0 || r.RejectThreshold > MaxMinApprovals {
		v.Add(p+".reject_threshold", "must be between 1 and %d (0 means 1)", MaxMinApprovals)
	}
	checkExpression(v, p+".auto_approve_if", r.AutoApproveIf)
	checkExpression(v, p+".auto_reject_if", r.AutoRejectIf)
	seen := checkReviewers(v, p, Reviewers{Principals: r.Principals, Groups: r.Groups})
	// With only principals listed, the rule can be met only if enough of
	// them may review. Unknown groups are allowed: membership is the
	// identity provider's business. Escalation reviewers do not count here:
	// a rule must be satisfiable without its escalation.
	if len(r.Groups) == 0 && len(r.Principals) > 0 {
		n := len(r.Principals)
		who := "lists"
		if requester != "" && seen[requester] {
			n--
			who = "lists, besides the requester (who may not review their own request),"
		}
		if r.MinApprovals > n {
			v.Add(p+".min_approvals", "the rule needs %d approvals but %s only %d eligible principals", r.MinApprovals, who, n)
		}
		if r.RejectThreshold > n {
			v.Add(p+".reject_threshold", "the rule needs %d rejections to reject but %s only %d eligible principals", r.RejectThreshold, who, n)
		}
	}
	if r.EscalateAfter == 0 && r.EscalateTo.empty() {
		return
	}
	switch d := time.Duration(r.EscalateAfter); {
	case d == 0:
		v.Add(p+".escalate_after", "is required with escalate_to")
	case d < MinEscalateAfter || d > MaxEscalateAfter:
		v.Add(p+".escalate_after", "must be between %s and 5 years", MinEscalateAfter)
	}
	if r.EscalateTo.empty() {
		v.Add(p+".escalate_to", "must name principals or groups when escalate_after is set")
		return
	}
	checkReviewers(v, p+".escalate_to", r.EscalateTo)
}

// checkReviewers validates the principals and groups of a rule (or of its
// escalation) under path p and returns the principals it lists.
func checkReviewers(v *Validation, p string, rv Reviewers) map[string]bool {
	if len(rv.Principals) > MaxRulePrincipals {
		v.Add(p+".principals", "at most %d principals are allowed", MaxRulePrincipals)
	}
	if len(rv.Groups) > MaxRuleGroups {
		v.Add(p+".groups", "at most %d groups are allowed", MaxRuleGroups)
	}
	seen := map[string]bool{}
	for i, id := range rv.Principals {
		switch {
		case !ValidPrincipal(id):
			v.Add(fmt.Sprintf("%s.principals[%d]", p, i), "must be a principal such as user:alice or svc:billing")
		case seen[id]:
			v.Add(fmt.Sprintf("%s.principals[%d]", p, i), "%s is listed twice", id)
		}
		seen[id] = true
	}
	for i, g := range rv.Groups {
		if g == "" || utf8.RuneCountInString(g) > 128 || strings.ContainsFunc(g, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) {
			v.Add(fmt.Sprintf("%s.groups[%d]", p, i), "must be 1-128 characters without spaces")
		}
	}
	return seen
}

// Check normalizes pol and validates it for a request made by requester,
// returning a KindValidation error naming every problem under field.
func (pol *Policy) Check(field, requester string) error {
	pol.Normalize()
	var v Validation
	req := requester
	if pol.AllowSelfReview {
		req = ""
	}
	pol.Validate(&v, field, req)
	return v.Err()
}

// StoredPolicy is a named policy kept by the server, to be chosen by name at
// create or by a service rule. Requests copy the policy when they are
// created, so changing a stored policy never changes open requests.
type StoredPolicy struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	// Match is a CEL expression over the request (payload, requester,
	// groups, service_rule, items, now): when a create names no policy
	// and its service rule none, the matching stored policy with the
	// highest Priority (then the first by name) is the mandate.
	Match     string    `json:"match,omitempty"`
	Priority  int       `json:"priority"`
	Policy    Policy    `json:"policy"`
	Version   int64     `json:"version"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Validate normalizes sp's policy and checks sp.
func (sp *StoredPolicy) Validate() error {
	sp.Policy.Normalize()
	var v Validation
	if !ValidName(sp.Name) {
		v.Add("name", "must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit")
	}
	checkText(&v, "description", sp.Description, MaxPolicyDescLen, false)
	checkExpression(&v, "match", sp.Match)
	sp.Policy.Validate(&v, "policy", "")
	return v.Err()
}

// counted returns the reviews that count: not void, one per reviewer (the
// latest), not the requester's unless the policy allows self-review —
// whether the requester gave it or a delegate gave it for them, or the
// requester gave it for someone else — and one per human: a review given
// by a delegate (Review.By) does not count when that delegate, or its
// reviewer, already counts through another review.
func (pol Policy) counted(reviews []Review, requester string) []Review {
	var out []Review
	seen := map[string]int{} // reviewer → index in out
	humans := map[string]bool{}
	for _, rv := range reviews {
		if rv.Void || (!pol.AllowSelfReview && (rv.Reviewer == requester || rv.By == requester)) {
			continue
		}
		if rv.Auto != nil {
			// An automatic decision is one per rule, by no human; which
			// rule it counts for is evaluate's business.
			out = append(out, rv)
			continue
		}
		if i, ok := seen[rv.Reviewer]; ok {
			if rv.By == "" || rv.By == out[i].By || !humans[rv.By] {
				delete(humans, out[i].By)
				out[i] = rv
				if rv.By != "" {
					humans[rv.By] = true
				}
			}
			continue
		}
		if humans[rv.Reviewer] || (rv.By != "" && humans[rv.By]) {
			continue
		}
		seen[rv.Reviewer] = len(out)
		humans[rv.Reviewer] = true
		if rv.By != "" {
			humans[rv.By] = true
		}
		out = append(out, rv)
	}
	return out
}

// RuleProgress is how far one rule of a request's policy has come.
type RuleProgress struct {
	Stage           string   `json:"stage,omitempty"`
	Rule            string   `json:"rule"`
	Needed          int      `json:"needed"`
	Approvals       int      `json:"approvals"`
	ApprovedBy      []string `json:"approved_by"`
	Rejections      int      `json:"rejections"`
	RejectedBy      []string `json:"rejected_by"`
	RejectThreshold int      `json:"reject_threshold"`
	Satisfied       bool     `json:"satisfied"`
	// Open is true when the rule's stage accepts reviews now.
	Open bool `json:"open"`
	// Escalated is true once the rule's escalation reviewers are eligible
	// too (see Request.Escalate); MayApprove then names them as well.
	Escalated bool `json:"escalated,omitempty"`
	// MayApprove says who may still approve: listed principals who have
	// not reviewed, the listed groups, or anyone with the review scope.
	MayApprove Eligibility `json:"may_approve"`
}

// Eligibility describes a set of reviewers.
type Eligibility struct {
	Anyone     bool     `json:"anyone"`
	Principals []string `json:"principals"`
	Groups     []string `json:"groups"`
}

// evaluation is the state of a policy over a request's reviews.
type evaluation struct {
	rules     []RuleProgress
	open      int  // index of the open stage; len(stages) when all hold
	satisfied bool // every rule of every stage holds
	rejected  bool // some rule reached its reject threshold
	rejectBy  string
}

// evaluate computes each rule's progress under the escalations esc. A
// review counts for every rule of the stage it was given in (Review.Stage)
// for which its reviewer is eligible; a reviewer counts once per request.
// A rule's escalation reviewers count only with reviews given once it was
// escalated (of the escalation's version or later), so that escalating
// never changes a count by itself.
func (pol Policy) evaluate(reviews []Review, requester string, esc []Escalation) evaluation {
	counted := pol.counted(reviews, requester)
	reviewed := map[string]bool{}
	for _, rv := range counted {
		reviewed[rv.Reviewer] = true
		if rv.By != "" {
			reviewed[rv.By] = true
		}
	}
	stages := pol.stages()
	ev := evaluation{open: len(stages)}
	var stageOf []int
	for si, st := range stages {
		stageHolds := true
		for _, rule := range st.Rules {
			e, escalated := escalationOf(esc, si, rule.Name)
			escalated = escalated && !rule.EscalateTo.empty()
			rp := RuleProgress{
				Stage: st.Name, Rule: rule.Name, Needed: rule.MinApprovals,
				RejectThreshold: rule.threshold(), ApprovedBy: []string{}, RejectedBy: []string{},
				MayApprove: Eligibility{Principals: []string{}, Groups: []string{}},
				Escalated:  escalated,
			}
			autoApproved, autoRejected := false, false
			for _, rv := range counted {
				if rv.Auto != nil {
					// An automatic decision counts only for its own rule,
					// and only when the rule has that expression (and, to
					// approve, the policy allows automatic approval):
					// it decides the rule by itself.
					if rv.Stage != si || rv.Auto.Rule != rule.Name {
						continue
					}
					switch {
					case rv.Decision == DecisionApprove && pol.autoApproves(rule, rv.Auto.Expression):
						autoApproved = true
						rp.ApprovedBy = append(rp.ApprovedBy, rv.Reviewer)
					case rv.Decision == DecisionReject && rule.AutoRejectIf != "" && rv.Auto.Expression == rule.AutoRejectIf:
						autoRejected = true
						rp.RejectedBy = append(rp.RejectedBy, rv.Reviewer)
					}
					continue
				}
				if rv.Stage != si || !rule.eligibleAs(rv.Reviewer, rv.Groups, escalated && rv.Version >= e.Version) {
					continue
				}
				switch rv.Decision {
				case DecisionApprove:
					rp.ApprovedBy = append(rp.ApprovedBy, rv.Reviewer)
				case DecisionReject:
					rp.RejectedBy = append(rp.RejectedBy, rv.Reviewer)
				}
			}
			rp.Approvals, rp.Rejections = len(rp.ApprovedBy), len(rp.RejectedBy)
			rp.Satisfied = rp.Approvals >= rule.MinApprovals || autoApproved
			if (rp.Rejections >= rp.RejectThreshold || autoRejected) && !ev.rejected {
				ev.rejected, ev.rejectBy = true, rule.Name
			}
			if !rp.Satisfied {
				stageHolds = false
				rp.MayApprove.Anyone = rule.anyone()
				rp.MayApprove.Groups = append(rp.MayApprove.Groups, rule.Groups...)
				principals := rule.Principals
				if escalated {
					for _, g := range rule.EscalateTo.Groups {
						if !slices.Contains(rp.MayApprove.Groups, g) {
							rp.MayApprove.Groups = append(rp.MayApprove.Groups, g)
						}
					}
					principals = append(slices.Clone(principals), rule.EscalateTo.Principals...)
				}
				for _, id := range principals {
					if !reviewed[id] && (id != requester || pol.AllowSelfReview) && !slices.Contains(rp.MayApprove.Principals, id) {
						rp.MayApprove.Principals = append(rp.MayApprove.Principals, id)
					}
				}
			}
			ev.rules = append(ev.rules, rp)
			stageOf = append(stageOf, si)
		}
		if !stageHolds && ev.open == len(stages) {
			ev.open = si
		}
	}
	// Only the open stage's rules accept reviews; later stages wait.
	for i := range ev.rules {
		ev.rules[i].Open = stageOf[i] == ev.open
	}
	ev.satisfied = ev.open == len(stages)
	return ev
}

// eligibleNow reports whether principal p may review a request under policy
// pol made by requester, given its evaluation ev so far and the escalations esc:
// p must be eligible for a rule of the stage open now (as one of its own
// reviewers or, once the rule is escalated, as one of its escalation
// reviewers) and, unless the policy allows it, must not be the requester.
// The returned error says why not.
func (pol Policy) eligibleNow(p Principal, requester string, ev evaluation, esc []Escalation) error {
	if p.ID == requester && !pol.AllowSelfReview {
		return Errorf(KindForbidden, CodeSelfReview, "the requester may not review their own request")
	}
	stages := pol.stages()
	if ev.open < len(stages) {
		for _, r := range stages[ev.open].Rules {
			_, escalated := escalationOf(esc, ev.open, r.Name)
			if r.eligibleAs(p.ID, p.Groups, escalated) {
				return nil
			}
		}
	}
	// Say whether p would be eligible later (or was earlier), so the
	// refusal tells them what to wait for.
	for si, st := range stages {
		for _, r := range st.Rules {
			if r.eligible(p.ID, p.Groups) && si > ev.open {
				return Errorf(KindConflict, CodeStageNotOpen, "%s reviews in stage %s, which opens after stage %s is satisfied", p.ID, st.Name, stages[ev.open].Name)
			}
		}
	}
	if ev.open >= len(stages) {
		return Errorf(KindConflict, CodeInvalidTransition, "every rule of the policy is satisfied; no more reviews are needed")
	}
	return Errorf(KindForbidden, CodeNotEligible, "%s is not an eligible reviewer for this request", p.ID)
}

// reviewerKeys are the keys under which a stores indexes a reviewer's inbox.
const (
	keyAnyone    = "*"
	keyPrincipal = "p:"
	keyGroup     = "g:"
)

// InboxKeys returns the keys under which principal p finds requests
// awaiting its review in a store's inbox index (see Request.Index).
func InboxKeys(p Principal) []string {
	keys := []string{keyAnyone, keyPrincipal + p.ID}
	for _, g := range p.Groups {
		keys = append(keys, keyGroup+g)
	}
	slices.Sort(keys)
	return slices.Compact(keys)
}
