package legacy

import (
	"encoding/json"
	"errors"
	"testing"

	"approvald/approval"
	"approvald/engine"
)

// Seeds beyond these are in testdata/fuzz/<FuzzName>.
var bodySeeds = []string{
	`{"title":"t","description":"d","service_rule":1,"deadline":"2030-01-02T15:04:05Z","comment":"c"}`,
	`{"id":"0190a6f4-1234-7abc-8def-0123456789ab","status":3,"comment":"ok"}`,
	`{"id":"0190a6f4-1234-7abc-8def-0123456789ab","title":"x","service_rule":0,"status":0,"deadline":null}`,
	`{"Title":"a","TITLE":"b"}`,
	`{"service_rule":-1,"status":3.5,"deadline":"tomorrow"}`,
	`[]`, `null`, `"x"`, `{} {}`, `{"title":`, "",
}

// checkErr fails unless err is an *approval.Error of a client kind: a body
// never causes an internal error.
func checkErr(t *testing.T, err error) {
	t.Helper()
	var e *approval.Error
	if !errors.As(err, &e) {
		t.Fatalf("error of type %T: %v", err, err)
	}
	switch e.Kind {
	case approval.KindMalformed:
	case approval.KindInvalid:
		if len(e.Fields) == 0 {
			t.Fatalf("validation error without fields: %v", err)
		}
	default:
		t.Fatalf("error of kind %v: %v", e.Kind, err)
	}
}

func FuzzParseCreate(f *testing.F) {
	for _, s := range bodySeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		in, err := parseCreate(body)
		if err != nil {
			checkErr(t, err)
			return
		}
		if in.Title == "" || in.Description == "" || in.ServiceRule <= 0 || in.Deadline.IsZero() {
			t.Fatalf("accepted an incomplete create: %+v", in)
		}
		// What was accepted, written out again, parses to the same input.
		again, err := parseCreate(mustJSON(t, map[string]any{
			"title": in.Title, "description": in.Description, "service_rule": in.ServiceRule,
			"deadline": in.Deadline, "comment": in.Comment,
		}))
		if err != nil {
			t.Fatalf("re-encoded input refused: %v", err)
		}
		if again.Title != in.Title || again.Description != in.Description || again.ServiceRule != in.ServiceRule ||
			!again.Deadline.Equal(in.Deadline) || again.Comment != in.Comment {
			t.Fatalf("round trip: %+v != %+v", again, in)
		}
	})
}

func FuzzParsePut(f *testing.F) {
	for _, s := range bodySeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		in, err := parsePut(body)
		if err != nil {
			checkErr(t, err)
			return
		}
		if !engine.ValidID(in.ID) {
			t.Fatalf("accepted id %q", in.ID)
		}
		switch in.Status {
		case approval.StatusUnknown, approval.StatusApproved, approval.StatusRejected, approval.StatusCancelled:
		default:
			t.Fatalf("accepted status %d", in.Status)
		}
		if in.ServiceRule.Set && in.ServiceRule.Value <= 0 {
			t.Fatalf("accepted service_rule %d", in.ServiceRule.Value)
		}
		m := map[string]any{"id": in.ID}
		if in.Status != approval.StatusUnknown {
			m["status"] = int(in.Status)
		}
		for name, f := range map[string]approval.Field[string]{"title": in.Title, "description": in.Description, "comment": in.Comment} {
			if f.Set {
				m[name] = f.Value
			}
		}
		if in.ServiceRule.Set {
			m["service_rule"] = in.ServiceRule.Value
		}
		if in.Deadline.Set {
			m["deadline"] = in.Deadline.Value
		}
		again, err := parsePut(mustJSON(t, m))
		if err != nil {
			t.Fatalf("re-encoded input refused: %v", err)
		}
		if again.ID != in.ID || again.Status != in.Status || again.Title != in.Title || again.Description != in.Description ||
			again.Comment != in.Comment || again.ServiceRule != in.ServiceRule || again.Deadline.Set != in.Deadline.Set ||
			!again.Deadline.Value.Equal(in.Deadline.Value) {
			t.Fatalf("round trip: %+v != %+v", again, in)
		}
	})
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
