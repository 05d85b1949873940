package legacy

import (
	"encoding/json"
	"slices"
	"strings"
	"time"

	"approvald/approval"
	"approvald/engine"
	"approvald/internal/httpkit"
)

// MaxBodyBytes is the largest request body accepted; larger ones get 413.
// It is the native API's limit.
const MaxBodyBytes = 1 << 20

// jsonBody is how bodies are read: JSON of at most MaxBodyBytes; a missing
// Content-Type is accepted, as the old service's clients often sent none.
var jsonBody = httpkit.Body{Limit: MaxBodyBytes, Untyped: true}

// createInput is a parsed POST /request body. Every field is present and
// well formed; whether the values are acceptable (a future deadline, an
// existing rule, lengths) is the engine's call.
type createInput struct {
	Title       string
	Description string
	ServiceRule int64
	Deadline    time.Time
	Comment     string
}

// putInput is a parsed PUT /request body: the request id, the fields to
// edit (only those Set) and the decision, StatusUnknown for none.
type putInput struct {
	ID          string
	Title       approval.Field[string]
	Description approval.Field[string]
	ServiceRule approval.Field[int64]
	Deadline    approval.Field[time.Time]
	Comment     approval.Field[string]
	Status      approval.Status
}

// edits reports whether in changes any field of the request.
func (in putInput) edits() bool {
	return in.Title.Set || in.Description.Set || in.ServiceRule.Set || in.Deadline.Set || in.Comment.Set
}

// The fields of each body. Names match case-insensitively, as the old
// service's Go decoder did.
var (
	createFields = []string{"title", "description", "service_rule", "deadline", "comment"}
	putFields    = append([]string{"id", "status"}, createFields...)
)

// hints explain fields that a body may not hold.
var hints = map[string]string{
	"id":         "is assigned by the server",
	"status":     "a new request is always pending (2); use PUT /request to decide it",
	"created_at": "is set by the server",
	"updated_at": "is set by the server",
}

// object parses body as one JSON object and returns its members by
// lower-cased name, refusing names not in known. Syntax errors, non-objects
// and bodies that are not strict JSON (see httpkit.Decode) are
// KindMalformed; unknown fields are KindInvalid, collected in v.
func object(body []byte, known []string, v *approval.Validation) (map[string]json.RawMessage, error) {
	var raw map[string]json.RawMessage
	switch err := httpkit.Decode(body, &raw); {
	case approval.KindOf(err) == approval.KindInvalid, err == nil && raw == nil:
		return nil, malformed("the request body must be a JSON object")
	case err != nil:
		return nil, err
	}
	out := make(map[string]json.RawMessage, len(raw))
	names := make([]string, 0, len(raw))
	for name := range raw {
		names = append(names, name)
	}
	slices.Sort(names) // deterministic messages
	for _, name := range names {
		lower := strings.ToLower(name)
		switch {
		case !slices.Contains(known, lower):
			if hint, ok := hints[lower]; ok {
				v.Add(name, "%s", hint)
			} else {
				v.Add(name, "is not a known field; known fields: %s", strings.Join(known, ", "))
			}
		case out[lower] != nil:
			v.Add(lower, "is given more than once")
		default:
			out[lower] = raw[name]
		}
	}
	return out, nil
}

func isNull(raw json.RawMessage) bool { return raw == nil || string(raw) == "null" }

// isZero reports whether raw is the number 0.
func isZero(raw json.RawMessage) bool {
	var n int64
	return json.Unmarshal(raw, &n) == nil && n == 0
}

// str decodes a string member; null or absent is not set.
func str(v *approval.Validation, m map[string]json.RawMessage, name string) approval.Field[string] {
	raw := m[name]
	if isNull(raw) {
		return approval.Field[string]{}
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		v.Add(name, "must be a string")
		return approval.Field[string]{}
	}
	return approval.Some(s)
}

