package receipt

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"strings"
	"time"

	"github.com/gowebpki/jcs"

	"approvald/approval"
)

// The type names a receipt carries.
const (
	// StatementType is the in-toto Statement's _type.
	StatementType = "https://in-toto.io/Statement/v1"
	// PredicateType names approvald's decision predicate.
	PredicateType = "https://approvald.dev/decision/v1"
	// PayloadType is the DSSE payloadType of an in-toto Statement.
	PayloadType = "application/vnd.in-toto+json"
	// PayloadSubject is the name of the subject that is the request's payload.
	PayloadSubject = "payload"
)

// Statement is an in-toto Statement (v1) about a decided request.
type Statement struct {
	Type          string    `json:"_type"`
	Subject       []Subject `json:"subject"`
	PredicateType string    `json:"predicateType"`
	Predicate     Decision  `json:"predicate"`
}

// Subject is one thing the statement is about, named and identified by its
// digests (algorithm → lower-case hex).
type Subject struct {
	Name   string            `json:"name"`
	Digest map[string]string `json:"digest"`
}

// Decision is the predicate: what was decided about the request, under
// which policy, by whom, and where its history chain stood.
//
// A receipt describes the request at one version. The decision is the
// same in every receipt of a request once it is taken, whether its
// delivery is in progress, done or failed; a later change (the delivery,
// a revocation, a recorded outcome, a new decision after a failed
// delivery) raises the version and makes a newer receipt, so a verifier
// holding several receipts of one request should go by the one with the
// highest Version.
type Decision struct {
	RequestID string `json:"request_id"`
	Version   int64  `json:"version"`
	// Status is the request's status at Version, such as
	// acknowledged_approved while the decision is being delivered.
	Status string `json:"status"`
	// Decision is the settled outcome: approved, rejected, cancelled,
	// expired or revoked, whatever the state of its delivery.
	Decision  string     `json:"decision"`
	DecidedAt *time.Time `json:"decided_at"`
	// Policy is the request's policy as RFC 8785 canonical JSON;
	// PolicySHA256 is the hex SHA-256 of exactly those bytes.
	Policy       json.RawMessage `json:"policy"`
	PolicySHA256 string          `json:"policy_sha256"`
	PolicySource string          `json:"policy_source"`
	// Reviews are every review the request received, void ones included
	// (Void says which no longer counted), in the order they were given.
	Reviews     []Review              `json:"reviews"`
	ItemOutcome *approval.ItemOutcome `json:"item_outcome"`
	Revocation  *approval.Revocation  `json:"revocation"`
	// HistoryHead is the hash of the request's latest history entry.
	HistoryHead string `json:"history_head"`
}

// Review is one review as the receipt records it.
type Review struct {
	Reviewer string `json:"reviewer"`
	// By is the delegate who reviewed for Reviewer, "" when the reviewer did.
	By       string    `json:"by,omitempty"`
	Decision string    `json:"decision"`
	Comment  string    `json:"comment"`
	At       time.Time `json:"at"`
	// Version is the version of the request the reviewer reviewed.
	Version int64 `json:"version"`
	Void    bool  `json:"void"`
}

// DecisionOf returns the decision a request in r's status has taken and
// true, or false when it has taken none that stands. A final status is its
// own decision; an acknowledged one (the decision being delivered) is the
// status its delivery settles in (Status.Settled). A request in error (its
// delivery failed) has none: it may still be edited, reviewed and decided
// again there, and an edit voids the approval it failed to deliver, so a
// receipt of it could attest a decision of content nobody decided on; it
// gets one again once redelivered or decided anew. Pending and
// changes_requested have none.
func DecisionOf(r *approval.Request) (approval.Status, bool) {
	switch {
	case r.Status.Final():
		return r.Status, true
	case r.Status.Acknowledged():
		return r.Status.Settled(), true
	}
	return approval.StatusUnknown, false
}

