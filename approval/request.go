package approval

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Limits on the fields of a request. They are part of the API contract.
const (
	MaxTitleLen       = 200       // characters
	MaxDescriptionLen = 10_000    // characters
	MaxCommentLen     = 10_000    // characters
	MaxServiceRuleLen = 100       // characters
	MaxPayloadBytes   = 256 << 10 // bytes of JSON
	MaxDeadlineAhead  = 5 * 366 * 24 * time.Hour
)

// Decision is a reviewer's verdict.
type Decision string

// The decisions.
const (
	DecisionApprove Decision = "approve"
	DecisionReject  Decision = "reject"
)

// Review is one reviewer's decision on a request. Version is the version of
// the request the reviewer saw. Void reviews (the payload changed after them,
// or the same reviewer decided again) stay for the record but no longer count.
type Review struct {
	Reviewer string    `json:"reviewer"`
	Groups   []string  `json:"groups,omitempty"`
	Decision Decision  `json:"decision"`
	Comment  string    `json:"comment"`
	At       time.Time `json:"at"`
	Version  int64     `json:"version"`
	Void     bool      `json:"void"`
}

// Delivery is the state of delivering a decision to the request's service rule.
type Delivery struct {
	Attempts    int        `json:"attempts"`
	LastError   string     `json:"last_error,omitempty"`
	NextAttempt *time.Time `json:"next_attempt_at,omitempty"`
	DeliveredAt *time.Time `json:"delivered_at,omitempty"`
}

// Request is an approval request.
type Request struct {
	ID             string          `json:"id"`
	Title          string          `json:"title"`
	Description    string          `json:"description"`
	Payload        json.RawMessage `json:"payload"`
	Requester      string          `json:"requester"`
	ServiceRule    string          `json:"service_rule"`
	Deadline       *time.Time      `json:"deadline"`
	Policy         Policy          `json:"policy"`
	Status         Status          `json:"status"`
	PreviousStatus *Status         `json:"previous_status"`
	Comment        string          `json:"comment"`
	Reviews        []Review        `json:"reviews"`
	Delivery       *Delivery       `json:"delivery"`
	Version        int64           `json:"version"`
	CreatedAt      time.Time       `json:"created_at"`
	UpdatedAt      time.Time       `json:"updated_at"`
	DecidedAt      *time.Time      `json:"decided_at"`
	// HistoryHead is the hash of the request's latest history entry; the next
	// entry chains to it.
	HistoryHead string `json:"-"`
}

// MarshalJSON encodes r, adding status_code, the numeric status.
func (r Request) MarshalJSON() ([]byte, error) {
	type plain Request
	p := plain(r)
	if p.Reviews == nil {
		p.Reviews = []Review{}
	}
	return json.Marshal(struct {
		plain
		StatusCode int `json:"status_code"`
	}{p, int(r.Status)})
}

// Clone returns a deep copy of r, so that a change can be compared with the
// state before it.
func (r *Request) Clone() *Request {
	c := *r
	c.Payload = bytes.Clone(r.Payload)
	c.Policy.Rules = slices.Clone(r.Policy.Rules)
	c.Reviews = slices.Clone(r.Reviews)
	if r.Delivery != nil {
		d := *r.Delivery
		c.Delivery = &d
	}
	return &c
}

// Overdue reports whether r is pending with a deadline at or before now.
func (r *Request) Overdue(now time.Time) bool {
	return r.Status == StatusPending && r.Deadline != nil && !r.Deadline.After(now)
}

// Draft is the input of a new request.
type Draft struct {
	Title       string
	Description string
	Payload     json.RawMessage
	ServiceRule string
	Deadline    *time.Time
}

// Field is one optional field of a Patch: Set says whether it was given.
type Field[T any] struct {
	Set   bool
	Value T
}

// Some returns a set Field holding v.
func Some[T any](v T) Field[T] { return Field[T]{Set: true, Value: v} }

// Patch is an edit of a request: only the fields that are Set change. A set
// Deadline of nil, or a set empty ServiceRule, clears it.
type Patch struct {
	Title       Field[string]
	Description Field[string]
	Payload     Field[json.RawMessage]
	Deadline    Field[*time.Time]
	ServiceRule Field[string]
	Comment     Field[string]
}

