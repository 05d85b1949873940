package main

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"
)

// watchLead is how long, with -watch longpoll, a client's long-poll waits
// before the request is approved: time to subscribe, as `approvalctl wait`
// does long before a decision.
const watchLead = 50 * time.Millisecond

// watcher records how long decisions take to reach clients that wait for
// them (-watch): a long-poll of the request, as `approvalctl wait` makes, or
// a subscriber of the event stream. Each latency is the time of receipt
// minus the decision's commit time as the server tells it (the request's
// decided_at, the event's timestamp); client and server share a clock.
// Failures are counted by status: 1 for no answer, 200 for an answer
// without a decision.
type watcher struct {
	hc *http.Client // no connection limit: long-polls hold theirs
	*latencies
}

func newWatcher() *watcher {
	return &watcher{hc: &http.Client{Timeout: time.Minute}, latencies: newLatencies()}
}

// longPoll waits (at most 30 s) for request id to pass version 1, as
// `approvalctl wait` does, and records when its decision arrived.
func (w *watcher) longPoll(ctx context.Context, o options, key, id string) {
	code, body, err := send(ctx, w.hc, "GET", o.url+"/v1/approvals/"+id+"?wait=30s&after_version=1",
		http.Header{"Authorization": {"Bearer " + key}}, nil)
	got := time.Now()
	var r struct {
		DecidedAt *time.Time `json:"decided_at"`
	}
	ok := err == nil && code == http.StatusOK && json.Unmarshal(body, &r) == nil && r.DecidedAt != nil
	if ctx.Err() != nil && !ok {
		return // the run ended
	}
	if ok {
		w.add(got.Sub(*r.DecidedAt), 0)
	} else {
		w.add(0, max(code, 1)) // 1: no answer
	}
}

// stream subscribes to the event stream until ctx ends and records when
// each approval.decided event arrived.
func (w *watcher) stream(ctx context.Context, o options, key string, subscribed chan<- error) {
	req, err := http.NewRequestWithContext(ctx, "GET", o.url+"/v1/events", nil)
	if err != nil {
		subscribed <- err
		return
	}
	req.Header.Set("Authorization", "Bearer "+key)
	hc := &http.Client{} // no timeout: the stream lasts the run
	resp, err := hc.Do(req)
	if err != nil {
		subscribed <- err
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		subscribed <- &statusError{resp.StatusCode}
		return
	}
	close(subscribed)
	lines := bufio.NewScanner(resp.Body)
	lines.Buffer(make([]byte, 64<<10), 1<<20)
	for lines.Scan() {
		data, ok := strings.CutPrefix(lines.Text(), "data: ")
		if !ok {
			continue
		}
		got := time.Now()
		var ev struct {
			Type      string    `json:"type"`
			Timestamp time.Time `json:"timestamp"`
		}
		if json.Unmarshal([]byte(data), &ev) == nil && ev.Type == "approval.decided" {
			w.add(got.Sub(ev.Timestamp), 0)
		}
	}
}

type statusError struct{ code int }

func (e *statusError) Error() string { return "event stream: HTTP " + http.StatusText(e.code) }
