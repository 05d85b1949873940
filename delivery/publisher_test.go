package delivery

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"approvald/approval"
	"approvald/engine"
	"approvald/internal/testkit"
	"approvald/store/sqlite"
	"approvald/webhook"
)

// natsFixture is a NATS server with JetStream embedded in the test, on a
// random loopback port, a store and an engine to make events with, and a
// JetStream client to look at what arrived.
type natsFixture struct {
	t     *testing.T
	ctx   context.Context
	url   string
	store approval.Store
	eng   *engine.Engine
	js    jetstream.JetStream
}

func setupNATS(t *testing.T) *natsFixture {
	t.Helper()
	t.Parallel()
	ns, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: server.RANDOM_PORT, JetStream: true, StoreDir: t.TempDir(),
		NoLog: true, NoSigs: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	ns.Start()
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("the NATS server did not start")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return &natsFixture{t: t, ctx: ctx, url: ns.ClientURL(), store: st, eng: engine.New(st), js: js}
}

// publisher connects a publisher to the fixture's server and store.
func (f *natsFixture) publisher(wake <-chan struct{}) *Publisher {
	f.t.Helper()
	p, err := NewPublisher(f.ctx, f.store, f.url, StreamLimits{}, wake, 20*time.Millisecond, nil)
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(p.Close)
	if err := p.ensureStream(f.ctx); err != nil {
		f.t.Fatal(err)
	}
	return p
}

// changes makes n requests, edits the first and approves the second, and
// returns the outbox afterwards.
func (f *natsFixture) changes(n int) []approval.OutboxRecord {
	f.t.Helper()
	var ids []string
	for range n {
		c, err := f.eng.Create(f.ctx, requester, approval.Draft{Title: "t", Payload: json.RawMessage(`{"n":1}`)}, "", nil)
		if err != nil {
			f.t.Fatal(err)
		}
		ids = append(ids, c.Request.ID)
	}
	if _, err := f.eng.Edit(f.ctx, requester, ids[0], approval.Patch{Comment: approval.Some("hi")}, nil); err != nil {
		f.t.Fatal(err)
	}
	if n > 1 {
		if _, err := f.eng.Review(f.ctx, reviewer, ids[1], approval.ReviewInput{Decision: approval.DecisionApprove}, nil); err != nil {
			f.t.Fatal(err)
		}
	}
	return f.outbox()
}

func (f *natsFixture) outbox() []approval.OutboxRecord {
	f.t.Helper()
	recs, err := f.store.Outbox(f.ctx, 0, 1000)
	if err != nil {
		f.t.Fatal(err)
	}
	return recs
}

// streamMsgs returns the number of messages in the stream.
func (f *natsFixture) streamMsgs() uint64 {
	f.t.Helper()
	s, err := f.js.Stream(f.ctx, StreamName)
	if err != nil {
		f.t.Fatal(err)
	}
	info, err := s.Info(f.ctx)
	if err != nil {
		f.t.Fatal(err)
	}
	return info.State.Msgs
}

// waitStream waits until the stream holds n messages.
func (f *natsFixture) waitStream(n uint64) {
	f.t.Helper()
	testkit.Eventually(f.t, 10*time.Second, func() (bool, string) {
		got := f.streamMsgs()
		if got > n {
			f.t.Fatalf("the stream holds %d messages, want %d", got, n)
		}
		return got == n, fmt.Sprintf("the stream holds %d messages, want %d", got, n)
	})
}

// unpublished returns the events not yet marked published, whether leased
// or not. It looks an hour ahead, past any lease, and leaves what it finds
// due at once, so a running publisher is not held up by the look.
func (f *natsFixture) unpublished() []approval.OutboxRecord {
	f.t.Helper()
	recs, err := f.store.ClaimUnpublished(f.ctx, time.Now().Add(time.Hour), time.Now(), 1000)
	if err != nil {
		f.t.Fatal(err)
	}
	return recs
}

