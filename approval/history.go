package approval

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"
)

// Event types written to the outbox, one per change.
const (
	EventCreated   = "approval.created"
	EventUpdated   = "approval.updated"
	EventCommented = "approval.commented"
	EventReviewed  = "approval.reviewed"
	EventDecided   = "approval.decided"
	EventCompleted = "approval.completed"
	EventExpired   = "approval.expired"
	EventFailed    = "approval.delivery_failed"
	// EventReviewRequested asks the reviewers named in the request's
	// progress (may_approve) to act; reminders emit it.
	EventReviewRequested = "approval.review_requested"
	// EventChangesRequested says a reviewer sent the request back to its
	// requester; EventResubmitted that the requester sent it again;
	// EventRevoked that an approval was taken back (delivered to the
	// service rule like a decision).
	EventChangesRequested = "approval.changes_requested"
	EventResubmitted      = "approval.resubmitted"
	EventRevoked          = "approval.revoked"
	// EventOutcome says what was done with an approved request.
	EventOutcome = "approval.outcome_recorded"
	// EventEscalated says that rules of the open stage were escalated:
	// their escalation reviewers may now review too.
	EventEscalated = "approval.escalated"
)

var eventOf = map[Action]string{
	ActionCreate:         EventCreated,
	ActionEdit:           EventUpdated,
	ActionComment:        EventCommented,
	ActionReview:         EventReviewed,
	ActionApprove:        EventDecided,
	ActionReject:         EventDecided,
	ActionCancel:         EventDecided,
	ActionRedeliver:      EventDecided,
	ActionExpire:         EventExpired,
	ActionDelivered:      EventCompleted,
	ActionDeliveryFailed: EventFailed,
	ActionRemind:         EventReviewRequested,
	ActionOutcome:        EventOutcome,
	ActionEscalate:       EventEscalated,
	ActionRequestChanges: EventChangesRequested,
	ActionResubmit:       EventResubmitted,
	ActionRevoke:         EventRevoked,
}

// HistoryEntry is one change to one request. Entries of a request form a
// hash chain: Hash covers every field and PrevHash, the hash of the entry
// before (empty for the first). Seq equals the version the change produced.
type HistoryEntry struct {
	RequestID string          `json:"request_id"`
	Seq       int64           `json:"seq"`
	Actor     string          `json:"actor"`
	Action    Action          `json:"action"`
	Changes   json.RawMessage `json:"changes"`
	At        time.Time       `json:"at"`
	PrevHash  string          `json:"prev_hash"`
	Hash      string          `json:"hash"`
}

// Event is an outbox entry: what happened to a request, with the request as
// it was right after. Its ID is assigned by the store. Webhook, when set,
// names the service rule the event must be delivered to (a decision that
// acknowledged the request).
type Event struct {
	Type      string
	RequestID string
	Version   int64
	Data      json.RawMessage
	Webhook   string
	// TraceParent is the W3C traceparent of the trace the change was made
	// in ("" when none), kept with the event so that its delivery and
	// publishing can be linked to that trace. The engine sets it.
	TraceParent string
	// Notify is the notification the change calls for ("" for none); the
	// notifier turns it into messages to the right people.
	Notify NotifyKind
}

// Change is what a state change must persist, in one transaction with the
// request itself: the history entry and the outbox event. The zero Change
// means nothing changed.
type Change struct {
	Entry HistoryEntry
	Event Event
}

// IsZero reports whether c records no change.
func (c Change) IsZero() bool { return c.Entry.Seq == 0 }

// record stamps r's new version and returns the Change from before to r
// (before is nil for a creation), chained to r's history head.
func (r *Request) record(before *Request, a Action, actor string, now time.Time) Change {
	r.Version++
	r.UpdatedAt = now
	r.refreshEscalation(before, now)
	after, _ := json.Marshal(r) // a Request always marshals
	e := HistoryEntry{
		RequestID: r.ID,
		Seq:       r.Version,
		Actor:     actor,
		Action:    a,
		Changes:   diff(before, r, after),
		At:        now,
		PrevHash:  r.HistoryHead,
	}
	e.Hash = e.ComputeHash()
	r.HistoryHead = e.Hash
	return Change{
		Entry: e,
		Event: Event{Type: eventOf[a], RequestID: r.ID, Version: r.Version, Data: after, Webhook: deliversTo(r, a),
			Notify: notifyOf(before, r, a, actor)},
	}
}

