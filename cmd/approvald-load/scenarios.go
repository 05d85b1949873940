package main

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"time"
)

// getPool is how many requests the get scenario creates beforehand and
// reads at random.
const getPool = 64

// setup is a native scenario made ready: its keys, service rule and
// receiver exist, and client returns the step of client i.
type setup struct {
	client func(i int) step
	recv   *receiver
	sinks  *sinks
	// receipts is the receipt scenario's, to verify after the run.
	receipts *receipts
}

var payload = map[string]any{"title": "Pay invoice 42", "payload": map[string]any{"invoice": 42, "amount": "1200.00", "currency": "EUR", "lines": []int{1, 2, 3}}}

// setUp creates the keys of a native scenario (a requester, and a reviewer
// that also reads), and its service rule and receiver when asked for.
func setUp(ctx context.Context, hc *http.Client, o *options) (setup, error) {
	var s setup
	suffix := randomHex(4)
	requester, err := createKey(ctx, hc, *o, "load-requester-"+suffix, "approvals:create")
	if err != nil {
		return s, err
	}
	reviewer, err := createKey(ctx, hc, *o, "load-reviewer-"+suffix, "approvals:review", "approvals:read")
	if err != nil {
		return s, err
	}
	if o.receiver != "none" {
		if s.recv, err = startReceiver(o.receiver == "stall"); err != nil {
			return s, err
		}
		o.rule = "load-" + suffix
		body := map[string]any{"name": o.rule, "url": s.recv.URL, "timeout": "5s", "max_attempts": 3}
		if code, b, err := call(ctx, hc, "POST", o.url+"/v1/service-rules", o.adminKey, body); err != nil || code != http.StatusCreated {
			s.recv.Close()
			return s, fmt.Errorf("creating the service rule: %d %s %v", code, b, err)
		}
	}
	body := maps.Clone(payload)
	if o.rule != "" {
		body["service_rule"] = o.rule
	}
	if o.watch != "none" {
		o.watcher, o.watchKey = newWatcher(), reviewer
	}
	switch o.scenario {
	case "notify":
		if s.sinks, body, err = setUpNotify(ctx, hc, o, suffix); err != nil {
			return s, err
		}
		s.client = func(int) step { return createClient(hc, *o, requester, reviewer, body) }
	case "create", "approve":
		s.client = func(int) step { return createClient(hc, *o, requester, reviewer, body) }
	case "get":
		ids := make([]string, 0, getPool)
		for range getPool {
			id, _, err := create(ctx, hc, *o, requester, body)
			if err != nil {
				return s, fmt.Errorf("creating the requests to read: %w", err)
			}
			ids = append(ids, id)
		}
		s.client = func(int) step { return getClient(hc, *o, reviewer, ids) }
	case "receipt":
		r, err := setUpReceipts(ctx, hc, *o, requester, reviewer, body)
		if err != nil {
			return s, err
		}
		s.receipts = r
		s.client = func(i int) step { return r.client(hc, i) }
	case "list", "inbox":
		target := o.url + "/v1/approvals?awaiting=me&limit=50"
		if o.scenario == "list" {
			target = o.url + "/v1/approvals?status=pending&limit=50"
		}
		s.client = func(int) step { return readClient(hc, o.scenario, target, reviewer) }
	}
	return s, nil
}

func createKey(ctx context.Context, hc *http.Client, o options, name string, scopes ...string) (string, error) {
	code, body, err := call(ctx, hc, "POST", o.url+"/v1/api-keys", o.adminKey, map[string]any{"name": name, "scopes": scopes})
	if err != nil {
		return "", err
	}
	if code != http.StatusCreated {
		return "", fmt.Errorf("creating key %s: %d %s", name, code, body)
	}
	var k struct {
		Key string `json:"key"`
	}
	return k.Key, json.Unmarshal(body, &k)
}

// create makes one request and returns its id, or the status it got.
func create(ctx context.Context, hc *http.Client, o options, requester string, body map[string]any) (string, int, error) {
	code, reply, err := call(ctx, hc, "POST", o.url+"/v1/approvals", requester, body)
	if err != nil {
		return "", code, err
	}
	if code != http.StatusCreated {
		return "", code, fmt.Errorf("create: %d %s", code, reply)
	}
	var created struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(reply, &created); err != nil || created.ID == "" {
		return "", code, fmt.Errorf("create: no id in %s", reply)
	}
	return created.ID, code, nil
}

// createClient creates a request, then (scenario approve) approves it as
// the reviewer.
func createClient(hc *http.Client, o options, requester, reviewer string, body map[string]any) step {
	return func(ctx context.Context, t *tallies) {
		start := time.Now()
		id, code, err := create(ctx, hc, o, requester, body)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			t.fail("create", code)
			return
		}
		t.ok("create", time.Since(start))
		if o.scenario != "approve" {
			return
		}
		var polled chan struct{}
		if o.watch == "longpoll" {
			polled = make(chan struct{})
			go func() { o.watcher.longPoll(ctx, o, reviewer, id); close(polled) }()
			time.Sleep(watchLead)
		}
		start = time.Now()
		code, _, err = call(ctx, hc, "POST", o.url+"/v1/approvals/"+id+"/reviews", reviewer, map[string]any{"decision": "approve"})
		if polled != nil {
			defer func() { <-polled }()
		}
		switch {
		case ctx.Err() != nil:
		case err != nil || code != http.StatusOK:
			t.fail("approve", code)
		default:
			t.ok("approve", time.Since(start))
		}
	}
}

// getClient reads one of ids at random.
func getClient(hc *http.Client, o options, reviewer string, ids []string) step {
	return func(ctx context.Context, t *tallies) {
		id := ids[rand.IntN(len(ids))]
		start := time.Now()
		code, _, err := call(ctx, hc, "GET", o.url+"/v1/approvals/"+id, reviewer, nil)
		switch {
		case ctx.Err() != nil:
		case err != nil || code != http.StatusOK:
			t.fail("get", code)
		default:
			t.ok("get", time.Since(start))
		}
	}
}

// readClient reads the first page of target (the inbox or the pending list).
func readClient(hc *http.Client, op, target, reviewer string) step {
	return func(ctx context.Context, t *tallies) {
		start := time.Now()
		code, _, err := call(ctx, hc, "GET", target, reviewer, nil)
		switch {
		case ctx.Err() != nil:
		case err != nil || code != http.StatusOK:
			t.fail(op, code)
		default:
			t.ok(op, time.Since(start))
		}
	}
}

// statusClient reads target without a credential (the legacy GET /status).
func statusClient(hc *http.Client, target string) step {
	return func(ctx context.Context, t *tallies) {
		start := time.Now()
		code, _, err := send(ctx, hc, "GET", target, nil, nil)
		switch {
		case ctx.Err() != nil:
		case err != nil || code != http.StatusOK:
			t.fail("status", code)
		default:
			t.ok("status", time.Since(start))
		}
	}
}
