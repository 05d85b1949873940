package main

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"approvald/receipt"
)

// receiptPool is how many decided requests the receipt scenario makes
// when it runs for a duration (with -count it makes that many).
const receiptPool = 256

// maxReceiptCount bounds -count with -scenario receipt: its requests are
// all made (and approved) before the timed run.
const maxReceiptCount = 100_000

// receipts is the receipt scenario: the decided requests whose receipts
// the clients read, in turn (with -count, each once), and, with -verify,
// the distinct envelopes each client got, checked after the timed run.
type receipts struct {
	url      string
	reviewer string
	ids      []string
	next     atomic.Int64
	verify   bool
	got      []map[[32]byte]gotReceipt // by client
}

// gotReceipt is an envelope as it was answered for the request id.
type gotReceipt struct {
	id   string
	body []byte
}

// setUpReceipts makes the receipt scenario's requests: -count of them
// (receiptPool without -count), each created by the requester and approved
// by the reviewer, from -clients clients at once, before the timing starts.
func setUpReceipts(ctx context.Context, hc *http.Client, o options, requester, reviewer string, body map[string]any) (*receipts, error) {
	n := o.count
	if n == 0 {
		n = receiptPool
	}
	r := &receipts{url: o.url, reviewer: reviewer, ids: make([]string, n), verify: o.verify, got: make([]map[[32]byte]gotReceipt, o.clients)}
	var (
		next  atomic.Int64
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	for range min(int64(o.clients), n) {
		wg.Go(func() {
			for k := next.Add(1) - 1; k < n; k = next.Add(1) - 1 {
				id, err := createApproved(ctx, hc, o, requester, reviewer, body)
				if err != nil {
					mu.Lock()
					first = cmp.Or(first, err)
					mu.Unlock()
					return
				}
				r.ids[k] = id
			}
		})
	}
	wg.Wait()
	if first != nil {
		return nil, fmt.Errorf("making the decided requests whose receipts are read: %w", first)
	}
	return r, nil
}

// createApproved creates a request and approves it, and returns its id.
func createApproved(ctx context.Context, hc *http.Client, o options, requester, reviewer string, body map[string]any) (string, error) {
	id, _, err := create(ctx, hc, o, requester, body)
	if err != nil {
		return "", err
	}
	code, reply, err := call(ctx, hc, "POST", o.url+"/v1/approvals/"+id+"/reviews", reviewer, map[string]any{"decision": "approve"})
	if err != nil {
		return "", err
	}
	if code != http.StatusOK {
		return "", fmt.Errorf("approve: %d %s", code, reply)
	}
	return id, nil
}

// client returns the step of client i: the receipt of the next request,
// timed from the request to the whole answer; with -verify the envelope
// is kept (once per request and distinct body) for check.
func (r *receipts) client(hc *http.Client, i int) step {
	if r.verify {
		r.got[i] = map[[32]byte]gotReceipt{}
	}
	return func(ctx context.Context, t *tallies) {
		id := r.ids[(r.next.Add(1)-1)%int64(len(r.ids))]
		start := time.Now()
		code, body, err := call(ctx, hc, "GET", r.url+"/v1/approvals/"+id+"/receipt", r.reviewer, nil)
		took := time.Since(start)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil || code != http.StatusOK:
			t.fail("receipt", code)
			return
		}
		t.ok("receipt", took)
		if r.verify {
			// Keyed by the id too: the same envelope answered for two
			// requests is wrong for one of them.
			sum := sha256.Sum256(append([]byte(id+"\x00"), body...))
			if _, seen := r.got[i][sum]; !seen {
				r.got[i][sum] = gotReceipt{id: id, body: body}
			}
		}
	}
}

// check verifies every distinct envelope the clients got for each request
// against the server's keys (GET /.well-known/approvald/keys): its
// signature, and that it is the receipt of the request asked for,
// approved. It returns how many envelopes it checked, and an error naming
// how many failed and the first failure.
func (r *receipts) check(ctx context.Context, hc *http.Client) (int, error) {
	code, jwks, err := send(ctx, hc, "GET", r.url+"/.well-known/approvald/keys", nil, nil)
	if err != nil || code != http.StatusOK {
		return 0, fmt.Errorf("reading the receipt keys: %d %v", code, err)
	}
	keys, err := receipt.ParseJWKS(jwks)
	if err != nil {
		return 0, fmt.Errorf("the receipt keys: %w", err)
	}
	all := map[[32]byte]gotReceipt{}
	for _, g := range r.got {
		maps.Copy(all, g)
	}
	var failed []error
	for _, g := range all {
		if err := verifyReceipt(keys, g); err != nil {
			failed = append(failed, err)
		}
	}
	if len(failed) > 0 {
		return len(all), fmt.Errorf("%d of %d receipts do not verify; the first: %w", len(failed), len(all), failed[0])
	}
	return len(all), nil
}

// verifyReceipt checks one envelope.
func verifyReceipt(keys receipt.KeySet, g gotReceipt) error {
	var env receipt.Envelope
	if err := json.Unmarshal(g.body, &env); err != nil {
		return fmt.Errorf("the receipt of %s is not a DSSE envelope: %w", g.id, err)
	}
	st, err := keys.Verify(env)
	if err != nil {
		return fmt.Errorf("the receipt of %s: %w", g.id, err)
	}
	if st.Predicate.RequestID != g.id || st.Predicate.Decision != "approved" {
		return fmt.Errorf("the receipt of %s is of request %q, decision %q", g.id, st.Predicate.RequestID, st.Predicate.Decision)
	}
	return nil
}
