package client

import (
	"encoding/json"
	"time"

	"approvald/approval"
)

// Status is the status of an approval request, as the API names it.
type Status string

// The statuses of an approval request. Their numeric codes (see [Status.Code])
// are those of the legacy service.
const (
	StatusUnknown               Status = "unknown"
	StatusError                 Status = "error"
	StatusPending               Status = "pending"
	StatusApproved              Status = "approved"
	StatusRejected              Status = "rejected"
	StatusCancelled             Status = "cancelled"
	StatusAcknowledgedApproved  Status = "acknowledged_approved"
	StatusAcknowledgedRejected  Status = "acknowledged_rejected"
	StatusAcknowledgedCancelled Status = "acknowledged_cancelled"
	StatusExpired               Status = "expired"
	// StatusChangesRequested: a reviewer sent the request back; its
	// requester edits it and resubmits it ([Client.Resubmit]).
	StatusChangesRequested Status = "changes_requested"
	// StatusRevoked: an approval was taken back ([Client.Revoke]); final.
	StatusRevoked Status = "revoked"
)

// Statuses lists every status in the order of its numeric code.
var Statuses = []Status{
	StatusUnknown, StatusError, StatusPending, StatusApproved, StatusRejected, StatusCancelled,
	StatusAcknowledgedApproved, StatusAcknowledgedRejected, StatusAcknowledgedCancelled, StatusExpired,
	StatusChangesRequested, StatusRevoked,
}

// Code returns the numeric status code of the legacy service (the request's
// status_code), or -1 for a status this client does not know.
func (s Status) Code() int {
	for i, st := range Statuses {
		if st == s {
			return i
		}
	}
	return -1
}

// IsFinal reports whether s is a final status: approved, rejected, cancelled,
// expired or revoked. A request in a final status never changes status
// again, except that an approved one may be revoked.
func (s Status) IsFinal() bool {
	switch s {
	case StatusApproved, StatusRejected, StatusCancelled, StatusExpired, StatusRevoked:
		return true
	}
	return false
}

// Settled reports whether s is a status [Client.Wait] stops at: a final
// status, error (the decision could not be delivered and needs a person
// to act), or changes_requested (the requester must act). The
// acknowledged statuses are not settled: delivery of the decision is still
// in progress.
func (s Status) Settled() bool {
	return s.IsFinal() || s == StatusError || s == StatusChangesRequested
}

// Decision is a reviewer's decision.
type Decision string

// The decisions a review can carry.
const (
	Approve Decision = "approve"
	Reject  Decision = "reject"
	// RequestChanges sends the request back to its requester; it needs a
	// comment.
	RequestChanges Decision = "request_changes"
)

// ApprovalRequest is an approval request as the API returns it.
type ApprovalRequest struct {
	ID          string          `json:"id"`
	Title       string          `json:"title"`
	Description string          `json:"description"`
	Payload     json.RawMessage `json:"payload"`
	Requester   string          `json:"requester"`
	ServiceRule string          `json:"service_rule"`
	Deadline    *time.Time      `json:"deadline"`
	Policy      Policy          `json:"policy"`
	// PolicySource says where the policy came from: the mandate
	// ("service_rule:<name>", "policy:<name>" or "default"), with "+inline"
	// when the requester added requirements, or "override:<admin>".
	PolicySource string `json:"policy_source"`
	// ContentDigest is the digest of what reviewers review; reviews record
	// the digest they saw, and only those of the current one count.
	ContentDigest  string     `json:"content_digest"`
	DependsOn      []string   `json:"depends_on"`
	RemindAfter    string     `json:"remind_after,omitempty"`
	NextReminderAt *time.Time `json:"next_reminder_at"`
	// StageOpenedAt is when the open stage opened; escalation counts from
	// it. Escalations are the rules escalated while it is open, and
	// NextEscalationAt when the next is due.
	StageOpenedAt    *time.Time   `json:"stage_opened_at"`
	Escalations      []Escalation `json:"escalations"`
	NextEscalationAt *time.Time   `json:"next_escalation_at"`
	Reason           string       `json:"reason,omitempty"`
	Subject          string       `json:"subject"`
	// Justification is the requester's reason; Items what reviewers may
	// decide one by one, and ItemOutcome what they decided, once the
	// request is decided (nil before).
	Justification string       `json:"justification"`
	Items         []Item       `json:"items"`
	ItemOutcome   *ItemOutcome `json:"item_outcome"`
	// Cycle counts the resubmits after changes were requested.
	Cycle int `json:"cycle"`
	// Revocation says who revoked the approval, when and why; nil unless
	// revoked.
	Revocation     *Revocation     `json:"revocation"`
	Outcome        json.RawMessage `json:"outcome"`
	Status         Status          `json:"status"`
	StatusCode     int             `json:"status_code"`
	PreviousStatus *Status         `json:"previous_status"`
	Comment        string          `json:"comment"`
	Reviews        []Review        `json:"reviews"`
	Delivery       *Delivery       `json:"delivery"`
	Version        int64           `json:"version"`
	CreatedAt      time.Time       `json:"created_at"`
	UpdatedAt      time.Time       `json:"updated_at"`
	DecidedAt      *time.Time      `json:"decided_at"`
	Progress       Progress        `json:"progress"`

	raw json.RawMessage
}

