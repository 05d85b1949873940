package delivery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	neturl "net/url"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"approvald/approval"
)

// Stream and subject names on NATS JetStream.
const (
	StreamName    = "APPROVALD_EVENTS"
	SubjectPrefix = "approvald.events."
	// publishLease is how long claimed events are ours to publish.
	publishLease = 30 * time.Second
	publishBatch = 100
)

// StreamLimits bound the JetStream stream approvald creates: events older
// than MaxAge, or beyond MaxBytes in all, are discarded oldest first. A
// stream that exists already is left as its operator configured it.
type StreamLimits struct {
	MaxAge   time.Duration
	MaxBytes int64
}

// Default stream limits: a week of events (the outbox keeps as long for
// Last-Event-ID resumes) and at most 1 GiB.
const (
	DefaultStreamMaxAge   = 7 * 24 * time.Hour
	DefaultStreamMaxBytes = 1 << 30
)

// Publisher copies every outbox event to NATS JetStream, subject
// approvald.events.<type>, with the event id as the message id, so that a
// republished event (after a crash between publishing and recording it) is
// dropped by JetStream's duplicate window. The events wait in the outbox
// while NATS is unreachable and are published, in order, once it is back.
type Publisher struct {
	store  approval.Deliveries
	nc     *nats.Conn
	js     jetstream.JetStream
	limits StreamLimits
	wake   <-chan struct{}
	poll   time.Duration
	log    *slog.Logger
	now    func() time.Time

	mu       sync.Mutex
	streamOK bool   // the stream exists (found or created)
	problem  string // why events are not being published now, "" when they are
}

// NewPublisher starts connecting to the NATS server at url, in the
// background: a server that is down does not stop approvald, whose events
// wait in the outbox (see Ready). It returns an error only for a URL that
// cannot be used. limits apply to the stream if approvald creates it;
// zero values take the defaults.
func NewPublisher(ctx context.Context, s approval.Deliveries, url string, limits StreamLimits, wake <-chan struct{}, poll time.Duration, log *slog.Logger) (*Publisher, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if limits.MaxAge <= 0 {
		limits.MaxAge = DefaultStreamMaxAge
	}
	if limits.MaxBytes <= 0 {
		limits.MaxBytes = DefaultStreamMaxBytes
	}
	p := &Publisher{store: s, limits: limits, wake: wake, poll: poll, log: log, now: time.Now, problem: "connecting to NATS"}
	nc, err := nats.Connect(url, nats.Name("approvald"), nats.MaxReconnects(-1), nats.RetryOnFailedConnect(true),
		nats.ReconnectWait(time.Second),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			p.setProblem("disconnected from NATS")
			log.Warn("NATS disconnected; events wait in the outbox", "err", err)
		}),
		nats.ReconnectHandler(func(*nats.Conn) {
			log.Info("NATS reconnected; publishing the events that waited")
			p.setProblem("")
		}),
		nats.ConnectHandler(func(*nats.Conn) { p.setProblem("") }),
	)
	if _, bad := errors.AsType[*neturl.Error](err); bad {
		// url.Parse's error repeats the URL, credentials included.
		return nil, errors.New("nats: connect: the server URL is not a valid URL")
	}
	if err != nil {
		return nil, fmt.Errorf("nats: connect: %w", err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("nats: jetstream: %w", err)
	}
	p.nc, p.js = nc, js
	if nc.IsConnected() {
		p.setProblem("")
	} else {
		log.Warn("NATS is not reachable; starting anyway, events wait in the outbox until it is")
	}
	return p, nil
}

func (p *Publisher) setProblem(why string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.problem = why
}

// Ready returns nil while events are being published to NATS, else an
// error saying why not (the rest of approvald works meanwhile: events wait
// durably in the outbox).
func (p *Publisher) Ready() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.problem != "":
		return errors.New(p.problem)
	case !p.streamOK:
		return fmt.Errorf("the JetStream stream %s is not ready", StreamName)
	}
	return nil
}

// ensureStream makes sure the stream exists, creating it with p's limits
// when it does not; an existing stream is left alone.
func (p *Publisher) ensureStream(ctx context.Context) error {
	p.mu.Lock()
	ok := p.streamOK
	p.mu.Unlock()
	if ok {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err := p.js.Stream(ctx, StreamName)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		_, err = p.js.CreateStream(ctx, jetstream.StreamConfig{
			Name:       StreamName,
			Subjects:   []string{SubjectPrefix + ">"},
			Duplicates: 10 * time.Minute,
			Storage:    jetstream.FileStorage,
			MaxAge:     p.limits.MaxAge,
			MaxBytes:   p.limits.MaxBytes,
			Discard:    jetstream.DiscardOld,
		})
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			err = nil // another instance made it meanwhile
		}
	}
	if err != nil {
		return fmt.Errorf("nats: stream %s: %w", StreamName, err)
	}
	p.mu.Lock()
	p.streamOK = true
	p.mu.Unlock()
	return nil
}

// Close closes the NATS connection.
func (p *Publisher) Close() { p.nc.Close() }

// Run publishes until ctx ends.
func (p *Publisher) Run(ctx context.Context) {
	tick := time.NewTicker(p.poll)
	defer tick.Stop()
	for {
		for p.step(ctx) {
		}
		select {
		case <-ctx.Done():
			return
		case <-p.wake:
		case <-tick.C:
		}
	}
}

// step publishes one batch; it reports whether a full batch went out.
// While NATS is unreachable it claims nothing: the events stay in order in
// the outbox for when it is back.
func (p *Publisher) step(ctx context.Context) bool {
	if !p.nc.IsConnected() {
		return false
	}
	if err := p.ensureStream(ctx); err != nil {
		if ctx.Err() == nil {
			p.log.Warn("the NATS stream is not ready; events wait in the outbox", "err", err)
		}
		return false
	}
	now := p.now()
	recs, err := p.store.ClaimUnpublished(ctx, now, now.Add(publishLease), publishBatch)
	if err != nil {
		if ctx.Err() == nil {
			p.log.Error("claiming events to publish failed", "err", err)
		}
		return false
	}
	var done []int64
	for _, rec := range recs {
		if err := p.publish(ctx, rec); err != nil {
			if !errors.Is(err, context.Canceled) {
				p.log.Warn("publishing an event failed; it will be retried", "event_id", rec.ID, "err", err)
			}
			break // keep order: the rest waits for the lease to run out
		}
		done = append(done, rec.Seq)
	}
	if len(done) > 0 {
		if err := p.store.MarkPublished(ctx, done, p.now()); err != nil {
			p.log.Error("recording published events failed; they will be published again (and deduplicated)", "err", err)
			return false
		}
	}
	return len(recs) == publishBatch && len(done) == len(recs)
}

func (p *Publisher) publish(ctx context.Context, rec approval.OutboxRecord) error {
	msg := nats.NewMsg(SubjectPrefix + rec.Type)
	msg.Data = EventJSON(rec)
	msg.Header.Set(nats.MsgIdHdr, rec.ID)
	msg.Header.Set("Approval-Id", rec.RequestID)
	msg.Header.Set("Approval-Version", fmt.Sprint(rec.Version))
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err := p.js.PublishMsg(ctx, msg)
	return err
}
