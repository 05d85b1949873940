package delivery

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"approvald/approval"
)

// gapWait is how long the Hub waits for a missing outbox sequence number
// (a transaction that took it may not have committed yet) before it decides
// the number was rolled back and moves on.
const gapWait = 2 * time.Second

// subBuffer is how many events a subscriber may fall behind before it is
// dropped (its stream ends; an SSE client resumes with Last-Event-ID).
const subBuffer = 256

// Hub tails the outbox and hands every event, in sequence order, to its
// subscribers: the server-sent-events stream and long-polls. It sees events
// committed by every instance, because it reads the database.
type Hub struct {
	store approval.Deliveries
	wake  <-chan struct{}
	poll  time.Duration
	log   *slog.Logger

	mu     sync.Mutex
	subs   map[*Subscription]struct{}
	cursor int64
	ready  chan struct{}
}

// Subscription receives the events that match its filter.
type Subscription struct {
	C         chan approval.OutboxRecord
	requestID string
	types     map[string]bool
	hub       *Hub
	once      sync.Once
}

// NewHub returns a hub on store s, woken by wake and polling every poll.
func NewHub(s approval.Deliveries, wake <-chan struct{}, poll time.Duration, log *slog.Logger) *Hub {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Hub{store: s, wake: wake, poll: poll, log: log, subs: map[*Subscription]struct{}{}, ready: make(chan struct{})}
}

// Subscribe returns a subscription to events of request requestID (all
// requests when ""), of the given types (all when empty). Close it when done.
func (h *Hub) Subscribe(requestID string, types []string) *Subscription {
	s := &Subscription{C: make(chan approval.OutboxRecord, subBuffer), requestID: requestID, hub: h}
	if len(types) > 0 {
		s.types = map[string]bool{}
		for _, t := range types {
			s.types[t] = true
		}
	}
	h.mu.Lock()
	h.subs[s] = struct{}{}
	h.mu.Unlock()
	return s
}

// Close ends the subscription and closes C.
func (s *Subscription) Close() {
	s.once.Do(func() {
		s.hub.mu.Lock()
		delete(s.hub.subs, s)
		s.hub.mu.Unlock()
		close(s.C)
	})
}

func (s *Subscription) matches(rec approval.OutboxRecord) bool {
	return (s.requestID == "" || s.requestID == rec.RequestID) && (s.types == nil || s.types[rec.Type])
}

// Cursor returns the sequence number of the last event handed out.
func (h *Hub) Cursor() int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.cursor
}

// Ready is closed once the hub has found the end of the outbox and
// subscriptions see every later event.
func (h *Hub) Ready() <-chan struct{} { return h.ready }

// Run tails the outbox until ctx ends, starting after its current end.
func (h *Hub) Run(ctx context.Context) {
	for {
		seq, err := h.store.LatestOutboxSeq(ctx)
		if err == nil {
			h.mu.Lock()
			h.cursor = seq
			h.mu.Unlock()
			break
		}
		if ctx.Err() != nil {
			return
		}
		h.log.Error("reading the outbox failed", "err", err)
		time.Sleep(h.poll)
	}
	close(h.ready)
	tick := time.NewTicker(h.poll)
	defer tick.Stop()
	var gapSince time.Time
	for {
		more, gap := h.step(ctx)
		switch {
		case gap && gapSince.IsZero():
			gapSince = time.Now()
		case gap && time.Since(gapSince) > gapWait:
			h.mu.Lock()
			h.cursor++ // give up on the missing number
			h.mu.Unlock()
			gapSince = time.Time{}
			continue
		case !gap:
			gapSince = time.Time{}
		}
		if more {
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-h.wake:
		case <-tick.C:
		}
	}
}

// step hands out the next contiguous run of events. It reports whether a
// full page was read (more may follow) and whether it stopped at a gap.
func (h *Hub) step(ctx context.Context) (more, gap bool) {
	const page = 500
	cursor := h.Cursor()
	recs, err := h.store.Outbox(ctx, cursor, page)
	if err != nil {
		if ctx.Err() == nil {
			h.log.Error("reading the outbox failed", "err", err)
		}
		return false, false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, rec := range recs {
		if rec.Seq != h.cursor+1 {
			return false, true
		}
		h.cursor = rec.Seq
		for s := range h.subs {
			if !s.matches(rec) {
				continue
			}
			select {
			case s.C <- rec:
			default: // too far behind: drop it, it will resume
				delete(h.subs, s)
				s.once.Do(func() { close(s.C) })
			}
		}
	}
	return len(recs) == page, false
}
