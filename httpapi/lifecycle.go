package httpapi

import (
	"net/http"
	"strconv"

	"approvald/access"
	"approvald/approval"
	"approvald/internal/httpkit"
)

// resubmitBody is the optional body of a resubmit: nothing yet, so that
// any field is refused rather than ignored.
type resubmitBody struct{}

// resubmitApproval sends a request in changes_requested back to pending
// (its requester or an admin: the engine checks).
func (s *server) resubmitApproval(w http.ResponseWriter, r *http.Request, p approval.Principal) error {
	expect, err := ifMatch(r)
	if err != nil {
		return err
	}
	var in resubmitBody
	if _, err := optionalBody.ReadJSON(w, r, &in); err != nil {
		return err
	}
	req, err := s.Engine.Resubmit(r.Context(), p, r.PathValue("id"), expect)
	if err != nil {
		return err
	}
	writeRequest(w, http.StatusOK, req)
	return nil
}

type revokeBody struct {
	Reason string `json:"reason"`
}

// revokeApproval takes back an approval (an admin, or an eligible reviewer
// of a rule marked can_revoke: the engine checks), with a reason.
func (s *server) revokeApproval(w http.ResponseWriter, r *http.Request, p approval.Principal) error {
	expect, err := ifMatch(r)
	if err != nil {
		return err
	}
	var in revokeBody
	if _, err := jsonBody.ReadJSON(w, r, &in); err != nil {
		return err
	}
	req, err := s.Engine.Revoke(r.Context(), p, r.PathValue("id"), in.Reason, expect)
	if err != nil {
		return err
	}
	writeRequest(w, http.StatusOK, req)
	return nil
}

// batchReviewBody is the body of POST /v1/approvals:batch-review.
type batchReviewBody struct {
	Reviews []batchReview `json:"reviews"`
}

// batchReview is one review of a batch: a review body with the request's
// id and the version it must be at (as If-Match would say it).
type batchReview struct {
	ID       string                  `json:"id"`
	Decision approval.Decision       `json:"decision"`
	Comment  string                  `json:"comment"`
	Items    []approval.ItemDecision `json:"items"`
	IfMatch  *int64                  `json:"if_match"`
}

// batchResult is the answer for one review of a batch: the status its own
// POST /v1/approvals/{id}/reviews would have had, and the request or the
// problem.
type batchResult struct {
	ID       string            `json:"id"`
	Status   int               `json:"status"`
	Approval *approval.Request `json:"approval,omitempty"`
	Error    *Problem          `json:"error,omitempty"`
}

// check returns the field errors of a batch: at least one review and at
// most approval.MaxBatchReview, each naming a request once, with a
// decision or item decisions, and a positive if_match when given. What
// each review asks is the engine's to judge, review by review.
func (in *batchReviewBody) check() error {
	var v approval.Validation
	switch {
	case len(in.Reviews) == 0:
		v.Add("reviews", "is required: at least one review")
	case len(in.Reviews) > approval.MaxBatchReview:
		v.Add("reviews", "must hold at most %d reviews, not %d", approval.MaxBatchReview, len(in.Reviews))
	}
	seen := make(map[string]int, len(in.Reviews))
	for i, rv := range in.Reviews {
		at := func(field string) string { return "reviews[" + strconv.Itoa(i) + "]." + field }
		switch first, dup := seen[rv.ID]; {
		case rv.ID == "":
			v.Add(at("id"), "is required")
		case dup:
			v.Add(at("id"), "names the same request as reviews[%d]; review each request once", first)
		default:
			seen[rv.ID] = i
		}
		switch rv.Decision {
		case approval.DecisionApprove, approval.DecisionReject, approval.DecisionRequestChanges:
		case "":
			if len(rv.Items) == 0 {
				v.Add(at("decision"), "is required unless items decides the request's items one by one")
			}
		default:
			v.Add(at("decision"), `must be "approve", "reject" or "request_changes", not %q`, rv.Decision)
		}
		if rv.IfMatch != nil && *rv.IfMatch < 1 {
			v.Add(at("if_match"), "must be a version of the request (1 or more)")
		}
	}
	return v.Err()
}

// batchReviewApprovals reviews each request of the batch independently,
// in order, as its own POST /v1/approvals/{id}/reviews would: each is
// checked and recorded by itself, and one refused leaves the others be.
// The answer is 200 with a result per review; only a body that is itself
// invalid is refused as a whole.
func (s *server) batchReviewApprovals(w http.ResponseWriter, r *http.Request, p approval.Principal) error {
	var in batchReviewBody
	if _, err := jsonBody.ReadJSON(w, r, &in); err != nil {
		return err
	}
	if err := in.check(); err != nil {
		return err
	}
	results := make([]batchResult, len(in.Reviews))
	for i, rv := range in.Reviews {
		review := approval.ReviewInput{Decision: rv.Decision, Comment: rv.Comment, Items: rv.Items}
		req, err := s.Engine.Review(r.Context(), p, rv.ID, review, rv.IfMatch)
		results[i] = batchResult{ID: rv.ID, Status: http.StatusOK, Approval: req}
		if err != nil {
			e := approval.AsError(err)
			status := httpkit.StatusOf(e.Kind)
			if status >= 500 {
				access.Logger(r.Context()).Error("batch review failed", "approval_id", rv.ID, "err", err, "code", e.Code)
			}
			prob := problemOf(r, status, e)
			results[i] = batchResult{ID: rv.ID, Status: status, Error: &prob}
		}
	}
	writeJSON(w, http.StatusOK, struct {
		Results []batchResult `json:"results"`
	}{results})
	return nil
}
