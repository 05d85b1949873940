package approval

import (
	"encoding/json"
	"time"
)

// Limits on items. They are part of the API contract.
const (
	MaxItems            = 1000 // items of one request
	MaxItemIDLen        = 128  // characters
	MaxItemNameLen      = 1024 // characters
	MaxItemMediaTypeLen = 255  // characters
	MaxItemMetadata     = 4 << 10
	MaxJustificationLen = 10_000 // characters
	MaxRevokeReasonLen  = 10_000 // characters
	MaxExpressionLen    = 4096   // bytes of a CEL expression
	MaxChangeCycles     = 100    // the most a policy may allow
	MaxBatchReview      = 100    // requests in one batch review
)

// Item is one part of what a request asks approval for. Digest is
// "sha256:<64 hex>" or "sha512:<128 hex>".
type Item struct {
	ID        string          `json:"id"`
	Name      string          `json:"name"`
	MediaType string          `json:"media_type,omitempty"`
	Size      int64           `json:"size"`
	Digest    string          `json:"digest"`
	Metadata  json.RawMessage `json:"metadata,omitempty"`
}

// ItemDecision is a reviewer's decision on one item.
type ItemDecision struct {
	ID       string   `json:"id"`
	Decision Decision `json:"decision"` // approve or reject
}

// ItemRef names a decided item in an outcome.
type ItemRef struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Digest string `json:"digest"`
}

// ItemOutcome is what was decided item by item.
type ItemOutcome struct {
	Approved []ItemRef `json:"approved"`
	Rejected []ItemRef `json:"rejected"`
	// Partial is true when some items were approved and some rejected.
	Partial bool `json:"partial"`
}

// Revocation records the revocation of an approved request.
type Revocation struct {
	By     string    `json:"by"`
	At     time.Time `json:"at"`
	Reason string    `json:"reason"`
}

// AutoDecision is the record of an automatic decision: the policy and rule
// whose expression decided, the expression, and the inputs it saw.
type AutoDecision struct {
	Policy     string          `json:"policy"`
	Rule       string          `json:"rule"`
	Expression string          `json:"expression"`
	Inputs     json.RawMessage `json:"inputs"`
}

// AutoPrincipal is the principal of automatic decisions by a policy's rules.
func AutoPrincipal(policy string) string { return "system:policy/" + policy }

// approvedByPolicy reports whether r's policy approves it over its live
// reviews, dependencies aside (with items: see items.go).
func (r *Request) approvedByPolicy() bool {
	approves, _ := r.policyOutcome()
	return approves
}

// Resubmit sends a request whose changes were requested back to review on
// behalf of p (its requester or an admin): it is pending again, in a new
// cycle (Cycle counts them), and every review before it is void — the
// reviewers review the request as it is now, as after an edit of its
// content; the reviews, with the comments that asked for changes, stay in
// the request and the history. The open stage opens afresh (its
// escalation clock restarts and earlier escalations are forgotten) and the
// reminders start again. expect is the If-Match version.
func (r *Request) Resubmit(p Principal, expect *int64, now time.Time) (Change, error) {
	now = TruncateTime(now)
	if err := r.checkVersion(expect); err != nil {
		return Change{}, err
	}
	if !Allowed(r.Status, ActionResubmit) {
		return Change{}, refuse(r.Status, "resubmit")
	}
	if err := r.mayManage(p, "resubmit"); err != nil {
		return Change{}, err
	}
	if err := r.checkOverdue(now); err != nil {
		return Change{}, err
	}
	r.ensureDigest()
	before := r.Clone()
	for i := range r.Reviews {
		r.Reviews[i].Void = true
	}
	r.Cycle++
	r.StageOpenedAt, r.Escalations = nil, nil // record opens the stage afresh
	r.transition(ActionResubmit, now)
	return r.record(before, ActionResubmit, p.ID, now), nil
}

// Revoke takes back the approval of an approved request on behalf of p: an
// admin, or a principal with the review scope who is an eligible reviewer
// of a rule of the request's policy marked can_revoke (not the requester,
// unless the policy allows self-review). reason is required. The request
// is revoked (final), the revocation recorded in Revocation, and the
// change's event (approval.revoked) is delivered to the service rule like a
// decision; delivery then records its outcome and keeps the request
// revoked (see the transition table).
func (r *Request) Revoke(p Principal, reason string, expect *int64, now time.Time) (Change, error) {
	now = TruncateTime(now)
	if err := r.checkVersion(expect); err != nil {
		return Change{}, err
	}
	if !Allowed(r.Status, ActionRevoke) {
		return Change{}, refuse(r.Status, "revoke")
	}
	if err := r.mayRevoke(p); err != nil {
		return Change{}, err
	}
	var v Validation
	checkText(&v, "reason", reason, MaxRevokeReasonLen, true)
	if err := v.Err(); err != nil {
		return Change{}, err
	}
	before := r.Clone()
	r.Revocation = &Revocation{By: p.ID, At: now, Reason: reason}
	r.Delivery = nil // from now on, the revocation's delivery
	r.transition(ActionRevoke, now)
	return r.record(before, ActionRevoke, p.ID, now), nil
}

// mayRevoke reports whether p may revoke r's approval (see Revoke).
func (r *Request) mayRevoke(p Principal) error {
	if p.IsAdmin() {
		return nil
	}
	if !p.Has(ScopeReview) {
		return Errorf(KindForbidden, CodeMissingScope, "revoking needs the %s scope", ScopeReview)
	}
	if p.ID == r.Requester && !r.Policy.AllowSelfReview {
		return Errorf(KindForbidden, CodeSelfReview, "the requester may not revoke the approval of their own request")
	}
	for _, st := range r.Policy.stages() {
		for _, rule := range st.Rules {
			if rule.CanRevoke && rule.eligible(p.ID, p.Groups) {
				return nil
			}
		}
	}
	return Errorf(KindForbidden, CodeNotEligible, "only an admin, or a reviewer of a rule that may revoke (can_revoke), may revoke this approval")
}
