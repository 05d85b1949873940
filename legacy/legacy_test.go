package legacy_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"approvald/approval"
	"approvald/legacy"
)

// TestFlow_OldServiceFlowWithAllThreeDecisions replays the old service's
// documented flow: create with a service rule, get, list pending, decide
// (approve, reject, cancel), the rule's receiver gets {"id","status"} with
// its key, the request settles; comments stay editable in final statuses.
func TestFlow_OldServiceFlowWithAllThreeDecisions(t *testing.T) {
	f := setup(t)
	billing, ops, _ := f.callers()
	rc := newReceiver(t)
	rule := f.rule("stash", rc.URL, nil)

	var st map[string]string
	client{t: t, base: f.base}.must(200, "GET", "/status", nil, &st)
	if len(st) != 1 || st["status"] != "ok" {
		t.Fatalf("GET /status: %v", st)
	}

	for _, tc := range []struct {
		name   string
		by     client
		status approval.Status
	}{
		{"approve", ops, approval.StatusApproved},
		{"reject", ops, approval.StatusRejected},
		{"cancel", billing, approval.StatusCancelled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			billing, by := billing, tc.by
			billing.t, by.t = t, t
			created := billing.create(rule.ID, "deploy "+tc.name, "please")
			if created.Status != int(approval.StatusPending) || created.ServiceRule != rule.ID || created.Comment != "please" || created.Deadline == nil {
				t.Fatalf("created %+v", created)
			}
			if got := billing.get(created.ID); got.ID != created.ID || got.Title != created.Title || got.Status != 2 {
				t.Fatalf("get %+v", got)
			}
			if !slices.ContainsFunc(billing.list(""), func(it legacy.Item) bool { return it.ID == created.ID }) {
				t.Fatal("the new request is not in the pending list")
			}

			decided := by.put(map[string]any{"id": created.ID, "status": int(tc.status)})
			if decided.Status != int(tc.status) && decided.Status != int(tc.status)+3 { // final, or acknowledged_*
				t.Fatalf("after PUT status %d: status %d", tc.status, decided.Status)
			}
			final := billing.waitStatus(created.ID, tc.status)
			if final.Comment != "please" {
				t.Errorf("comment %q after the decision", final.Comment)
			}
			calls := rc.callsFor(created.ID)
			if len(calls) != 1 {
				t.Fatalf("%d callbacks, want 1: %+v", len(calls), calls)
			}
			wantCallback(t, calls[0], created.ID, tc.status)

			if slices.ContainsFunc(billing.list("?default=0"), func(it legacy.Item) bool { return it.ID == created.ID }) {
				t.Error("a decided request is still in the pending list")
			}
			if !slices.ContainsFunc(billing.list("?default=1&limit=100"), func(it legacy.Item) bool { return it.ID == created.ID }) {
				t.Error("a decided request is missing from the full list")
			}

			// Only the comment may change in a final status.
			if got := billing.put(map[string]any{"id": created.ID, "comment": "done"}); got.Comment != "done" || got.Status != int(tc.status) {
				t.Fatalf("comment edit in a final status: %+v", got)
			}
			billing.wantError(409, "PUT", "/request", map[string]any{"id": created.ID, "title": "renamed"})
			by.wantError(409, "PUT", "/request", map[string]any{"id": created.ID, "status": int(tc.status)})
		})
	}
}

