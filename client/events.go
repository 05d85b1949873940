package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
)

// EventOptions filter the event stream.
type EventOptions struct {
	// RequestID keeps the events of one request.
	RequestID string
	// Types keeps events of these types, such as "approval.decided".
	Types []string
	// After, when set, replays the events after this stream position (an
	// earlier [Event].Seq) before the live ones; otherwise the stream starts
	// with the events after the moment of connecting.
	After *int64
	// NoReconnect ends the stream (io.EOF) when the server closes it;
	// by default [EventStream.Next] reconnects and resumes after the last
	// event received, with backoff, until the context ends or the retry
	// policy's attempts run out.
	NoReconnect bool
}

// EventStream is an open event stream. Next is not safe for concurrent
// use; Close may be called from any goroutine.
type EventStream struct {
	c    *Client
	ctx  context.Context
	stop context.CancelFunc
	o    EventOptions

	mu   sync.Mutex
	body io.ReadCloser
	rd   *sseReader
	// last is the position of the last event received, -1 for none.
	last int64
}

// Events opens the server-sent event stream (GET /v1/events). It returns an
// error if the server refuses it (a bad filter, a missing scope); read the
// events with [EventStream.Next] and close the stream when done.
func (c *Client) Events(ctx context.Context, o EventOptions) (*EventStream, error) {
	ctx, stop := context.WithCancel(ctx)
	s := &EventStream{c: c, ctx: ctx, stop: stop, o: o, last: -1}
	if o.After != nil {
		s.last = *o.After
	}
	if err := s.connect(); err != nil {
		stop()
		return nil, err
	}
	return s, nil
}

// connect opens the stream, resuming after s.last when there is one.
func (s *EventStream) connect() error {
	q := url.Values{}
	if s.o.RequestID != "" {
		q.Set("request_id", s.o.RequestID)
	}
	if len(s.o.Types) > 0 {
		q.Set("type", strings.Join(s.o.Types, ","))
	}
	var opts []CallOption
	if s.last >= 0 {
		opts = append(opts, Header("Last-Event-ID", strconv.FormatInt(s.last, 10)))
	}
	resp, _, err := s.c.send(s.ctx, &call{method: http.MethodGet, path: "/v1/events", query: q, stream: true, opts: opts})
	if err != nil {
		return err
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		resp.Body.Close()
		return fmt.Errorf("GET /v1/events: the answer is %q, not an event stream", ct)
	}
	s.mu.Lock()
	s.body, s.rd = resp.Body, newSSEReader(resp.Body)
	s.mu.Unlock()
	return nil
}

// Next blocks until the next event and returns it. When the connection
// drops it reconnects and resumes after the last event (unless
// NoReconnect). It returns an error wrapping the context's when the context
// ends or the stream is closed, io.EOF when the server ends the stream and
// NoReconnect is set, or the error that made reconnecting fail.
func (s *EventStream) Next() (*Event, error) {
	failures := 0
	for {
		s.mu.Lock()
		rd := s.rd
		s.mu.Unlock()
		if rd == nil {
			if err := s.ctx.Err(); err != nil {
				return nil, fmt.Errorf("event stream: %w", context.Cause(s.ctx))
			}
			if err := s.connect(); err != nil {
				var apiErr *Error
				failures++
				if errors.As(err, &apiErr) || failures >= s.c.retry.MaxAttempts || s.ctx.Err() != nil {
					return nil, err
				}
				delay, _ := s.c.retryDelay(err, failures, true)
				if err := s.c.sleep(s.ctx, delay); err != nil {
					return nil, fmt.Errorf("event stream: %w", context.Cause(s.ctx))
				}
			}
			continue
		}
		m, err := rd.next()
		if err != nil {
			s.drop()
			if s.ctx.Err() != nil {
				return nil, fmt.Errorf("event stream: %w", context.Cause(s.ctx))
			}
			if s.o.NoReconnect {
				if err == io.EOF {
					return nil, io.EOF
				}
				return nil, fmt.Errorf("event stream: %w", err)
			}
			continue
		}
		failures = 0
		ev, err := decodeEvent(m)
		if err != nil {
			return nil, err
		}
		if ev.Seq > 0 {
			s.last = ev.Seq
		}
		return ev, nil
	}
}

// decodeEvent turns one server-sent event into an Event.
func decodeEvent(m sseMessage) (*Event, error) {
	var ev Event
	if err := json.Unmarshal([]byte(m.Data), &ev); err != nil {
		return nil, fmt.Errorf("event stream: event %s is not JSON: %w", m.ID, err)
	}
	if m.HasID {
		if n, err := strconv.ParseInt(m.ID, 10, 64); err == nil {
			ev.Seq = n
		}
	}
	if ev.Type == "" {
		ev.Type = m.Event
	}
	return &ev, nil
}

// LastSeq returns the position of the last event received (or the After it
// was opened with), -1 for none: pass it as After to resume later.
func (s *EventStream) LastSeq() int64 { return s.last }

// drop closes the current connection.
func (s *EventStream) drop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.body != nil {
		s.body.Close()
	}
	s.body, s.rd = nil, nil
}

// Close ends the stream; a Next blocked in another goroutine returns.
func (s *EventStream) Close() error {
	s.stop()
	s.drop()
	return nil
}
