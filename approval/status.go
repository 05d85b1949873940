package approval

import (
	"fmt"
	"strings"
)

// Status is the state of an approval request. The numeric values are the
// status codes of the legacy service and are part of the wire contract.
type Status int

// The statuses, with their legacy numeric codes.
const (
	StatusUnknown               Status = 0 // never stored; reaching it is a bug
	StatusError                 Status = 1 // a decision could not be delivered
	StatusPending               Status = 2 // collecting reviews
	StatusApproved              Status = 3 // final
	StatusRejected              Status = 4 // final
	StatusCancelled             Status = 5 // final
	StatusAcknowledgedApproved  Status = 6 // decided, delivery in progress
	StatusAcknowledgedRejected  Status = 7 // decided, delivery in progress
	StatusAcknowledgedCancelled Status = 8 // decided, delivery in progress
	StatusExpired               Status = 9 // final: the deadline passed while pending
	// StatusChangesRequested: a reviewer asked the requester to change the
	// request and resubmit it; nothing is delivered.
	StatusChangesRequested Status = 10
	// StatusRevoked: an approval was taken back (final); the revocation is
	// delivered to the service rule like a decision.
	StatusRevoked Status = 11
)

var statusNames = [...]string{
	StatusUnknown:               "unknown",
	StatusError:                 "error",
	StatusPending:               "pending",
	StatusApproved:              "approved",
	StatusRejected:              "rejected",
	StatusCancelled:             "cancelled",
	StatusAcknowledgedApproved:  "acknowledged_approved",
	StatusAcknowledgedRejected:  "acknowledged_rejected",
	StatusAcknowledgedCancelled: "acknowledged_cancelled",
	StatusExpired:               "expired",
	StatusChangesRequested:      "changes_requested",
	StatusRevoked:               "revoked",
}

// Statuses returns every status, in numeric order.
func Statuses() []Status {
	out := make([]Status, len(statusNames))
	for i := range statusNames {
		out[i] = Status(i)
	}
	return out
}

// String returns the lower-case name of s, or "status(N)" for a value outside
// the enum.
func (s Status) String() string {
	if s < 0 || int(s) >= len(statusNames) {
		return fmt.Sprintf("status(%d)", int(s))
	}
	return statusNames[s]
}

// Valid reports whether s is one of the defined statuses other than unknown.
func (s Status) Valid() bool { return s > StatusUnknown && int(s) < len(statusNames) }

// Final reports whether s is a final status, where only the comment may change.
func (s Status) Final() bool {
	switch s {
	case StatusApproved, StatusRejected, StatusCancelled, StatusExpired, StatusRevoked:
		return true
	}
	return false
}

// Acknowledged reports whether s is one of the acknowledged_* statuses, in
// which a decision is being delivered and nothing may change.
func (s Status) Acknowledged() bool {
	return s == StatusAcknowledgedApproved || s == StatusAcknowledgedRejected || s == StatusAcknowledgedCancelled
}

// ParseStatus returns the status named name (case-insensitive), or the status
// whose numeric code is name. It returns an error for anything else,
// including "unknown", which is never stored.
func ParseStatus(name string) (Status, error) {
	n := strings.ToLower(strings.TrimSpace(name))
	for i, s := range statusNames {
		if i != 0 && (n == s || n == fmt.Sprint(i)) {
			return Status(i), nil
		}
	}
	return StatusUnknown, fmt.Errorf("unknown status %q", name)
}

// MarshalText encodes s as its name.
func (s Status) MarshalText() ([]byte, error) {
	if !s.Valid() && s != StatusUnknown {
		return nil, fmt.Errorf("invalid status %d", int(s))
	}
	return []byte(s.String()), nil
}

// UnmarshalText decodes a status name; it returns an error for an unknown name.
func (s *Status) UnmarshalText(b []byte) error {
	v, err := ParseStatus(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}
