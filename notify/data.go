package notify

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode"

	"approvald/approval"
)

// Data is what a notification shows, stored as JSON in
// approval.Notification.Data when the notification is planned: a summary
// of the request as of the change that called for it, and the link to it.
type Data struct {
	RequestID string              `json:"request_id"`
	Version   int64               `json:"version"`
	Kind      approval.NotifyKind `json:"kind"`
	Title     string              `json:"title"`
	Requester string              `json:"requester"`
	// Status is the request's status name ("pending", "approved", …).
	Status string `json:"status"`
	// Reason says why approvald decided by itself (a dependency, the
	// deadline); PendingReason what a pending request waits for.
	Reason        string `json:"reason,omitempty"`
	PendingReason string `json:"pending_reason,omitempty"`
	ServiceRule   string `json:"service_rule,omitempty"`
	// Recipient is the principal told, or "channel:<name>".
	Recipient string `json:"recipient"`
	// URL is the request's page in the UI, with a signed link token when
	// the recipient is a principal.
	URL string `json:"url"`
	// At is when the change happened.
	At time.Time `json:"at"`
}

// DataOf returns the Data of a notification of kind k about r for
// recipient, linking to url.
func DataOf(r *approval.Request, k approval.NotifyKind, recipient, url string) Data {
	d := Data{
		RequestID: r.ID, Version: r.Version, Kind: k, Title: r.Title, Requester: r.Requester,
		Status: r.Status.String(), Reason: r.Reason, ServiceRule: r.ServiceRule,
		Recipient: recipient, URL: url, At: r.UpdatedAt.UTC(),
	}
	if r.Status == approval.StatusPending {
		d.PendingReason = r.Progress().PendingReason
	}
	return d
}

// decodeData reads the Data of n; an undecodable one is an error naming
// the notification.
func decodeData(n approval.Notification) (Data, error) {
	var d Data
	if err := json.Unmarshal(n.Data, &d); err != nil {
		return Data{}, fmt.Errorf("notification %d: its data does not decode: %w", n.ID, err)
	}
	if d.RequestID == "" {
		d.RequestID, d.Version, d.Kind, d.Recipient = n.RequestID, n.Version, n.Kind, n.Recipient
	}
	return d, nil
}

// kindLabels name the kinds for people.
var kindLabels = map[approval.NotifyKind]string{
	approval.NotifyReviewRequested: "Review requested",
	approval.NotifyReminder:        "Reminder: review requested",
	approval.NotifyEscalation:      "Escalated to you",
	approval.NotifyDecision:        "Decided",
	approval.NotifyDeliveryFailed:  "Delivery failed",
	approval.NotifyExpired:         "Expired",
}

// Label returns how a message names the kind of d.
func (d Data) Label() string {
	if l, ok := kindLabels[d.Kind]; ok {
		if d.Kind == approval.NotifyDecision && d.Status != "" {
			return l + ": " + d.Status
		}
		return l
	}
	return string(d.Kind)
}

// Heading returns the one-line summary of d: its label and title.
func (d Data) Heading() string {
	return d.Label() + ": " + oneLine(d.DisplayTitle(), 200)
}

// DisplayTitle returns the request's title, or its id when it has none.
func (d Data) DisplayTitle() string {
	if strings.TrimSpace(d.Title) == "" {
		return "request " + d.RequestID
	}
	return d.Title
}

// Facts returns the details a message lists under the heading, in order.
func (d Data) Facts() [][2]string {
	f := [][2]string{{"Request", d.RequestID}, {"Requester", d.Requester}, {"Status", d.Status}}
	if d.ServiceRule != "" {
		f = append(f, [2]string{"Service rule", d.ServiceRule})
	}
	if d.PendingReason != "" {
		f = append(f, [2]string{"Pending", d.PendingReason})
	}
	if d.Reason != "" {
		f = append(f, [2]string{"Reason", d.Reason})
	}
	if !d.At.IsZero() {
		f = append(f, [2]string{"When", d.At.UTC().Format("2006-01-02 15:04 MST")})
	}
	return f
}

// oneLine returns s with control characters and runs of spaces folded to
// one space, cut to at most n runes.
func oneLine(s string, n int) string {
	s = strings.Join(strings.FieldsFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
