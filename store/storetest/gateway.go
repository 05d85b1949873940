package storetest

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"approvald/approval"
	"approvald/gateway/calllog"
)

// createSubject stores a new request by p about subject under the default
// policy, applies fns to it, and returns the test's copy.
func createSubject(t *testing.T, s Store, p approval.Principal, subject string, fns ...op) *approval.Request {
	t.Helper()
	o, _ := approval.SubjectOrigin(subject) // the gateway's subjects are its own
	r := create(t, s, p, approval.Draft{Subject: subject, Origin: o}, approval.DefaultPolicy())
	if r.Subject != subject {
		t.Fatalf("approval.New made a request with subject %q from a draft with subject %q", r.Subject, subject)
	}
	for _, fn := range fns {
		step(t, s, r, fn)
	}
	return r
}

func outcomeOp(p approval.Principal, outcome string, now time.Time) op {
	return func(r *approval.Request) (approval.Change, error) {
		return r.RecordOutcome(p, json.RawMessage(outcome), now)
	}
}

// testSubjectOutcome stores a request with a subject, approves it and
// records its outcome twice: both fields read back exactly, through
// GetApproval and ListApprovals, and a request without them reads back
// with neither.
func testSubjectOutcome(t *testing.T, s Store) {
	const subject = "cr8tor:Projekt Café/20250314_150926"
	r := createSubject(t, s, alice, subject)
	if got := get(t, s, r.ID); got.Subject != subject || got.Outcome != nil {
		t.Errorf("new request: subject %q, outcome %s; want %q and none", got.Subject, got.Outcome, subject)
	}
	step(t, s, r, reviewOp(reviewer("dave"), approval.DecisionApprove, at(time.Minute)))

	step(t, s, r, outcomeOp(alice, `{ "published": [ {"file": "a.csv", "size": 12, "sha512": "ab12"} ],
		"note": "caf\u00e9 é", "nested": {"z": null, "a": 1.50} }`, at(2*time.Minute)))
	first := get(t, s, r.ID)
	if want := `{"published":[{"file":"a.csv","size":12,"sha512":"ab12"}],"note":"caf\u00e9 é","nested":{"z":null,"a":1.50}}`; string(first.Outcome) != want {
		t.Errorf("outcome bytes = %s, want %s", first.Outcome, want)
	}
	step(t, s, r, outcomeOp(alice, `{"published": []}`, at(3*time.Minute)))
	if got := get(t, s, r.ID); string(got.Outcome) != `{"published":[]}` || got.Subject != subject {
		t.Errorf("after a second outcome: outcome %s, subject %q; want {\"published\":[]} and %q", got.Outcome, got.Subject, subject)
	}
	if h := history(t, s, r.ID); len(h) != 4 || h[2].Action != approval.ActionOutcome || h[3].Action != approval.ActionOutcome {
		t.Errorf("history %+v, want creation, approval and two outcomes", h)
	}

	plain := create(t, s, bob, approval.Draft{}, approval.DefaultPolicy())
	listed, err := s.ListApprovals(t.Context(), approval.Filter{})
	if err != nil {
		t.Fatalf("ListApprovals: %v", err)
	}
	if len(listed) != 2 {
		t.Fatalf("ListApprovals = %v, want both requests", ids(listed))
	}
	equalRequest(t, "listed request without subject or outcome", listed[0], plain)
	equalRequest(t, "listed request with subject and outcome", listed[1], r)
}

