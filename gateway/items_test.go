package gateway

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"approvald/approval"
)

// sha512Of returns a fake SHA-512 hex made of the digit d.
func sha512Of(d byte) string { return strings.Repeat(string(d), 128) }

// stagedJSON returns a package payload listing files as the Publish
// service reports published ones: path, SHA-512 hex and size.
func stagedJSON(files ...stagedFile) json.RawMessage {
	b, err := json.Marshal(map[string]any{"data_retrieved": files})
	if err != nil {
		panic(err)
	}
	return b
}

func size(n int64) *int64 { return &n }

func TestPackageItems_EveryFileWithItsDigestAndSize(t *testing.T) {
	t.Parallel()
	long := "data/outputs/" + strings.Repeat("d", 200) + ".csv"
	got := packageItems(stagedJSON(
		stagedFile{"data/outputs/public/concept.csv", sha512Of('a'), size(1585152)},
		stagedFile{"data/outputs/public/person.PARQUET", strings.ToUpper(sha512Of('b')), size(0)},
		stagedFile{"data/outputs/db.duckdb", sha512Of('c'), size(7)},
		stagedFile{long, sha512Of('d'), size(9)},
	))
	want := []approval.Item{
		{ID: "data/outputs/public/concept.csv", Name: "data/outputs/public/concept.csv", MediaType: "text/csv", Size: 1585152, Digest: "sha512:" + sha512Of('a')},
		{ID: "data/outputs/public/person.PARQUET", Name: "data/outputs/public/person.PARQUET", MediaType: "application/vnd.apache.parquet", Size: 0, Digest: "sha512:" + sha512Of('b')},
		{ID: "data/outputs/db.duckdb", Name: "data/outputs/db.duckdb", Size: 7, Digest: "sha512:" + sha512Of('c')},
		{ID: itemID(long), Name: long, MediaType: "text/csv", Size: 9, Digest: "sha512:" + sha512Of('d')},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("items =\n%+v\nwant\n%+v", got, want)
	}
	if id := itemID(long); !strings.HasPrefix(id, "path-sha256:") || len(id) > approval.MaxItemIDLen {
		t.Errorf("the id of a long path is %q", id)
	}
}

// TestPackageItems_AllOrNothing: a file without a digest or size (as in
// the contract's package answer), tables, duplicates or too many files
// leave the request without items, decided as a whole.
func TestPackageItems_AllOrNothing(t *testing.T) {
	t.Parallel()
	ok := stagedFile{"a.csv", sha512Of('a'), size(1)}
	many := make([]stagedFile, approval.MaxItems+1)
	for i := range many {
		many[i] = stagedFile{fmt.Sprintf("f%d.csv", i), sha512Of('a'), size(1)}
	}
	for name, payload := range map[string]json.RawMessage{
		"the contract's answer": payloadOfExample(t, "package.response.json"),
		"one without a digest":  stagedJSON(ok, stagedFile{"b.csv", "", size(1)}),
		"a SHA-256, not 512":    stagedJSON(ok, stagedFile{"b.csv", strings.Repeat("a", 64), size(1)}),
		"a digest not hex":      stagedJSON(ok, stagedFile{"b.csv", strings.Repeat("z", 128), size(1)}),
		"one without a size":    stagedJSON(ok, stagedFile{"b.csv", sha512Of('b'), nil}),
		"a negative size":       stagedJSON(ok, stagedFile{"b.csv", sha512Of('b'), size(-1)}),
		"one without a path":    stagedJSON(ok, stagedFile{"", sha512Of('b'), size(1)}),
		"a control character":   stagedJSON(ok, stagedFile{"b\n.csv", sha512Of('b'), size(1)}),
		"a path too long":       stagedJSON(ok, stagedFile{strings.Repeat("p", approval.MaxItemNameLen+1), sha512Of('b'), size(1)}),
		"the same path twice":   stagedJSON(ok, ok),
		"too many files":        stagedJSON(many...),
		"tables":                json.RawMessage(`{"data_retrieved":[{"table_name":"person"}]}`),
		"no list":               json.RawMessage(`{"data_retrieved":[]}`),
		"not an object":         json.RawMessage(`[1,2]`),
	} {
		if got := packageItems(payload); got != nil {
			t.Errorf("%s: items %+v, want none", name, got)
		}
	}
}

