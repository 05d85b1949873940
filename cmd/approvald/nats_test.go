package main

import (
	"net"
	"strings"
	"testing"
)

// NATS down at start: approvald starts anyway, ready — the events wait in
// the outbox — with /readyz and a metric saying that events are not being
// published.
func TestNATS_DownAtStartIsNotFatal(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there
	base := startServer(t, map[string]string{"APPROVALD_ADMIN_KEY": testAdminKey, "APPROVALD_NATS_URL": "nats://" + addr})
	admin := client{t: t, base: base, key: testAdminKey}
	admin.must(201, "POST", "/v1/approvals", map[string]any{"title": "an event that waits"})
	ready := admin.must(200, "GET", "/readyz", nil)
	if ready["status"] != "ok" || !strings.Contains(ready["events"].(string), "not ready") {
		t.Errorf("/readyz with NATS down: %v", ready)
	}
	if v, ok := scrape(t, base+"/metrics", testAdminKey)["approvald_events_publishing"]; !ok || v != 0 {
		t.Errorf("approvald_events_publishing = %v (present: %v), want 0", v, ok)
	}
}

// Counters whose label values are known exist at 0 from the start, so an
// alert on them has data before the first event.
func TestMetrics_KnownSeriesStartAtZero(t *testing.T) {
	t.Parallel()
	base := startServer(t, map[string]string{"APPROVALD_ADMIN_KEY": testAdminKey})
	m := scrape(t, base+"/metrics", testAdminKey)
	for _, sample := range []string{
		`approvald_decisions_total{outcome="approved"}`, `approvald_decisions_total{outcome="expired"}`,
		`approvald_delivery_attempts_total{result="failed"}`, `approvald_rate_limited_total{limit="requests"}`,
		`approvald_auth_failures_total{credential="jwt"}`,
	} {
		if v, ok := m[sample]; !ok || v != 0 {
			t.Errorf("%s = %v (present: %v) on a fresh server, want 0", sample, v, ok)
		}
	}
}