// integer decodes a whole-number member; null, absent and 0 are not set (0
// is never a valid service rule id nor a status, and the old service's Go
// clients send it for "no value").
func integer(v *approval.Validation, m map[string]json.RawMessage, name string) approval.Field[int64] {
	raw := m[name]
	if isNull(raw) {
		return approval.Field[int64]{}
	}
	var n int64
	if err := json.Unmarshal(raw, &n); err != nil {
		v.Add(name, "must be a whole number")
		return approval.Field[int64]{}
	}
	if n == 0 {
		return approval.Field[int64]{}
	}
	return approval.Some(n)
}

// deadline decodes an RFC 3339 time member; null or absent is not set.
func deadline(v *approval.Validation, m map[string]json.RawMessage) approval.Field[time.Time] {
	s := str(v, m, "deadline")
	if !s.Set {
		return approval.Field[time.Time]{}
	}
	t, err := time.Parse(time.RFC3339Nano, s.Value)
	if err != nil {
		v.Add("deadline", "must be an RFC 3339 time such as 2030-01-02T15:04:05Z")
		return approval.Field[time.Time]{}
	}
	return approval.Some(t)
}

func ruleID(v *approval.Validation, m map[string]json.RawMessage) approval.Field[int64] {
	f := integer(v, m, "service_rule")
	if f.Set && f.Value < 0 {
		v.Add("service_rule", "must be the positive id of a service rule")
		return approval.Field[int64]{}
	}
	return f
}

// required records that a text field must be given and not blank.
func required(v *approval.Validation, name string, f approval.Field[string]) {
	if f.Set && strings.TrimSpace(f.Value) == "" {
		v.Add(name, "must not be empty")
	}
}

// parseCreate parses a POST /request body. It returns a KindMalformed error
// for a body that is not one JSON object, and a KindInvalid error listing
// every missing, unknown or mistyped field.
func parseCreate(body []byte) (createInput, error) {
	var v approval.Validation
	m, err := object(body, createFields, &v)
	if err != nil {
		return createInput{}, err
	}
	title, desc, comment := str(&v, m, "title"), str(&v, m, "description"), str(&v, m, "comment")
	rule, dl := ruleID(&v, m), deadline(&v, m)
	for _, name := range []string{"title", "description", "service_rule", "deadline"} {
		if raw := m[name]; isNull(raw) || (name == "service_rule" && !rule.Set && isZero(raw)) {
			v.Add(name, "is required")
		}
	}
	required(&v, "title", title)
	required(&v, "description", desc)
	if err := v.Err(); err != nil {
		return createInput{}, err
	}
	return createInput{Title: title.Value, Description: desc.Value, ServiceRule: rule.Value, Deadline: dl.Value, Comment: comment.Value}, nil
}

// parsePut parses a PUT /request body. It returns a KindMalformed error for
// a body that is not one JSON object, and a KindInvalid error listing every
// missing, unknown or mistyped field, or a status other than 3, 4 or 5.
func parsePut(body []byte) (putInput, error) {
	var v approval.Validation
	m, err := object(body, putFields, &v)
	if err != nil {
		return putInput{}, err
	}
	in := putInput{
		Title:       str(&v, m, "title"),
		Description: str(&v, m, "description"),
		Comment:     str(&v, m, "comment"),
		ServiceRule: ruleID(&v, m),
		Deadline:    deadline(&v, m),
	}
	required(&v, "title", in.Title)
	required(&v, "description", in.Description)
	switch id := str(&v, m, "id"); {
	case !id.Set && isNull(m["id"]):
		v.Add("id", "is required")
	case id.Set && !engine.ValidID(id.Value):
		v.Add("id", "must be the id of a request (a UUID)")
	default:
		in.ID = id.Value
	}
	if st := integer(&v, m, "status"); st.Set {
		switch s := approval.Status(st.Value); s {
		case approval.StatusApproved, approval.StatusRejected, approval.StatusCancelled:
			in.Status = s
		default:
			v.Add("status", "must be 3 (approve), 4 (reject) or 5 (cancel), not %d", st.Value)
		}
	}
	if err := v.Err(); err != nil {
		return putInput{}, err
	}
	return in, nil
}