func TestPublishable_NeedsTheRequestAndEveryItemApproved(t *testing.T) {
	t.Parallel()
	run := Run{"Pr004", "20250205_010101"}
	a := approval.Item{ID: "a.csv", Name: "a.csv", Digest: "sha512:" + sha512Of('a')}
	b := approval.Item{ID: "b.csv", Name: "b.csv", Digest: "sha512:" + sha512Of('b')}
	ref := func(it approval.Item) approval.ItemRef {
		return approval.ItemRef{ID: it.ID, Name: it.Name, Digest: it.Digest}
	}
	prefix := "Approval request R1 for project Pr004 run 20250205_010101 "
	for _, tc := range []struct {
		name string
		r    approval.Request
		want string // "" allows
	}{
		{"approved, no items", approval.Request{Status: approval.StatusApproved}, ""},
		{"every item approved", approval.Request{Status: approval.StatusApproved, Items: []approval.Item{a, b},
			ItemOutcome: &approval.ItemOutcome{Approved: []approval.ItemRef{ref(a), ref(b)}}}, ""},
		{"pending", approval.Request{Status: approval.StatusPending},
			prefix + "is pending; publish is allowed once it is approved."},
		{"changes requested", approval.Request{Status: approval.StatusChangesRequested, Items: []approval.Item{a}},
			prefix + "is changes_requested; publish is allowed once it is approved."},
		{"being delivered", approval.Request{Status: approval.StatusAcknowledgedApproved},
			prefix + "is acknowledged_approved; publish is allowed once it is approved."},
		{"revoked", approval.Request{Status: approval.StatusRevoked, Revocation: &approval.Revocation{By: "admin:dpo", Reason: "consent withdrawn"}},
			prefix + "was revoked by admin:dpo: consent withdrawn. Publish is refused; package the run again to ask for a new approval."},
		{"revoked, nothing recorded", approval.Request{Status: approval.StatusRevoked},
			prefix + "was revoked by an administrator: no reason was recorded. Publish is refused; package the run again to ask for a new approval."},
		{"partial", approval.Request{Status: approval.StatusApproved, Items: []approval.Item{a, b},
			ItemOutcome: &approval.ItemOutcome{Approved: []approval.ItemRef{ref(a)}, Rejected: []approval.ItemRef{ref(b)}, Partial: true}},
			prefix + "is approved, but not for every file: 1 of its files was rejected (b.csv); publish is allowed only when every file is approved."},
		{"no outcome", approval.Request{Status: approval.StatusApproved, Items: []approval.Item{a, b}},
			prefix + "is approved, but not for every file: 2 of its files were not approved (a.csv, b.csv); publish is allowed only when every file is approved."},
		{"approved under another digest", approval.Request{Status: approval.StatusApproved, Items: []approval.Item{a, b},
			ItemOutcome: &approval.ItemOutcome{Approved: []approval.ItemRef{ref(a), {ID: b.ID, Name: b.Name, Digest: a.Digest}}}},
			prefix + "is approved, but not for every file: 1 of its files was not approved (b.csv); publish is allowed only when every file is approved."},
		{"listed both ways", approval.Request{Status: approval.StatusApproved, Items: []approval.Item{a},
			ItemOutcome: &approval.ItemOutcome{Approved: []approval.ItemRef{ref(a)}, Rejected: []approval.ItemRef{ref(a)}}},
			prefix + "is approved, but not for every file: 1 of its files was rejected (a.csv); publish is allowed only when every file is approved."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.r.ID = "R1"
			err := publishable(run, &tc.r)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			e := approval.AsError(err)
			if err == nil || e.Kind != approval.KindForbidden || e.Message != tc.want {
				t.Errorf("got %v (kind %v)\nwant %q", err, e.Kind, tc.want)
			}
		})
	}
}

func TestItemsNotApproved_NamesTenFilesAtMost(t *testing.T) {
	t.Parallel()
	files := make([]string, 13)
	for i := range files {
		files[i] = fmt.Sprintf("f%02d.csv", i)
	}
	msg := ItemsNotApproved(Run{"P", "T"}, "R1", files, 13).Message
	if !strings.Contains(msg, "13 of its files were rejected (f00.csv, f01.csv, f02.csv, f03.csv, f04.csv, f05.csv, f06.csv, f07.csv, f08.csv, f09.csv and 3 more)") {
		t.Errorf("message: %s", msg)
	}
}

func TestPublishedNotApproved_FilesPublishedUnderAnotherDigestOrNotApproved(t *testing.T) {
	t.Parallel()
	a := approval.Item{ID: "a.csv", Name: "a.csv", Digest: "sha512:" + sha512Of('a')}
	b := approval.Item{ID: "b.csv", Name: "b.csv", Digest: "sha512:" + sha512Of('b')}
	r := &approval.Request{Items: []approval.Item{a, b}, ItemOutcome: &approval.ItemOutcome{Approved: []approval.ItemRef{
		{ID: a.ID, Name: a.Name, Digest: a.Digest}, {ID: b.ID, Name: b.Name, Digest: b.Digest}}}}
	published := func(files ...stagedFile) json.RawMessage {
		raw, err := json.Marshal(map[string]any{"data_published": files})
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}

	if got := publishedNotApproved(r, published(stagedFile{"a.csv", strings.ToUpper(sha512Of('a')), size(1)}, stagedFile{"b.csv", sha512Of('b'), size(1)})); got != nil {
		t.Errorf("the approved files, published as approved: %v", got)
	}
	got := publishedNotApproved(r, published(stagedFile{"a.csv", sha512Of('a'), size(1)}, stagedFile{"b.csv", sha512Of('c'), size(1)}, stagedFile{"c.csv", sha512Of('c'), size(1)}))
	if fmt.Sprint(got) != "[b.csv c.csv]" {
		t.Errorf("a changed file and an extra one: %v, want [b.csv c.csv]", got)
	}
	if got := publishedNotApproved(&approval.Request{}, published(stagedFile{"c.csv", sha512Of('c'), size(1)})); got != nil {
		t.Errorf("a request without items: %v", got)
	}
}