// fields returns the JSON names of the fields p sets.
func (p Patch) fields() []string {
	var out []string
	add := func(set bool, name string) {
		if set {
			out = append(out, name)
		}
	}
	add(p.Title.Set, "title")
	add(p.Description.Set, "description")
	add(p.Payload.Set, "payload")
	add(p.Deadline.Set, "deadline")
	add(p.ServiceRule.Set, "service_rule")
	add(p.Comment.Set, "comment")
	return out
}

// TruncateTime returns t in UTC at microsecond precision, the precision
// every store keeps, so that a value reads back exactly as written.
func TruncateTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

func checkText(v *Validation, field, s string, max int, required bool) {
	switch {
	case !utf8.ValidString(s):
		v.Add(field, "must be valid UTF-8")
	case strings.ContainsRune(s, 0):
		v.Add(field, "must not contain NUL characters")
	case required && strings.TrimSpace(s) == "":
		v.Add(field, "is required")
	case utf8.RuneCountInString(s) > max:
		v.Add(field, "must be at most %d characters", max)
	}
}

func checkTitle(v *Validation, s string) {
	checkText(v, "title", s, MaxTitleLen, true)
	if strings.ContainsFunc(s, unicode.IsControl) {
		v.Add("title", "must not contain control characters")
	}
}

func checkPayload(v *Validation, p json.RawMessage) {
	if len(p) > MaxPayloadBytes {
		v.Add("payload", "must be at most %d bytes of JSON", MaxPayloadBytes)
		return
	}
	trimmed := bytes.TrimSpace(p)
	switch {
	case len(trimmed) == 0 || trimmed[0] != '{' || !json.Valid(trimmed):
		v.Add("payload", "must be a JSON object")
	case !utf8.Valid(trimmed):
		v.Add("payload", "must be valid UTF-8")
	}
}

func checkServiceRule(v *Validation, s string) {
	if s == "" {
		return
	}
	checkText(v, "service_rule", s, MaxServiceRuleLen, false)
	if strings.ContainsFunc(s, unicode.IsControl) {
		v.Add("service_rule", "must not contain control characters")
	}
}

func checkDeadline(v *Validation, d *time.Time, now time.Time) {
	switch {
	case d == nil:
	case !d.After(now):
		v.Add("deadline", "must be in the future")
	case d.Sub(now) > MaxDeadlineAhead:
		v.Add("deadline", "must be at most 5 years ahead")
	}
}

// compactPayload returns p compacted, so equal objects are stored alike.
func compactPayload(p json.RawMessage) json.RawMessage {
	var b bytes.Buffer
	if err := json.Compact(&b, p); err != nil {
		return p
	}
	return b.Bytes()
}

// New validates d and returns the new pending request made by p, with its
// creation Change. id must be a fresh unique id; pol is the resolved policy.
func New(id string, d Draft, p Principal, pol Policy, now time.Time) (*Request, Change, error) {
	now = TruncateTime(now)
	var v Validation
	checkTitle(&v, d.Title)
	checkText(&v, "description", d.Description, MaxDescriptionLen, false)
	if d.Payload == nil {
		d.Payload = json.RawMessage(`{}`)
	}
	checkPayload(&v, d.Payload)
	checkServiceRule(&v, d.ServiceRule)
	checkDeadline(&v, d.Deadline, now)
	if err := v.Err(); err != nil {
		return nil, Change{}, err
	}
	if !p.Has(ScopeCreate) {
		return nil, Change{}, Errorf(KindForbidden, CodeMissingScope, "creating a request needs the %s scope", ScopeCreate)
	}
	r := &Request{
		ID:          id,
		Title:       d.Title,
		Description: d.Description,
		Payload:     compactPayload(d.Payload),
		Requester:   p.ID,
		ServiceRule: d.ServiceRule,
		Policy:      pol,
		Status:      StatusPending,
		Reviews:     []Review{},
		CreatedAt:   now,
	}
	if d.Deadline != nil {
		t := TruncateTime(*d.Deadline)
		r.Deadline = &t
	}
	ch := r.record(nil, ActionCreate, p.ID, now)
	return r, ch, nil
}