// UnmarshalJSON decodes r and keeps the JSON it came from for [ApprovalRequest.Raw].
func (r *ApprovalRequest) UnmarshalJSON(b []byte) error {
	type plain ApprovalRequest
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	*r = ApprovalRequest(p)
	r.raw = append(json.RawMessage(nil), b...)
	return nil
}

// Raw returns the JSON the server sent for r, byte for byte, or nil when r
// was not decoded from a response. Fields newer than this client are in it.
func (r *ApprovalRequest) Raw() json.RawMessage { return r.raw }

// Review is one reviewer's decision on a request.
type Review struct {
	Reviewer string    `json:"reviewer"`
	Groups   []string  `json:"groups,omitempty"`
	Decision Decision  `json:"decision"`
	Comment  string    `json:"comment"`
	At       time.Time `json:"at"`
	// Version is the version of the request the reviewer reviewed.
	Version int64 `json:"version"`
	// Digest is the request's content digest the reviewer saw.
	Digest string `json:"digest"`
	Stage  int    `json:"stage"`
	// Void marks a review voided by a later change of the payload or policy.
	Void bool `json:"void"`
	// By is the delegate who gave the review for Reviewer, "" when the
	// reviewer gave it.
	By string `json:"by,omitempty"`
	// Items are the reviewer's decisions item by item, when given so.
	Items []ItemDecision `json:"items,omitempty"`
	// Auto records an automatic decision by a rule's expression (Reviewer
	// is then "system:policy/<name>").
	Auto *AutoDecision `json:"auto,omitempty"`
}

// Delivery is the state of the delivery of a decision to a service rule.
type Delivery struct {
	Attempts      int        `json:"attempts"`
	LastError     string     `json:"last_error,omitempty"`
	NextAttemptAt *time.Time `json:"next_attempt_at,omitempty"`
	DeliveredAt   *time.Time `json:"delivered_at,omitempty"`
}

// Progress is how far a request has come under its policy.
type Progress struct {
	Satisfied     bool              `json:"satisfied"`
	Stage         string            `json:"stage,omitempty"`
	Rules         []RuleProgress    `json:"rules"`
	Dependencies  []DependencyState `json:"dependencies"`
	PendingReason string            `json:"pending_reason,omitempty"`
}

// DependencyState is the status of a request another one depends on.
type DependencyState struct {
	ID     string `json:"id"`
	Status Status `json:"status,omitempty"`
}

// ApprovalPage is one page of a list of approval requests. NextCursor is
// empty on the last page.
type ApprovalPage struct {
	Items      []*ApprovalRequest `json:"items"`
	NextCursor string             `json:"next_cursor"`
}

// HistoryEntry is one change to one request. The entries of a request form
// a hash chain; see [VerifyChain].
type HistoryEntry struct {
	RequestID string `json:"request_id"`
	Seq       int64  `json:"seq"`
	Actor     string `json:"actor"`
	Action    string `json:"action"`
	// Changes is {"field":{"before":…,"after":…}} for every changed field,
	// exactly as hashed.
	Changes  json.RawMessage `json:"changes"`
	At       time.Time       `json:"at"`
	PrevHash string          `json:"prev_hash"`
	Hash     string          `json:"hash"`

	raw json.RawMessage
}

