package web

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"approvald/approval"
)

func TestRelTime_SaysWhenAsPeopleDo(t *testing.T) {
	t.Parallel()
	now := time.Date(2030, 5, 6, 12, 0, 0, 0, time.UTC)
	for d, want := range map[time.Duration]string{
		0:                         "just now",
		-30 * time.Second:         "just now",
		-70 * time.Second:         "1 minute ago",
		5 * time.Minute:           "in 5 minutes",
		-80 * time.Minute:         "1 hour ago",
		3 * time.Hour:             "in 3 hours",
		-30 * time.Hour:           "1 day ago",
		50 * time.Hour:            "in 2 days",
		-20 * 24 * time.Hour:      "20 days ago",
		-40 * 24 * time.Hour:      "27 Mar 2030",
		3*time.Hour - time.Second: "in 3 hours",
	} {
		if got := relTime(now, now.Add(d)); got != want {
			t.Errorf("relTime(now%+v) = %q, want %q", d, got, want)
		}
	}
}

func TestDeadlineClass_HighlightsOverdueAndSoon(t *testing.T) {
	t.Parallel()
	now := time.Now()
	at := func(d time.Duration) *time.Time { t := now.Add(d); return &t }
	for _, tc := range []struct {
		status   approval.Status
		deadline *time.Time
		want     string
	}{
		{approval.StatusPending, nil, ""},
		{approval.StatusPending, at(48 * time.Hour), "deadline"},
		{approval.StatusPending, at(2 * time.Hour), "deadline soon"},
		{approval.StatusPending, at(-time.Minute), "deadline overdue"},
		{approval.StatusExpired, at(-time.Hour), "deadline overdue"},
		{approval.StatusApproved, at(-time.Hour), "deadline"},
		{approval.StatusApproved, at(time.Hour), "deadline"},
		{approval.StatusChangesRequested, at(2 * time.Hour), "deadline soon"},
		{approval.StatusRevoked, at(-time.Hour), "deadline"},
	} {
		r := &approval.Request{Status: tc.status, Deadline: tc.deadline}
		if got := deadlineClass(now, r); got != tc.want {
			t.Errorf("%s, deadline %v: %q, want %q", tc.status, tc.deadline, got, tc.want)
		}
	}
}

func TestPayloadView_KeepsMemberOrderAndTellsFlatFromNested(t *testing.T) {
	t.Parallel()
	flat := payloadView(json.RawMessage(`{"z":1,"a":"x","m":null,"b":true}`))
	if !flat.Flat {
		t.Fatal("a flat object is not shown as a table")
	}
	var keys []string
	for _, it := range flat.Root.Items {
		keys = append(keys, it.Key+"="+it.Text)
	}
	if got := strings.Join(keys, ","); got != "z=1,a=x,m=null,b=true" {
		t.Errorf("members %s", got)
	}
	nested := payloadView(json.RawMessage(`{"lines":[{"n":1},{"n":2}],"big":12345678901234567890}`))
	if nested.Flat {
		t.Fatal("a nested object is shown as a table")
	}
	lines := nested.Root.Items[0]
	if lines.Kind != "array" || lines.Summary() != "[2 items]" || lines.Items[1].Label() != "[1]" || lines.Items[1].Items[0].Label() != "n" {
		t.Errorf("lines: %+v", lines)
	}
	if big := nested.Root.Items[1]; big.Text != "12345678901234567890" {
		t.Errorf("a big number became %s", big.Text)
	}
	if empty := payloadView(json.RawMessage(`{}`)); !empty.Empty {
		t.Error("an empty payload is not shown as empty")
	}
}

func TestPayloadView_DeepNestingEndsInText(t *testing.T) {
	t.Parallel()
	deep := strings.Repeat(`{"a":`, 200) + "1" + strings.Repeat("}", 200)
	v := payloadView(json.RawMessage(deep))
	n, depth := v.Root, 0
	for n.Kind == "object" {
		n, depth = n.Items[0], depth+1
	}
	if n.Kind != "raw" || depth != maxJSONDepth+1 || !strings.HasPrefix(n.Text, `{"a":`) {
		t.Fatalf("at depth %d: %s %q", depth, n.Kind, n.Text)
	}
}