// Build returns the statement of the decided request r (see DecisionOf),
// whose subjects are its payload, its items and then extra, such as the
// files a publication produced. It returns a KindConflict error when r is
// not decided, and a KindInternal error when r's payload, policy or an
// item's digest cannot be represented (which validation at create
// prevents) or an extra subject has no name or no digest.
func Build(r *approval.Request, extra ...Subject) (Statement, error) {
	decision, ok := DecisionOf(r)
	if !ok {
		return Statement{}, approval.Errorf(approval.KindConflict, approval.CodeInvalidTransition,
			"request %s is %s: it has no receipt until it is decided", r.ID, r.Status)
	}
	payloadSum, err := canonicalSHA256(r.Payload)
	if err != nil {
		return Statement{}, approval.Internal(fmt.Errorf("receipt of %s: payload: %w", r.ID, err))
	}
	subjects := []Subject{{Name: PayloadSubject, Digest: map[string]string{"sha256": payloadSum}}}
	for _, it := range r.Items {
		alg, hexSum, ok := strings.Cut(it.Digest, ":")
		if !ok || (alg != "sha256" && alg != "sha512") || hexSum == "" {
			return Statement{}, approval.Internal(fmt.Errorf("receipt of %s: item %q has digest %q", r.ID, it.ID, it.Digest))
		}
		subjects = append(subjects, Subject{Name: it.Name, Digest: map[string]string{alg: hexSum}})
	}
	for _, s := range extra {
		if s.Name == "" || len(s.Digest) == 0 {
			return Statement{}, approval.Internal(fmt.Errorf("receipt of %s: an extra subject %q has no name or no digest", r.ID, s.Name))
		}
		subjects = append(subjects, Subject{Name: s.Name, Digest: maps.Clone(s.Digest)})
	}
	policyJSON, err := json.Marshal(r.Policy)
	if err != nil {
		return Statement{}, approval.Internal(fmt.Errorf("receipt of %s: policy: %w", r.ID, err))
	}
	policy, err := jcs.Transform(policyJSON)
	if err != nil {
		return Statement{}, approval.Internal(fmt.Errorf("receipt of %s: policy: %w", r.ID, err))
	}
	policySum := sha256.Sum256(policy)
	reviews := make([]Review, len(r.Reviews))
	for i, rv := range r.Reviews {
		reviews[i] = Review{
			Reviewer: rv.Reviewer, By: rv.By, Decision: string(rv.Decision), Comment: rv.Comment,
			At: rv.At.UTC(), Version: rv.Version, Void: rv.Void,
		}
	}
	var decidedAt *time.Time
	if r.DecidedAt != nil {
		t := r.DecidedAt.UTC()
		decidedAt = &t
	}
	return Statement{
		Type:          StatementType,
		Subject:       subjects,
		PredicateType: PredicateType,
		Predicate: Decision{
			RequestID:    r.ID,
			Version:      r.Version,
			Status:       r.Status.String(),
			Decision:     decision.String(),
			DecidedAt:    decidedAt,
			Policy:       policy,
			PolicySHA256: hex.EncodeToString(policySum[:]),
			PolicySource: r.PolicySource,
			Reviews:      reviews,
			ItemOutcome:  r.ItemOutcome,
			Revocation:   r.Revocation,
			HistoryHead:  r.HistoryHead,
		},
	}, nil
}

// canonicalSHA256 returns the hex SHA-256 of the RFC 8785 form of doc; an
// absent document is JSON null, as the API shows it.
func canonicalSHA256(doc json.RawMessage) (string, error) {
	if len(doc) == 0 {
		doc = json.RawMessage("null")
	}
	canonical, err := jcs.Transform(doc)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(canonical)
	return hex.EncodeToString(sum[:]), nil
}

// PayloadDigest returns the hex SHA-256 the statement records for the
// request's payload, or ErrMalformed when it records none.
func (st Statement) PayloadDigest() (string, error) {
	for _, s := range st.Subject {
		if s.Name == PayloadSubject {
			if d := s.Digest["sha256"]; d != "" {
				return d, nil
			}
		}
	}
	return "", fmt.Errorf("%w: no subject %q with a sha256 digest", ErrMalformed, PayloadSubject)
}

// CheckPayload returns nil when the RFC 8785 canonical form of payload has
// the digest st records for the request's payload. It returns an error
// wrapping ErrPayloadMismatch when it does not, ErrMalformed when st records
// no payload digest, and an error naming the cause when payload is not JSON
// that canonicalises.
func CheckPayload(st Statement, payload json.RawMessage) error {
	want, err := st.PayloadDigest()
	if err != nil {
		return err
	}
	got, err := canonicalSHA256(payload)
	if err != nil {
		return fmt.Errorf("the payload does not canonicalise as RFC 8785 JSON: %w", err)
	}
	if got != want {
		return fmt.Errorf("%w: its canonical SHA-256 is %s, the receipt records %s", ErrPayloadMismatch, got, want)
	}
	return nil
}
