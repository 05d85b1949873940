package main

import (
	"path/filepath"
	"testing"
	"time"

	"approvald/store/postgres/pgtest"
)

// TestCrash_NotificationArrivesOnceAfterKill9 kills approvald with SIGKILL
// right after a decision, while the decision's mail waits in its batching
// window, restarts it on the same database, and checks that the requester
// gets the mail exactly once, and the reviewer the review-requested mail
// exactly once over both lives. It runs on both stores.
func TestCrash_NotificationArrivesOnceAfterKill9(t *testing.T) {
	t.Parallel() // light, but it may wait out the planner's 15-second lease
	stores := map[string]func(t *testing.T) string{
		"sqlite":   func(t *testing.T) string { return "sqlite:" + filepath.Join(t.TempDir(), "crash-notify.db") },
		"postgres": func(t *testing.T) string { return pgtest.URL(t) },
	}
	for name, db := range stores {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			notifyCrashTest(t, db(t))
		})
	}
}

// notifyPlanLease is how long the planner's claims last
// (notify.Config.PlanLease's default, which cmd/approvald leaves). The
// decision's notification is due only after the batching window, so no
// sender has claimed it when the process dies.
const notifyPlanLease = 15 * time.Second

func notifyCrashTest(t *testing.T, db string) {
	// The batching window keeps a notification queued, unsent, for 3s:
	// the kill comes well inside it.
	const window = 3 * time.Second
	sink := newMailSink(t)
	keys, _ := linkKeys(t)
	env := map[string]string{
		"APPROVALD_DATABASE": db, "APPROVALD_ADMIN_KEY": testAdminKey,
		"APPROVALD_NOTIFY_BATCH_WINDOW": window.String(), "APPROVALD_SWEEP_INTERVAL": "200ms",
		"APPROVALD_PUBLIC_URL": "http://approvals.example.test", "APPROVALD_LINK_KEYS": keys,
	}
	p := launch(t, env)
	admin := client{t: t, base: p.base, key: testAdminKey}
	admin.must(201, "POST", "/v1/notification-channels", sink.channel("mail"))
	keyOf := func(name, contact string, scopes ...string) string {
		return admin.must(201, "POST", "/v1/api-keys", map[string]any{"name": name, "scopes": scopes, "contact": contact})["key"].(string)
	}
	revKey := keyOf("reviewer", "rev@example.com", "approvals:review", "approvals:read")
	reqKey := keyOf("requester", "req@example.com", "approvals:create", "approvals:read")
	admin.must(201, "POST", "/v1/policies", map[string]any{"name": "ops-review", "policy": map[string]any{
		"rules": []any{map[string]any{"min_approvals": 1, "principals": []string{"svc:reviewer"}}}}})

	requester := client{t: t, base: p.base, key: reqKey}
	id := requester.must(201, "POST", "/v1/approvals", map[string]any{"title": "Rotate the TLS keys", "policy_name": "ops-review"})["id"].(string)
	sink.await(t, "rev@example.com", "Rotate the TLS keys", 1, 30*time.Second)

	client{t: t, base: p.base, key: revKey}.must(200, "POST", "/v1/approvals/"+id+"/reviews", map[string]any{"decision": "approve"})
	decided := time.Now()
	p.kill(t)
	if got := sink.to("req@example.com"); len(got) != 0 {
		t.Fatalf("the decision mail left before the kill (%s after the decision), so the crash tests nothing: %v",
			time.Since(decided).Round(time.Millisecond), subjects(got))
	}

	p2 := launch(t, env)
	reader := client{t: t, base: p2.base, key: reqKey}
	if got := reader.must(200, "GET", "/v1/approvals/"+id, nil); got["status"] != "approved" {
		t.Fatalf("after the restart the request is %v", got["status"])
	}
	admin2 := client{t: t, base: p2.base, key: testAdminKey}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the request's notifications: %v", admin2.must(200, "GET", "/v1/notifications?request_id="+id, nil)["items"])
			t.Logf("the first life's log:\n%s\nthe second's:\n%s", p.stderr.String(), p2.stderr.String())
		}
	})
	// When the kill fell between the planner's claim of the decision's
	// event and its planning (the claim is its own transaction), the event
	// is offered again only when the claim's lease ends, then a poll.
	sink.await(t, "req@example.com", "Rotate the TLS keys", 1, notifyPlanLease+30*time.Second)
	t.Logf("the decision mail arrived %s after the decision", time.Since(decided).Round(time.Millisecond))
	// A duplicate would come within a sender's poll or a lease; wait for
	// longer than the batching window before counting.
	time.Sleep(window + 2*time.Second)
	if got := sink.matching("req@example.com", "Rotate the TLS keys"); len(got) != 1 {
		t.Errorf("the requester got %d decision mails, want exactly 1: %v", len(got), subjects(got))
	}
	if got := sink.matching("rev@example.com", "Rotate the TLS keys"); len(got) != 1 {
		t.Errorf("the reviewer got %d review-requested mails over both lives, want exactly 1: %v", len(got), subjects(got))
	}
	list := admin2.must(200, "GET", "/v1/notifications?request_id="+id+"&state=pending", nil)
	if items := list["items"].([]any); len(items) != 0 {
		t.Errorf("notifications of the request still pending: %v", items)
	}
}