// testListBySubject lists the requests of one subject, alone and with the
// other filters, and pages through them.
func testListBySubject(t *testing.T, s Store) {
	const s1, s2 = "cr8tor:p/20250101_000000", "cr8tor:p/20250102_000000"
	local := map[string]*approval.Request{}
	add := func(p approval.Principal, subject string, fns ...op) string {
		r := createSubject(t, s, p, subject, fns...)
		local[r.ID] = r
		return r.ID
	}
	a := add(alice, s1)
	b := add(alice, s1, reviewOp(reviewer("dave"), approval.DecisionApprove, at(time.Minute)))
	other := add(alice, s2)
	add(alice, "")
	c := add(alice, s1, cancelOp(alice, at(time.Minute)))
	d := add(bob, s1)
	e := add(bob, s1, reviewOp(reviewer("dave"), approval.DecisionApprove, at(time.Minute)),
		outcomeOp(bob, `{"published": ["x"]}`, at(2*time.Minute)))

	newestFirst := func(ids ...string) []string {
		slices.Sort(ids)
		slices.Reverse(ids)
		return ids
	}
	all := newestFirst(a, b, c, d, e)
	pendingOrApproved := []approval.Status{approval.StatusPending, approval.StatusApproved}
	tests := []struct {
		name   string
		filter approval.Filter
		want   []string
	}{
		{"subject", approval.Filter{Subject: s1}, all},
		{"other subject", approval.Filter{Subject: s2}, []string{other}},
		{"unknown subject", approval.Filter{Subject: "cr8tor:p/none"}, nil},
		{"subject and status", approval.Filter{Subject: s1, Statuses: []approval.Status{approval.StatusPending}}, newestFirst(a, d)},
		{"subject and statuses", approval.Filter{Subject: s1, Statuses: pendingOrApproved}, newestFirst(a, b, d, e)},
		{"subject and requester", approval.Filter{Subject: s1, Requester: bob.ID}, newestFirst(d, e)},
		{"subject, requester and status", approval.Filter{Subject: s1, Requester: bob.ID, Statuses: []approval.Status{approval.StatusApproved}}, []string{e}},
		{"subject and service rule", approval.Filter{Subject: s1, ServiceRule: "publisher"}, nil},
		{"subject, newest", approval.Filter{Subject: s1, Limit: 1}, all[:1]},
		{"subject, before and limit", approval.Filter{Subject: s1, Before: all[1], Limit: 2}, all[2:4]},
		{"subject, statuses, before and limit", approval.Filter{Subject: s1, Statuses: pendingOrApproved, Before: all[0], Limit: 2},
			newestFirst(a, b, d, e)[1:3]},
	}
	for _, tc := range tests {
		got, err := s.ListApprovals(t.Context(), tc.filter)
		if err != nil {
			t.Fatalf("%s: ListApprovals: %v", tc.name, err)
		}
		if !slices.Equal(ids(got), tc.want) {
			t.Errorf("%s: ListApprovals(%+v) = %v, want %v", tc.name, tc.filter, ids(got), tc.want)
		}
		for _, r := range got {
			equalRequest(t, tc.name+": listed request", r, local[r.ID])
		}
	}

	// Paging one at a time, with and without a status filter.
	pages := func(f approval.Filter) []string {
		var seen []string
		for range len(all) + 1 {
			page, err := s.ListApprovals(t.Context(), f)
			if err != nil {
				t.Fatalf("ListApprovals(%+v): %v", f, err)
			}
			if len(page) == 0 {
				return seen
			}
			seen = append(seen, ids(page)...)
			f.Before = page[len(page)-1].ID
		}
		t.Fatalf("paging with %+v does not end", f)
		return nil
	}
	if got := pages(approval.Filter{Subject: s1, Limit: 1}); !slices.Equal(got, all) {
		t.Errorf("paging subject %s by 1 gave %v, want %v", s1, got, all)
	}
	if got, want := pages(approval.Filter{Subject: s1, Statuses: pendingOrApproved, Limit: 1}), newestFirst(a, b, d, e); !slices.Equal(got, want) {
		t.Errorf("paging subject %s, pending or approved, by 1 gave %v, want %v", s1, got, want)
	}
}