func TestViewEntry_ShowsReviewsAndChangedFields(t *testing.T) {
	t.Parallel()
	changes := `{"comment":{"before":"","after":"paid"},"decided_at":{"before":null,"after":"2030-01-01T00:00:00Z"},` +
		`"payload":{"before":{"a":1},"after":{"a":2,"b":"` + strings.Repeat("x", 100) + `"}},` +
		`"reviews":{"before":[{"reviewer":"svc:a","decision":"approve","comment":"","version":1}],` +
		`"after":[{"reviewer":"svc:a","decision":"approve","comment":"","version":1,"void":true},{"reviewer":"svc:b","decision":"reject","comment":"no","version":2}]},` +
		`"status":{"before":"pending","after":"rejected"}}`
	v := viewEntry(approval.HistoryEntry{Action: approval.ActionReject, Changes: json.RawMessage(changes)})
	if len(v.Reviews) != 1 || v.Reviews[0].Reviewer != "svc:b" || v.Reviews[0].Comment != "no" || v.Voided != 1 {
		t.Errorf("reviews %+v, voided %d", v.Reviews, v.Voided)
	}
	var fields []string
	for _, c := range v.Changes {
		fields = append(fields, c.Field)
	}
	if got := strings.Join(fields, ","); got != "status,comment,payload" {
		t.Fatalf("fields %s, want the status first and no reviews or decided_at", got)
	}
	if s := v.Changes[0]; !s.IsStatus || s.BeforeStatus != approval.StatusPending || s.AfterStatus != approval.StatusRejected {
		t.Errorf("status change %+v", s)
	}
	if c := v.Changes[1]; c.Before != "—" || c.After != "paid" || c.Long {
		t.Errorf("comment change %+v", c)
	}
	if p := v.Changes[2]; !p.Long || !strings.Contains(p.After, "\n  \"b\"") {
		t.Errorf("a long payload change is not folded and indented: %+v", p)
	}
	if created := viewEntry(approval.HistoryEntry{Action: approval.ActionCreate, Changes: json.RawMessage(`{"title":{"after":"x"}}`)}); len(created.Changes) != 0 {
		t.Error("a creation lists every field as changed")
	}
}

func TestShownStatus_AFailedDeliveryNamesTheDecisionThatFailed(t *testing.T) {
	t.Parallel()
	st := func(s approval.Status) *approval.Status { return &s }
	for _, tc := range []struct {
		status   approval.Status
		previous *approval.Status
		want     string
	}{
		{approval.StatusError, st(approval.StatusAcknowledgedApproved), "approved — delivery failed"},
		{approval.StatusError, st(approval.StatusAcknowledgedRejected), "rejected — delivery failed"},
		{approval.StatusError, st(approval.StatusAcknowledgedCancelled), "cancelled — delivery failed"},
		{approval.StatusError, nil, "delivery failed"},
		{approval.StatusAcknowledgedApproved, st(approval.StatusPending), "approved, delivering"},
		{approval.StatusAcknowledgedApproved, st(approval.StatusError), "approved, delivering"},
		{approval.StatusApproved, st(approval.StatusAcknowledgedApproved), "approved"},
	} {
		got := requestStatus(&approval.Request{Status: tc.status, PreviousStatus: tc.previous})
		if got.Label() != tc.want || got.Class() != statusClass(tc.status) {
			t.Errorf("%s after %v: %q (%s), want %q", tc.status, tc.previous, got.Label(), got.Class(), tc.want)
		}
	}
	// On the timeline: the delivery failed, then it was delivered again.
	failed := viewEntry(approval.HistoryEntry{Action: approval.ActionDeliveryFailed, Changes: json.RawMessage(
		`{"status":{"before":"acknowledged_approved","after":"error"},"previous_status":{"before":"pending","after":"acknowledged_approved"}}`)})
	if c := failed.Changes[0]; c.BeforeBadge.Label() != "approved, delivering" || c.AfterBadge.Label() != "approved — delivery failed" {
		t.Errorf("delivery failed: %q → %q", c.BeforeBadge.Label(), c.AfterBadge.Label())
	}
	again := viewEntry(approval.HistoryEntry{Action: approval.ActionRedeliver, Changes: json.RawMessage(
		`{"status":{"before":"error","after":"acknowledged_approved"},"previous_status":{"before":"acknowledged_approved","after":"error"}}`)})
	if c := again.Changes[0]; c.BeforeBadge.Label() != "approved — delivery failed" || c.AfterBadge.Label() != "approved, delivering" {
		t.Errorf("redelivered: %q → %q", c.BeforeBadge.Label(), c.AfterBadge.Label())
	}
}

func TestVisible_ShowsInvisibleCharactersAsEscapes(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"gnp\u202e.exe": `gnp<span class="invisible" title="U+202E, an invisible character">\u202e</span>.exe`,
		"a\u200bb<&>":   `a<span class="invisible" title="U+200B, an invisible character">\u200b</span>b&lt;&amp;&gt;`,
		"tag\U000E0041": `tag<span class="invisible" title="U+E0041, an invisible character">\udb40\udc41</span>`,
		"two\nlines":    `two<span class="invisible" title="U+000A, an invisible character">\n</span>lines`,
		"plain <b>":     `plain &lt;b&gt;`,
	} {
		if got := string(visible(in)); got != want {
			t.Errorf("visible(%q) =\n%s\nwant\n%s", in, got, want)
		}
	}
	if got := string(visibleLines("a\n\tb\u2066")); got != "a\n\tb"+`<span class="invisible" title="U+2066, an invisible character">\u2066</span>` {
		t.Errorf("visibleLines: %s", got)
	}
}
