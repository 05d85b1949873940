package engine

import (
	"context"
	"slices"
	"time"

	"approvald/approval"
)

// Lists write nothing. A pending request whose deadline has passed but
// that the sweeper has not expired yet reads as expired
// (approval.Request.AsOf), and a filter on status goes by the status read:
// while such a request exists, a list asks the store for pending requests
// too when it wants expired ones, and reads on past what it leaves out.
// (Get of one such request records its expiry: see Get.)

// overdueAt reports whether some pending request is overdue at now.
func (e *Engine) overdueAt(ctx context.Context, now time.Time) (bool, error) {
	ids, err := e.store.Overdue(ctx, now, 1)
	return len(ids) > 0, err
}

// stored returns the stored statuses to ask for to find the requests that
// read in one of statuses (all when empty) while some are overdue: an
// expired one may still be stored as pending.
func stored(statuses []approval.Status) []approval.Status {
	if len(statuses) == 0 || !slices.Contains(statuses, approval.StatusExpired) || slices.Contains(statuses, approval.StatusPending) {
		return statuses
	}
	out := append(slices.Clone(statuses), approval.StatusPending)
	slices.Sort(out)
	return out
}

// keep appends to out the requests of page, as they read at now, whose
// status is in statuses (any when empty).
func keep(out, page []*approval.Request, statuses []approval.Status, now time.Time) []*approval.Request {
	for _, r := range page {
		if r = r.AsOf(now); len(statuses) == 0 || slices.Contains(statuses, r.Status) {
			out = append(out, r)
		}
	}
	return out
}

// listAsOf returns up to n requests matching f (whose Limit it ignores),
// newest first, as they read now.
func (e *Engine) listAsOf(ctx context.Context, f approval.Filter, n int) ([]*approval.Request, error) {
	now := e.Now()
	overdue, err := e.overdueAt(ctx, now)
	if err != nil {
		return nil, err
	}
	q := f
	q.Limit = n
	if overdue {
		q.Statuses = stored(f.Statuses)
	}
	var out []*approval.Request
	for {
		page, err := e.store.ListApprovals(ctx, q)
		if err != nil {
			return nil, err
		}
		out = keep(out, page, f.Statuses, now)
		if len(out) >= n || len(page) < q.Limit {
			return out[:min(len(out), n)], nil
		}
		q.Before = page[len(page)-1].ID
	}
}

// inboxAsOf is the store's Inbox without the requests that read as expired.
func (e *Engine) inboxAsOf(ctx context.Context, q approval.InboxQuery) ([]*approval.Request, error) {
	now := e.Now()
	n := q.Limit
	var out []*approval.Request
	for {
		page, err := e.store.Inbox(ctx, q)
		if err != nil {
			return nil, err
		}
		out = keep(out, page, []approval.Status{approval.StatusPending}, now)
		if len(out) >= n || len(page) < q.Limit {
			return out[:min(len(out), n)], nil
		}
		q.After = page[len(page)-1].ID
	}
}

// byDeadlineAsOf is the store's ListByDeadline by the statuses read now.
func (e *Engine) byDeadlineAsOf(ctx context.Context, statuses []approval.Status, offset, limit int) ([]*approval.Request, error) {
	now := e.Now()
	overdue, err := e.overdueAt(ctx, now)
	if err != nil {
		return nil, err
	}
	if !overdue {
		page, err := e.store.ListByDeadline(ctx, statuses, offset, limit)
		if err != nil {
			return nil, err
		}
		for i, r := range page {
			page[i] = r.AsOf(now)
		}
		return page, nil
	}
	// Offsets count the requests as read, which only reading from the
	// start can tell.
	var out []*approval.Request
	for at := 0; ; {
		page, err := e.store.ListByDeadline(ctx, stored(statuses), at, offset+limit)
		if err != nil {
			return nil, err
		}
		out = keep(out, page, statuses, now)
		if len(out) >= offset+limit || len(page) < offset+limit {
			return out[min(len(out), offset):min(len(out), offset+limit)], nil
		}
		at += len(page)
	}
}