func TestFlow_EditsRefusedWhileAcknowledged(t *testing.T) {
	f := setup(t)
	billing, ops, _ := f.callers()
	rc := newReceiver(t)
	release := make(chan struct{})
	rc.set(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	rule := f.rule("slow", rc.URL, func(r *approval.ServiceRule) { r.Timeout = 30 * time.Second })
	it := billing.create(rule.ID, "slow", "")
	if got := ops.put(map[string]any{"id": it.ID, "status": 3}); got.Status != int(approval.StatusAcknowledgedApproved) {
		t.Fatalf("after approve: status %d", got.Status)
	}
	for _, body := range []map[string]any{
		{"id": it.ID, "comment": "while delivering"},
		{"id": it.ID, "title": "renamed"},
		{"id": it.ID, "status": 5},
	} {
		msg := billing.wantError(409, "PUT", "/request", body)
		if !strings.Contains(msg, "acknowledged_approved") {
			t.Errorf("409 message does not name the status: %q", msg)
		}
	}
	ops.wantError(409, "PUT", "/request", map[string]any{"id": it.ID, "status": 4})
	close(release)
	if got := billing.waitStatus(it.ID, approval.StatusApproved); got.Comment != "" {
		t.Errorf("comment %q", got.Comment)
	}
}

// TestFlow_ReceiverDownThenDecideAgain is the old service's error path:
// the receiver is down, the request goes to error (1) with its comment
// intact, it is decided again once the receiver is back, and settles.
func TestFlow_ReceiverDownThenDecideAgain(t *testing.T) {
	f := setup(t)
	billing, ops, _ := f.callers()
	rc := newReceiver(t)
	rc.set(answer(500, "down"))
	rule := f.rule("flaky", rc.URL, func(r *approval.ServiceRule) { r.MaxAttempts = 2 })
	it := billing.create(rule.ID, "flaky", "keep me")

	ops.put(map[string]any{"id": it.ID, "status": 3})
	failed := billing.waitStatus(it.ID, approval.StatusError)
	if failed.Comment != "keep me" {
		t.Fatalf("comment after a failed delivery: %q", failed.Comment)
	}
	if n := len(rc.callsFor(it.ID)); n != 2 {
		t.Errorf("%d attempts, want max_attempts 2", n)
	}
	req, err := f.eng.Get(f.ctx, it.ID)
	if err != nil {
		t.Fatal(err)
	}
	if req.Delivery == nil || !strings.Contains(req.Delivery.LastError, "HTTP 500") {
		t.Errorf("the delivery error is not recorded: %+v", req.Delivery)
	}

	rc.set(answer(200, ""))
	ops.put(map[string]any{"id": it.ID, "status": 3})
	final := billing.waitStatus(it.ID, approval.StatusApproved)
	if final.Comment != "keep me" {
		t.Errorf("comment %q", final.Comment)
	}
	calls := rc.callsFor(it.ID)
	wantCallback(t, calls[len(calls)-1], it.ID, approval.StatusApproved)
}

func TestDefect_ApprovingWorks(t *testing.T) {
	f := setup(t)
	billing, ops, _ := f.callers()
	rc := newReceiver(t)
	rule := f.rule("approver", rc.URL, nil)
	it := billing.create(rule.ID, "approve me", "")
	ops.put(map[string]any{"id": it.ID, "status": 3, "comment": "lgtm"})
	billing.waitStatus(it.ID, approval.StatusApproved)

	// The approval is a review by the caller, in the history.
	req, err := f.eng.Get(f.ctx, it.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(req.Reviews) != 1 || req.Reviews[0].Reviewer != "svc:ops" || req.Reviews[0].Decision != approval.DecisionApprove || req.Reviews[0].Comment != "lgtm" {
		t.Fatalf("reviews %+v", req.Reviews)
	}
	chain, err := f.eng.History(f.ctx, it.ID)
	if err != nil {
		t.Fatal(err)
	}
	hist := chain.Entries
	if !slices.ContainsFunc(hist, func(e approval.HistoryEntry) bool { return e.Action == approval.ActionApprove && e.Actor == "svc:ops" }) {
		t.Error("no approve entry by svc:ops in the history")
	}
	if err := approval.VerifyChain(hist); err != nil {
		t.Error(err)
	}
}

func TestDefect_ErrorsAreJSONWithProperStatuses(t *testing.T) {
	f := setup(t)
	billing, ops, _ := f.callers()
	reader := f.key("reader", approval.ScopeRead)
	anon := client{t: t, base: f.base}
	wrong := client{t: t, base: f.base, key: "apd_not-a-key"}
	rc := newReceiver(t)
	rule := f.rule("errors", rc.URL, nil)
	it := billing.create(rule.ID, "errors", "")
	done := billing.create(rule.ID, "done", "")
	billing.put(map[string]any{"id": done.ID, "status": 5})
	billing.waitStatus(done.ID, approval.StatusCancelled)

	valid := func(mut func(m map[string]any)) map[string]any {
		m := map[string]any{"title": "t", "description": "d", "service_rule": rule.ID, "deadline": fromNow(time.Hour)}
		mut(m)
		return m
	}
	unknownID := "0190a6f4-1234-7abc-8def-0123456789ab"
	for _, tc := range []struct {
		name   string
		c      client
		method string
		path   string
		body   any
		want   int
	}{
		{"no key", anon, "GET", "/requests", nil, 401},
		{"unknown key", wrong, "GET", "/request?id=" + it.ID, nil, 401},
		{"create without the create scope", reader, "POST", "/request", valid(func(map[string]any) {}), 403},
		{"approve without the review scope", billing, "PUT", "/request", map[string]any{"id": it.ID, "status": 3}, 403},
		{"edit without the create scope", ops, "PUT", "/request", map[string]any{"id": it.ID, "title": "x"}, 403},
		{"edit by someone else", f.key("other", approval.ScopeCreate), "PUT", "/request", map[string]any{"id": it.ID, "title": "x"}, 403},
		{"missing id", billing, "GET", "/request", nil, 400},
		{"malformed id", billing, "GET", "/request?id=42", nil, 400},
		{"unknown id", billing, "GET", "/request?id=" + unknownID, nil, 404},
		{"not JSON", billing, "POST", "/request", "{title:", 400},
		{"not an object", billing, "POST", "/request", "[1,2]", 400},
		{"null", billing, "POST", "/request", "null", 400},
		{"two values", billing, "POST", "/request", `{"title":"a"} {}`, 400},
		{"empty body", billing, "POST", "/request", "", 400},
		{"missing fields", billing, "POST", "/request", map[string]any{}, 422},
		{"empty title", billing, "POST", "/request", valid(func(m map[string]any) { m["title"] = " " }), 422},
		{"empty description", billing, "POST", "/request", valid(func(m map[string]any) { m["description"] = "" }), 422},
		{"past deadline", billing, "POST", "/request", valid(func(m map[string]any) { m["deadline"] = ago(time.Minute) }), 422},
		{"no deadline", billing, "POST", "/request", valid(func(m map[string]any) { delete(m, "deadline") }), 422},
		{"bad deadline", billing, "POST", "/request", valid(func(m map[string]any) { m["deadline"] = "tomorrow" }), 422},
		{"unknown rule", billing, "POST", "/request", valid(func(m map[string]any) { m["service_rule"] = 999 }), 422},
		{"rule 0", billing, "POST", "/request", valid(func(m map[string]any) { m["service_rule"] = 0 }), 422},
		{"rule as a name", billing, "POST", "/request", valid(func(m map[string]any) { m["service_rule"] = "errors" }), 422},
		{"unknown field", billing, "POST", "/request", valid(func(m map[string]any) { m["payload"] = map[string]any{} }), 422},
		{"status on create", billing, "POST", "/request", valid(func(m map[string]any) { m["status"] = 3 }), 422},
		{"PUT without id", ops, "PUT", "/request", map[string]any{"status": 3}, 422},
		{"PUT unknown id", ops, "PUT", "/request", map[string]any{"id": unknownID, "status": 3}, 404},
		{"PUT status 2", ops, "PUT", "/request", map[string]any{"id": it.ID, "status": 2}, 422},
		{"PUT status 7", ops, "PUT", "/request", map[string]any{"id": it.ID, "status": 7}, 422},
		{"PUT status 3.5", ops, "PUT", "/request", map[string]any{"id": it.ID, "status": 3.5}, 422},
		{"approve own request", f.key("both", approval.ScopeCreate, approval.ScopeReview, approval.ScopeRead), "PUT", "/request", nil, 403},
		{"decide a final request", ops, "PUT", "/request", map[string]any{"id": done.ID, "status": 3}, 409},
		{"limit 0", billing, "GET", "/requests?limit=0", nil, 400},
		{"limit 101", billing, "GET", "/requests?limit=101", nil, 400},
		{"offset -1", billing, "GET", "/requests?offset=-1", nil, 400},
		{"offset x", billing, "GET", "/requests?offset=x", nil, 400},
		{"unknown default", billing, "GET", "/requests?default=2", nil, 400},
		{"method", billing, "DELETE", "/request", nil, 405},
		{"method on status", anon, "POST", "/status", nil, 405},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.c.t = t
			if tc.name == "approve own request" {
				own := tc.c.create(rule.ID, "own", "")
				tc.body = map[string]any{"id": own.ID, "status": 3}
			}
			tc.c.wantError(tc.want, tc.method, tc.path, tc.body)
		})
	}

	t.Run("too large", func(t *testing.T) {
		billing := billing
		billing.t = t
		big := `{"title":"t","description":"` + strings.Repeat("x", legacy.MaxBodyBytes) + `"}`
		billing.wantError(413, "POST", "/request", big)
	})
	t.Run("not JSON content", func(t *testing.T) {
		// A form's type is what curl -d sends by default (docs/migrating-from-stash.md).
		for _, ct := range []string{"text/plain", "application/x-www-form-urlencoded"} {
			req, _ := http.NewRequest("POST", f.base+"/request", strings.NewReader(`{}`))
			req.Header.Set("Authorization", billing.key)
			req.Header.Set("Content-Type", ct)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 415 {
				t.Fatalf("%s: status %d, want 415", ct, resp.StatusCode)
			}
		}
	})
	t.Run("405 names the allowed methods", func(t *testing.T) {
		billing := billing
		billing.t = t
		_, hdr, _ := billing.call("DELETE", "/request", nil)
		if got := hdr.Get("Allow"); got != "GET, POST, PUT, HEAD" {
			t.Errorf("Allow %q", got)
		}
	})
	t.Run("validation names every field", func(t *testing.T) {
		billing := billing
		billing.t = t
		msg := billing.wantError(422, "POST", "/request", map[string]any{"title": ""})
		for _, field := range []string{"title", "description", "service_rule", "deadline"} {
			if !strings.Contains(msg, field) {
				t.Errorf("message %q does not name %s", msg, field)
			}
		}
	})
	// Nothing above changed the request.
	if got := billing.get(it.ID); got.Status != 2 || got.Title != "errors" {
		t.Errorf("request changed by refused calls: %+v", got)
	}
}

