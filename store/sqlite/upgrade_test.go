package sqlite

import (
	"database/sql"
	"encoding/json"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"approvald/approval"
	"approvald/gateway/calllog"
)

// upgradeT0 is the clock of the rolling-upgrade test, with microseconds
// (SQLite keeps times as unix microseconds).
var upgradeT0 = time.Date(2025, 6, 1, 10, 0, 0, 123456000, time.UTC)

// planted is a request written with plain SQL at schema version v, as the
// code of that version wrote it, with its changes (history and events).
type planted struct {
	v        int64
	r        *approval.Request
	changes  []approval.Change
	webhook  string // the service rule the last event is delivered to, if any
	eventIDs []string
}

// TestRollingUpgradeFromOldestSchema migrates a fresh database only to the
// oldest migration, writes a row in every table it has, then migrates one
// version at a time, writing rows in the tables and columns each version
// adds; the store opened on it at last (which migrates to the latest) must
// return every row with its values, defaults for the columns added after
// it was written, and work on it: old requests change, new ones are made,
// every history chain verifies. It is the counterpart of the PostgreSQL
// store's test of the same name.
func TestRollingUpgradeFromOldestSchema(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "approvald.db")
	db, err := sql.Open("sqlite", dsn(path, "_pragma=journal_mode(WAL)", "_pragma=foreign_keys(1)"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	m, err := migrator(db)
	if err != nil {
		t.Fatal(err)
	}
	exec := func(query string, args ...any) {
		t.Helper()
		if _, err := db.ExecContext(ctx, query, args...); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
	}
	var version int64
	upTo := func(v int64) {
		t.Helper()
		if _, err := m.UpTo(ctx, v); err != nil {
			t.Fatalf("migrating up to %d: %v", v, err)
		}
		got, err := m.GetDBVersion(ctx)
		if err != nil || got != v {
			t.Fatalf("schema version %d (%v), want %d", got, err, v)
		}
		version = v
	}
	var requests []*planted
	plant := func(p *planted) {
		t.Helper()
		p.v = version
		insertPlanted(t, exec, p)
		requests = append(requests, p)
	}
	alice := approval.Principal{ID: "user:alice", Scopes: []approval.Scope{approval.ScopeCreate}}
	bob := approval.Principal{ID: "user:bob", Scopes: []approval.Scope{approval.ScopeReview}}
	one := approval.Policy{Rules: []approval.Rule{{Name: "one", MinApprovals: 1, RejectThreshold: 1}}}
	newReq := func(d approval.Draft, pol approval.Policy, source string, at time.Duration) (*approval.Request, approval.Change) {
		t.Helper()
		id, _ := uuid.NewV7()
		r, ch, err := approval.New(id.String(), d, alice, approval.Mandate{Policy: pol, Source: source}, upgradeT0.Add(at))
		if err != nil {
			t.Fatalf("approval.New: %v", err)
		}
		return r, ch
	}
	approve := func(r *approval.Request, at time.Duration) approval.Change {
		t.Helper()
		ch, err := r.Review(bob, approval.ReviewInput{Decision: approval.DecisionApprove, Comment: "fine"}, nil, upgradeT0.Add(at))
		if err != nil {
			t.Fatalf("Review: %v", err)
		}
		return ch
	}

	// Version 1: approvals, history, outbox, idempotency_keys, api_keys.
	upTo(1)
	r, ch := newReq(approval.Draft{Title: "v1 pending", Description: "d", Payload: json.RawMessage(`{"a":1}`)}, one, "default", 0)
	v1Pending := &planted{r: r, changes: []approval.Change{ch}}
	plant(v1Pending)
	r, ch = newReq(approval.Draft{Title: "v1 approved", Payload: json.RawMessage(`{"b":[1,2]}`), Comment: "first"}, one, "default", time.Second)
	plant(&planted{r: r, changes: []approval.Change{ch, approve(r, 2*time.Second)}})
	exec(`INSERT INTO idempotency_keys (principal, key, body_hash, request_id, response, created_at)
		VALUES ('user:alice', 'idem-1', 'body-hash', ?, ?, ?)`, v1Pending.r.ID, []byte(`{"id":"x"}`), micros(upgradeT0))
	adminKey, billingKey := uuid.NewString(), uuid.NewString()
	exec(`INSERT INTO api_keys (id, name, prefix, hash, scopes, groups, created_at, revoked_at)
		VALUES (?, 'admin', 'apd_adm', 'hash-admin', '["admin"]', '[]', ?, NULL),
		       (?, 'billing', 'apd_bil', 'hash-billing', '["read","create"]', '["finance"]', ?, ?)`,
		adminKey, micros(upgradeT0), billingKey, micros(upgradeT0), micros(upgradeT0.Add(time.Hour)))

	// Version 2: service_rules; outbox webhook columns.
	upTo(2)
	exec(`INSERT INTO service_rules (name, url, format, secret, api_key, timeout_ms, max_attempts, headers, created_at, updated_at)
		VALUES ('publisher', 'https://publish.example/hook', 'standard', 'shh', 'key', 5000, 7, '{"X-Team":"data"}', ?, ?)`,
		micros(upgradeT0), micros(upgradeT0))
	r, ch = newReq(approval.Draft{Title: "v2 for publisher", Payload: json.RawMessage(`{}`), ServiceRule: "publisher"}, one, "service_rule:publisher", 3*time.Second)
	plant(&planted{r: r, changes: []approval.Change{ch, approve(r, 4*time.Second)}, webhook: "publisher"})

	// Version 3: an index on deadlines.
	upTo(3)
	deadline := upgradeT0.Add(48 * time.Hour)
	r, ch = newReq(approval.Draft{Title: "v3 with deadline", Payload: json.RawMessage(`{}`), Deadline: &deadline}, one, "default", 5*time.Second)
	plant(&planted{r: r, changes: []approval.Change{ch}})

	// Version 4: an index of pending deliveries.
	upTo(4)
	r, ch = newReq(approval.Draft{Title: "v4 for publisher", Payload: json.RawMessage(`{}`), ServiceRule: "publisher"}, one, "service_rule:publisher", 6*time.Second)
	plant(&planted{r: r, changes: []approval.Change{ch, approve(r, 7*time.Second)}, webhook: "publisher"})

	// Version 5: policies, the request index tables, meta; new approvals
	// columns and service_rules.policy.
	upTo(5)
	two := approval.Policy{Rules: []approval.Rule{{Name: "two", MinApprovals: 2, RejectThreshold: 1}}}
	polJSON, _ := json.Marshal(two)
	exec(`INSERT INTO policies (name, description, policy, version, created_at, updated_at) VALUES ('two-reviewers', 'two', ?, 1, ?, ?)`,
		string(polJSON), micros(upgradeT0), micros(upgradeT0))
	exec(`INSERT INTO service_rules (name, url, format, timeout_ms, max_attempts, created_at, updated_at, policy)
		VALUES ('strict', 'https://strict.example/hook', 'legacy', 1000, 3, ?, ?, 'two-reviewers')`, micros(upgradeT0), micros(upgradeT0))
	r, ch = newReq(approval.Draft{Title: "v5 depends", Payload: json.RawMessage(`{}`), DependsOn: []string{v1Pending.r.ID},
		Dependencies: approval.Deps{v1Pending.r.ID: approval.StatusPending}, RemindAfter: approval.Duration(time.Hour)}, two, "policy:two-reviewers", 8*time.Second)
	v5 := &planted{r: r, changes: []approval.Change{ch}}
	plant(v5)
	exec(`INSERT INTO approval_inbox (key, request_id) VALUES ('*', ?)`, v5.r.ID)
	exec(`INSERT INTO approval_excluded (request_id, principal) VALUES (?, 'user:alice')`, v5.r.ID)
	exec(`INSERT INTO approval_deps (request_id, depends_on) VALUES (?, ?)`, v5.r.ID, v1Pending.r.ID)

	// Version 6: api_keys expiry, last use, origin (the table rebuilt).
	upTo(6)
	fileKey := uuid.NewString()
	exec(`INSERT INTO api_keys (id, name, prefix, hash, scopes, groups, created_at, expires_at, last_used_at, origin)
		VALUES (?, 'synced', 'apd_syn', 'hash-synced', '["read"]', '[]', ?, ?, ?, 'file')`,
		fileKey, micros(upgradeT0), micros(upgradeT0.Add(24*time.Hour)), micros(upgradeT0.Add(time.Minute)))

	// Version 7: approvals subject and outcome; gateway_calls.
	upTo(7)
	r, ch = newReq(approval.Draft{Title: "v7 subject", Payload: json.RawMessage(`{}`), Subject: "cr8tor:proj/2025"}, one, "default", 9*time.Second)
	ch2 := approve(r, 10*time.Second)
	ch3, err := r.RecordOutcome(bob, json.RawMessage(`{"published":true}`), upgradeT0.Add(11*time.Second))
	if err != nil {
		t.Fatalf("RecordOutcome: %v", err)
	}
	plant(&planted{r: r, changes: []approval.Change{ch, ch2, ch3}})
	exec(`INSERT INTO gateway_calls (at, caller, route, project_name, start_time, upstream_status, status, duration_us, detail, approval_request)
		VALUES (?, 'svc:cr8tor', '/project/package', 'proj', '2025', 200, 200, 1234, '', ?)`, micros(upgradeT0), r.ID)

	// Version 8: an index of history by actor.
	upTo(8)
	r, ch = newReq(approval.Draft{Title: "v8 commented", Payload: json.RawMessage(`{}`)}, one, "default", 12*time.Second)
	plant(&planted{r: r, changes: []approval.Change{ch}})

	// Version 9: approvals content_digest and policy_request; readiness_probe
	// (written and deleted by the probe only: it stays empty).
	upTo(9)
	r, ch = newReq(approval.Draft{Title: "v9 named policy", Payload: json.RawMessage(`{}`), PolicyName: "two-reviewers"}, two, "policy:two-reviewers", 13*time.Second)
	r.PolicyRequest = approval.PolicyRequest{Name: "two-reviewers"}
	plant(&planted{r: r, changes: []approval.Change{ch}})

	// Version 10: outbox trace_parent.
	upTo(10)
	r, ch = newReq(approval.Draft{Title: "v10 traced", Payload: json.RawMessage(`{}`)}, one, "default", 14*time.Second)
	ch.Event.TraceParent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	plant(&planted{r: r, changes: []approval.Change{ch}})

	if latest := int64(embeddedMigrations(t)); version != latest {
		t.Fatalf("the test plants data up to version %d, but the latest migration is %d: plant data for the new ones", version, latest)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	// The store of this release opens the database.
	s := open(t, path)

	for _, p := range requests {
		got, err := s.GetApproval(ctx, p.r.ID)
		if err != nil {
			t.Fatalf("GetApproval of the request planted at version %d: %v", p.v, err)
		}
		want := expectedAt(p)
		got.SetDependencies(nil)
		if g, w := upgradeDump(got), upgradeDump(want); g != w {
			t.Errorf("request planted at version %d:\n got %s\nwant %s", p.v, g, w)
		}
		entries, err := s.History(ctx, p.r.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != len(p.changes) {
			t.Errorf("request planted at version %d has %d history entries, want %d", p.v, len(entries), len(p.changes))
		}
		for i := range min(len(entries), len(p.changes)) {
			if w := p.changes[i].Entry; !reflect.DeepEqual(entries[i], w) && !(entries[i].Hash == w.Hash && entries[i].At.Equal(w.At)) {
				t.Errorf("request planted at version %d: entry %d is %+v, want %+v", p.v, i+1, entries[i], w)
			}
		}
		if err := approval.VerifyChain(entries); err != nil {
			t.Errorf("history of the request planted at version %d: %v", p.v, err)
		}
	}

	// The outbox: every event, with its webhook and trace.
	recs, err := s.Outbox(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]approval.OutboxRecord{}
	for _, rec := range recs {
		byID[rec.ID] = rec
	}
	for _, p := range requests {
		for i, id := range p.eventIDs {
			rec, ok := byID[id]
			ev := p.changes[i].Event
			switch {
			case !ok:
				t.Errorf("event %d of the request planted at version %d is missing from the outbox", i+1, p.v)
			case rec.Type != ev.Type || rec.RequestID != ev.RequestID || rec.Version != ev.Version || string(rec.Data) != string(ev.Data) ||
				rec.TraceParent != ev.TraceParent || rec.Webhook != webhookOf(p, i):
				t.Errorf("event %d of the request planted at version %d is %+v, want %+v (webhook %q)", i+1, p.v, rec, ev, webhookOf(p, i))
			}
		}
	}

	// The idempotency record of version 1.
	r, ch = newReq(approval.Draft{Title: "retry", Payload: json.RawMessage(`{}`)}, one, "default", time.Minute)
	found, err := s.CreateApproval(ctx, r, ch, &approval.Idempotency{Principal: "user:alice", Key: "idem-1", BodyHash: "other", RequestID: r.ID, Response: []byte("{}"), CreatedAt: upgradeT0.Add(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	if found == nil || found.RequestID != v1Pending.r.ID || string(found.Response) != `{"id":"x"}` || found.BodyHash != "body-hash" || !found.CreatedAt.Equal(upgradeT0) {
		t.Errorf("idempotency record of version 1: %+v", found)
	}

	// API keys: version 1's become a bootstrap and an API key; version 6's keeps its fields.
	keys, err := s.ListAPIKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	gotKeys := map[string]approval.APIKey{}
	for _, k := range keys {
		gotKeys[k.ID] = k
	}
	if k := gotKeys[adminKey]; k.Name != "admin" || k.Origin != approval.KeyOriginBootstrap || k.RevokedAt != nil || k.ExpiresAt != nil ||
		!k.CreatedAt.Equal(upgradeT0) || !slices.Equal(k.Scopes, []approval.Scope{approval.ScopeAdmin}) {
		t.Errorf("admin key of version 1: %+v", k)
	}
	if k := gotKeys[billingKey]; k.Name != "billing" || k.Origin != approval.KeyOriginAPI || k.RevokedAt == nil || !k.RevokedAt.Equal(upgradeT0.Add(time.Hour)) ||
		!slices.Equal(k.Groups, []string{"finance"}) || len(k.Scopes) != 2 {
		t.Errorf("billing key of version 1: %+v", k)
	}
	if k := gotKeys[fileKey]; k.Origin != approval.KeyOriginFile || k.ExpiresAt == nil || !k.ExpiresAt.Equal(upgradeT0.Add(24*time.Hour)) ||
		k.LastUsedAt == nil || !k.LastUsedAt.Equal(upgradeT0.Add(time.Minute)) {
		t.Errorf("file key of version 6: %+v", k)
	}

	// Service rules: version 2's gets no policy, version 5's keeps its own.
	rule, err := s.GetServiceRule(ctx, "publisher")
	if err != nil {
		t.Fatal(err)
	}
	if rule.URL != "https://publish.example/hook" || rule.Format != approval.FormatStandard || rule.Secret != "shh" || rule.APIKey != "key" ||
		rule.Timeout != 5*time.Second || rule.MaxAttempts != 7 || rule.Policy != "" || !reflect.DeepEqual(rule.Headers, map[string]string{"X-Team": "data"}) {
		t.Errorf("service rule of version 2: %+v", rule)
	}
	if rule, err := s.GetServiceRule(ctx, "strict"); err != nil || rule.Policy != "two-reviewers" || rule.Format != approval.FormatLegacy || len(rule.Headers) != 0 {
		t.Errorf("service rule of version 5: %+v, %v", rule, err)
	}
	if sp, err := s.GetPolicy(ctx, "two-reviewers"); err != nil || sp.Version != 1 || sp.Description != "two" || len(sp.Policy.Rules) != 1 {
		t.Errorf("policy of version 5: %+v, %v", sp, err)
	}

	// The request index: the pending requests of before version 5 were
	// backfilled by Open, version 5's kept.
	inbox, err := s.Inbox(ctx, approval.InboxQuery{Principal: approval.Principal{ID: "user:carol", Scopes: []approval.Scope{approval.ScopeReview}}, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var inboxIDs []string
	for _, r := range inbox {
		inboxIDs = append(inboxIDs, r.ID)
	}
	for _, p := range requests {
		if p.r.Status == approval.StatusPending && !slices.Contains(inboxIDs, p.r.ID) {
			t.Errorf("pending request planted at version %d is not in the inbox", p.v)
		}
	}
	if deps, err := s.Dependents(ctx, v1Pending.r.ID); err != nil || !slices.Contains(deps, v5.r.ID) {
		t.Errorf("dependents of the version 1 request: %v, %v, want %s", deps, err, v5.r.ID)
	}

	// Gateway calls of version 7.
	calls, err := s.ListGatewayCalls(ctx, calllog.Filter{ProjectName: "proj", Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(calls) != 1 || calls[0].Caller != "svc:cr8tor" || calls[0].Route != "/project/package" || calls[0].StartTime != "2025" ||
		calls[0].UpstreamStatus != 200 || calls[0].DurationMicros != 1234 || !calls[0].At.Equal(upgradeT0) {
		t.Errorf("gateway calls of version 7: %+v", calls)
	}

	// The store works on it: an old request is reviewed, a new one made and
	// reviewed, and every chain verifies.
	if _, err := s.UpdateApproval(ctx, v1Pending.r.ID, func(r *approval.Request) (approval.Change, error) {
		return r.Review(bob, approval.ReviewInput{Decision: approval.DecisionApprove}, nil, upgradeT0.Add(time.Hour))
	}); err != nil {
		t.Fatalf("reviewing the request of version 1: %v", err)
	}
	r, ch = newReq(approval.Draft{Title: "after the upgrade", Payload: json.RawMessage(`{}`), ServiceRule: "publisher"}, one, "service_rule:publisher", time.Hour)
	if _, err := s.CreateApproval(ctx, r, ch, nil); err != nil {
		t.Fatal(err)
	}
	if got, err := s.UpdateApproval(ctx, r.ID, func(r *approval.Request) (approval.Change, error) {
		return r.Review(bob, approval.ReviewInput{Decision: approval.DecisionApprove}, nil, upgradeT0.Add(2*time.Hour))
	}); err != nil || got.Status == approval.StatusPending {
		t.Fatalf("reviewing a new request: %v, %v", got, err)
	}
	chains, err := s.HistoryChains(ctx, approval.ChainFilter{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(chains) != len(requests)+1 {
		t.Errorf("%d history chains, want %d", len(chains), len(requests)+1)
	}
	for _, c := range chains {
		if err := c.Verify(); err != nil {
			t.Errorf("history chain of %s: %v", c.RequestID, err)
		}
	}
}

// micros returns t as SQLite stores times, unix microseconds, or nil for
// no time.
func micros[T time.Time | *time.Time](t T) any {
	switch t := any(t).(type) {
	case time.Time:
		return t.UnixMicro()
	case *time.Time:
		if t == nil {
			return nil
		}
		return t.UnixMicro()
	}
	return nil
}

// webhookOf returns the webhook of p's event i: p's, on its last event.
func webhookOf(p *planted, i int) string {
	if i == len(p.changes)-1 {
		return p.webhook
	}
	return ""
}

// insertPlanted writes p's request, history entries and events with the
// columns that exist at version p.v.
func insertPlanted(t *testing.T, exec func(string, ...any), p *planted) {
	t.Helper()
	r := p.r
	policy, _ := json.Marshal(r.Policy)
	reviews := []byte("[]")
	if len(r.Reviews) > 0 {
		reviews, _ = json.Marshal(r.Reviews)
	}
	var delivery, outcome, prev any
	if r.Delivery != nil {
		b, _ := json.Marshal(r.Delivery)
		delivery = string(b)
	}
	if len(r.Outcome) > 0 {
		outcome = string(r.Outcome)
	}
	if r.PreviousStatus != nil {
		prev = int64(*r.PreviousStatus)
	}
	cols := "id, title, description, payload, requester, service_rule, deadline, policy, status, previous_status, comment, reviews, delivery, version, created_at, updated_at, decided_at, history_head"
	args := []any{r.ID, r.Title, r.Description, string(r.Payload), r.Requester, r.ServiceRule, micros(r.Deadline), string(policy), int64(r.Status), prev,
		r.Comment, string(reviews), delivery, r.Version, micros(r.CreatedAt), micros(r.UpdatedAt), micros(r.DecidedAt), r.HistoryHead}
	if p.v >= 5 {
		deps := []byte("[]")
		if len(r.DependsOn) > 0 {
			deps, _ = json.Marshal(r.DependsOn)
		}
		cols += ", policy_source, depends_on, remind_after, next_reminder_at, reason, blocked"
		args = append(args, r.PolicySource, string(deps), int64(r.RemindAfter), micros(r.NextReminderAt), r.Reason, 0)
	}
	if p.v >= 7 {
		cols += ", subject, outcome"
		args = append(args, r.Subject, outcome)
	}
	if p.v >= 9 {
		var pr any
		if !r.PolicyRequest.IsZero() {
			b, _ := json.Marshal(r.PolicyRequest)
			pr = string(b)
		}
		cols += ", content_digest, policy_request"
		args = append(args, r.Digest, pr)
	}
	exec("INSERT INTO approvals ("+cols+") VALUES ("+placeholders(len(args))+")", args...)
	for i, ch := range p.changes {
		e := ch.Entry
		exec(`INSERT INTO history (request_id, seq, actor, action, changes, at, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			e.RequestID, e.Seq, e.Actor, string(e.Action), string(e.Changes), micros(e.At), e.PrevHash, e.Hash)
		ev := ch.Event
		id := uuid.NewString()
		p.eventIDs = append(p.eventIDs, id)
		cols := "id, type, request_id, version, data, created_at"
		args := []any{id, ev.Type, ev.RequestID, ev.Version, string(ev.Data), micros(e.At)}
		if p.v >= 2 {
			var webhook, next any
			if w := webhookOf(p, i); w != "" {
				webhook, next = w, micros(e.At)
			}
			cols += ", webhook, next_attempt_at"
			args = append(args, webhook, next)
		}
		if p.v >= 10 {
			cols += ", trace_parent"
			args = append(args, ev.TraceParent)
		}
		exec("INSERT INTO outbox ("+cols+") VALUES ("+placeholders(len(args))+")", args...)
	}
}

// placeholders returns n ?s, comma-separated.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// expectedAt returns p's request as the store of this release must read
// it: the fields whose columns came after version p.v hold their defaults.
func expectedAt(p *planted) *approval.Request {
	want := p.r.Clone()
	want.SetDependencies(nil)
	if p.v < 5 {
		want.PolicySource, want.DependsOn, want.RemindAfter, want.NextReminderAt, want.Reason = "default", nil, 0, nil, ""
	}
	if p.v < 7 {
		want.Subject, want.Outcome = "", nil
	}
	if p.v < 9 {
		want.Digest, want.PolicyRequest = "", approval.PolicyRequest{}
	}
	return want
}

// upgradeDump encodes what the store keeps of r, with empty lists as null.
func upgradeDump(r *approval.Request) string {
	r = r.Clone()
	if len(r.DependsOn) == 0 {
		r.DependsOn = nil
	}
	b, _ := json.Marshal(struct {
		R             *approval.Request
		Head          string
		PolicyRequest approval.PolicyRequest
	}{r, r.HistoryHead, r.PolicyRequest})
	return string(b)
}
