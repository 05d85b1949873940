package approval

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits on the fields of a request. They are part of the API contract.
const (
	MaxTitleLen       = 200       // characters
	MaxDescriptionLen = 10_000    // characters
	MaxCommentLen     = 10_000    // characters
	MaxServiceRuleLen = 100       // characters
	MaxSubjectLen     = 200       // characters
	MaxPayloadBytes   = 256 << 10 // bytes of JSON
	MaxDeadlineAhead  = 5 * 366 * 24 * time.Hour
)

// Decision is a reviewer's verdict.
type Decision string

// The decisions.
const (
	DecisionApprove Decision = "approve"
	DecisionReject  Decision = "reject"
	// DecisionRequestChanges asks the requester to change the request and
	// resubmit it (a comment is required).
	DecisionRequestChanges Decision = "request_changes"
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
	// Digest is the content digest of the request the reviewer saw (see
	// Request.ContentDigest); only reviews of the current digest count.
	Digest string `json:"digest"`
	// Stage is the index of the policy stage the review was given in.
	Stage int  `json:"stage"`
	Void  bool `json:"void"`
	// By is the delegate who gave the review for Reviewer (see
	// Delegation), "" when the reviewer gave it.
	By string `json:"by,omitempty"`
	// Items are the reviewer's decisions item by item, when the request
	// has items and the reviewer decided them one by one; Decision is then
	// approve when at least one item is approved.
	Items []ItemDecision `json:"items,omitempty"`
	// Auto is set on an automatic decision: the rule's expression and the
	// inputs it was evaluated on (Reviewer is "system:policy/<name>").
	Auto *AutoDecision `json:"auto,omitempty"`
}

// Escalation records that a rule's escalation reviewers became eligible.
type Escalation struct {
	Stage int       `json:"stage"`
	Rule  string    `json:"rule"`
	At    time.Time `json:"at"`
	// Version is the version of the request the escalation made: only
	// reviews of that version or later count through it.
	Version int64 `json:"version"`
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
	ID          string          `json:"id"`
	Title       string          `json:"title"`
	Description string          `json:"description"`
	Payload     json.RawMessage `json:"payload"`
	Requester   string          `json:"requester"`
	ServiceRule string          `json:"service_rule"`
	Deadline    *time.Time      `json:"deadline"`
	Policy      Policy          `json:"policy"`
	// PolicySource says where the policy came from: the mandate
	// ("service_rule:<name>", "policy:<name>" or "default"), followed by
	// "+inline" when the requester added requirements, or
	// "override:<admin>" when an admin replaced it.
	PolicySource string `json:"policy_source"`
	// PolicyRequest is what the requester asked of the policy at create;
	// it is kept to resolve the policy afresh on a change of service rule.
	PolicyRequest PolicyRequest `json:"-"`
	// Digest is the digest of the request's content (ContentDigest) as of
	// its last change; reviews record the digest they saw.
	Digest string `json:"content_digest"`
	// DependsOn lists requests that must be approved before this one is.
	DependsOn []string `json:"depends_on"`
	// RemindAfter, when set, re-requests reviews that often while pending;
	// NextReminderAt is when the next reminder is due.
	RemindAfter    Duration   `json:"remind_after,omitempty"`
	NextReminderAt *time.Time `json:"next_reminder_at"`
	// StageOpenedAt is when the open stage opened (creation, the review that
	// satisfied the stage before, or an edit that voided reviews); escalation
	// counts from it. Escalations are the rules escalated while this stage
	// is open; NextEscalationAt is when the next is due (nil for none).
	StageOpenedAt    *time.Time   `json:"stage_opened_at"`
	Escalations      []Escalation `json:"escalations"`
	NextEscalationAt *time.Time   `json:"next_escalation_at"`
	// Justification is the requester's reason for the request (content:
	// the policy may require it).
	Justification string `json:"justification"`
	// Items are what is reviewed piece by piece (the files of an output
	// package, the lines of an invoice); content, so an edit voids reviews.
	Items []Item `json:"items"`
	// ItemOutcome lists, once the request is decided, the items approved
	// and rejected with their digests; nil before.
	ItemOutcome *ItemOutcome `json:"item_outcome"`
	// Cycle counts the request-changes cycles: 0 until the first resubmit.
	Cycle int `json:"cycle"`
	// Revocation records who revoked an approved request, when and why.
	Revocation *Revocation `json:"revocation"`
	// Reason says why approvald decided the request by itself (a
	// dependency's outcome, the deadline).
	Reason string `json:"reason,omitempty"`
	// Subject is the requester's reference for what the request is about
	// ("cr8tor:<project>/<run>"), fixed at create; requests can be listed by it.
	Subject string `json:"subject"`
	// Outcome is what the service that acted on the approval reported it
	// did (see RecordOutcome); null until then.
	Outcome        json.RawMessage `json:"outcome"`
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

	// deps holds the statuses of the dependencies as the engine last read
	// them (see SetDependencies); it is not stored.
	deps Deps
}

