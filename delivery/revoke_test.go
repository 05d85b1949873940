package delivery

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"approvald/approval"
	"approvald/internal/testkit"
	"approvald/legacy"
	"approvald/webhook"
)

// TestLegacyStatus_EveryStatusWithoutPanicAndAsTheLegacyAPIShowsIt: every
// status, the new ones included, maps without a panic; what a legacy
// callback reports is what the legacy API shows for the status the request
// settles in, and never approved for a revocation.
func TestLegacyStatus_EveryStatusWithoutPanicAndAsTheLegacyAPIShowsIt(t *testing.T) {
	t.Parallel()
	want := map[approval.Status]approval.Status{
		approval.StatusAcknowledgedApproved:  approval.StatusApproved,
		approval.StatusAcknowledgedRejected:  approval.StatusRejected,
		approval.StatusAcknowledgedCancelled: approval.StatusCancelled,
		approval.StatusRevoked:               approval.StatusRejected,
		// The callbacks carry 3, 4 or 5 only (the stash contract): an
		// expiry is reported as rejected, though GET /request shows 9.
		approval.StatusExpired: approval.StatusRejected,
	}
	for _, s := range append(approval.Statuses(), approval.Status(-1), approval.Status(99)) {
		got := legacyStatus(s)
		if got != want[s] {
			t.Errorf("legacyStatus(%s) = %s, want %s", s, got, want[s])
		}
		if got != approval.StatusUnknown && s != approval.StatusExpired && int(got) != legacy.WireStatus(s.Settled()) {
			t.Errorf("the callback reports %s as %d, the legacy API shows it as %d", s, got, legacy.WireStatus(s.Settled()))
		}
	}
	for _, s := range []approval.Status{approval.StatusChangesRequested, approval.StatusRevoked} {
		if got := s.Settled(); got != s {
			t.Errorf("%s settles in %s, want itself", s, got)
		}
	}
}

// revokedClaim is the delivery of a revocation of request id, its data the
// request as the revocation left it.
func revokedClaim(t *testing.T, id string, status approval.Status) approval.Claim {
	t.Helper()
	data, err := json.Marshal(map[string]any{"id": id, "status": status, "revocation": approval.Revocation{By: "svc:admin", Reason: "wrong data"}})
	if err != nil {
		t.Fatal(err)
	}
	return approval.Claim{Rule: "r", OutboxRecord: approval.OutboxRecord{
		ID: "evt_1", Type: approval.EventRevoked, RequestID: id, Data: data, CreatedAt: time.Now(),
	}}
}

