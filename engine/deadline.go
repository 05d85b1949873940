package engine

import (
	"context"
	"slices"

	"approvald/approval"
)

// ListByDeadline returns the requests in one of statuses (any status when
// statuses is empty) ordered by deadline ascending — requests without a
// deadline last, ties by id — skipping the first offset and returning at
// most limit. Overdue requests read as expired, as in List. It returns a
// KindInvalid error for a negative offset or a limit below 1.
func (e *Engine) ListByDeadline(ctx context.Context, statuses []approval.Status, offset, limit int) ([]*approval.Request, error) {
	var v approval.Validation
	if offset < 0 {
		v.Add("offset", "must not be negative")
	}
	if limit < 1 {
		v.Add("limit", "must be at least 1")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	statuses = slices.Compact(slices.Sorted(slices.Values(statuses)))
	return e.byDeadlineAsOf(ctx, statuses, offset, limit)
}
