package gateway

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"approvald/approval"
	"approvald/jsonstrict"
)

func TestCheckBody_ReadsTheRunAsAJSONDecoderWould(t *testing.T) {
	t.Parallel()
	for body, want := range map[string]Run{
		`{"project_name":"Pr004","project_start_time":"20250205_010101"}`: {"Pr004", "20250205_010101"},
		// Escapes in keys and values are decoded.
		`{"project\u005fname":"Pr\u00e9 \"q\"","project_start_time":"t"}`: {`Pré "q"`, "t"},
		// Braces and quotes inside strings do not confuse the scan.
		`{"x":"}{\"project_name\":1","y":[{"z":"]}"}],"project_name":"p","project_start_time":"t","source":{"a":"}"}}`: {"p", "t"},
		"\t\r\n {\"project_name\" :\n\"p\" , \"project_start_time\":\"t\",\"destination\":{}} \n":                      {"p", "t"},
	} {
		got, err := checkBody([]byte(body))
		if err != nil || got != want {
			t.Errorf("%s: got %+v, %v; want %+v", body, got, err, want)
		}
	}
}

func TestCheckBody_RefusesAmbiguousBodies(t *testing.T) {
	t.Parallel()
	for _, body := range []string{
		// The upstreams' decoder would take the last, a person the first.
		`{"project_name":1,"project_name":"b","project_start_time":"t"}`,
		`{"project_name":"a","project_start_time":"t","source":{"host_url":"x","host_url":"y"}}`,
		`{"project_name":"a","PROJECT_NAME":"b","project_start_time":"t"}`,
		`{"project_name":"\ud800","project_start_time":"t"}`,
		"{\"project_name\":\"a\xff\",\"project_start_time\":\"t\"}",
		`{"project_name":"a","project_start_time":"t","x":` + strings.Repeat("[", 65) + strings.Repeat("]", 65) + `}`,
		`{"project_name":"a\u202e","project_start_time":"t"}`,
	} {
		if run, err := checkBody([]byte(body)); err == nil || !strings.HasPrefix(err.Error(), detailInvalid) {
			t.Errorf("%.80s: got %+v, %v; want refused", body, run, err)
		}
	}
}

func TestPayloadOf_TakesThePayloadMemberOrTheWholeBody(t *testing.T) {
	t.Parallel()
	for body, want := range map[string]string{
		`{"status":"success","payload":{"a":[1, 2]}}`: `{"a":[1, 2]}`,
		`{"payload":null}`:                            `null`,
		`{"payload":1,"payload":"last"}`:              `"last"`,
		` {"data":"\"payload\":1"} `:                  `{"data":"\"payload\":1"}`,
		`[{"payload":1}]`:                             `[{"payload":1}]`,
		`{"nested":{"payload":1}}`:                    `{"nested":{"payload":1}}`,
		`{"pay\u006coad": 5e3 }`:                      `5e3`,
		"\n\"text\"\n":                                `"text"`,
	} {
		if got := payloadOf([]byte(body)); string(got) != want {
			t.Errorf("payloadOf(%s) = %s, want %s", body, got, want)
		}
	}
}

// reference checks a body as the contract says, with encoding/json, once
// jsonstrict (fuzzed on its own) found it strict: the answer checkBody must
// agree with.
func reference(body []byte) (Run, bool) {
	var m map[string]json.RawMessage
	if jsonstrict.Check(body, strict) != nil || !utf8.Valid(body) || json.Unmarshal(body, &m) != nil || m == nil {
		return Run{}, false
	}
	var run Run
	for key, dst := range map[string]*string{"project_name": &run.ProjectName, "project_start_time": &run.StartTime} {
		v, ok := m[key]
		if !ok || v[0] != '"' || json.Unmarshal(v, dst) != nil {
			return Run{}, false
		}
		// The text policy, restated: no control or invisible character.
		if strings.ContainsFunc(*dst, approval.Invisible) || utf8.RuneCountInString(*dst) > approval.MaxSubjectLen {
			return Run{}, false
		}
	}
	for _, key := range []string{"source", "destination"} {
		if v, ok := m[key]; ok && v[0] != '{' {
			return Run{}, false
		}
	}
	return run, true
}

func FuzzCheckBody(f *testing.F) {
	for _, seed := range []string{
		`{"project_name":"Pr004","project_start_time":"20250205_010101","source":{},"destination":{}}`,
		`{"project_name":"a","project_start_time":"b","source":[]}`,
		`{"project\u005fname":"a\\","project_start_time":"\"b"}`,
		`{"project_name":1,"project_name":"b","project_start_time":"t"}`,
		`[{"project_name":"a","project_start_time":"b"}]`,
		`{"a":{"b":[{"c":"}]"}]},"project_name":"a","project_start_time":"b"}`,
		`"project_name"`, `null`, `{}`, ``, ` `, `{"project_name":"a",`, "{\"project_name\":\"\xff\"}",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		orig := string(body)
		run, err := checkBody(body)
		if string(body) != orig {
			t.Fatal("checkBody changed the body")
		}
		want, ok := reference(body)
		switch {
		case err == nil && !ok:
			t.Fatalf("accepted %q, which is not an object with the required members", body)
		case err != nil && ok:
			t.Fatalf("refused %q (%v), a valid body", body, err)
		case err == nil && run != want:
			t.Fatalf("read %+v from %q, want %+v", run, body, want)
		case err != nil && !strings.HasPrefix(err.Error(), detailInvalid):
			t.Fatalf("detail %q does not start with the original's", err)
		}
		if err == nil {
			// What is accepted is also what the upstream's payload reader walks.
			_ = payloadOf(body)
		}
	})
}

func TestRequestPayload_KeepsWithinThePayloadLimits(t *testing.T) {
	t.Parallel()
	body := []byte(`{"project_name":"a","project_start_time":"t"}`)
	deep := json.RawMessage(`{"data_retrieved":` + strings.Repeat("[", 80) + strings.Repeat("]", 80) + `}`)
	ambiguous := json.RawMessage(`{"data_retrieved":[{"file_path":"a","file_path":"b"}]}`)
	for name, staged := range map[string]json.RawMessage{"too deep": deep, "ambiguous": ambiguous} {
		got, err := requestPayload(body, staged)
		if err != nil {
			t.Fatal(err)
		}
		want := `{"request":{"project_name":"a","project_start_time":"t"},"staged":"too large or too deeply nested to keep; see the Publish service"}`
		if string(got) != want {
			t.Errorf("%s: %s", name, got)
		}
	}
	// A body as deep as the gateway takes is one level deeper in a payload.
	deepBody := []byte(`{"project_name":"a","project_start_time":"t","x":` + strings.Repeat("[", 63) + strings.Repeat("]", 63) + `}`)
	got, err := requestPayload(deepBody, json.RawMessage(`{}`))
	if err != nil || jsonstrict.Check(got, strict) != nil {
		t.Errorf("deep body: %v %s", err, got)
	}
}
