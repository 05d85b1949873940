package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"approvald/approval"
	"approvald/engine"
	"approvald/internal/httpkit"
)

// maxStreams is how many live-update streams one principal may hold open
// on one instance (a few tabs each).
const maxStreams = 16

// streamHeartbeat keeps idle streams (and proxies) from timing out.
const streamHeartbeat = 15 * time.Second

// streamLimiter counts open streams per principal.
type streamLimiter struct {
	max  int
	mu   sync.Mutex
	open map[string]int
}

func newStreamLimiter(max int) *streamLimiter {
	return &streamLimiter{max: max, open: map[string]int{}}
}

// acquire takes a stream of principal id; release gives it back.
func (l *streamLimiter) acquire(id string) (release func(), err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[id] >= l.max {
		return nil, approval.Errorf(approval.KindRateLimited, approval.CodeRateLimited,
			"%s has %d live-update streams open, the most allowed; close a tab", id, l.max)
	}
	l.open[id]++
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			if l.open[id]--; l.open[id] <= 0 {
				delete(l.open, id)
			}
		})
	}, nil
}

// change is what the live-update stream says of an event: enough for the
// page to know whether to refresh, nothing a page would not show anyway.
type change struct {
	RequestID string `json:"request_id"`
	Version   int64  `json:"version"`
	Type      string `json:"type"`
}

// events streams the changes of one request (?request=<id>) or of all
// requests as server-sent events, for the pages' live updates. It reads
// the hub that feeds the API's /v1/events, so it sees every instance's
// changes.
func (s *server) events(w http.ResponseWriter, r *http.Request, sess *session) error {
	if s.Hub == nil {
		return approval.Errorf(approval.KindUnavailable, approval.CodeUnavailable, "live updates are not available on this server")
	}
	id := r.URL.Query().Get("request")
	if id != "" && !engine.ValidID(id) {
		var v approval.Validation
		v.Add("request", "is not a request id")
		return v.Err()
	}
	release, err := s.streams.acquire(sess.P.ID)
	if err != nil {
		return err
	}
	defer release()
	ctx := r.Context()
	select {
	case <-s.Hub.Ready():
	case <-ctx.Done():
		return nil
	case <-s.stopping:
		return approval.Errorf(approval.KindUnavailable, approval.CodeUnavailable, "the server is stopping")
	}
	sub := s.Hub.Subscribe(id, nil)
	defer sub.Close()

	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	write := func(format string, args ...any) bool {
		// The server's write timeout would end the stream: each write
		// gets its own deadline instead.
		_ = rc.SetWriteDeadline(time.Now().Add(30 * time.Second))
		if _, err := fmt.Fprintf(w, format, args...); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if !write("retry: 3000\n: approvald live updates\n\n") {
		return nil
	}
	beat := time.NewTicker(streamHeartbeat)
	defer beat.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-s.stopping:
			return nil // the browser reconnects, to this instance's successor
		case <-beat.C:
			if !write(": keep-alive\n\n") {
				return nil
			}
		case rec, ok := <-sub.C:
			if !ok {
				return nil // fell behind: the browser reconnects and the page refreshes
			}
			b, _ := json.Marshal(change{RequestID: rec.RequestID, Version: rec.Version, Type: rec.Type})
			if !write("event: change\ndata: %s\n\n", b) {
				return nil
			}
		}
	}
}

// statusOf is the HTTP status of err's kind, as the API maps it.
func statusOf(err error) int { return httpkit.StatusOf(approval.KindOf(err)) }
