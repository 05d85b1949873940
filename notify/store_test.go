package notify

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"approvald/approval"
	"approvald/engine"
	"approvald/signedlink"
	"approvald/store/sqlite"
)

// clock is a test clock that moves only when told.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

var (
	requester = approval.Principal{ID: "user:carol", Scopes: []approval.Scope{approval.ScopeCreate, approval.ScopeRead}}
	alice     = approval.Principal{ID: "user:alice", Groups: []string{"ops"}, Scopes: []approval.Scope{approval.ScopeReview, approval.ScopeRead}}
	admin     = approval.Principal{ID: "user:root", Scopes: []approval.Scope{approval.ScopeAdmin}}
)

// world is a store, an engine, a mail server, a chat endpoint, and a
// planner and a sender over them, all on one test clock.
type world struct {
	t       *testing.T
	ctx     context.Context
	st      Store
	eng     *engine.Engine
	clock   *clock
	smtp    *smtpServer
	chat    *webhook
	signer  *signedlink.Signer
	planner *Planner
	sender  *Sender
	reg     *prometheus.Registry
}

func setup(t *testing.T, mut func(*Config)) *world {
	t.Helper()
	t.Parallel()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "n.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	clk := &clock{t: time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)}
	signer, err := signedlink.New(signedlink.Key{ID: "k1", Secret: []byte("0123456789abcdef0123456789abcdef")})
	if err != nil {
		t.Fatal(err)
	}
	w := &world{t: t, ctx: ctx, st: st, eng: engine.New(st, engine.WithClock(clk.Now)), clock: clk,
		smtp: newSMTPServer(t, false, false), chat: newWebhook(t, http.StatusOK), signer: signer, reg: prometheus.NewRegistry()}
	mail := w.smtp.channel(approval.TLSNone)
	must(t, st.CreateChannel(ctx, mail))
	chat := w.chat.channel(approval.ChannelSlack)
	chat.Name = "team-chat"
	must(t, st.CreateChannel(ctx, chat))
	for _, c := range []approval.Contact{
		{Principal: "user:alice", Email: "alice@example.com"},
		{Principal: "user:bob", Email: "bob@example.com"},
		{Principal: "user:carol", Email: "carol@example.com"},
		{Principal: "user:dave", Email: "dave@example.com"},
		{Principal: "user:root", Email: "root@example.com", Admin: true},
	} {
		must(t, st.PutContact(ctx, c))
	}
	cfg := Config{PublicURL: "https://approvals.example.com/", Signer: signer, Now: clk.Now, AllowPrivate: true,
		Logger: slog.New(slog.DiscardHandler), Registry: w.reg, SendTimeout: 5 * time.Second}
	if mut != nil {
		mut(&cfg)
	}
	if w.planner, err = NewPlanner(st, cfg); err != nil {
		t.Fatal(err)
	}
	if w.sender, err = NewSender(st, cfg); err != nil {
		t.Fatal(err)
	}
	w.sender.email.roots = w.smtp.roots
	return w
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// create makes a pending request that needs alice's or bob's approval and
// one of group ops.
func (w *world) create(title string) *approval.Request {
	w.t.Helper()
	c, err := w.eng.Create(w.ctx, requester, approval.Draft{Title: title, Policy: &approval.Policy{Rules: []approval.Rule{
		{Name: "people", MinApprovals: 1, Principals: []string{"user:alice", "user:bob"}, RejectThreshold: 1},
		{Name: "team", MinApprovals: 1, Groups: []string{"ops"}, RejectThreshold: 1},
	}}}, "", nil)
	if err != nil {
		w.t.Fatal(err)
	}
	return c.Request
}

// plan runs the planner until nothing is left and returns the queue.
func (w *world) plan() []approval.Notification {
	w.t.Helper()
	for {
		n, err := w.planner.PlanOnce(w.ctx)
		must(w.t, err)
		if n == 0 {
			break
		}
	}
	ns, err := w.st.ListNotifications(w.ctx, approval.NotificationFilter{Limit: 1000})
	must(w.t, err)
	return ns
}

// send runs the sender until it claims nothing.
func (w *world) send() {
	w.t.Helper()
	for {
		n, err := w.sender.SendOnce(w.ctx)
		must(w.t, err)
		if n == 0 {
			return
		}
	}
}

func recipients(ns []approval.Notification, kind approval.NotifyKind) []string {
	var out []string
	for _, n := range ns {
		if n.Kind == kind {
			out = append(out, n.Recipient+" "+n.Channel+" "+n.Address)
		}
	}
	slices.Sort(out)
	return out
}

func mailsTo(ms []received, addr string) []received {
	var out []received
	for _, m := range ms {
		if slices.Contains(m.To, addr) {
			out = append(out, m)
		}
	}
	return out
}

func TestPlanner_ReviewRequestedMailsTheReviewersASignedLink(t *testing.T) {
	w := setup(t, nil)
	r := w.create("Deploy billing")
	got := recipients(w.plan(), approval.NotifyReviewRequested)
	want := []string{"user:alice mail alice@example.com", "user:bob mail bob@example.com"}
	if !slices.Equal(got, want) {
		t.Fatalf("planned %q, want %q (the requester is not told, group ops has no contact)", got, want)
	}
	w.send()
	ms := w.smtp.received()
	if len(ms) != 2 {
		t.Fatalf("%d mails, want 2", len(ms))
	}
	m := parseMail(t, mailsTo(ms, "alice@example.com")[0].Data)
	if m.Header.Get("Message-ID") != "<approval."+r.ID+"@example.com>" {
		t.Errorf("Message-ID = %q, want the thread root", m.Header.Get("Message-ID"))
	}
	i := strings.Index(m.Text, "https://approvals.example.com/ui/requests/"+r.ID+"?link=")
	if i < 0 {
		t.Fatalf("the mail has no link to the request:\n%s", m.Text)
	}
	link, err := url.Parse(strings.Fields(m.Text[i:])[0])
	must(t, err)
	claims, err := w.signer.Verify(link.Query().Get("link"), w.clock.Now())
	if err != nil {
		t.Fatalf("the link's token does not verify: %v", err)
	}
	if claims.RequestID != r.ID || claims.Version != r.Version || claims.Digest != r.Digest || claims.Recipient != "user:alice" ||
		!claims.Expires.Equal(w.clock.Now().Add(7*24*time.Hour)) {
		t.Errorf("claims = %+v, want request %s v%d for user:alice, a week long", claims, r.ID, r.Version)
	}
	if v := testutil.ToFloat64(w.sender.metrics.sent.WithLabelValues("email", "review_requested")); v != 2 {
		t.Errorf("approvald_notifications_sent_total = %v, want 2", v)
	}
}

func TestPlanner_GroupsRoutesDelegatesMutesAndDedup(t *testing.T) {
	w := setup(t, nil)
	// ops: its chat and a member address; a route to the same chat for
	// every kind (one message, not two); dave stands in for alice; bob muted
	// review requests.
	must(t, w.st.PutContact(w.ctx, approval.Contact{Group: "ops", Channel: "team-chat", Emails: []string{"ops-lead@example.com"}}))
	must(t, w.st.CreateRoute(w.ctx, &approval.NotificationRoute{Channel: "team-chat", Scope: approval.RouteAll}))
	must(t, w.st.CreateDelegation(w.ctx, approval.Delegation{ID: "d1", Delegator: "user:alice", Delegate: "user:dave", DelegatorGroups: []string{},
		Starts: w.clock.Now().Add(-time.Hour), Ends: w.clock.Now().Add(24 * time.Hour), CreatedBy: "user:alice", CreatedAt: w.clock.Now()}))
	must(t, w.st.SetMutes(w.ctx, "user:bob", []approval.NotifyKind{approval.NotifyReviewRequested}))
	r := w.create("Rotate keys")
	got := recipients(w.plan(), approval.NotifyReviewRequested)
	want := []string{"channel:team-chat team-chat ", "group:ops mail ops-lead@example.com", "user:alice mail alice@example.com", "user:dave mail dave@example.com"}
	if !slices.Equal(got, want) {
		t.Fatalf("planned %q, want %q", got, want)
	}
	w.send()
	if n := len(w.chat.received()); n != 1 {
		t.Errorf("%d chat messages, want 1", n)
	}
	ms := w.smtp.received()
	lead := mailsTo(ms, "ops-lead@example.com")
	if len(ms) != 3 || len(lead) != 1 {
		t.Fatalf("%d mails (%d to the group), want 3 (alice, dave, the group's address)", len(ms), len(lead))
	}
	if m := parseMail(t, lead[0].Data); !strings.Contains(m.Text, "/ui/requests/"+r.ID) || strings.Contains(m.Text, "?link=") {
		t.Errorf("a group address gets a link without a token:\n%s", m.Text)
	}

	// The decision goes to the requester, and by the route to the chat.
	_, err := w.eng.Review(w.ctx, approval.Principal{ID: "user:bob", Scopes: alice.Scopes}, r.ID, approval.ReviewInput{Decision: approval.DecisionReject}, nil)
	must(t, err)
	got = recipients(w.plan(), approval.NotifyDecision)
	want = []string{"channel:team-chat team-chat ", "user:carol mail carol@example.com"}
	if !slices.Equal(got, want) {
		t.Fatalf("planned %q for the decision, want %q", got, want)
	}
}

func TestPlanner_RouteForOtherKindsStaysQuiet(t *testing.T) {
	w := setup(t, nil)
	must(t, w.st.CreateRoute(w.ctx, &approval.NotificationRoute{Channel: "team-chat", Scope: approval.RouteAll, Events: []approval.NotifyKind{approval.NotifyDecision}}))
	w.create("Quiet")
	for _, n := range w.plan() {
		if n.Channel == "team-chat" {
			t.Errorf("a route for decisions queued %+v", n)
		}
	}
}

// failingPlan fails PlanNotifications once, as a planner that crashed
// between claiming and planning.
type failingPlan struct {
	Store
	once sync.Once
}

func (f *failingPlan) PlanNotifications(ctx context.Context, seqs []int64, ns []approval.Notification, now time.Time) error {
	err := error(nil)
	f.once.Do(func() { err = errors.New("crash") })
	if err != nil {
		return err
	}
	return f.Store.PlanNotifications(ctx, seqs, ns, now)
}

func TestPlanner_ACrashedPlanIsPlannedOnceAfterTheLease(t *testing.T) {
	w := setup(t, nil)
	w.create("Crash")
	crashing, err := NewPlanner(&failingPlan{Store: w.st}, w.planner.cfg)
	must(t, err)
	if _, err := crashing.PlanOnce(w.ctx); err == nil {
		t.Fatal("the crashing planner did not fail")
	}
	if ns := w.plan(); len(ns) != 0 {
		t.Fatalf("%d notifications planned while the event is leased", len(ns))
	}
	w.clock.Advance(w.planner.cfg.PlanLease + time.Second)
	if ns := w.plan(); len(recipients(ns, approval.NotifyReviewRequested)) != 2 {
		t.Fatalf("after the lease: %q, want alice and bob once", recipients(ns, approval.NotifyReviewRequested))
	}
	// Planning the same notifications again (a second planner that raced)
	// adds none: the key deduplicates.
	ns := w.plan()
	again := slices.Clone(ns)
	for i := range again {
		again[i].ID = 0
	}
	must(t, w.st.PlanNotifications(w.ctx, nil, again, w.clock.Now()))
	if after := w.plan(); len(after) != len(ns) {
		t.Errorf("%d notifications after planning them again, want %d", len(after), len(ns))
	}
}

func TestSender_BatchWindowSendsOneDigest(t *testing.T) {
	w := setup(t, func(c *Config) { c.BatchWindow = time.Minute })
	var ids []string
	for _, title := range []string{"One", "Two", "Three"} {
		ids = append(ids, w.create(title).ID)
	}
	w.plan()
	w.clock.Advance(time.Minute - time.Second)
	w.send()
	if n := len(w.smtp.received()); n != 0 {
		t.Fatalf("%d mails inside the batching window", n)
	}
	want := `
# HELP approvald_notifications_pending Notifications neither sent nor given up.
# TYPE approvald_notifications_pending gauge
approvald_notifications_pending 6
# HELP approvald_notifications_oldest_pending_age_seconds Age of the oldest pending notification; 0 when there is none.
# TYPE approvald_notifications_oldest_pending_age_seconds gauge
approvald_notifications_oldest_pending_age_seconds 59
`
	if err := testutil.GatherAndCompare(w.reg, strings.NewReader(want), "approvald_notifications_pending", "approvald_notifications_oldest_pending_age_seconds"); err != nil {
		t.Error(err)
	}
	w.clock.Advance(time.Minute) // due now, all three together
	w.send()
	toAlice := mailsTo(w.smtp.received(), "alice@example.com")
	if len(toAlice) != 1 {
		t.Fatalf("%d mails to alice, want one digest", len(toAlice))
	}
	m := parseMail(t, toAlice[0].Data)
	if s := m.Header.Get("Subject"); s != "[approvald] 3 notifications about approval requests" {
		t.Errorf("Subject = %q", s)
	}
	for _, id := range ids {
		if !strings.Contains(m.Text, "/ui/requests/"+id+"?link=") {
			t.Errorf("the digest lacks request %s", id)
		}
	}
	pending, err := w.st.ListNotifications(w.ctx, approval.NotificationFilter{Pending: true, Limit: 100})
	must(t, err)
	if len(pending) != 0 {
		t.Errorf("%d notifications still pending", len(pending))
	}
}

func TestSender_AClaimOfADeadSenderIsSentAfterTheLease(t *testing.T) {
	w := setup(t, nil)
	w.create("Lease")
	w.plan()
	now := w.clock.Now()
	claimed, err := w.st.ClaimNotifications(w.ctx, now, now.Add(w.sender.cfg.Lease), 10, 10)
	must(t, err)
	if len(claimed) != 2 {
		t.Fatalf("the dead sender claimed %d, want 2", len(claimed))
	}
	w.send() // within the lease: nothing
	if n := len(w.smtp.received()); n != 0 {
		t.Fatalf("%d mails sent while another sender holds the lease", n)
	}
	w.clock.Advance(w.sender.cfg.Lease + time.Second)
	w.send()
	if n := len(w.smtp.received()); n != 2 {
		t.Fatalf("%d mails after the lease, want 2", n)
	}
	w.send()
	if n := len(w.smtp.received()); n != 2 {
		t.Fatalf("%d mails after sending again, want still 2", n)
	}
}

func TestSender_ChatServerErrorIsRetriedClientErrorGivenUp(t *testing.T) {
	w := setup(t, nil)
	must(t, w.st.CreateRoute(w.ctx, &approval.NotificationRoute{Channel: "team-chat", Scope: approval.RouteAll}))
	w.chat.mu.Lock()
	w.chat.status = http.StatusServiceUnavailable
	w.chat.mu.Unlock()
	r := w.create("Flaky chat")
	w.plan()
	w.send()
	chatNote := func() approval.Notification {
		ns, err := w.st.ListNotifications(w.ctx, approval.NotificationFilter{RequestID: r.ID, Limit: 100})
		must(t, err)
		for _, n := range ns {
			if n.Channel == "team-chat" {
				return n
			}
		}
		t.Fatal("no chat notification")
		return approval.Notification{}
	}
	n := chatNote()
	if n.SentAt != nil || n.FailedAt != nil || n.Attempts != 1 || !n.NextAttempt.Equal(w.clock.Now().Add(30*time.Second)) ||
		!strings.Contains(n.LastError, "503") || strings.Contains(n.LastError, "SECRET") {
		t.Fatalf("after a 503: %+v, want a retry in 30s with the status and no URL", n)
	}
	if v := testutil.ToFloat64(w.sender.metrics.failures.WithLabelValues("slack", reasonRetry)); v != 1 {
		t.Errorf("failures{retry} = %v, want 1", v)
	}
	w.chat.mu.Lock()
	w.chat.status = http.StatusOK
	w.chat.mu.Unlock()
	w.clock.Advance(30 * time.Second)
	w.send()
	if n := chatNote(); n.SentAt == nil || n.Attempts != 2 {
		t.Fatalf("after the retry: %+v, want sent on the second attempt", n)
	}

	// A 4xx gives up at once.
	w.chat.mu.Lock()
	w.chat.status = http.StatusNotFound
	w.chat.mu.Unlock()
	r = w.create("Gone chat")
	w.plan()
	w.send()
	if n := chatNote(); n.FailedAt == nil || n.Attempts != 1 || !strings.Contains(n.LastError, "404") {
		t.Fatalf("after a 404: %+v, want given up", n)
	}
	// The mails were sent regardless.
	if got := len(mailsTo(w.smtp.received(), "alice@example.com")); got != 2 {
		t.Errorf("%d mails to alice, want 2", got)
	}
}

func TestSender_GivesUpAfterMaxAttemptsAndOnADeletedChannel(t *testing.T) {
	w := setup(t, func(c *Config) { c.MaxAttempts = 2 })
	w.create("Nowhere")
	w.plan()
	// The mail server goes away: each attempt fails.
	w.sender.email = NewEmailSender(false, time.Second, nil) // refuses loopback
	w.send()
	w.clock.Advance(time.Hour)
	w.send()
	failed, err := w.st.ListNotifications(w.ctx, approval.NotificationFilter{Failed: true, Limit: 100})
	must(t, err)
	if len(failed) != 2 {
		t.Fatalf("%d given up after 2 attempts, want 2", len(failed))
	}

	must(t, w.st.CreateRoute(w.ctx, &approval.NotificationRoute{Channel: "team-chat", Scope: approval.RouteAll}))
	w.create("Deleted chat")
	w.plan()
	routes, err := w.st.ListRoutes(w.ctx)
	must(t, err)
	for _, rt := range routes {
		must(t, w.st.DeleteRoute(w.ctx, rt.ID))
	}
	must(t, w.st.DeleteChannel(w.ctx, "team-chat"))
	w.send()
	failed, err = w.st.ListNotifications(w.ctx, approval.NotificationFilter{Failed: true, Limit: 100})
	must(t, err)
	var gone int
	for _, n := range failed {
		if n.Channel == "team-chat" && strings.Contains(n.LastError, "no longer exists") {
			gone++
		}
	}
	if gone != 1 || len(w.chat.received()) != 0 {
		t.Errorf("%d chat notifications given up for the deleted channel (%d posted), want 1", gone, len(w.chat.received()))
	}
}

func TestWorkers_RunSendsWhatTheEngineChanges(t *testing.T) {
	w := setup(t, func(c *Config) { c.Poll = 50 * time.Millisecond })
	ctx, cancel := context.WithCancel(w.ctx)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); w.planner.Run(ctx, 2) }()
	go func() { defer wg.Done(); w.sender.Run(ctx, 2) }()
	var ids []string
	for range 5 {
		ids = append(ids, w.create("Concurrent").ID)
	}
	sent := func() int {
		ns, err := w.st.ListNotifications(w.ctx, approval.NotificationFilter{Limit: 100})
		must(t, err)
		n := 0
		for _, x := range ns {
			if x.SentAt != nil {
				n++
			}
		}
		return n
	}
	deadline := time.Now().Add(20 * time.Second)
	for sent() < 10 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	wg.Wait()
	if n := sent(); n != 10 {
		t.Fatalf("%d notifications sent, want 10 (5 requests × alice and bob)", n)
	}
	// Each request reached each reviewer exactly once, alone or in a digest.
	for _, addr := range []string{"alice@example.com", "bob@example.com"} {
		var text strings.Builder
		for _, m := range mailsTo(w.smtp.received(), addr) {
			text.WriteString(parseMail(t, m.Data).Text)
		}
		for _, id := range ids {
			if c := strings.Count(text.String(), "/ui/requests/"+id+"?link="); c != 1 {
				t.Errorf("%s was told of %s %d times, want once", addr, id, c)
			}
		}
	}
	// The queue collector the sender registered reads the store.
	want := `
# HELP approvald_notifications_pending Notifications neither sent nor given up.
# TYPE approvald_notifications_pending gauge
approvald_notifications_pending 0
# HELP approvald_notifications_failed Notifications given up (kept until they are deleted by age).
# TYPE approvald_notifications_failed gauge
approvald_notifications_failed 0
`
	if err := testutil.GatherAndCompare(w.reg, strings.NewReader(want), "approvald_notifications_pending", "approvald_notifications_failed"); err != nil {
		t.Error(err)
	}
	if v := testutil.ToFloat64(w.sender.metrics.sent.WithLabelValues("email", "review_requested")); v != 10 {
		t.Errorf("approvald_notifications_sent_total = %v, want 10", v)
	}
}

func TestPlanner_DeliveryFailedTellsTheRequesterAndTheAdmins(t *testing.T) {
	w := setup(t, nil)
	r := w.create("Failing delivery")
	data, err := json.Marshal(r)
	must(t, err)
	channels, err := w.st.ListChannels(w.ctx)
	must(t, err)
	plan := func(k approval.NotifyKind, data []byte) []string {
		ns, err := w.planner.plan(w.ctx, approval.OutboxRecord{ID: "e1", RequestID: r.ID, Version: r.Version, Data: data, Notify: k}, nil, channels, "mail", w.clock.Now())
		must(t, err)
		return recipients(ns, k)
	}
	got := plan(approval.NotifyDeliveryFailed, data)
	want := []string{"user:carol mail carol@example.com", "user:root mail root@example.com"}
	if !slices.Equal(got, want) {
		t.Errorf("delivery_failed planned %q, want %q", got, want)
	}
	if got := plan("no_such_kind", data); len(got) != 0 {
		t.Errorf("an unknown kind planned %q", got)
	}
	if got := plan(approval.NotifyDecision, []byte("{not json")); len(got) != 0 {
		t.Errorf("an undecodable event planned %q", got)
	}
}