// waitPublished waits until every event is marked published.
func (f *natsFixture) waitPublished() {
	f.t.Helper()
	testkit.Eventually(f.t, 10*time.Second, func() (bool, string) {
		left := f.unpublished()
		return len(left) == 0, fmt.Sprintf("%d events are still not marked published: %v", len(left), seqs(left))
	})
}

// checkStream asserts that the stream holds exactly the events recs, in
// order, each as the publisher promises to send it.
func (f *natsFixture) checkStream(recs []approval.OutboxRecord) {
	f.t.Helper()
	t := f.t
	s, err := f.js.Stream(f.ctx, StreamName)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != uint64(len(recs)) {
		t.Fatalf("the stream holds %d messages, want %d", info.State.Msgs, len(recs))
	}
	for i, rec := range recs {
		msg, err := s.GetMsg(f.ctx, info.State.FirstSeq+uint64(i))
		if err != nil {
			t.Fatal(err)
		}
		if want := "approvald.events." + rec.Type; msg.Subject != want {
			t.Errorf("message %d: subject %q, want %q", i+1, msg.Subject, want)
		}
		if got := msg.Header.Get(nats.MsgIdHdr); got != rec.ID {
			t.Errorf("message %d: %s is %q, want the event id %q", i+1, nats.MsgIdHdr, got, rec.ID)
		}
		if msg.Header.Get("Approval-Id") != rec.RequestID || msg.Header.Get("Approval-Version") != strconv.FormatInt(rec.Version, 10) {
			t.Errorf("message %d: headers %v, want request %s version %d", i+1, msg.Header, rec.RequestID, rec.Version)
		}
		ev, err := webhook.ParseEvent(msg.Data)
		if err != nil {
			t.Errorf("message %d: %v: %s", i+1, err, msg.Data)
			continue
		}
		if ev.Type != rec.Type || ev.ID != rec.ID || !ev.Timestamp.Equal(rec.CreatedAt) {
			t.Errorf("message %d: event %s %s at %s, want %s %s at %s", i+1, ev.Type, ev.ID, ev.Timestamp, rec.Type, rec.ID, rec.CreatedAt)
		}
		var got, want bytes.Buffer
		if json.Compact(&got, ev.Data) != nil || json.Compact(&want, rec.Data) != nil || got.String() != want.String() {
			t.Errorf("message %d: data %s, want %s", i+1, ev.Data, rec.Data)
		}
	}
}

func TestPublisher_CopiesEveryEventToTheStreamAndMarksItPublished(t *testing.T) {
	f := setupNATS(t)
	before := f.changes(2) // events from before the publisher started
	if len(before) != 4 {
		t.Fatalf("%d events", len(before))
	}
	p := f.publisher(f.store.Changes())
	ctx, cancel := context.WithCancel(f.ctx)
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })

	f.waitStream(4)
	// A change made while it runs is published too.
	all := f.changes(1)
	f.waitStream(uint64(len(all)))
	f.waitPublished()
	f.checkStream(all)

	s, err := f.js.Stream(f.ctx, StreamName)
	if err != nil {
		t.Fatal(err)
	}
	cfg := s.CachedInfo().Config
	if len(cfg.Subjects) != 1 || cfg.Subjects[0] != "approvald.events.>" || cfg.Duplicates < time.Minute {
		t.Errorf("stream subjects %v, duplicate window %s", cfg.Subjects, cfg.Duplicates)
	}
}

