package client_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"approvald/client"
	"approvald/client/clienttest"
)

// steps names entries as "action rN#seq", where rN is the entry's request
// numbered by its place in ids.
func steps(entries []client.HistoryEntry, ids []string) []string {
	var out []string
	for _, e := range entries {
		out = append(out, fmt.Sprintf("%s r%d#%d", e.Action, slices.Index(ids, e.RequestID)+1, e.Seq))
	}
	return out
}

func TestListHistory_PagesThroughEveryEntryWithFilters(t *testing.T) {
	t.Parallel()
	a, ctx := setup(t), testContext(t)
	auditor := newClient(t, shared.URL, shared.NewKey(t, "auditor", "audit").Secret)
	var ids []string
	for _, title := range []string{"one", "two"} {
		r, err := a.requester.Create(ctx, client.CreateRequest{Title: title})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.ID)
	}
	if _, err := a.reviewer.Approve(ctx, ids[0], "ok"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.requester.SetComment(ctx, ids[1], "later"); err != nil {
		t.Fatal(err)
	}

	// Other tests share the server: the requester's own entries, page by page.
	mine := client.HistoryFilter{Actor: a.requesterKey.Principal(), Limit: 1}
	var got []client.HistoryEntry
	pages := 0
	for {
		page, err := auditor.ListHistory(ctx, mine)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		got = append(got, page.Items...)
		if page.NextCursor == "" {
			break
		}
		mine.Cursor = page.NextCursor
	}
	if want := []string{"create r1#1", "create r2#1", "comment r2#2"}; !slices.Equal(steps(got, ids), want) || pages != 3 {
		t.Fatalf("the requester's entries: %v in %d pages, want %v in 3", steps(got, ids), pages, want)
	}
	if len(got[0].Raw()) == 0 || got[0].Hash == "" || got[0].Changes == nil {
		t.Errorf("an entry lacks its hash, changes or raw JSON: %+v", got[0])
	}

	all := func(f client.HistoryFilter) []string {
		t.Helper()
		var entries []client.HistoryEntry
		for e, err := range auditor.ListHistoryAll(ctx, f) {
			if err != nil {
				t.Fatal(err)
			}
			entries = append(entries, *e)
		}
		return steps(entries, ids)
	}
	for _, tc := range []struct {
		name   string
		filter client.HistoryFilter
		want   []string
	}{
		{"one request", client.HistoryFilter{RequestID: ids[0], Limit: 1}, []string{"create r1#1", "approve r1#2"}},
		{"an action of an actor", client.HistoryFilter{Actor: a.requesterKey.Principal(), Action: "comment"}, []string{"comment r2#2"}},
		{"since the second creation, one request", client.HistoryFilter{RequestID: ids[1], Since: got[1].At}, []string{"create r2#1", "comment r2#2"}},
		{"until the comment, one actor", client.HistoryFilter{Actor: a.requesterKey.Principal(), Until: got[2].At, Limit: 1}, []string{"create r1#1", "create r2#1"}},
	} {
		if g := all(tc.filter); !slices.Equal(g, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, g, tc.want)
		}
	}

	if _, err := auditor.ListHistory(ctx, client.HistoryFilter{Action: "approved"}); !client.HasCode(err, client.CodeValidationFailed) {
		t.Errorf("an unknown action: %v, want validation_failed", err)
	}
	if _, err := a.requester.ListHistory(ctx, client.HistoryFilter{}); !client.HasCode(err, client.CodeMissingScope) {
		t.Errorf("the history of everything with the create and read scopes: %v, want missing_scope", err)
	}
}

func TestVerifyHistory_TheServerFindsTampering(t *testing.T) {
	t.Parallel()
	srv := clienttest.Start(t, approvaldBin, nil)
	ctx := testContext(t)
	admin := newClient(t, srv.URL, clienttest.AdminKey)
	auditor := newClient(t, srv.URL, srv.NewKey(t, "auditor", "audit").Secret)
	var ids []string
	for _, title := range []string{"one", "two", "three"} {
		r, err := admin.Create(ctx, client.CreateRequest{Title: title})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := admin.SetComment(ctx, r.ID, "noted"); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.ID)
	}
	v, err := auditor.VerifyHistory(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if !v.Verified || v.Requests != 3 || v.Entries != 6 || v.FailuresTotal != 0 || v.Failures == nil || len(v.Raw()) == 0 {
		t.Fatalf("untouched: %+v", v)
	}

	srv.Exec(t, `UPDATE history SET actor = 'svc:mallory' WHERE request_id = '`+ids[0]+`' AND seq = 1`)
	srv.Exec(t, `DELETE FROM history WHERE request_id = '`+ids[2]+`' AND seq = 2`)
	v, err = auditor.VerifyHistory(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if v.Verified || v.Requests != 3 || v.Entries != 5 || v.FailuresTotal != 2 || len(v.Failures) != 2 ||
		v.Failures[0].RequestID != ids[0] || v.Failures[1].RequestID != ids[2] ||
		!strings.Contains(v.Failures[0].Error, "entry 1: hash does not match") || !strings.Contains(v.Failures[1].Error, "entries are missing") {
		t.Fatalf("tampered: %+v", v)
	}
	if v, err := auditor.VerifyHistory(ctx, ids[1]); err != nil || !v.Verified || v.Requests != 1 {
		t.Errorf("VerifyHistory(the untouched request) = %+v, %v", v, err)
	}
	if v, err := auditor.VerifyHistory(ctx, ids[2]); err != nil || v.Verified || v.Failures[0].RequestID != ids[2] {
		t.Errorf("VerifyHistory(the truncated request) = %+v, %v", v, err)
	}
	if _, err := auditor.VerifyHistory(ctx, "0190a4e0-0000-7000-8000-000000000001"); !client.IsNotFound(err) {
		t.Errorf("VerifyHistory(no such request) = %v, want not found", err)
	}
	// The local check sees the deletion too: the request is at a version
	// the history does not reach.
	if _, err := admin.VerifyHistoryLocally(ctx, ids[2]); err == nil || !strings.Contains(err.Error(), "entries are missing") {
		t.Errorf("VerifyHistoryLocally(the truncated request) = %v", err)
	}
}