// Deps maps the ids of a request's dependencies to their statuses.
type Deps map[string]Status

// SetDependencies tells r the current statuses of its dependencies, which
// decide whether a satisfied policy approves it and are shown in its progress.
func (r *Request) SetDependencies(d Deps) { r.deps = d }

// MarshalJSON encodes r, adding status_code, the numeric status, and
// progress, how far the policy and the dependencies have come.
func (r Request) MarshalJSON() ([]byte, error) {
	type plain Request
	p := plain(r)
	if p.Reviews == nil {
		p.Reviews = []Review{}
	}
	if p.DependsOn == nil {
		p.DependsOn = []string{}
	}
	if p.Escalations == nil {
		p.Escalations = []Escalation{}
	}
	if p.Items == nil {
		p.Items = []Item{}
	}
	return json.Marshal(struct {
		plain
		StatusCode int      `json:"status_code"`
		Progress   Progress `json:"progress"`
	}{p, int(r.Status), r.Progress()})
}

// Duration is a length of time that reads and writes JSON as a Go duration
// string such as "30m" or "4h".
type Duration time.Duration

// MarshalJSON writes d as a duration string without zero units ("1h30m").
func (d Duration) MarshalJSON() ([]byte, error) {
	s := time.Duration(d).String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return json.Marshal(s)
}

// UnmarshalJSON reads a duration string ("90m", "4h") or a number of seconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var secs float64
	if json.Unmarshal(b, &secs) == nil {
		*d = Duration(time.Duration(secs * float64(time.Second)))
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return errors.New(`must be a duration such as "30m" or "4h", or a number of seconds`)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return errors.New(`must be a duration such as "30m" or "4h", or a number of seconds`)
	}
	*d = Duration(v)
	return nil
}

// Clone returns a deep copy of r, so that a change can be compared with the
// state before it.
func (r *Request) Clone() *Request {
	c := *r
	c.Payload = bytes.Clone(r.Payload)
	c.Outcome = bytes.Clone(r.Outcome)
	c.Policy = r.Policy.Clone()
	c.Reviews = slices.Clone(r.Reviews)
	c.DependsOn = slices.Clone(r.DependsOn)
	if r.PolicyRequest.Policy != nil {
		pol := r.PolicyRequest.Policy.Clone()
		c.PolicyRequest.Policy = &pol
	}
	c.Escalations = slices.Clone(r.Escalations)
	c.Items = cloneItemsDeep(r.Items)
	c.ItemOutcome = cloneOutcome(r.ItemOutcome)
	if r.Revocation != nil {
		rv := *r.Revocation
		c.Revocation = &rv
	}
	for _, t := range []**time.Time{&c.NextReminderAt, &c.StageOpenedAt, &c.NextEscalationAt} {
		if *t != nil {
			v := **t
			*t = &v
		}
	}
	if r.Delivery != nil {
		d := *r.Delivery
		c.Delivery = &d
	}
	return &c
}

// Overdue reports whether r may expire (pending, or changes_requested: the
// deadline runs while the requester holds it) and has a deadline at or
// before now.
func (r *Request) Overdue(now time.Time) bool {
	return Allowed(r.Status, ActionExpire) && r.Deadline != nil && !r.Deadline.After(now)
}

// AsOf returns r as a read at now shows it: an overdue pending request as
// the expiry that the sweeper, or the next change to it, will record leaves
// it (expired, with its reason); r itself otherwise. It writes nothing and
// leaves r as it is: reads decide nothing, only a write transaction expires.
func (r *Request) AsOf(now time.Time) *Request {
	if !r.Overdue(now) {
		return r
	}
	v := r.Clone()
	v.Expire(now)
	return v
}

// Draft is the input of a new request.
type Draft struct {
	Title       string
	Description string
	Payload     json.RawMessage
	ServiceRule string
	Deadline    *time.Time
	DependsOn   []string
	RemindAfter Duration
	Subject     string
	// Comment is the request's first comment.
	Comment string
	// Dependencies are the statuses of the requests named in DependsOn, as
	// found by the engine; an id missing here does not exist.
	Dependencies Deps
	// Policy and PolicyName are what the requester asked for: extra
	// requirements inline, and a stored policy by name. The engine resolves
	// the mandate (the service rule's policy, the named one, or the
	// default) and New combines it with Policy.
	Policy     *Policy
	PolicyName string
	// Justification and Items as in Request.
	Justification string
	Items         []Item
	// Origin is the part of approvald opening the request (OriginAPI for
	// every API caller); set by the adapters in the process, never from a
	// body. See Origin.
	Origin Origin
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
	Policy      Field[Policy]
	RemindAfter Field[Duration]
	Items       Field[[]Item]
	// Justification as in Request.
	Justification Field[string]
	// Mandate is the policy mandate under the new service rule, resolved by
	// the engine whenever ServiceRule is set; the request's policy is then
	// resolved afresh from it and the requester's own requirements.
	Mandate *Mandate
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
	add(p.Policy.Set, "policy")
	add(p.RemindAfter.Set, "remind_after")
	add(p.Justification.Set, "justification")
	add(p.Items.Set, "items")
	return out
}