func TestBuildRequest_RevocationInBothFormats(t *testing.T) {
	t.Parallel()
	const id = "0190aaaa-0000-7000-8000-000000000001"
	ctx := context.Background()
	std := &approval.ServiceRule{Name: "r", URL: "http://127.0.0.1:1/hook", Secret: "whsec_" + strings.Repeat("QUJD", 8)}
	req, err := buildRequest(ctx, std, revokedClaim(t, id, approval.StatusRevoked), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	raw := readBody(t, req)
	v, err := webhook.NewVerifier(std.Secret)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Verify(req.Header, raw); err != nil {
		t.Errorf("signature: %v", err)
	}
	ev, err := webhook.ParseEvent(raw)
	if err != nil || ev.Type != approval.EventRevoked || ev.ID != "evt_1" || !strings.Contains(string(ev.Data), `"wrong data"`) {
		t.Errorf("standard event %s (%v)", raw, err)
	}

	old := &approval.ServiceRule{Name: "r", URL: "http://127.0.0.1:1/hook", Format: approval.FormatLegacy, APIKey: "s3cret-key"}
	req, err = buildRequest(ctx, old, revokedClaim(t, id, approval.StatusRevoked), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(readBody(t, req)), `{"id":"`+id+`","status":4}`; got != want || req.Header.Get("Authorization") != "s3cret-key" {
		t.Errorf("legacy callback %s (Authorization %q), want %s", got, req.Header.Get("Authorization"), want)
	}

	// A status the legacy format cannot express is not sent as 0.
	if _, err := buildRequest(ctx, old, revokedClaim(t, id, approval.StatusChangesRequested), time.Now()); err == nil ||
		!strings.Contains(err.Error(), "cannot express") {
		t.Errorf("a changes_requested event for a legacy rule: %v, want a refusal", err)
	}
}

// readBody returns the body of an outgoing request.
func readBody(t *testing.T, r *http.Request) []byte {
	t.Helper()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// revoke approves a request naming rule, waits for the approval's
// delivery, then revokes it.
func (f *fixture) revoke(rule string) *approval.Request {
	f.t.Helper()
	r := f.decide(rule, approval.DecisionApprove)
	f.waitStatus(r.ID, approval.StatusApproved)
	r, err := f.eng.Revoke(f.ctx, admin, r.ID, "approved by mistake", nil)
	if err != nil {
		f.t.Fatalf("revoke: %v", err)
	}
	if r.Status != approval.StatusRevoked {
		f.t.Fatalf("after revoke: %s", r.Status)
	}
	return r
}

func TestDispatcher_DeliversTheRevocationAsAStandardWebhook(t *testing.T) {
	f := setup(t, Config{})
	rc := newReceiver(t, ok)
	rule := f.rule("billing", rc.URL, nil)
	r := f.revoke("billing")

	testkit.Eventually(t, 10*time.Second, func() (bool, string) {
		return rc.hits.Load() >= 2, "the revocation was not delivered"
	})
	rc.mu.Lock()
	raw, hdr := rc.last, rc.hdr
	rc.mu.Unlock()
	v, err := webhook.NewVerifier(rule.Secret)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Verify(hdr, raw); err != nil {
		t.Fatalf("signature: %v", err)
	}
	ev, err := webhook.ParseEvent(raw)
	if err != nil || ev.Type != approval.EventRevoked {
		t.Fatalf("event %s (%v), want %s", raw, err, approval.EventRevoked)
	}
	var data approval.Request
	if err := json.Unmarshal(ev.Data, &data); err != nil || data.ID != r.ID || data.Status != approval.StatusRevoked ||
		data.Revocation == nil || data.Revocation.Reason != "approved by mistake" || data.Revocation.By != admin.ID {
		t.Fatalf("event data %+v (%v)", data, err)
	}
}

func TestDispatcher_LegacyFormatGetsTheRevocationAsRejected(t *testing.T) {
	f := setup(t, Config{})
	rc := newReceiver(t, ok)
	f.rule("old", rc.URL, func(r *approval.ServiceRule) { r.Format = approval.FormatLegacy; r.APIKey = "s3cret-key" })
	r := f.revoke("old")

	testkit.Eventually(t, 10*time.Second, func() (bool, string) {
		return rc.hits.Load() >= 2, "the revocation was not delivered"
	})
	rc.mu.Lock()
	got := string(rc.last)
	rc.mu.Unlock()
	if want := `{"id":"` + r.ID + `","status":4}`; got != want {
		t.Fatalf("legacy callback of the revocation %s, want %s", got, want)
	}
}

// TestDispatcher_DeliversTheExpiry: a request whose deadline passes is
// delivered to its rule as approval.expired (a receiver waiting for a
// decision learns none will come); the request stays expired, its delivery
// recorded; a legacy rule hears rejected (4).
func TestDispatcher_DeliversTheExpiry(t *testing.T) {
	f := setup(t, Config{})
	rc := newReceiver(t, ok)
	f.rule("billing", rc.URL, nil)
	old := newReceiver(t, ok)
	f.rule("old", old.URL, func(r *approval.ServiceRule) { r.Format = approval.FormatLegacy; r.APIKey = "s3cret-key" })
	deadline := time.Now().Add(1500 * time.Millisecond)
	var ids []string
	for _, rule := range []string{"billing", "old"} {
		c, err := f.eng.Create(f.ctx, requester, approval.Draft{Title: "t", ServiceRule: rule, Deadline: &deadline}, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, c.Request.ID)
	}
	time.Sleep(time.Until(deadline) + 100*time.Millisecond)
	if n, err := f.eng.ExpireDue(f.ctx); err != nil || n != 2 {
		t.Fatalf("ExpireDue = %d, %v; want 2 expired", n, err)
	}
	testkit.Eventually(t, 10*time.Second, func() (bool, string) {
		return rc.hits.Load() >= 1 && old.hits.Load() >= 1, "the expiry was not delivered"
	})
	rc.mu.Lock()
	raw := rc.last
	rc.mu.Unlock()
	if ev, err := webhook.ParseEvent(raw); err != nil || ev.Type != approval.EventExpired {
		t.Errorf("event %s (%v), want %s", raw, err, approval.EventExpired)
	}
	old.mu.Lock()
	got := string(old.last)
	old.mu.Unlock()
	if want := `{"id":"` + ids[1] + `","status":4}`; got != want {
		t.Errorf("legacy callback %s, want %s", got, want)
	}
	for _, id := range ids {
		testkit.Eventually(t, 10*time.Second, func() (bool, string) {
			r, err := f.eng.Get(f.ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			return r.Status == approval.StatusExpired && r.Delivery != nil && r.Delivery.DeliveredAt != nil,
				fmt.Sprintf("status %s, delivery %+v", r.Status, r.Delivery)
		})
	}
}
