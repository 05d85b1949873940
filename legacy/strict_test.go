package legacy_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"approvald/approval"
)

// Regression tests of issue 15 (strict input) on the legacy routes.

func TestPost_AmbiguousDeceptiveOrDeepBodiesAreRefused(t *testing.T) {
	f := setup(t)
	billing, _, _ := f.callers()
	rc := newReceiver(t)
	rule := f.rule("strict", rc.URL, nil)
	fields := `"description":"d","service_rule":` + strconv.FormatInt(rule.ID, 10) + `,"deadline":"` + fromNow(time.Hour) + `"`
	for body, c := range map[string]struct {
		status int
		msg    string
	}{
		`{"title":"a","title":"b",` + fields + `}`:                                                       {400, `the request body is ambiguous: the key "title" is given more than once in the object at the top level`},
		`{"title":"a","TITLE":"b",` + fields + `}`:                                                       {400, `the request body is ambiguous: the keys "title" and "TITLE" of the object at the top level differ only in letter case, so they name the same field`},
		`{"title":"\ud800",` + fields + `}`:                                                              {400, "surrogate"},
		"{\"title\":\"caf\xe9\"," + fields + `}`:                                                         {400, "invalid UTF-8"},
		`{"title":"t","x":` + strings.Repeat("[", 9990) + strings.Repeat("]", 9990) + `,` + fields + `}`: {400, "nested more than 72 levels deep"},
		`{"title":"Pay invoice \u202egnp.exe\u202c 42",` + fields + `}`:                                  {422, "title: must not contain control or invisible characters (found U+202E at character 13)"},
		`{"title":"t",` + fields + `,"comment":"ok \u2067"}`:                                             {422, "comment: must not contain bidirectional formatting characters"},
		`{"title":"\u200b",` + fields + `}`:                                                              {422, "title: must contain a visible character"},
	} {
		if msg := billing.wantError(c.status, "POST", "/request", body); !strings.Contains(msg, c.msg) {
			t.Errorf("%.60s: %q, want %q", body, msg, c.msg)
		}
	}
	if items := billing.list("?default=1"); len(items) != 0 {
		t.Fatalf("refused bodies stored %d requests", len(items))
	}
}

func TestPut_AmbiguousDecisionIsRefused(t *testing.T) {
	f := setup(t)
	billing, ops, _ := f.callers()
	rc := newReceiver(t)
	rule := f.rule("strict", rc.URL, nil)
	item := billing.create(rule.ID, "Pay invoice 42", "")
	id := `"id":"` + item.ID + `"`
	// The requester edits, the reviewer decides.
	billing.wantError(422, "PUT", "/request", `{`+id+`,"title":"Pay \u202e24 eciovni"}`)
	for body, status := range map[string]int{
		`{` + id + `,"status":4,"status":3}`:            400,
		`{` + id + `,"status":4,"Status":3}`:            400,
		`{` + id + `,"title":"a","title":"b"}`:          400,
		`{` + id + `,"comment":"\udfff"}`:               400,
		`{` + id + `,"status":3,"comment":"ok \u202e"}`: 422,
	} {
		ops.wantError(status, "PUT", "/request", body)
	}
	if got := billing.get(item.ID); got.Status != int(approval.StatusPending) || got.Title != "Pay invoice 42" || got.Comment != "" {
		t.Fatalf("refused bodies changed the request: %+v", got)
	}
}