// notifyOf returns the notification a change calls for: reviewers are asked
// when a request is created pending, when a stage opens, when an edit
// voids reviews and when the request is resubmitted; the requester hears of
// decisions (but not of their own cancellation), of changes requested, of
// a revocation, of a failed delivery and of expiry.
func notifyOf(before, after *Request, a Action, actor string) NotifyKind {
	switch a {
	case ActionCreate:
		if after.Status == StatusPending && !after.Progress().Satisfied {
			return NotifyReviewRequested
		}
	case ActionEdit, ActionReview:
		if after.Status != StatusPending || before == nil {
			return ""
		}
		was, now := before.evaluate(), after.evaluate()
		if !now.satisfied && (now.open != was.open || len(after.live()) < len(before.live())) {
			return NotifyReviewRequested
		}
	case ActionApprove, ActionReject, ActionRequestChanges, ActionRevoke:
		// The requester hears of a decision, of a request sent back to
		// them, and of an approval taken back.
		return NotifyDecision
	case ActionResubmit:
		if after.Status == StatusPending && !after.Progress().Satisfied {
			return NotifyReviewRequested
		}
	case ActionCancel:
		if actor != after.Requester {
			return NotifyDecision
		}
	case ActionRemind:
		return NotifyReminder
	case ActionEscalate:
		return NotifyEscalation
	case ActionExpire:
		return NotifyExpired
	case ActionDeliveryFailed:
		return NotifyDeliveryFailed
	}
	return ""
}

// untracked are fields every change touches; the entry itself records them.
// progress is derived from the other fields, so it is not tracked either.
var untracked = []string{"version", "updated_at", "status_code", "progress"}

func fieldMap(r *Request, encoded []byte) map[string]json.RawMessage {
	if encoded == nil {
		encoded, _ = json.Marshal(r)
	}
	var m map[string]json.RawMessage
	_ = json.Unmarshal(encoded, &m)
	for _, f := range untracked {
		delete(m, f)
	}
	return m
}

