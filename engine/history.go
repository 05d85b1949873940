package engine

import (
	"context"
	"time"

	"approvald/approval"
)

// defaultHistoryLimit is the page size of ListHistory when the filter sets none.
const defaultHistoryLimit = 50

// ListHistory returns up to f.Limit (by default 50) history entries of
// every request that match f, oldest first, and the cursor of the next page
// (0 on the last page): the ID of the last entry returned, to pass as
// f.After. It lists what is recorded and changes nothing: an overdue
// request's expiry shows once the sweep, or a read of the request, has
// expired it. It returns the store's error when reading fails.
func (e *Engine) ListHistory(ctx context.Context, f approval.HistoryFilter) ([]approval.HistoryRecord, int64, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = defaultHistoryLimit
	}
	f.Limit = limit + 1
	// Stores keep times to the microsecond: an entry is at or after a time
	// between two microseconds, or before it, as it is the later one.
	f.Since, f.Until = ceilMicros(f.Since), ceilMicros(f.Until)
	recs, err := e.store.ListHistory(ctx, f)
	if err != nil {
		return nil, 0, err
	}
	var next int64
	if len(recs) > limit {
		recs = recs[:limit]
		next = recs[limit-1].ID
	}
	return recs, next, nil
}

// ceilMicros returns t rounded up to a whole microsecond.
func ceilMicros(t time.Time) time.Time {
	if u := t.Truncate(time.Microsecond); !u.Equal(t) {
		return u.Add(time.Microsecond)
	}
	return t
}

// verifyBatch is how many requests' chains VerifyHistory reads at a time:
// it bounds the memory of a walk over every request.
const verifyBatch = 500

// VerifyHistory checks the history chain of every request — or only of
// requestID, when it is not "" — against the request (see
// approval.HistoryChain.Verify), walking the requests in id order a batch
// at a time, and returns what it found. It calls progress, when not nil,
// after each batch (the HTTP handler extends its write deadline). A
// requestID that is not a stored request is a KindNotFound error; when ctx
// ends or the store fails, the walk stops with that error.
func (e *Engine) VerifyHistory(ctx context.Context, requestID string, progress func(*approval.Verification)) (_ *approval.Verification, err error) {
	var v approval.Verification
	f := approval.ChainFilter{Limit: verifyBatch}
	if requestID != "" {
		if !ValidID(requestID) {
			return nil, errNotFound
		}
		f = approval.ChainFilter{RequestID: requestID, Limit: 1}
	}
	ctx, span := tracer.Start(ctx, "engine.verify_history")
	defer func() { endSpan(span, err) }()
	for {
		if err := ctx.Err(); err != nil {
			return nil, approval.Internal(context.Cause(ctx))
		}
		chains, err := e.store.HistoryChains(ctx, f)
		if err != nil {
			return nil, err
		}
		for _, c := range chains {
			v.Add(c)
		}
		if progress != nil {
			progress(&v)
		}
		if requestID != "" && len(chains) == 0 {
			return nil, errNotFound
		}
		if requestID != "" || len(chains) < f.Limit {
			return &v, nil
		}
		f.After = chains[len(chains)-1].RequestID
	}
}
