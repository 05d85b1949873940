package delivery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	neturl "net/url"
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

// Publisher copies every outbox event to NATS JetStream, subject
// approvald.events.<type>, with the event id as the message id, so that a
// republished event (after a crash between publishing and recording it) is
// dropped by JetStream's duplicate window.
type Publisher struct {
	store approval.Store
	nc    *nats.Conn
	js    jetstream.JetStream
	wake  <-chan struct{}
	poll  time.Duration
	log   *slog.Logger
	now   func() time.Time
}

// NewPublisher connects to the NATS server at url and makes sure the stream
// exists. It returns an error if the server cannot be reached or the stream
// cannot be created.
func NewPublisher(ctx context.Context, s approval.Store, url string, wake <-chan struct{}, poll time.Duration, log *slog.Logger) (*Publisher, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	nc, err := nats.Connect(url, nats.Name("approvald"), nats.MaxReconnects(-1), nats.RetryOnFailedConnect(false))
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
	_, err = js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:       StreamName,
		Subjects:   []string{SubjectPrefix + ">"},
		Duplicates: 10 * time.Minute,
		Storage:    jetstream.FileStorage,
	})
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("nats: stream %s: %w", StreamName, err)
	}
	return &Publisher{store: s, nc: nc, js: js, wake: wake, poll: poll, log: log, now: time.Now}, nil
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
func (p *Publisher) step(ctx context.Context) bool {
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
