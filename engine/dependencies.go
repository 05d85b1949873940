package engine

import (
	"context"
	"slices"
	"strings"
	"time"

	"approvald/approval"
)

// annotate tells each request read outside a change the current statuses
// of its dependencies, for its progress. (A change gets them from its own
// transaction: see apply.)
func (e *Engine) annotate(ctx context.Context, rs ...*approval.Request) error {
	var ids []string
	for _, r := range rs {
		ids = append(ids, r.DependsOn...)
	}
	if len(ids) == 0 {
		return nil
	}
	slices.Sort(ids)
	deps, err := e.store.Statuses(ctx, slices.Compact(ids))
	if err != nil {
		return err
	}
	for _, r := range rs {
		if len(r.DependsOn) > 0 {
			r.SetDependencies(deps)
		}
	}
	return nil
}

// maxCascade bounds how many requests one settlement resolves in a chain;
// the sweeper (ResolveDue) picks up anything beyond.
const maxCascade = 1000

// settled follows up a committed change to r: when r is final, its pending
// dependents are resolved (rejected if r failed; approved if r's approval
// was all that held them); when r is pending and held only by its
// dependencies, it is resolved itself, in case a dependency settled while
// the change was being made. Dependencies only ever move towards a final
// status, and every change that makes one final is followed up here, so a
// status that a change's transaction read and that was stale by its commit
// is corrected right after. Failures are logged: the sweeper retries.
func (e *Engine) settled(ctx context.Context, r *approval.Request) {
	if r == nil {
		return
	}
	queue := []*approval.Request{r}
	for n := 0; len(queue) > 0 && n < maxCascade; n++ {
		r := queue[0]
		queue = queue[1:]
		var ids []string
		switch {
		case r.Status.Final():
			deps, err := e.store.Dependents(ctx, r.ID)
			if err != nil {
				e.log.Error("finding dependent requests failed", "request_id", r.ID, "err", err)
				continue
			}
			ids = deps
		case r.Status == approval.StatusPending && r.Index().Blocked:
			ids = []string{r.ID}
		}
		for _, id := range ids {
			out, err := e.resolve(ctx, id)
			if err != nil {
				e.log.Error("resolving a request by its dependencies failed", "request_id", id, "err", err)
				continue
			}
			if out != nil && out.Status.Final() {
				queue = append(queue, out)
			}
		}
	}
}

// resolve decides request id by its dependencies, if they decide it now
// (or expires it, when it is overdue: see apply). It returns the request
// when it changed, else nil.
func (e *Engine) resolve(ctx context.Context, id string) (*approval.Request, error) {
	r, ch, err := e.apply(ctx, "engine.resolve", id, nil, func(r *approval.Request) (approval.Change, error) {
		return r.Resolve(e.Now()), nil
	})
	if err != nil || ch.IsZero() {
		return nil, err
	}
	return r, nil
}

// resolveBatch bounds the work of one sweep step.
const resolveBatch = 100

// ResolveDue resolves every pending request that its dependencies decide
// now — normally done right after each change (settled); this catches
// what a crash between a commit and its follow-up left behind. It returns
// how many requests it decided.
func (e *Engine) ResolveDue(ctx context.Context) (int, error) {
	n := 0
	for {
		ids, err := e.store.Unresolved(ctx, resolveBatch)
		if err != nil {
			return n, err
		}
		progressed := false
		for _, id := range ids {
			r, err := e.resolve(ctx, id)
			if err != nil {
				return n, err
			}
			if r != nil {
				n++
				progressed = true
				e.settled(ctx, r)
			}
		}
		if len(ids) < resolveBatch || !progressed {
			return n, nil
		}
	}
}

// RemindDue re-requests reviews of pending requests whose reminder is due
// and returns how many it reminded.
func (e *Engine) RemindDue(ctx context.Context) (int, error) {
	return e.sweepDue(ctx, "engine.remind", e.store.DueReminders, (*approval.Request).Remind)
}

// EscalateDue escalates the rules of pending requests whose escalation is
// due (approval.Request.Escalate) and returns how many requests it escalated.
func (e *Engine) EscalateDue(ctx context.Context) (int, error) {
	return e.sweepDue(ctx, "engine.escalate", e.store.DueEscalations, (*approval.Request).Escalate)
}