// UnmarshalJSON decodes e and keeps the JSON it came from for [HistoryEntry.Raw].
func (e *HistoryEntry) UnmarshalJSON(b []byte) error {
	type plain HistoryEntry
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	*e = HistoryEntry(p)
	e.raw = append(json.RawMessage(nil), b...)
	return nil
}

// Raw returns the JSON the server sent for e, or nil.
func (e *HistoryEntry) Raw() json.RawMessage { return e.raw }

// HistoryPage is a request's whole history, oldest first, and whether the
// server found its hash chain intact.
type HistoryPage struct {
	Items       []HistoryEntry `json:"items"`
	Verified    bool           `json:"verified"`
	VerifyError string         `json:"verify_error,omitempty"`

	raw json.RawMessage
}

// UnmarshalJSON decodes p and keeps the JSON it came from for [HistoryPage.Raw].
func (p *HistoryPage) UnmarshalJSON(b []byte) error {
	type plain HistoryPage
	var v plain
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*p = HistoryPage(v)
	p.raw = append(json.RawMessage(nil), b...)
	return nil
}

// Raw returns the JSON the server sent for p, or nil.
func (p *HistoryPage) Raw() json.RawMessage { return p.raw }

// ServiceRule is a delivery target for decisions.
type ServiceRule struct {
	ID     int64  `json:"id"`
	Name   string `json:"name"`
	URL    string `json:"url"`
	Format string `json:"format"`
	// Timeout is a duration such as "10s".
	Timeout     string `json:"timeout"`
	MaxAttempts int    `json:"max_attempts"`
	// Headers are the extra headers of each delivery, by name. Their values
	// are write-only, like the API key: the server never sends them.
	Headers   map[string]RuleHeader `json:"headers"`
	HasAPIKey bool                  `json:"has_api_key"`
	Policy    string                `json:"policy"`
	CreatedAt time.Time             `json:"created_at"`
	UpdatedAt time.Time             `json:"updated_at"`
	// Secret is the Standard Webhooks signing secret; the server sends it
	// only in the response that generated it (a create without a secret, or
	// a rotation).
	Secret string `json:"secret,omitempty"`

	raw json.RawMessage
}

// RuleHeader is a service rule's header as the server shows it: whether it
// has a value, never the value.
type RuleHeader struct {
	HasValue bool `json:"has_value"`
}

// UnmarshalJSON decodes r and keeps the JSON it came from for [ServiceRule.Raw].
func (r *ServiceRule) UnmarshalJSON(b []byte) error {
	type plain ServiceRule
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	*r = ServiceRule(p)
	r.raw = append(json.RawMessage(nil), b...)
	return nil
}

// Raw returns the JSON the server sent for r, or nil.
func (r *ServiceRule) Raw() json.RawMessage { return r.raw }

// StoredPolicy is a named policy kept by the server.
type StoredPolicy struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	// Match is a CEL expression selecting the policy for creates that name
	// none; among those that match, the highest Priority applies.
	Match     string    `json:"match,omitempty"`
	Priority  int       `json:"priority"`
	Policy    Policy    `json:"policy"`
	Version   int64     `json:"version"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`

	raw json.RawMessage
}

// UnmarshalJSON decodes p and keeps the JSON it came from for [StoredPolicy.Raw].
func (p *StoredPolicy) UnmarshalJSON(b []byte) error {
	type plain StoredPolicy
	var v plain
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*p = StoredPolicy(v)
	p.raw = append(json.RawMessage(nil), b...)
	return nil
}

// Raw returns the JSON the server sent for p, or nil.
func (p *StoredPolicy) Raw() json.RawMessage { return p.raw }

// APIKey is an API key as the admin sees it.
type APIKey struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// Prefix is the key's public id: "apd_" and its next 6 characters for
	// a key approvald generated, "cfg_" and 6 random characters for a key
	// chosen outside approvald (APPROVALD_ADMIN_KEY, a key file).
	Prefix string   `json:"prefix"`
	Scopes []string `json:"scopes"`
	Groups []string `json:"groups"`
	// Origin is "api", "bootstrap" or "file".
	Origin     string     `json:"origin"`
	CreatedAt  time.Time  `json:"created_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
	ExpiresAt  *time.Time `json:"expires_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	// Key is the secret, sent as "Authorization: Bearer <key>". The server
	// sends it only when the key is created or rotated.
	Key string `json:"key,omitempty"`

	raw json.RawMessage
}

