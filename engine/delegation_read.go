package engine

import (
	"context"

	"approvald/approval"
)

// Delegation returns the delegation id to p: an admin or auditor, or its
// delegator or delegate. To anyone else it is a KindNotFound error, as for
// a delegation that does not exist, so that its existence is not told.
func (e *Engine) Delegation(ctx context.Context, p approval.Principal, id string) (*approval.Delegation, error) {
	d, err := e.store.GetDelegation(ctx, id)
	if err != nil {
		return nil, err
	}
	if mayInspect(p, "") != nil && p.ID != d.Delegator && p.ID != d.Delegate {
		return nil, approval.NotFound("delegation")
	}
	return d, nil
}
