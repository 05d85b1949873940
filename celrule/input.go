package celrule

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"

	"approvald/approval"
)

// MaxInputs is the largest record Inputs returns, in bytes.
const MaxInputs = 16 << 10

// activation returns the variables of in as the expression sees them.
func activation(in Input) (map[string]any, error) {
	payload, err := decodeJSON(in.Payload)
	if err != nil {
		return nil, fmt.Errorf("celrule: payload: %w", err)
	}
	items, err := itemMaps(in.Items)
	if err != nil {
		return nil, err
	}
	groups := in.Groups
	if groups == nil {
		groups = []string{}
	}
	return map[string]any{
		"payload":      payload,
		"requester":    in.Requester,
		"groups":       groups,
		"service_rule": in.ServiceRule,
		"items":        items,
		"now":          in.Now,
	}, nil
}

// itemMaps returns items as the expression sees them.
func itemMaps(items []approval.Item) ([]map[string]any, error) {
	out := make([]map[string]any, len(items))
	for i, it := range items {
		md, err := decodeJSON(it.Metadata)
		if err != nil {
			return nil, fmt.Errorf("celrule: items[%d].metadata: %w", i, err)
		}
		out[i] = map[string]any{
			"id":         it.ID,
			"name":       it.Name,
			"media_type": it.MediaType,
			"size":       it.Size,
			"digest":     it.Digest,
			"metadata":   md,
		}
	}
	return out, nil
}

// decodeJSON decodes raw (empty: null) into the values CEL adapts: maps,
// lists, strings, bools, nil, and numbers as int64 when they are integers
// that fit, float64 otherwise.
func decodeJSON(raw json.RawMessage) (any, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, nil
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	if d.More() {
		return nil, fmt.Errorf("more than one JSON value")
	}
	return numbers(v)
}

// numbers replaces the json.Numbers of v.
func numbers(v any) (any, error) {
	switch v := v.(type) {
	case json.Number:
		if i, err := strconv.ParseInt(string(v), 10, 64); err == nil {
			return i, nil
		}
		f, err := strconv.ParseFloat(string(v), 64)
		if err != nil || math.IsInf(f, 0) {
			return nil, fmt.Errorf("the number %s is out of range", v)
		}
		return f, nil
	case map[string]any:
		for k, e := range v {
			n, err := numbers(e)
			if err != nil {
				return nil, err
			}
			v[k] = n
		}
	case []any:
		for i, e := range v {
			n, err := numbers(e)
			if err != nil {
				return nil, err
			}
			v[i] = n
		}
	}
	return v, nil
}

// Inputs returns the JSON record of in as an expression sees it, for the
// history (approval.AutoDecision.Inputs): an object with the six variables,
// now in RFC 3339. It is at most MaxInputs bytes: until it fits, the largest
// of the payload, items, groups, requester and service rule is replaced by
// {"omitted": true, "sha256": <hex of its JSON>, "size": <bytes of its
// JSON>}.
func Inputs(in Input) json.RawMessage {
	rec := []field{
		{name: "payload", raw: compact(in.Payload)},
		{name: "items", raw: itemsJSON(in.Items)},
		{name: "groups", raw: marshal(nonNil(in.Groups))},
		{name: "requester", raw: marshal(in.Requester)},
		{name: "service_rule", raw: marshal(in.ServiceRule)},
	}
	now := marshal(in.Now.Format(time.RFC3339Nano))
	out := record(rec, now)
	for len(out) > MaxInputs {
		largest := -1
		for i, f := range rec {
			if !f.omitted && (largest < 0 || len(f.raw) > len(rec[largest].raw)) {
				largest = i
			}
		}
		if largest < 0 {
			break // cannot happen: six stand-ins take a few hundred bytes
		}
		rec[largest] = field{name: rec[largest].name, raw: omitted(rec[largest].raw), omitted: true}
		out = record(rec, now)
	}
	return out
}

// field is one variable of the record, its JSON.
type field struct {
	name    string
	raw     []byte
	omitted bool // raw is the stand-in
}

// record writes the variables in a fixed order.
func record(fs []field, now []byte) json.RawMessage {
	var b bytes.Buffer
	b.WriteByte('{')
	for _, f := range fs {
		b.WriteString(strconv.Quote(f.name)) // names are ASCII identifiers
		b.WriteByte(':')
		b.Write(f.raw)
		b.WriteByte(',')
	}
	b.WriteString(`"now":`)
	b.Write(now)
	b.WriteByte('}')
	return b.Bytes()
}

// omitted returns the stand-in of a variable's JSON too large to record.
func omitted(raw []byte) []byte {
	sum := sha256.Sum256(raw)
	return marshal(struct {
		Omitted bool   `json:"omitted"`
		SHA256  string `json:"sha256"`
		Size    int    `json:"size"`
	}{true, hex.EncodeToString(sum[:]), len(raw)})
}

// compact returns raw without insignificant space, "null" when empty, and
// raw as a JSON string when it is not JSON (the expression then saw
// nothing: its evaluation failed).
func compact(raw json.RawMessage) []byte {
	if len(bytes.TrimSpace(raw)) == 0 {
		return []byte("null")
	}
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return marshal(string(raw))
	}
	return b.Bytes()
}

// itemsJSON returns the items as the expression saw them: every key, even
// empty, and metadata as JSON (null when none).
func itemsJSON(items []approval.Item) []byte {
	type item struct {
		ID        string          `json:"id"`
		Name      string          `json:"name"`
		MediaType string          `json:"media_type"`
		Size      int64           `json:"size"`
		Digest    string          `json:"digest"`
		Metadata  json.RawMessage `json:"metadata"`
	}
	out := make([]item, len(items))
	for i, it := range items {
		out[i] = item{it.ID, it.Name, it.MediaType, it.Size, it.Digest, compact(it.Metadata)}
	}
	return marshal(out)
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// marshal is json.Marshal of values that always encode.
func marshal(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic("celrule: " + err.Error())
	}
	return b
}