// TestDefect_FailedCallbackKeepsComment: the old service wrote the delivery
// error into the comment.
func TestDefect_FailedCallbackKeepsComment(t *testing.T) {
	f := setup(t)
	billing, ops, _ := f.callers()
	rc := newReceiver(t)
	rc.set(answer(400, "no such thing"))
	rule := f.rule("refuses", rc.URL, nil)
	it := billing.create(rule.ID, "refused", "the user's words")
	ops.put(map[string]any{"id": it.ID, "status": 4})
	got := billing.waitStatus(it.ID, approval.StatusError)
	if got.Comment != "the user's words" {
		t.Fatalf("comment %q", got.Comment)
	}
	req, err := f.eng.Get(f.ctx, it.ID)
	if err != nil {
		t.Fatal(err)
	}
	if req.Delivery == nil || !strings.Contains(req.Delivery.LastError, "HTTP 400") || req.PreviousStatus == nil || *req.PreviousStatus != approval.StatusAcknowledgedRejected {
		t.Fatalf("delivery %+v, previous %v", req.Delivery, req.PreviousStatus)
	}
	// In error the request is not locked: its comment and fields may change.
	if got := billing.put(map[string]any{"id": it.ID, "comment": "still mine"}); got.Comment != "still mine" || got.Status != 1 {
		t.Fatalf("edit in error: %+v", got)
	}
}

