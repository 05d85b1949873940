package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"time"
)

// The legacy scenarios drive the stash-compatible API: its key goes bare in
// Authorization, and every request names a service rule by number.

// setUpLegacy creates the legacy scenarios' key (create and read) and the
// service rule their requests name (never decided, so nothing is delivered),
// and for legacy-get the requests to read.
func setUpLegacy(ctx context.Context, hc *http.Client, o *options) (setup, error) {
	var s setup
	suffix := randomHex(4)
	key, err := createKey(ctx, hc, *o, "load-legacy-"+suffix, "approvals:create", "approvals:read")
	if err != nil {
		return s, err
	}
	rule := map[string]any{"name": "load-legacy-" + suffix, "url": "http://127.0.0.1:9/never-called"}
	code, b, err := call(ctx, hc, "POST", o.url+"/v1/service-rules", o.adminKey, rule)
	if err != nil || code != http.StatusCreated {
		return s, fmt.Errorf("creating the service rule: %d %s %v", code, b, err)
	}
	var created struct {
		ID int64 `json:"id"`
	}
	if err := json.Unmarshal(b, &created); err != nil {
		return s, err
	}
	body := map[string]any{"title": "Pay invoice 42", "description": "legacy load", "service_rule": created.ID,
		"deadline": time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339)}
	if o.scenario == "legacy-create" {
		s.client = func(int) step { return legacyCreateClient(hc, *o, key, body) }
		return s, nil
	}
	ids := make([]string, 0, getPool)
	for range getPool {
		id, code, err := legacyCreate(ctx, hc, *o, key, body)
		if err != nil {
			return s, fmt.Errorf("creating the requests to read: %d %w", code, err)
		}
		ids = append(ids, id)
	}
	s.client = func(int) step { return legacyGetClient(hc, *o, key, ids) }
	return s, nil
}

// legacyCall sends body (if any) with the legacy API's bare key.
func legacyCall(ctx context.Context, hc *http.Client, method, url, key string, body any) (int, []byte, error) {
	h := http.Header{"Authorization": {key}}
	var b []byte
	if body != nil {
		b, _ = json.Marshal(body)
		h.Set("Content-Type", "application/json")
	}
	return send(ctx, hc, method, url, h, b)
}

// legacyCreate makes one request through POST /request and returns its id.
func legacyCreate(ctx context.Context, hc *http.Client, o options, key string, body map[string]any) (string, int, error) {
	code, reply, err := legacyCall(ctx, hc, "POST", o.url+"/request", key, body)
	if err != nil {
		return "", code, err
	}
	if code != http.StatusOK {
		return "", code, fmt.Errorf("legacy create: %d %s", code, reply)
	}
	var out struct {
		Item struct {
			ID string `json:"id"`
		} `json:"approval_item"`
	}
	if err := json.Unmarshal(reply, &out); err != nil || out.Item.ID == "" {
		return "", code, fmt.Errorf("legacy create: no id in %s", reply)
	}
	return out.Item.ID, code, nil
}

func legacyCreateClient(hc *http.Client, o options, key string, body map[string]any) step {
	return func(ctx context.Context, t *tallies) {
		start := time.Now()
		_, code, err := legacyCreate(ctx, hc, o, key, body)
		switch {
		case ctx.Err() != nil:
		case err != nil:
			t.fail("legacy-create", code)
		default:
			t.ok("legacy-create", time.Since(start))
		}
	}
}

// legacyGetClient reads one of ids at random through GET /request.
func legacyGetClient(hc *http.Client, o options, key string, ids []string) step {
	return func(ctx context.Context, t *tallies) {
		id := ids[rand.IntN(len(ids))]
		start := time.Now()
		code, _, err := legacyCall(ctx, hc, "GET", o.url+"/request?id="+id, key, nil)
		switch {
		case ctx.Err() != nil:
		case err != nil || code != http.StatusOK:
			t.fail("legacy-get", code)
		default:
			t.ok("legacy-get", time.Since(start))
		}
	}
}