// sweepDue applies change, as op, to every request that due finds due now,
// batch by batch, and returns how many it changed. A request found overdue
// meanwhile is expired instead (and its dependents followed up).
func (e *Engine) sweepDue(ctx context.Context, op string, due func(context.Context, time.Time, int) ([]string, error),
	change func(*approval.Request, time.Time) approval.Change) (int, error) {
	n := 0
	for {
		ids, err := due(ctx, e.Now(), resolveBatch)
		if err != nil {
			return n, err
		}
		progressed := false
		for _, id := range ids {
			r, ch, err := e.apply(ctx, op, id, nil, func(r *approval.Request) (approval.Change, error) {
				return change(r, e.Now()), nil
			})
			if err != nil {
				return n, err
			}
			switch {
			case expired(ch): // overdue, which the sweeper's expiry had not reached
				e.followUp(ctx, r)
				progressed = true
			case !ch.IsZero():
				n++
				progressed = true
			}
		}
		if len(ids) < resolveBatch || !progressed {
			return n, nil
		}
	}
}

// delegationFrom returns the delegation from delegator to p active now,
// or a KindForbidden error (not_delegated) when there is none. Only
// delegations to p itself count: those its delegator received are never
// followed (delegations do not transit).
func (e *Engine) delegationFrom(ctx context.Context, p approval.Principal, delegator string) (*approval.Delegation, error) {
	now := e.Now()
	ds, err := e.store.ActiveDelegations(ctx, p.ID, now)
	if err != nil {
		return nil, err
	}
	for _, d := range ds {
		if d.Delegator == delegator && d.Delegate == p.ID && d.ActiveAt(now) {
			return &d, nil
		}
	}
	return nil, approval.Errorf(approval.KindForbidden, approval.CodeNotDelegated, "%s holds no active delegation from %s", p.ID, delegator)
}

// Inbox returns up to limit pending requests awaiting p's review — p is
// eligible for a rule of the open stage that still needs approvals and has
// not reviewed — oldest first, after the cursor, and the next cursor ("" on
// the last page). Overdue requests read as expired, so they are not in it.
// It holds too the requests awaiting the delegators of the delegations to
// p active now, those p may review for them (see approval.Request.Eligible).
func (e *Engine) Inbox(ctx context.Context, p approval.Principal, after string, limit int) ([]*approval.Request, string, error) {
	if after != "" && !ValidID(after) {
		var v approval.Validation
		v.Add("cursor", "is not a cursor returned by this API")
		return nil, "", v.Err()
	}
	if !p.Has(approval.ScopeReview) {
		return []*approval.Request{}, "", nil // only reviewers have an inbox
	}
	rs, err := e.inboxAsOf(ctx, approval.InboxQuery{Principal: p, After: after, Limit: limit + 1})
	if err != nil {
		return nil, "", err
	}
	now := e.Now()
	ds, err := e.store.ActiveDelegations(ctx, p.ID, now)
	if err != nil {
		return nil, "", err
	}
	for _, d := range ds {
		if d.Delegate != p.ID || !d.ActiveAt(now) {
			continue
		}
		theirs, err := e.delegatedInbox(ctx, p, d, after, limit+1)
		if err != nil {
			return nil, "", err
		}
		rs = append(rs, theirs...)
	}
	if len(ds) > 0 {
		slices.SortFunc(rs, func(a, b *approval.Request) int { return strings.Compare(a.ID, b.ID) })
		rs = slices.CompactFunc(rs, func(a, b *approval.Request) bool { return a.ID == b.ID })
	}
	next := ""
	if len(rs) > limit {
		rs = rs[:limit]
		next = rs[limit-1].ID
	}
	if err := e.annotate(ctx, rs...); err != nil {
		return nil, "", err
	}
	return rs, next, nil
}

// delegatedInbox returns up to n requests after the cursor awaiting d's
// delegator that p, its delegate, may review for it now.
func (e *Engine) delegatedInbox(ctx context.Context, p approval.Principal, d approval.Delegation, after string, n int) ([]*approval.Request, error) {
	now := e.Now()
	q := approval.InboxQuery{Principal: d.Principal(), After: after, Limit: n}
	var out []*approval.Request
	for {
		page, err := e.inboxAsOf(ctx, q)
		if err != nil {
			return nil, err
		}
		for _, r := range page {
			if r.Eligible(p, &d, now) == nil {
				out = append(out, r)
			}
		}
		if len(out) >= n || len(page) < q.Limit {
			return out[:min(len(out), n)], nil
		}
		q.After = page[len(page)-1].ID
	}
}
