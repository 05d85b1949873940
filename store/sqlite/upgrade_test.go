package sqlite

import (
	"database/sql"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"approvald/approval"
	"approvald/store/storetest"
)

// upgradeT0 is the clock of the rolling-upgrade test, with microseconds
// (SQLite keeps times as unix microseconds).
var upgradeT0 = time.Date(2025, 6, 1, 10, 0, 0, 123456000, time.UTC)

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
	up := storetest.NewUpgrade(t, m, upgradeT0, func(p *storetest.Planted) { insertPlanted(t, exec, p) })
	bob, one := up.Reviewer, up.One
	newReq, approve, plant, upTo := up.NewRequest, up.Approve, up.Plant, up.UpTo

	// Version 1: approvals, history, outbox, idempotency_keys, api_keys.
	upTo(1)
	r, ch := newReq(approval.Draft{Title: "v1 pending", Description: "d", Payload: json.RawMessage(`{"a":1}`)}, one, "default", 0)
	v1Pending := &storetest.Planted{R: r, Changes: []approval.Change{ch}}
	plant(v1Pending)
	r, ch = newReq(approval.Draft{Title: "v1 approved", Payload: json.RawMessage(`{"b":[1,2]}`), Comment: "first"}, one, "default", time.Second)
	plant(&storetest.Planted{R: r, Changes: []approval.Change{ch, approve(r, 2*time.Second)}})
	exec(`INSERT INTO idempotency_keys (principal, key, body_hash, request_id, response, created_at)
		VALUES ('user:alice', 'idem-1', 'body-hash', ?, ?, ?)`, v1Pending.R.ID, []byte(`{"id":"x"}`), micros(upgradeT0))
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
	plant(&storetest.Planted{R: r, Changes: []approval.Change{ch, approve(r, 4*time.Second)}, Webhook: "publisher"})

	// Version 3: an index on deadlines.
	upTo(3)
	deadline := upgradeT0.Add(48 * time.Hour)
	r, ch = newReq(approval.Draft{Title: "v3 with deadline", Payload: json.RawMessage(`{}`), Deadline: &deadline}, one, "default", 5*time.Second)
	plant(&storetest.Planted{R: r, Changes: []approval.Change{ch}})

	// Version 4: an index of pending deliveries.
	upTo(4)
	r, ch = newReq(approval.Draft{Title: "v4 for publisher", Payload: json.RawMessage(`{}`), ServiceRule: "publisher"}, one, "service_rule:publisher", 6*time.Second)
	plant(&storetest.Planted{R: r, Changes: []approval.Change{ch, approve(r, 7*time.Second)}, Webhook: "publisher"})

	// Version 5: policies, the request index tables, meta; new approvals
	// columns and service_rules.policy.
	upTo(5)
	two := approval.Policy{Rules: []approval.Rule{{Name: "two", MinApprovals: 2, RejectThreshold: 1}}}
	polJSON, _ := json.Marshal(two)
	exec(`INSERT INTO policies (name, description, policy, version, created_at, updated_at) VALUES ('two-reviewers', 'two', ?, 1, ?, ?)`,
		string(polJSON), micros(upgradeT0), micros(upgradeT0))
	exec(`INSERT INTO service_rules (name, url, format, timeout_ms, max_attempts, created_at, updated_at, policy)
		VALUES ('strict', 'https://strict.example/hook', 'legacy', 1000, 3, ?, ?, 'two-reviewers')`, micros(upgradeT0), micros(upgradeT0))
	r, ch = newReq(approval.Draft{Title: "v5 depends", Payload: json.RawMessage(`{}`), DependsOn: []string{v1Pending.R.ID},
		Dependencies: approval.Deps{v1Pending.R.ID: approval.StatusPending}, RemindAfter: approval.Duration(time.Hour)}, two, "policy:two-reviewers", 8*time.Second)
	v5 := &storetest.Planted{R: r, Changes: []approval.Change{ch}}
	plant(v5)
	exec(`INSERT INTO approval_inbox (key, request_id) VALUES ('*', ?)`, v5.R.ID)
	exec(`INSERT INTO approval_excluded (request_id, principal) VALUES (?, 'user:alice')`, v5.R.ID)
	exec(`INSERT INTO approval_deps (request_id, depends_on) VALUES (?, ?)`, v5.R.ID, v1Pending.R.ID)

	// Version 6: api_keys expiry, last use, origin (the table rebuilt).
	upTo(6)
	fileKey := uuid.NewString()
	exec(`INSERT INTO api_keys (id, name, prefix, hash, scopes, groups, created_at, expires_at, last_used_at, origin)
		VALUES (?, 'synced', 'apd_syn', 'hash-synced', '["read"]', '[]', ?, ?, ?, 'file')`,
		fileKey, micros(upgradeT0), micros(upgradeT0.Add(24*time.Hour)), micros(upgradeT0.Add(time.Minute)))

	// Version 7: approvals subject and outcome; gateway_calls.
	upTo(7)
	r, ch = newReq(approval.Draft{Title: "v7 subject", Payload: json.RawMessage(`{}`), Subject: "cr8tor:proj/2025", Origin: approval.OriginCR8TOR}, one, "default", 9*time.Second)
	ch2 := approve(r, 10*time.Second)
	ch3, err := r.RecordOutcome(bob, json.RawMessage(`{"published":true}`), upgradeT0.Add(11*time.Second))
	if err != nil {
		t.Fatalf("RecordOutcome: %v", err)
	}
	plant(&storetest.Planted{R: r, Changes: []approval.Change{ch, ch2, ch3}})
	exec(`INSERT INTO gateway_calls (at, caller, route, project_name, start_time, upstream_status, status, duration_us, detail, approval_request)
		VALUES (?, 'svc:cr8tor', '/project/package', 'proj', '2025', 200, 200, 1234, '', ?)`, micros(upgradeT0), r.ID)

	// Version 8: an index of history by actor.
	upTo(8)
	r, ch = newReq(approval.Draft{Title: "v8 commented", Payload: json.RawMessage(`{}`)}, one, "default", 12*time.Second)
	plant(&storetest.Planted{R: r, Changes: []approval.Change{ch}})

	// Version 9: approvals content_digest and policy_request; readiness_probe
	// (written and deleted by the probe only: it stays empty).
	upTo(9)
	r, ch = newReq(approval.Draft{Title: "v9 named policy", Payload: json.RawMessage(`{}`), PolicyName: "two-reviewers"}, two, "policy:two-reviewers", 13*time.Second)
	r.PolicyRequest = approval.PolicyRequest{Name: "two-reviewers"}
	plant(&storetest.Planted{R: r, Changes: []approval.Change{ch}})

	// Version 10: outbox trace_parent.
	upTo(10)
	r, ch = newReq(approval.Draft{Title: "v10 traced", Payload: json.RawMessage(`{}`)}, one, "default", 14*time.Second)
	ch.Event.TraceParent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	plant(&storetest.Planted{R: r, Changes: []approval.Change{ch}})

	// Version 11: escalation columns, outbox notify; the directory and the
	// notification queue (see storetest.V11Email).
	upTo(11)
	r, ch = newReq(approval.Draft{Title: "v11 escalating", Payload: json.RawMessage(`{}`)}, one, "default", 15*time.Second)
	opened, due := upgradeT0.Add(15*time.Second), upgradeT0.Add(time.Hour)
	r.StageOpenedAt, r.NextEscalationAt = &opened, &due
	r.Escalations = []approval.Escalation{{Stage: 0, Rule: "one", At: opened}}
	v11 := &storetest.Planted{R: r, Changes: []approval.Change{ch}}
	plant(v11)
	t0 := micros(upgradeT0)
	exec(`INSERT INTO notification_channels (name, type, email, url, version, created_at, updated_at) VALUES ('mail', 'email', ?, '', 1, ?, ?)`,
		storetest.V11Email, t0, t0)
	exec(`INSERT INTO notification_routes (channel, events, scope, created_at) VALUES ('mail', '["decision"]', 'all', ?)`, t0)
	exec(`INSERT INTO contacts (key, principal, email, source, updated_at) VALUES ('user:carol', 'user:carol', ?, 'oidc', ?)`, storetest.V11Contact, t0)
	exec(`INSERT INTO notification_mutes (principal, kinds) VALUES ('user:carol', '["reminder"]')`)
	delegation := uuid.NewString()
	exec(`INSERT INTO delegations (id, delegator, delegator_groups, delegate, starts_at, ends_at, reason, created_by, created_at)
		VALUES (?, 'user:carol', '["finance"]', 'user:dave', ?, ?, 'leave', 'user:carol', ?)`, delegation, t0, micros(upgradeT0.Add(24*time.Hour)), t0)
	exec(`INSERT INTO notifications (key, request_id, version, kind, recipient, channel, address, data, created_at, due_at, next_attempt_at)
		VALUES (?, ?, 1, 'review_requested', 'user:carol', 'mail', ?, ?, ?, ?, ?)`, storetest.V11Key, v11.R.ID, storetest.V11Contact, []byte("{}"), t0, t0, t0)

	// Version 12: approvals justification, items, item_outcome, cycle,
	// revocation (statuses 10 and 11 allowed); policies match, priority.
	upTo(12)
	up.PlantV12(func(name, match string, priority int, pol approval.Policy) {
		b, _ := json.Marshal(pol)
		exec(`INSERT INTO policies (name, description, policy, version, created_at, updated_at, match, priority) VALUES (?, 'v12', ?, 1, ?, ?, ?, ?)`,
			name, string(b), micros(upgradeT0), micros(upgradeT0), match, priority)
	})

	if latest := int64(embeddedMigrations(t)); up.Version != latest {
		t.Fatalf("the test plants data up to version %d, but the latest migration is %d: plant data for the new ones", up.Version, latest)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	// The store of this release opens the database.
	s := open(t, path)

	storetest.CheckUpgraded(t, s, storetest.Upgraded{
		T0: upgradeT0, Requests: up.Planted, V1Pending: v1Pending.R.ID, V5: v5.R.ID,
		AdminKey: adminKey, BillingKey: billingKey, FileKey: fileKey, Reviewer: bob, V11: v11.R.ID, V11Delegation: delegation,
		NewRequest: func(d approval.Draft) (*approval.Request, approval.Change) {
			source := "default"
			if d.ServiceRule != "" {
				source = "service_rule:" + d.ServiceRule
			}
			return newReq(d, one, source, time.Hour)
		},
	})
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

// insertPlanted writes p's request, history entries and events with the
// columns that exist at version p.V.
func insertPlanted(t *testing.T, exec func(string, ...any), p *storetest.Planted) {
	t.Helper()
	r := p.R
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
	if p.V >= 5 {
		deps := []byte("[]")
		if len(r.DependsOn) > 0 {
			deps, _ = json.Marshal(r.DependsOn)
		}
		cols += ", policy_source, depends_on, remind_after, next_reminder_at, reason, blocked"
		args = append(args, r.PolicySource, string(deps), int64(r.RemindAfter), micros(r.NextReminderAt), r.Reason, 0)
	}
	if p.V >= 7 {
		cols += ", subject, outcome"
		args = append(args, r.Subject, outcome)
	}
	if p.V >= 9 {
		var pr any
		if !r.PolicyRequest.IsZero() {
			b, _ := json.Marshal(r.PolicyRequest)
			pr = string(b)
		}
		cols += ", content_digest, policy_request"
		args = append(args, r.Digest, pr)
	}
	if p.V >= 11 {
		esc, _ := json.Marshal(r.Escalations)
		cols += ", stage_opened_at, escalations, next_escalation_at"
		args = append(args, micros(r.StageOpenedAt), string(esc), micros(r.NextEscalationAt))
	}
	if p.V >= 12 {
		c, a := storetest.V12Columns(r)
		cols += c
		args = append(args, a...)
	}
	exec("INSERT INTO approvals ("+cols+") VALUES ("+placeholders(len(args))+")", args...)
	for i, ch := range p.Changes {
		e := ch.Entry
		exec(`INSERT INTO history (request_id, seq, actor, action, changes, at, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			e.RequestID, e.Seq, e.Actor, string(e.Action), string(e.Changes), micros(e.At), e.PrevHash, e.Hash)
		ev := ch.Event
		id := uuid.NewString()
		p.EventIDs = append(p.EventIDs, id)
		cols := "id, type, request_id, version, data, created_at"
		args := []any{id, ev.Type, ev.RequestID, ev.Version, string(ev.Data), micros(e.At)}
		if p.V >= 2 {
			var webhook, next any
			if w := p.WebhookOf(i); w != "" {
				webhook, next = w, micros(e.At)
			}
			cols += ", webhook, next_attempt_at"
			args = append(args, webhook, next)
		}
		if p.V >= 10 {
			cols += ", trace_parent"
			args = append(args, ev.TraceParent)
		}
		if p.V >= 11 {
			cols += ", notify"
			args = append(args, string(ev.Notify))
		}
		exec("INSERT INTO outbox ("+cols+") VALUES ("+placeholders(len(args))+")", args...)
	}
}

// placeholders returns n ?s, comma-separated.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}