// TruncateTime returns t in UTC at microsecond precision, the precision
// every store keeps, so that a value reads back exactly as written.
func TruncateTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// checkText checks a multi-line text field (see text.go).
func checkText(v *Validation, field, s string, max int, required bool) {
	CheckProse(v, field, s, max, required)
}

func checkTitle(v *Validation, s string) {
	CheckLine(v, "title", s, MaxTitleLen, true)
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
	default:
		checkExactNumbers(v, "payload", trimmed)
	}
}

func checkServiceRule(v *Validation, s string) {
	if s == "" {
		return
	}
	CheckLine(v, "service_rule", s, MaxServiceRuleLen, false)
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

func checkRemindAfter(v *Validation, d Duration) {
	if d != 0 && (time.Duration(d) < MinRemindAfter || time.Duration(d) > MaxRemindAfter) {
		v.Add("remind_after", "must be between %s and 5 years (or 0 for no reminders)", MinRemindAfter)
	}
}

// checkDependencies validates the depends_on of a new request against the
// statuses found. A request can only depend on requests that exist when it
// is created and depends_on never changes, so dependencies cannot form a cycle.
func checkDependencies(v *Validation, ids []string, found Deps) {
	if len(ids) > MaxDependencies {
		v.Add("depends_on", "at most %d dependencies are allowed", MaxDependencies)
		return
	}
	seen := map[string]bool{}
	for i, id := range ids {
		field := fmt.Sprintf("depends_on[%d]", i)
		st, ok := found[id]
		switch {
		case seen[id]:
			v.Add(field, "%s is listed twice", id)
		case !ok:
			v.Add(field, "there is no request %s", id)
		case failedDependency(st):
			v.Add(field, "request %s is already %s, so this request could never be approved", id, st)
		}
		seen[id] = true
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
// creation Change. id must be a fresh unique id; m is the policy mandate
// the engine resolved for d, which New combines with the requester's own
// requirements (d.Policy, see Combine).
func New(id string, d Draft, p Principal, m Mandate, now time.Time) (*Request, Change, error) {
	now = TruncateTime(now)
	pol, source, err := Combine(m, d.Policy)
	if err != nil {
		return nil, Change{}, err
	}
	var v Validation
	checkTitle(&v, d.Title)
	checkText(&v, "description", d.Description, MaxDescriptionLen, false)
	checkText(&v, "comment", d.Comment, MaxCommentLen, false)
	if d.Payload == nil {
		d.Payload = json.RawMessage(`{}`)
	}
	checkPayload(&v, d.Payload)
	checkServiceRule(&v, d.ServiceRule)
	checkDeadline(&v, d.Deadline, now)
	checkRemindAfter(&v, d.RemindAfter)
	CheckLine(&v, "subject", d.Subject, MaxSubjectLen, false)
	checkSubjectOrigin(&v, d.Origin, d.Subject)
	checkDependencies(&v, d.DependsOn, d.Dependencies)
	checkText(&v, "justification", d.Justification, MaxJustificationLen, pol.RequireJustification)
	checkItems(&v, "items", d.Items)
	pol.Validate(&v, "policy", selfReviewer(pol, p.ID))
	if err := v.Err(); err != nil {
		return nil, Change{}, err
	}
	if !p.Has(ScopeCreate) {
		return nil, Change{}, Errorf(KindForbidden, CodeMissingScope, "creating a request needs the %s scope", ScopeCreate)
	}
	r := &Request{
		ID:            id,
		Title:         d.Title,
		Description:   d.Description,
		Payload:       compactPayload(d.Payload),
		Requester:     p.ID,
		ServiceRule:   d.ServiceRule,
		Policy:        pol,
		PolicySource:  source,
		PolicyRequest: PolicyRequest{Name: d.PolicyName, Policy: d.Policy},
		DependsOn:     slices.Clone(d.DependsOn),
		Subject:       d.Subject,
		Comment:       d.Comment,
		RemindAfter:   d.RemindAfter,
		Justification: d.Justification,
		Items:         cloneItems(d.Items),
		Status:        StatusPending,
		Reviews:       []Review{},
		CreatedAt:     now,
	}
	if d.Deadline != nil {
		t := TruncateTime(*d.Deadline)
		r.Deadline = &t
	}
	if r.PolicyRequest.Policy != nil {
		c := r.PolicyRequest.Policy.Clone()
		r.PolicyRequest.Policy = &c
	}
	r.scheduleReminder(now)
	r.deps = d.Dependencies
	r.Digest = r.ContentDigest()
	ch := r.record(nil, ActionCreate, p.ID, now)
	return r, ch, nil
}
