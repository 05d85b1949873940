package engine

import (
	"context"

	"approvald/approval"
)

// Resubmit sends a request in changes_requested back to pending on behalf
// of p (its requester or an admin), voiding the reviews before it.
// CONTRACT: implemented by the lifecycle work of issue 21.
func (e *Engine) Resubmit(ctx context.Context, p approval.Principal, id string, expect *int64) (*approval.Request, error) {
	return nil, approval.Errorf(approval.KindUnavailable, approval.CodeUnavailable, "resubmitting is not implemented yet")
}

// Revoke takes back the approval of an approved request on behalf of p (an
// admin, or an eligible reviewer of a rule marked can_revoke), with a
// required reason; the revocation is delivered to the service rule.
// CONTRACT: implemented by the lifecycle work of issue 21.
func (e *Engine) Revoke(ctx context.Context, p approval.Principal, id, reason string, expect *int64) (*approval.Request, error) {
	return nil, approval.Errorf(approval.KindUnavailable, approval.CodeUnavailable, "revoking is not implemented yet")
}
