package celrule

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"

	"approvald/approval"
)

func TestInputs_RecordsWhatTheExpressionSaw(t *testing.T) {
	t.Parallel()
	in := base()
	in.Payload = json.RawMessage("{ \"amount\" : 250,\n \"currency\": \"EUR\" }")
	in.Items = []approval.Item{sha256Item, sha512Item}
	got := Inputs(in)
	want := `{"payload":{"amount":250,"currency":"EUR"},` +
		`"items":[{"id":"a","name":"a.csv","media_type":"text/csv","size":10,"digest":"` + sha256Item.Digest + `","metadata":{"rows":3}},` +
		`{"id":"b","name":"b.bin","media_type":"","size":20,"digest":"` + sha512Item.Digest + `","metadata":null}],` +
		`"groups":["dev","oncall"],"requester":"alice","service_rule":"publish","now":"2026-07-01T10:30:00Z"}`
	if string(got) != want {
		t.Errorf("Inputs =\n%s\nwant\n%s", got, want)
	}
}

func TestInputs_EmptyInput(t *testing.T) {
	t.Parallel()
	got := Inputs(Input{})
	want := `{"payload":null,"items":[],"groups":[],"requester":"","service_rule":"","now":"0001-01-01T00:00:00Z"}`
	if string(got) != want {
		t.Errorf("Inputs(Input{}) = %s, want %s", got, want)
	}
}

func TestInputs_ReplacesLargeParts(t *testing.T) {
	t.Parallel()
	big := `{"blob":"` + strings.Repeat("x", 20<<10) + `"}`
	sum := sha256.Sum256([]byte(big))

	in := base()
	in.Payload = json.RawMessage(big)
	got := Inputs(in)
	if len(got) > MaxInputs {
		t.Fatalf("Inputs is %d bytes, more than %d", len(got), MaxInputs)
	}
	var rec struct {
		Payload struct {
			Omitted bool   `json:"omitted"`
			SHA256  string `json:"sha256"`
			Size    int    `json:"size"`
		} `json:"payload"`
		Items     []map[string]any `json:"items"`
		Requester string           `json:"requester"`
	}
	if err := json.Unmarshal(got, &rec); err != nil {
		t.Fatalf("Inputs is not JSON: %v\n%s", err, got)
	}
	if !rec.Payload.Omitted || rec.Payload.SHA256 != hex.EncodeToString(sum[:]) || rec.Payload.Size != len(big) {
		t.Errorf("payload recorded as %+v, want its sha256 and size %d", rec.Payload, len(big))
	}
	if len(rec.Items) != 1 || rec.Requester != "alice" {
		t.Errorf("the small parts were not kept: %s", got)
	}

	// Items too many to record go the same way, whatever the payload.
	in.Payload = json.RawMessage(`{}`)
	in.Items = manyItems(approval.MaxItems)
	in.Groups = make([]string, 2000)
	for i := range in.Groups {
		in.Groups[i] = strings.Repeat("g", 20)
	}
	got = Inputs(in)
	if len(got) > MaxInputs || !json.Valid(got) {
		t.Fatalf("Inputs is %d bytes (valid JSON: %v), want at most %d", len(got), json.Valid(got), MaxInputs)
	}
	if !strings.Contains(string(got), `"payload":{}`) || !strings.Contains(string(got), `"items":{"omitted":true`) || !strings.Contains(string(got), `"groups":{"omitted":true`) {
		t.Errorf("Inputs = %s; want the payload kept and the items and groups replaced", got)
	}
}

func TestInputs_PayloadNotJSONIsRecordedAsAString(t *testing.T) {
	t.Parallel()
	in := base()
	in.Payload = json.RawMessage(`{"a":`)
	got := Inputs(in)
	if !json.Valid(got) || !strings.Contains(string(got), `"payload":"{\"a\":"`) {
		t.Errorf("Inputs = %s", got)
	}
}