// TestDefect_HungCallbackDoesNotLockTheRequest: the old service waited for
// a callback forever; approvald gives up after the rule's timeout and
// attempts, and the request can be decided again.
func TestDefect_HungCallbackDoesNotLockTheRequest(t *testing.T) {
	f := setup(t)
	billing, ops, _ := f.callers()
	rc := newReceiver(t)
	rc.set(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	rule := f.rule("hangs", rc.URL, func(r *approval.ServiceRule) {
		r.Timeout, r.MaxAttempts = 200*time.Millisecond, 2
	})
	it := billing.create(rule.ID, "hung", "c")
	ops.put(map[string]any{"id": it.ID, "status": 3})
	billing.waitStatus(it.ID, approval.StatusError)
	req, err := f.eng.Get(f.ctx, it.ID)
	if err != nil {
		t.Fatal(err)
	}
	if req.Delivery == nil || !strings.Contains(req.Delivery.LastError, "no answer within") {
		t.Errorf("delivery %+v", req.Delivery)
	}

	rc.set(answer(200, ""))
	ops.put(map[string]any{"id": it.ID, "status": 4})
	if got := billing.waitStatus(it.ID, approval.StatusRejected); got.Comment != "c" {
		t.Errorf("comment %q", got.Comment)
	}
}

// TestDefect_ReplyBodyDoesNotSetTheStatus: an empty 200 set status 0 in the
// old service; the reply body is not trusted at all.
func TestDefect_ReplyBodyDoesNotSetTheStatus(t *testing.T) {
	f := setup(t)
	billing, ops, _ := f.callers()
	for i, reply := range []string{"", `{"status":0}`, `{"id":"x","status":5}`, "not json"} {
		rc := newReceiver(t)
		rc.set(answer(200, reply))
		rule := f.rule("reply-"+strconv.Itoa(i), rc.URL, nil)
		it := billing.create(rule.ID, "reply "+reply, "")
		ops.put(map[string]any{"id": it.ID, "status": 3})
		got := billing.waitStatus(it.ID, approval.StatusApproved)
		time.Sleep(50 * time.Millisecond)
		if again := billing.get(it.ID); again.Status != int(approval.StatusApproved) {
			t.Fatalf("reply %q: status %d after %d", reply, again.Status, got.Status)
		}
	}
}

// TestDefect_ConcurrentDecisionsOneWins: two decisions at once; exactly one
// is accepted and exactly one callback is made.
func TestDefect_ConcurrentDecisionsOneWins(t *testing.T) {
	f := setup(t)
	billing, ops, _ := f.callers()
	ops2 := f.key("ops2", approval.ScopeReview, approval.ScopeRead)
	rc := newReceiver(t)
	rule := f.rule("race", rc.URL, nil)
	for round := range 6 {
		it := billing.create(rule.ID, "race", "")
		second, secondStatus := ops2, 4
		if round%2 == 1 {
			second, secondStatus = ops, 3 // the same caller twice
		}
		codes := make([]int, 2)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i, d := range []struct {
			c      client
			status int
		}{{ops, 3}, {second, secondStatus}} {
			wg.Go(func() {
				<-start
				code, _, _ := d.c.call("PUT", "/request", map[string]any{"id": it.ID, "status": d.status})
				codes[i] = code
			})
		}
		close(start)
		wg.Wait()
		slices.Sort(codes)
		if codes[0] != 200 || codes[1] != 409 {
			t.Fatalf("round %d: statuses %v, want one 200 and one 409", round, codes)
		}
		final := billing.get(it.ID)
		for !approval.Status(final.Status).Final() {
			time.Sleep(10 * time.Millisecond)
			final = billing.get(it.ID)
		}
		time.Sleep(100 * time.Millisecond) // room for a second callback, were there one
		calls := rc.callsFor(it.ID)
		if len(calls) != 1 {
			t.Fatalf("round %d: %d callbacks, want 1", round, len(calls))
		}
		wantCallback(t, calls[0], it.ID, approval.Status(final.Status))
	}
}

func TestDefect_UnknownDefaultIsRefused(t *testing.T) {
	f := setup(t)
	billing, _, admin := f.callers()
	rc := newReceiver(t)
	rule := f.rule("lists", rc.URL, nil)
	pending := billing.create(rule.ID, "pending", "")
	cancelled := billing.create(rule.ID, "cancelled", "")
	billing.put(map[string]any{"id": cancelled.ID, "status": 5})
	billing.waitStatus(cancelled.ID, approval.StatusCancelled)

	for _, v := range []string{"2", "all", "true", "-1", "01"} {
		msg := admin.wantError(400, "GET", "/requests?default="+v, nil)
		if !strings.Contains(msg, "default") {
			t.Errorf("default=%s: message %q", v, msg)
		}
	}
	ids := func(items []legacy.Item) []string {
		var out []string
		for _, it := range items {
			out = append(out, it.ID)
		}
		slices.Sort(out)
		return out
	}
	both := []string{pending.ID, cancelled.ID}
	slices.Sort(both)
	for query, want := range map[string][]string{
		"":           {pending.ID},
		"?default=":  {pending.ID},
		"?default=0": {pending.ID},
		"?default=1": both,
	} {
		if got := ids(admin.list(query)); !slices.Equal(got, want) {
			t.Errorf("GET /requests%s: %v, want %v", query, got, want)
		}
	}
}

func TestList_OrderedByDeadlineWithLimitAndOffset(t *testing.T) {
	f := setup(t)
	billing, _, _ := f.callers()
	rc := newReceiver(t)
	rule := f.rule("order", rc.URL, nil)
	native := billing
	native.bearer = true
	// Created out of deadline order; two native requests have no deadline.
	var noDeadline []string
	for range 2 {
		var r approval.Request
		native.must(201, "POST", "/v1/approvals", map[string]any{"title": "no deadline"}, &r)
		noDeadline = append(noDeadline, r.ID)
	}
	slices.Sort(noDeadline)
	hours := []int{5, 1, 4, 2, 3}
	byHour := map[int]string{}
	for _, h := range hours {
		var out itemBody
		billing.must(200, "POST", "/request", map[string]any{
			"title": "t", "description": "d", "service_rule": rule.ID, "deadline": fromNow(time.Duration(h) * time.Hour),
		}, &out)
		byHour[h] = out.Item.ID
	}
	want := []string{byHour[1], byHour[2], byHour[3], byHour[4], byHour[5], noDeadline[0], noDeadline[1]}
	got := []string{}
	for _, it := range billing.list("") {
		got = append(got, it.ID)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("order %v, want %v", got, want)
	}
	var paged []string
	for offset := 0; offset < 10; offset += 3 {
		for _, it := range billing.list("?limit=3&offset=" + strconv.Itoa(offset)) {
			paged = append(paged, it.ID)
		}
	}
	if !slices.Equal(paged, want) {
		t.Fatalf("paged %v, want %v", paged, want)
	}
	if items := billing.list("?offset=7"); len(items) != 0 {
		t.Fatalf("past the end: %d items", len(items))
	}
	// More than one page of the default limit.
	for range 20 {
		billing.create(rule.ID, "more", "")
	}
	if n := len(billing.list("")); n != legacy.DefaultLimit {
		t.Errorf("default limit: %d items", n)
	}
	if n := len(billing.list("?limit=100")); n != 27 {
		t.Errorf("limit=100: %d items, want 27", n)
	}
}

// TestCrossVisibility_LegacyAndNativeShareRequests: one engine, one set of
// requests, whichever API made them.
func TestCrossVisibility_LegacyAndNativeShareRequests(t *testing.T) {
	f := setup(t)
	billing, ops, _ := f.callers()
	rc := newReceiver(t)
	rule := f.rule("shared", rc.URL, nil)
	native := func(c client) client { c.bearer = true; return c }

	it := billing.create(rule.ID, "from legacy", "hello")
	var r approval.Request
	native(billing).must(200, "GET", "/v1/approvals/"+it.ID, nil, &r)
	if r.Title != "from legacy" || r.ServiceRule != "shared" || r.Comment != "hello" || r.Status != approval.StatusPending || r.Requester != "svc:billing" {
		t.Fatalf("native view of a legacy request: %+v", r)
	}
	if r.Deadline == nil || it.Deadline == nil || !r.Deadline.Equal(*it.Deadline) {
		t.Errorf("deadline %v vs %v", r.Deadline, it.Deadline)
	}

	var n approval.Request
	native(billing).must(201, "POST", "/v1/approvals", map[string]any{"title": "from native", "service_rule": "shared"}, &n)
	got := billing.get(n.ID)
	if got.Title != "from native" || got.ServiceRule != rule.ID || got.Status != 2 || got.Deadline != nil {
		t.Fatalf("legacy view of a native request: %+v", got)
	}
	var bare approval.Request
	native(billing).must(201, "POST", "/v1/approvals", map[string]any{"title": "no rule"}, &bare)
	raw := billing.must(200, "GET", "/request?id="+bare.ID, nil, nil)
	var m map[string]map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	if v, ok := m["approval_items"]["service_rule"]; !ok || v != float64(0) {
		t.Errorf("service_rule of a request without one: %v (present %v)", v, ok)
	}

	// A decision through one API shows in the other.
	native(ops).must(200, "POST", "/v1/approvals/"+n.ID+"/reviews", map[string]any{"decision": "reject"}, nil)
	billing.waitStatus(n.ID, approval.StatusRejected)
	ops.put(map[string]any{"id": it.ID, "status": 3})
	for r.Status != approval.StatusApproved {
		time.Sleep(10 * time.Millisecond)
		native(billing).must(200, "GET", "/v1/approvals/"+it.ID, nil, &r)
	}
	// The legacy routes take Bearer too; the native ones do not take a raw key.
	native(billing).get(it.ID)
	if code, _, _ := billing.call("GET", "/v1/approvals/"+it.ID, nil); code != 401 {
		t.Errorf("raw key on the native API: %d", code)
	}
}

func TestPut_EditThenDecide(t *testing.T) {
	f := setup(t)
	billing, _, admin := f.callers()
	rc := newReceiver(t)
	rule := f.rule("edits", rc.URL, nil)
	other := f.rule("other", rc.URL, nil)

	it := billing.create(rule.ID, "edit me", "")
	newDeadline := time.Now().Add(48 * time.Hour).UTC().Truncate(time.Second)
	got := billing.put(map[string]any{"id": it.ID, "title": "edited", "description": "new", "service_rule": other.ID, "deadline": newDeadline.Format(time.RFC3339)})
	if got.Title != "edited" || got.Description != "new" || got.ServiceRule != other.ID || got.Deadline == nil || !got.Deadline.Equal(newDeadline) || got.Status != 2 {
		t.Fatalf("after edit: %+v", got)
	}
	// status 0 and service_rule 0 mean "not given", as old Go clients send them.
	if got := billing.put(map[string]any{"id": it.ID, "comment": "c", "status": 0, "service_rule": 0}); got.Comment != "c" || got.ServiceRule != other.ID || got.Status != 2 {
		t.Fatalf("zero values: %+v", got)
	}
	// Only the id: the request as it is.
	if got := billing.put(map[string]any{"id": it.ID}); got.Title != "edited" {
		t.Fatalf("no-op PUT: %+v", got)
	}

	// An edit that fails decides nothing.
	admin.wantError(422, "PUT", "/request", map[string]any{"id": it.ID, "deadline": ago(time.Hour), "status": 3})
	if req, _ := f.eng.Get(f.ctx, it.ID); req.Status != approval.StatusPending || len(req.Reviews) != 0 {
		t.Fatalf("after a failed edit: %s with %d reviews", req.Status, len(req.Reviews))
	}
	// Edit and decision in one PUT: the edit first, then the decision.
	admin.put(map[string]any{"id": it.ID, "title": "final title", "status": 3, "comment": "ok"})
	final := billing.waitStatus(it.ID, approval.StatusApproved)
	if final.Title != "final title" || final.Comment != "c" {
		t.Fatalf("final %+v", final)
	}
	chain, err := f.eng.History(f.ctx, it.ID)
	if err != nil {
		t.Fatal(err)
	}
	hist := chain.Entries
	var actions []approval.Action
	for _, e := range hist {
		actions = append(actions, e.Action)
	}
	want := []approval.Action{approval.ActionCreate, approval.ActionEdit, approval.ActionComment, approval.ActionEdit, approval.ActionApprove, approval.ActionDelivered}
	if !slices.Equal(actions, want) {
		t.Errorf("history %v, want %v", actions, want)
	}

	// Cancel with a comment: the comment becomes the request's.
	c := billing.create(rule.ID, "cancel me", "first")
	billing.put(map[string]any{"id": c.ID, "status": 5, "comment": "not needed"})
	if got := billing.waitStatus(c.ID, approval.StatusCancelled); got.Comment != "not needed" {
		t.Errorf("comment after cancel %q", got.Comment)
	}
}

func TestPost_CommentIsRecordedAndCaseInsensitiveNames(t *testing.T) {
	f := setup(t)
	billing, _, _ := f.callers()
	rc := newReceiver(t)
	rule := f.rule("names", rc.URL, nil)
	var out itemBody
	billing.must(200, "POST", "/request", map[string]any{
		"Title": "T", "DESCRIPTION": "D", "Service_Rule": rule.ID, "deadline": fromNow(time.Hour), "comment": "hi",
	}, &out)
	if out.Item.Title != "T" || out.Item.Description != "D" || out.Item.Comment != "hi" || out.Item.ServiceRule != rule.ID {
		t.Fatalf("created %+v", out.Item)
	}
	// The same field twice under different cases is ambiguous: the body
	// is refused as malformed, like any body JSON readers could disagree on.
	billing.wantError(400, "POST", "/request", `{"title":"a","Title":"b","description":"d","service_rule":1,"deadline":"`+fromNow(time.Hour)+`"}`)
	// No Content-Type is fine (old clients sent none).
	req, _ := http.NewRequest("POST", f.base+"/request", strings.NewReader(`{"title":"t","description":"d","service_rule":`+jsonInt(rule.ID)+`,"deadline":"`+fromNow(time.Hour)+`"}`))
	req.Header.Set("Authorization", billing.key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("without Content-Type: %d", resp.StatusCode)
	}
}

func jsonInt(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}