func TestPublisher_RepublishingAfterACrashCreatesNoDuplicate(t *testing.T) {
	f := setupNATS(t)
	recs := f.changes(2)

	// The first publisher claims and publishes, then dies before recording it.
	first := f.publisher(nil)
	now := time.Now()
	claimed, err := f.store.ClaimUnpublished(f.ctx, now, now.Add(publishLease), publishBatch)
	if err != nil || len(claimed) != len(recs) {
		t.Fatalf("claimed %d of %d: %v", len(claimed), len(recs), err)
	}
	for _, rec := range claimed {
		if err := first.publish(f.ctx, rec); err != nil {
			t.Fatal(err)
		}
	}
	first.Close()
	f.checkStream(recs)
	if left := f.unpublished(); len(left) != len(recs) {
		t.Fatalf("%d events unpublished before the restart, want %d", len(left), len(recs))
	}

	// Once the lease has run out, the next publisher publishes them again.
	second := f.publisher(nil)
	second.now = func() time.Time { return time.Now().Add(publishLease + time.Minute) }
	for second.step(f.ctx) {
	}
	if left := f.unpublished(); len(left) != 0 {
		t.Fatalf("after the restart %d events are unpublished: %v", len(left), seqs(left))
	}
	// And once more by hand: JetStream drops every copy by its message id.
	if err := second.publish(f.ctx, recs[0]); err != nil {
		t.Fatal(err)
	}
	f.checkStream(recs)
}

// NATS down at start does not stop approvald: the publisher starts, says
// it is not ready, keeps the events in the outbox, and publishes them in
// order once the server is up — with the stream it creates bounded.
func TestPublisher_StartsWithoutNATSAndPublishesTheBacklogWhenItComes(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close() // nothing listens there yet
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	limits := StreamLimits{MaxAge: 48 * time.Hour, MaxBytes: 64 << 20}
	p, err := NewPublisher(ctx, st, "nats://127.0.0.1:"+strconv.Itoa(port), limits, nil, 20*time.Millisecond, nil)
	if err != nil {
		t.Fatalf("a publisher whose NATS is down: %v", err)
	}
	defer p.Close()
	if p.Ready() == nil {
		t.Fatal("ready without a NATS server")
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { p.Run(runCtx); close(done) }()
	defer func() { stop(); <-done }()
	f := &natsFixture{t: t, ctx: ctx, store: st, eng: engine.New(st)}
	recs := f.changes(3)

	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: port, JetStream: true, StoreDir: t.TempDir(), NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	ns.Start()
	defer func() { ns.Shutdown(); ns.WaitForShutdown() }()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("the NATS server did not start")
	}
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if f.js, err = jetstream.New(nc); err != nil {
		t.Fatal(err)
	}
	f.waitPublished()
	f.checkStream(recs)
	if err := p.Ready(); err != nil {
		t.Fatalf("not ready once NATS is up and the backlog is out: %v", err)
	}
	s, err := f.js.Stream(ctx, StreamName)
	if err != nil {
		t.Fatal(err)
	}
	if cfg := s.CachedInfo().Config; cfg.MaxAge != limits.MaxAge || cfg.MaxBytes != limits.MaxBytes || cfg.Discard != jetstream.DiscardOld {
		t.Fatalf("the stream approvald made: max age %s, max bytes %d, discard %v", cfg.MaxAge, cfg.MaxBytes, cfg.Discard)
	}
}

// A stream that exists already is the operator's: approvald publishes to
// it and leaves its configuration alone.
func TestPublisher_LeavesAnExistingStreamAlone(t *testing.T) {
	f := setupNATS(t)
	mine := jetstream.StreamConfig{Name: StreamName, Subjects: []string{SubjectPrefix + ">"}, MaxAge: time.Hour, Storage: jetstream.MemoryStorage}
	if _, err := f.js.CreateStream(f.ctx, mine); err != nil {
		t.Fatal(err)
	}
	p := f.publisher(nil)
	recs := f.changes(2)
	for p.step(f.ctx) {
	}
	f.checkStream(recs)
	s, err := f.js.Stream(f.ctx, StreamName)
	if err != nil {
		t.Fatal(err)
	}
	if cfg := s.CachedInfo().Config; cfg.MaxAge != time.Hour || cfg.Storage != jetstream.MemoryStorage || cfg.MaxBytes != -1 {
		t.Fatalf("the operator's stream was changed: %+v", cfg)
	}
}