// testGatewayCalls records gateway calls of a few runs and lists them:
// ids increase, filters and paging select the right calls newest first,
// and every call reads back as RecordGatewayCalls left it, normalized.
func testGatewayCalls(t *testing.T, s Store) {
	type run struct{ project, start string }
	runs := []run{{"alpha", "20250101_000000"}, {"alpha", "20250102_000000"}, {"beta", "20250101_000000"}, {"", ""}}
	var recorded []calllog.Record // oldest first
	record := func(c calllog.Record) calllog.Record {
		t.Helper()
		if err := s.RecordGatewayCalls(t.Context(), []*calllog.Record{&c}); err != nil {
			t.Fatalf("RecordGatewayCalls: %v", err)
		}
		if n := len(recorded); n > 0 && c.ID <= recorded[n-1].ID {
			t.Errorf("call %d got id %d, not above the previous %d", n, c.ID, recorded[n-1].ID)
		}
		recorded = append(recorded, c)
		return c
	}
	zone := time.FixedZone("CET", 3600)
	for i := range 56 {
		r := runs[i%len(runs)]
		c := calllog.Record{
			At:     t0.In(zone).Add(time.Duration(i)*time.Second + 999), // nanoseconds, not UTC
			Caller: "svc:cr8tor", Route: "/project/package", ProjectName: r.project, StartTime: r.start,
			UpstreamStatus: 200, Status: 200, DurationMicros: int64(1000 + i),
		}
		switch i % 7 {
		case 1:
			c.UpstreamStatus, c.Status, c.Detail = 0, 502, "upstream unreachable: connection refused"
		case 2:
			c.Route, c.Caller, c.Status, c.Detail = "", "", 401, "unauthenticated"
		case 3:
			c.Status, c.ApprovalRequest = 200, newID(t)
		case 4:
			c.Status, c.Detail = 499, "the client left"
		}
		got := record(c)
		if !got.At.Equal(c.At.Truncate(time.Microsecond)) || got.At.Location() != time.UTC {
			t.Errorf("RecordGatewayCalls left at = %v, want %v in UTC at microseconds", got.At, c.At)
		}
	}

	newestFirst := func(keep func(calllog.Record) bool) []calllog.Record {
		var out []calllog.Record
		for _, c := range slices.Backward(recorded) {
			if keep(c) {
				out = append(out, c)
			}
		}
		return out
	}
	every := newestFirst(func(calllog.Record) bool { return true })
	alpha := newestFirst(func(c calllog.Record) bool { return c.ProjectName == "alpha" })
	alpha1 := newestFirst(func(c calllog.Record) bool { return c.ProjectName == "alpha" && c.StartTime == runs[0].start })
	started1 := newestFirst(func(c calllog.Record) bool { return c.StartTime == runs[0].start })
	tests := []struct {
		name   string
		filter calllog.Filter
		want   []calllog.Record
	}{
		{"all, default limit", calllog.Filter{}, every[:50]},
		{"all, limit", calllog.Filter{Limit: 3}, every[:3]},
		{"all, before", calllog.Filter{Before: every[5].ID}, every[6:56]},
		{"all, before and limit", calllog.Filter{Before: every[5].ID, Limit: 2}, every[6:8]},
		{"project", calllog.Filter{ProjectName: "alpha"}, alpha},
		{"project, before and limit", calllog.Filter{ProjectName: "alpha", Before: alpha[3].ID, Limit: 4}, alpha[4:8]},
		{"run", calllog.Filter{ProjectName: "alpha", StartTime: runs[0].start}, alpha1},
		{"run, before and limit", calllog.Filter{ProjectName: "alpha", StartTime: runs[0].start, Before: alpha1[1].ID, Limit: 3}, alpha1[2:5]},
		{"start time", calllog.Filter{StartTime: runs[0].start}, started1},
		{"unknown project", calllog.Filter{ProjectName: "gamma"}, nil},
		{"before the first", calllog.Filter{Before: every[len(every)-1].ID}, nil},
	}
	for _, tc := range tests {
		got, err := s.ListGatewayCalls(t.Context(), tc.filter)
		if err != nil {
			t.Fatalf("%s: ListGatewayCalls: %v", tc.name, err)
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: ListGatewayCalls(%+v):\n got %+v\nwant %+v", tc.name, tc.filter, got, tc.want)
		}
	}

	// Paging the calls of a project three at a time.
	var seen []calllog.Record
	for f := (calllog.Filter{ProjectName: "alpha", Limit: 3}); ; {
		page, err := s.ListGatewayCalls(t.Context(), f)
		if err != nil {
			t.Fatalf("ListGatewayCalls(%+v): %v", f, err)
		}
		if len(page) == 0 || len(seen) > len(recorded) {
			break
		}
		seen = append(seen, page...)
		f.Before = page[len(page)-1].ID
	}
	if !reflect.DeepEqual(seen, alpha) {
		t.Errorf("paging alpha's calls by 3 gave %d calls, want %d", len(seen), len(alpha))
	}
}