// UnmarshalJSON decodes k and keeps the JSON it came from for [APIKey.Raw].
func (k *APIKey) UnmarshalJSON(b []byte) error {
	type plain APIKey
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	*k = APIKey(p)
	k.raw = append(json.RawMessage(nil), b...)
	return nil
}

// Raw returns the JSON the server sent for k, or nil.
func (k *APIKey) Raw() json.RawMessage { return k.raw }

// GatewayCall is one call of the CR8TOR gateway routes.
type GatewayCall struct {
	ID               int64     `json:"id"`
	At               time.Time `json:"at"`
	Caller           string    `json:"caller"`
	Route            string    `json:"route"`
	ProjectName      string    `json:"project_name"`
	ProjectStartTime string    `json:"project_start_time"`
	UpstreamStatus   int       `json:"upstream_status"`
	Status           int       `json:"status"`
	DurationMicros   int64     `json:"duration_us"`
	Detail           string    `json:"detail"`
	ApprovalRequest  string    `json:"approval_request"`

	raw json.RawMessage
}

// UnmarshalJSON decodes g and keeps the JSON it came from for [GatewayCall.Raw].
func (g *GatewayCall) UnmarshalJSON(b []byte) error {
	type plain GatewayCall
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	*g = GatewayCall(p)
	g.raw = append(json.RawMessage(nil), b...)
	return nil
}

// Raw returns the JSON the server sent for g, or nil.
func (g *GatewayCall) Raw() json.RawMessage { return g.raw }

// GatewayCallPage is one page of the gateway's call log, newest first.
// NextCursor is empty on the last page.
type GatewayCallPage struct {
	Items      []*GatewayCall `json:"items"`
	NextCursor string         `json:"next_cursor"`
}

// Event is one change of one request, as the event stream sends it.
type Event struct {
	// Seq is the event's position in the stream (the SSE id): resume after
	// it with [EventOptions].After.
	Seq int64 `json:"-"`
	// Type is such as "approval.decided".
	Type      string    `json:"type"`
	ID        string    `json:"id"`
	Timestamp time.Time `json:"timestamp"`
	// Data is the request right after the change.
	Data ApprovalRequest `json:"data"`

	raw json.RawMessage
}

// UnmarshalJSON decodes e and keeps the JSON it came from for [Event.Raw].
func (e *Event) UnmarshalJSON(b []byte) error {
	type plain Event
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	seq := e.Seq
	*e = Event(p)
	e.Seq = seq
	e.raw = append(json.RawMessage(nil), b...)
	return nil
}

// Raw returns the JSON the server sent for e (the SSE data line), or nil.
func (e *Event) Raw() json.RawMessage { return e.raw }

// Health is the body of /healthz and /readyz.
type Health struct {
	Status string `json:"status"`
}

// The policy types are the domain's own (package approval), which encode
// exactly as the API reads and writes them.
type (
	// Policy says who must approve a request: every rule must hold (see
	// approval.Policy).
	Policy = approval.Policy
	// Stage is a group of rules that opens once every earlier stage holds.
	Stage = approval.Stage
	// Rule needs MinApprovals approvals from its eligible reviewers: the
	// listed principals, members of the listed groups, or anyone with the
	// review scope when neither is listed.
	Rule = approval.Rule
	// RuleProgress is the progress of one rule of a policy.
	RuleProgress = approval.RuleProgress
	// Eligibility is who may still approve under a rule.
	Eligibility = approval.Eligibility
	// Item is one part of what a request asks approval for (a file, an
	// invoice line), with its digest ("sha256:…" or "sha512:…").
	Item = approval.Item
	// ItemDecision is a reviewer's decision on one item.
	ItemDecision = approval.ItemDecision
	// ItemRef names a decided item and its digest in an ItemOutcome.
	ItemRef = approval.ItemRef
	// ItemOutcome lists the approved and rejected items of a decided request.
	ItemOutcome = approval.ItemOutcome
	// Revocation records who revoked an approval, when and why.
	Revocation = approval.Revocation
	// AutoDecision records the expression and inputs of an automatic decision.
	AutoDecision = approval.AutoDecision
)
