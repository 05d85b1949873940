package engine

import (
	"cmp"
	"context"
	"slices"

	"approvald/approval"
)

// deadlineScanPage is how many requests one store read of ListByDeadline
// fetches.
const deadlineScanPage = 500

// ListByDeadline returns the requests in one of statuses (any status when
// statuses is empty) ordered by deadline ascending — requests without a
// deadline last, ties by id — skipping the first offset and returning at
// most limit. Overdue requests are expired first, as List does. It returns a
// KindInvalid error for a negative offset or a limit below 1.
//
// The store lists only newest first, so this reads every matching request,
// a page at a time, keeping the best offset+limit in memory: its cost grows
// with the number of matching requests. The legacy API, its one user, bounds
// offset and limit.
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
	if _, err := e.ExpireDue(ctx); err != nil {
		return nil, err
	}
	keep := offset + limit
	f := approval.Filter{Statuses: slices.Compact(slices.Sorted(slices.Values(statuses))), Limit: deadlineScanPage}
	var best []*approval.Request
	for {
		page, err := e.store.ListApprovals(ctx, f)
		if err != nil {
			return nil, err
		}
		best = append(best, page...)
		// Trimming only when the slice has doubled keeps the sorting
		// cost at O(n log keep) over the whole scan.
		if len(best) >= 2*keep+deadlineScanPage {
			slices.SortFunc(best, byDeadline)
			best = best[:keep]
		}
		if len(page) < deadlineScanPage {
			break
		}
		f.Before = page[len(page)-1].ID
	}
	slices.SortFunc(best, byDeadline)
	if offset >= len(best) {
		return []*approval.Request{}, nil
	}
	return best[offset:min(len(best), keep)], nil
}

// byDeadline orders requests by deadline ascending, those without one last,
// then by id.
func byDeadline(a, b *approval.Request) int {
	switch {
	case a.Deadline == nil && b.Deadline != nil:
		return 1
	case a.Deadline != nil && b.Deadline == nil:
		return -1
	case a.Deadline != nil && b.Deadline != nil:
		if c := a.Deadline.Compare(*b.Deadline); c != 0 {
			return c
		}
	}
	return cmp.Compare(a.ID, b.ID)
}
