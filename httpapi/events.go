package httpapi

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"approvald/approval"
	"approvald/delivery"
	"approvald/engine"
)

// Long-poll and event-stream limits.
const (
	MaxWait        = 50 * time.Second // longest ?wait=
	sseHeartbeat   = 15 * time.Second
	sseReplayPage  = 500
	maxEventFilter = 20
)

func unavailable(what string) error {
	return approval.Errorf(approval.KindUnavailable, approval.CodeUnavailable, "%s is not available on this server", what)
}

// waitParams reads ?wait= and ?after_version= of a long-poll.
func waitParams(r *http.Request) (time.Duration, int64, error) {
	q := r.URL.Query()
	var v approval.Validation
	var wait time.Duration
	var after int64
	if s := q.Get("wait"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 || d > MaxWait {
			v.Add("wait", "must be a duration from 0s to %s, such as 30s", MaxWait)
		}
		wait = d
	}
	if s := q.Get("after_version"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			v.Add("after_version", "must be a whole number")
		}
		after = n
	}
	return wait, after, v.Err()
}

// awaitChange waits until request id is past version after, the wait
// ends, or the client leaves; it returns the request as it then is.
func (s *server) awaitChange(r *http.Request, p approval.Principal, id string, wait time.Duration, after int64) (*approval.Request, error) {
	req, err := s.Engine.Get(r.Context(), id)
	if err != nil || req.Version > after || wait == 0 {
		return req, err
	}
	if s.Hub == nil {
		return nil, unavailable("long-polling")
	}
	release, err := s.openStream(p)
	if err != nil {
		return nil, err
	}
	defer release()
	select {
	case <-s.Hub.Ready(): // before that, the hub may miss a change
	case <-r.Context().Done():
		return req, nil
	case <-s.Stopping:
		return req, nil
	}
	sub := s.Hub.Subscribe(id, nil)
	defer sub.Close()
	// Read again: a change may have landed between the read and the subscription.
	if req, err = s.Engine.Get(r.Context(), id); err != nil || req.Version > after {
		return req, err
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		select {
		case <-r.Context().Done():
			return req, nil
		case <-s.Stopping:
			// The answer a timeout would give, now: the client polls again
			// (another instance, or this one restarted).
			return s.Engine.Get(r.Context(), id)
		case <-timer.C:
			return s.Engine.Get(r.Context(), id)
		case rec, ok := <-sub.C:
			if !ok || rec.Version > after {
				return s.Engine.Get(r.Context(), id)
			}
		}
	}
}

// events streams outbox events as server-sent events: "id" is the event's
// sequence number, "event" its type, "data" the event JSON. Last-Event-ID
// (or ?after=) resumes after a sequence number; ?request_id= and ?type=
// (comma-separated) filter.
func (s *server) events(w http.ResponseWriter, r *http.Request, p approval.Principal) error {
	if s.Hub == nil {
		return unavailable("the event stream")
	}
	release, err := s.openStream(p)
	if err != nil {
		return err
	}
	defer release()
	q := r.URL.Query()
	var v approval.Validation
	requestID := q.Get("request_id")
	if requestID != "" && !engine.ValidID(requestID) {
		v.Add("request_id", "is not a request id")
	}
	var types []string
	for _, t := range q["type"] {
		types = append(types, strings.Split(t, ",")...)
	}
	if len(types) > maxEventFilter {
		v.Add("type", "must name at most %d types", maxEventFilter)
	}
	after := int64(-1)
	for _, raw := range []string{r.Header.Get("Last-Event-ID"), q.Get("after")} {
		if raw == "" {
			continue
		}
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil || n < 0 {
			v.Add("Last-Event-ID", "must be the id of an event of this stream")
		}
		after = n
		break
	}
	if err := v.Err(); err != nil {
		return err
	}
	select {
	case <-s.Hub.Ready():
	case <-r.Context().Done():
		return nil
	case <-s.Stopping:
		return &approval.Error{Kind: approval.KindUnavailable, Code: approval.CodeUnavailable,
			Message: "the server is shutting down; reconnect in a moment", RetryAfter: sseShutdownRetry}
	}
	sub := s.Hub.Subscribe(requestID, types)
	defer sub.Close()
	live := s.Hub.Cursor() // events after this arrive through sub

	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	send := func(rec approval.OutboxRecord) error {
		_ = rc.SetWriteDeadline(time.Now().Add(30 * time.Second))
		if _, err := fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", rec.Seq, rec.Type, delivery.EventJSON(rec)); err != nil {
			return err
		}
		return rc.Flush()
	}
	_, _ = fmt.Fprint(w, ": approvald event stream\n\n")
	_ = rc.Flush()

	// Replay what the client missed, from the database, up to where the
	// subscription takes over.
	for after >= 0 && after < live {
		recs, err := s.Engine.Outbox(r.Context(), after, sseReplayPage)
		if err != nil || len(recs) == 0 {
			break
		}
		for _, rec := range recs {
			if rec.Seq > live {
				break
			}
			after = rec.Seq
			if (requestID == "" || rec.RequestID == requestID) && (len(types) == 0 || contains(types, rec.Type)) {
				if send(rec) != nil {
					return nil
				}
			}
		}
	}
	beat := time.NewTicker(sseHeartbeat)
	defer beat.Stop()
	for {
		select {
		case <-r.Context().Done():
			return nil
		case <-s.Stopping:
			// A last word before the stream ends: reconnect in a moment
			// (EventSource honours retry), resuming with Last-Event-ID.
			_ = rc.SetWriteDeadline(time.Now().Add(5 * time.Second))
			_, _ = fmt.Fprintf(w, "retry: %d\n: the server is shutting down; reconnect with Last-Event-ID\n\n", sseShutdownRetry.Milliseconds())
			_ = rc.Flush()
			return nil
		case <-beat.C:
			_ = rc.SetWriteDeadline(time.Now().Add(30 * time.Second))
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil || rc.Flush() != nil {
				return nil
			}
		case rec, ok := <-sub.C:
			if !ok {
				return nil // fell behind; the client resumes with Last-Event-ID
			}
			if rec.Seq <= after {
				continue
			}
			if send(rec) != nil {
				return nil
			}
		}
	}
}

// sseShutdownRetry is the reconnection delay an event stream asks for as
// the server shuts down.
const sseShutdownRetry = 2 * time.Second

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
