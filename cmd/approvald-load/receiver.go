package main

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"time"
)

// receiver is a loopback webhook receiver for load runs: it answers at once
// and records how long each decision took to arrive (receipt time minus the
// event's timestamp, the time the decision was committed), or it stalls.
type receiver struct {
	URL string
	srv *http.Server
	*latencies
}

func startReceiver(stall bool) (*receiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	rc := &receiver{URL: "http://" + ln.Addr().String() + "/hook", latencies: newLatencies()}
	rc.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if stall {
			<-r.Context().Done()
			return
		}
		got := time.Now()
		body, _ := io.ReadAll(r.Body)
		var ev struct {
			Type      string    `json:"type"`
			Timestamp time.Time `json:"timestamp"`
		}
		if json.Unmarshal(body, &ev) == nil && ev.Type == "approval.decided" {
			rc.add(got.Sub(ev.Timestamp), 0)
		}
		w.WriteHeader(http.StatusNoContent)
	}), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = rc.srv.Serve(ln) }()
	return rc, nil
}

// Close stops the receiver.
func (rc *receiver) Close() { _ = rc.srv.Close() }

// settle waits until no decision has arrived for half a second, or max.
func (rc *receiver) settle(max time.Duration) {
	deadline := time.Now().Add(max)
	n := -1
	for time.Now().Before(deadline) {
		m := rc.count()
		if m == n {
			return
		}
		n = m
		time.Sleep(500 * time.Millisecond)
	}
}
