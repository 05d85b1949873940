package approval

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
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
	// EventOutcome says what was done with an approved request.
	EventOutcome = "approval.outcome_recorded"
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
		Event: Event{Type: eventOf[a], RequestID: r.ID, Version: r.Version, Data: after, Webhook: deliversTo(r, a)},
	}
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
