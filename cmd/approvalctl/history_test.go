package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"approvald/client/clienttest"
)

// entry is the part of a history entry the tests look at.
type entry struct {
	RequestID string    `json:"request_id"`
	Seq       int       `json:"seq"`
	Action    string    `json:"action"`
	Actor     string    `json:"actor"`
	At        time.Time `json:"at"`
	Hash      string    `json:"hash"`
}

// exported runs "history --all" with args as JSON and returns its entries;
// it checks that the streamed document is laid out as -o json lays out
// every other answer, and that -o yaml prints the same document.
func exported(c *ctl, args ...string) []entry {
	c.t.Helper()
	args = append([]string{"history", "--all"}, args...)
	out := c.ok(append(args, "-o", "json")...).stdout
	var doc struct {
		Items      []entry `json:"items"`
		NextCursor *string `json:"next_cursor"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil || doc.NextCursor != nil || doc.Items == nil {
		c.t.Fatalf("approvalctl %s -o json: %v, next_cursor %v:\n%s", strings.Join(args, " "), err, doc.NextCursor, out)
	}
	var compact, indented bytes.Buffer
	_ = json.Compact(&compact, []byte(out))
	_ = json.Indent(&indented, compact.Bytes(), "", "  ")
	if indented.String()+"\n" != out {
		c.t.Errorf("approvalctl %s -o json is not laid out as json.Indent would:\n%s", strings.Join(args, " "), out)
	}
	wantYAML, err := jsonToYAML([]byte(out))
	if err != nil {
		c.t.Fatal(err)
	}
	if got := c.ok(append(args, "-o", "yaml")...).stdout; got != string(wantYAML) {
		c.t.Errorf("approvalctl %s -o yaml:\n%s\nwant the JSON document as YAML:\n%s", strings.Join(args, " "), got, wantYAML)
	}
	return doc.Items
}

// steps names entries as "action rN#seq", where rN is the entry's request
// numbered by its place in ids.
func steps(entries []entry, ids ...string) []string {
	var out []string
	for _, e := range entries {
		out = append(out, fmt.Sprintf("%s r%d#%d", e.Action, slices.Index(ids, e.RequestID)+1, e.Seq))
	}
	return out
}

func TestCLI_HistoryAllExportsEveryEntryPageByPage(t *testing.T) {
	t.Parallel()
	p := setup(t)
	auditor := newCtl(t, shared.NewKey(t, "auditor", "audit").Secret)
	a := p.create("--title", "First")
	b := p.create("--title", "Second")
	p.reviewer.ok("approve", a)
	p.requester.ok("comment", b, "later")
	me := p.requesterKey.Principal()

	// Other tests share the server: the requester's entries, one a page.
	mine := exported(auditor, "--actor", me, "--limit", "1")
	if got, want := steps(mine, a, b), []string{"create r1#1", "create r2#1", "comment r2#2"}; !slices.Equal(got, want) {
		t.Fatalf("history --all --actor %s: %v, want %v", me, got, want)
	}
	if got := steps(exported(auditor, "--actor", me, "--action", "comment"), a, b); !slices.Equal(got, []string{"comment r2#2"}) {
		t.Errorf("--action comment: %v", got)
	}
	since := mine[1].At.Format(time.RFC3339Nano)
	if got := steps(exported(auditor, "--actor", me, "--since", since, "--limit", "2"), a, b); !slices.Equal(got, []string{"create r2#1", "comment r2#2"}) {
		t.Errorf("--since %s: %v", since, got)
	}
	if got := steps(exported(auditor, "--actor", me, "--until", since), a, b); !slices.Equal(got, []string{"create r1#1"}) {
		t.Errorf("--until %s: %v", since, got)
	}
	if got := exported(auditor, "--actor", me, "--since", "1h"); len(got) != 3 {
		t.Errorf("--since 1h: %d entries, want 3", len(got))
	}
	if got := exported(auditor, "--actor", "svc:nobody"); len(got) != 0 {
		t.Errorf("--actor svc:nobody: %v", got)
	}

	table := auditor.ok("history", "--all", "--actor", me, "--limit", "2").stdout
	lines := strings.Split(strings.TrimSpace(table), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "REQUEST") || !strings.Contains(lines[3], b) || !strings.Contains(lines[3], "comment") {
		t.Errorf("the table of 3 entries in 2 pages:\n%s", table)
	}
	names := auditor.ok("history", "--all", "--actor", me, "-o", "name").stdout
	if got := strings.Fields(names); len(got) != 3 || got[2] != mine[2].Hash {
		t.Errorf("-o name prints the hashes: %q", names)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"history", "--actor", me}, "--actor filters the history of every request: add --all"},
		{[]string{"history", "--all", a}, "unexpected argument"},
		{[]string{"history", "--all", "--since", "yesterday"}, `--since "yesterday" is neither an RFC 3339 time`},
	} {
		if r := auditor.run(tc.args...); r.code != 1 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("approvalctl %s: %s\nwant exit 1 and %q", strings.Join(tc.args, " "), r, tc.want)
		}
	}
	if r := auditor.run("history", "--all", "--action", "approved"); r.code != 1 || !strings.Contains(r.stderr, "422 validation_failed") || !strings.Contains(r.stderr, "action") {
		t.Errorf("an unknown action: %s", r)
	}
	if r := p.requester.run("history", "--all"); r.code != 1 || !strings.Contains(r.stderr, "403 missing_scope") {
		t.Errorf("history --all without the audit or admin scope: %s", r)
	}
}

func TestCLI_HistoryVerifyExitsOneWhenTheServerFindsTampering(t *testing.T) {
	t.Parallel()
	srv := clienttest.Start(t, approvaldBin, nil)
	admin := newCtl(t, clienttest.AdminKey).with("APPROVALD_URL", srv.URL)
	auditor := newCtl(t, srv.NewKey(t, "auditor", "audit").Secret).with("APPROVALD_URL", srv.URL)
	create := func(title string) string {
		id := strings.TrimSpace(admin.ok("create", "--title", title, "-o", "name").stdout)
		admin.ok("comment", id, "noted")
		return id
	}
	good, bad := create("Good"), create("Bad")

	out := auditor.ok("history", "verify").stdout
	if !strings.Contains(out, "VERIFIED") || !strings.Contains(out, "true") {
		t.Errorf("history verify of an intact history:\n%s", out)
	}
	srv.Exec(t, `DELETE FROM history WHERE request_id = '`+bad+`' AND seq = 2`)

	r := auditor.run("history", "verify")
	if r.code != 1 || !strings.Contains(r.stdout, bad) || !strings.Contains(r.stdout, "entries are missing") ||
		!strings.Contains(r.stderr, "the history of every request does not verify: 1 request(s) failed") {
		t.Errorf("history verify after deleting the newest entry of %s: %s", bad, r)
	}
	var v struct {
		Verified bool `json:"verified"`
		Requests int  `json:"requests"`
		Failures []struct {
			RequestID string `json:"request_id"`
		} `json:"failures"`
	}
	r = auditor.run("history", "verify", bad, "-o", "json")
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil || r.code != 1 || v.Verified || v.Requests != 1 || len(v.Failures) != 1 || v.Failures[0].RequestID != bad {
		t.Errorf("history verify %s -o json: %+v (%v), %s", bad, v, err, r)
	}
	auditor.okJSON(&v, "history", "verify", good)
	if !v.Verified || v.Requests != 1 {
		t.Errorf("history verify %s: %+v", good, v)
	}
	if r := auditor.run("history", "verify", "-o", "name"); r.code != 1 || strings.TrimSpace(r.stdout) != bad {
		t.Errorf("history verify -o name lists the failed requests: %s", r)
	}
	if r := admin.run("history", "verify", "--local", bad); r.code != 1 || !strings.Contains(r.stderr, "entries are missing") {
		t.Errorf("history verify --local %s: %s", bad, r)
	}
	if r := admin.run("history", "verify", "--local"); r.code != 1 || !strings.Contains(r.stderr, "missing ID") {
		t.Errorf("history verify --local without an ID: %s", r)
	}
	if r := auditor.run("history", "verify", "0190a4e0-0000-7000-8000-000000000001"); r.code != 1 || !strings.Contains(r.stderr, "404 not_found") {
		t.Errorf("history verify of no request: %s", r)
	}
}
