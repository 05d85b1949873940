package engine

import (
	"context"
	"time"

	"approvald/approval"
)

// ClaimDeliveries leases up to limit webhook deliveries due at now, except
// those of the rules in skip, until leaseUntil (see
// approval.Deliveries.ClaimDeliveries). It returns the store's error.
func (e *Engine) ClaimDeliveries(ctx context.Context, now, leaseUntil time.Time, skip []string, limit int) ([]approval.Claim, error) {
	return e.store.ClaimDeliveries(ctx, now, leaseUntil, skip, limit)
}

// FinishDelivery records the outcome res of an attempt at the claimed
// delivery c. An attempt to be made again (res.Done unset) only moves the
// delivery's next attempt; a finished one also settles the request in the
// same transaction — delivered, it reaches its final status; given up on,
// error (approval.Request.FinishDelivery) — traced and observed like every
// change, and followed up: the request's dependents are resolved. An
// outcome that the request has moved on from changes nothing. It returns
// the request when the outcome changed it (else nil) and the store's error.
func (e *Engine) FinishDelivery(ctx context.Context, c approval.Claim, res approval.DeliveryResult) (*approval.Request, error) {
	res.Seq = c.Seq
	if !res.Done {
		_, err := e.store.FinishDelivery(ctx, res, nil)
		return nil, err
	}
	r, ch, err := e.apply(ctx, "engine.finish_delivery", c.RequestID, &res, func(r *approval.Request) (approval.Change, error) {
		return r.FinishDelivery(c.Version, res, e.Now()), nil
	})
	if err != nil || ch.IsZero() {
		return nil, err
	}
	e.followUp(ctx, r)
	return r, nil
}