// changedFields returns the JSON names of the fields that differ between a and b.
func changedFields(a, b *Request) []string {
	ma, mb := fieldMap(a, nil), fieldMap(b, nil)
	var out []string
	for k, v := range mb {
		if !bytes.Equal(ma[k], v) {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// diff returns {"field":{"before":…,"after":…}} for every field that changed
// (only "after" on creation), as compact JSON with sorted keys.
func diff(before, after *Request, afterJSON []byte) json.RawMessage {
	type change struct {
		Before json.RawMessage `json:"before,omitempty"`
		After  json.RawMessage `json:"after"`
	}
	mb := fieldMap(after, afterJSON)
	out := map[string]change{}
	var ma map[string]json.RawMessage
	if before != nil {
		ma = fieldMap(before, nil)
	}
	for _, k := range slices.Sorted(maps.Keys(mb)) {
		if before != nil && bytes.Equal(ma[k], mb[k]) {
			continue
		}
		out[k] = change{Before: ma[k], After: mb[k]}
	}
	b, _ := json.Marshal(out)
	return b
}

// ComputeHash returns the hex SHA-256 over e's fields and PrevHash (not over
// Hash itself). Each field is length-prefixed so no two entries encode alike.
func (e HistoryEntry) ComputeHash() string {
	h := sha256.New()
	var n [binary.MaxVarintLen64]byte
	put := func(s string) {
		h.Write(n[:binary.PutUvarint(n[:], uint64(len(s)))])
		h.Write([]byte(s))
	}
	put("approvald/history/v1")
	put(e.RequestID)
	put(strconv.FormatInt(e.Seq, 10))
	put(e.Actor)
	put(string(e.Action))
	put(e.At.UTC().Format(time.RFC3339Nano))
	put(e.PrevHash)
	put(string(e.Changes))
	return hex.EncodeToString(h.Sum(nil))
}

// VerifyChain checks that entries are the whole, unaltered history of one
// request from its creation: sequence numbers 1..n without gaps, each entry
// chained to the one before, every hash matching its contents. It returns
// an error naming the first entry that fails.
func VerifyChain(entries []HistoryEntry) error {
	prev := ""
	for i, e := range entries {
		switch {
		case e.Seq != int64(i+1):
			return fmt.Errorf("entry %d: sequence number is %d, want %d", i+1, e.Seq, i+1)
		case i > 0 && e.RequestID != entries[0].RequestID:
			return fmt.Errorf("entry %d: belongs to request %s, not %s", i+1, e.RequestID, entries[0].RequestID)
		case e.PrevHash != prev:
			return fmt.Errorf("entry %d: previous hash does not match entry %d", i+1, i)
		case e.ComputeHash() != e.Hash:
			return fmt.Errorf("entry %d: hash does not match its contents", i+1)
		}
		prev = e.Hash
	}
	return nil
}

// HistoryRecord is a history entry as stored, with its place in the history
// of every request. It encodes to JSON exactly as its HistoryEntry does.
type HistoryRecord struct {
	// ID is assigned by the store: it is above the ID of every entry stored
	// before, and never reused. It is not part of the entry's hash.
	ID int64 `json:"-"`
	HistoryEntry
}

// HistoryChain is one request's history as stored, for verification: what
// the request records about its latest change — its version and the hash of
// its latest entry (HistoryHead) — and its entries in order.
type HistoryChain struct {
	RequestID string
	Version   int64
	Head      string
	Entries   []HistoryEntry
}

// Verify checks that c is the whole, unaltered history of its request:
// every entry belongs to the request and the entries verify as a chain
// (see VerifyChain), and the chain ends at the request's version with the
// hash the request holds as its head — so that deleting the newest entries,
// which leaves a shorter chain that verifies by itself, is caught too. It
// returns an error saying what fails first.
func (c HistoryChain) Verify() error {
	if len(c.Entries) == 0 {
		return errors.New("the request has no history entries")
	}
	if id := c.Entries[0].RequestID; id != c.RequestID {
		return fmt.Errorf("entry 1: belongs to request %s, not %s", id, c.RequestID)
	}
	if err := VerifyChain(c.Entries); err != nil {
		return err
	}
	last := c.Entries[len(c.Entries)-1]
	switch {
	case last.Seq != c.Version:
		return fmt.Errorf("the history ends at entry %d but the request is at version %d: entries are missing", last.Seq, c.Version)
	case last.Hash != c.Head:
		return fmt.Errorf("the hash of entry %d, the last, is not the request's history head", last.Seq)
	}
	return nil
}

// MaxVerifyFailures is the most failures a Verification lists; it counts
// every one in FailuresTotal.
const MaxVerifyFailures = 100

// Verification is the result of checking the history chains of requests.
// Its zero value has checked nothing and found nothing wrong; Add counts
// each chain in.
type Verification struct {
	Requests int64 `json:"requests"`
	Entries  int64 `json:"entries"`
	// Failures are the first MaxVerifyFailures requests whose chain does not
	// verify, in the order they were added.
	Failures      []ChainFailure `json:"failures"`
	FailuresTotal int64          `json:"failures_total"`
}

// ChainFailure is a request whose history does not verify, and why.
type ChainFailure struct {
	RequestID string `json:"request_id"`
	Error     string `json:"error"`
}

// Verified reports whether every chain added verifies.
func (v *Verification) Verified() bool { return v.FailuresTotal == 0 }

// Add verifies c (see HistoryChain.Verify) and counts it, and its failure
// if it fails, in v.
func (v *Verification) Add(c HistoryChain) {
	v.Requests++
	v.Entries += int64(len(c.Entries))
	if err := c.Verify(); err != nil {
		v.FailuresTotal++
		if len(v.Failures) < MaxVerifyFailures {
			v.Failures = append(v.Failures, ChainFailure{RequestID: c.RequestID, Error: err.Error()})
		}
	}
}

// MarshalJSON encodes v with its verdict, "verified", first, and an empty
// list of failures as [] rather than null.
func (v Verification) MarshalJSON() ([]byte, error) {
	type plain Verification
	failures := v.Failures
	if failures == nil {
		failures = []ChainFailure{}
	}
	p := plain(v)
	p.Failures = failures
	return json.Marshal(struct {
		Verified bool `json:"verified"`
		plain
	}{v.Verified(), p})
}