// testGatewayCallText records calls whose text a store could not keep as it
// is: a detail over the limit is cut to its first MaxGatewayDetailLen
// characters, and NUL characters and invalid UTF-8 become U+FFFD, alike
// on every store.
func testGatewayCallText(t *testing.T, s Store) {
	long := strings.Repeat("é", calllog.MaxDetailLen-1) + "ab" + strings.Repeat("x", 500)
	exact := strings.Repeat("ü", calllog.MaxDetailLen)
	tests := []struct {
		name string
		in   calllog.Record
		want calllog.Record
	}{
		{"long detail",
			calllog.Record{At: t0, Status: 500, Detail: long},
			calllog.Record{At: t0, Status: 500, Detail: strings.Repeat("é", calllog.MaxDetailLen-1) + "a"}},
		{"detail at the limit",
			calllog.Record{At: t0, Status: 500, Detail: exact},
			calllog.Record{At: t0, Status: 500, Detail: exact}},
		{"NUL and invalid UTF-8",
			calllog.Record{At: t0, Status: 400, ProjectName: "al\x00pha", StartTime: "2025\xff\xfe", Caller: "user:\xc3", Detail: "bad \x00 body"},
			calllog.Record{At: t0, Status: 400, ProjectName: "al\uFFFDpha", StartTime: "2025\uFFFD", Caller: "user:\uFFFD", Detail: "bad \uFFFD body"}},
		{"nothing but a time", calllog.Record{At: time.Unix(0, 0)}, calllog.Record{At: time.Unix(0, 0).UTC()}},
	}
	for i := range tests {
		tc := &tests[i]
		c := tc.in
		if err := s.RecordGatewayCalls(t.Context(), []*calllog.Record{&c}); err != nil {
			t.Fatalf("%s: RecordGatewayCalls: %v", tc.name, err)
		}
		tc.want.ID = c.ID
		if !reflect.DeepEqual(c, tc.want) {
			t.Errorf("%s: RecordGatewayCalls left\n %+v\nwant %+v", tc.name, c, tc.want)
		}
	}
	got, err := s.ListGatewayCalls(t.Context(), calllog.Filter{})
	if err != nil {
		t.Fatalf("ListGatewayCalls: %v", err)
	}
	if len(got) != len(tests) {
		t.Fatalf("ListGatewayCalls returned %d calls, want %d", len(got), len(tests))
	}
	for i, c := range got {
		tc := tests[len(tests)-1-i]
		if !reflect.DeepEqual(c, tc.want) {
			t.Errorf("%s: read back\n %+v\nwant %+v", tc.name, c, tc.want)
		}
	}
}

// testGatewayCallBatch records several calls at once: each gets an id above
// the one before it in the batch, and the list reads them back newest
// first; an empty batch records nothing.
func testGatewayCallBatch(t *testing.T, s Store) {
	if err := s.RecordGatewayCalls(t.Context(), nil); err != nil {
		t.Fatalf("RecordGatewayCalls(nil): %v", err)
	}
	var batch []*calllog.Record
	for i := range 5 {
		batch = append(batch, &calllog.Record{At: t0.Add(time.Duration(i) * time.Second), Route: "/project/publish",
			ProjectName: "batch", StartTime: "20250101_000000", Status: 200, UpstreamStatus: 200, DurationMicros: int64(i)})
	}
	if err := s.RecordGatewayCalls(t.Context(), batch); err != nil {
		t.Fatalf("RecordGatewayCalls: %v", err)
	}
	for i := 1; i < len(batch); i++ {
		if batch[i].ID <= batch[i-1].ID {
			t.Errorf("call %d of the batch got id %d, not above %d", i, batch[i].ID, batch[i-1].ID)
		}
	}
	got, err := s.ListGatewayCalls(t.Context(), calllog.Filter{ProjectName: "batch"})
	if err != nil {
		t.Fatalf("ListGatewayCalls: %v", err)
	}
	if len(got) != len(batch) {
		t.Fatalf("listed %d calls of the batch, want %d", len(got), len(batch))
	}
	for i, c := range got {
		if want := *batch[len(batch)-1-i]; !reflect.DeepEqual(c, want) {
			t.Errorf("listed call %d = %+v, want %+v", i, c, want)
		}
	}
	// A batch larger than a store may write in one statement keeps its order.
	var big []*calllog.Record
	for i := range 250 {
		big = append(big, &calllog.Record{At: t0, Route: "/project/package", ProjectName: "big", Status: 200, DurationMicros: int64(i)})
	}
	if err := s.RecordGatewayCalls(t.Context(), big); err != nil {
		t.Fatalf("RecordGatewayCalls(250): %v", err)
	}
	for i := 1; i < len(big); i++ {
		if big[i].ID <= big[i-1].ID {
			t.Fatalf("call %d of 250 got id %d, not above %d", i, big[i].ID, big[i-1].ID)
		}
	}
	first, err := s.ListGatewayCalls(t.Context(), calllog.Filter{ProjectName: "big", Limit: 1})
	if err != nil || len(first) != 1 || first[0].ID != big[len(big)-1].ID || first[0].DurationMicros != 249 {
		t.Errorf("newest of the 250 reads back as %+v (%v), want the last recorded", first, err)
	}
}
